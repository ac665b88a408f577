import Foundation
import Testing
@testable import Kafka

/// The inspection client behind `swallow check`, against librdkafka's mock cluster.
@Suite struct KafkaAdminTests {
    @Test func metadataListsTheBrokersAndExistingTopics() throws {
        let cluster = try MockKafkaCluster(brokers: 2)
        try cluster.createTopic("app.public.orders", partitions: 3)
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }

        let metadata = try admin.metadata(timeoutMilliseconds: 5_000)
        #expect(metadata.brokers.map(\.id) == [1, 2])
        #expect(metadata.brokers.allSatisfy { $0.host == "127.0.0.1" && $0.port > 0 })
        // librdkafka 2.0.2's mock gives every topic min(3, brokers) replicas, whatever it is asked for.
        #expect(metadata.topics == [KafkaClusterMetadata.Topic(name: "app.public.orders", partitionCount: 3, error: nil, replicationFactor: 2)])
        #expect([1, 2].contains(metadata.originatingBrokerID))
        // A whole-cluster request names no topic, so it auto-creates none (the mock creates topics named
        // in a metadata request).
        #expect(try admin.metadata(timeoutMilliseconds: 5_000).topics.map(\.name) == ["app.public.orders"])
    }

    @Test func watermarksFollowAcknowledgedRecordsAndWaitForADownLeader() throws {
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("cdc", partitions: 2)
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers, properties: fastReconnect)
        defer { admin.close() }
        #expect(try admin.watermarks(topic: "cdc", partition: 0, timeoutMilliseconds: 5_000) == PartitionWatermarks(low: 0, high: 0))

        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        for i in 0 ..< 30 {
            try producer.produce(topic: "cdc", key: bytes("k\(i)"), value: bytes("\(i)"), id: UInt64(i))
        }
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        // Each partition's high watermark is one past the last acknowledged offset.
        var perPartition: [Int32: Int64] = [:]
        for position in collector.successes.values { perPartition[position.partition, default: 0] += 1 }
        for partition: Int32 in [0, 1] {
            let marks = try admin.watermarks(topic: "cdc", partition: partition, timeoutMilliseconds: 5_000)
            #expect(marks == PartitionWatermarks(low: 0, high: perPartition[partition, default: 0]))
        }

        // librdkafka 2.0.2 does not honour the timeout while the leader is down: the call waits for the
        // leader to come back (the sampler of the durability suite drops such late answers).
        try cluster.setBrokerDown(1)
        let start = Date()
        Thread { Thread.sleep(forTimeInterval: 1.5); try? cluster.setBrokerUp(1) }.start()
        let marks = try admin.watermarks(topic: "cdc", partition: 0, timeoutMilliseconds: 500)
        #expect(marks == PartitionWatermarks(low: 0, high: perPartition[0, default: 0]))
        #expect(Date().timeIntervalSince(start) >= 1.4, "answered while the leader was down")
    }

    @Test func anUnreachableBootstrapServerFailsWithinTheTimeoutNamingTheCause() throws {
        // Port 1 on loopback refuses connections.
        let admin = try KafkaAdmin(bootstrapServers: "127.0.0.1:1")
        defer { admin.close() }
        let start = Date()
        let error = try #require(throws: KafkaError.self) { try admin.metadata(timeoutMilliseconds: 1_500) }
        #expect(Date().timeIntervalSince(start) < 4)
        #expect(error.message.contains("no broker answered a metadata request within 1500 ms"))
        #expect(error.message.contains("Connection refused"))
        // The timing librdkafka appends ("(after 0ms in state CONNECT)") is cut: the text is stable.
        #expect(admin.recentErrors.first == "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused")
    }

    @Test func theMockClusterDoesNotAnswerDescribeConfigs() throws {
        // `swallow check` relies on this to report the topics of a mock cluster as not verified (and to
        // skip CreateTopics, which the mock leaves waiting for a controller it never names).
        let cluster = try MockKafkaCluster(brokers: 1)
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        _ = try admin.metadata(timeoutMilliseconds: 5_000)
        let error = try #require(throws: KafkaError.self) {
            try admin.brokerConfiguration(brokerID: 1, timeoutMilliseconds: 3_000)
        }
        #expect(error.code == .unsupportedFeature)
    }

    @Test func aClosedAdminClientThrowsClosed() throws {
        let admin = try KafkaAdmin(bootstrapServers: "127.0.0.1:1")
        admin.close()
        let error = try #require(throws: KafkaError.self) { try admin.metadata(timeoutMilliseconds: 100) }
        #expect(error.code == .closed)
        #expect(try admin.validateTopicCreation([], timeoutMilliseconds: 100).isEmpty)
    }

    @Test func anInvalidPropertyIsAConfigurationError() throws {
        let error = try #require(throws: KafkaError.self) {
            try KafkaAdmin(bootstrapServers: "127.0.0.1:1", properties: ["no.such.property": "1"])
        }
        #expect(error.code == .configuration)
        #expect(error.message.contains("no.such.property"))
    }
}

extension KafkaAdminTests {
    /// Newer librdkafka reports -1 for a Metadata answer over a bootstrap connection: broker configs are
    /// then read from a broker the answer lists.
    @Test func brokerConfigsAreReadFromAKnownBroker() {
        let brokers = [KafkaClusterMetadata.Broker(id: 111, host: "127.0.0.1", port: 9092),
                       KafkaClusterMetadata.Broker(id: 112, host: "127.0.0.1", port: 9093)]
        #expect(KafkaClusterMetadata(brokers: brokers, topics: [], originatingBrokerID: 112).configBrokerID == 112)
        #expect(KafkaClusterMetadata(brokers: brokers, topics: [], originatingBrokerID: -1).configBrokerID == 111)
    }
}
