import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import Kafka

@Suite("Configuration, close and deinit")
struct LifecycleTests {
    private func producer(_ properties: [String: String]) throws(KafkaError) -> KafkaProducer {
        // Nothing listens on port 1: creating a producer does not need a reachable broker.
        try KafkaProducer(bootstrapServers: "127.0.0.1:1", properties: properties,
                          onDeliveryReports: { _ in }, onFatalError: { _ in })
    }

    @Test("an unknown property is rejected, naming it and quoting librdkafka")
    func unknownProperty() {
        let error = #expect(throws: KafkaError.self) { _ = try producer(["compresion.type": "lz4"]) }
        #expect(error?.code == .configuration)
        #expect(error?.message.hasPrefix("Kafka property 'compresion.type': No such configuration property") == true,
                "\(error?.message ?? "")")
        #expect(error?.isRetriable == false)
    }

    @Test("an invalid value is rejected, naming the property")
    func invalidValue() {
        let error = #expect(throws: KafkaError.self) { _ = try producer(["linger.ms": "soon"]) }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("'linger.ms'") == true, "\(error?.message ?? "")")
    }

    @Test("acks other than all and enable.idempotence=false are refused", arguments: [
        ["acks": "1"], ["acks": "0"], ["request.required.acks": "1"], ["enable.idempotence": "false"],
    ])
    func enforcedProperties(_ properties: [String: String]) {
        let error = #expect(throws: KafkaError.self) { _ = try producer(properties) }
        #expect(error?.code == .configuration)
        let key = properties.keys.first!
        #expect(error?.message.contains("'\(key)' = '\(properties[key]!)' is not allowed") == true, "\(error?.message ?? "")")
    }

    @Test("acks=all / -1 and enable.idempotence=true are accepted; other defaults can be overridden")
    func acceptedProperties() throws {
        for properties in [["acks": "all"], ["acks": "-1"], ["enable.idempotence": "true"],
                           ["linger.ms": "50", "compression.type": "lz4", "partitioner": "murmur2"]] {
            let p = try producer(properties)
            p.close()
        }
    }

    @Test("close() with messages in flight purges them quickly, reporting each id once")
    func closeWithMessagesInFlight() async throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("slow", partitions: 2)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        try producer.produce(topic: "slow", key: nil, value: bytes("warm-up"), id: 0)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)

        // Half the messages in flight to a slow broker, the rest queued behind a down one.
        try cluster.setBrokerRoundTripTime(1, milliseconds: 5_000)
        for i in 1 ... 500 { try producer.produce(topic: "slow", key: bytes("\(i)"), value: bytes("\(i)"), id: UInt64(i)) }
        try await Task.sleep(for: .milliseconds(200))
        try cluster.setBrokerDown(1)
        for i in 501 ... 1_000 { try producer.produce(topic: "slow", key: bytes("\(i)"), value: bytes("\(i)"), id: UInt64(i)) }

        let started = monotonicMilliseconds()
        producer.close()
        let elapsed = monotonicMilliseconds() - started
        #expect(elapsed < 5_000, "close took \(elapsed) ms")
        let reports = collector.all
        #expect(reports.count == 1_001)
        #expect(Set(reports.map(\.id)).count == 1_001, "exactly one report per id")
        let failureCodes = Set(collector.failures.map(\.1.code))
        #expect(failureCodes.isSubset(of: [.purgedFromQueue, .purgedInFlight]), "\(failureCodes)")
        #expect(collector.failures.allSatisfy { $0.1.isRetriable })

        // Closed: idempotent, produce refuses, flush and inFlightCount are 0.
        producer.close()
        let error = #expect(throws: KafkaError.self) {
            try producer.produce(topic: "slow", key: nil, value: nil, id: 2_000)
        }
        #expect(error?.code == .closed)
        #expect(producer.flush(timeoutMilliseconds: 100) == 0)
        #expect(producer.inFlightCount == 0)
    }

    @Test("deinit with messages queued does not hang and still reports every id")
    func deinitWithMessagesQueued() throws {
        let cluster = try MockKafkaCluster()
        try cluster.setBrokerDown(1)
        let collector = ReportCollector()
        let started = monotonicMilliseconds()
        do {
            let producer = try makeProducer(cluster, collector)
            for i in 0 ..< 100 { try producer.produce(topic: "gone", key: nil, value: bytes("\(i)"), id: UInt64(i)) }
        }
        #expect(monotonicMilliseconds() - started < 5_000)
        #expect(collector.count == 100)
        #expect(Set(collector.failures.map(\.0)).count == 100)
    }

    @Test("close() releases a produce call blocked on a full queue")
    func closeReleasesBlockedProducer() async throws {
        let cluster = try MockKafkaCluster()
        try cluster.setBrokerDown(1)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector, properties: ["queue.buffering.max.messages": "10"])
        for i in 0 ..< 10 { try producer.produce(topic: "full", key: nil, value: bytes("\(i)"), id: UInt64(i)) }

        let flags = Flags()
        let thread = try startThread(name: "blocked-producer") {
            do { try producer.produce(topic: "full", key: nil, value: bytes("10"), id: 10) } catch { flags.threw.store(true, ordering: .relaxed) }
            flags.returned.store(true, ordering: .releasing)
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(flags.hasReturned == false, "produce blocks while the queue is full")

        producer.close()
        pthread_join(thread, nil)
        #expect(flags.hasReturned)
        // The blocked call either got in (then its message was purged and reported) or saw the close.
        let reportedIDs = Set(collector.all.map(\.id))
        if flags.threw.load(ordering: .relaxed) {
            #expect(reportedIDs == Set(0 ..< 10))
        } else {
            #expect(reportedIDs == Set(0 ... 10))
        }
    }

    @Test("id UInt64.max is reserved; id 0 works")
    func reservedID() throws {
        let cluster = try MockKafkaCluster()
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector)
        defer { producer.close() }
        let error = #expect(throws: KafkaError.self) {
            try producer.produce(topic: "ids", key: nil, value: nil, id: .max)
        }
        #expect(error?.code == .invalidArgument)
        try producer.produce(topic: "ids", key: nil, value: nil, id: 0)
        try producer.produce(topic: "ids", key: nil, value: nil, id: UInt64.max - 1)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        #expect(Set(collector.successes.keys) == [0, UInt64.max - 1])
    }
}

final class Flags: Sendable {
    let returned = Atomic<Bool>(false)
    let threw = Atomic<Bool>(false)
    var hasReturned: Bool { returned.load(ordering: .acquiring) }
}
