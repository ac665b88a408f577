import Foundation
import Testing
@testable import Kafka

/// `KafkaLogReader` against the mock cluster, whose last stable offset is its high watermark.
@Suite("Reading the committed tail of partitions")
struct LogReaderTests {
    /// Produces `count` records to each partition of `topic`, value "p<partition>-<n>", with headers.
    private func fill(_ cluster: MockKafkaCluster, topic: String, counts: [Int32: Int]) throws {
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        var id: UInt64 = 0
        for (partition, count) in counts.sorted(by: { $0.key < $1.key }) {
            for n in 0 ..< count {
                try producer.produce(topic: topic, key: n % 5 == 4 ? nil : bytes("key-\(n)"),
                                     value: n % 7 == 6 ? nil : bytes("p\(partition)-\(n)"),
                                     headers: headers(n), partition: partition, id: id)
                id += 1
            }
        }
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        #expect(collector.successes.count == counts.values.reduce(0, +))
    }

    private func headers(_ n: Int) -> [KafkaHeader] {
        [KafkaHeader(key: "n", value: bytes("\(n)")), KafkaHeader(key: "null", value: nil), KafkaHeader(key: "empty", value: [])]
    }

    @Test("windows of several partitions read back exactly, with keys, null values and headers")
    func windows() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("tail", partitions: 4)
        try fill(cluster, topic: "tail", counts: [0: 50, 1: 3, 3: 120])
        // Producer-only properties (the pipeline passes the producer's) are accepted.
        let reader = try KafkaLogReader(bootstrapServers: cluster.bootstrapServers,
                                        properties: ["linger.ms": "5", "acks": "all", "client.id": "tail-reader"])
        defer { reader.close() }
        #expect(try reader.partitions(of: "tail", timeoutMilliseconds: 5_000) == [0, 1, 2, 3])

        for (partition, count) in [(Int32(0), 50), (1, 3), (2, 0), (3, 120)] {
            let marks = try reader.offsets(topic: "tail", partition: partition, timeoutMilliseconds: 5_000)
            #expect(marks == PartitionWatermarks(low: 0, high: Int64(count)), "partition \(partition)")
            // The whole partition, the last record alone, and a window in the middle.
            let windows: [(Int64, Int64)] = [(0, Int64(count)), (Int64(count) - 1, Int64(count)), (1, Int64(count) - 1)]
            for (from, to) in windows where from >= 0 && from < to {
                let records = try reader.records(topic: "tail", partition: partition, from: from, to: to,
                                                 timeoutMilliseconds: 10_000)
                #expect(records.map(\.offset) == Array(from ..< to), "partition \(partition) [\(from), \(to))")
                for record in records {
                    let n = Int(record.offset)
                    #expect(record.topic == "tail" && record.partition == partition)
                    #expect(record.key == (n % 5 == 4 ? nil : bytes("key-\(n)")))
                    #expect(record.value == (n % 7 == 6 ? nil : bytes("p\(partition)-\(n)")))
                    #expect(record.headers == headers(n))
                }
            }
        }
        // `to` beyond the end: up to the end. An empty range: nothing, without reading.
        let beyond = try reader.records(topic: "tail", partition: 1, from: 1, to: 1_000, timeoutMilliseconds: 10_000)
        #expect(beyond.map(\.offset) == [1, 2])
        #expect(try reader.records(topic: "tail", partition: 0, from: 10, to: 10, timeoutMilliseconds: 10_000).isEmpty)
    }

    @Test("an empty partition: offsets 0/0, and reading from its end returns nothing at once")
    func emptyPartition() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("empty", partitions: 2)
        let reader = try KafkaLogReader(bootstrapServers: cluster.bootstrapServers)
        defer { reader.close() }
        #expect(try reader.partitions(of: "empty", timeoutMilliseconds: 5_000) == [0, 1])
        #expect(try reader.offsets(topic: "empty", partition: 1, timeoutMilliseconds: 5_000) == PartitionWatermarks(low: 0, high: 0))
        let start = monotonicMilliseconds()
        #expect(try reader.records(topic: "empty", partition: 1, from: 0, to: 1, timeoutMilliseconds: 10_000).isEmpty)
        #expect(monotonicMilliseconds() - start < 5_000, "ended at the partition's EOF, not at the timeout")
    }

    @Test("a topic that does not exist is nil and is not created")
    func missingTopic() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("present", partitions: 1)
        let reader = try KafkaLogReader(bootstrapServers: cluster.bootstrapServers)
        defer { reader.close() }
        #expect(try reader.partitions(of: "absent", timeoutMilliseconds: 5_000) == nil)
        #expect(try reader.partitions(of: "absent", timeoutMilliseconds: 5_000) == nil)
        // The mock creates topics a request lets it create; none was.
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        #expect(try admin.metadata(timeoutMilliseconds: 5_000).topics.map(\.name) == ["present"])
    }

    @Test("reading from outside the log is an error naming the partition, not a jump to another offset")
    func outOfRange() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("short", partitions: 1)
        try fill(cluster, topic: "short", counts: [0: 5])
        let reader = try KafkaLogReader(bootstrapServers: cluster.bootstrapServers)
        defer { reader.close() }
        let error = try #require(throws: KafkaError.self) {
            try reader.records(topic: "short", partition: 0, from: 50, to: 60, timeoutMilliseconds: 10_000)
        }
        #expect(error.code == .autoOffsetReset)
        #expect(error.message.contains("topic 'short' partition 0"))
        // The reader is still usable, for the same partition too.
        #expect(try reader.records(topic: "short", partition: 0, from: 3, to: 5, timeoutMilliseconds: 10_000).map(\.offset) == [3, 4])
    }

    @Test("an unauthorized topic is an error, not a missing topic")
    func unauthorizedTopic() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("secret", partitions: 1)
        cluster.setTopicError("secret", .topicAuthorizationFailed)
        let reader = try KafkaLogReader(bootstrapServers: cluster.bootstrapServers)
        defer { reader.close() }
        let error = try #require(throws: KafkaError.self) { try reader.partitions(of: "secret", timeoutMilliseconds: 5_000) }
        #expect(error.code == .topicAuthorizationFailed)
        #expect(error.message.contains("'secret'"))
    }

    @Test("a partition whose leader does not answer times out naming the partition and how far the read got")
    func timeout() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("slow", partitions: 1)
        try fill(cluster, topic: "slow", counts: [0: 3])
        let reader = try KafkaLogReader(bootstrapServers: cluster.bootstrapServers)
        defer { reader.close() }
        _ = try reader.partitions(of: "slow", timeoutMilliseconds: 5_000)
        try cluster.setBrokerRoundTripTime(1, milliseconds: 3_000)
        let start = monotonicMilliseconds()
        let error = try #require(throws: KafkaError.self) {
            try reader.records(topic: "slow", partition: 0, from: 0, to: 3, timeoutMilliseconds: 800)
        }
        #expect(monotonicMilliseconds() - start < 3_000)
        #expect(error.code == .timedOut)
        #expect(error.isRetriable)
        #expect(error.message.contains("reading topic 'slow' partition 0 from offset 0 to 3: no record within 800 ms"))
    }

    @Test("a refused group-coordinator lookup does not stop the reading")
    func groupCoordinatorRefused() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("t", partitions: 1)
        try fill(cluster, topic: "t", counts: [0: 4])
        // librdkafka looks up the coordinator of the reader's (never joined) group; a principal without
        // Describe on groups gets GROUP_AUTHORIZATION_FAILED, which librdkafka hands to the consumer.
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.findCoordinatorAPIKey,
                                  errors: Array(repeating: .groupAuthorizationFailed, count: 20))
        let reader = try KafkaLogReader(bootstrapServers: cluster.bootstrapServers)
        defer { reader.close() }
        #expect(try reader.records(topic: "t", partition: 0, from: 0, to: 4, timeoutMilliseconds: 10_000).map(\.offset) == [0, 1, 2, 3])
        // The lookup runs on librdkafka's own schedule: its error may come after the records did, onto the
        // consumer queue, which `recentErrors` drains too (before it did, an error that came after the
        // read was never seen: this test failed in a few full runs).
        let deadline = monotonicMilliseconds() + 20_000
        while !reader.recentErrors.contains(where: { $0.hasPrefix("GROUP_AUTHORIZATION_FAILED: ") }), monotonicMilliseconds() < deadline {
            usleep(50_000)
        }
        #expect(reader.recentErrors.contains { $0.hasPrefix("GROUP_AUTHORIZATION_FAILED: ") }, "\(reader.recentErrors)")
    }

    @Test("a closed reader throws closed")
    func closed() throws {
        let reader = try KafkaLogReader(bootstrapServers: "127.0.0.1:1")
        reader.close()
        let error = try #require(throws: KafkaError.self) { try reader.partitions(of: "t", timeoutMilliseconds: 100) }
        #expect(error.code == .closed)
        #expect(try reader.records(topic: "t", partition: 0, from: 1, to: 1, timeoutMilliseconds: 100).isEmpty)
    }
}
