import CoreMetrics
import Foundation
import Kafka
import MetricsTestKit
import PGOutput
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// Keeping the slot moving (heartbeats), noticing when it does not (the stall warning), and losing the
/// slot or the publication while streaming: detected and reported, never silently re-created.
@Suite(.integrationTest) struct SlotHealthTests {
    /// A test database streamed by a pipeline whose configuration has a `heartbeat` section.
    struct Scenario {
        let database: String
        let sql: PostgresConnection
        let cluster: MockKafkaCluster
        let configuration: SwallowConfiguration
        let running: RunningPipeline

        init(_ name: String, schema: String, tables: [String], events: String = "{}", snapshot: String = "{}",
             heartbeat: String, metricsFactory: MetricsFactory? = nil) throws {
            database = try TestPostgres.shared.makeDatabase(name)
            sql = try TestPostgres.shared.connect(database)
            try sql.execute(schema)
            cluster = try MockKafkaCluster(brokers: 1)
            let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers,
                                             tables: tables, events: events, snapshot: snapshot)
            configuration = try SwallowConfiguration.parse(yaml: yaml + "\nheartbeat: \(heartbeat)\n", environment: [:])
            running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers,
                                      metricsFactory: metricsFactory)
            // Up to 90 s: in a loaded run a scenario's start was once held up for more than 30 s after
            // connecting, with nothing wrong in it.
            try waitUntil(timeoutSeconds: 90, "the slot to be streaming") { [sql] in try isStreaming(sql) }
        }

        func cleanUp() { TestPostgres.shared.dropSlots(of: database) }
    }

    // MARK: Heartbeats

    @Test func heartbeatsReachKafkaAndMoveTheConfirmedPositionPastThemselvesWhileOnlyAnUncapturedTableChanges() throws {
        // Every message prefix is published, yet the heartbeat's own message never becomes an event.
        let scenario = try Scenario(
            "beat", schema: "CREATE TABLE captured (id int PRIMARY KEY); CREATE TABLE busy (id serial PRIMARY KEY, v text)",
            tables: ["public.captured"], events: #"{message.prefix.include.list: ".*"}"#,
            heartbeat: "{interval_ms: 200}")
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        let pipeline = scenario.running.pipeline
        for _ in 0..<5 { try sql.execute("INSERT INTO busy (v) SELECT md5(g::text) FROM generate_series(1, 200) g") }
        try sql.execute("SELECT pg_logical_emit_message(false, 'app.audit', 'an ordinary message')")

        // The slot is confirmed past a heartbeat written after the uncaptured writes.
        let uncapturedEnd = try walInsertLSN(sql)
        var heartbeat = LSN.invalid
        try waitUntil("a heartbeat after the uncaptured writes") {
            heartbeat = pipeline.lastHeartbeatPosition ?? .invalid
            return heartbeat > uncapturedEnd
        }
        try waitUntil("the slot to be confirmed past the heartbeat") { try confirmedFlushLSN(sql) >= heartbeat }

        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers,
                                         topics: ["__debezium-heartbeat.app", "app.message"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        // Everything up to the confirmed heartbeat was acknowledged: it is all in Kafka.
        let records = try consumer.readToEnd(timeoutMilliseconds: 30_000)
        #expect(try scenario.running.stop().get() == ())
        let beats = records.filter { $0.topic == "__debezium-heartbeat.app" }
        #expect(!beats.isEmpty)
        for beat in beats {
            #expect(String(decoding: beat.key ?? [], as: UTF8.self) == #"{"serverName":"app"}"#)
            let value = try #require(try jsonObject(beat.value))
            #expect(value.keys.sorted() == ["ts_ms"])
            #expect((value["ts_ms"] as? Int ?? 0) > 1_700_000_000_000)
        }
        let messages = try records.filter { $0.topic == "app.message" }.map { try jsonObject($0.value) }
        #expect(messages.compactMap { ($0?["message"] as? [String: Any])?["prefix"] as? String } == ["app.audit"])
    }

    @Test func theActionQueryRunsWithEachHeartbeatAndRecordsCanBeTurnedOff() throws {
        let scenario = try Scenario(
            "beataction", schema: "CREATE TABLE beats (id serial PRIMARY KEY, at timestamptz DEFAULT now())",
            tables: ["public.beats"], heartbeat: #"{interval_ms: 200, action_query: "INSERT INTO beats DEFAULT VALUES", emit_record: false}"#)
        defer { scenario.cleanUp() }
        try scenario.cluster.createTopic("__debezium-heartbeat.app", partitions: 1)
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers,
                                         topics: ["app.public.beats", "__debezium-heartbeat.app"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 3, timeoutMilliseconds: 30_000)
        let heartbeat = try #require(scenario.running.pipeline.lastHeartbeatPosition)
        try waitUntil("the slot to be confirmed past a heartbeat") { try confirmedFlushLSN(scenario.sql) >= heartbeat }
        #expect(try scenario.running.stop().get() == ())
        #expect(records.allSatisfy { $0.topic == "app.public.beats" })
        #expect(try records.allSatisfy { try jsonObject($0.value)?["op"] as? String == "c" })
    }

    @Test func aFailingHeartbeatIsAWarningAndStreamingGoesOn() throws {
        let scenario = try Scenario(
            "beatfail", schema: "CREATE TABLE t (id int PRIMARY KEY)", tables: ["public.t"],
            heartbeat: #"{interval_ms: 100, action_query: "UPDATE no_such_table SET x = 1"}"#)
        defer { scenario.cleanUp() }
        // Several failed heartbeats: the action query (failing, its table does not exist) has run at three
        // moments, as its session's query_start in pg_stat_activity shows.
        var attempts = Set<String>()
        try waitUntil("three failed heartbeats") {
            let sessions = try scenario.sql.execute("""
                SELECT query_start::text AS started FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid() AND query = 'UPDATE no_such_table SET x = 1'
                """)
            attempts.formUnion(sessions.rows.compactMap { $0[0] })
            return attempts.count >= 3
        }
        try scenario.sql.execute("INSERT INTO t VALUES (1)")
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers,
                                         topics: ["app.public.t"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 1, timeoutMilliseconds: 30_000)
        #expect(records.count == 1)
        #expect(!scenario.running.hasEnded)
        // The action query runs first: no heartbeat was written while it fails.
        #expect(scenario.running.pipeline.lastHeartbeatPosition == nil)
        #expect(try scenario.running.stop().get() == ())
    }

    // MARK: Stall warning

    @Test func aConfirmedPositionHeldBackByAnUnreachableBrokerIsReportedAsStalledUntilItMovesAgain() throws {
        let metrics = TestMetrics()
        let scenario = try Scenario("stall", schema: "CREATE TABLE t (id int PRIMARY KEY)", tables: ["public.t"],
                                    heartbeat: "{stall_warning_s: 1}", metricsFactory: metrics)
        defer { scenario.cleanUp() }
        let dimensions = [("slot", scenario.database)]
        try scenario.sql.execute("INSERT INTO t VALUES (1)")
        try waitUntilEverythingIsConfirmed(scenario.sql)
        try waitUntil("the gauge to say the position moves") {
            try metrics.expectGauge("swallow_confirmed_position_stalled", dimensions).lastValue == 0
        }

        try scenario.cluster.setBrokerDown(1)
        try scenario.sql.execute("INSERT INTO t VALUES (2)")
        try waitUntil("the stall to be reported") {
            try metrics.expectGauge("swallow_confirmed_position_stalled", dimensions).lastValue == 1
        }

        try scenario.cluster.setBrokerUp(1)
        try waitUntil("the stall to end") {
            try metrics.expectGauge("swallow_confirmed_position_stalled", dimensions).lastValue == 0
        }
        #expect(!scenario.running.hasEnded)
        #expect(try scenario.running.stop().get() == ())
    }

    // MARK: A lost publication

    @Test func aPublicationDroppedWhileStreamingStopsTheServiceNamingItAndTheFix() throws {
        let scenario = try Scenario("pubdrop", schema: "CREATE TABLE t (id int PRIMARY KEY)", tables: ["public.t"],
                                    heartbeat: "{}")
        defer { scenario.cleanUp() }
        try scenario.sql.execute("DROP PUBLICATION swallow")
        try scenario.sql.execute("INSERT INTO t VALUES (1)")
        try waitUntil("the pipeline to give up") { scenario.running.hasEnded }
        guard try expectNonRetriableStop(scenario.running, code: .publicationLost,
                                         mentioning: [#"publication "swallow""#, "CREATE PUBLICATION swallow"],
                                         otherwise: "the pipeline kept running without its publication") != nil else { return }
        #expect(try scenario.sql.execute("SELECT 1 FROM pg_publication WHERE pubname = 'swallow'").rows.isEmpty)
    }

    @Test func aPublicationMissingAtAReconnectIsNotRecreated() throws {
        // publication.create is true (the test configuration's), yet a reconnect must not re-create it.
        let scenario = try Scenario("pubreconnect", schema: "CREATE TABLE t (id int PRIMARY KEY)", tables: ["public.t"],
                                    heartbeat: "{}")
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        // Dropped while the walsender is gone, with nothing to decode: found when Swallow reconnects.
        try sql.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = current_database()")
        try sql.execute("DROP PUBLICATION swallow")
        try waitUntil("the pipeline to give up") { scenario.running.hasEnded }
        guard try expectNonRetriableStop(scenario.running, code: .publicationLost, mentioning: [],
                                         otherwise: "the pipeline kept running without its publication") != nil else { return }
        #expect(try sql.execute("SELECT 1 FROM pg_publication WHERE pubname = 'swallow'").rows.isEmpty)
    }

    // MARK: A lost slot

    @Test func aSlotDroppedWhileStreamingIsSnapshottedAgainWhenNeeded() throws {
        let scenario = try Scenario("dropneeded", schema: "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)",
                                    tables: ["public.t"], snapshot: "{mode: when_needed}", heartbeat: "{}")
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        try sql.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = current_database()")
        try waitUntil("the slot to be dropped") {
            (try? sql.execute("SELECT pg_drop_replication_slot(current_database())")) != nil
        }
        // A change made while no slot exists is lost to the stream; the new snapshot has it.
        try sql.execute("INSERT INTO t VALUES (3)")
        try waitUntil("the slot to be streaming again") { try isStreaming(sql) }
        try sql.execute("INSERT INTO t VALUES (4)")
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers,
                                         topics: ["app.public.t"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 6, timeoutMilliseconds: 30_000)
        #expect(!scenario.running.hasEnded)
        #expect(try scenario.running.stop().get() == ())
        let events = try records.map { record in
            let value = try jsonObject(record.value)
            return (op: value?["op"] as? String ?? "", id: (value?["after"] as? [String: Any])?["id"] as? Int ?? 0)
        }
        #expect(Set(events.filter { $0.op == "r" }.map(\.id)) == [1, 2, 3])   // snapshotted twice: 1, 2 and again with 3
        #expect(events.filter { $0.op == "r" }.count == 5)
        #expect(events.filter { $0.op == "c" }.map(\.id) == [4])
    }

    @Test func anInvalidatedSlotStopsTheServiceOrIsSnapshottedAgainWhenNeeded() throws {
        // A cluster of its own: max_slot_wal_keep_size is cluster-wide and would invalidate other tests' slots.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-lost-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let start = try runToCompletion(repositoryRoot.appendingPathComponent("scripts/pg-cluster.sh").path, [
            "start", directory, "max_slot_wal_keep_size=1MB", "max_wal_size=32MB", "min_wal_size=32MB"])
        defer {
            _ = try? runScript("scripts/pg-cluster.sh", ["stop", directory])
            try? FileManager.default.removeItem(atPath: directory)
        }
        guard start.status == 0, let port = Int(start.text.split(separator: "\n").last ?? "") else {
            throw TestFailure("pg-cluster.sh failed: \(start.text)")
        }
        let admin = try PostgresConnection(ConnectionParameters(host: "127.0.0.1", port: port, database: "postgres",
                                                                user: "postgres", password: nil, sslMode: "disable"),
                                           replication: false)
        defer { admin.close() }
        let database = "lost_\(UInt32.random(in: 0...UInt32.max))"
        try admin.execute("CREATE DATABASE \(database)")
        let sql = try PostgresConnection(ConnectionParameters(host: "127.0.0.1", port: port, database: database,
                                                              user: "postgres", password: nil, sslMode: "disable"),
                                         replication: false)
        defer { sql.close() }
        try sql.execute("CREATE TABLE t (id int PRIMARY KEY, pad text); INSERT INTO t VALUES (1, 'a')")
        let cluster = try MockKafkaCluster(brokers: 1)
        func configuration(snapshotMode: String) throws -> SwallowConfiguration {
            var configuration = try SwallowConfiguration.parse(
                yaml: testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers,
                                            tables: ["public.t"], snapshot: "{mode: \(snapshotMode)}"),
                environment: [:])
            configuration.postgres.port = port
            return configuration
        }

        // Swallow streams, then stops; the slot waits, inactive, while WAL is written past its limit.
        var running = RunningPipeline(configuration: try configuration(snapshotMode: "initial"), bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }
        #expect(try running.stop().get() == ())
        try sql.execute("INSERT INTO t VALUES (2, 'b')")
        try waitUntil(timeoutSeconds: 120, "the slot to be invalidated") {
            try sql.execute("INSERT INTO t (id, pad) SELECT g, repeat('x', 200) FROM generate_series(1000, 20000) g ON CONFLICT (id) DO UPDATE SET pad = excluded.pad")
            try sql.execute("SELECT pg_switch_wal()")
            try sql.execute("CHECKPOINT")
            return try sql.execute("SELECT wal_status FROM pg_replication_slots WHERE slot_name = current_database()")[0, "wal_status"] == "lost"
        }
        try sql.execute("DELETE FROM t WHERE id >= 1000")

        // snapshot.mode initial: a clear error, and the slot is left as it is.
        running = RunningPipeline(configuration: try configuration(snapshotMode: "initial"), bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the pipeline to give up") { running.hasEnded }
        guard case .failure(let error) = try running.stop() else {
            Issue.record("the pipeline streamed from an invalidated slot")
            return
        }
        #expect(!error.isRetriable)
        #expect(error.message.contains("invalidated"))
        #expect(error.message.contains("when_needed"))
        #expect(try sql.execute("SELECT wal_status FROM pg_replication_slots WHERE slot_name = current_database()")[0, "wal_status"] == "lost")

        // snapshot.mode when_needed: a new slot and a new snapshot, then streaming.
        running = RunningPipeline(configuration: try configuration(snapshotMode: "when_needed"), bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the new slot to be streaming") { try isStreaming(sql) }
        try sql.execute("INSERT INTO t VALUES (3, 'c')")
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.t"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        // The first run's snapshot (1), the second snapshot (1, 2) and the insert (3).
        let records = try consumer.read(atLeast: 4, timeoutMilliseconds: 30_000)
        #expect(try running.stop().get() == ())
        let events = try records.map { record in
            let value = try jsonObject(record.value)
            return (op: value?["op"] as? String ?? "", id: (value?["after"] as? [String: Any])?["id"] as? Int ?? 0)
        }
        #expect(events.filter { $0.op == "r" && $0.id == 2 }.count == 1, "the second snapshot has the row the lost WAL held")
        #expect(events.contains { $0.op == "c" && $0.id == 3 })
        #expect(try sql.execute("SELECT wal_status FROM pg_replication_slots WHERE slot_name = current_database()")[0, "wal_status"] != "lost")
    }
}
