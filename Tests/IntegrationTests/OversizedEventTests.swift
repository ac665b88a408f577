import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// Events above the producer's `message.max.bytes` (`kafka.oversized_events`), with a real Postgres and
/// the mock cluster: `fail` stops naming the event and confirms nothing past it (and a restart with a
/// higher limit delivers it), `dead_letter` puts a headed record on the dead-letter topic and goes on —
/// on the stream and in the initial snapshot.
@Suite(.integrationTest) struct OversizedEventTests {
    static let schema = "CREATE TABLE docs (id int PRIMARY KEY, body text NOT NULL)"
    /// librdkafka's lowest allowed `message.max.bytes` is 1000; a 20 kB row is well above this one.
    static let lowLimit = "10000"
    static let bigBody = "repeat('x', 20000)"

    /// The test configuration with `kafka.oversized_events` (and the limit) set.
    static func configuration(_ database: String, _ cluster: MockKafkaCluster, maxBytes: String,
                              mode: String = "fail", snapshot: String = "{}") throws -> SwallowConfiguration {
        let yaml = try withOversizedEvents(
            testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers, tables: ["public.docs"],
                                  extraKafkaProperties: ["message.max.bytes": maxBytes], snapshot: snapshot),
            mode: mode)
        return try SwallowConfiguration.parse(yaml: yaml, environment: [:])
    }

    static func withOversizedEvents(_ yaml: String, mode: String) throws -> String {
        let anchor = "flush_timeout_ms: 10000}"
        guard yaml.contains(anchor) else { throw TestFailure("the test configuration's kafka section changed shape") }
        return yaml.replacingOccurrences(of: anchor, with: "flush_timeout_ms: 10000, oversized_events: \(mode)}")
    }

    struct Fixture {
        let database: String
        let sql: PostgresConnection
        let cluster: MockKafkaCluster

        init(_ name: String, rows: String? = nil) throws {
            database = try TestPostgres.shared.makeDatabase(name)
            sql = try TestPostgres.shared.connect(database)
            try sql.execute(OversizedEventTests.schema)
            if let rows { try sql.execute(rows) }
            cluster = try MockKafkaCluster(brokers: 1)
            for topic in ["app.public.docs", "app.dead-letter"] { try cluster.createTopic(topic, partitions: 1) }
        }

        func read(_ topic: String) throws -> [KafkaRecord] {
            let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic],
                                             waitForTopicsMilliseconds: 30_000)
            defer { consumer.close() }
            return try consumer.readToEnd(timeoutMilliseconds: 10_000)
        }

        /// The `after.id` of each change record of `docs`, in offset order.
        func ids() throws -> [Int] {
            try read("app.public.docs").compactMap { record in
                guard let object = try jsonObject(record.value) else { return nil }
                let payload = object["payload"] as? [String: Any] ?? object
                return (payload["after"] as? [String: Any])?["id"] as? Int
            }
        }

        func insertLSN() throws -> LSN { try walInsertLSN(sql) }

        func cleanUp() { TestPostgres.shared.dropSlots(of: database) }
    }

    @Test func failModeStopsNamingTheEventAndARestartWithAHigherLimitDeliversIt() throws {
        let fixture = try Fixture("oversize_fail")
        defer { fixture.cleanUp() }
        let running = RunningPipeline(configuration: try Self.configuration(fixture.database, fixture.cluster, maxBytes: Self.lowLimit),
                                      bootstrapServers: fixture.cluster.bootstrapServers)
        defer { running.pipeline.stop() }
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }

        try fixture.sql.execute("INSERT INTO docs VALUES (1, 'small')")
        try waitUntil("the small row in Kafka") { try fixture.ids() == [1] }
        try fixture.sql.execute("INSERT INTO docs VALUES (2, \(Self.bigBody))")
        // The slot may be confirmed up to the start of the refused transaction's commit record (a
        // keepalive reports it while Swallow is idle; a transaction whose commit starts at or after the
        // confirmed position is decoded again), never to this insert position after it.
        let afterBig = try fixture.insertLSN()
        try fixture.sql.execute("INSERT INTO docs VALUES (3, 'after')")
        try waitUntil("the pipeline to stop on the oversized event") { running.hasEnded }

        let parts = ["the c event of table public.docs", #""id":2"#, "message.max.bytes of 10000",
                     "kafka.properties.message.max.bytes", "kafka.oversized_events: dead_letter", "topic app.public.docs"]
        guard let error = try expectNonRetriableStop(running, code: .oversizedEvent, mentioning: parts,
                                                     otherwise: "the pipeline ended without an error") else { return }
        #expect(!error.message.contains("xxxxxxxx"), "the error quotes row contents")
        // Nothing past the refused event was confirmed, nor produced.
        #expect(try confirmedFlushLSN(fixture.sql) < afterBig)
        #expect(try fixture.ids() == [1])
        #expect(running.pipeline.status.state == .failed)

        // A restart with the same limit meets the same event again: nothing was skipped.
        let again = RunningPipeline(configuration: try Self.configuration(fixture.database, fixture.cluster, maxBytes: Self.lowLimit),
                                    bootstrapServers: fixture.cluster.bootstrapServers)
        try waitUntil("the restarted pipeline to stop on the same event") { again.hasEnded }
        guard case .failure(let repeated) = try again.stop() else {
            Issue.record("the restarted pipeline skipped the oversized event")
            return
        }
        #expect(repeated.code == .oversizedEvent)
        #expect(repeated.message.contains(#""id":2"#))
        #expect(try confirmedFlushLSN(fixture.sql) < afterBig)

        // With the limit raised, the event arrives, and so does the one after it.
        let raised = RunningPipeline(configuration: try Self.configuration(fixture.database, fixture.cluster, maxBytes: "100000"),
                                     bootstrapServers: fixture.cluster.bootstrapServers)
        try waitUntil("rows 2 and 3 in Kafka") { try Set(fixture.ids()) == [1, 2, 3] }
        try waitUntil(timeoutSeconds: 60, "the slot to move past the formerly refused event") {
            try confirmedFlushLSN(fixture.sql) >= afterBig
        }
        #expect(try fixture.read("app.dead-letter").isEmpty)
        guard case .success = try raised.stop() else {
            Issue.record("the pipeline with the raised limit failed")
            return
        }
    }

    @Test func deadLetterModeRoutesTheEventWithItsReasonAndGoesOn() throws {
        let fixture = try Fixture("oversize_dlq")
        defer { fixture.cleanUp() }
        let running = RunningPipeline(configuration: try Self.configuration(fixture.database, fixture.cluster, maxBytes: Self.lowLimit,
                                                                            mode: "dead_letter"),
                                      bootstrapServers: fixture.cluster.bootstrapServers)
        defer { running.pipeline.stop() }
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }

        try fixture.sql.execute("INSERT INTO docs VALUES (1, 'small')")
        let beforeBig = try fixture.insertLSN()
        try fixture.sql.execute("INSERT INTO docs VALUES (2, \(Self.bigBody))")
        // The big transaction's commit record ends at or before this.
        let afterBig = try fixture.insertLSN()
        try fixture.sql.execute("INSERT INTO docs VALUES (3, 'after')")
        try waitUntil("rows 1 and 3 in Kafka") {
            if running.hasEnded { throw TestFailure("the pipeline ended: \(String(describing: try? running.stop()))") }
            return try fixture.ids() == [1, 3]
        }
        // The dead letter was acknowledged like any event: the slot moves past it.
        try waitUntil(timeoutSeconds: 60, "the slot to move past the dead-lettered event") {
            try confirmedFlushLSN(fixture.sql) >= afterBig
        }

        let deadLetters = try fixture.read("app.dead-letter")
        try #require(deadLetters.count == 1)
        let dead = deadLetters[0]
        #expect(dead.value == nil)
        #expect(String(decoding: dead.key ?? [], as: UTF8.self).contains(#""id":2"#))
        let headers = Dictionary(uniqueKeysWithValues: dead.headers.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) })
        #expect(headers["swallow.error.topic"] == "app.public.docs")
        #expect(headers["swallow.error.table"] == "public.docs")
        #expect(headers["swallow.error.op"] == "c")
        #expect(headers["swallow.error.max.bytes"] == "10000")
        #expect(Int(headers["swallow.error.size"] ?? "") ?? 0 > 20_000)
        #expect(headers["swallow.error.reason"]?.contains("message.max.bytes") == true)
        let lsn = try #require(headers["swallow.source.lsn"].flatMap { LSN(string: $0) })
        #expect(lsn >= beforeBig)
        guard case .success = try running.stop() else {
            Issue.record("the pipeline failed")
            return
        }
    }

    @Test func theInitialSnapshotAppliesTheSameRule() throws {
        let fixture = try Fixture("oversize_snap", rows: "INSERT INTO docs VALUES (1, 'small'), (2, \(Self.bigBody)), (3, 'after')")
        defer { fixture.cleanUp() }
        let running = RunningPipeline(configuration: try Self.configuration(fixture.database, fixture.cluster, maxBytes: Self.lowLimit,
                                                                            mode: "dead_letter", snapshot: "{mode: initial}"),
                                      bootstrapServers: fixture.cluster.bootstrapServers)
        defer { running.pipeline.stop() }
        try waitUntil(timeoutSeconds: 60, "the snapshot's rows 1 and 3 and the dead letter") {
            if running.hasEnded { throw TestFailure("the pipeline ended: \(String(describing: try? running.stop()))") }
            return try Set(fixture.ids()) == [1, 3] && fixture.read("app.dead-letter").count == 1
        }
        let dead = try fixture.read("app.dead-letter")[0]
        let headers = Dictionary(uniqueKeysWithValues: dead.headers.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) })
        #expect(headers["swallow.error.op"] == "r")
        #expect(headers["swallow.error.table"] == "public.docs")
        #expect(String(decoding: dead.key ?? [], as: UTF8.self).contains(#""id":2"#))
        #expect(dead.value == nil)
        guard case .success = try running.stop() else {
            Issue.record("the pipeline failed")
            return
        }

        // In fail mode the snapshot stops naming the row instead.
        let strict = try Fixture("oversize_snapfail", rows: "INSERT INTO docs VALUES (1, 'small'), (2, \(Self.bigBody))")
        defer { strict.cleanUp() }
        let failing = RunningPipeline(configuration: try Self.configuration(strict.database, strict.cluster, maxBytes: Self.lowLimit,
                                                                            snapshot: "{mode: initial}"),
                                      bootstrapServers: strict.cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the snapshot to stop on the oversized row") { failing.hasEnded }
        guard case .failure(let error) = try failing.stop() else {
            Issue.record("the snapshot skipped the oversized row")
            return
        }
        #expect(error.code == .oversizedEvent)
        #expect(error.message.contains("the r event of table public.docs"))
        #expect(error.message.contains(#""id":2"#))
    }

    @Test func theIncrementalSnapshotAppliesTheSameRule() throws {
        let fixture = try Fixture("oversize_incr", rows: """
            CREATE TABLE swallow_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
            INSERT INTO docs VALUES (1, 'small'), (2, \(Self.bigBody)), (3, 'after')
            """)
        defer { fixture.cleanUp() }
        let configuration = try Self.configuration(fixture.database, fixture.cluster, maxBytes: Self.lowLimit, mode: "dead_letter",
                                                   snapshot: "{mode: no_data, signal_table: public.swallow_signal}")
        defer { try? FileManager.default.removeItem(atPath: configuration.stateDirectory) }
        let running = RunningPipeline(configuration: configuration, bootstrapServers: fixture.cluster.bootstrapServers)
        defer { running.pipeline.stop() }
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }
        try fixture.sql.execute("""
            INSERT INTO swallow_signal VALUES ('big-1', 'execute-snapshot', '{"data-collections": ["public.docs"], "type": "incremental"}')
            """)
        try waitUntil(timeoutSeconds: 60, "the window's rows 1 and 3 and the dead letter") {
            if running.hasEnded { throw TestFailure("the pipeline ended: \(String(describing: try? running.stop()))") }
            return try Set(fixture.ids()) == [1, 3] && fixture.read("app.dead-letter").count == 1
        }
        let dead = try fixture.read("app.dead-letter")[0]
        let headers = Dictionary(uniqueKeysWithValues: dead.headers.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) })
        #expect(headers["swallow.error.op"] == "r")
        #expect(headers["swallow.error.table"] == "public.docs")
        #expect(headers["swallow.source.lsn"] != nil)
        #expect(String(decoding: dead.key ?? [], as: UTF8.self).contains(#""id":2"#))
        guard case .success = try running.stop() else {
            Issue.record("the pipeline failed")
            return
        }
    }

    @Test func aBrokerRefusingAnEventForItsSizeStopsNamingTheTopicAndTheFix() throws {
        // The producer's limit lets the event through; the broker's (the topic's max.message.bytes) is
        // lower, which only the delivery report tells.
        let fixture = try Fixture("oversize_broker")
        defer { fixture.cleanUp() }
        let running = RunningPipeline(configuration: try Self.configuration(fixture.database, fixture.cluster, maxBytes: "100000",
                                                                            mode: "dead_letter"),
                                      bootstrapServers: fixture.cluster.bootstrapServers)
        defer { running.pipeline.stop() }
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }
        fixture.cluster.pushRequestErrors(apiKey: MockKafkaCluster.produceAPIKey, errors: [.messageSizeTooLarge])
        try fixture.sql.execute("INSERT INTO docs VALUES (5, 'refused by the broker')")
        // The slot may be confirmed up to the start of the refused transaction's commit record (a
        // keepalive reports it while Swallow is idle; a transaction whose commit starts at or after the
        // confirmed position is decoded again), never to this insert position after it.
        let afterRefused = try fixture.insertLSN()
        try waitUntil("the pipeline to stop on the refusal") { running.hasEnded }
        let parts = ["the broker refused an event as too large", "app.public.docs", "max.message.bytes",
                     "message.max.bytes of 100000", "Nothing past the confirmed position is lost"]
        guard try expectNonRetriableStop(running, code: .oversizedEvent, mentioning: parts,
                                         otherwise: "the pipeline went on past a refused event") != nil else { return }
        #expect(try confirmedFlushLSN(fixture.sql) < afterRefused)
        #expect(try fixture.ids().isEmpty)
    }

    @Test func swallowRunExitsWithTheReasonInItsLog() throws {
        let fixture = try Fixture("oversize_cli")
        defer { fixture.cleanUp() }
        let configPath = try writeConfigurationFile(database: fixture.database, bootstrapServers: fixture.cluster.bootstrapServers,
                                                    tables: ["public.docs"], extraKafkaProperties: ["message.max.bytes": Self.lowLimit])
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(fixture.database).log").path
        let swallow = try SwallowProcess(configPath: configPath, logPath: logPath)
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }
        try fixture.sql.execute("INSERT INTO docs VALUES (7, \(Self.bigBody))")
        // The slot may be confirmed up to the start of the refused transaction's commit record (a
        // keepalive reports it while Swallow is idle; a transaction whose commit starts at or after the
        // confirmed position is decoded again), never to this insert position after it.
        let afterBig = try fixture.insertLSN()
        try waitUntil("swallow to exit") { swallow.child.exitStatusIfEnded() != nil }
        let status = swallow.child.wait()
        #expect(status == 1, "exit status \(status):\n\(swallow.log.suffix(3000))")
        let log = swallow.log
        #expect(log.contains("stopping: the c event of table public.docs"), "\(log.suffix(3000))")
        #expect(log.contains(#""id":7"#))
        #expect(log.contains("kafka.oversized_events: dead_letter"))
        #expect(!log.contains("xxxxxxxx"), "the log shows row contents")
        #expect(try confirmedFlushLSN(fixture.sql) < afterBig)
    }

    @Test func swallowRunDeadLettersWithAWarningAndAMetricAndSwallowCheckListsTheTopic() throws {
        let fixture = try Fixture("oversize_clidlq")
        defer { fixture.cleanUp() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("oversize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let yaml = try Self.withOversizedEvents(
            testConfigurationYAML(database: fixture.database, bootstrapServers: fixture.cluster.bootstrapServers,
                                  tables: ["public.docs"], extraKafkaProperties: ["message.max.bytes": Self.lowLimit],
                                  snapshot: "{mode: no_data}"),
            mode: "dead_letter") + "\nlog_format: json\nhttp: {listen: \"127.0.0.1:0\"}\n"
        let configPath = directory.appendingPathComponent("swallow.yaml").path
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)

        // `swallow check` looks for the dead-letter topic with the tables' topics.
        let check = try runSwallow(["check", "--config", configPath])
        #expect(check.text.contains("kafka topics: present: app.public.docs, app.dead-letter"), "\(check.text)")

        let swallow = try SwallowProcess(configPath: configPath, logPath: directory.appendingPathComponent("swallow.log").path)
        var stopped = false
        defer { if !stopped { swallow.kill9() } }
        let http = try httpListenerPort(of: swallow)
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }
        try fixture.sql.execute("INSERT INTO docs VALUES (1, \(Self.bigBody))")
        try fixture.sql.execute("INSERT INTO docs VALUES (2, 'small')")
        try waitUntil("the small row and the dead letter") {
            try fixture.ids() == [2] && fixture.read("app.dead-letter").count == 1
        }
        var metrics: [String: Double] = [:]
        try waitUntil("the dead letter to be counted") {
            metrics = try prometheusSamples(try httpGet(port: http, path: "/metrics").body)
            return metrics[#"swallow_dead_letter_events_total{table="public.docs"}"#] == 1
        }
        let warning = try #require(try jsonLogLines(swallow.log).first {
            ($0["message"] as? String)?.hasPrefix("an event is larger than message.max.bytes") == true
        })
        #expect(warning["level"] as? String == "warning")
        let metadata = try #require(warning["metadata"] as? [String: Any])
        #expect(metadata["table"] as? String == "public.docs")
        #expect(metadata["dead_letter_topic"] as? String == "app.dead-letter")
        #expect(!swallow.log.contains("xxxxxxxx"), "the log shows row contents")
        stopped = true
        #expect(swallow.terminate() == 0, "\(swallow.log.suffix(2000))")
    }
}
