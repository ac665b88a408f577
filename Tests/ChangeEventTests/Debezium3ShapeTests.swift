import Testing
@testable import ChangeEvent

/// What Debezium 3.6.3 writes differently from 2.7 (the golden tests' expected files, from
/// scripts/oracle/debezium.sh, hold the whole records).
@Suite struct Debezium3ShapeTests {
    let table = TableSchema(schema: "public", table: "t", columns: [
        ColumnSchema(name: "id", typeOID: OID.int4, typeModifier: -1, isKey: true, isOptional: false),
        ColumnSchema(name: "v", typeOID: OID.text, typeModifier: -1, isKey: false, isOptional: true),
    ], options: EncoderOptions(includeSchemas: true, schemaNamePrefix: "app"))

    func source(origin: ReplicationOrigin?) -> SourceInfo {
        var source = SourceInfo(connectorVersion: "v", serverName: "app", database: "db", commitTimeMicros: 1_000_000,
                                transactionID: 7, lsn: 100, lastCommitLSN: nil)
        source.origin = origin
        return source
    }

    @Test func theSourceEndsWithTheReplicationOriginOrNulls() {
        let encoder = ChangeEventEncoder()
        #expect(utf8(encoder.encodeSource(source(origin: nil), table: table))
            .hasSuffix(#""txId":7,"lsn":100,"xmin":null,"origin":null,"origin_lsn":null}"#))
        #expect(utf8(encoder.encodeSource(source(origin: ReplicationOrigin(name: "sub \"a\"", lsn: 305_441_741)), table: table))
            .hasSuffix(#""xmin":null,"origin":"sub \"a\"","origin_lsn":305441741}"#))
    }

    @Test func aKeyFieldIsOptionalAsItsColumnIs() throws {
        // message.key.columns may key a table by a nullable column: Debezium's key schema says so.
        let keyedByV = TableSchema(schema: "public", table: "t", columns: table.columns, keyColumnNames: ["v"],
                                   options: EncoderOptions(includeSchemas: true, schemaNamePrefix: "app"))
        let key = try #require(try ChangeEventEncoder(options: keyedByV.options).encodeKey(table: keyedByV, row: [txt("1"), txt("x")]))
        #expect(utf8(key) == #"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"v"}],"optional":false,"name":"app.public.t.Key"},"payload":{"v":"x"}}"#)
        let primary = try #require(try ChangeEventEncoder(options: table.options).encodeKey(table: table, row: [txt("1"), txt("x")]))
        #expect(utf8(primary).hasPrefix(#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}]"#))
    }

    @Test func aStringHeaderIsAJsonConverterRecord() {
        #expect(utf8(ChangeEventEncoder().encodeStringHeader("a\"b")) == #""a\"b""#)
        #expect(utf8(ChangeEventEncoder(options: EncoderOptions(includeSchemas: true)).encodeStringHeader("app"))
            == #"{"schema":{"type":"string","optional":false},"payload":"app"}"#)
    }

    @Test func hashMapKeyOrderFollowsJavaAndKeepsTheCapacityOfAClearedMap() {
        // Debezium 3.6.3 listed these data collections in this order (scripts/oracle, run by hand).
        let tables = ["public.a", "public.b", "public.c"]
        let fresh = JavaHashMapKeyOrder(keys: tables)
        #expect(fresh.order.map { tables[$0] } == ["public.c", "public.a", "public.b"])
        #expect(fresh.capacity == 16)
        // 13 keys resize the table to 32 buckets; a map cleared after that keeps them, and orders by 5 bits.
        let many = (0..<13).map { "public.t\($0)" }
        let grown = JavaHashMapKeyOrder(keys: many)
        #expect(grown.capacity == 32)
        let again = JavaHashMapKeyOrder(keys: many, startingCapacity: grown.capacity)
        #expect(again.order == grown.order)
        // "p" hashes to 112 (bucket 0 of 16, 16 of 32), "a" to 97 (bucket 1 of both).
        #expect(JavaHashMapKeyOrder(keys: ["a", "p"]).order == [1, 0])
        #expect(JavaHashMapKeyOrder(keys: ["a", "p"], startingCapacity: 32).order == [0, 1])
        #expect(JavaHashMapKeyOrder(keys: ["x", "x", "y"]).order.count == 2)
    }
}
