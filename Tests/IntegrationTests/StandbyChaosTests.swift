import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import Testing

/// The hot standby pair under load (docs/high-availability.md): two instances with one configuration,
/// each run as systemd would (restarted 0.5 s after it exits); the instance streaming from the slot is
/// killed with -9, `rounds` times, and the other takes over. Prints each takeover time (from the kill
/// until the slot's walsender serves the other instance) and the suite's table; lost 0 in both modes,
/// duplicates 0 with exactly_once.
@Suite(.integrationTest) struct StandbyChaosTests {
    static let fault = "kill -9 of the active instance"
    static let topics = ChaosWorkload.tables.map { "app.\($0)" }
    static let partitionsPerTopic: Int32 = 8

    @Test(.longRunning) func atLeastOnceStandbyTakesOverLosingNothing() throws {
        try standbyTakesOver(delivery: .atLeastOnce)
    }

    @Test(.longRunning) func exactlyOnceStandbyTakesOverLosingAndRepeatingNothing() throws {
        try standbyTakesOver(delivery: .exactlyOnce)
    }

    private func standbyTakesOver(delivery: SwallowConfiguration.Delivery) throws {
        let rounds = max(5, Int(ProcessInfo.processInfo.environment["SWALLOW_CHAOS_ROUNDS"] ?? "") ?? 5)
        let label = "standby (\(delivery.rawValue))"
        let postgres = try PrivatePostgres("standby")
        defer { postgres.stop() }
        let database = "standby_\(UInt32.random(in: 0...UInt32.max))"
        try ReconnectingConnection(postgres.parameters(database: "postgres")).attempt(timeoutSeconds: 10) {
            try $0.execute("CREATE DATABASE \(database)")
        }
        let parameters = postgres.parameters(database: database)
        let sql = ReconnectingConnection(parameters)
        defer { sql.close() }
        try sql.attempt { try $0.execute(ChaosWorkload.schema) }
        try sql.attempt { try createAuditSlot($0) }

        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in Self.topics { try cluster.createTopic(topic, partitions: Self.partitionsPerTopic) }
        let configPath = try writeConfigurationFile(
            database: database, bootstrapServers: cluster.bootstrapServers, tables: ChaosWorkload.tables,
            postgresPort: postgres.port, delivery: delivery)
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database).log").path
        let instances = [SwallowSupervisor(configPath: configPath, logPath: logPath + ".a"),
                         SwallowSupervisor(configPath: configPath, logPath: logPath + ".b")]
        instances[0].start()
        var stopped = false
        defer { if !stopped { for instance in instances { _ = instance.stop() } } }
        try waitUntil(timeoutSeconds: 60, "the first instance to stream") { activeInstance(instances, sql, database) == 0 }
        instances[1].start()

        let workload = ChaosWorkload(parameters: parameters)
        workload.start()
        var workloadStopped = false
        defer { if !workloadStopped { workload.stop() } }

        var chaosRounds: [ChaosRound] = []
        var takeovers: [Double] = []
        for round in 1...rounds {
            let active = try #require(try waitForActive(instances, sql, database, "round \(round)"))
            let completed = workload.transactionsCompleted
            try waitUntil(timeoutSeconds: 60, "the workload to go on (round \(round))") { workload.transactionsCompleted >= completed + 100 }
            // The other instance must be up (and a standby) before the kill.
            try waitUntil(timeoutSeconds: 30, "the other instance to run (round \(round))") { instances[1 - active].currentPID != nil }
            let killedAt = Date()
            let killed = try #require(instances[active].signal(SIGKILL))
            // Whichever asks first once PostgreSQL released the slot streams: usually the standby, or the
            // killed instance's restart (0.5 s later).
            var successor: Int?
            try waitUntil(timeoutSeconds: 30, "another process to stream (round \(round))") {
                successor = activeInstance(instances, sql, database)
                return successor.map { instances[$0].currentPID != killed } ?? false
            }
            let takeover = Date().timeIntervalSince(killedAt)
            takeovers.append(takeover)
            print("\(label): round \(round): \(successor == active ? "the killed instance, restarted," : "the standby") streams \(String(format: "%.2f", takeover)) s after the kill")
            chaosRounds.append(ChaosRound(fault: Self.fault, injectedAt: killedAt, healedAt: killedAt, recoverySeconds: takeover))
        }

        workload.stop()
        workloadStopped = true
        let target = try sql.attempt { try walInsertLSN($0) }
        try waitUntil(timeoutSeconds: 120, "the slot to confirm the end of the workload (\(target))") {
            (sql.once { try confirmedFlushLSN($0) } ?? .invalid) >= target
        }
        for instance in instances { _ = instance.stop() }
        stopped = true

        let records = try readChaosTopics(bootstrapServers: cluster.bootstrapServers, topics: Self.topics,
                                          partitionsPerTopic: Self.partitionsPerTopic)
        let captured = Set(ChaosWorkload.tables)
        let committed = try sql.attempt { try committedTransactions($0) }.filter { transaction in
            transaction.changes.contains { captured.contains($0.table) }
        }
        let tables = try Dictionary(uniqueKeysWithValues: ChaosWorkload.tables.map { table in
            (table, try sql.attempt { try tableRows($0, table) })
        })
        let analysis = try ChaosAnalysis(records: records, committed: committed, tables: tables, samples: [],
                                         rounds: chaosRounds, countUnreproducedRowsAsLost: true)
        let details = """
            delivery: \(delivery.rawValue) (hot standby pair)

            \(analysis.report(faults: [Self.fault]))
            takeover times: \(takeovers.map { String(format: "%.2f s", $0) }.joined(separator: ", ")); \
            workload: \(workload.summary); \(committed.count) committed transactions
            """
        try publishChaosReport(details)
        if !analysis.replayMismatches.isEmpty {
            // For the diagnosis: how each instance resumed (its tail scans, skips and takeovers).
            for suffix in [".a", ".b"] {
                let log = (try? String(contentsOfFile: logPath + suffix, encoding: .utf8)) ?? ""
                let lines = log.split(separator: "\n").filter {
                    $0.contains("resum") || $0.contains("skip") || $0.contains("already") || $0.contains("fenc")
                        || $0.contains("streaming") || $0.contains("transaction")
                }
                print("instance \(suffix):\n" + lines.suffix(60).joined(separator: "\n"))
            }
        }
        #expect(analysis.lost.isEmpty, "changes missing from Kafka (\(analysis.lost.count)): \(analysis.lost.prefix(5).joined(separator: "; "))")
        if delivery == .exactlyOnce {
            #expect(analysis.totalDuplicates == 0, "exactly_once delivered \(analysis.totalDuplicates) duplicates: \(analysis.duplicateExamples.prefix(5).joined(separator: "; "))")
        }
        #expect(analysis.uncommitted.isEmpty, "events of transactions that did not commit (\(analysis.uncommitted.count)): \(analysis.uncommitted.prefix(5).joined(separator: "; "))")
        #expect(analysis.contentMismatches.isEmpty, "events whose values differ from the committed change: \(analysis.contentMismatches.prefix(5).joined(separator: "; "))")
        #expect(analysis.orderViolations.isEmpty, "per-key order differs from commit order: \(analysis.orderViolations.prefix(5).joined(separator: "; "))")
        #expect(analysis.replayMismatches.isEmpty, "replaying the topics does not give the tables: \(analysis.replayMismatches.prefix(5).joined(separator: "; "))")
        #expect(takeovers.allSatisfy { $0 < 10 }, "a takeover took longer than 10 s: \(takeovers)")
    }

    private func waitForActive(_ instances: [SwallowSupervisor], _ sql: ReconnectingConnection, _ slot: String,
                               _ what: String) throws -> Int? {
        var active: Int?
        try waitUntil(timeoutSeconds: 60, "an instance to stream (\(what))") {
            active = activeInstance(instances, sql, slot)
            return active != nil
        }
        return active
    }
}

/// Which of `instances` streams from `slot`: the one whose process holds the TCP connection the slot's
/// walsender serves (its client port, looked up with `ss`).
private func activeInstance(_ instances: [SwallowSupervisor], _ sql: ReconnectingConnection, _ slot: String) -> Int? {
    guard let port = sql.once({ connection in
        try connection.execute("""
            SELECT r.client_port FROM pg_catalog.pg_replication_slots s
            JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid WHERE s.slot_name = '\(slot)'
            """)[0, "client_port"]
    }) ?? nil, !port.isEmpty else { return nil }
    let output = (try? runToCompletion("/usr/bin/ss", ["-tnpH", "sport = :\(port)"]).text) ?? ""
    return instances.firstIndex { instance in
        guard let pid = instance.currentPID else { return false }
        return output.contains("pid=\(pid),")
    }
}
