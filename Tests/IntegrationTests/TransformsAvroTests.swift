import Avro
import Foundation
import Kafka
import Testing

/// Masked columns in flattened records with `events.format: avro`, end to end (docs/transforms.md): a
/// snapshot row and streamed changes through the pipeline, the mock cluster and the test Schema Registry,
/// decoded with the schema their id names. The masked values are those real Debezium 3.6.3 wrote for the
/// same values, salt and options (Golden/transforms.masking.jsonl); the Avro schemas Confluent's AvroData
/// makes from Debezium's masked and flattened Connect schemas are checked in AvroTests (avro-data vectors
/// `debezium.masking.*`, `debezium.maskflat.*`).
@Suite(.integrationTest) struct TransformsAvroTests {
    @Test func maskedFlattenedRecordsInAvro() throws {
        let scenario = try AvroStreamingTests.Scenario("avro_transforms", schema: """
            CREATE TABLE customers (id int PRIMARY KEY, email text, name varchar(12), photo bytea, region text);
            INSERT INTO customers VALUES (100, 'old@example.com', 'Old Timer', '\\xdeadbeef', 'eu');
            """, tables: ["public.customers"], topics: ["app.public.customers"],
            events: #", column.mask.with.3.chars: "public.customers.email", column.mask.hash.v2.SHA-256.with.salt.CzQMA0cB5K: "public.customers.name", column.truncate.to.2.chars: "public.customers.photo""#,
            sections: #"flatten: {delete.tombstone.handling.mode: rewrite, add.fields: "op,source.snapshot", add.headers: "op"}"#)
        defer { scenario.cleanUp() }
        let (sql, registry) = (scenario.sql, scenario.registry)
        try sql.execute("INSERT INTO customers VALUES (1, 'ann@example.com', 'Ann Smith', '\\x0102030405', 'us')")
        try sql.execute("UPDATE customers SET email = NULL WHERE id = 1")
        try sql.execute("DELETE FROM customers WHERE id = 100")

        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers, topics: ["app.public.customers"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        var records: [KafkaRecord] = []
        // The snapshot row, the insert, the update and the rewritten delete; the tombstone is dropped.
        try waitUntil(timeoutSeconds: 90, "the records") {
            records += try consumer.readToEnd(timeoutMilliseconds: 1000)
            return records.count >= 4
        }
        #expect(records.count == 4)
        let values = try records.map { try #require(try registry.decode($0.value)).value }
        #expect(values.map { $0["__op"] } == [.string("r"), .string("c"), .string("u"), .string("d")])
        #expect(values.map { $0["__deleted"] } == [.string("false"), .string("false"), .string("false"), .string("true")])
        #expect(values[0]["__source_snapshot"] != .null && values[1]["__source_snapshot"] == .null)
        // Debezium's values for the same inputs: Golden/transforms.masking.jsonl (mask with NULL too).
        #expect(values[0]["email"] == .string("***"))
        #expect(values[2]["email"] == .string("***"))
        #expect(values[0]["name"] == .string("02d4f73c6174"))
        #expect(values[1]["name"] == .string("a08b0af3514f"))
        #expect(values[0]["photo"] == .string("3q0="))    // 0xdead
        #expect(values[1]["photo"] == .string("AQI="))    // 0x0102
        #expect(values[3]["id"] == .number("100"))         // the delete's before row
        #expect(values[0]["region"] == .string("eu"))
        #expect(try registry.decode(records[3].key)?.value == .object([JSONMember("id", .number("100"))]))
        for record in records {
            let op = record.headers.first { $0.key == "__op" }?.value.map { String(decoding: $0, as: UTF8.self) }
            #expect(op?.contains(#"""#) == true, "an __op header on every record")
        }

        // The registered value schema is the flattened row: its fields, the masks' parameters, the inserted fields.
        let valueID = try #require(try registry.decode(records[1].value)).id
        let schema = try registry.client.schema(id: valueID)
        #expect(schema.contains(#""name":"Value","namespace":"app.public.customers""#))
        #expect(schema.contains(#""connect.parameters":{"masked":"true"}"#))
        #expect(schema.contains(#""connect.parameters":{"truncateLength":"2"}"#))
        for field in ["\"id\"", "\"email\"", "\"__deleted\"", "\"__op\"", "\"__source_snapshot\""] { #expect(schema.contains(field)) }
        #expect(!schema.contains("\"before\"") && !schema.contains("\"source\""))
        #expect(try registry.subjects().contains("app.public.customers-value"))
        #expect(try scenario.running.stop().isSuccess)
    }
}
