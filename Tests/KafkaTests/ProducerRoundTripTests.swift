import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import Kafka

@Suite("Producer → mock cluster → consumer")
struct ProducerRoundTripTests {
    @Test("5,000 keyed messages: one successful report per id, consumed back in per-key order")
    func roundTrip() async throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("orders", partitions: 3)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }

        let total = 5_000
        let keyCount = 50
        func headers(_ i: Int) -> [KafkaHeader] {
            i % 7 == 0 ? [] : [KafkaHeader(key: "seq", value: bytes("\(i)")),
                              KafkaHeader(key: "null-header", value: nil),
                              KafkaHeader(key: "empty-header", value: [])]
        }
        for i in 0 ..< total {
            // Every 100th message is a tombstone (null value); message 1 has an empty (non-null) value.
            let value: [UInt8]? = i % 100 == 99 ? nil : (i == 1 ? [] : bytes("value-\(i)"))
            try producer.produce(topic: "orders", key: bytes("key-\(i % keyCount)"), value: value,
                                 headers: headers(i), id: UInt64(i))
        }
        #expect(producer.flush(timeoutMilliseconds: 20_000) == 0)
        #expect(producer.inFlightCount == 0)

        // Every id exactly once, all successful, each at a distinct (partition, offset).
        let reports = collector.all
        #expect(reports.count == total)
        #expect(Set(reports.map(\.id)) == Set((0 ..< total).map(UInt64.init)))
        #expect(collector.failures.isEmpty)
        let positions = collector.successes
        #expect(positions.count == total)
        #expect(Set(positions.values.map { "\($0.partition)/\($0.offset)" }).count == total)
        #expect(positions.values.allSatisfy { $0.topic == "orders" && (0 ..< 3).contains($0.partition) })
        #expect(collector.batchCount < total, "reports arrive in batches, not one call per message")

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["orders"])
        defer { consumer.close() }
        #expect(consumer.assignedPartitions == ["orders": [0, 1, 2]])
        let records = try consumer.readToEnd(timeoutMilliseconds: 20_000)
        #expect(records.count == total)

        var idAtPosition: [String: UInt64] = [:]
        for (id, position) in positions { idAtPosition["\(position.partition)/\(position.offset)"] = id }
        var lastSeqPerKey: [String: Int] = [:]
        var seen = Set<Int>()
        for record in records {
            // The record identifies its message through its key and the position from the report.
            let id = try #require(idAtPosition["\(record.partition)/\(record.offset)"])
            let i = Int(id)
            seen.insert(i)
            #expect(record.topic == "orders")
            #expect(text(record.key) == "key-\(i % keyCount)")
            if i % 100 == 99 {
                #expect(record.value == nil, "tombstone keeps its null value")
            } else if i == 1 {
                #expect(record.value == [], "empty value stays empty, not null")
            } else {
                #expect(text(record.value) == "value-\(i)")
            }
            #expect(record.headers == headers(i))
            #expect(record.timestamp != nil)
            let key = text(record.key)!
            if let last = lastSeqPerKey[key] { #expect(last < i, "per-key order preserved") }
            lastSeqPerKey[key] = i
        }
        #expect(seen.count == total)
        // Same key → same partition (one partition per key).
        let partitionsPerKey = Dictionary(grouping: records, by: { text($0.key)! }).mapValues { Set($0.map(\.partition)) }
        #expect(partitionsPerKey.values.allSatisfy { $0.count == 1 })
    }

    @Test("in-flight bytes count key, value and headers until the delivery report, then drop to zero")
    func inFlightBytes() async throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("sized", partitions: 1)
        // Slow acknowledgements: the messages stay in flight long enough to be counted.
        try cluster.setBrokerRoundTripTime(1, milliseconds: 1_500)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        #expect(producer.inFlightBytes == 0)
        let headers = [KafkaHeader(key: "seq", value: bytes("12345")), KafkaHeader(key: "nothing", value: nil)]
        let expected = KafkaProducer.messageBytes(key: bytes("k"), value: bytes("0123456789"), headers: headers)
        #expect(expected == 1 + 10 + 3 + 5 + 7)
        for i in 0 ..< 10 {
            try producer.produce(topic: "sized", key: bytes("k"), value: bytes("0123456789"), headers: headers, id: UInt64(i))
        }
        try producer.produce(topic: "sized", key: nil, value: nil, id: 10)   // a null key and a tombstone: 0 bytes
        #expect(producer.inFlightBytes == 10 * expected)
        #expect(collector.count == 0)
        #expect(producer.flush(timeoutMilliseconds: 20_000) == 0)
        #expect(collector.count == 11)
        #expect(producer.inFlightBytes == 0)
        // A refused message (larger than message.max.bytes) is not counted.
        #expect(throws: KafkaError.self) {
            try producer.produce(topic: "sized", key: nil, value: [UInt8](repeating: 1, count: 2_000_000), id: 11)
        }
        #expect(producer.inFlightBytes == 0)
    }

    @Test("an in-flight byte limit holds with threads producing at once: the check and the count are one step")
    func inFlightByteLimitUnderConcurrentProducers() async throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("bounded", partitions: 1)
        try cluster.setBrokerDown(1)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        let value = [UInt8](repeating: 7, count: 1_000)
        let limit = 10_500
        // The first message goes alone even above the limit (nothing else in flight).
        try producer.produce(topic: "bounded", key: nil, value: [UInt8](repeating: 1, count: 20_000), id: 0,
                             inFlightByteLimit: limit)
        #expect(throws: KafkaError.self) {
            try producer.produce(topic: "bounded", key: nil, value: value, id: 1, inFlightByteLimit: limit)
        }
        #expect(producer.inFlightBytes == 20_000)
        producer.purgeUnsent()
        for _ in 0..<200 where producer.inFlightBytes != 0 { usleep(10_000) }
        #expect(producer.inFlightBytes == 0)
        // Eight threads, each trying 20 messages of 1,000 bytes against a 10,500-byte limit while nothing
        // is acknowledged: exactly ten are accepted, whatever the interleaving.
        let accepted = Atomic<Int>(0)
        let refusals = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for i in 0..<20 {
                do {
                    try producer.produce(topic: "bounded", key: nil, value: value, id: UInt64(100 + thread * 20 + i),
                                         blockWhenQueueFull: false, inFlightByteLimit: limit)
                    accepted.add(1, ordering: .relaxed)
                } catch {
                    #expect((error as? KafkaError)?.code == .queueFull)
                    refusals.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(accepted.load(ordering: .relaxed) == 10)
        #expect(refusals.load(ordering: .relaxed) == 150)
        #expect(producer.inFlightBytes == 10_000)
        try cluster.setBrokerUp(1)
        #expect(producer.flush(timeoutMilliseconds: 20_000) == 0)
        #expect(producer.inFlightBytes == 0)
    }

    @Test("a borrowed header comes after the others with the bytes lent, empty stays empty, and it counts as in flight")
    func borrowedHeader() async throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("borrowed", partitions: 1)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        let headers = [KafkaHeader(key: "seq", value: bytes("1"))]
        let lent = bytes("0/16B3748 0/16B36D0 0 1 8 swallow-orders")
        try lent.withUnsafeBytes { value in
            try producer.produce(topic: "borrowed", key: bytes("k"), value: bytes("v"), headers: headers,
                                 borrowedHeader: KafkaBorrowedHeader(key: "swallow.position", value: value), id: 1)
        }
        #expect(producer.inFlightBytes == 1 + 1 + 3 + 1 + 16 + lent.count)
        try producer.produce(topic: "borrowed", key: bytes("k"), value: bytes("v"),
                             borrowedHeader: KafkaBorrowedHeader(key: "empty", value: UnsafeRawBufferPointer(start: nil, count: 0)), id: 2)
        #expect(producer.flush(timeoutMilliseconds: 20_000) == 0)
        #expect(collector.failures.isEmpty)
        #expect(producer.inFlightBytes == 0)

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["borrowed"])
        defer { consumer.close() }
        let records = try consumer.readToEnd(timeoutMilliseconds: 20_000)
        #expect(records.map(\.headers) == [
            [KafkaHeader(key: "seq", value: bytes("1")), KafkaHeader(key: "swallow.position", value: lent)],
            [KafkaHeader(key: "empty", value: [])],
        ])
    }

    @Test("a prepared topic's first message goes without waiting for librdkafka's once-a-second topic scan")
    func preparedTopicIsNotDelayed() async throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("prepared", partitions: 2)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        // Connected and idle, as a pipeline is when a table's first change arrives (a fresh producer
        // would ask for the topic with its first metadata request anyway).
        try await Task.sleep(for: .seconds(2))
        #expect(producer.prepareTopic("prepared", timeoutMilliseconds: 5_000))
        try producer.produce(topic: "prepared", key: bytes("k"), value: bytes("v"), id: 1)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        let latency = try #require(collector.all.first?.latencyMicroseconds)
        // Without the metadata fetched ahead this is about 1,000,000 µs (the topic scan's period).
        #expect(latency < 500_000, "first message took \(latency) µs")
        producer.close()
        #expect(!producer.prepareTopic("prepared", timeoutMilliseconds: 100))   // closed: nothing to do
    }

    @Test("murmur2 partitioning: a key always lands on the partition the Java client would choose")
    func murmur2Partitioning() throws {
        // Reference values from Kafka's own UtilsTest, to show the test's murmur2 is the Java one.
        #expect(javaMurmur2(bytes("21")) == -973_932_308)
        #expect(javaMurmur2(bytes("foobar")) == -790_332_482)
        #expect(javaMurmur2(bytes("a-little-bit-long-string")) == -985_981_536)
        #expect(javaMurmur2(bytes("a-little-bit-longer-string")) == -1_486_304_829)
        #expect(javaMurmur2(bytes("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")) == -58_897_971)
        #expect(javaMurmur2(bytes("abc")) == 479_470_107)

        let cluster = try MockKafkaCluster()
        try cluster.createTopic("keyed", partitions: 6)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        let keys = (0 ..< 200).map { bytes("{\"id\":\($0)}") }
        var id: UInt64 = 0
        var keyOfID: [UInt64: [UInt8]] = [:]
        for round in 0 ..< 3 {
            for key in keys {
                try producer.produce(topic: "keyed", key: key, value: bytes("round \(round)"), id: id)
                keyOfID[id] = key
                id += 1
            }
        }
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        let positions = collector.successes
        #expect(positions.count == keys.count * 3)
        var partitionOfKey: [[UInt8]: Set<Int32>] = [:]
        for (id, position) in positions { partitionOfKey[keyOfID[id]!, default: []].insert(position.partition) }
        for (key, partitions) in partitionOfKey {
            #expect(partitions == [javaPartition(key: key, partitionCount: 6)], "key \(text(key)!)")
        }
        // The keys spread over all partitions.
        #expect(Set(partitionOfKey.values.flatMap { $0 }).count == 6)
    }

    @Test("the mock auto-creates unknown topics (4 partitions in librdkafka 2.0.2)")
    func autoCreatedTopic() throws {
        let cluster = try MockKafkaCluster()
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        try producer.produce(topic: "never-created", key: nil, value: bytes("x"), id: 7)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        #expect(collector.successes[7]?.topic == "never-created")
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["never-created"])
        #expect(consumer.assignedPartitions["never-created"]?.count == 4)
        let records = try consumer.read(atLeast: 1, timeoutMilliseconds: 10_000)
        #expect(records.map(\.value) == [bytes("x")])
        #expect(records.first?.key == nil)
    }

    @Test("a consumer waiting for a topic that never appears names it")
    func consumerMissingTopic() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("present", partitions: 1)
        let started = monotonicMilliseconds()
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["present", "absent"],
                                  waitForTopicsMilliseconds: 800)
        }
        #expect(error?.code == .unknownTopic)
        #expect(error?.message.contains("'absent'") == true)
        #expect(error?.message.contains("'present'") == false)
        #expect(monotonicMilliseconds() - started < 5_000)
    }

    @Test("a consumer waits for a topic created after it started")
    func consumerWaitsForTopic() throws {
        let cluster = try MockKafkaCluster()
        // A thread of its own: the consumer's init below blocks the current (cooperative) thread.
        let creator = try startThread(name: "creator") {
            usleep(500_000)
            try? cluster.createTopic("late", partitions: 2)
        }
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["late"],
                                         waitForTopicsMilliseconds: 10_000)
        pthread_join(creator, nil)
        #expect(consumer.assignedPartitions == ["late": [0, 1]])
        #expect(try consumer.readToEnd(timeoutMilliseconds: 5_000).isEmpty)
        consumer.close()
        #expect(throws: KafkaError.self) { _ = try consumer.poll(timeoutMilliseconds: 0) }
    }
}
