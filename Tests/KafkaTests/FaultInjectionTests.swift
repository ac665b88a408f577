import Foundation
import Synchronization
import Testing
@testable import Kafka

/// Reconnect quickly after a broker comes back (librdkafka backs off exponentially up to 10 s by default).
let fastReconnect = ["reconnect.backoff.ms": "50", "reconnect.backoff.max.ms": "250"]

@Suite("Fault injection against the mock cluster")
struct FaultInjectionTests {
    @Test("broker down: nothing is acknowledged until it is back, then every id exactly once")
    func brokerDownThenUp() async throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("cdc", partitions: 3)
        let collector = ReportCollector()
        let logs = LogCollector()
        let producer = try makeProducer(cluster, collector, properties: fastReconnect, logs: logs)
        defer { producer.close() }

        for i in 0 ..< 100 {
            try producer.produce(topic: "cdc", key: bytes("k\(i % 10)"), value: bytes("\(i)"), id: UInt64(i))
        }
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        #expect(collector.successes.count == 100)

        try cluster.setBrokerDown(1)
        for i in 100 ..< 600 {
            try producer.produce(topic: "cdc", key: bytes("k\(i % 10)"), value: bytes("\(i)"), id: UInt64(i))
        }
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(collector.count == 100, "no report (success or failure) while the only broker is down")
        #expect(producer.inFlightCount >= 500)

        try cluster.setBrokerUp(1)
        #expect(producer.flush(timeoutMilliseconds: 15_000) == 0)
        let reports = collector.all
        #expect(reports.count == 600)
        #expect(Set(reports.map(\.id)).count == 600, "exactly one report per id")
        #expect(collector.failures.isEmpty)
        #expect(logs.all.contains { $0.level <= 4 }, "the outage was logged")

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["cdc"])
        let records = try consumer.readToEnd(timeoutMilliseconds: 10_000)
        #expect(records.count == 600)
        #expect(Set(records.compactMap { text($0.value) }) == Set((0 ..< 600).map { "\($0)" }))
    }

    @Test("retriable Produce errors are retried by the idempotent producer without duplicates",
          arguments: [KafkaError.Code.notLeaderForPartition, .requestTimedOut, .notEnoughReplicas])
    func retriableProduceErrors(_ injected: KafkaError.Code) throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("retry", partitions: 2)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector, properties: ["retry.backoff.ms": "20"])
        defer { producer.close() }
        // Make sure the producer is connected and has its producer id, so the errors hit Produce requests.
        try producer.produce(topic: "retry", key: bytes("warm-up"), value: bytes("0"), id: 0)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)

        cluster.pushRequestErrors(apiKey: MockKafkaCluster.produceAPIKey, errors: Array(repeating: injected, count: 5))
        let total = 1_000
        for i in 1 ... total {
            try producer.produce(topic: "retry", key: bytes("k\(i % 20)"), value: bytes("\(i)"), id: UInt64(i))
        }
        #expect(producer.flush(timeoutMilliseconds: 20_000) == 0)
        #expect(collector.count == total + 1)
        #expect(Set(collector.all.map(\.id)).count == total + 1)
        #expect(collector.failures.isEmpty, "\(collector.failures.prefix(3).map { $0.1.description })")

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["retry"])
        let records = try consumer.readToEnd(timeoutMilliseconds: 10_000)
        #expect(records.count == total + 1, "no duplicates")
        #expect(Set(records.compactMap { text($0.value) }).count == total + 1)
        // Offsets are dense per partition: nothing was appended twice or skipped.
        for (_, partitionRecords) in Dictionary(grouping: records, by: \.partition) {
            #expect(partitionRecords.map(\.offset) == Array(0 ..< Int64(partitionRecords.count)))
        }
    }

    @Test("a non-retriable Produce error fails the messages of that request, flagged not retriable")
    func nonRetriableProduceError() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("denied", partitions: 1)
        let collector = ReportCollector()
        let fatalErrors = FatalCollector()
        let producer = try makeProducer(cluster, collector, onFatalError: fatalErrors.callback)
        defer { producer.close() }
        try producer.produce(topic: "denied", key: nil, value: bytes("warm-up"), id: 0)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)

        cluster.pushRequestErrors(apiKey: MockKafkaCluster.produceAPIKey, errors: [.topicAuthorizationFailed])
        for i in 1 ... 10 {
            try producer.produce(topic: "denied", key: nil, value: bytes("\(i)"), id: UInt64(i))
        }
        _ = producer.flush(timeoutMilliseconds: 10_000)
        #expect(collector.count == 11)
        #expect(fatalErrors.all.isEmpty)
        let failures = collector.failures
        #expect(failures.map(\.0).sorted() == Array(1 ... 10))
        for (_, error) in failures {
            #expect(error.code == .topicAuthorizationFailed)
            #expect(!error.isRetriable)
        }
    }

    @Test("message.timeout.ms expiring while the broker is down fails every id once, retriably")
    func failedDelivery() async throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("doomed", partitions: 2)
        try cluster.setBrokerDown(1)
        let collector = ReportCollector()
        let logs = LogCollector()
        let producer = try makeProducer(cluster, collector, properties: ["message.timeout.ms": "1500"], logs: logs)
        defer { producer.close() }
        for i in 0 ..< 20 {
            try producer.produce(topic: "doomed", key: bytes("k\(i)"), value: bytes("\(i)"), id: UInt64(i))
        }
        #expect(try await collector.wait(forCount: 20, timeoutMilliseconds: 10_000))
        let failures = collector.failures
        #expect(failures.count == 20)
        #expect(Set(failures.map(\.0)) == Set(0 ..< 20))
        for (_, error) in failures {
            #expect(error.code == .messageTimedOut)
            #expect(error.code.name == "_MSG_TIMED_OUT")
            #expect(error.isRetriable)
            #expect(!error.isFatal)
        }
        print("failed delivery report: \(failures[0].1)")
        #expect(producer.flush(timeoutMilliseconds: 1_000) == 0)
        #expect(!logs.all.isEmpty)
    }

    @Test("purgeUnsentAfterFailure: after a delivery fails, nothing queued behind it reaches the broker",
          arguments: [false, true])
    func purgeUnsentAfterFailure(purge: Bool) throws {
        // Synchronous, with thread sleeps: an async sleep can resume seconds late while other tests
        // block the few cooperative threads of a small machine, and the timing below matters.
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("ordered", partitions: 1)
        let collector = ReportCollector()
        let producer = try KafkaProducer(bootstrapServers: cluster.bootstrapServers,
                                         properties: fastReconnect.merging(["message.timeout.ms": "6000"]) { $1 },
                                         onDeliveryReports: collector.callback, onFatalError: { _ in },
                                         purgeUnsentAfterFailure: purge)
        defer { producer.close() }
        try producer.produce(topic: "ordered", key: bytes("k"), value: bytes("warm"), id: 100)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        // Message 0 times out while the leader is down; 1...20, queued behind it half-way through its
        // timeout, still have time left when the leader comes back. (Wide margins: the whole test suite
        // runs in parallel on small machines.)
        try cluster.setBrokerDown(1)
        try producer.produce(topic: "ordered", key: bytes("k"), value: bytes("0"), id: 0)
        Thread.sleep(forTimeInterval: 3)
        for i in 1 ... 20 {
            try producer.produce(topic: "ordered", key: bytes("k"), value: bytes("\(i)"), id: UInt64(i))
        }
        #expect(collector.count == 1, "message 0 failed before 1...20 were queued")
        let deadline = Date().addingTimeInterval(15)
        while collector.count < 2 && Date() < deadline { usleep(20_000) }
        #expect(collector.count >= 2, "message 0 did not fail")
        try cluster.setBrokerUp(1)
        #expect(producer.flush(timeoutMilliseconds: 15_000) == 0)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["ordered"])
        let delivered = try consumer.readToEnd(timeoutMilliseconds: 10_000).compactMap { text($0.value) }.filter { $0 != "warm" }
        #expect(collector.failures.first { $0.0 == 0 }?.1.code == .messageTimedOut)
        if purge {
            #expect(delivered.isEmpty, "messages queued behind the failed one were delivered: \(delivered)")
            #expect(Set(collector.failures.map(\.0)) == Set(0 ... 20))
            #expect(collector.failures.filter { $0.0 > 0 }.allSatisfy { $0.1.code == .purgedFromQueue })
            #expect(collector.successes.keys.sorted() == [100])
        } else {
            // What the option prevents: the later messages land, the failed one is missing before them.
            #expect(delivered == (1 ... 20).map { "\($0)" })
        }
    }

    @Test("a message larger than message.max.bytes is refused immediately")
    func messageTooLarge() throws {
        let cluster = try MockKafkaCluster()
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector, properties: ["message.max.bytes": "10000"])
        defer { producer.close() }
        let error = #expect(throws: KafkaError.self) {
            try producer.produce(topic: "big", key: nil, value: Array(repeating: 1, count: 20_000), id: 1)
        }
        #expect(error?.code == .messageSizeTooLarge)
        #expect(error?.isRetriable == false)
        #expect(producer.flush(timeoutMilliseconds: 1_000) == 0)
        #expect(collector.count == 0, "a refused message gets no delivery report")
    }

    @Test("a fatal error is reported once and makes produce fail")
    func fatalError() async throws {
        let cluster = try MockKafkaCluster()
        let collector = ReportCollector()
        let fatalErrors = FatalCollector()
        let producer = try makeProducer(cluster, collector, onFatalError: fatalErrors.callback)
        defer { producer.close() }
        try producer.produce(topic: "t", key: nil, value: bytes("before"), id: 1)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)

        producer.triggerFatalErrorForTesting()
        producer.triggerFatalErrorForTesting()
        let deadline = monotonicMilliseconds() + 5_000
        while fatalErrors.all.isEmpty && monotonicMilliseconds() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(200))
        let reported = fatalErrors.all
        #expect(reported.count == 1)
        #expect(reported.first?.isFatal == true)
        #expect(reported.first?.code.name == "OUT_OF_ORDER_SEQUENCE_NUMBER")
        let error = #expect(throws: KafkaError.self) {
            try producer.produce(topic: "t", key: nil, value: bytes("after"), id: 2)
        }
        // produce reports the underlying fatal error (not just _FATAL), flagged fatal.
        #expect(error?.isFatal == true)
        #expect(error?.code.name == "OUT_OF_ORDER_SEQUENCE_NUMBER")
    }
}

final class FatalCollector: Sendable {
    private let errors = Mutex<[KafkaError]>([])
    var callback: @Sendable (KafkaError) -> Void { { error in self.errors.withLock { $0.append(error) } } }
    var all: [KafkaError] { errors.withLock { $0 } }
}
