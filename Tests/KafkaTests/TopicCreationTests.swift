import Foundation
import Testing
@testable import Kafka

/// Creating topics: on the mock cluster through its own interface (it answers no CreateTopics), and what
/// KafkaAdmin's CreateTopics does against a cluster that cannot answer it.
@Suite struct TopicCreationTests {
    @Test func theMockCreatesWithThePartitionsAskedAndAnswersAsABrokerWould() throws {
        let cluster = try MockKafkaCluster(brokers: 1)
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }

        #expect(cluster.create(NewTopicSpecification(name: "a", partitions: 2, replicationFactor: 1, configs: ["cleanup.policy": "compact"])) == nil)
        #expect(cluster.create(NewTopicSpecification(name: "b")) == nil)
        let already = try #require(cluster.create(NewTopicSpecification(name: "a", partitions: 5)))
        #expect(already.code.name == "TOPIC_ALREADY_EXISTS")
        let refused = try #require(cluster.create(NewTopicSpecification(name: "c", partitions: 1, replicationFactor: 3)))
        #expect(refused.code.name == "INVALID_REPLICATION_FACTOR")
        #expect(refused.message == "Replication factor: 3 larger than available brokers: 1.")

        let topics = try admin.metadata(timeoutMilliseconds: 5_000).topics
        #expect(topics.map(\.name) == ["a", "b"])
        #expect(topics.map(\.partitionCount) == [2, Int(cluster.defaultPartitions)])
        #expect(topics.map(\.replicationFactor) == [1, 1])
        #expect(cluster.creationRequests.map(\.name) == ["a", "b", "a", "c"])
        #expect(cluster.creationRequests.first?.configs == ["cleanup.policy": "compact"])
    }

    @Test func createTopicsAgainstTheMockFailsAsAWholeWithinTheTimeout() throws {
        // librdkafka 2.0.2's mock names no controller and implements no CreateTopics: the request as a whole
        // fails (retriable) rather than hanging, and nothing is created.
        let cluster = try MockKafkaCluster(brokers: 1)
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        _ = try admin.metadata(timeoutMilliseconds: 5_000)
        let start = Date()
        let error = try #require(throws: KafkaError.self) {
            try admin.createTopics([NewTopicSpecification(name: "t", partitions: 2, replicationFactor: 1,
                                                          configs: ["retention.ms": "1000"])],
                                   timeoutMilliseconds: 1_500)
        }
        #expect(Date().timeIntervalSince(start) < 10)
        #expect(error.isRetriable)
        #expect(try admin.metadata(timeoutMilliseconds: 5_000).topics.isEmpty)
        #expect(throws: KafkaError.self) { try admin.topicConfigurations(["t"], timeoutMilliseconds: 1_500) }
    }
}
