import Avro
import Foundation
import Kafka
import PGReplication
import SwallowConfig
import Testing

/// `topic_routing` end to end beyond the golden runs (which stream only): an initial snapshot of routed
/// tables, and Avro, whose subjects follow the routed topic.
@Suite(.integrationTest) struct TopicRoutingTests {
    static let schema = """
        CREATE TABLE shard_1 (id int PRIMARY KEY, v text);
        CREATE TABLE shard_2 (id int PRIMARY KEY, v text);
        INSERT INTO shard_1 VALUES (1, 'one'), (2, 'two');
        INSERT INTO shard_2 VALUES (1, 'uno');
        """
    static let routing = #"topic_routing: {topic.regex: 'app\.public\.shard_(\d+)', topic.replacement: app.public.shards, key.field.name: shard, key.field.regex: 'app\.public\.shard_(\d+)', key.field.replacement: 's$1'}"#

    @Test func snapshotRowsOfRoutedTablesGoToTheSharedTopicWithTheKeyField() throws {
        let scenario = try StreamingScenario("route_snap", schema: Self.schema, tables: ["public.shard_1", "public.shard_2"],
                                             topics: ["app.public.shards"], sections: Self.routing + "\n")
        defer { scenario.cleanUp() }
        try scenario.sql.execute("INSERT INTO shard_2 VALUES (2, 'dos')")
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers, topics: ["app.public.shards"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 4, timeoutMilliseconds: 30_000)
        #expect(try scenario.running.stop().get() == ())
        let keys = records.map { String(decoding: $0.key ?? [], as: UTF8.self) }
        #expect(Set(keys) == [#"{"id":1,"shard":"s1"}"#, #"{"id":2,"shard":"s1"}"#, #"{"id":1,"shard":"s2"}"#, #"{"id":2,"shard":"s2"}"#])
        let reads = try records.filter { try jsonObject($0.value)?["op"] as? String == "r" }
        #expect(reads.count == 3)
        #expect(try records.compactMap { try (jsonObject($0.value)?["source"] as? [String: Any])?["table"] as? String }.sorted()
                == ["shard_1", "shard_1", "shard_2", "shard_2"])
    }

    @Test func avroSubjectsFollowTheRoutedTopic() throws {
        let registry = try TestSchemaRegistry(name: "route_avro")
        let database = try TestPostgres.shared.makeDatabase("route_avro")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute(Self.schema)
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.shards", partitions: 1)
        let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers,
                                         tables: ["public.shard_1", "public.shard_2"], events: "{format: avro}",
                                         sections: Self.routing + "\n")
            + "\nschema_registry: {url: \"\(registry.url)\"}\n"
        let running = RunningPipeline(configuration: try SwallowConfiguration.parse(yaml: yaml, environment: [:]),
                                      bootstrapServers: cluster.bootstrapServers)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.shards"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 3, timeoutMilliseconds: 60_000)
        #expect(try running.stop().isSuccess)
        let keys = try records.map { try #require(try registry.decode($0.key)).value }
        #expect(keys.contains(.object([JSONMember("id", .number("1")), JSONMember("shard", .string("s2"))])), "\(keys)")
        let subjects = try registry.subjects()
        #expect(subjects.contains("app.public.shards-key") && subjects.contains("app.public.shards-value"), "\(subjects)")
        #expect(!subjects.contains { $0.contains("shard_") }, "\(subjects)")
        // One shape for both tables: one version of each subject.
        #expect(try registry.versions("app.public.shards-value") == [1])
        #expect(try registry.versions("app.public.shards-key") == [1])
    }
}
