import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// `delivery: exactly_once` against real PostgreSQL and the mock cluster: what a replay finds in the
/// topics, and the bad input around it. (The durability suite runs every fault in this mode too.)
///
/// A replay is made exact with two slots at the same position (`pg_copy_logical_replication_slot`):
/// a first pipeline delivers everything from one, a second one with the same transactional id streams
/// the same WAL from the other, as an instance restarted from an older confirmed position would.
@Suite(.integrationTest) struct ExactlyOnceTests {
    static let transactionalID = "eos-test"
    static let topics = ["app.public.accounts", "app.transaction", "app.message"]

    /// The database, a publication and two slots at the same position, before any change.
    struct Replay {
        let database: String
        let sql: PostgresConnection
        let cluster: MockKafkaCluster

        init(_ name: String) throws {
            database = try TestPostgres.shared.makeDatabase(name)
            sql = try TestPostgres.shared.connect(database)
            try sql.execute("""
                CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL);
                CREATE PUBLICATION swallow FOR TABLE accounts;
                """)
            try sql.execute("SELECT pg_create_logical_replication_slot('\(database)_a', 'pgoutput')")
            try sql.execute("SELECT pg_copy_logical_replication_slot('\(database)_a', '\(database)_b')")
            cluster = try MockKafkaCluster(brokers: 1)
            for topic in ExactlyOnceTests.topics { try cluster.createTopic(topic, partitions: 3) }
        }

        func configuration(slot: String) throws -> SwallowConfiguration {
            try SwallowConfiguration.parse(yaml: """
                postgres: {host: 127.0.0.1, port: \(TestPostgres.shared.port), dbname: \(database), user: postgres, sslmode: disable}
                slot: {name: \(database)_\(slot), create: false}
                publication: {name: swallow, create: false}
                tables: [public.accounts]
                topic_prefix: app
                kafka: {bootstrap_servers: "\(cluster.bootstrapServers)", transactional_id: \(ExactlyOnceTests.transactionalID)}
                delivery: exactly_once
                status_interval_ms: 200
                events: {provide.transaction.metadata: true, message.prefix.include.list: "audit", skipped.operations: none}
                snapshot: {mode: no_data}
                state_dir: \(testStateDirectory(database + slot))
                """, environment: [:])
        }

        /// Runs a pipeline on `slot` until the slot is confirmed at `position`; returns its last status.
        func stream(slot: String, through position: LSN) throws -> PipelineStatus {
            let running = RunningPipeline(configuration: try configuration(slot: slot), bootstrapServers: cluster.bootstrapServers)
            try waitUntil(timeoutSeconds: 60, "slot \(slot) to confirm \(position)") { [sql, database] in
                try slotConfirmedLSN(sql, "\(database)_\(slot)") >= position
            }
            // The status is refreshed about every second.
            try waitUntil(timeoutSeconds: 10, "the status to show \(position) confirmed") {
                running.pipeline.status.confirmedLSN >= position
            }
            let status = running.pipeline.status
            #expect(try running.stop().isSuccess)
            return status
        }

        func readAll() throws -> [KafkaRecord] {
            let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ExactlyOnceTests.topics)
            defer { consumer.close() }
            return try consumer.readToEnd(timeoutMilliseconds: 30_000)
        }

        func cleanUp() { TestPostgres.shared.dropSlots(of: database) }
    }

    /// Inserts, a multi-row insert (several rows at one WAL position), updates, deletes (with
    /// tombstones), a truncate and logical messages in and out of transactions.
    static let workload = """
        INSERT INTO accounts VALUES (1, 'ada', 100), (2, 'bob', 50), (3, 'cy', 0);
        BEGIN; UPDATE accounts SET balance = balance - 10 WHERE id = 1; UPDATE accounts SET balance = balance + 10 WHERE id = 2;
        SELECT pg_logical_emit_message(true, 'audit', 'transfer 1->2'); COMMIT;
        INSERT INTO accounts SELECT g, 'owner ' || g, g FROM generate_series(10, 60) g;
        DELETE FROM accounts WHERE id = 3;
        SELECT pg_logical_emit_message(false, 'audit', 'outside');
        TRUNCATE accounts;
        INSERT INTO accounts VALUES (7, 'dee', 7);
        """

    @Test func aReplayOfWhatWasDeliveredWritesNothingAgainAndGoesOnAfterIt() throws {
        let replay = try Replay("eos_replay")
        defer { replay.cleanUp() }
        try replay.sql.execute(Self.workload)
        let end = try walInsertLSN(replay.sql)

        let first = try replay.stream(slot: "a", through: end)
        #expect(first.delivery == "exactly_once")
        #expect(first.resumeSkippedEvents == 0)
        #expect(first.kafkaCommittedLSN != .invalid)
        let delivered = try replay.readAll()
        // 3 + 2 + 51 + 1 + 1 creates/updates/deletes, 1 tombstone, 1 truncate, 2 messages, and a BEGIN
        // and END per transaction.
        #expect(delivered.filter { $0.topic == "app.public.accounts" }.count == 3 + 2 + 51 + 1 + 1 + 1 + 1)
        for record in delivered {
            let header = try #require(record.headers.first { $0.key == "swallow.position" }?.value, "\(record.topic) @\(record.offset)")
            let (position, partitions, stream) = try #require(RecordPosition.decode(header))
            #expect(stream == Self.transactionalID[...])
            #expect(partitions == 3)
            let expected = KafkaPartitioner.murmur2(key: record.key ?? position.partitionSeed, partitionCount: 3)
            #expect(record.partition == expected, "\(record.topic) @\(record.offset) is in partition \(record.partition), not \(expected)")
        }
        // Within each partition, positions only grow.
        for (_, records) in Dictionary(grouping: delivered, by: { "\($0.topic)/\($0.partition)" }) {
            let positions = records.sorted { $0.offset < $1.offset }.compactMap { record in
                record.headers.first { $0.key == "swallow.position" }?.value.flatMap { RecordPosition.decode($0)?.0 }
            }
            #expect(positions == positions.sorted())
            #expect(Set(positions).count == positions.count)
        }

        // The same WAL again, from the copy of the slot: everything is found in the topics.
        let second = try replay.stream(slot: "b", through: end)
        #expect(second.resumeSkippedEvents == delivered.count)
        #expect(try replay.readAll().count == delivered.count)

        // Then new changes go out once.
        try replay.sql.execute("INSERT INTO accounts VALUES (8, 'eve', 8); UPDATE accounts SET balance = 9 WHERE id = 8")
        let third = try replay.stream(slot: "b", through: try walInsertLSN(replay.sql))
        #expect(third.resumeSkippedEvents == 0)
        let after = try replay.readAll()
        #expect(after.count == delivered.count + 2 + 2)   // two events, and one transaction's BEGIN and END
    }

    /// An initial snapshot with exactly_once: its rows go out in the same Kafka transactions (a chunk is
    /// done once committed), then the stream; every row once.
    @Test func anInitialSnapshotThenTheStreamGoOutOnce() throws {
        let database = try TestPostgres.shared.makeDatabase("eos_snapshot")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("""
            CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL);
            INSERT INTO accounts SELECT g, 'owner ' || g, g FROM generate_series(1, 5000) g;
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.accounts", partitions: 3)
        let running = RunningPipeline(
            configuration: try testConfiguration(database: database, bootstrapServers: cluster.bootstrapServers,
                                                 tables: ["public.accounts"],
                                                 snapshot: "{mode: initial, max_threads: 2, chunk_rows: 1000}",
                                                 delivery: .exactlyOnce),
            bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the snapshot to finish and the stream to start") { try isStreaming(sql) }
        try sql.execute("INSERT INTO accounts VALUES (5001, 'new', 1); UPDATE accounts SET balance = 0 WHERE id = 1")
        let end = try walInsertLSN(sql)
        try waitUntil(timeoutSeconds: 60, "the changes to be confirmed") { try slotConfirmedLSN(sql, database) >= end }
        #expect(try running.stop().isSuccess)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.accounts"])
        defer { consumer.close() }
        let records = try consumer.readToEnd(timeoutMilliseconds: 30_000)
        let ops = records.map { record in (try? jsonObject(record.value))?["op"] as? String ?? "?" }
        #expect(ops.filter { $0 == "r" }.count == 5000)
        #expect(ops.filter { $0 == "c" }.count == 1)
        #expect(ops.filter { $0 == "u" }.count == 1)
        #expect(Set(records.filter { ((try? jsonObject($0.value))?["op"] as? String) == "r" }.compactMap(\.key)).count == 5000)
    }

    /// An initial snapshot stopped half-way (its exported snapshot is gone with the process that held it)
    /// continues with exactly_once as an incremental snapshot of its unfinished chunks: the rows the first
    /// run delivered are found in the topic and skipped, changes made in between arrive once, in order,
    /// and replaying the topic gives the table.
    @Test func anInterruptedInitialSnapshotContinuesIncrementallyWithEveryRowOnce() throws {
        let database = try TestPostgres.shared.makeDatabase("eos_snapshot_resume")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("""
            \(IncrementalSnapshotTests.signalDDL);
            CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text);
            INSERT INTO items SELECT g, g, 'n' FROM generate_series(1, 60000) g;
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        let topic = "app.public.items"
        try cluster.createTopic(topic, partitions: 8)
        let configuration = try testConfiguration(
            database: database, bootstrapServers: cluster.bootstrapServers, tables: ["public.items"],
            snapshot: "{mode: initial, max_threads: 2, chunk_rows: 1000, signal_table: public.swallow_signal, incremental_chunk_rows: 3000}",
            delivery: .exactlyOnce)
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        func produced() throws -> Int64 { try admin.recordCount(topic: topic, partitions: 8) }

        let first = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "a part of the snapshot to be in the topic") { try produced() >= 8000 }
        #expect(try first.stop().isSuccess)
        let store = SnapshotStateStore(directory: testStateDirectory(database), slot: database)
        let interrupted = try #require(try store.load())
        try #require(interrupted.status == .running, "the snapshot finished before the stop: nothing left to continue")
        let deliveredBefore = try produced()

        // Changes while nothing runs: in chunks done, and in chunks not read yet.
        try sql.execute("""
            UPDATE items SET v = -1 WHERE id IN (1, 2, 30000, 59000);
            DELETE FROM items WHERE id IN (3, 45000);
            INSERT INTO items VALUES (60001, 1, 'new');
            """)

        let second = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic])
        defer { consumer.close() }
        var records: [KafkaRecord] = []
        try waitUntil(timeoutSeconds: 90, "the incremental snapshot to read the rest") {
            records += try consumer.readToEnd(timeoutMilliseconds: 2000)
            let left = try StateFile<IncrementalSnapshotState>(directory: testStateDirectory(database), slot: database).load()?.queue
            return left?.isEmpty == true
        }
        try waitUntilEverythingIsConfirmed(sql)
        let status = second.pipeline.status
        #expect(try second.stop().isSuccess)
        records += try consumer.readToEnd(timeoutMilliseconds: 5000)

        let continued = try #require(try store.load())
        #expect(continued.status == .completed)
        #expect(continued.continuedIncrementally == true)
        // The interrupted chunks' rows the first run delivered were skipped, not sent again.
        #expect(status.resumeSkippedEvents > 0)
        let events = try records.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }.map(TopicEvent.init)
        var reads: [Int: Int] = [:]
        for event in events where event.op == "r" { reads[event.id, default: 0] += 1 }
        let repeated = reads.filter { $0.value > 1 }.keys.sorted()
        #expect(repeated.count == 0, "rows read twice, e.g. \(repeated.prefix(10))")
        #expect(Int64(events.count) > deliveredBefore)
        try expectReplayEqualsTable(events, sql)
    }

    /// Produce errors in the middle of an initial snapshot with exactly_once: the attempt fails, its Kafka
    /// transaction is aborted, and the next attempt reads the unfinished chunks again on the same exported
    /// snapshot, skipping the rows the topic already holds (the mock keeps aborted records visible, so
    /// they count as delivered there): every row once.
    @Test func anInitialSnapshotRetriedAfterBrokerErrorsSendsEveryRowOnce() throws {
        let database = try TestPostgres.shared.makeDatabase("eos_snapshot_retry")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("""
            CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text);
            INSERT INTO items SELECT g, g, 'n' FROM generate_series(1, 40000) g;
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        let topic = "app.public.items"
        try cluster.createTopic(topic, partitions: 8)
        let configuration = try SwallowConfiguration.parse(yaml: testConfigurationYAML(
            database: database, bootstrapServers: cluster.bootstrapServers, tables: ["public.items"],
            extraKafkaProperties: ["message.timeout.ms": "1500", "request.timeout.ms": "500",
                                   "max.in.flight.requests.per.connection": "1", "retry.backoff.ms": "50"],
            snapshot: "{mode: initial, max_threads: 2, chunk_rows: 1000}", delivery: .exactlyOnce), environment: [:])
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        func produced() throws -> Int64 { try admin.recordCount(topic: topic, partitions: 8) }

        let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "a part of the snapshot to be in the topic") { try produced() >= 6000 }
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.produceAPIKey,
                                  errors: Array(repeating: .notEnoughReplicas, count: 400))
        try waitUntil(timeoutSeconds: 120, "the snapshot to finish and the stream to start") { try isStreaming(sql) }
        try waitUntilEverythingIsConfirmed(sql)
        let status = running.pipeline.status
        #expect(try running.stop().isSuccess)
        #expect(status.lastError != nil, "no attempt failed: the errors came too late to test a retry")
        #expect(status.resumeSkippedEvents > 0)

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic])
        defer { consumer.close() }
        let events = try consumer.readToEnd(timeoutMilliseconds: 30_000).map(TopicEvent.init)
        var reads: [Int: Int] = [:]
        for event in events where event.op == "r" { reads[event.id, default: 0] += 1 }
        #expect(reads.count == 40000)
        let repeated = reads.filter { $0.value > 1 }.keys.sorted()
        #expect(repeated.count == 0, "rows read twice, e.g. \(repeated.prefix(10))")
    }

    /// An incremental snapshot with exactly_once: its chunks go out in the stream's Kafka transactions and
    /// advance once committed; every row once when nothing fails.
    @Test func anIncrementalSnapshotGoesOutOnce() throws {
        let database = try TestPostgres.shared.makeDatabase("eos_incremental")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("""
            \(IncrementalSnapshotTests.signalDDL);
            CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL);
            INSERT INTO accounts SELECT g, 'owner ' || g, g FROM generate_series(1, 3000) g;
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.accounts", partitions: 3)
        let running = RunningPipeline(
            configuration: try testConfiguration(database: database, bootstrapServers: cluster.bootstrapServers,
                                                 tables: ["public.accounts"],
                                                 snapshot: "{mode: no_data, signal_table: public.swallow_signal, incremental_chunk_rows: 400}",
                                                 delivery: .exactlyOnce),
            bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }
        try sql.execute("""
            INSERT INTO swallow_signal VALUES ('s1', 'execute-snapshot', '{"data-collections": ["public.accounts"]}')
            """)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.accounts"])
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 3000, timeoutMilliseconds: 60_000)
        #expect(try running.stop().isSuccess)
        let reads = records.filter { ((try? jsonObject($0.value))?["op"] as? String) == "r" }
        #expect(reads.count == 3000)
        #expect(Set(reads.compactMap(\.key)).count == 3000)
    }

    @Test func aPositionHeaderThatDoesNotParseStopsNamingWhereItIs() throws {
        let replay = try Replay("eos_malformed")
        defer { replay.cleanUp() }
        // Another tool's record with a header of Swallow's name, in every partition.
        let producer = try KafkaProducer(bootstrapServers: replay.cluster.bootstrapServers, properties: [:],
                                         onDeliveryReports: { _ in }, onFatalError: { _ in })
        for partition: Int32 in 0..<3 {
            try producer.produce(topic: "app.public.accounts", key: [1], value: [1],
                                 headers: [KafkaHeader(key: "swallow.position", value: Array("not a position".utf8))],
                                 partition: partition, id: UInt64(partition))
        }
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        producer.close()
        try replay.sql.execute("INSERT INTO accounts VALUES (1, 'ada', 100)")

        let running = RunningPipeline(configuration: try replay.configuration(slot: "a"), bootstrapServers: replay.cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 30, "the pipeline to stop") { running.pipeline.status.state == .failed }
        _ = try expectNonRetriableStop(running, code: .kafka, mentioning: ["swallow.position", "app.public.accounts", "offset 0"],
                                       otherwise: "the pipeline went on past a position it could not read")
        // No event was written (a BEGIN record may be, in a transaction that never commits: a real broker
        // hides it, the mock shows it), and nothing was confirmed.
        #expect(try replay.readAll().filter { $0.topic == "app.public.accounts" }.count == 3)
        #expect(try slotConfirmedLSN(replay.sql, "\(replay.database)_a") < (try walInsertLSN(replay.sql)))
    }

    @Test func aTopicWhosePartitionCountChangedIsSentAgainRatherThanSkipped() throws {
        let replay = try Replay("eos_partitions")
        defer { replay.cleanUp() }
        // A record of this stream placed when the topic had 5 partitions, far ahead of anything real:
        // by the positions alone, everything would be skipped.
        let producer = try KafkaProducer(bootstrapServers: replay.cluster.bootstrapServers, properties: [:],
                                         onDeliveryReports: { _ in }, onFatalError: { _ in })
        let ahead = RecordPosition(commitLSN: LSN(UInt64.max - 1), changeLSN: LSN(1))
        for partition: Int32 in 0..<3 {
            try producer.produce(topic: "app.public.accounts", key: [2], value: [2],
                                 headers: [KafkaHeader(key: "swallow.position",
                                                       value: ahead.encode(stream: Self.transactionalID, partitionCount: 5))],
                                 partition: partition, id: UInt64(partition))
        }
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        producer.close()
        try replay.sql.execute("INSERT INTO accounts VALUES (1, 'ada', 100), (2, 'bob', 50)")
        let status = try replay.stream(slot: "a", through: try walInsertLSN(replay.sql))
        #expect(status.resumeSkippedEvents == 0)
        let accounts = try replay.readAll().filter { $0.topic == "app.public.accounts" }
        #expect(accounts.count == 3 + 2)
    }

    /// Another instance initialising the same transactional id fences this one; on a real broker its
    /// next request fails with PRODUCER_FENCED. The mock does not fence, so the broker's answer is injected:
    /// EndTxn (API key 26) refused with PRODUCER_FENCED (90).
    @Test func aFencedProducerStopsSayingAnotherInstanceTookOver() throws {
        let replay = try Replay("eos_fenced")
        defer { replay.cleanUp() }
        try replay.sql.execute("INSERT INTO accounts VALUES (1, 'ada', 100)")
        // Taken once: the server's insert position moves on with the other tests' WAL.
        let first = try walInsertLSN(replay.sql)
        let running = RunningPipeline(configuration: try replay.configuration(slot: "a"), bootstrapServers: replay.cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 30, "the first row to be confirmed") { [sql = replay.sql, database = replay.database] in
            try slotConfirmedLSN(sql, "\(database)_a") >= first
        }
        replay.cluster.pushRequestErrors(apiKey: 26, errors: Array(repeating: .librdkafka(90), count: 20))
        let xid = try insertReturningXID(replay.sql, "INSERT INTO accounts VALUES (2, 'bob', 50)")
        try waitUntil(timeoutSeconds: 30, "the pipeline to stop") { running.pipeline.status.state == .failed }
        _ = try expectNonRetriableStop(running, code: .producerFatal, mentioning: ["took over", "fenced", "kafka.transactional_id"],
                                       otherwise: "the pipeline went on after it was fenced")
        #expect(try transactionIsStillInSlot(replay.sql, xid: xid, slot: "\(replay.database)_a"),
                "the change a fenced producer sent was confirmed")
    }

    /// A fatal producer error that is not a fencing (librdkafka 2.0.2 can raise one after a disconnect):
    /// a new producer takes over and the stream goes on, sending nothing twice. EndTxn (26) answered
    /// once with INVALID_TXN_STATE (48), which librdkafka treats as fatal.
    @Test func aFatalProducerErrorGetsANewProducerAndNothingTwice() throws {
        let replay = try Replay("eos_fatal")
        defer { replay.cleanUp() }
        try replay.sql.execute("INSERT INTO accounts VALUES (1, 'ada', 100)")
        // Taken once: the server's insert position moves on with the other tests' WAL.
        let first = try walInsertLSN(replay.sql)
        let running = RunningPipeline(configuration: try replay.configuration(slot: "a"), bootstrapServers: replay.cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 30, "the first row to be confirmed") { [sql = replay.sql, database = replay.database] in
            try slotConfirmedLSN(sql, "\(database)_a") >= first
        }
        replay.cluster.pushRequestErrors(apiKey: 26, errors: [.librdkafka(48)])
        try replay.sql.execute("INSERT INTO accounts SELECT g, 'o', g FROM generate_series(2, 40) g")
        let end = try walInsertLSN(replay.sql)
        try waitUntil(timeoutSeconds: 60, "the rest to be confirmed") { [sql = replay.sql, database = replay.database] in
            try slotConfirmedLSN(sql, "\(database)_a") >= end
        }
        #expect(try running.stop().isSuccess)
        let accounts = try replay.readAll().filter { $0.topic == "app.public.accounts" }
        #expect(accounts.count == 40)
        #expect(Set(accounts.map { $0.key ?? [] }).count == 40)
    }

    @Test func aBrokerRefusingTheTransactionalIDStopsNamingItAndTheFix() throws {
        let replay = try Replay("eos_acl")
        defer { replay.cleanUp() }
        // InitProducerId (API key 22) answered with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53).
        replay.cluster.pushRequestErrors(apiKey: 22, errors: Array(repeating: .librdkafka(53), count: 50))
        try replay.sql.execute("INSERT INTO accounts VALUES (1, 'ada', 100)")
        let running = RunningPipeline(configuration: try replay.configuration(slot: "a"), bootstrapServers: replay.cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 30, "the pipeline to stop") { running.pipeline.status.state == .failed }
        _ = try expectNonRetriableStop(running, code: .kafka, mentioning: [Self.transactionalID, "transactions", "delivery: at_least_once"],
                                       otherwise: "the pipeline streamed without a transactional producer")
        #expect(try replay.readAll().isEmpty)
    }
}

/// The slot's `confirmed_flush_lsn` (invalid when it has none).
func slotConfirmedLSN(_ sql: PostgresConnection, _ slot: String) throws -> LSN {
    let result = try sql.execute("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '\(slot)'")
    return result.rows.first.flatMap { $0[0] }.flatMap(LSN.init(string:)) ?? .invalid
}
