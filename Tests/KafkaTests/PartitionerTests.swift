import CRdKafka
import Testing
@testable import Kafka

/// `KafkaPartitioner` against Kafka's and librdkafka's published values and against librdkafka's own
/// partitioner functions; explicit partitions and partition counts against the mock cluster.
@Suite("Java-compatible partitioning and explicit partitions")
struct PartitionerTests {
    @Test("murmur2 hashes as Kafka's Utils.murmur2 (UtilsTest.testMurmur2) and librdkafka's rd_murmur2 unit test")
    func publishedHashes() {
        // apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2.
        let kafka: [(String, Int32)] = [
            ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971), ("abc", 479_470_107),
        ]
        for (key, hash) in kafka {
            #expect(KafkaPartitioner.murmur2Hash(bytes(key)) == hash, "\(key)")
        }
        // librdkafka src/rdmurmur2.c, unittest_murmur2 ("Java-verified"): every tail length 0...3.
        let unaligned = "PreAmbleWillBeRemoved,ThePrePartThatIs"
        let librdkafka: [(String, UInt32)] = [
            ("kafka", 0xd067_cf64), ("giberish123456789", 0x8f55_2b0c), ("1234", 0x9fc9_7b14), ("234", 0xe7c0_09ca),
            ("34", 0x8739_30da), ("4", 0x5a4b_5ca1), (unaligned, 0x7842_4f1c), (String(unaligned.dropFirst()), 0x4a62_b377),
            (String(unaligned.dropFirst(2)), 0xe0e4_e09e), (String(unaligned.dropFirst(3)), 0x62b8_b43f), ("", 0x106e_08d9),
        ]
        for (key, hash) in librdkafka {
            #expect(KafkaPartitioner.murmur2Hash(bytes(key)) == Int32(bitPattern: hash), "\(key)")
        }
        // toPositive(hash) % n: "kafka" hashes to 0xd067cf64, whose low 31 bits are 0x5067cf64 = 1348980580.
        #expect(KafkaPartitioner.murmur2(key: bytes("kafka"), partitionCount: 7) == Int32(1_348_980_580 % 7))
        #expect(KafkaPartitioner.murmur2(key: bytes("kafka"), partitionCount: 1) == 0)
    }

    @Test("murmur2 chooses the partition librdkafka's murmur2 and murmur2_random partitioners choose, for random keys")
    func agreesWithLibrdkafka() throws {
        var errstr = [CChar](repeating: 0, count: 256)
        // A client with no broker: the topic handle is only an argument here (for a non-null key, neither
        // function reads it).
        let rk = try #require(rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), &errstr, errstr.count))
        defer { rd_kafka_destroy(rk) }
        let rkt = try #require(rd_kafka_topic_new(rk, "partitioner", nil))
        defer { rd_kafka_topic_destroy(rkt) }

        var generator = SystemRandomNumberGenerator()
        var seen = Set<Int32>()
        for i in 0 ..< 20_000 {
            // Lengths 0...67 cover every tail length many times; every 10th key is long.
            let length = i % 10 == 0 ? Int.random(in: 68 ... 600, using: &generator) : i % 68
            let key = (0 ..< length).map { _ in UInt8.random(in: 0 ... 255, using: &generator) }
            let count = i % 3 == 0 ? Int32.random(in: 1 ... 16, using: &generator) : Int32.random(in: 1 ... 10_000, using: &generator)
            let ours = KafkaPartitioner.murmur2(key: key, partitionCount: count)
            // withBytes passes a non-NULL pointer for an empty key: murmur2_random places only a NULL key at random.
            let (plain, random) = withBytes(key) { pointer, size in
                (rd_kafka_msg_partitioner_murmur2(rkt, pointer, size, count, nil, nil),
                 rd_kafka_msg_partitioner_murmur2_random(rkt, pointer, size, count, nil, nil))
            }
            #expect(ours == plain, "key \(key) over \(count) partitions")
            #expect(ours == random, "key \(key) over \(count) partitions")
            #expect(KafkaPartitioner.murmur2Hash(key) == javaMurmur2(key))
            if count == 16 { seen.insert(ours) }
            if ours != plain { break }
        }
        #expect(seen.count == 16, "keys spread over every partition")
    }

    @Test("an explicit partition is where the record goes, and murmur2 reproduces librdkafka's own choice")
    func explicitPartition() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("chosen", partitions: 5)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        #expect(try producer.partitionCount(topic: "chosen", timeoutMilliseconds: 5_000) == 5)

        let keys = (0 ..< 100).map { bytes("key-\($0)") }
        // Partition nil: librdkafka's murmur2_random; then the partition computed here, passed explicitly;
        // then partition 3 for every record, whatever its key.
        for (i, key) in keys.enumerated() {
            try producer.produce(topic: "chosen", key: key, value: bytes("\(i)"), id: UInt64(i))
            try producer.produce(topic: "chosen", key: key, value: bytes("\(i)"),
                                 partition: KafkaPartitioner.murmur2(key: key, partitionCount: 5), id: UInt64(1_000 + i))
            try producer.produce(topic: "chosen", key: key, value: bytes("\(i)"), partition: 3, id: UInt64(2_000 + i))
        }
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        let positions = collector.successes
        #expect(positions.count == 300)
        for i in 0 ..< 100 {
            let chosen = try #require(positions[UInt64(i)]).partition
            #expect(positions[UInt64(1_000 + i)]?.partition == chosen)
            #expect(positions[UInt64(2_000 + i)]?.partition == 3)
        }
        #expect(Set((0 ..< 100).compactMap { positions[UInt64($0)]?.partition }).count == 5)

        // librdkafka knows the topic has 5 partitions: a sixth is refused at once.
        let error = #expect(throws: KafkaError.self) {
            try producer.produce(topic: "chosen", key: nil, value: bytes("x"), partition: 5, id: 9_999)
        }
        #expect(error?.code == .unknownPartition)
        #expect(producer.flush(timeoutMilliseconds: 1_000) == 0)
        #expect(collector.count == 300, "a refused record gets no report")
    }

    @Test("partitionCount: the count of an existing topic; a missing one is created like producing would, or nil")
    func partitionCount() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("three", partitions: 3)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        #expect(try producer.partitionCount(topic: "three", timeoutMilliseconds: 5_000) == 3)
        // The producer's request lets the broker create the topic (the mock: 4 partitions).
        #expect(try producer.partitionCount(topic: "created-on-request", timeoutMilliseconds: 5_000) == 4)
        // A broker that does not create topics answers UNKNOWN_TOPIC_OR_PART. (The 2.0.2 mock creates every
        // topic a request names, whatever allow.auto.create.topics says: its Metadata stops at v2, before
        // the AllowAutoTopicCreation field; so the answer is injected.)
        cluster.setTopicError("refused", .unknownTopicOrPartition)
        #expect(try producer.partitionCount(topic: "refused", timeoutMilliseconds: 5_000) == nil)
    }

    @Test("partitionCount: an unauthorized topic and an unreachable cluster are errors that say so")
    func partitionCountErrors() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("secret", partitions: 2)
        cluster.setTopicError("secret", .topicAuthorizationFailed)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        let denied = try #require(throws: KafkaError.self) {
            try producer.partitionCount(topic: "secret", timeoutMilliseconds: 5_000)
        }
        #expect(denied.code == .topicAuthorizationFailed)
        #expect(denied.message.contains("not authorized to describe topic 'secret'"))
        #expect(!denied.isRetriable)

        let nowhere = try KafkaProducer(bootstrapServers: "127.0.0.1:1", properties: [:],
                                        onDeliveryReports: { _ in }, onFatalError: { _ in })
        defer { nowhere.close() }
        let start = monotonicMilliseconds()
        let unreachable = try #require(throws: KafkaError.self) {
            try nowhere.partitionCount(topic: "any", timeoutMilliseconds: 1_000)
        }
        #expect(monotonicMilliseconds() - start < 5_000)
        #expect(unreachable.message.contains("no broker answered a metadata request for topic 'any' within 1000 ms"))
        #expect(unreachable.isRetriable)
    }
}
