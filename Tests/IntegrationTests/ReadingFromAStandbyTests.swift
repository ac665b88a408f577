import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import Testing
@testable import Pipeline

/// Swallow reading from a physical standby (PostgreSQL 16+) of the matrix version, with the writes it
/// needs (heartbeats, incremental snapshot watermarks, `swallow snapshot`'s signal) going to
/// `postgres.primary`. On 15 a standby stops Swallow naming the version.
@Suite(.integrationTest) struct ReadingFromAStandbyTests {
    /// A primary with `items` (and the signal table) in a new database, published, and a standby that
    /// has replayed them. Stop both when done.
    private func primaryAndStandby(_ name: String, rows: Int) throws -> (primary: PrivatePostgres, standby: PrivatePostgres, database: String) {
        let primary = try PrivatePostgres("\(name)-primary")
        let standby: PrivatePostgres
        do {
            standby = try PrivatePostgres("\(name)-standby", standbyOf: primary, settings: ["hot_standby_feedback=on"])
        } catch {
            primary.stop()
            throw error
        }
        let database = "\(name)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PostgresConnection(primary.parameters(database: "postgres"), replication: false)
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(database)")
        let sql = try PostgresConnection(primary.parameters(database: database), replication: false)
        defer { sql.close() }
        try sql.execute("""
            \(IncrementalSnapshotTests.signalDDL);
            CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text);
            INSERT INTO items SELECT g, 0, md5(g::text) FROM generate_series(1, \(rows)) g;
            CREATE PUBLICATION swallow FOR TABLE items, swallow_signal;
            """)
        try waitUntil(timeoutSeconds: 60, "the standby to replay the new database") {
            guard let copy = try? PostgresConnection(standby.parameters(database: database), replication: false) else { return false }
            defer { copy.close() }
            // Until the standby replays it the table is missing.
            return (try? copy.execute("SELECT count(*) AS n FROM items"))?[0, "n"] == "\(rows)"
        }
        return (primary, standby, database)
    }

    /// The test configuration against the standby, with `postgres` entries added (e.g. `primary`).
    private func yaml(database: String, standby: PrivatePostgres, bootstrapServers: String, postgres: String,
                      snapshot: String, heartbeat: String) -> String {
        testConfigurationYAML(database: database, bootstrapServers: bootstrapServers, tables: ["public.items"],
                              snapshot: snapshot, postgresPort: standby.port)
            .replacingOccurrences(of: "sslmode: disable}", with: "sslmode: disable\(postgres)}")
            + "\nheartbeat: \(heartbeat)\n"
    }

    private func versionNumber() throws -> Int {
        let matrix = try TestPostgres.shared.connect("postgres")
        defer { matrix.close() }
        return try #require(Int(try matrix.execute("SHOW server_version_num")[0, "server_version_num"] ?? ""))
    }

    @Test func snapshotsAndStreamsFromAStandbyWritingToThePrimary() throws {
        let version = try versionNumber()
        let rows = 3_000
        let (primary, standby, database) = try primaryAndStandby("sbread", rows: rows)
        defer { standby.stop(); primary.stop() }
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.items", partitions: 4)
        let snapshot = "{mode: initial, signal_table: public.swallow_signal, incremental_chunk_rows: 500}"
        let text = yaml(database: database, standby: standby, bootstrapServers: cluster.bootstrapServers,
                        postgres: ", primary: {host: 127.0.0.1, port: \(primary.port)}", snapshot: snapshot,
                        heartbeat: "{interval_ms: 200}")
        let configuration = try SwallowConfiguration.parse(yaml: text, environment: [:])
        defer { try? FileManager.default.removeItem(atPath: configuration.stateDirectory) }
        var running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)

        guard version >= 160000 else {
            try waitUntil(timeoutSeconds: 60, "Swallow to stop on a standby before PostgreSQL 16") { running.hasEnded }
            guard case .failure(let error) = try running.stop() else {
                Issue.record("a standby of PostgreSQL \(version) did not stop Swallow")
                return
            }
            #expect(error.code == .standbySource)
            #expect(error.message.contains("logical decoding on a standby needs PostgreSQL 16 or later"), "\(error)")
            #expect(error.message.contains("fix: point postgres.host at the primary"), "\(error)")
            return
        }

        let onStandby = try PostgresConnection(standby.parameters(database: database), replication: false)
        defer { onStandby.close() }
        let onPrimary = try PostgresConnection(primary.parameters(database: database), replication: false)
        defer { onPrimary.close() }
        // The slot is created on the standby (the primary's pg_log_standby_snapshot() lets that finish),
        // and the initial snapshot read there.
        try waitUntil(timeoutSeconds: 120, "the stream from the standby to start") { try isStreaming(onStandby) }
        #expect(try onPrimary.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = '\(database)'").rows.isEmpty,
                "the slot is the standby's, not the primary's")
        #expect(try onStandby.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = '\(database)'").rows.count == 1)

        let writer = ConcurrentWriter(database: database, maxID: rows, parameters: primary.parameters(database: database))
        writer.start()
        defer { writer.stop() }
        try waitUntil(timeoutSeconds: 60, "the writer to commit") { writer.committed > 20 }
        // Heartbeats are written on the primary.
        try waitUntil(timeoutSeconds: 60, "a heartbeat") { running.pipeline.lastHeartbeatPosition != nil }

        // An incremental snapshot, asked for as an operator would: the signal and the watermarks are
        // written on the primary and come back through the standby's stream.
        let configPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database).yaml").path
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        let output = try runSwallow(["snapshot", "--config", configPath, "--tables", "items"])
        #expect(output.status == 0, "swallow snapshot: \(output.text)")
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.items"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        var records: [KafkaRecord] = []
        try waitUntil(timeoutSeconds: 120, "the incremental snapshot to finish") {
            records += try consumer.read(atLeast: 1_000_000, timeoutMilliseconds: 200)
            let incremental = try records.filter { try TopicEvent($0).snapshot == "incremental" }.count
            return incremental >= rows - writer.touched.count
        }

        // Stopped and started again, it continues from the standby's slot.
        #expect(try running.stop().get() == ())
        running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 120, "the stream from the standby to start again") { try isStreaming(onStandby) }
        try waitUntil(timeoutSeconds: 60, "more writes") { writer.committed > 200 }
        writer.stop()
        try writer.check()
        let stateFile = StateFile<IncrementalSnapshotState>(directory: configuration.stateDirectory,
                                                            fileName: "incremental-\(database).json")
        try waitUntil(timeoutSeconds: 120, "the incremental snapshot to finish") { try stateFile.load()?.queue.isEmpty == true }
        let target = try walInsertLSN(onPrimary)
        try waitUntil(timeoutSeconds: 120, "the standby's slot to confirm \(target)") { try confirmedFlushLSN(onStandby) >= target }
        #expect(try running.stop().get() == ())
        records += try consumer.readToEnd(timeoutMilliseconds: 5_000)

        let events = try records.map(TopicEvent.init)
        try expectReplayEqualsTable(events, onPrimary)
        // The initial snapshot was read on the standby, where no transaction id is assigned.
        let initial = try records.compactMap { record -> [String: Any]? in
            guard let value = try jsonObject(record.value), let source = value["source"] as? [String: Any],
                  value["op"] as? String == "r", source["snapshot"] as? String != "incremental" else { return nil }
            return source
        }
        #expect(initial.count == rows)
        #expect(initial.allSatisfy { $0["txId"] is NSNull })
        // Spent watermarks were deleted on the primary.
        #expect(try onPrimary.execute("SELECT count(*) AS n FROM swallow_signal WHERE type LIKE 'snapshot-window-%'")[0, "n"] == "0")
    }

    @Test func aHeartbeatActionQueryAgainstAStandbyWithoutAPrimaryStopsNamingIt() throws {
        let version = try versionNumber()
        let (primary, standby, database) = try primaryAndStandby("sbbeat", rows: 10)
        defer { standby.stop(); primary.stop() }
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.items", partitions: 1)
        let text = yaml(database: database, standby: standby, bootstrapServers: cluster.bootstrapServers, postgres: "",
                        snapshot: "{mode: no_data}",
                        heartbeat: "{interval_ms: 1000, action_query: \"UPDATE items SET v = v WHERE id = 1\"}")
        let configuration = try SwallowConfiguration.parse(yaml: text, environment: [:])
        defer { try? FileManager.default.removeItem(atPath: configuration.stateDirectory) }
        let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "Swallow to stop") { running.hasEnded }
        guard case .failure(let error) = try running.stop() else {
            Issue.record("Swallow ran against a standby with heartbeat.action_query and no postgres.primary")
            return
        }
        #expect(error.code == .standbySource)
        #expect(!error.isRetriable)
        let onStandby = try PostgresConnection(standby.parameters(database: database), replication: false)
        defer { onStandby.close() }
        #expect(try onStandby.execute("SELECT 1 FROM pg_replication_slots").rows.isEmpty, "no slot was created")

        // `swallow check` names the same.
        let configPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database).yaml").path
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        let check = try runSwallow(["check", "--config", configPath])
        #expect(check.status == 1, "\(check.text)")
        let lines = outputLines(check)
        guard version >= 160000 else {
            #expect(error.message.contains("is a standby of PostgreSQL") && error.message.contains("needs PostgreSQL 16 or later"), "\(error)")
            #expect(lines.contains { $0.hasPrefix("FAIL postgres: ") && $0.contains("logical decoding on a standby needs PostgreSQL 16 or later") },
                    "\(check.text)")
            return
        }
        #expect(error.message.contains("heartbeat.action_query: heartbeat.action_query and the heartbeat message (pg_logical_emit_message) write, which a standby refuses; fix: set postgres.primary"),
                "\(error)")
        #expect(lines.contains("FAIL heartbeat.action_query: heartbeat.action_query and the heartbeat message (pg_logical_emit_message) write, which a standby refuses. Fix: set postgres.primary (heartbeats are then written there and reach the standby's slot through replication), or heartbeat.interval_ms: 0"),
                "\(check.text)")
        #expect(lines.contains { $0.hasPrefix("ok   postgres: connected to ") && $0.hasSuffix("a standby: Swallow decodes there") }, "\(check.text)")

        // A publication that does not exist: a standby cannot create it, so Swallow says to create it on
        // the primary (publication.create notwithstanding), at start-up and in `swallow check`.
        let unpublished = yaml(database: database, standby: standby, bootstrapServers: cluster.bootstrapServers,
                               postgres: "", snapshot: "{mode: no_data}", heartbeat: "{}")
            .replacingOccurrences(of: "publication: {name: swallow, create: true}", with: "publication: {name: elsewhere, create: true}")
        let withoutPublication = try SwallowConfiguration.parse(yaml: unpublished, environment: [:])
        let refused = RunningPipeline(configuration: withoutPublication, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "Swallow to stop without the publication") { refused.hasEnded }
        guard case .failure(let missing) = try refused.stop() else {
            Issue.record("Swallow ran against a standby without its publication")
            return
        }
        #expect(missing.message.contains("publicationMissing: publication elsewhere does not exist, and a standby cannot create it (it is read-only)"), "\(missing)")
        #expect(missing.message.contains("CREATE PUBLICATION elsewhere FOR TABLE public.items on the primary; the standby receives it through replication"), "\(missing)")
        try unpublished.write(toFile: configPath, atomically: true, encoding: .utf8)
        let unpublishedCheck = try runSwallow(["check", "--config", configPath])
        #expect(outputLines(unpublishedCheck).contains("FAIL publication: elsewhere does not exist, and a standby cannot create it (it is read-only). Fix: CREATE PUBLICATION elsewhere FOR TABLE public.items on the primary; the standby receives it through replication"),
                "\(unpublishedCheck.text)")
    }
}
