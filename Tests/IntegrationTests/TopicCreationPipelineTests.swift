import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// `topic_creation` with real PostgreSQL and the mock cluster: topics created with their group's settings
/// before their first record, existing topics left alone, a refusal that stops Swallow, and `swallow
/// check`'s mismatch warnings.
///
/// librdkafka 2.0.2's mock answers neither CreateTopics nor DescribeConfigs, so Swallow creates topics
/// through the mock's own interface here (as with `bootstrap_servers: embedded`). What is verified on
/// the cluster: the partition counts (through Metadata; a topic the mock created by itself on first use
/// would have 4), that nothing else was created first, and that existing topics keep theirs. Topic
/// configs are verified as Swallow asked for them (the mock records the requests), not as a broker
/// applied them; the replication factor refusal is the mock answering as Kafka does.
@Suite(.serialized) struct TopicCreationPipelineTests {
    private static let schema = """
        CREATE TABLE orders (id int PRIMARY KEY, note text);
        CREATE TABLE audit_login (id int PRIMARY KEY, who text);
        CREATE TABLE kept (id int PRIMARY KEY);
        """
    private static let tables = ["public.orders", "public.audit_login", "public.kept"]

    private static func section(replicationFactor: Int = 1) -> String {
        """
        topic_creation:
          default.partitions: 2
          default.replication.factor: \(replicationFactor)
          default.cleanup.policy: compact
          groups: audit
          audit.include: 'app\\.public\\.audit_.*'
          audit.partitions: 3
          audit.retention.ms: 86400000
        """
    }

    private struct Setup {
        let database: String
        let sql: PostgresConnection
        let cluster: MockKafkaCluster
        let configuration: SwallowConfiguration
        let admin: KafkaAdmin

        init(_ name: String, replicationFactor: Int = 1) throws {
            database = try TestPostgres.shared.makeDatabase(name)
            sql = try TestPostgres.shared.connect(database)
            try sql.execute(TopicCreationPipelineTests.schema)
            cluster = try MockKafkaCluster(brokers: 1)
            configuration = try Self.configuration(database, cluster, replicationFactor: replicationFactor)
            admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        }

        static func configuration(_ database: String, _ cluster: MockKafkaCluster,
                                  replicationFactor: Int) throws -> SwallowConfiguration {
            try SwallowConfiguration.parse(
                yaml: testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers,
                                            tables: TopicCreationPipelineTests.tables,
                                            events: "{provide.transaction.metadata: true}",
                                            sections: TopicCreationPipelineTests.section(replicationFactor: replicationFactor)),
                environment: [:])
        }

        /// Partition counts by topic, from a whole-cluster Metadata request (which creates nothing).
        func partitions() throws -> [String: Int] {
            Dictionary(uniqueKeysWithValues: try admin.metadata(timeoutMilliseconds: 5_000).topics.map { ($0.name, $0.partitionCount) })
        }

        func cleanUp() {
            admin.close()
            TestPostgres.shared.dropSlots(of: database)
        }
    }

    @Test func topicsAreCreatedWithTheirGroupsSettingsBeforeTheirFirstRecordAndExistingOnesAreLeftAlone() throws {
        let setup = try Setup("topic_creation")
        defer { setup.cleanUp() }
        try setup.cluster.createTopic("app.public.kept", partitions: 1)
        let running = RunningPipeline(configuration: setup.configuration, bootstrapServers: setup.cluster.bootstrapServers,
                                      embeddedCluster: setup.cluster)
        try waitUntil("the slot to be streaming") { try isStreaming(setup.sql) }
        // Nothing is created before a record goes to it.
        #expect(try setup.partitions() == ["app.public.kept": 1])

        try setup.sql.execute("""
            BEGIN;
            INSERT INTO orders VALUES (1, 'first'), (2, 'second');
            INSERT INTO audit_login VALUES (1, 'ada');
            INSERT INTO kept VALUES (1);
            COMMIT;
            """)
        let topics = ["app.public.orders", "app.public.audit_login", "app.public.kept", "app.transaction"]
        try waitUntil("every topic to exist") { Set(try setup.partitions().keys) == Set(topics) }
        // Created with the group's partitions, not the 4 the mock gives a topic it creates on first use;
        // the topic that existed keeps its one partition.
        #expect(try setup.partitions() == ["app.public.orders": 2, "app.public.audit_login": 3, "app.public.kept": 1,
                                           "app.transaction": 2])
        let consumer = try KafkaConsumer(bootstrapServers: setup.cluster.bootstrapServers, topics: topics,
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        // 2 orders, 1 login, 1 kept row, and the transaction's BEGIN and END.
        let records = try consumer.read(atLeast: 6, timeoutMilliseconds: 30_000)
        #expect(Dictionary(grouping: records, by: \.topic).mapValues(\.count)
            == ["app.public.orders": 2, "app.public.audit_login": 1, "app.public.kept": 1, "app.transaction": 2])
        // The requests, once every record is in (the existing topic's record, hence its look-up, may come
        // after the other topics exist).
        let requests = Dictionary(uniqueKeysWithValues: setup.cluster.creationRequests.map { ($0.name, $0) })
        #expect(requests["app.public.orders"] == NewTopicSpecification(name: "app.public.orders", partitions: 2, replicationFactor: 1,
                                                                        configs: ["cleanup.policy": "compact"]))
        // A group's own configs only: it does not inherit the default group's.
        #expect(requests["app.public.audit_login"] == NewTopicSpecification(name: "app.public.audit_login", partitions: 3,
                                                                             replicationFactor: 1, configs: ["retention.ms": "86400000"]))
        #expect(requests["app.transaction"]?.configs == ["cleanup.policy": "compact"])
        // The existing topic: looked at (the creation answered TOPIC_ALREADY_EXISTS), left as it was.
        #expect(requests["app.public.kept"] != nil)
        // Each topic is asked for once, whatever the number of records.
        #expect(setup.cluster.creationRequests.count == 4)
        #expect(try running.stop().isSuccess)
    }

    @Test func aRefusedCreationStopsNamingTheTopicTheBrokersMessageAndTheFix() throws {
        // Replication factor 3 on a cluster of one broker.
        let setup = try Setup("topic_creation_refused", replicationFactor: 3)
        defer { setup.cleanUp() }
        let running = RunningPipeline(configuration: setup.configuration, bootstrapServers: setup.cluster.bootstrapServers,
                                      embeddedCluster: setup.cluster)
        try waitUntil("the slot to be streaming") { try isStreaming(setup.sql) }
        try setup.sql.execute("INSERT INTO orders VALUES (1, 'first')")
        let afterCommit = try walInsertLSN(setup.sql)
        try waitUntil("the pipeline to stop") { running.hasEnded }
        let error = try expectNonRetriableStop(
            running, code: .kafka,
            mentioning: ["app.transaction", "INVALID_REPLICATION_FACTOR", "Replication factor: 3 larger than available brokers: 1.",
                         "topic_creation.default.replication.factor"],
            otherwise: "the pipeline ended well although the topic could not be created")
        #expect(error != nil)
        // Nothing was created, and the transaction was not confirmed: once the configuration is fixed, a
        // restart delivers it.
        #expect(try confirmedFlushLSN(setup.sql) < afterCommit)
        #expect(try setup.partitions().isEmpty)
        let fixed = RunningPipeline(
            configuration: try Setup.configuration(setup.database, setup.cluster, replicationFactor: 1),
            bootstrapServers: setup.cluster.bootstrapServers, embeddedCluster: setup.cluster)
        try waitUntil("the topics to be created") { try setup.partitions()["app.public.orders"] == 2 }
        let consumer = try KafkaConsumer(bootstrapServers: setup.cluster.bootstrapServers, topics: ["app.public.orders"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 1, timeoutMilliseconds: 30_000)
        #expect(records.count == 1)
        #expect(String(decoding: records.first?.key ?? [], as: UTF8.self) == #"{"id":1}"#)
        #expect(try fixed.stop().isSuccess)
    }

    @Test func checkWarnsAboutAnExistingTopicThatDiffersAndListsTheTopicsItWouldCreate() throws {
        let setup = try Setup("topic_creation_check")
        defer { setup.cleanUp() }
        try setup.cluster.createTopic("app.public.orders", partitions: 1)
        try setup.cluster.createTopic("app.public.audit_login", partitions: 3)
        var settings = PipelineSettings(configuration: setup.configuration, bootstrapServers: setup.cluster.bootstrapServers,
                                        connectorVersion: "test")
        settings.embeddedCluster = setup.cluster
        let checks = Preflight.run(settings: settings, kafka: .servers(setup.cluster.bootstrapServers))
        let lines = checks.map(\.line).joined(separator: "\n")

        let orders = try #require(checks.first { $0.name == "kafka topic app.public.orders" }, "\(lines)")
        #expect(orders.outcome == .warn)
        #expect(orders.found.contains("partitions is 1 where topic_creation.default says 2"), "\(orders.found)")
        // The mock answers no DescribeConfigs: configs are said not to be compared, not passed.
        #expect(orders.found.contains("configs not compared: the cluster did not answer DescribeConfigs"), "\(orders.found)")
        #expect(orders.found.contains("Swallow leaves existing topics alone"))
        #expect(orders.fix?.contains("kafka-configs.sh") == true)

        let matching = try #require(checks.first { $0.name == "kafka topics" }, "\(lines)")
        #expect(matching.outcome == .pass)
        #expect(matching.found.contains("app.public.audit_login"))

        let creation = try #require(checks.first { $0.name == "kafka topic creation" }, "\(lines)")
        #expect(creation.outcome == .warn)
        #expect(creation.found.contains("app.public.kept (group default: 2 partitions, replication factor 1, cleanup.policy=compact)"), "\(creation.found)")
        #expect(creation.found.contains("app.transaction"))
        #expect(creation.found.contains("not validated"))
        // check changes nothing.
        #expect(try setup.partitions() == ["app.public.orders": 1, "app.public.audit_login": 3])
    }

    @Test func everyTopicSwallowWritesIsCreatedHeartbeatsMessagesAndDeadLetters() throws {
        let database = try TestPostgres.shared.makeDatabase("topic_creation_all")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("CREATE TABLE docs (id int PRIMARY KEY, body text)")
        let cluster = try MockKafkaCluster(brokers: 1)
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        let yaml = try OversizedEventTests.withOversizedEvents(
            testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers, tables: ["public.docs"],
                                  extraKafkaProperties: ["message.max.bytes": OversizedEventTests.lowLimit],
                                  sections: Self.section() + "\nheartbeat: {interval_ms: 200}"),
            mode: "dead_letter")
        let running = RunningPipeline(configuration: try SwallowConfiguration.parse(yaml: yaml, environment: [:]),
                                      bootstrapServers: cluster.bootstrapServers, embeddedCluster: cluster)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }
        try sql.execute("INSERT INTO docs VALUES (1, \(OversizedEventTests.bigBody))")
        try sql.execute("SELECT pg_logical_emit_message(true, 'audit', 'hello')")
        let expected: Set<String> = ["app.public.docs", "app.dead-letter", "app.message", "__debezium-heartbeat.app"]
        try waitUntil("every topic to exist") {
            Set(try admin.metadata(timeoutMilliseconds: 5_000).topics.map(\.name)) == expected
        }
        // The default group's two partitions everywhere: each was created before its first record.
        #expect(try admin.metadata(timeoutMilliseconds: 5_000).topics.allSatisfy { $0.partitionCount == 2 })
        #expect(Set(cluster.creationRequests.map(\.name)) == expected)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.dead-letter", "app.message"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 2, timeoutMilliseconds: 30_000)
        #expect(Set(records.map(\.topic)) == ["app.dead-letter", "app.message"])
        #expect(try running.stop().isSuccess)
    }
}
