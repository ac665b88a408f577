import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import Synchronization
import Testing

/// The durability suite's snapshot faults (also `scripts/chaos.sh`, after `ChaosTests`): Swallow killed
/// with -9 while it snapshots, in the report format of `ChaosTests` and with its analysis (`ChaosAnalysis`).
///
/// One run per delivery mode, on a PostgreSQL cluster and a mock Kafka cluster of its own:
/// 1. **kill -9 during initial snapshot.** The workload's tables are filled, Swallow starts with
///    `snapshot.mode: initial` (and a signal table), and the workload commits inserts, updates and deletes
///    as soon as the snapshot's first records are in the topics. When 30–60 % of the snapshot's records
///    are in the topics (the partitions' high watermarks), Swallow is killed with -9; the supervisor
///    restarts it (which takes the snapshot again, keeping the slot), and in the next round it is killed
///    again, during that snapshot. At least two rounds: the first kill hits the snapshot exported with
///    the new slot, the second the one taken again on an existing slot.
/// 2. **kill -9 during incremental snapshot.** While Swallow streams, an `execute-snapshot` signal for
///    the three tables is written to the signal table; when 30–60 % of the tables' rows have arrived
///    since, Swallow is killed with -9, restarted, and the snapshot is left to finish while the workload
///    goes on. One round per `SWALLOW_CHAOS_ROUNDS`, each a new snapshot request.
///
/// At the end every partition is read from the beginning. In the report (see `ChaosTests` for the columns;
/// a round of the initial snapshot's fault starts at its kill, one of the incremental snapshot's at its
/// request, and records before the first kill are the `warm-up`):
/// - **lost**: a committed change (audit slot, created before Swallow's; the workload starts once the
///   snapshot's first records are in: every audited change comes after the snapshot point) without its
///   event, or a row of the tables whose final state replaying the topics (r/c/u/d per key, in
///   partition order) does not give.
/// - **duplicates**: a stream event seen twice (transaction id and `source.lsn`), or a snapshot record
///   whose table and key the same snapshot already delivered (the initial snapshot, retakes included;
///   each incremental snapshot request) — see `ChaosAnalysis`.
/// - **recovery time**: from the restart (the supervisor starting the new process) until both the slot
///   confirmed the WAL insert position taken at that moment *and* the snapshot finished (the initial
///   snapshot's state file says `completed`; the incremental snapshot's has handled the request and has
///   no table left). A round followed by another kill before it recovered (the initial snapshot's first
///   rounds) has none.
///
/// No confirmed-position sampler here (`ChaosTests` runs one through every fault): the watermark polls
/// that time the kills are the only load besides the workload.
@Suite(.integrationTest) struct SnapshotChaosTests {
    enum Fault: String, CaseIterable {
        case killDuringInitialSnapshot = "kill -9 during initial snapshot"
        case killDuringIncrementalSnapshot = "kill -9 during incremental snapshot"
    }

    static let topics = ChaosWorkload.tables.map { "app.\($0)" }
    /// The mock keeps the last 5 MiB of a partition: every row goes out in the initial snapshot, again in
    /// each retake and each incremental snapshot, so the records are spread wide.
    static let partitionsPerTopic: Int32 = 16
    static let brokers: Int32 = 3
    /// Orders already there, with two lines each, and the ten counters.
    static let prefilledOrders = 6_000
    static let snapshotRows = Int64(prefilledOrders * 3 + 10)
    /// 1,000 rows a chunk (the least allowed): 19 chunks, read two at a time. Incremental chunks of 250.
    static let snapshotSettings = "{mode: initial, chunk_rows: 1000, max_threads: 2, signal_table: public.swallow_signal, incremental_chunk_rows: 250}"
    /// Unhindered, Swallow delivers the initial snapshot in about a second, too fast for a kill timed by
    /// watermark polls. While the initial snapshot's kills are aimed, every broker answers after this
    /// long, and the producer sends one request at a time per broker (librdkafka's Produce requests carry
    /// one partition's batch) of at most `batchMessages` records: a few thousand records a second.
    static let slowRoundTripMilliseconds: Int32 = 50
    static let batchMessages = 50

    @Test(.longRunning) func atLeastOnceLosesNothingWhenKilledDuringSnapshots() throws {
        try snapshotFaultsLoseNothing(delivery: .atLeastOnce)
    }

    /// Fails until a snapshot interrupted by a crash resumes without sending again what it had delivered.
    @Test(.longRunning) func exactlyOnceLosesNothingAndRepeatsNothingWhenKilledDuringSnapshots() throws {
        try snapshotFaultsLoseNothing(delivery: .exactlyOnce)
    }

    private func snapshotFaultsLoseNothing(delivery: SwallowConfiguration.Delivery) throws {
        let roundsPerFault = Int(ProcessInfo.processInfo.environment["SWALLOW_CHAOS_ROUNDS"] ?? "") ?? 1
        #expect(roundsPerFault >= 1, "SWALLOW_CHAOS_ROUNDS must be a positive number")
        let initialRounds = max(2, roundsPerFault)
        let incrementalRounds = max(1, roundsPerFault)
        let label = "snapshot chaos (\(delivery.rawValue))"

        let postgres = try PrivatePostgres("snapchaos")
        defer { postgres.stop() }
        let database = "snapchaos_\(UInt32.random(in: 0...UInt32.max))"
        try ReconnectingConnection(postgres.parameters(database: "postgres")).attempt(timeoutSeconds: 10) {
            try $0.execute("CREATE DATABASE \(database)")
        }
        let parameters = postgres.parameters(database: database)
        let sql = ReconnectingConnection(parameters)
        defer { sql.close() }
        try sql.attempt {
            try $0.execute("""
                \(ChaosWorkload.schema)
                \(IncrementalSnapshotTests.signalDDL);
                ALTER PUBLICATION swallow ADD TABLE swallow_signal;
                INSERT INTO orders SELECT g, g % 500, 'pre', g % 1000, md5(g::text) FROM generate_series(1, \(Self.prefilledOrders)) g;
                INSERT INTO order_lines SELECT o, l, 'sku-' || (o % 97), l
                    FROM generate_series(1, \(Self.prefilledOrders)) o, generate_series(1, 2) l;
                INSERT INTO counters SELECT g, 0, md5(g::text) FROM generate_series(1, 10) g;
                ANALYZE orders, order_lines, counters;
                """)
        }

        let cluster = try MockKafkaCluster(brokers: Int(Self.brokers))
        for topic in Self.topics { try cluster.createTopic(topic, partitions: Self.partitionsPerTopic) }
        let partitions = Self.topics.flatMap { topic in
            (0..<Self.partitionsPerTopic).map { TopicPartition(topic: topic, partition: $0) }
        }
        // Two partitions a client: each watermark is at most a few round trips old.
        let watermarks = try WatermarkTotal(bootstrapServers: cluster.bootstrapServers, partitions: partitions,
                                            clients: partitions.count / 2)
        defer { watermarks.stop() }
        func setRoundTripTime(_ milliseconds: Int32) throws {
            for broker in 1...Self.brokers { try cluster.setBrokerRoundTripTime(broker, milliseconds: milliseconds) }
        }
        try setRoundTripTime(Self.slowRoundTripMilliseconds)

        let configPath = try writeConfigurationFile(
            database: database, bootstrapServers: cluster.bootstrapServers, tables: ChaosWorkload.tables,
            extraKafkaProperties: ["max.in.flight.requests.per.connection": "1", "batch.num.messages": "\(Self.batchMessages)"],
            snapshot: Self.snapshotSettings, postgresPort: postgres.port, delivery: delivery)
        let stateDirectory = testStateDirectory(database)
        defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
        let state = SnapshotStateFiles(directory: stateDirectory, slot: database)
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database).log").path
        let supervisor = SwallowSupervisor(configPath: configPath, logPath: logPath)
        try sql.attempt { try createAuditSlot($0) }
        let start = Date()
        supervisor.start()
        var supervisorStopped = false
        defer { if !supervisorStopped { _ = supervisor.stop() } }

        // The snapshot's first records are in the topics: Swallow's slot exists, and the workload's
        // changes follow its snapshot point. (The audit slot was created before: one created now would
        // wait for the end of the snapshot, whose exported snapshot counts as a transaction in progress.
        // Nothing commits between the two.)
        try waitUntil(timeoutSeconds: 60, "the initial snapshot's first records") { watermarks.total() > 0 }
        let workload = ChaosWorkload(parameters: parameters, bulkRows: 200, firstOrder: Int64(Self.prefilledOrders) + 1)
        workload.start()
        var workloadStopped = false
        defer { if !workloadStopped { workload.stop() } }

        var rounds: [ChaosRound] = []
        /// Kills Swallow and waits for the supervisor to start it again; returns when it was killed and
        /// when it was started again.
        func killAndAwaitRestart(_ what: String) throws -> (killedAt: Date, restartedAt: Date) {
            let startsBefore = supervisor.starts
            let killedAt = Date()
            #expect(supervisor.signal(SIGKILL) != nil, "no Swallow process to kill -9 (\(what))")
            try waitUntil(timeoutSeconds: 30, "Swallow to be restarted after \(what)") { supervisor.starts > startsBefore }
            return (killedAt, supervisor.startedAt.last ?? Date())
        }
        func waitForRecovery(_ what: String, since restartedAt: Date, snapshotFinished: () -> Bool) throws -> Double {
            let target = try sql.attempt { try walInsertLSN($0) }
            try waitUntil(timeoutSeconds: 120, "the snapshot to finish and the slot to confirm \(target) after \(what)") {
                snapshotFinished() && (sql.once { try confirmedFlushLSN($0) } ?? .invalid) >= target
            }
            return Date().timeIntervalSince(restartedAt)
        }

        // 1. kill -9 during initial snapshot, `initialRounds` times: each kill during the snapshot the
        // previous restart took (again).
        var baseline: Int64 = 0
        for round in 1...initialRounds {
            let fault = Fault.killDuringInitialSnapshot.rawValue
            // What this attempt has to send: all of it, or what a resumed snapshot has left (by chunks).
            try waitUntil(timeoutSeconds: 60, "the snapshot's records to flow (round \(round))") { watermarks.total() > baseline }
            let pending = state.initialPendingFraction() ?? 1
            let fraction = Double.random(in: 0.3...0.6)
            let aim = watermarks.total() + Int64(fraction * pending * Double(Self.snapshotRows))
            var reached: Int64 = 0
            try waitUntil(timeoutSeconds: 90, "\(Int(fraction * 100)) % of the snapshot's records (round \(round))") {
                reached = watermarks.total()
                return reached >= aim || state.initialFinished()
            }
            let (killedAt, restartedAt) = try killAndAwaitRestart("\(fault) (round \(round))")
            #expect(!state.initialFinished(),
                    "round \(round): the initial snapshot finished before the kill (\(reached - baseline) records in): make it larger")
            print("\(label): round \(round) \(fault): killed with \(reached - baseline) of \(Self.snapshotRows) rows' records in (aimed at \(Int(fraction * 100)) % of \(Int(pending * 100)) %)")
            baseline = watermarks.total()
            var recovery: Double?
            if round == initialRounds {
                // The last kill landed: the snapshot taken again, and the stream, go at full speed.
                try setRoundTripTime(0)
                recovery = try waitForRecovery("\(fault) (round \(round))", since: restartedAt) { state.initialFinished() }
                print("\(label): round \(round) \(fault): recovered in \(String(format: "%.1f", recovery!)) s")
            }
            rounds.append(ChaosRound(fault: fault, injectedAt: killedAt, healedAt: restartedAt, recoverySeconds: recovery))
        }

        // 2. kill -9 during incremental snapshot: a request, a kill while its records arrive, a restart.
        var requests: [Date] = []
        for round in 1...incrementalRounds {
            let fault = Fault.killDuringIncrementalSnapshot.rawValue
            try waitUntil(timeoutSeconds: 90, "Swallow to stream before \(fault) (round \(round))") {
                sql.once { try isStreaming($0) } ?? false
            }
            let completedBefore = workload.transactionsCompleted
            try waitUntil(timeoutSeconds: 60, "the workload to go on before \(fault) (round \(round))") {
                workload.transactionsCompleted >= completedBefore + 25
            }
            let before = watermarks.total()
            let signal = "chaos-\(round)-\(UInt32.random(in: 0...UInt32.max))"   // varchar(42)
            let tables = ChaosWorkload.tables.map { "\"\($0)\"" }.joined(separator: ", ")
            let requestedAt = Date()
            requests.append(requestedAt)
            try sql.attempt {
                try $0.execute("""
                    INSERT INTO swallow_signal VALUES ('\(signal)', 'execute-snapshot', '{"data-collections": [\(tables)], "type": "incremental"}')
                    """)
            }
            // The stream's events count too: the kill lands a little earlier in the snapshot.
            let fraction = Double.random(in: 0.3...0.6)
            let aim = before + Int64(fraction * Double(Self.snapshotRows))
            var reached: Int64 = 0
            try waitUntil(timeoutSeconds: 90, "\(Int(fraction * 100)) % of the incremental snapshot (round \(round))") {
                reached = watermarks.total()
                return reached >= aim || state.incrementalFinished(signal)
            }
            let (_, restartedAt) = try killAndAwaitRestart("\(fault) (round \(round))")
            #expect(!state.incrementalFinished(signal),
                    "round \(round): the incremental snapshot finished before the kill (\(reached - before) records in): make it larger")
            print("\(label): round \(round) \(fault): killed with \(reached - before) records in since the request (aimed at \(Int(fraction * 100)) % of \(Self.snapshotRows) rows)")
            let recovery = try waitForRecovery("\(fault) (round \(round))", since: restartedAt) { state.incrementalFinished(signal) }
            print("\(label): round \(round) \(fault): recovered in \(String(format: "%.1f", recovery)) s")
            // The round starts with the request: the snapshot's records before the kill count in it.
            rounds.append(ChaosRound(fault: fault, injectedAt: requestedAt, healedAt: restartedAt, recoverySeconds: recovery))
        }

        // Stop the workload, let Swallow drain, stop it and read what Kafka holds.
        workload.stop()
        workloadStopped = true
        let finalTarget = try sql.attempt { try walInsertLSN($0) }
        try waitUntil(timeoutSeconds: 120, "the slot to confirm the end of the workload (\(finalTarget))") {
            (sql.once { try confirmedFlushLSN($0) } ?? .invalid) >= finalTarget
        }
        let finalStatus = supervisor.stop()
        supervisorStopped = true
        #expect(finalStatus == 0, "Swallow did not exit cleanly on the final SIGTERM (\(finalStatus.map(String.init) ?? "not running"))")
        #expect(supervisor.startFailures.isEmpty, "the supervisor could not start Swallow: \(supervisor.startFailures.prefix(3))")

        let records = try readChaosTopics(bootstrapServers: cluster.bootstrapServers, topics: Self.topics,
                                          partitionsPerTopic: Self.partitionsPerTopic)
        print("\(label): read \(records.count) records")

        // The audit slot sees the signal table's rows too (requests, watermarks): not events.
        let captured = Set(ChaosWorkload.tables)
        let committed = try sql.attempt { try committedTransactions($0) }.compactMap { transaction -> CommittedTransaction? in
            var transaction = transaction
            transaction.changes.removeAll { !captured.contains($0.table) }
            transaction.rowChanges = transaction.changes.count
            return transaction.changes.isEmpty ? nil : transaction
        }
        let tables = try Dictionary(uniqueKeysWithValues: ChaosWorkload.tables.map { table in
            (table, try sql.attempt { try tableRows($0, table) })
        })
        let analysis = try ChaosAnalysis(records: records, committed: committed, tables: tables, samples: [],
                                         rounds: rounds, incrementalSnapshotRequests: requests,
                                         countUnreproducedRowsAsLost: true)

        let details = """
            delivery: \(delivery.rawValue) (snapshot faults)

            \(analysis.report(faults: Fault.allCases.map(\.rawValue)))
            snapshots: \(Self.snapshotRows) rows; \(analysis.snapshotRecords) snapshot records read, \(analysis.snapshotDuplicates) of them duplicates; \(analysis.unreproducedRows) rows not reproduced by the replay
            workload: \(workload.summary); \(committed.count) committed transactions with \(committed.reduce(0) { $0 + $1.rowChanges }) row changes
            Swallow: \(supervisor.starts) starts, exit statuses \(Dictionary(grouping: supervisor.exits.map(\.status), by: { $0 }).mapValues(\.count).sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", "))
            duration: \(String(format: "%.0f", Date().timeIntervalSince(start))) s
            """
        try publishChaosReport(details)

        analysis.expectNothingLostOrWrong(delivery: delivery)
        #expect(analysis.snapshotRecords - analysis.snapshotDuplicates >= Int(Self.snapshotRows), "fewer snapshot records (\(analysis.snapshotRecords - analysis.snapshotDuplicates) distinct) than rows snapshotted")
        #expect(committed.count > 100, "the workload committed too little (\(committed.count) transactions) for the suite to prove much")
        if !analysis.isClean || (delivery == .exactlyOnce && analysis.totalDuplicates > 0) {
            // The evidence: where every record sits and what it is, without row contents; and Swallow's log.
            let dumpPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database)-records.tsv").path
            let lines = records.map { record -> String in
                let value = try? jsonObject(record.value)
                let source = value?["source"] as? [String: Any]
                return "\(record.topic)\t\(record.partition)\t\(record.offset)\t\(record.timestamp ?? -1)\t\(String(decoding: record.key ?? [], as: UTF8.self))\t\(value?["op"] as? String ?? "tombstone")\t\(source?["snapshot"].map { "\($0)" } ?? "-")\t\(source?["txId"].map { "\($0)" } ?? "-")\t\(source?["lsn"].map { "\($0)" } ?? "-")"
            }
            try? (lines.joined(separator: "\n") + "\n").write(toFile: dumpPath, atomically: true, encoding: .utf8)
            print("\(label): records (positions, keys, ops; no values): \(dumpPath); Swallow's log: \(logPath)")
        }
    }
}

/// The sum of the high watermarks of many partitions, kept up to date by a thread per client, each
/// querying its partitions in turn (a query takes a round trip to the partition's leader).
final class WatermarkTotal: @unchecked Sendable {
    private let highs: Mutex<[TopicPartition: Int64]>
    private let failures = Atomic<Int>(0)
    private let stopRequested = Atomic<Bool>(false)
    private let running = DispatchGroup()

    init(bootstrapServers: String, partitions: [TopicPartition], clients: Int) throws {
        highs = Mutex(Dictionary(uniqueKeysWithValues: partitions.map { ($0, 0) }))
        let groups = try (0..<clients).map { client in
            (try KafkaAdmin(bootstrapServers: bootstrapServers),
             partitions.enumerated().filter { $0.offset % clients == client }.map(\.element))
        }
        for (admin, mine) in groups {
            running.enter()
            Thread { [self] in
                defer { admin.close(); running.leave() }
                while !stopRequested.load(ordering: .relaxed) {
                    for tp in mine {
                        if let high = try? admin.watermarks(topic: tp.topic, partition: tp.partition, timeoutMilliseconds: 5_000).high {
                            highs.withLock { $0[tp] = max($0[tp] ?? 0, high) }
                        } else {
                            failures.add(1, ordering: .relaxed)
                        }
                    }
                    usleep(10_000)
                }
            }.start()
        }
    }

    /// The sum of the latest watermarks (each at most a few round trips old).
    func total() -> Int64 { highs.withLock { $0.values.reduce(0, +) } }

    var failedQueries: Int { failures.load(ordering: .relaxed) }

    func stop() {
        stopRequested.store(true, ordering: .relaxed)
        running.wait()
    }
}

/// Swallow's snapshot state files (`<state_dir>/snapshot-<slot>.json`, `incremental-<slot>.json`), read
/// as JSON: where the snapshots stand.
struct SnapshotStateFiles {
    let directory: String
    let slot: String

    private func object(_ name: String) -> [String: Any]? {
        let path = (directory as NSString).appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// The initial snapshot's status: `running`, `completed`, or nil before the file exists.
    func initialStatus() -> String? { object("snapshot-\(slot).json")?["status"] as? String }

    /// Whether the initial snapshot read every chunk: its state file says `completed`, and no chunk of it
    /// waits in the incremental snapshot's queue (with `exactly_once` an interrupted initial snapshot
    /// continues there: its units are `initial:...`).
    func initialFinished() -> Bool {
        guard initialStatus() == "completed" else { return false }
        let queue = (object("incremental-\(slot).json")?["queue"] as? [[String: Any]]) ?? []
        return !queue.contains { ($0["unit"] as? String)?.hasPrefix("initial:") == true }
    }

    /// The share of the initial snapshot's chunks not yet acknowledged (nil without a plan).
    func initialPendingFraction() -> Double? {
        guard let state = object("snapshot-\(slot).json"), let chunks = state["chunks"] as? [Any], !chunks.isEmpty else {
            return nil
        }
        let done = (state["doneChunks"] as? [Any])?.count ?? 0
        return Double(chunks.count - done) / Double(chunks.count)
    }

    /// Whether the incremental snapshot requested by signal `id` finished: the signal was acted on and no
    /// table is left to read.
    func incrementalFinished(_ id: String) -> Bool {
        guard let state = object("incremental-\(slot).json") else { return false }
        return ((state["handledSignals"] as? [String]) ?? []).contains(id) && ((state["queue"] as? [Any]) ?? []).isEmpty
    }
}
