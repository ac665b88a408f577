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
}
