import Foundation
import Testing

/// The golden workload with `events.format: avro`, checked two ways against real Debezium:
///
/// - every subject, version and schema Swallow registers equals what Debezium 3.6.3 with Confluent's
///   AvroConverter 7.0.16 registered for the same workload and options
///   (`Golden/<workload>.<run>.avro-schemas.json`, written by `scripts/oracle/debezium.sh --avro`, read
///   back from the registry by `scripts/schema-registry/dump_registry.py` both times);
/// - every record read back and decoded by an independent implementation — confluent-kafka's
///   AvroDeserializer with fastavro, through the registry (`scripts/schema-registry/decode_avro.py`) —
///   means what Debezium's JSON says for the same change (`Golden/<workload>.<run>.jsonl`).
///
/// A run's Avro form is its properties without `converter.schemas.enable` (a JsonConverter option) and
/// with `Golden/avro.properties`. The registry's compatibility is NONE, as in the oracle: the workload's
/// DDL (a dropped column, int to numeric) is not BACKWARD compatible.
@Suite(.integrationTest) struct AvroGoldenTests {
    static let repository = GoldenTests.goldenDirectory.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func debeziumDefaults() throws {
        try check(workload: "every-type", run: "default")
    }

    @Test func everyNonDefaultMode() throws {
        try check(workload: "every-type", run: "modes")
    }

    /// The outbox workload through the router (Debezium's EventRouter) into Avro: a key of the aggregate
    /// id's schema, a value of the payload column's, registered under the routed topics' subjects.
    @Test func outboxRouter() throws {
        // The oracle's sync messages (DebeziumGolden.java) registered app.message-*; the workload has no
        // messages of its own, so only the routed topics' subjects are compared.
        try check(workload: "outbox", run: "routed", topics: ["outbox.event.order", "outbox.event.customer"],
                  onlyTopicSubjects: true)
    }

    // The transforms in Avro, each against Debezium 3.6.3 with AvroConverter over the same workload. The
    // oracle's sync messages (DebeziumGolden.java) registered app.message-*, which most of these workloads
    // do not write themselves: only the subjects of the runs' topics are compared.

    /// Column masking: the masked fields' schemas carry Debezium's parameters.
    @Test func columnMasking() throws {
        try check(workload: "transforms", run: "masking", topics: GoldenTests.transformTopics, onlyTopicSubjects: true)
    }

    /// Masks and flattened records together (ExtractNewRecordState's added fields, rewritten deletes).
    @Test func maskedFlattenedRecords() throws {
        try check(workload: "transforms", run: "maskflat", topics: GoldenTests.transformTopics, onlyTopicSubjects: true)
    }

    /// Topic routing with its key field, and transaction metadata.
    @Test func topicRouting() throws {
        try check(workload: "routing", run: "schemas", topics: GoldenTests.routingTopics, onlyTopicSubjects: true)
    }

    /// A publication's column list and row filter.
    @Test func publicationColumnListAndRowFilter() throws {
        try check(workload: "filters", run: "columns", topics: GoldenTests.filterTopics, onlyTopicSubjects: true)
    }

    /// The outbox router's envelope (a struct of the payload and an additional field), a partition, a
    /// timestamp and tombstones.
    @Test func outboxRouterEnvelope() throws {
        try check(workload: "outbox", run: "envelope", topics: ["order.events", "customer.events"], onlyTopicSubjects: true)
    }

    /// Expanded payloads: a schema inferred per payload, registered as a new version of the topic's
    /// subject whenever the payload's shape changes.
    @Test func outboxRouterExpandedPayload() throws {
        try check(workload: "outbox", run: "expandschemas", topics: ["outbox.event.order", "outbox.event.customer"],
                  onlyTopicSubjects: true)
    }

    /// The table-less outbox: keys, values and headers of the schemas inferred per message.
    @Test func outboxRouterOverLogicalMessages() throws {
        try check(workload: "outbox-messages", run: "schemas", topics: ["outbox.event.order", "outbox.event.customer"],
                  onlyTopicSubjects: true)
    }

    /// The Avro form of a run's properties.
    static func avroProperties(workload: String, run: String) throws -> [(key: String, value: String)] {
        let golden = GoldenTests.goldenDirectory
        let own = try GoldenTests.properties(String(contentsOf: golden.appendingPathComponent("\(workload).\(run).properties"),
                                                    encoding: .utf8))
        let avro = try GoldenTests.properties(String(contentsOf: golden.appendingPathComponent("avro.properties"), encoding: .utf8))
        return own.filter { $0.key != "converter.schemas.enable" } + avro
    }

    func check(workload: String, run: String, topics: [String] = GoldenTests.topics, onlyTopicSubjects: Bool = false) throws {
        let golden = GoldenTests.goldenDirectory
        let registry = try TestSchemaRegistry(name: "golden_avro\(run)")
        try HTTPRaw.put(port: registry.port, path: "/config", body: #"{"compatibility":"NONE"}"#)
        let (events, sections) = GoldenTests.swallowSections(properties: try Self.avroProperties(workload: workload, run: run))
        let script = try String(contentsOf: golden.appendingPathComponent("\(workload).sql"), encoding: .utf8)
        let parts = script.components(separatedBy: "\n-- changes\n")
        try #require(parts.count == 2)
        let scenario = try StreamingScenario(
            // golden_<letters>: the database is masked as the golden runs' are (masks.tsv).
            "golden_avro\(run)", schema: parts[0], tables: [], topics: topics,
            events: "{format: avro, " + String(events.dropFirst()),
            sections: sections + "\nschema_registry: {url: \"\(registry.url)\"}\n")
        defer { scenario.cleanUp() }
        try GoldenTests.runChanges(parts[1], sql: scenario.sql)
        try waitUntilEverythingIsConfirmed(scenario.sql)

        // 1. What the registry got, in the oracle's format, equal to what Debezium's AvroConverter registered.
        let expectedName = "\(workload).\(run).avro-schemas.json"
        let actualPath = FileManager.default.temporaryDirectory.appendingPathComponent("\(expectedName).actual").path
        let dump = try Self.python(["scripts/schema-registry/dump_registry.py", registry.url, actualPath])
        try #require(dump.status == 0, "dump_registry.py failed: \(dump.output)")
        var actual = try String(contentsOfFile: actualPath, encoding: .utf8)
        var expected = try String(contentsOf: golden.appendingPathComponent(expectedName), encoding: .utf8)
        if onlyTopicSubjects {
            actual = try Self.subjects(of: topics, in: actual)
            expected = try Self.subjects(of: topics, in: expected)
        }
        if actual != expected {
            let differences = Self.firstDifferences(actual: actual, expected: expected)
            Issue.record("the registered schemas differ from \(expectedName) (Swallow's: \(actualPath)):\n\(differences)")
        }

        // 2. Every record decoded by confluent-kafka's AvroDeserializer (fastavro), equal in meaning to
        //    Debezium's JSON for the same change.
        let packages = try Self.confluentKafkaDirectory()
        let decode = try Self.python(
            ["scripts/schema-registry/decode_avro.py", scenario.cluster.bootstrapServers, registry.url,
             golden.appendingPathComponent("\(workload).\(run).jsonl").path, golden.appendingPathComponent("masks.tsv").path,
             "avro"],
            environment: ["PYTHONPATH": packages])
        #expect(decode.status == 0, "the independent decoding differs from \(workload).\(run).jsonl:\n\(decode.output)")
        #expect(decode.output.contains(" 0 differences"), "\(decode.output)")
        #expect(try scenario.running.stop().isSuccess)
    }

    /// A registry dump (`{"<subject>": [versions]}`) with only the subjects of `topics` (TopicNameStrategy's
    /// `<topic>-key`, `<topic>-value`), written again with sorted keys.
    static func subjects(of topics: [String], in dump: String) throws -> String {
        let all = try #require(try JSONSerialization.jsonObject(with: Data(dump.utf8)) as? [String: Any])
        let kept = all.filter { subject, _ in topics.contains { subject == "\($0)-key" || subject == "\($0)-value" } }
        let data = try JSONSerialization.data(withJSONObject: kept, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// Where scripts/install-deps.sh put confluent-kafka and fastavro (scripts/pg-versions.sh says).
    static func confluentKafkaDirectory() throws -> String {
        let run = try shell(["bash", "-c", ". scripts/pg-versions.sh && confluent_kafka_dir"])
        let directory = run.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard run.status == 0, FileManager.default.fileExists(atPath: directory + "/confluent_kafka/__init__.py"),
              FileManager.default.fileExists(atPath: directory + "/fastavro") else {
            throw TestFailure("confluent-kafka and fastavro are not installed in \(directory): run scripts/install-deps.sh")
        }
        return directory
    }

    static func python(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try shell(["python3"] + arguments, environment: environment)
    }

    /// Runs a program in the repository's directory to its end; its output and errors together.
    static func shell(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-avro-golden-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        // Relative script paths: from the repository (the child starts in the test's directory).
        let resolved = arguments.map { $0.hasPrefix("scripts/") ? repository.appendingPathComponent($0).path : $0 }
        let command = resolved.first == "bash"
            ? ["bash", "-c", "cd \(repository.path) && " + resolved[2]]
            : resolved
        let child = try ChildProcess(executable: "/usr/bin/env", arguments: command, outputPath: outputPath,
                                     environment: environment)
        let status = child.wait()
        return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }

    /// The first lines where two texts differ, for a failure message.
    static func firstDifferences(actual: String, expected: String, limit: Int = 6) -> String {
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        var out: [String] = []
        for index in 0..<max(a.count, e.count) where out.count < limit * 2 {
            let left = index < a.count ? String(a[index]) : "<none>"
            let right = index < e.count ? String(e[index]) : "<none>"
            if left != right { out += ["line \(index + 1) got      \(left.prefix(600))", "line \(index + 1) expected \(right.prefix(600))"] }
        }
        return out.joined(separator: "\n")
    }
}
