import CRdKafka
import Foundation
import Synchronization
import Testing
@testable import Kafka

/// The transactional producer against librdkafka 2.0.2's mock cluster, which answers the transactional
/// requests but keeps no transaction state: it neither fences nor writes markers (see
/// KafkaProducer+Transactions.swift). What a real broker does differently is asserted nowhere here.
@Suite("Transactions against the mock cluster")
struct TransactionTests {
    private func transactionalProducer(_ cluster: MockKafkaCluster, _ collector: ReportCollector,
                                       id: String = "swallow-test", properties: [String: String] = [:],
                                       fatalErrors: FatalCollector? = nil) throws -> KafkaProducer {
        var onFatalError: @Sendable (KafkaError) -> Void = { _ in }
        if let fatalErrors { onFatalError = fatalErrors.callback }
        return try KafkaProducer(bootstrapServers: cluster.bootstrapServers, properties: properties, transactionalID: id,
                                 onDeliveryReports: collector.callback, onFatalError: onFatalError)
    }

    private func produce(_ producer: KafkaProducer, topic: String, ids: Range<Int>, partitions: Int32) throws {
        for i in ids {
            try producer.produce(topic: topic, key: bytes("k\(i)"), value: bytes("v\(i)"),
                                 headers: [KafkaHeader(key: "id", value: bytes("\(i)"))],
                                 partition: Int32(i) % partitions, id: UInt64(i))
        }
    }

    @Test("init, begin, produce, commit: commit returns once every delivery report has been handed over")
    func commitRoundTrip() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("txn", partitions: 3)
        // Slow answers keep the records in flight when the commit starts, so that it has to wait for them.
        try cluster.setBrokerRoundTripTime(1, milliseconds: 300)
        let collector = ReportCollector()
        let producer = try transactionalProducer(cluster, collector)
        defer { producer.close() }
        #expect(producer.transactionalID == "swallow-test")

        // Producing before initTransactions/beginTransaction is refused.
        let early = #expect(throws: KafkaError.self) { try produce(producer, topic: "txn", ids: 0 ..< 1, partitions: 3) }
        #expect(early?.code == .state)
        try producer.initTransactions(timeoutMilliseconds: 10_000)

        try producer.beginTransaction()
        let twice = try #require(throws: KafkaError.self) { try producer.beginTransaction() }
        #expect(twice.code == .state)
        #expect(twice.message.hasPrefix("beginTransaction (transactional.id 'swallow-test'): "))
        try produce(producer, topic: "txn", ids: 0 ..< 300, partitions: 3)
        let reportedBeforeCommit = collector.count
        try producer.commitTransaction(timeoutMilliseconds: 30_000)
        #expect(reportedBeforeCommit < 300, "the commit had records to wait for")
        #expect(collector.count == 300, "every report was handed over before commit returned")
        #expect(collector.failures.isEmpty)

        try producer.beginTransaction()
        try produce(producer, topic: "txn", ids: 300 ..< 600, partitions: 3)
        try producer.commitTransaction(timeoutMilliseconds: 30_000)
        #expect(collector.count == 600)
        #expect(collector.successes.count == 600)
        let outside = #expect(throws: KafkaError.self) { try produce(producer, topic: "txn", ids: 600 ..< 601, partitions: 3) }
        #expect(outside?.code == .state, "no producing between transactions")

        // A transaction without records commits too.
        try producer.beginTransaction()
        try producer.commitTransaction(timeoutMilliseconds: 10_000)

        let reader = try KafkaLogReader(bootstrapServers: cluster.bootstrapServers)
        defer { reader.close() }
        var read: [KafkaRecord] = []
        for partition: Int32 in 0 ..< 3 {
            let end = try reader.offsets(topic: "txn", partition: partition, timeoutMilliseconds: 5_000).high
            #expect(end == 200)
            read += try reader.records(topic: "txn", partition: partition, from: 0, to: end, timeoutMilliseconds: 10_000)
        }
        #expect(read.count == 600)
        #expect(Set(read.compactMap { text($0.value) }) == Set((0 ..< 600).map { "v\($0)" }))
        for record in read {
            let id = try #require(Int(text(record.headers.first?.value) ?? ""))
            #expect(record.partition == Int32(id) % 3)
            #expect(collector.successes[UInt64(id)] == .init(topic: "txn", partition: record.partition, offset: record.offset))
        }
    }

    @Test("abort: queued records are purged, sent ones reported; the producer goes on with a new transaction")
    func abort() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("txn", partitions: 2)
        let collector = ReportCollector()
        let producer = try transactionalProducer(cluster, collector, properties: ["retry.backoff.ms": "100"])
        defer { producer.close() }
        try producer.initTransactions(timeoutMilliseconds: 10_000)

        // Records that reached the broker before the abort: reported delivered. The 2.0.2 mock writes no
        // abort marker, so they stay readable (a real broker's read_committed consumers skip them).
        try producer.beginTransaction()
        try produce(producer, topic: "txn", ids: 0 ..< 10, partitions: 2)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        try producer.abortTransaction(timeoutMilliseconds: 10_000)
        #expect(collector.successes.count == 10)

        // Records still queued at the abort: the coordinator keeps refusing to add their partitions to the
        // transaction (CONCURRENT_TRANSACTIONS, retriable), so none can be sent; the abort purges them.
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.addPartitionsToTxnAPIKey,
                                  errors: Array(repeating: .librdkafka(RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS.rawValue),
                                                count: 1_000))
        try producer.beginTransaction()
        try produce(producer, topic: "txn", ids: 10 ..< 60, partitions: 2)
        try producer.abortTransaction(timeoutMilliseconds: 10_000)
        cluster.clearRequestErrors(apiKey: MockKafkaCluster.addPartitionsToTxnAPIKey)
        #expect(collector.count == 60, "every record of the aborted transaction was reported when abort returned")
        let purged = collector.failures.filter { $0.1.code == .purgedFromQueue }.map(\.0)
        #expect(Set(purged) == Set((10 ..< 60).map(UInt64.init)))

        try producer.beginTransaction()
        try produce(producer, topic: "txn", ids: 60 ..< 70, partitions: 2)
        try producer.commitTransaction(timeoutMilliseconds: 10_000)
        #expect(collector.count == 70)

        let reader = try KafkaLogReader(bootstrapServers: cluster.bootstrapServers)
        defer { reader.close() }
        var values: [String] = []
        for partition: Int32 in 0 ..< 2 {
            let end = try reader.offsets(topic: "txn", partition: partition, timeoutMilliseconds: 5_000).high
            values += try reader.records(topic: "txn", partition: partition, from: 0, to: end, timeoutMilliseconds: 10_000)
                .compactMap { text($0.value) }
        }
        #expect(Set(values) == Set((Array(0 ..< 10) + Array(60 ..< 70)).map { "v\($0)" }), "the mock keeps aborted records")
        #expect(values.count == 20)
    }

    @Test("the 2.0.2 mock does not fence: a second producer with the same transactional.id leaves the first working")
    func mockDoesNotFence() throws {
        // On a real broker the second initTransactions bumps the epoch and the first producer's next
        // transactional request fails with the fatal _FENCED. librdkafka 2.0.2's mock hands the second
        // producer a new producer id instead (rd_kafka_mock_handle_InitProducerId) and keeps the first one's
        // valid. If this test fails, the mock has learnt to fence: assert the real behaviour here instead.
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("txn", partitions: 1)
        let firstReports = ReportCollector()
        let firstFatal = FatalCollector()
        let first = try transactionalProducer(cluster, firstReports, id: "shared-id", fatalErrors: firstFatal)
        defer { first.close() }
        try first.initTransactions(timeoutMilliseconds: 10_000)
        try first.beginTransaction()
        try produce(first, topic: "txn", ids: 0 ..< 5, partitions: 1)
        try first.commitTransaction(timeoutMilliseconds: 10_000)

        let secondReports = ReportCollector()
        let second = try transactionalProducer(cluster, secondReports, id: "shared-id")
        defer { second.close() }
        try second.initTransactions(timeoutMilliseconds: 10_000)
        try second.beginTransaction()
        try produce(second, topic: "txn", ids: 100 ..< 105, partitions: 1)
        try second.commitTransaction(timeoutMilliseconds: 10_000)

        try first.beginTransaction()
        try produce(first, topic: "txn", ids: 5 ..< 10, partitions: 1)
        try first.commitTransaction(timeoutMilliseconds: 10_000)
        #expect(firstReports.successes.count == 10)
        #expect(secondReports.successes.count == 5)
        #expect(firstFatal.all.isEmpty)
    }

    @Test("fenced on commit: EndTxn refused with PRODUCER_FENCED or INVALID_PRODUCER_EPOCH is the fatal _FENCED",
          arguments: [KafkaError.Code.producerFenced, .invalidProducerEpoch])
    func fencedOnCommit(_ refusal: KafkaError.Code) throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("txn", partitions: 1)
        let collector = ReportCollector()
        let fatalErrors = FatalCollector()
        let producer = try transactionalProducer(cluster, collector, fatalErrors: fatalErrors)
        defer { producer.close() }
        try producer.initTransactions(timeoutMilliseconds: 10_000)
        try producer.beginTransaction()
        try produce(producer, topic: "txn", ids: 0 ..< 5, partitions: 1)
        // What a real coordinator answers a producer whose epoch a newer instance has bumped.
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.endTxnAPIKey, errors: [refusal])
        let error = try #require(throws: KafkaError.self) { try producer.commitTransaction(timeoutMilliseconds: 10_000) }
        #expect(error.code == .fenced)
        #expect(error.isFatal)
        #expect(!error.isRetriable && !error.requiresAbort)
        #expect(error.message.contains("commitTransaction (transactional.id 'swallow-test')"))
        #expect(error.message.contains("another producer with the same transactional.id"))

        try waitUntil { !fatalErrors.all.isEmpty }
        #expect(fatalErrors.all.map(\.code) == [.fenced])
        let next = #expect(throws: KafkaError.self) { try producer.beginTransaction() }
        #expect(next?.isFatal == true)
        let produceAfter = #expect(throws: KafkaError.self) { try produce(producer, topic: "txn", ids: 5 ..< 6, partitions: 1) }
        #expect(produceAfter?.isFatal == true)
        #expect(produceAfter?.code == .fenced)
    }

    @Test("fenced on produce: a Produce refused with INVALID_PRODUCER_EPOCH is the fatal _FENCED at the commit")
    func fencedOnProduce() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("txn", partitions: 1)
        let collector = ReportCollector()
        let fatalErrors = FatalCollector()
        let producer = try transactionalProducer(cluster, collector, fatalErrors: fatalErrors)
        defer { producer.close() }
        try producer.initTransactions(timeoutMilliseconds: 10_000)
        try producer.beginTransaction()
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.produceAPIKey, errors: [.invalidProducerEpoch])
        try produce(producer, topic: "txn", ids: 0 ..< 5, partitions: 1)
        let error = try #require(throws: KafkaError.self) { try producer.commitTransaction(timeoutMilliseconds: 10_000) }
        #expect(error.code == .fenced)
        #expect(error.isFatal)
        try waitUntil { !fatalErrors.all.isEmpty }
        #expect(fatalErrors.all.map(\.code) == [.fenced])
        #expect(collector.count == 5, "every record was reported before commit returned")
        #expect(collector.successes.isEmpty)
        #expect(collector.failures.map(\.1.code).contains(.invalidProducerEpoch), "the refused batch's records")
    }

    @Test("a failed record makes the commit throw requiresAbort; after aborting, the transaction can be redone")
    func failedRecordRequiresAbort() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("txn", partitions: 1)
        let collector = ReportCollector()
        let fatalErrors = FatalCollector()
        let producer = try transactionalProducer(cluster, collector, fatalErrors: fatalErrors)
        defer { producer.close() }
        try producer.initTransactions(timeoutMilliseconds: 10_000)
        try producer.beginTransaction()
        // A permanent Produce error. (Not TOPIC_AUTHORIZATION_FAILED: after that one librdkafka marks the
        // topic failed and refuses further records to it at once, until its metadata says otherwise.)
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.produceAPIKey, errors: [.messageSizeTooLarge])
        try produce(producer, topic: "txn", ids: 0 ..< 5, partitions: 1)
        let error = try #require(throws: KafkaError.self) { try producer.commitTransaction(timeoutMilliseconds: 10_000) }
        #expect(error.requiresAbort)
        #expect(!error.isFatal && !error.isRetriable)
        #expect(error.message.contains("abortTransaction, then begin a new one"))
        #expect(Set(collector.failures.map(\.1.code)) == [.messageSizeTooLarge])
        try producer.abortTransaction(timeoutMilliseconds: 10_000)

        // librdkafka 2.0.2 does not renumber after that abort: the refused batch's sequence numbers stay
        // used, so the partition leader (the mock as a real broker) refuses the next batch with
        // OUT_OF_ORDER_SEQUENCE_NUMBER, and librdkafka answers that by bumping the producer epoch, which
        // requires aborting the transaction once more. A caller that aborts and redoes the transaction on
        // every requiresAbort error gets through.
        try producer.beginTransaction()
        try produce(producer, topic: "txn", ids: 5 ..< 10, partitions: 1)
        let second = try #require(throws: KafkaError.self) { try producer.commitTransaction(timeoutMilliseconds: 10_000) }
        #expect(second.requiresAbort)
        #expect(second.code.name == "OUT_OF_ORDER_SEQUENCE_NUMBER")
        try producer.abortTransaction(timeoutMilliseconds: 10_000)

        try producer.beginTransaction()
        try produce(producer, topic: "txn", ids: 10 ..< 15, partitions: 1)
        try producer.commitTransaction(timeoutMilliseconds: 10_000)
        #expect(collector.count == 15, "one report per record, whatever became of its transaction")
        #expect(Set(collector.successes.keys) == Set((10 ..< 15).map(UInt64.init)))
        #expect(fatalErrors.all.isEmpty)
    }

    @Test("initTransactions: a transactional id the principal may not use is a fatal error naming the ACL")
    func initNotAuthorized() throws {
        let cluster = try MockKafkaCluster()
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.initProducerIdAPIKey, errors: [.transactionalIDAuthorizationFailed])
        let collector = ReportCollector()
        let fatalErrors = FatalCollector()
        let producer = try transactionalProducer(cluster, collector, id: "not-mine", fatalErrors: fatalErrors)
        defer { producer.close() }
        let error = try #require(throws: KafkaError.self) { try producer.initTransactions(timeoutMilliseconds: 10_000) }
        #expect(error.code == .transactionalIDAuthorizationFailed)
        #expect(error.isFatal)
        #expect(error.message.hasPrefix("initTransactions (transactional.id 'not-mine'): "))
        #expect(error.message.contains("Write and Describe on TransactionalId"))
        try waitUntil { !fatalErrors.all.isEmpty }
        #expect(fatalErrors.all.map(\.code) == [.transactionalIDAuthorizationFailed])
    }

    @Test("initTransactions: an unavailable coordinator is retriable, and calling again resumes once it is back")
    func initCoordinatorUnavailable() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("txn", partitions: 1)
        // librdkafka asks again every 500 ms: these outlast the first call.
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.initProducerIdAPIKey,
                                  errors: Array(repeating: .coordinatorNotAvailable, count: 100))
        let collector = ReportCollector()
        let producer = try transactionalProducer(cluster, collector)
        defer { producer.close() }
        let error = try #require(throws: KafkaError.self) { try producer.initTransactions(timeoutMilliseconds: 2_000) }
        #expect(error.code == .coordinatorNotAvailable)
        #expect(error.isRetriable)
        #expect(!error.isFatal && !error.requiresAbort)
        #expect(error.message.contains("__transaction_state"))

        cluster.clearRequestErrors(apiKey: MockKafkaCluster.initProducerIdAPIKey)
        try producer.initTransactions(timeoutMilliseconds: 10_000)
        try producer.beginTransaction()
        try produce(producer, topic: "txn", ids: 0 ..< 3, partitions: 1)
        try producer.commitTransaction(timeoutMilliseconds: 10_000)
        #expect(collector.successes.count == 3)
    }

    @Test("configuration: transactional.id only through transactionalID; message.timeout.ms follows the transaction timeout")
    func configuration() throws {
        let inProperties = try #require(throws: KafkaError.self) {
            try KafkaProducer(bootstrapServers: "127.0.0.1:1", properties: ["transactional.id": "x"],
                              onDeliveryReports: { _ in }, onFatalError: { _ in })
        }
        #expect(inProperties.code == .configuration)
        #expect(inProperties.message.contains("'transactional.id'"))
        let empty = try #require(throws: KafkaError.self) {
            try KafkaProducer(bootstrapServers: "127.0.0.1:1", properties: [:], transactionalID: "",
                              onDeliveryReports: { _ in }, onFatalError: { _ in })
        }
        #expect(empty.code == .configuration)
        // librdkafka refuses message.timeout.ms above transaction.timeout.ms (default 60 s), so the
        // producer's 300 s default is not applied to a transactional producer, but a caller's is checked.
        let producer = try KafkaProducer(bootstrapServers: "127.0.0.1:1", properties: [:], transactionalID: "t",
                                         onDeliveryReports: { _ in }, onFatalError: { _ in })
        producer.close()
        let tooLong = try #require(throws: KafkaError.self) {
            try KafkaProducer(bootstrapServers: "127.0.0.1:1", properties: ["message.timeout.ms": "300000"],
                              transactionalID: "t", onDeliveryReports: { _ in }, onFatalError: { _ in })
        }
        #expect(tooLong.code == .configuration)
        #expect(tooLong.message.contains("transaction.timeout.ms"))
        // An idempotent producer without transactionalID refuses the transactional calls.
        let plain = try KafkaProducer(bootstrapServers: "127.0.0.1:1", properties: [:],
                                      onDeliveryReports: { _ in }, onFatalError: { _ in })
        defer { plain.close() }
        let notConfigured = try #require(throws: KafkaError.self) { try plain.beginTransaction() }
        #expect(notConfigured.code.name == "_NOT_CONFIGURED")
        #expect(notConfigured.message.contains("create the producer with a transactionalID"))
    }

    @Test("close with a transaction open: every record is reported, the transaction is left to the broker")
    func closeInTransaction() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("txn", partitions: 1)
        let collector = ReportCollector()
        let fatalErrors = FatalCollector()
        let producer = try transactionalProducer(cluster, collector, fatalErrors: fatalErrors)
        try producer.initTransactions(timeoutMilliseconds: 10_000)
        try producer.beginTransaction()
        // Partitions are never added to the transaction, so every record is still queued at the close.
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.addPartitionsToTxnAPIKey,
                                  errors: Array(repeating: .librdkafka(RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS.rawValue),
                                                count: 1_000))
        try produce(producer, topic: "txn", ids: 0 ..< 20, partitions: 1)
        producer.close()
        #expect(collector.count == 20)
        #expect(Set(collector.failures.map(\.1.code)) == [.purgedFromQueue])
        #expect(fatalErrors.all.isEmpty)
        let closed = try #require(throws: KafkaError.self) { try producer.commitTransaction(timeoutMilliseconds: 1_000) }
        #expect(closed.code == .closed)
    }

    @Test("a transactional call from the poll thread is refused instead of waiting for itself")
    func refusedOnPollThread() throws {
        let cluster = try MockKafkaCluster()
        try cluster.createTopic("txn", partitions: 1)
        let outcome = Mutex<KafkaError?>(nil)
        let box = Mutex<KafkaProducer?>(nil)
        let producer = try KafkaProducer(
            bootstrapServers: cluster.bootstrapServers, properties: [:], transactionalID: "poll-thread",
            onDeliveryReports: { _ in
                guard let producer = box.withLock({ $0 }) else { return }
                do throws(KafkaError) {
                    try producer.commitTransaction(timeoutMilliseconds: 1_000)
                } catch {
                    outcome.withLock { $0 = error }
                }
            },
            onFatalError: { _ in })
        box.withLock { $0 = producer }
        defer { box.withLock { $0 = nil }; producer.close() }
        try producer.initTransactions(timeoutMilliseconds: 10_000)
        try producer.beginTransaction()
        try produce(producer, topic: "txn", ids: 0 ..< 1, partitions: 1)
        try waitUntil { outcome.withLock { $0 != nil } }
        let error = try #require(outcome.withLock { $0 })
        #expect(error.code == .invalidArgument)
        #expect(error.message.contains("poll thread"))
        try producer.commitTransaction(timeoutMilliseconds: 10_000)
    }
}

struct TimedOutWaiting: Error, CustomStringConvertible {
    var description: String { "timed out waiting for a condition" }
}

/// Waits (blocking this thread) until `condition` holds, checking every 10 ms, for at most `seconds`.
func waitUntil(seconds: Double = 10, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else { throw TimedOutWaiting() }
        usleep(10_000)
    }
}
