import Avro
import Foundation
import Kafka
import PGReplication
import Pipeline
import Testing

/// `events.format: avro` beyond plain streaming: the other subject name strategies, `auto_register:
/// false`, snapshot rows, dead letters, and a registry that refuses or answers nonsense.
@Suite(.integrationTest) struct AvroCoverageTests {
    typealias Scenario = AvroStreamingTests.Scenario
    static let items = "CREATE TABLE items (id int PRIMARY KEY, label text);"

    /// The records of `topic` once there are `count`, failing early if the pipeline ended.
    func read(_ scenario: Scenario, _ topic: String, count: Int) throws -> [KafkaRecord] {
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers, topics: [topic],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        var records: [KafkaRecord] = []
        try waitUntil(timeoutSeconds: 90, "\(count) records on \(topic)") {
            if scenario.running.hasEnded { throw TestFailure("the pipeline ended: \(String(describing: try? scenario.running.stop()))") }
            records += try consumer.readToEnd(timeoutMilliseconds: 500)
            return records.count >= count
        }
        return records
    }

    @Test(arguments: [("record_name", ["app.public.items.Envelope", "app.public.items.Key"]),
                      ("topic_record_name", ["app.public.items-app.public.items.Envelope", "app.public.items-app.public.items.Key"])])
    func subjectNameStrategies(strategy: String, subjects: [String]) throws {
        let scenario = try Scenario("avro_\(strategy)", schema: Self.items, tables: ["public.items"], topics: ["app.public.items"],
                                    registrySettings: ", subject_name_strategy: \(strategy)")
        defer { scenario.cleanUp() }
        try scenario.sql.execute("INSERT INTO items VALUES (1, 'one')")
        let records = try read(scenario, "app.public.items", count: 1)
        #expect(try scenario.registry.decode(records[0].value)?.value["after"]?["label"] == .string("one"))
        #expect(try scenario.registry.decode(records[0].key)?.value["id"] == .number("1"))
        #expect(try scenario.registry.subjects() == subjects)
        #expect(try scenario.running.stop().isSuccess)
    }

    @Test func withoutAutoRegisterRegisteredSchemasAreLookedUpAndAMissingOneStops() throws {
        // Present: a first Swallow registers the shapes; a second one, auto_register false, finds them.
        let first = try Scenario("avro_noauto_a", schema: Self.items, tables: ["public.items"], topics: ["app.public.items"])
        defer { first.cleanUp() }
        try first.sql.execute("INSERT INTO items VALUES (1, 'one')")
        _ = try read(first, "app.public.items", count: 1)
        #expect(try first.running.stop().isSuccess)
        let registered = try HTTPRawRequests.list(port: first.registry.port).filter { $0.hasPrefix("POST /subjects/") }.count

        let second = try Scenario("avro_noauto_b", schema: Self.items, tables: ["public.items"], topics: ["app.public.items"],
                                  registrySettings: ", auto_register: false", registry: first.registry)
        defer { second.cleanUp() }
        try second.sql.execute("INSERT INTO items VALUES (2, 'two')")
        let records = try read(second, "app.public.items", count: 1)
        #expect(try second.registry.decode(records[0].value)?.value["after"]?["label"] == .string("two"))
        let requests = try HTTPRawRequests.list(port: first.registry.port).filter { $0.hasPrefix("POST /subjects/") }
        #expect(requests.dropFirst(registered).allSatisfy { !$0.hasSuffix("/versions") }, "\(requests)")
        #expect(requests.dropFirst(registered).contains("POST /subjects/app.public.items-value"))
        #expect(try second.registry.versions("app.public.items-value") == [1])
        #expect(try second.running.stop().isSuccess)

        // Absent: a registry without the subject; nothing is confirmed past the change.
        let third = try Scenario("avro_noauto_c", schema: Self.items, tables: ["public.items"],
                                 registrySettings: ", auto_register: false")
        defer { third.cleanUp() }
        let xid = try insertReturningXID(third.sql, "INSERT INTO items VALUES (3, 'three')")
        try waitUntil(timeoutSeconds: 60, "Swallow to stop") { third.running.hasEnded }
        _ = try expectNonRetriableStop(third.running, code: .schemaRegistry,
                                       mentioning: ["app.public.items-", "public.items", "auto_register"],
                                       otherwise: "Swallow went on without a registered schema")
        #expect(try transactionIsStillInSlot(third.sql, xid: xid), "the refused change was confirmed")
        #expect(try third.registry.subjects().isEmpty)
    }

    @Test func snapshotRowsAreAvro() throws {
        let scenario = try Scenario("avro_snapshot", schema: Self.items + " INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, 3) g;",
                                    tables: ["public.items"], topics: ["app.public.items"],
                                    snapshot: "{mode: initial, max_threads: 1, chunk_rows: 1000}")
        defer { scenario.cleanUp() }
        try scenario.sql.execute("INSERT INTO items VALUES (4, 'streamed')")
        let records = try read(scenario, "app.public.items", count: 4)
        let values = try records.map { try #require(try scenario.registry.decode($0.value)).value }
        #expect(values.map { $0["op"] } == [.string("r"), .string("r"), .string("r"), .string("c")])
        #expect(values.prefix(3).map { $0["after"]?["label"] } == [.string("row 1"), .string("row 2"), .string("row 3")])
        #expect(values[2]["source"]?["snapshot"] == .string("last"))
        #expect(values[3]["source"]?["snapshot"] == .string("false"))
        // Snapshot and streamed rows have one shape: one version.
        #expect(try scenario.registry.versions("app.public.items-value") == [1])
        #expect(try scenario.running.stop().isSuccess)
    }

    @Test func aDeadLetterKeepsItsAvroKey() throws {
        let scenario = try Scenario("avro_dead_letter", schema: "CREATE TABLE docs (id int PRIMARY KEY, body text);",
                                    tables: ["public.docs"], topics: ["app.public.docs", "app.dead-letter"],
                                    kafkaProperties: ["message.max.bytes": OversizedEventTests.lowLimit],
                                    yaml: { try OversizedEventTests.withOversizedEvents($0, mode: "dead_letter") })
        defer { scenario.cleanUp() }
        try scenario.sql.execute("INSERT INTO docs VALUES (1, 'small')")
        try scenario.sql.execute("INSERT INTO docs VALUES (2, \(OversizedEventTests.bigBody))")
        try scenario.sql.execute("INSERT INTO docs VALUES (3, 'after')")
        let rows = try read(scenario, "app.public.docs", count: 2)
        #expect(try rows.map { try scenario.registry.decode($0.key)?.value["id"] } == [.number("1"), .number("3")])
        let dead = try read(scenario, "app.dead-letter", count: 1)
        #expect(dead.count == 1 && dead[0].value == nil)
        #expect(dead[0].key?.first == 0)   // Confluent's frame
        #expect(try scenario.registry.decode(dead[0].key)?.value["id"] == .number("2"))
        #expect(dead[0].headers.contains { $0.key == "swallow.error.table" })
        #expect(try scenario.running.stop().isSuccess)
    }

    /// A registry answer that is not what Confluent's API documents stops Swallow naming the cause,
    /// with nothing confirmed past the change.
    func expectStop(_ name: String, registrySettings: String = "", registryArguments: [String] = [],
                    control: (TestSchemaRegistry) throws -> Void = { _ in }, mentioning parts: [String]) throws {
        let registry = try TestSchemaRegistry(name: name, arguments: registryArguments)
        let scenario = try Scenario(name, schema: Self.items, tables: ["public.items"], registrySettings: registrySettings,
                                    registry: registry)
        defer { scenario.cleanUp() }
        try control(registry)
        let xid = try insertReturningXID(scenario.sql, "INSERT INTO items VALUES (1, 'one')")
        try waitUntil(timeoutSeconds: 60, "Swallow to stop") { scenario.running.hasEnded }
        _ = try expectNonRetriableStop(scenario.running, code: .schemaRegistry, mentioning: parts,
                                       otherwise: "Swallow went on past a refused schema")
        #expect(try transactionIsStillInSlot(scenario.sql, xid: xid), "the refused change was confirmed")
    }

    @Test func unauthorizedStopsNamingTheCredentials() throws {
        try expectStop("avro_401", registryArguments: ["--user", "swallow:s3cret"],
                       mentioning: ["app.public.items-", "401", "schema_registry.username"])
        try expectStop("avro_401_wrong", registrySettings: ", username: swallow, password: wrong",
                       registryArguments: ["--user", "swallow:s3cret"], mentioning: ["401", "schema_registry.username"])
    }

    @Test func forbiddenStopsNamingThePermissions() throws {
        try expectStop("avro_403", control: { try $0.control("fail", #"{"status":403,"count":1000}"#) },
                       mentioning: ["app.public.items-", "403", "permissions"])
    }

    @Test func aMalformedAnswerStops() throws {
        // 200 with a body that is no registration answer (an error body), as a wrong URL might give.
        try expectStop("avro_malformed", control: { try $0.control("fail", #"{"status":200,"count":1000}"#) },
                       mentioning: ["app.public.items-", "no schema id", "Confluent-compatible"])
    }

    @Test func anUnreachableRegistryIsRetriedAndNothingIsConfirmed() throws {
        // Port 9 (discard) on loopback: nothing listens.
        let registry = try TestSchemaRegistry(name: "avro_unreachable")
        let scenario = try Scenario("avro_unreachable", schema: Self.items, tables: ["public.items"], registry: registry,
                                    yaml: { $0.replacingOccurrences(of: registry.url, with: "http://127.0.0.1:9") })
        defer { scenario.cleanUp() }
        try scenario.sql.execute("INSERT INTO items VALUES (1, 'one')")
        let after = try walInsertLSN(scenario.sql)
        #expect(try holdsWithin(seconds: 5) { try confirmedFlushLSN(scenario.sql) >= after } == false)
        #expect(!scenario.running.hasEnded)
        #expect(try scenario.running.stop().isSuccess)
    }
}
