import Foundation
import Kafka
import PGOutput
import PGReplication
import Testing

/// Nothing committed is lost: `kill -9` mid-stream, and a broker that goes away and comes back.
/// The service runs as a child process, as systemd runs it; the mock Kafka cluster lives in the test
/// process so it outlives every Swallow process.
@Suite(.integrationTest) struct DurabilityTests {
    @Test(.longRunning) func killNineMidStreamThenRestartLosesNothing() throws {
        let scenario = try DurabilityScenario("crash")
        defer { scenario.cleanUp() }
        let (sql, cluster) = (scenario.sql, scenario.cluster)
        var swallow = try scenario.startSwallow()

        let startPosition = try confirmedFlushLSN(sql)
        let workload = Workload(database: scenario.database, transactions: 4000)
        workload.start()
        // Kill it mid-stream: with part of the workload acknowledged and confirmed, the rest still coming.
        try waitUntil(timeoutSeconds: 120, "part of the workload to be confirmed") {
            try workload.committed >= 1000 && confirmedFlushLSN(sql) > startPosition
        }
        #expect(workload.committed < 4000, "the workload ended before the kill; the test proves less than it should")
        swallow.kill9()

        // With the process dead nothing more is acknowledged: what Kafka holds now is final for the
        // confirmed position the slot recorded.
        let confirmedAtCrash = try confirmedFlushLSN(sql)
        #expect(confirmedAtCrash > .invalid)
        let atCrash = try readAll(cluster, ["app.public.accounts", "app.public.ledger"])
        let lostAtCrash = try transactionsLostBelow(confirmedAtCrash, committed: try committedTransactions(sql),
                                                    records: atCrash)
        #expect(lostAtCrash.isEmpty, "slot confirmed past unacknowledged transactions \(lostAtCrash.prefix(5))")

        swallow = try scenario.restartSwallow()
        try workload.wait()
        let committed = try committedTransactions(sql)
        let finalRecords = try waitForEverything(committed, cluster: cluster)
        #expect(swallow.terminate() == 0, "swallow did not exit cleanly on SIGTERM:\n\(swallow.log.suffix(2000))")

        let missing = try transactionsLostBelow(LSN(UInt64.max), committed: committed, records: finalRecords)
        #expect(missing.isEmpty, "committed transactions missing from Kafka: \(missing.prefix(5))")
        let check = try verifyPerKeyOrderAndFinalState(records: finalRecords, sql: sql)
        #expect(check.problems.isEmpty, "\(check.problems.prefix(5))")
        // Rolled-back transactions never reach Kafka: every txId in Kafka is a committed one.
        let committedIDs = Set(committed.map(\.xid))
        let unknown = try rowEventsByTransaction(finalRecords).keys.filter { !committedIDs.contains($0) }
        #expect(unknown.isEmpty, "events of transactions that did not commit: \(unknown.sorted().prefix(5)) (committed: \(committedIDs.count))")
        print("kill -9: \(committed.count) transactions, \(finalRecords.count) records, \(check.duplicates) redelivered duplicates")
    }

    @Test(.longRunning) func brokerOutageIsRetriedAndLosesNothing() throws {
        // Deliveries give up after 2 s so the outage exercises the failure path: the stream restarts from
        // the confirmed position rather than waiting in librdkafka's queue.
        let scenario = try DurabilityScenario("outage", kafkaProperties: ["message.timeout.ms": "2000"])
        defer { scenario.cleanUp() }
        let (sql, cluster) = (scenario.sql, scenario.cluster)
        var swallow = try scenario.startSwallow()

        let workload = Workload(database: scenario.database, transactions: 2000)
        workload.start()
        try waitUntil(timeoutSeconds: 120, "some of the workload") { workload.committed >= 300 }
        let resumptionsBeforeOutage = swallow.resumptions
        try cluster.setBrokerDown(1)
        let confirmedAtOutage = try confirmedFlushLSN(sql)
        // Down until the outage reached the pipeline: a delivery timed out (message.timeout.ms) and the
        // stream resumed from the confirmed position.
        try waitUntil("the outage to reach the pipeline") { swallow.resumptions > resumptionsBeforeOutage }
        // While the broker is away nothing can be acknowledged, so the slot must not move past what
        // Kafka held when it went down. Kill the service during the outage to freeze the evidence.
        swallow.kill9()
        let confirmedDuringOutage = try confirmedFlushLSN(sql)
        try cluster.setBrokerUp(1)
        let atOutage = try readAll(cluster, ["app.public.accounts", "app.public.ledger"])
        let lost = try transactionsLostBelow(confirmedDuringOutage, committed: try committedTransactions(sql),
                                             records: atOutage)
        #expect(lost.isEmpty, "slot confirmed past unacknowledged transactions during the outage: \(lost.prefix(5))")
        #expect(confirmedDuringOutage >= confirmedAtOutage)

        swallow = try scenario.restartSwallow()
        // A second outage with the service left running: it must ride it out by itself.
        try waitUntil(timeoutSeconds: 120, "more of the workload") { workload.committed >= 1200 }
        let streamsResumedBeforeSecondOutage = swallow.streamsResumed
        try cluster.setBrokerDown(1)
        // Down until this outage reached the pipeline too and the stream started again from the confirmed
        // position; the service must then recover by itself once the broker is back. (Before the replay the
        // pipeline purges what is still queued, so that a broker back early cannot take records produced
        // after the failed one ahead of its second copy: `DeliveryPath.purgeUnsentAfterFailure`.)
        try waitUntil("the second outage to reach the pipeline") { swallow.streamsResumed > streamsResumedBeforeSecondOutage }
        try cluster.setBrokerUp(1)
        try workload.wait()
        let committed = try committedTransactions(sql)
        let finalRecords = try waitForEverything(committed, cluster: cluster)
        #expect(swallow.terminate() == 0, "swallow did not exit cleanly on SIGTERM:\n\(swallow.log.suffix(2000))")
        let missing = try transactionsLostBelow(LSN(UInt64.max), committed: committed, records: finalRecords)
        #expect(missing.isEmpty, "committed transactions missing from Kafka: \(missing.prefix(5))")
        let check = try verifyPerKeyOrderAndFinalState(records: finalRecords, sql: sql)
        #expect(check.problems.isEmpty, "\(check.problems.prefix(5))")
    }

    /// A database with the workload's tables, its publication and an audit slot, topics in a mock
    /// cluster of the test process, and the configuration for a `swallow run` child process.
    struct DurabilityScenario {
        let database: String
        let sql: PostgresConnection
        let cluster: MockKafkaCluster
        let configPath: String
        let logPath: String

        init(_ name: String, kafkaProperties: [String: String] = [:]) throws {
            database = try TestPostgres.shared.makeDatabase(name)
            sql = try TestPostgres.shared.connect(database)
            try sql.execute(Workload.schema)
            try sql.execute("CREATE PUBLICATION swallow FOR TABLE accounts, ledger")
            try createAuditSlot(sql)
            cluster = try MockKafkaCluster(brokers: 1)
            for topic in ["app.public.accounts", "app.public.ledger"] { try cluster.createTopic(topic, partitions: 3) }
            configPath = try writeConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                                    tables: ["public.accounts", "public.ledger"],
                                                    extraKafkaProperties: kafkaProperties)
            logPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database).log").path
        }

        /// Starts the service and waits until it streams.
        func startSwallow() throws -> SwallowProcess {
            let swallow = try restartSwallow()
            try waitUntil("the slot to be streaming") { [sql] in try isStreaming(sql) }
            return swallow
        }

        /// Starts the service again, as systemd would after a failure.
        func restartSwallow() throws -> SwallowProcess {
            try SwallowProcess(configPath: configPath, logPath: logPath)
        }

        func cleanUp() { TestPostgres.shared.dropSlots(of: database) }
    }

    private func readAll(_ cluster: MockKafkaCluster, _ topics: [String]) throws -> [KafkaRecord] {
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: topics, waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        return try consumer.readToEnd(timeoutMilliseconds: 30_000)
    }

    /// Reads the topics until every committed transaction's events are there (or two minutes pass).
    private func waitForEverything(_ committed: [CommittedTransaction], cluster: MockKafkaCluster) throws -> [KafkaRecord] {
        var records: [KafkaRecord] = []
        let deadline = Date().addingTimeInterval(120)
        repeat {
            records = try readAll(cluster, ["app.public.accounts", "app.public.ledger"])
            if try transactionsLostBelow(LSN(UInt64.max), committed: committed, records: records).isEmpty { break }
            usleep(100_000)
        } while Date() < deadline
        return records
    }
}
