import Avro
import Foundation
import Testing

private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// The schema and payload of a record written with envelope.schemas.
private func parts(_ record: [UInt8]) throws -> (schema: [UInt8], payload: [UInt8]) {
    let (schema, payload) = try record.withUnsafeBufferPointer { try ConnectEnvelope.split($0) }
    return (Array(record[schema]), Array(record[payload]))
}

@Suite("Avro binary and framing")
struct AvroBinaryTests {
    @Test func longsAreZigZagVarints() throws {
        // The Avro specification's examples, and the extremes.
        let shape = try AvroShape(connectSchemaJSON: Array(#"{"type":"int64","optional":false}"#.utf8))
        for (value, expected) in [("0", "00"), ("-1", "01"), ("1", "02"), ("-64", "7f"), ("64", "8001"),
                                  ("9223372036854775807", "feffffffffffffffff01"),
                                  ("-9223372036854775808", "ffffffffffffffffff01")] {
            #expect(hex(try shape.encode(payload: Array(value.utf8))) == expected, "\(value)")
        }
    }

    @Test func framingIsMagicByteAndBigEndianID() throws {
        var message = ConfluentWireFormat.header(schemaID: 0x0102_0304)
        message.append(contentsOf: [0xAA])
        #expect(message == [0, 1, 2, 3, 4, 0xAA])
        let (id, body) = try ConfluentWireFormat.split(message)
        #expect(id == 0x0102_0304)
        #expect(Array(body) == [0xAA])
        #expect(throws: AvroError.self) { try ConfluentWireFormat.split([1, 0, 0, 0, 1]) }
        #expect(throws: AvroError.self) { try ConfluentWireFormat.split([0, 0, 0]) }
    }

    @Test func intOutOfItsConnectRangeIsRefused() throws {
        let shape = try AvroShape(connectSchemaJSON: Array(#"{"type":"int16","optional":false}"#.utf8))
        #expect(throws: AvroError.self) { try shape.encode(payload: Array("40000".utf8)) }
    }

    @Test func fieldsOutOfSchemaOrderAreRefused() throws {
        let schema = #"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"a"},{"type":"int32","optional":false,"field":"b"}],"optional":false,"name":"x.Y"}"#
        let shape = try AvroShape(connectSchemaJSON: Array(schema.utf8))
        #expect(hex(try shape.encode(payload: Array(#"{"a":1,"b":2}"#.utf8))) == "0204")
        #expect(throws: AvroError.self) { try shape.encode(payload: Array(#"{"b":2,"a":1}"#.utf8)) }
    }

    @Test func nullInARequiredFieldIsWrittenAsTheTypesZero() throws {
        // The old tuple of a REPLICA IDENTITY DEFAULT delete carries only the key; the JSON path writes
        // null for the other columns, NOT NULL ones included.
        let schema = #"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"name"},{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"},"field":"price"},{"type":"boolean","optional":false,"field":"flag"},{"type":"double","optional":false,"field":"d"}],"optional":false,"name":"x.Value"}"#
        let shape = try AvroShape(connectSchemaJSON: Array(schema.utf8))
        let avro = try shape.encode(payload: Array(#"{"id":7,"name":null,"price":null,"flag":null,"d":null}"#.utf8))
        #expect(hex(avro) == "0e" + "00" + "0200" + "00" + "0000000000000000")
    }

    @Test func subArraysOfAMultiDimensionalArrayAreNullAsDebeziumWritesThem() throws {
        // int[][] {{1,2},{3,4}}: the JSON path nests it, the Connect schema is an array of optional int32.
        let schema = #"{"type":"struct","fields":[{"type":"array","items":{"type":"int32","optional":true},"optional":true,"field":"m"}],"optional":false,"name":"x.Value"}"#
        let shape = try AvroShape(connectSchemaJSON: Array(schema.utf8))
        let nested = try shape.encode(payload: Array(#"{"m":[[1,2],[3,4]]}"#.utf8))
        let debezium = try shape.encode(payload: Array(#"{"m":[null,null]}"#.utf8))
        #expect(nested == debezium)
        #expect(hex(nested) == "02" + "04" + "00" + "00" + "00")   // union branch 1, 2 items, null, null, end
        #expect(throws: AvroError.self) { try shape.encode(payload: Array(#"{"m":[{"a":1}]}"#.utf8)) }
    }

    @Test func invalidAvroNamesAreRefusedNamingThem() throws {
        let schema = #"{"type":"struct","fields":[{"type":"int32","optional":false,"field":"my column"}],"optional":false,"name":"app.public.t.Value"}"#
        do {
            _ = try AvroShape(connectSchemaJSON: Array(schema.utf8))
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidName)
            #expect(error.message.contains("my column"))
        }
        let badRecord = #"{"type":"struct","fields":[],"optional":false,"name":"app.public.my-table.Value"}"#
        // Only the last part is a record name (AvroData does not check namespaces).
        #expect(throws: Never.self) { try AvroShape(connectSchemaJSON: Array(badRecord.utf8)) }
        let badName = #"{"type":"struct","fields":[],"optional":false,"name":"app.public.t.1Value"}"#
        #expect(throws: AvroError.self) { try AvroShape(connectSchemaJSON: Array(badName.utf8)) }
    }
}

@Suite("Avro from Connect records")
struct AvroRecordTests {
    /// Every sample record (each type and mode of the JSON path, and Swallow's other records) goes to
    /// Avro and back to the JSON path's payload, decoded both with the schema as made and as a registry
    /// would hand it back (parsed from its string).
    @Test func everySampleRoundTrips() throws {
        let samples = try SampleRecords.all()
        try SampleRecords.export(samples)
        #expect(samples.count > 30)
        for sample in samples {
            let (schema, payload) = try parts(sample.record)
            let shape = try AvroShape(connectSchemaJSON: schema)
            let avro = try shape.encode(payload: payload)
            let expected = try JSONValue.parse(payload)
            let decoded = try AvroDecoder.decode(avro[...], schema: shape.avroSchema)
            #expect(decoded.sameValue(as: expected), "\(sample.name): \(decoded.json) != \(expected.json)")
            let reparsed = try AvroSchema.parse(shape.schemaString)
            #expect(reparsed.canonicalString == shape.schemaString, "\(sample.name)")
            #expect(try AvroDecoder.decode(avro[...], schema: reparsed).sameValue(as: expected), "\(sample.name)")
        }
    }

    struct Vector: Decodable {
        var name: String
        var schema: String
        var avro: String
    }

    /// The vectors of scripts/oracle/avro-data.sh: for each record, the Avro schema string and binary
    /// that Confluent's AvroData 7.0.16 and Avro's GenericDatumWriter made from it.
    static func vectors() throws -> [(name: String, record: [UInt8], schema: String, avro: String)] {
        let url = try #require(Bundle.module.url(forResource: "avro-data-vectors", withExtension: "jsonl",
                                                 subdirectory: "Fixtures"))
        let text = try String(contentsOf: url, encoding: .utf8)
        var vectors: [(String, [UInt8], String, String)] = []
        for line in text.split(separator: "\n") where !line.isEmpty {
            let json = try JSONValue.parse(String(line))
            let record = try #require(json["record"])
            vectors.append((try #require(json["name"]?.stringValue), Array(record.json.utf8),
                            try #require(json["schema"]?.stringValue), try #require(json["avro"]?.stringValue)))
        }
        return vectors
    }

    @Test func schemasAndBinaryMatchConfluentAvroData() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count > 30)
        for vector in vectors {
            let (schema, payload) = try parts(vector.record)
            let shape = try AvroShape(connectSchemaJSON: schema)
            #expect(shape.schemaString == vector.schema, "\(vector.name)")
            let ours = hex(try shape.encode(payload: payload))
            let differsAt = Array(zip(ours, vector.avro)).firstIndex { $0 != $1 } ?? min(ours.count, vector.avro.count)
            #expect(ours == vector.avro,
                    "\(vector.name): first difference at hex digit \(differsAt): \(ours.dropFirst(differsAt).prefix(40)) != \(vector.avro.dropFirst(differsAt).prefix(40))")
        }
    }

    @Test func optionalWithDefaultPutsNullSecond() throws {
        let schema = #"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,last,false,incremental"},"default":"false"}"#
        let shape = try AvroShape(connectSchemaJSON: Array(schema.utf8))
        #expect(shape.schemaString == #"[{"type":"string","connect.version":1,"connect.parameters":{"allowed":"true,last,false,incremental"},"connect.default":"false","connect.name":"io.debezium.data.Enum"},"null"]"#)
        #expect(hex(try shape.encode(payload: Array("null".utf8))) == "02")
        #expect(hex(try shape.encode(payload: Array(#""last""#.utf8))) == "00086c617374")
    }
}
