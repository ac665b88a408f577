import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import SwallowConfig
import SwallowCore
import Synchronization
import Testing

/// A PostgreSQL failover end to end (docs/high-availability.md): a primary and a physical standby made
/// with pg_basebackup, Swallow given both as a host list (`target_session_attrs=read-write`), the
/// primary stopped with `-m immediate` and the standby promoted.
///
/// - With failover slots (PostgreSQL 17+: `slot.failover`, `sync_replication_slots` on the standby,
///   `synchronized_standby_slots` on the primary) Swallow goes on from the promoted server's copy of the
///   slot under a running workload: nothing lost, nothing uncommitted, the replay gives the tables; the
///   repeats are reported (0 with exactly_once). Before 17 the same run has no failover slot to go on
///   from, and must stop with the named error instead.
/// - Without them, the slot is missing on the promoted server: Swallow stops naming the cause and the fix,
///   also after a restart, until `swallow slot drop --yes`; with `snapshot.mode: when_needed` it takes a
///   new snapshot instead, and the replay gives the tables.
/// - A standby promoted without changes Swallow had already delivered (it was down): Swallow stops, Kafka
///   holds changes the database does not.
@Suite(.integrationTest) struct PromotionTests {
    static let topics = ChaosWorkload.tables.map { "app.\($0)" }
    static let partitionsPerTopic: Int32 = 4
    static let fault = "primary stopped (-m immediate), standby promoted"

    /// at_least_once: Swallow runs through the failover (its stream breaks, it reconnects through the
    /// host list to the promoted server). exactly_once: Swallow is stopped when the primary fails and
    /// started after the promotion, from the state file, so it replays what the synchronized copy of the
    /// slot lagged and must find every repeat in the topics.
    @Test(.longRunning, arguments: [(SwallowConfiguration.Delivery.atLeastOnce, false), (.exactlyOnce, true)])
    func aPromotionUnderLoadGoesOnFromTheFailoverSlotLosingNothing(delivery: SwallowConfiguration.Delivery,
                                                                    restartedAcrossThePromotion: Bool) throws {
        let failoverSlots = try serverMajorVersion() >= 17
        let topology = try PromotionTopology("promotion", failoverSlots: failoverSlots)
        defer { topology.stop() }
        // The ground truth of what the promoted server committed: a slot made on the standby (logical
        // decoding on a standby, PostgreSQL 16+) sees the old primary's changes the standby replayed, and
        // goes on after the promotion. (A failover slot that is never advanced is never synchronized.)
        if failoverSlots { try topology.createAuditSlotOnTheStandby() }
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in Self.topics { try cluster.createTopic(topic, partitions: Self.partitionsPerTopic) }
        let configuration = try topology.configuration(bootstrapServers: cluster.bootstrapServers, delivery: delivery,
                                                       failover: failoverSlots)
        var running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        var pipelineStopped = false
        defer { if !pipelineStopped { _ = try? running.stop() } }
        try waitUntil(timeoutSeconds: 60, "Swallow to stream from the primary") { topology.onPrimary.once { try isStreaming($0) } == true }

        let workload = ChaosWorkload(parameters: topology.hostList, bulkRows: 200, bulkIntervalSeconds: 3)
        workload.start()
        var workloadStopped = false
        defer { if !workloadStopped { workload.stop() } }
        try waitUntil(timeoutSeconds: 60, "the workload to run") { workload.transactionsCompleted >= 150 }
        if failoverSlots {
            try waitUntil(timeoutSeconds: 90, "the slot to be synchronized to the standby") {
                topology.onStandby.once { try $0.execute("""
                    SELECT 1 FROM pg_catalog.pg_replication_slots
                    WHERE slot_name = current_database() AND synced AND NOT temporary AND confirmed_flush_lsn IS NOT NULL
                    """).rows.count == 1 } == true
            }
        }
        let completed = workload.transactionsCompleted
        try waitUntil(timeoutSeconds: 60, "the workload to go on") { workload.transactionsCompleted >= completed + 100 }

        let killedAt = Date()
        try topology.primary.halt(mode: "immediate")
        if restartedAcrossThePromotion {
            #expect(try running.stop().isSuccess)
        }
        try topology.standby.promote()
        let promotedAt = Date()
        if restartedAcrossThePromotion {
            running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        }

        guard failoverSlots else {
            // Before PostgreSQL 17 the promoted server has no copy of the slot: Swallow stops, naming the
            // cause (a slot missing, or changes it delivered that the standby had not received yet), and
            // creates no slot there: nothing past the gap is confirmed.
            workload.stop()
            workloadStopped = true
            try waitUntil(timeoutSeconds: 60, "Swallow to stop") { running.hasEnded }
            pipelineStopped = true
            guard case .failure(let error) = try running.stop() else {
                Issue.record("Swallow went on after a promotion without a copy of its slot")
                return
            }
            #expect([.slotLost, .historyDiverged].contains(error.code), "\(error)")
            #expect(!error.isRetriable)
            #expect(error.message.contains("swallow slot drop --yes"), "\(error)")
            #expect(try topology.onStandby.attempt { try slotRow($0) } == nil, "a slot was created on the promoted server")
            print("promotion without failover slots (\(delivery.rawValue)): Swallow stopped: \(error.message)")
            return
        }

        try waitUntil(timeoutSeconds: 60, "Swallow to stream from the promoted server") {
            topology.onStandby.once { try isStreaming($0) } == true
        }
        let recovery = Date().timeIntervalSince(promotedAt)
        let afterPromotion = workload.transactionsCompleted
        try waitUntil(timeoutSeconds: 60, "the workload to go on on the promoted server") {
            workload.transactionsCompleted >= afterPromotion + 150
        }
        workload.stop()
        workloadStopped = true
        let target = try topology.onStandby.attempt { try walInsertLSN($0) }
        try waitUntil(timeoutSeconds: 120, "the slot to confirm the end of the workload (\(target))") {
            (topology.onStandby.once { try confirmedFlushLSN($0) } ?? .invalid) >= target
        }
        #expect(!running.hasEnded)
        let skipped = running.pipeline.status.resumeSkippedEvents
        pipelineStopped = true
        #expect(try running.stop().isSuccess)

        let records = try readChaosTopics(bootstrapServers: cluster.bootstrapServers, topics: Self.topics,
                                          partitionsPerTopic: Self.partitionsPerTopic)
        let captured = Set(ChaosWorkload.tables)
        let committed = try topology.onStandby.attempt { try committedTransactions($0) }.filter { transaction in
            transaction.changes.contains { captured.contains($0.table) }
        }
        let tables = try Dictionary(uniqueKeysWithValues: ChaosWorkload.tables.map { table in
            (table, try topology.onStandby.attempt { try tableRows($0, table) })
        })
        let round = ChaosRound(fault: Self.fault, injectedAt: killedAt, healedAt: promotedAt, recoverySeconds: recovery)
        let analysis = try ChaosAnalysis(records: records, committed: committed, tables: tables, samples: [], rounds: [round],
                                         countUnreproducedRowsAsLost: true)
        try publishChaosReport("""
            delivery: \(delivery.rawValue) (failover slots, promotion under load\(restartedAcrossThePromotion ? ", Swallow restarted across it" : ""))

            \(analysis.report(faults: [Self.fault]))
            repeated events: \(analysis.totalDuplicates)\(delivery == .exactlyOnce ? " (replayed and found in the topics: \(skipped))" : ""); \
            Swallow streamed from the promoted server \
            \(String(format: "%.1f", recovery)) s after the promotion; workload: \(workload.summary); \
            \(committed.count) committed transactions
            """)
        #expect(committed.contains { Double($0.commitTimeMicros) / 1_000_000 > promotedAt.timeIntervalSince1970 },
                "no transaction was committed on the promoted server")
        analysis.expectNothingLostOrWrong(delivery: delivery)
    }

    /// The standby has everything when the primary stops (the workload paused, the standby caught up),
    /// so the one thing wrong after the promotion is the missing slot.
    @Test func aPromotedServerWithoutTheSlotStopsSwallowUntilTheSlotIsForgotten() throws {
        let topology = try PromotionTopology("noslot", failoverSlots: false)
        defer { topology.stop() }
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in Self.topics { try cluster.createTopic(topic, partitions: Self.partitionsPerTopic) }
        let configuration = try topology.configuration(bootstrapServers: cluster.bootstrapServers, delivery: .atLeastOnce,
                                                       failover: false)
        var running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "Swallow to stream from the primary") { topology.onPrimary.once { try isStreaming($0) } == true }
        try topology.runWorkloadUntilEverythingIsConfirmedAndReplicated(transactions: 150)
        try topology.failOver()

        let parts = [#"replication slot "\#(topology.database)" is missing on the promoted server 127.0.0.1:\#(topology.standby.port)"#,
                     "timeline 2, which left timeline 1 at", "not synchronized", "sync_replication_slots = on",
                     "snapshot.mode: when_needed", "swallow slot drop --yes"]
        try waitUntil(timeoutSeconds: 60, "Swallow to stop") { running.hasEnded }
        guard try expectNonRetriableStop(running, code: .slotLost, mentioning: parts,
                                         otherwise: "Swallow went on after a promotion without its slot") != nil else { return }
        #expect(try topology.onStandby.attempt { try slotRow($0) } == nil, "a slot was created on the promoted server")

        // A restart knows from the state file that the slot existed: the same error, no slot created.
        running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the restarted Swallow to stop") { running.hasEnded }
        guard try expectNonRetriableStop(running, code: .slotLost, mentioning: parts,
                                         otherwise: "a restarted Swallow created the slot anew") != nil else { return }
        #expect(try topology.onStandby.attempt { try slotRow($0) } == nil, "a slot was created on the promoted server")

        // The override the error names: `swallow slot drop --yes` forgets the lost slot; Swallow then
        // creates one and snapshots the tables (snapshot.mode initial).
        let settings = PipelineSettings(configuration: configuration, bootstrapServers: cluster.bootstrapServers, connectorVersion: "test")
        let outcome = try SlotAdministration.drop(settings: settings, confirmed: true)
        #expect(outcome.slot == nil && outcome.dropped)
        #expect(outcome.stateFiles.contains("\(configuration.stateDirectory)/stream-\(topology.database).json"), "\(outcome.stateFiles)")
        running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "Swallow to stream from the promoted server") {
            topology.onStandby.once { try isStreaming($0) } == true
        }
        #expect(try running.stop().isSuccess)
    }

    @Test func whenNeededSnapshotsAgainAfterAPromotionWithoutTheSlot() throws {
        let topology = try PromotionTopology("whenneeded", failoverSlots: false)
        defer { topology.stop() }
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in Self.topics { try cluster.createTopic(topic, partitions: Self.partitionsPerTopic) }
        let running = RunningPipeline(configuration: try topology.configuration(bootstrapServers: cluster.bootstrapServers,
                                                                                delivery: .atLeastOnce, failover: false,
                                                                                snapshot: "{mode: when_needed}"),
                                      bootstrapServers: cluster.bootstrapServers)
        var pipelineStopped = false
        defer { if !pipelineStopped { _ = try? running.stop() } }
        try waitUntil(timeoutSeconds: 60, "Swallow to stream from the primary") { topology.onPrimary.once { try isStreaming($0) } == true }
        try topology.runWorkloadUntilEverythingIsConfirmedAndReplicated(transactions: 150)
        try topology.failOver()

        // A new slot and a new snapshot on the promoted server. The workload resumes once it streams: a
        // row deleted before the new slot exists would keep its last record in Kafka (when_needed repeats
        // rows, it cannot recover deletes; docs/high-availability.md).
        try waitUntil(timeoutSeconds: 90, "Swallow to stream from the promoted server") {
            topology.onStandby.once { try isStreaming($0) } == true
        }
        #expect(!running.hasEnded)
        let rowsAtThePromotion = try ChaosWorkload.tables.map { table in
            try topology.onStandby.attempt { try Int($0.execute("SELECT count(*)::text AS n FROM \(table)")[0, "n"] ?? "") ?? 0 }
        }.reduce(0, +)
        let lastOrder = try topology.onStandby.attempt { try $0.execute("SELECT coalesce(max(id), 0)::text AS id FROM orders")[0, "id"] }
        let workload = ChaosWorkload(parameters: topology.hostList, bulkRows: 200, bulkIntervalSeconds: 3,
                                     firstOrder: (Int64(lastOrder ?? "0") ?? 0) + 1)
        workload.start()
        try waitUntil(timeoutSeconds: 60, "the workload to run on the promoted server") { workload.transactionsCompleted >= 150 }
        workload.stop()
        let target = try topology.onStandby.attempt { try walInsertLSN($0) }
        try waitUntil(timeoutSeconds: 120, "the slot to confirm the end of the workload (\(target))") {
            (topology.onStandby.once { try confirmedFlushLSN($0) } ?? .invalid) >= target
        }
        pipelineStopped = true
        #expect(try running.stop().isSuccess)

        let records = try readChaosTopics(bootstrapServers: cluster.bootstrapServers, topics: Self.topics,
                                          partitionsPerTopic: Self.partitionsPerTopic)
        let tables = try Dictionary(uniqueKeysWithValues: ChaosWorkload.tables.map { table in
            (table, try topology.onStandby.attempt { try tableRows($0, table) })
        })
        let replay = try TopicReplay(records: records, tables: tables)
        #expect(replay.mismatches.isEmpty, "replaying the topics does not give the tables: \(replay.mismatches.prefix(5).joined(separator: "; "))")
        let snapshotReads = try records.filter { try jsonObject($0.value)?["op"] as? String == "r" }.count
        #expect(rowsAtThePromotion > 0 && snapshotReads == rowsAtThePromotion, "the promoted server's \(rowsAtThePromotion) rows were not snapshotted once (\(snapshotReads) reads)")
        #expect(!records.contains { String(decoding: $0.value ?? [], as: UTF8.self).contains(ChaosWorkload.rolledBackMarker) })
    }

    /// The standby is down while the primary goes on and Swallow delivers; the primary fails and the
    /// standby is promoted with what it had: Kafka holds changes the promoted server never had.
    @Test func changesTheStandbyNeverReceivedStopSwallowAfterThePromotion() throws {
        let topology = try PromotionTopology("diverged", failoverSlots: false)
        defer { topology.stop() }
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in Self.topics { try cluster.createTopic(topic, partitions: Self.partitionsPerTopic) }
        let running = RunningPipeline(configuration: try topology.configuration(bootstrapServers: cluster.bootstrapServers,
                                                                                delivery: .exactlyOnce, failover: false,
                                                                                snapshot: "{mode: when_needed}"),
                                      bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "Swallow to stream from the primary") { topology.onPrimary.once { try isStreaming($0) } == true }
        try topology.runWorkloadUntilEverythingIsConfirmedAndReplicated(transactions: 50)

        try topology.standby.halt(mode: "fast")
        try topology.onPrimary.attempt { sql in
            for id in 1_000_001...1_000_020 {
                try sql.execute("SET synchronous_commit = on; INSERT INTO orders VALUES (\(id), 0, 'only on the old primary', 0, NULL)")
            }
        }
        let target = try topology.onPrimary.attempt { try walInsertLSN($0) }
        try waitUntil(timeoutSeconds: 60, "Swallow to confirm \(target)") {
            (topology.onPrimary.once { try confirmedFlushLSN($0) } ?? .invalid) >= target
        }
        try topology.primary.halt(mode: "immediate")
        try topology.standby.resume()
        try topology.standby.promote()

        // Whatever snapshot.mode says: a new snapshot would not take those changes out of Kafka.
        try waitUntil(timeoutSeconds: 60, "Swallow to stop") { running.hasEnded }
        guard try expectNonRetriableStop(running, code: .historyDiverged,
                                         mentioning: ["Kafka holds changes the server 127.0.0.1:\(topology.standby.port) does not have",
                                                      "on timeline 1", "timeline 2 left timeline 1 at", "synchronized_standby_slots",
                                                      "swallow slot drop --yes"],
                                         otherwise: "Swallow went on from a server without changes it had delivered") != nil else { return }
        #expect(try topology.onStandby.attempt { try slotRow($0) } == nil, "a slot was created on the promoted server")
        #expect(try topology.onStandby.attempt { try $0.execute("SELECT 1 FROM orders WHERE id > 1000000").rows.isEmpty },
                "the promoted server has the changes made while the standby was down")
    }
}

/// A primary and its physical standby (of the version under test), a database with the chaos workload's
/// schema on both, and Swallow's view of them: the two as a host list.
private struct PromotionTopology {
    let primary: PrivatePostgres
    let standby: PrivatePostgres
    let database: String
    let onPrimary: ReconnectingConnection
    let onStandby: ReconnectingConnection

    /// `failoverSlots`: the standby synchronizes failover slots (`sync_replication_slots`,
    /// `hot_standby_feedback`), and the primary holds their changes back until it has them
    /// (`synchronized_standby_slots`).
    init(_ name: String, failoverSlots: Bool) throws {
        primary = try PrivatePostgres(name)
        do {
            standby = try PrivatePostgres("\(name)-standby", standbyOf: primary,
                                          settings: failoverSlots ? ["sync_replication_slots=on", "hot_standby_feedback=on"] : [])
        } catch {
            primary.stop()
            throw error
        }
        database = "\(name)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = ReconnectingConnection(primary.parameters(database: "postgres"))
        defer { admin.close() }
        let standbySlot = standby.standbySlotName
        try admin.attempt(timeoutSeconds: 10) { [database] sql in
            if failoverSlots {
                try sql.execute("ALTER SYSTEM SET synchronized_standby_slots = '\(standbySlot)'")
                try sql.execute("SELECT pg_reload_conf()")
            }
            try sql.execute("CREATE DATABASE \(database)")
        }
        onPrimary = ReconnectingConnection(primary.parameters(database: database))
        onStandby = ReconnectingConnection(standby.parameters(database: database))
        try onPrimary.attempt(timeoutSeconds: 10) { try $0.execute(ChaosWorkload.schema) }
        // The standby has the schema once it replayed it.
        try onStandby.attempt(timeoutSeconds: 60) { try $0.execute("SELECT 1 FROM counters LIMIT 0") }
    }

    /// Both servers, the primary first; libpq picks the one that takes writes.
    var hostList: ConnectionParameters {
        var parameters = primary.parameters(database: database)
        parameters.host = "127.0.0.1,127.0.0.1"
        parameters.portList = "\(primary.port),\(standby.port)"
        parameters.targetSessionAttributes = "read-write"
        return parameters
    }

    func configuration(bootstrapServers: String, delivery: SwallowConfiguration.Delivery, failover: Bool,
                       snapshot: String = "{}") throws -> SwallowConfiguration {
        let yaml = testConfigurationYAML(database: database, bootstrapServers: bootstrapServers, tables: ChaosWorkload.tables,
                                         snapshot: snapshot, postgresPort: primary.port, delivery: delivery)
            .replacingOccurrences(of: "host: 127.0.0.1, port: \(primary.port),",
                                  with: "host: \"127.0.0.1,127.0.0.1\", port: \"\(primary.port),\(standby.port)\",")
            .replacingOccurrences(of: "slot: {name: \(database), create: true}",
                                  with: "slot: {name: \(database), create: true, failover: \(failover)}")
        let configuration = try SwallowConfiguration.parse(yaml: yaml, environment: [:])
        #expect(configuration.postgres.ports == [primary.port, standby.port])
        #expect(configuration.slot.failover == failover)
        return configuration
    }

    /// The audit slot (`ChangeAudit`), made on the standby: creating a logical slot there waits for the
    /// primary to log its running transactions, which `pg_log_standby_snapshot()` does at once.
    func createAuditSlotOnTheStandby() throws {
        let created = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        let parameters = standby.parameters(database: database)
        Thread {
            do {
                let sql = try PostgresConnection(parameters, replication: false)
                defer { sql.close() }
                try createAuditSlot(sql)
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
            created.signal()
        }.start()
        while created.wait(timeout: .now() + 0.2) == .timedOut {
            _ = onPrimary.once { try $0.execute("SELECT pg_log_standby_snapshot()") }
        }
        if let failure = failure.withLock({ $0 }) { throw TestFailure("the audit slot on the standby: \(failure)") }
    }

    /// Runs the workload for `transactions`, stops it, and waits until Swallow confirmed all of it and
    /// the standby replayed it: a promotion then loses nothing of what Swallow delivered.
    func runWorkloadUntilEverythingIsConfirmedAndReplicated(transactions: Int) throws {
        let workload = ChaosWorkload(parameters: primary.parameters(database: database), bulkRows: 200, bulkIntervalSeconds: 3)
        workload.start()
        do {
            try waitUntil(timeoutSeconds: 60, "the workload to run") { workload.transactionsCompleted >= transactions }
        } catch {
            workload.stop()
            throw error
        }
        workload.stop()
        let target = try onPrimary.attempt { try walInsertLSN($0) }
        try waitUntil(timeoutSeconds: 60, "Swallow to confirm \(target)") { (onPrimary.once { try confirmedFlushLSN($0) } ?? .invalid) >= target }
        try waitUntil(timeoutSeconds: 60, "the standby to replay \(target)") {
            onStandby.once { try $0.execute("SELECT pg_last_wal_replay_lsn() >= '\(target)'::pg_lsn AS done")[0, "done"] == "t" } == true
        }
    }

    /// Stops the primary as a crash would (`-m immediate`) and promotes the standby.
    func failOver() throws {
        try primary.halt(mode: "immediate")
        onPrimary.close()
        try standby.promote()
    }

    func stop() {
        onPrimary.close()
        onStandby.close()
        standby.stop()
        primary.stop()
    }
}

/// The major version of the servers under test (`postgres --version` of `scripts/pg-cluster.sh bindir`).
private func serverMajorVersion() throws -> Int {
    let bindir = try runScript("scripts/pg-cluster.sh", ["bindir"]).trimmingCharacters(in: .whitespacesAndNewlines)
    let (status, text) = try runToCompletion("\(bindir)/postgres", ["--version"])
    guard status == 0, let version = text.split(separator: " ").dropFirst(2).first,
          let major = Int(version.split(separator: ".").first ?? "") else {
        throw TestFailure("cannot read the server version: \(text)")
    }
    return major
}
