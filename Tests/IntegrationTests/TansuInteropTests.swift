import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// Swallow against an independent Kafka-compatible broker, Tansu 0.6 (`TestTansu`), with real PostgreSQL:
/// what librdkafka's mock cluster cannot show. `topic_creation`'s CreateTopics (partitions, replication
/// factor, configs) read back through Metadata and DescribeConfigs, `swallow check`'s comparison of an
/// existing topic's configs, and plain at-least-once streaming end to end.
///
/// Runs only through scripts/interop-tansu.sh (which scripts/test.sh calls): it needs the tansu binary
/// and a newer librdkafka than Debian 12's. Each test has a broker of its own, so topic names (`app.*`)
/// do not collide. Where Tansu departs from Kafka (it refuses no replication factor, ignores
/// `validate_only`, reports no broker configs) the tests say so; docs/topics.md lists it.
@Suite(.integrationTest) struct TansuInteropTests {
    private static let schema = """
        CREATE TABLE orders (id int PRIMARY KEY, note text);
        CREATE TABLE audit_login (id int PRIMARY KEY, who text);
        CREATE TABLE kept (id int PRIMARY KEY);
        CREATE TABLE clicks (id int PRIMARY KEY);
        """
    private static let tables = ["public.orders", "public.audit_login", "public.kept", "public.clicks"]
    private static let section = """
        topic_creation:
          default.partitions: 2
          default.replication.factor: 1
          default.cleanup.policy: compact
          groups: audit, bulk
          audit.include: 'app\\.public\\.audit_.*'
          audit.partitions: 3
          audit.replication.factor: 3
          audit.retention.ms: 86400000
          bulk.include: 'app\\.public\\.clicks'
          bulk.partitions: -1
          bulk.replication.factor: -1
        """

    private struct Setup {
        let database: String
        let sql: PostgresConnection
        let broker: TestTansu
        let admin: KafkaAdmin
        let configuration: SwallowConfiguration

        init(_ name: String, schema: String = TansuInteropTests.schema, tables: [String] = TansuInteropTests.tables,
             events: String = "{provide.transaction.metadata: true}", sections: String = TansuInteropTests.section) throws {
            database = try TestPostgres.shared.makeDatabase(name)
            sql = try TestPostgres.shared.connect(database)
            try sql.execute(schema)
            broker = try TestTansu()
            admin = try KafkaAdmin(bootstrapServers: broker.bootstrapServers)
            configuration = try SwallowConfiguration.parse(
                yaml: testConfigurationYAML(database: database, bootstrapServers: broker.bootstrapServers, tables: tables,
                                            events: events, sections: sections),
                environment: [:])
        }

        /// The cluster's topics, from a whole-cluster Metadata request (which creates nothing).
        func topics() throws -> [String: KafkaClusterMetadata.Topic] {
            Dictionary(uniqueKeysWithValues: try admin.metadata(timeoutMilliseconds: 10_000).topics.map { ($0.name, $0) })
        }

        /// Creates a topic through CreateTopics, as an administrator would.
        func create(_ topic: String, partitions: Int32, replicationFactor: Int32 = 1, configs: [String: String]) throws {
            let results = try admin.createTopics([NewTopicSpecification(name: topic, partitions: partitions,
                                                                        replicationFactor: replicationFactor, configs: configs)],
                                                 timeoutMilliseconds: 30_000)
            #expect(results.count == 1 && results[0].error == nil, "creating \(topic): \(results)")
        }

        func cleanUp() {
            admin.close()
            broker.stop()
            TestPostgres.shared.dropSlots(of: database)
        }
    }

    @Test func topicsAreCreatedThroughCreateTopicsWithTheirPartitionsAndConfigsBeforeTheirFirstRecord() throws {
        let setup = try Setup("tansu_topic_creation")
        defer { setup.cleanUp() }
        try setup.create("app.public.kept", partitions: 1, configs: ["cleanup.policy": "delete"])
        let running = RunningPipeline(configuration: setup.configuration, bootstrapServers: setup.broker.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the slot to be streaming") { try isStreaming(setup.sql) }
        // Nothing is created before a record goes to it.
        #expect(try Set(setup.topics().keys) == ["app.public.kept"])

        try setup.sql.execute("""
            BEGIN;
            INSERT INTO orders VALUES (1, 'first'), (2, 'second');
            INSERT INTO audit_login VALUES (1, 'ada');
            INSERT INTO kept VALUES (1);
            INSERT INTO clicks VALUES (1);
            COMMIT;
            """)
        let names = ["app.public.orders", "app.public.audit_login", "app.public.kept", "app.public.clicks", "app.transaction"]
        try waitUntil(timeoutSeconds: 60, "every topic to exist") { Set(try setup.topics().keys) == Set(names) }
        let topics = try setup.topics()
        // The group's partitions, as the broker reports them (Tansu creates a topic on first use with 4,
        // so these were created by Swallow's CreateTopics first); the existing topic keeps its one
        // partition. -1 (CreateTopics v4+) leaves both to the broker: Tansu's defaults are 3 partitions
        // and 1 replica.
        #expect(topics.mapValues(\.partitionCount)
            == ["app.public.orders": 2, "app.public.audit_login": 3, "app.public.kept": 1, "app.public.clicks": 3,
                "app.transaction": 2])
        #expect(topics["app.public.orders"]?.replicationFactor == 1)
        #expect(topics["app.public.clicks"]?.replicationFactor == 1)
        // Tansu refuses no replication factor: on its one broker, 3 is created as three replicas on the
        // same node (Kafka would refuse INVALID_REPLICATION_FACTOR).
        #expect(topics["app.public.audit_login"]?.replicationFactor == 3)

        // The configs the broker applied, read back through DescribeConfigs. (Tansu lists the configs a
        // topic was created with, and no broker defaults.)
        let configs = try setup.admin.topicConfigurations(names, timeoutMilliseconds: 30_000)
        let orders = try #require(try configs["app.public.orders"]?.get())
        let login = try #require(try configs["app.public.audit_login"]?.get())
        let kept = try #require(try configs["app.public.kept"]?.get())
        let transaction = try #require(try configs["app.transaction"]?.get())
        #expect(orders["cleanup.policy"] == "compact")
        #expect(transaction["cleanup.policy"] == "compact")
        #expect(login["retention.ms"] == "86400000")
        // A group's own configs only: not the default group's compaction.
        #expect(login["cleanup.policy"] != "compact")
        // The existing topic is left alone.
        #expect(kept["cleanup.policy"] == "delete")

        let consumer = try KafkaConsumer(bootstrapServers: setup.broker.bootstrapServers, topics: names,
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        // 2 orders, 1 login, 1 kept row, 1 click, and the transaction's BEGIN and END.
        let records = try consumer.read(atLeast: 7, timeoutMilliseconds: 60_000)
        #expect(Dictionary(grouping: records, by: \.topic).mapValues(\.count)
            == ["app.public.orders": 2, "app.public.audit_login": 1, "app.public.kept": 1, "app.public.clicks": 1,
                "app.transaction": 2])
        #expect(Set(records.filter { $0.topic == "app.public.orders" }.map { String(decoding: $0.key ?? [], as: UTF8.self) })
            == [#"{"id":1}"#, #"{"id":2}"#])
        #expect(try running.stop().isSuccess)
    }

    @Test func checkComparesAnExistingTopicsPartitionsAndConfigsThroughDescribeConfigs() throws {
        let setup = try Setup("tansu_topic_check")
        defer { setup.cleanUp() }
        try setup.create("app.public.orders", partitions: 1, configs: ["cleanup.policy": "delete"])
        // As the audit group would create it.
        try setup.create("app.public.audit_login", partitions: 3, replicationFactor: 3, configs: ["retention.ms": "86400000"])
        let settings = PipelineSettings(configuration: setup.configuration, bootstrapServers: setup.broker.bootstrapServers,
                                        connectorVersion: "test")
        let checks = Preflight.run(settings: settings, kafka: .servers(setup.broker.bootstrapServers),
                                   kafkaTimeoutMilliseconds: 20_000)
        let lines = checks.map(\.line).joined(separator: "\n")

        let orders = try #require(checks.first { $0.name == "kafka topic app.public.orders" }, "\(lines)")
        #expect(orders.outcome == .warn)
        #expect(orders.found.contains("partitions is 1 where topic_creation.default says 2"), "\(orders.found)")
        // The config found on the broker, not merely the one asked for.
        #expect(orders.found.contains("cleanup.policy is delete where topic_creation.default says compact"), "\(orders.found)")
        #expect(!orders.found.contains("not compared"), "\(orders.found)")
        #expect(orders.found.contains("Swallow leaves existing topics alone"))

        let matching = try #require(checks.first { $0.name == "kafka topics" }, "\(lines)")
        #expect(matching.outcome == .pass, "\(matching.line)")
        #expect(matching.found.contains("app.public.audit_login"))
        #expect(!matching.found.contains("not compared"), "\(matching.found)")

        let creation = try #require(checks.first { $0.name == "kafka topic creation" }, "\(lines)")
        #expect(creation.outcome == .pass, "\(creation.line)")
        #expect(creation.found.contains("the cluster validated creating them"), "\(creation.found)")
        // Tansu 0.6 ignores CreateTopics' validate_only: the validation created the topics (with the
        // settings topic_creation gives them). Kafka creates nothing; docs/topics.md warns about this.
        let topics = try setup.topics()
        #expect(topics["app.public.kept"]?.partitionCount == 2)
        #expect(topics["app.transaction"]?.partitionCount == 2)
        #expect(topics["app.public.orders"]?.partitionCount == 1)
    }

    @Test func atLeastOnceStreamingDeliversTheTableThroughTansu() throws {
        let setup = try Setup("tansu_streaming", schema: "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)",
                              tables: ["public.items"], events: "{}", sections: "")
        defer { setup.cleanUp() }
        // Rows for the initial snapshot, then changes while streaming.
        try setup.sql.execute("INSERT INTO items SELECT i, i, 'snapshot ' || i FROM generate_series(1, 100) i")
        let running = RunningPipeline(configuration: setup.configuration, bootstrapServers: setup.broker.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the slot to be streaming") { try isStreaming(setup.sql) }
        for batch in 0 ..< 5 {
            try setup.sql.execute("INSERT INTO items SELECT i, i, NULL FROM generate_series(\(101 + batch * 40), \(140 + batch * 40)) i")
        }
        try setup.sql.execute("UPDATE items SET v = v + 1000, note = 'updated' WHERE id % 3 = 0")
        try setup.sql.execute("DELETE FROM items WHERE id % 7 = 0")
        try setup.sql.execute("UPDATE items SET v = -v WHERE id BETWEEN 90 AND 110")
        try waitUntilEverythingIsConfirmed(setup.sql, timeoutSeconds: 120)
        #expect(try running.stop().isSuccess)

        let consumer = try KafkaConsumer(bootstrapServers: setup.broker.bootstrapServers, topics: ["app.public.items"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.readToEnd(timeoutMilliseconds: 60_000)
        let events = try records.map(TopicEvent.init)
        // Every change at least once: 100 snapshot reads, 200 inserts, and the updates and deletes.
        #expect(events.count >= 300)
        try expectReplayEqualsTable(events, setup.sql, context: "through Tansu")
    }
}
