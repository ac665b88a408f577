import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import SwallowCore
import Testing
@testable import Pipeline

/// `topic_routing` with `delivery: exactly_once`: several tables share a topic, and a replay still finds
/// every delivered record in it (positions are WAL positions, compared per partition, whichever table a
/// record came from), and the keys of the tables' colliding rows stay apart.
@Suite(.integrationTest) struct RoutingExactlyOnceTests {
    static let topic = "app.public.shards"

    func configuration(_ database: String, _ cluster: MockKafkaCluster, slot: String, snapshot: String) throws -> SwallowConfiguration {
        try SwallowConfiguration.parse(yaml: """
            postgres: {host: 127.0.0.1, port: \(TestPostgres.shared.port), dbname: \(database), user: postgres, sslmode: disable}
            slot: {name: \(database)_\(slot), create: false}
            publication: {name: swallow, create: false}
            tables: [public.shard_1, public.shard_2]
            topic_prefix: app
            kafka: {bootstrap_servers: "\(cluster.bootstrapServers)", transactional_id: routing-eos}
            delivery: exactly_once
            status_interval_ms: 200
            snapshot: \(snapshot)
            state_dir: \(testStateDirectory(database + slot))
            topic_routing: {topic.regex: 'app\\.public\\.shard_(\\d+)', topic.replacement: \(Self.topic)}
            """, environment: [:])
    }

    @Test func aReplayOfRoutedTablesWritesNothingAgain() throws {
        let database = try TestPostgres.shared.makeDatabase("eos_routing")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("""
            CREATE TABLE shard_1 (id int PRIMARY KEY, v text);
            CREATE TABLE shard_2 (id int PRIMARY KEY, v text);
            CREATE PUBLICATION swallow FOR TABLE shard_1, shard_2;
            """)
        try sql.execute("SELECT pg_create_logical_replication_slot('\(database)_a', 'pgoutput')")
        try sql.execute("SELECT pg_copy_logical_replication_slot('\(database)_a', '\(database)_b')")
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic(Self.topic, partitions: 3)
        // Both shards have ids 1...40: the same keys but for the key field.
        try sql.execute("""
            INSERT INTO shard_1 SELECT g, 'one ' || g FROM generate_series(1, 40) g;
            INSERT INTO shard_2 SELECT g, 'two ' || g FROM generate_series(1, 40) g;
            BEGIN; UPDATE shard_1 SET v = 'moved' WHERE id = 1; UPDATE shard_2 SET v = 'moved' WHERE id = 1; COMMIT;
            DELETE FROM shard_2 WHERE id = 2;
            """)
        let snapshot = "{mode: no_data}"

        func stream(slot: String) throws -> PipelineStatus {
            let running = RunningPipeline(configuration: try configuration(database, cluster, slot: slot, snapshot: snapshot),
                                          bootstrapServers: cluster.bootstrapServers)
            let end = try walInsertLSN(sql)
            try waitUntil(timeoutSeconds: 60, "slot \(slot) to confirm \(end)") { try slotConfirmedLSN(sql, "\(database)_\(slot)") >= end }
            try waitUntil(timeoutSeconds: 10, "the status") { running.pipeline.status.confirmedLSN >= end }
            let status = running.pipeline.status
            #expect(try running.stop().isSuccess)
            return status
        }
        func readAll() throws -> [KafkaRecord] {
            let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [Self.topic])
            defer { consumer.close() }
            return try consumer.readToEnd(timeoutMilliseconds: 30_000)
        }

        _ = try stream(slot: "a")
        let delivered = try readAll()
        // 80 inserts, 2 updates, 1 delete and its tombstone.
        #expect(delivered.count == 80 + 2 + 2, "\(delivered.count)")
        let keys = try delivered.filter { try jsonObject($0.value)?["op"] as? String == "c" }.map { String(decoding: $0.key ?? [], as: UTF8.self) }
        #expect(Set(keys).count == 80, "colliding ids of the two shards keep keys of their own")

        // The same WAL again from the copy of the slot: every record is found in the shared topic.
        let second = try stream(slot: "b")
        #expect(second.resumeSkippedEvents == delivered.count)
        #expect(try readAll().count == delivered.count)
        // Then new changes of both tables go out once.
        try sql.execute("INSERT INTO shard_1 VALUES (41, 'new'); INSERT INTO shard_2 VALUES (41, 'new')")
        let third = try stream(slot: "b")
        #expect(third.resumeSkippedEvents == 0)
        #expect(try readAll().count == delivered.count + 2)
    }

    /// An initial snapshot of two routed tables whose ids collide, retried after broker errors: the rows
    /// already in the shared topic are found (by their unit and routed key) and skipped, every row once.
    @Test func anInitialSnapshotOfRoutedTablesRetriedAfterBrokerErrorsSendsEveryRowOnce() throws {
        let database = try TestPostgres.shared.makeDatabase("eos_routing_snap")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("""
            CREATE TABLE items_1 (id int PRIMARY KEY, v int NOT NULL);
            CREATE TABLE items_2 (id int PRIMARY KEY, v int NOT NULL);
            INSERT INTO items_1 SELECT g, g FROM generate_series(1, 20000) g;
            INSERT INTO items_2 SELECT g, g FROM generate_series(1, 20000) g;
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        let topic = "app.public.items"
        try cluster.createTopic(topic, partitions: 8)
        let configuration = try SwallowConfiguration.parse(yaml: testConfigurationYAML(
            database: database, bootstrapServers: cluster.bootstrapServers, tables: ["public.items_1", "public.items_2"],
            extraKafkaProperties: ["message.timeout.ms": "1500", "request.timeout.ms": "500",
                                   "max.in.flight.requests.per.connection": "1", "retry.backoff.ms": "50"],
            snapshot: "{mode: initial, max_threads: 2, chunk_rows: 1000}", delivery: .exactlyOnce,
            sections: #"topic_routing: {topic.regex: 'app\.public\.items_\d+', topic.replacement: app.public.items}"# + "\n"),
            environment: [:])
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        func produced() throws -> Int64 { try admin.recordCount(topic: topic, partitions: 8) }

        let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "a part of the snapshot to be in the topic") { try produced() >= 6000 }
        // Broker errors until an attempt has failed, then no more: the snapshot is retried on its exported
        // snapshot, whose transaction makes every slot creation in the cluster (the other tests') wait for
        // as long as errors remain. (Left to run out, 400 errors held them up for two minutes on a
        // loaded machine.)
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.produceAPIKey,
                                  errors: Array(repeating: .notEnoughReplicas, count: 400))
        try waitUntil(timeoutSeconds: 60, "an attempt to fail on the broker's errors") {
            running.pipeline.status.lastError != nil
        }
        cluster.clearRequestErrors(apiKey: MockKafkaCluster.produceAPIKey)
        try waitUntil(timeoutSeconds: 120, "the snapshot to finish and the stream to start") { try isStreaming(sql) }
        try waitUntilEverythingIsConfirmed(sql)
        let status = running.pipeline.status
        #expect(try running.stop().isSuccess)
        #expect(status.lastError != nil, "no attempt failed: the errors came too late to test a retry")
        #expect(status.resumeSkippedEvents > 0)

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic])
        defer { consumer.close() }
        var reads: [String: Int] = [:]
        for record in try consumer.readToEnd(timeoutMilliseconds: 30_000) {
            reads[String(decoding: record.key ?? [], as: UTF8.self), default: 0] += 1
        }
        #expect(reads.count == 40000, "every row of both tables, under keys of their own")
        let repeated = reads.filter { $0.value > 1 }.keys.sorted()
        #expect(repeated.isEmpty, "rows read twice, e.g. \(repeated.prefix(5))")
    }
}
