import Avro
import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import SchemaRegistry
import SwallowConfig
import Testing

/// `events.format: avro` end to end: PostgreSQL, the pipeline, the mock Kafka cluster and the test Schema
/// Registry (scripts/schema-registry/test_registry.py); records read back and decoded with the schema their
/// id names, as a Confluent consumer does.
@Suite(.integrationTest) struct AvroStreamingTests {
    struct Scenario {
        let database: String
        let sql: PostgresConnection
        let cluster: MockKafkaCluster
        let registry: TestSchemaRegistry
        let running: RunningPipeline

        /// `registry`: one of an earlier scenario (else a new one); `snapshot`, `kafkaProperties`: the
        /// test configuration's; `yaml`: a last change to the configuration's text.
        init(_ name: String, schema: String, tables: [String], topics: [String] = [], events: String = "",
             registrySettings: String = "", registry: TestSchemaRegistry? = nil, snapshot: String = "{}",
             kafkaProperties: [String: String] = [:], sections: String = "",
             yaml change: (String) throws -> String = { $0 }) throws {
            self.registry = try registry ?? TestSchemaRegistry(name: name)
            database = try TestPostgres.shared.makeDatabase(name)
            sql = try TestPostgres.shared.connect(database)
            try sql.execute(schema)
            cluster = try MockKafkaCluster(brokers: 1)
            // The consumers subscribe before anything is produced (the registry may hold the first records).
            for topic in topics { try cluster.createTopic(topic, partitions: 1) }
            let yaml = try change(testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers, tables: tables,
                                                        extraKafkaProperties: kafkaProperties,
                                                        events: "{format: avro\(events)}", snapshot: snapshot)
                + "\nschema_registry: {url: \"\(self.registry.url)\"\(registrySettings)}\n" + sections)
            running = RunningPipeline(configuration: try SwallowConfiguration.parse(yaml: yaml, environment: [:]),
                                      bootstrapServers: cluster.bootstrapServers)
            // Up to 90 s: in a loaded run a scenario's start was once held up for more than 30 s after
            // connecting, with nothing wrong in it.
            try waitUntil(timeoutSeconds: 90, "the slot to be streaming") { [sql] in try isStreaming(sql) }
        }

        func cleanUp() { TestPostgres.shared.dropSlots(of: database) }
    }

    @Test func changesArriveInConfluentWireFormatAndANewShapeIsRegisteredBeforeItsFirstRecord() throws {
        let scenario = try Scenario("avro_stream", schema: """
            CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(10,2), paid bool);
            """, tables: ["public.orders"], topics: ["app.public.orders", "app.transaction", "app.message"],
            events: ", provide.transaction.metadata: true")
        defer { scenario.cleanUp() }
        let (sql, registry) = (scenario.sql, scenario.registry)
        try sql.execute("INSERT INTO orders VALUES (1, 'ada', 12.50, false)")
        try sql.execute("UPDATE orders SET paid = true WHERE id = 1")
        try sql.execute("SELECT pg_logical_emit_message(true, 'audit', 'hello')")
        // A schema change mid-stream: the Relation message after it brings a new value shape.
        try sql.execute("ALTER TABLE orders ADD COLUMN note text")
        try sql.execute("INSERT INTO orders VALUES (2, 'bob', NULL, NULL, 'gift')")
        try sql.execute("DELETE FROM orders WHERE id = 1")

        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers,
                                         topics: ["app.public.orders", "app.transaction", "app.message"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        // orders: c, u, c, d and a tombstone; the message; BEGIN and END records.
        var all: [KafkaRecord] = []
        try waitUntil(timeoutSeconds: 90, "the records") {
            all += try consumer.readToEnd(timeoutMilliseconds: 1000)
            return all.filter { $0.topic == "app.public.orders" }.count >= 5 && all.contains { $0.topic == "app.message" }
                && all.filter { $0.topic == "app.transaction" }.count >= 2
        }
        let message = try #require(all.first { $0.topic == "app.message" })
        #expect(try registry.decode(message.value)?.value["message"]?["content"] == .string("aGVsbG8="))
        #expect(try registry.decode(message.key)?.value["prefix"] == .string("audit"))
        let statuses = try all.filter { $0.topic == "app.transaction" }.map { try registry.decode($0.value)?.value["status"] }
        #expect(statuses.contains(.string("BEGIN")) && statuses.contains(.string("END")))
        all = all.filter { $0.topic == "app.public.orders" }
        #expect(all.count == 5)
        let decoded = try all.map { (key: try registry.decode($0.key), value: try registry.decode($0.value)) }

        // Keys: {"id":1} under app.public.orders-key, in the Confluent frame.
        let firstKey = try #require(decoded[0].key)
        #expect(firstKey.value == .object([JSONMember("id", .number("1"))]))
        #expect(all[0].key?.first == 0)

        let created = try #require(decoded[0].value).value
        #expect(created["op"] == .string("c"))
        #expect(created["before"] == .null)
        #expect(created["after"]?["customer"] == .string("ada"))
        #expect(created["after"]?["total"] == .string("BOI="))        // Decimal 12.50: unscaled 1250 = 0x04E2
        #expect(created["after"]?["paid"] == .bool(false))
        #expect(created["source"]?["table"] == .string("orders"))
        #expect(created["transaction"]?["total_order"] == .number("1"))
        #expect(decoded[1].value?.value["after"]?["paid"] == .bool(true))

        // The row after the ALTER has the new shape: a second version of the value subject, with `note`.
        let firstValueID = try #require(decoded[0].value).id
        let secondShape = try #require(decoded[2].value)
        #expect(secondShape.id != firstValueID)
        #expect(secondShape.value["after"]?["note"] == .string("gift"))
        #expect(secondShape.value["after"]?["total"] == .null)
        #expect(try registry.versions("app.public.orders-value") == [1, 2])
        #expect(decoded[3].value?.value["op"] == .string("d"))
        #expect(all[4].value == nil)                                 // the tombstone stays a null value
        #expect(decoded[4].key?.value == firstKey.value)

        let subjects = try registry.subjects()
        for subject in ["app.public.orders-key", "app.public.orders-value", "app.transaction-key", "app.transaction-value",
                        "app.message-key", "app.message-value"] {
            #expect(subjects.contains(subject), "\(subject) in \(subjects)")
        }
        // Each shape is registered once: a schema-by-subject pair is never sent twice.
        let registrations = try HTTPRawRequests.list(port: registry.port).filter { $0.hasPrefix("POST /subjects/") }
        #expect(registrations.count == Set(registrations).count + 1)   // the value subject twice: v1, v2

        let stop = try scenario.running.stop()
        #expect(stop.isSuccess)
    }

    @Test func anIncompatibleSchemaStopsSwallowNamingSubjectTableAndTheRegistrysMessage() throws {
        let scenario = try Scenario("avro_refused", schema: """
            CREATE TABLE items (id int PRIMARY KEY, label text);
            """, tables: ["public.items"])
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        try sql.execute("INSERT INTO items VALUES (1, 'one')")
        let afterFirst = try walInsertLSN(sql)
        try waitUntil("the first version to be registered") {
            try scenario.registry.subjects().contains("app.public.items-value")
        }
        try waitUntil("the first change to be confirmed") { try confirmedFlushLSN(sql) >= afterFirst }
        // label text -> int: a reader of the new schema cannot read the old string (BACKWARD).
        try sql.execute("ALTER TABLE items ALTER COLUMN label TYPE int USING 0")
        try sql.execute("INSERT INTO items VALUES (2, 7)")
        let afterRefused = try walInsertLSN(sql)
        try sql.execute("INSERT INTO items VALUES (3, 8)")
        try waitUntil(timeoutSeconds: 60, "Swallow to stop") { scenario.running.hasEnded }
        _ = try expectNonRetriableStop(scenario.running, code: .schemaRegistry,
                                       mentioning: ["app.public.items-value", "public.items", "incompatible"],
                                       otherwise: "Swallow went on after the registry refused a schema")
        #expect(try confirmedFlushLSN(sql) < afterRefused)
        #expect(try scenario.registry.versions("app.public.items-value") == [1])
    }

    @Test func aFailingOrSlowRegistryIsRetriedAndNothingIsConfirmedMeanwhile() throws {
        let scenario = try Scenario("avro_outage", schema: """
            CREATE TABLE events (id int PRIMARY KEY, kind text);
            """, tables: ["public.events"], topics: ["app.public.events"], registrySettings: ", request_timeout_ms: 300")
        defer { scenario.cleanUp() }
        let (sql, registry) = (scenario.sql, scenario.registry)
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers, topics: ["app.public.events"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        var records: [KafkaRecord] = []
        func readRecords(_ count: Int) throws {
            try waitUntil(timeoutSeconds: 90, "\(count) records") {
                records += try consumer.readToEnd(timeoutMilliseconds: 500)
                return records.count >= count
            }
        }
        // Slow answers (past the 300 ms request timeout) until told otherwise: the first schemas wait.
        try registry.control("delay", #"{"ms":1500}"#)
        try sql.execute("INSERT INTO events VALUES (1, 'first')")
        let afterFirst = try walInsertLSN(sql)
        #expect(try holdsWithin(seconds: 3) { try confirmedFlushLSN(sql) >= afterFirst } == false)
        #expect(!scenario.running.hasEnded)
        try registry.control("delay", #"{"ms":0}"#)
        try readRecords(1)
        try waitUntil("the first change to be confirmed") { try confirmedFlushLSN(sql) >= afterFirst }

        // Server errors while a new shape (after DDL) is registered.
        try registry.control("fail", #"{"status":503,"count":3}"#)
        try sql.execute("ALTER TABLE events ADD COLUMN extra text")
        try sql.execute("INSERT INTO events VALUES (2, 'second', 'x')")
        let afterSecond = try walInsertLSN(sql)
        try readRecords(2)
        #expect(records.count == 2)
        #expect(try records.map { try registry.decode($0.value)?.value["after"]?["kind"] } == [.string("first"), .string("second")])
        #expect(try registry.decode(records[1].value)?.value["after"]?["extra"] == .string("x"))
        let valueRegistrations = try HTTPRawRequests.list(port: registry.port)
            .filter { $0 == "POST /subjects/app.public.events-value/versions" }
        #expect(valueRegistrations.count >= 5)   // v1 after its timeouts, v2 after three 503s
        #expect(try registry.versions("app.public.events-value") == [1, 2])
        try waitUntil("the slot to be confirmed past both") { try confirmedFlushLSN(sql) >= afterSecond }
        #expect(try scenario.running.stop().isSuccess)
    }
}

/// The test registry's request log (GET /_test/requests).
enum HTTPRawRequests {
    static func list(port: Int) throws -> [String] {
        let client = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: ["http://127.0.0.1:\(port)"]))
        return (try JSONSerialization.jsonObject(with: Data(try client.get("/_test/requests"))) as? [String]) ?? []
    }
}
