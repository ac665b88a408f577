import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import Synchronization
import Testing
@testable import Pipeline

/// Snapshots on demand while streaming: requested through the signal table (by `swallow snapshot`),
/// read in watermark windows, correct under concurrent writes and across a restart.
@Suite(.integrationTest) struct IncrementalSnapshotTests {
    static let signalDDL = "CREATE TABLE swallow_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"

    @Test(.longRunning) func onDemandSnapshotUnderConcurrentWritesAndARestartReplaysExactly() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("incsnap")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        let rows = 60_000
        try sql.execute("""
            \(Self.signalDDL);
            CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text);
            INSERT INTO items SELECT g, 0, md5(g::text) FROM generate_series(1, \(rows)) g;
            CREATE TABLE other (id int PRIMARY KEY);
            INSERT INTO other VALUES (1), (2);
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        // The mock broker keeps only the last 5 MiB of a partition: spread the records (order is per key,
        // hence per partition, which is all the replay needs).
        try cluster.createTopic("app.public.items", partitions: 16)
        // no_data: the rows already there reach Kafka only through the on-demand snapshot.
        let snapshot = "{mode: no_data, signal_table: public.swallow_signal, incremental_chunk_rows: 500}"
        let configuration = try testConfiguration(database: database, bootstrapServers: cluster.bootstrapServers,
                                                  tables: ["public.items", "public.other"], snapshot: snapshot)
        let stateDirectory = configuration.stateDirectory
        defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
        var running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }

        let writer = ConcurrentWriter(database: database, maxID: rows)
        writer.start()
        defer { writer.stop() }
        try waitUntil("the writer to commit") { writer.committed > 20 }

        // Through the real command, as an operator would.
        let configPath = try writeConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                                    tables: ["public.items", "public.other"], snapshot: snapshot)
        let output = try runSwallow(["snapshot", "--config", configPath, "--tables", "items"])
        #expect(output.status == 0, "swallow snapshot: \(output.text)")
        #expect(output.text.contains("execute-snapshot"))

        // Stop in the middle of the snapshot and start again: it continues from its last delivered chunk.
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.items"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        var records: [KafkaRecord] = []
        try waitUntil(timeoutSeconds: 60, "part of the snapshot to arrive") {
            records += try consumer.read(atLeast: 1_000_000, timeoutMilliseconds: 200)
            // Early, so that the stop surely lands before the last chunk.
            return try records.filter { try TopicEvent($0).op == "r" }.count >= 2_000
        }
        #expect(try running.stop().get() == ())
        let stateFile = StateFile<IncrementalSnapshotState>(directory: stateDirectory,
                                                            fileName: "incremental-\(database).json")
        let saved = try #require(try stateFile.load(), "progress is saved once confirmed")
        #expect(saved.queue.first?.name == "public.items", "stopped mid-table: \(saved)")
        running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 120, "the incremental snapshot to finish") {
            try stateFile.load()?.queue.isEmpty == true
        }
        writer.stop()
        try writer.check()
        try waitUntilEverythingIsConfirmed(sql)
        #expect(try running.stop().get() == ())
        records += try consumer.readToEnd(timeoutMilliseconds: 5_000)

        // Snapshot records are marked incremental and carry no position; replaying everything in order
        // gives the table, exactly.
        var snapshotRecords = 0
        for record in records {
            guard let value = try jsonObject(record.value), value["op"] as? String == "r" else { continue }
            let source = try #require(value["source"] as? [String: Any])
            snapshotRecords += 1
            #expect(source["snapshot"] as? String == "incremental")
            #expect(source["lsn"] is NSNull && source["txId"] is NSNull)
            #expect(value["before"] is NSNull)
        }
        try expectReplayEqualsTable(try records.map(TopicEvent.init), sql)
        #expect(snapshotRecords >= rows - writer.touched.count, "every untouched row came from the snapshot")
        #expect(writer.committed > 50)
        // Signals and watermarks are never events, and spent watermarks are deleted; the table not asked
        // for was not snapshotted.
        #expect(try sql.execute("SELECT count(*) AS n FROM swallow_signal WHERE type LIKE 'snapshot-window-%'")[0, "n"] == "0")
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        let existingTopics = Set(try admin.metadata(timeoutMilliseconds: 10_000).topics.map(\.name))
        // A topic that was never created had nothing produced to it (the mock creates topics on produce).
        for topic in ["app.public.swallow_signal", "app.public.other"] where existingTopics.contains(topic) {
            let other = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic],
                                          waitForTopicsMilliseconds: 10_000)
            defer { other.close() }
            #expect(try other.readToEnd(timeoutMilliseconds: 2_000).isEmpty, "\(topic) has records")
        }
    }

    @Test func theSnapshotCommandNeedsASignalTable() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("incnosignal")
        let configPath = try writeConfigurationFile(database: database, bootstrapServers: "127.0.0.1:1", tables: ["public.t"])
        let output = try runSwallow(["snapshot", "--config", configPath, "--tables", "t"])
        #expect(output.status == 2)
        #expect(output.text.contains("snapshot.signal_table is not set"))
    }

    @Test func aMissingSignalTableStopsTheServiceWithTheDDLToCreateIt() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("incmissing")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE t (id int PRIMARY KEY)")
        let configuration = try testConfiguration(database: database, bootstrapServers: "127.0.0.1:1", tables: ["public.t"],
                                                  snapshot: "{signal_table: public.swallow_signal}")
        let pipeline = ReplicationPipeline(settings: PipelineSettings(configuration: configuration, bootstrapServers: "127.0.0.1:1",
                                                                      connectorVersion: "test"),
                                           logger: .init(label: "test"))
        let error = #expect(throws: PipelineError.self) { try pipeline.run() }
        #expect(error?.message.contains("CREATE TABLE public.swallow_signal") == true)
    }

}

/// Random inserts, updates and deletes on `items` in small transactions until stopped.
final class ConcurrentWriter: Sendable {
    let database: String
    let maxID: Int
    private let state = Mutex<(committed: Int, touched: Set<Int>, stop: Bool, failure: String?)>((0, [], false, nil))
    private let done = DispatchSemaphore(value: 0)

    /// Where it writes: the shared test cluster's database unless given.
    let parameters: ConnectionParameters

    init(database: String, maxID: Int, parameters: ConnectionParameters? = nil) {
        self.database = database
        self.maxID = maxID
        self.parameters = parameters ?? TestPostgres.shared.parameters(database: database)
    }

    var committed: Int { state.withLock { $0.committed } }
    var touched: Set<Int> { state.withLock { $0.touched } }

    func start() {
        Thread { [self] in
            defer { done.signal() }
            do {
                let sql = try PostgresConnection(parameters, replication: false)
                defer { sql.close() }
                var nextID = maxID + 1
                while !state.withLock({ $0.stop }) {
                    var statements = ["BEGIN"]
                    var ids: [Int] = []
                    for _ in 0..<Int.random(in: 1...4) {
                        let id = Int.random(in: 1...maxID)
                        ids.append(id)
                        switch Int.random(in: 0..<10) {
                        case 0..<5: statements.append("UPDATE items SET v = v + 1, note = md5(random()::text) WHERE id = \(id)")
                        case 5..<7: statements.append("DELETE FROM items WHERE id = \(id)")
                        case 7..<9:
                            statements.append("INSERT INTO items VALUES (\(nextID), 1, 'new')")
                            ids.append(nextID)
                            nextID += 1
                        default:
                            statements.append("INSERT INTO items VALUES (\(id), 7, 'again') ON CONFLICT (id) DO UPDATE SET v = items.v + 100")
                        }
                    }
                    statements.append("COMMIT")
                    try sql.execute(statements.joined(separator: ";\n"))
                    state.withLock {
                        $0.committed += 1
                        $0.touched.formUnion(ids)
                    }
                    usleep(2_000)
                }
            } catch {
                state.withLock { $0.failure = "\(error)" }
            }
        }.start()
    }

    func stop() {
        let wasRunning = state.withLock { state -> Bool in
            defer { state.stop = true }
            return !state.stop
        }
        if wasRunning { done.wait() }
    }

    func check() throws {
        if let failure = state.withLock({ $0.failure }) { throw TestFailure("writer failed: \(failure)") }
    }
}
