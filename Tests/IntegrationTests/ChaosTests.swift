import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import Testing

/// The durability suite (also `scripts/chaos.sh`): a mixed workload runs while, in rounds, Swallow is
/// killed and stopped, Postgres is restarted and its walsender terminated, and the mock cluster loses a
/// broker, answers Produce requests with errors and answers too slowly. Afterwards every topic is read
/// from the beginning and checked against the audit slot's record of what was committed.
///
/// Definitions used in the report:
/// - **events**: records (row events, not tombstones) produced during the fault's rounds; a round lasts
///   from its injection until the next round's (the last one until the end, including the drain), and a
///   record belongs to the round its Kafka timestamp (producer create time) falls in. Records produced
///   before the first fault are reported as `warm-up`.
/// - **lost**: committed row changes with no event, attributed to the round their commit time falls in.
/// - **duplicates**: second and later copies of an event (same transaction id and `source.lsn`),
///   attributed like events, by when the copy was produced, i.e. to the round whose redelivery made it.
/// - **recovery time**: from the moment the fault is healed (the signal sent — the supervisor restarts
///   Swallow 0.5 s later —, `pg_ctl restart` returned, the walsender terminated, the broker back up, the
///   RTT reset, the injected errors' window over) until the slot's `confirmed_flush_lsn` reaches the
///   server's WAL insert position taken at that moment: everything committed before the heal is in Kafka.
@Suite(.integrationTest) struct ChaosTests {
    enum Fault: String, CaseIterable {
        case kill9 = "kill -9"
        case sigterm = "SIGTERM"
        case postgresRestartFast = "pg restart -m fast"
        case postgresRestartImmediate = "pg restart -m immediate"
        case walsenderTerminated = "pg_terminate_backend(walsender)"
        case brokerDown = "broker down+up"
        case produceErrors = "produce request errors"
        case requestTimeouts = "request timeouts (RTT)"
        /// A second instance with the same configuration runs from the first round of this fault on (it
        /// polls for the slot the first holds); both are killed with -9, and whichever comes back first
        /// takes the slot. Later faults hit the first instance, whichever streams.
        case takeover = "takeover by a second instance"
    }

    static let topics = ChaosWorkload.tables.map { "app.\($0)" }
    static let partitionsPerTopic: Int32 = 8
    static let brokers: Int32 = 3
    /// The request timeout Swallow's producer runs with, and the RTT the timeout fault sets above it.
    static let requestTimeoutMilliseconds = 1000
    static let faultRoundTripMilliseconds: Int32 = 2500

    /// `at_least_once` may repeat what was in flight at a fault. (The two modes are two tests so that the
    /// test run overlaps them and `scripts/chaos.sh` runs them one after the other, for recovery times
    /// measured on a machine that runs nothing else.)
    @Test(.longRunning) func atLeastOnceLosesNothingAndConfirmsOnlyAcknowledgedEvents() throws {
        try everyFaultLosesNothingAndConfirmsOnlyAcknowledgedEvents(delivery: .atLeastOnce)
    }

    /// `exactly_once` may not repeat anything either.
    @Test(.longRunning) func exactlyOnceLosesNothingRepeatsNothingAndConfirmsOnlyCommittedEvents() throws {
        try everyFaultLosesNothingAndConfirmsOnlyAcknowledgedEvents(delivery: .exactlyOnce)
    }

    private func everyFaultLosesNothingAndConfirmsOnlyAcknowledgedEvents(delivery: SwallowConfiguration.Delivery) throws {
        let roundsPerFault = Int(ProcessInfo.processInfo.environment["SWALLOW_CHAOS_ROUNDS"] ?? "") ?? 1
        #expect(roundsPerFault >= 1, "SWALLOW_CHAOS_ROUNDS must be a positive number")

        let postgres = try PrivatePostgres("chaos")
        defer { postgres.stop() }
        let database = "chaos_\(UInt32.random(in: 0...UInt32.max))"
        try ReconnectingConnection(postgres.parameters(database: "postgres")).attempt(timeoutSeconds: 10) {
            try $0.execute("CREATE DATABASE \(database)")
        }
        let parameters = postgres.parameters(database: database)
        let sql = ReconnectingConnection(parameters)
        defer { sql.close() }
        try sql.attempt { try $0.execute(ChaosWorkload.schema) }
        try sql.attempt { try createAuditSlot($0) }

        let cluster = try MockKafkaCluster(brokers: Int(Self.brokers))
        for topic in Self.topics { try cluster.createTopic(topic, partitions: Self.partitionsPerTopic) }
        let partitions = Self.topics.flatMap { topic in
            (0..<Self.partitionsPerTopic).map { TopicPartition(topic: topic, partition: $0) }
        }

        // Deliveries give up after 3 s and requests after 1 s, so that broker faults take the failure path
        // (the stream resumes from the confirmed position) instead of waiting in librdkafka's queue.
        // One request in flight per connection: with more, the mock's injected Produce errors make
        // librdkafka report undelivered messages as delivered (see MockKafkaCluster.pushRequestErrors),
        // a loss a real broker would not cause.
        let configPath = try writeConfigurationFile(
            database: database, bootstrapServers: cluster.bootstrapServers, tables: ChaosWorkload.tables,
            extraKafkaProperties: ["message.timeout.ms": "3000",
                                   "request.timeout.ms": "\(Self.requestTimeoutMilliseconds)",
                                   "max.in.flight.requests.per.connection": "1",
                                   "reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "250"],
            postgresPort: postgres.port, delivery: delivery)
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database).log").path
        let supervisor = SwallowSupervisor(configPath: configPath, logPath: logPath)
        supervisor.start()
        var supervisorStopped = false
        defer { if !supervisorStopped { _ = supervisor.stop() } }
        let secondInstance = SwallowSupervisor(configPath: configPath, logPath: logPath + ".second")
        var secondStarted = false
        defer { if secondStarted { _ = secondInstance.stop() } }
        try waitUntil(timeoutSeconds: 60, "Swallow to stream") { sql.once { try isStreaming($0) } ?? false }

        let workload = ChaosWorkload(parameters: parameters)
        workload.start()
        var workloadStopped = false
        defer { if !workloadStopped { workload.stop() } }
        // Eight clients of three partitions each: a watermark query takes ~100 ms, so a sample of all 24
        // partitions on one client would take over two seconds.
        let samplerClients = try (0..<8).map { client in
            (try KafkaAdmin(bootstrapServers: cluster.bootstrapServers,
                            properties: ["reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "250"]),
             partitions.enumerated().filter { $0.offset % 8 == client }.map(\.element))
        }
        // Not closed here: destroying a client whose query is stuck blocks; the sampler's thread releases them.
        let sampler = ConfirmedPositionSampler(parameters: parameters, groups: samplerClients)
        sampler.start()
        var samples: [ConfirmedPositionSampler.Sample] = []
        var samplerStopped = false
        defer { if !samplerStopped { _ = sampler.stop() } }

        // The rounds: every fault, `roundsPerFault` times, interleaved.
        var rounds: [ChaosRound] = []
        var terminatedPids: [pid_t] = []
        let start = Date()
        for round in 1...max(1, roundsPerFault) {
            for fault in Fault.allCases {
                try waitUntil(timeoutSeconds: 90, "Swallow to stream before \(fault.rawValue) (round \(round))") {
                    sql.once { try isStreaming($0) } ?? false
                }
                // Let changes flow (the workload commits while Swallow streams), then inject at a random
                // moment of the stream.
                let completedBefore = workload.transactionsCompleted
                try waitUntil(timeoutSeconds: 60, "the workload to go on before \(fault.rawValue) (round \(round))") {
                    workload.transactionsCompleted >= completedBefore + 25
                }
                Thread.sleep(forTimeInterval: Double.random(in: 0...0.5))
                // From the second round on, the second instance may be the one streaming while the first
                // is between a kill and its restart (0.5 s): a signal needs a process to land on.
                try waitUntil(timeoutSeconds: 30, "the first instance to run before \(fault.rawValue) (round \(round))") {
                    supervisor.currentPID != nil
                }
                let injectedAt = Date()
                switch fault {
                case .kill9:
                    Thread.sleep(forTimeInterval: Double.random(in: 0...1.5))   // a random moment
                    #expect(supervisor.signal(SIGKILL) != nil, "no Swallow process to kill -9")
                case .sigterm:
                    let pid = supervisor.signal(SIGTERM)
                    #expect(pid != nil, "no Swallow process to send SIGTERM")
                    if let pid { terminatedPids.append(pid) }
                case .postgresRestartFast:
                    try postgres.restart(mode: "fast")
                case .postgresRestartImmediate:
                    try postgres.restart(mode: "immediate")
                case .takeover:
                    if !secondStarted {
                        secondInstance.start()
                        secondStarted = true
                        try waitUntil(timeoutSeconds: 30, "the second instance to start") { secondInstance.starts > 0 }
                        Thread.sleep(forTimeInterval: 1.5)   // let it find the slot taken and start polling
                    }
                    // Both instances killed at once: the one that streamed dies for sure, and whichever
                    // comes back and asks first takes the slot, with the other's deliveries maybe in flight.
                    let killed = [supervisor.signal(SIGKILL), secondInstance.signal(SIGKILL)].compactMap { $0 }
                    #expect(!killed.isEmpty, "no Swallow process to kill -9")
                case .walsenderTerminated:
                    let result = try sql.attempt {
                        try $0.execute("""
                            SELECT pg_terminate_backend(active_pid) AS terminated FROM pg_replication_slots
                            WHERE slot_name = current_database() AND active_pid IS NOT NULL
                            """)
                    }
                    #expect(result[0, "terminated"] == "t", "no walsender to terminate")
                case .brokerDown:
                    try cluster.setBrokerDown(1)
                    Thread.sleep(forTimeInterval: 4)   // longer than message.timeout.ms
                    try cluster.setBrokerUp(1)
                case .produceErrors:
                    let errors: [KafkaError.Code] = [.notLeaderForPartition, .requestTimedOut, .notEnoughReplicas]
                    cluster.pushRequestErrors(apiKey: MockKafkaCluster.produceAPIKey,
                                              errors: (0..<60).map { errors[$0 % errors.count] })
                    Thread.sleep(forTimeInterval: 2)
                case .requestTimeouts:
                    // Two of the three brokers answer after the request timeout; the third keeps its
                    // partitions moving (and the sampler's watermarks coming).
                    for broker: Int32 in [1, 2] {
                        try cluster.setBrokerRoundTripTime(broker, milliseconds: Self.faultRoundTripMilliseconds)
                    }
                    Thread.sleep(forTimeInterval: 4)
                    for broker: Int32 in [1, 2] { try cluster.setBrokerRoundTripTime(broker, milliseconds: 0) }
                }
                let healedAt = Date()
                let target = try walInsertPosition(sql)
                try waitUntil(timeoutSeconds: 120, "the slot to confirm \(target) after \(fault.rawValue) (round \(round))") {
                    (sql.once { try confirmedFlushLSN($0) } ?? .invalid) >= target
                }
                rounds.append(ChaosRound(fault: fault.rawValue, injectedAt: injectedAt, healedAt: healedAt,
                                         recoverySeconds: Date().timeIntervalSince(healedAt)))
                print("chaos: round \(round) \(fault.rawValue): recovered in \(String(format: "%.1f", rounds.last!.recoverySeconds ?? 0)) s")
            }
        }

        // Stop the workload, let Swallow drain, then stop everything and read what Kafka holds.
        workload.stop()
        workloadStopped = true
        let finalTarget = try walInsertPosition(sql)
        try waitUntil(timeoutSeconds: 120, "the slot to confirm the end of the workload (\(finalTarget))") {
            (sql.once { try confirmedFlushLSN($0) } ?? .invalid) >= finalTarget
        }
        samples = sampler.stop()
        samplerStopped = true
        let finalStatus = supervisor.stop()
        supervisorStopped = true
        if secondStarted {
            let secondStatus = secondInstance.stop()
            secondStarted = false
            #expect(secondStatus == 0, "the second instance did not exit cleanly on the final SIGTERM (\(secondStatus.map(String.init) ?? "not running"))")
            #expect(secondInstance.startFailures.isEmpty, "the supervisor could not start the second instance: \(secondInstance.startFailures.prefix(3))")
        }
        #expect(finalStatus == 0, "Swallow did not exit cleanly on the final SIGTERM (\(finalStatus.map(String.init) ?? "not running"))")
        for pid in terminatedPids {
            #expect(supervisor.exitStatus(of: pid) == 0, "Swallow (pid \(pid)) did not exit cleanly on SIGTERM: \(supervisor.exitStatus(of: pid).map(String.init) ?? "no exit seen")")
        }
        #expect(supervisor.startFailures.isEmpty, "the supervisor could not start Swallow: \(supervisor.startFailures.prefix(3))")

        print("chaos: drained; \(samples.count) samples; reading the topics")
        let records = try readChaosTopics(bootstrapServers: cluster.bootstrapServers, topics: Self.topics,
                                          partitionsPerTopic: Self.partitionsPerTopic)
        print("chaos: read \(records.count) records")

        let committed = try sql.attempt { try committedTransactions($0) }
        let tables = try Dictionary(uniqueKeysWithValues: ChaosWorkload.tables.map { table in
            (table, try sql.attempt { try tableRows($0, table) })
        })
        let analysis = try ChaosAnalysis(records: records, committed: committed, tables: tables, samples: samples,
                                         rounds: rounds)

        let report = analysis.report(faults: Fault.allCases.map(\.rawValue))
        let details = """
            delivery: \(delivery.rawValue)

            \(report)
            workload: \(workload.summary); \(committed.count) committed transactions with \(committed.reduce(0) { $0 + $1.rowChanges }) row changes
            Swallow: \(supervisor.starts) starts, exit statuses \(Dictionary(grouping: supervisor.exits.map(\.status), by: { $0 }).mapValues(\.count).sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", "))
            confirmed_flush_lsn: \(samples.count) samples, \(samples.reduce(0) { $0 + $1.highWatermarks.count }) partition watermarks checked
            duration: \(String(format: "%.0f", Date().timeIntervalSince(start))) s
            """
        try publishChaosReport(details)
        defer { print("chaos: cleaning up") }

        analysis.expectNothingLostOrWrong(delivery: delivery)
        #expect(analysis.confirmedTooFar.isEmpty, "confirmed_flush_lsn passed unacknowledged events (\(analysis.confirmedTooFar.count)): \(analysis.confirmedTooFar.prefix(5).joined(separator: "; "))")
        #expect(samples.filter { !$0.highWatermarks.isEmpty }.count >= rounds.count, "too few confirmed-position samples (\(samples.count)) for the check to mean much")
        #expect(committed.count > 100 * rounds.count / Fault.allCases.count, "the workload committed too little (\(committed.count) transactions) for the suite to prove much")
        if !analysis.isClean {
            // The evidence, for the report of the bug: every record, and Swallow's log.
            let dumpPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database)-records.tsv").path
            let lines = records.map { record in
                "\(record.topic)\t\(record.partition)\t\(record.offset)\t\(record.timestamp ?? -1)\t\(String(decoding: record.key ?? [], as: UTF8.self))\t\(record.value.map { String(decoding: $0, as: UTF8.self) } ?? "null")"
            }
            try? (lines.joined(separator: "\n") + "\n").write(toFile: dumpPath, atomically: true, encoding: .utf8)
            print("records read: \(dumpPath); Swallow's log: \(logPath)")
        }
    }

    private func walInsertPosition(_ sql: ReconnectingConnection) throws -> LSN {
        try sql.attempt { try walInsertLSN($0) }
    }
}
