import Foundation
import Testing
@testable import ChangeEvent

/// `envelope.schemas: true`: records as JsonConverter writes them with schemas.enable=true, against
/// Debezium's PostgreSQL output with JsonConverter schemas (2.7 as captured in the research notes; the 3.6 source block as Debezium 3.6.3 writes it, see Tests/IntegrationTests/Golden/).
@Suite("Connect schemas")
struct ConnectSchemaTests {
    let options = EncoderOptions(includeSchemas: true, schemaNamePrefix: "srv")
    var schemaEncoder: ChangeEventEncoder { ChangeEventEncoder(options: options) }

    let sourceSchema = #"{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"},{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},{"type":"int64","optional":true,"field":"xmin"},{"type":"string","optional":true,"field":"origin"},{"type":"int64","optional":true,"field":"origin_lsn"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","version":1,"field":"source"}"#
    let transactionSchema = #"{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}"#

    @Test func keyAndEnvelopeOfASimpleTableMatchDebezium() throws {
        let table = TableSchema(schema: "public", table: "t", columns: [
            ColumnSchema(name: "id", typeOID: OID.int4, isKey: true, isOptional: false),
            ColumnSchema(name: "name", typeOID: OID.text),
        ], options: options)
        let key = utf8(try #require(try schemaEncoder.encodeKey(table: table, row: [txt("1"), txt("x")])))
        #expect(key == #"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"srv.public.t.Key"},"payload":{"id":1}}"#)

        let value = try schemaEncoder.encodeRowChange(
            op: .create, table: table, before: nil, after: [txt("1"), .null],
            source: SourceInfo(connectorVersion: "v", serverName: "srv", database: "db", commitTimeMicros: 0, transactionID: 7,
                               lsn: 10), eventTimeMillis: 1)
        let rowSchema = #"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"}],"optional":true,"name":"srv.public.t.Value""#
        let expectedSchema = #"{"type":"struct","fields":["# + rowSchema + #","field":"before"},"# + rowSchema
            + #","field":"after"},"# + sourceSchema + "," + transactionSchema
            + #",{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":"srv.public.t.Envelope","version":2}"#
        let text = utf8(value)
        #expect(text.hasPrefix(#"{"schema":"# + expectedSchema + #","payload":{"before":null,"after":{"id":1,"name":null},"#))
        #expect(isValidJSON(value))
    }

    /// The Connect schema of one column, as a field named "v".
    func fieldSchema(_ column: ColumnSchema, _ options: EncoderOptions = EncoderOptions()) -> String {
        var options = options
        options.includeSchemas = true
        options.schemaNamePrefix = "p"
        let table = TableSchema(schema: "s", table: "t", columns: [column], types: testCatalog, options: options)
        var out = JSONOutput(capacity: 64)
        table.plans[0].connectSchema.appendField(&out, name: "v", optional: true)
        return utf8(out)
    }

    @Test func semanticTypesAndParametersMatchDebezium() {
        func f(_ oid: UInt32, typmod: Int32 = -1, _ options: EncoderOptions = EncoderOptions()) -> String {
            fieldSchema(ColumnSchema(name: "v", typeOID: oid, typeModifier: typmod), options)
        }
        #expect(f(OID.int2) == #"{"type":"int16","optional":true,"field":"v"}"#)
        #expect(f(OID.int8) == #"{"type":"int64","optional":true,"field":"v"}"#)
        #expect(f(OID.float4) == #"{"type":"float","optional":true,"field":"v"}"#)
        #expect(f(OID.float8) == #"{"type":"double","optional":true,"field":"v"}"#)
        #expect(f(OID.numeric, typmod: numericTypmod(10, 2)) == #"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"v"}"#)
        #expect(f(OID.numeric) == #"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],"optional":true,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal","field":"v"}"#)
        #expect(f(OID.numeric, EncoderOptions(decimalHandling: .string)) == #"{"type":"string","optional":true,"field":"v"}"#)
        #expect(f(OID.numeric, EncoderOptions(decimalHandling: .double)) == #"{"type":"double","optional":true,"field":"v"}"#)
        #expect(f(OID.money) == #"{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"v"}"#)
        #expect(f(OID.uuid) == #"{"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1,"field":"v"}"#)
        #expect(f(OID.jsonb) == #"{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"v"}"#)
        #expect(f(OID.xml) == #"{"type":"string","optional":true,"name":"io.debezium.data.Xml","version":1,"field":"v"}"#)
        #expect(f(OID.mood) == #"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"sad,ok,happy"},"field":"v"}"#)
        // Debezium 3.6.3 builds an enum array's element schema without optional(), unlike every other array's.
        #expect(f(OID.moodArray) == #"{"type":"array","items":{"type":"string","optional":false,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"sad,ok,happy"}},"optional":true,"field":"v"}"#)
        #expect(f(OID.int4Array) == #"{"type":"array","items":{"type":"int32","optional":true},"optional":true,"field":"v"}"#)
        #expect(f(OID.ltree) == #"{"type":"string","optional":true,"name":"io.debezium.data.Ltree","version":1,"field":"v"}"#)
        #expect(f(OID.bit, typmod: 1) == #"{"type":"boolean","optional":true,"field":"v"}"#)
        #expect(f(OID.bit, typmod: 12) == #"{"type":"bytes","optional":true,"name":"io.debezium.data.Bits","version":1,"parameters":{"length":"12"},"field":"v"}"#)
        #expect(f(OID.bytea) == #"{"type":"bytes","optional":true,"field":"v"}"#)
        #expect(f(OID.bytea, EncoderOptions(binaryHandling: .hex)) == #"{"type":"string","optional":true,"field":"v"}"#)
        #expect(f(OID.date) == #"{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"v"}"#)
        #expect(f(OID.date, EncoderOptions(timePrecision: .connect)) == #"{"type":"int32","optional":true,"name":"org.apache.kafka.connect.data.Date","version":1,"field":"v"}"#)
        #expect(f(OID.time) == #"{"type":"int64","optional":true,"name":"io.debezium.time.MicroTime","version":1,"field":"v"}"#)
        #expect(f(OID.time, typmod: 3) == #"{"type":"int32","optional":true,"name":"io.debezium.time.Time","version":1,"field":"v"}"#)
        #expect(f(OID.timestamp) == #"{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"v"}"#)
        #expect(f(OID.timestamp, EncoderOptions(timePrecision: .connect)) == #"{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"v"}"#)
        #expect(f(OID.timestamptz) == #"{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"v"}"#)
        #expect(f(OID.timetz) == #"{"type":"string","optional":true,"name":"io.debezium.time.ZonedTime","version":1,"field":"v"}"#)
        #expect(f(OID.interval) == #"{"type":"int64","optional":true,"name":"io.debezium.time.MicroDuration","version":1,"field":"v"}"#)
        #expect(f(OID.interval, EncoderOptions(intervalHandling: .string)) == #"{"type":"string","optional":true,"name":"io.debezium.time.Interval","version":1,"field":"v"}"#)
        #expect(f(OID.hstore) == #"{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"v"}"#)
        #expect(f(OID.hstore, EncoderOptions(hstoreHandling: .map)) == #"{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"string","optional":true},"optional":true,"field":"v"}"#)
        #expect(f(OID.int4Array) == #"{"type":"array","items":{"type":"int32","optional":true},"optional":true,"field":"v"}"#)
        #expect(f(OID.priceArray) == #"{"type":"array","items":{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"}},"optional":true,"field":"v"}"#)
    }

    @Test func transactionRecordsAndBlocks() throws {
        let plain = ChangeEventEncoder()
        #expect(utf8(plain.encodeTransactionKey(id: "571")) == #"{"id":"571"}"#)
        #expect(utf8(plain.encodeTransactionBegin(id: "571", timestampMillis: 1_486_500_577_125))
                == #"{"status":"BEGIN","id":"571","event_count":null,"data_collections":null,"ts_ms":1486500577125}"#)
        #expect(utf8(plain.encodeTransactionEnd(id: "571", eventCount: 2, dataCollections: [("public.t", 2)],
                                                timestampMillis: 1_486_500_577_691))
                == #"{"status":"END","id":"571","event_count":2,"data_collections":[{"data_collection":"public.t","event_count":2}],"ts_ms":1486500577691}"#)
        let key = utf8(schemaEncoder.encodeTransactionKey(id: "571"))
        #expect(key == #"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey","version":1},"payload":{"id":"571"}}"#)
        let end = utf8(schemaEncoder.encodeTransactionEnd(id: "1", eventCount: 0, dataCollections: [], timestampMillis: 0))
        #expect(end.hasPrefix(#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":true,"field":"event_count"},{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"data_collection"},{"type":"int64","optional":false,"field":"event_count"}],"optional":true,"name":"event.collection","version":1},"optional":true,"field":"data_collections"},{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue","version":1},"payload":{"#))

        let table = TableSchema(schema: "public", table: "t", columns: [col("id", OID.int4, key: true)])
        var source = SourceInfo(connectorVersion: "v", serverName: "s", database: "d", commitTimeMicros: 0, transactionID: 571)
        source.transaction = TransactionBlock(id: "571", totalOrder: 3, dataCollectionOrder: 2)
        let value = utf8(try plain.encodeRowChange(op: .create, table: table, before: nil, after: [txt("1")], source: source,
                                                   eventTimeMillis: 0))
        #expect(value.contains(#","transaction":{"id":"571","total_order":3,"data_collection_order":2},"op":"c""#))
    }

    @Test func logicalMessagesCarryMessageKeyAndValueSchemas() throws {
        let message = schemaEncoder.encodeLogicalMessage(
            prefix: "audit", content: Array("hi".utf8)[...], isTransactional: false,
            source: SourceInfo(connectorVersion: "v", serverName: "srv", database: "db", commitTimeMicros: 0), eventTimeMillis: 5)
        let text = utf8(message)
        #expect(text.hasPrefix(#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},"# + sourceSchema + "," + transactionSchema
                               + #",{"type":"struct","fields":[{"type":"string","optional":true,"field":"prefix"},{"type":"bytes","optional":true,"field":"content"}],"optional":false,"name":"io.debezium.connector.postgresql.Message","version":1,"field":"message"}],"optional":false,"name":"io.debezium.connector.postgresql.MessageValue","version":1},"payload":{"op":"m","ts_ms":5,"#))
        #expect(text.hasSuffix(#""message":{"prefix":"audit","content":"aGk="}}}"#))
        #expect(utf8(schemaEncoder.encodeLogicalMessageKey(prefix: "audit")) == #"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"prefix"}],"optional":false,"name":"io.debezium.connector.postgresql.MessageKey","version":1},"payload":{"prefix":"audit"}}"#)
        #expect(isValidJSON(message))
    }
}
