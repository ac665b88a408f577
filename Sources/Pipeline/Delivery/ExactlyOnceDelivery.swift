import Foundation
import Kafka
import Logging
import PGOutput
import Synchronization
import SwallowCore

/// `delivery: exactly_once` on the delivery path (docs/exactly-once.md): the Kafka transactions records
/// are written in, where each record goes, and which replayed records the topics already hold.
///
/// - The producer is transactional. `initTransactions` runs once, before the first record, when this
///   instance holds the slot: it fences earlier instances and aborts their open transaction, so the
///   tails read afterwards are final.
/// - Before the first record to a topic in a stream, the committed tail of each of its partitions is
///   read (`TailScan`): the highest position of this stream's records there. A replayed record at or
///   below it is settled without producing (`DeliveredPositions`).
/// - Every positioned record goes to the partition its key (or, without key, its position) hashes to,
///   with its position in the `swallow.position` header.
/// - A transaction commits every 250 ms while a backlog is read, 25 ms after the reader caught up or
///   started waiting for room (`CommitUrgency`); then, and only then, its records count as delivered
///   (`DeliveryState.transactionCommitted`).
///
/// Producing and committing exclude each other (`transaction`'s lock): a commit flushes what was produced
/// before it, and nothing produced during it could belong to it.
final class ExactlyOnceDelivery: Sendable {
    /// The stream id in every position header: the transactional id.
    let streamID: String
    private let producer: KafkaProducer
    private let reader: KafkaLogReader
    private let logger: Logger
    private let metadataTimeoutMilliseconds: Int32 = 10_000
    private let commitTimeoutMilliseconds: Int32
    /// When the open transaction commits. A commit stops the producing thread until the broker
    /// acknowledged everything in flight and answered EndTxn, so while a backlog is read it commits
    /// seldom (`busy`: the drain rate stays within a few percent of at_least_once's), and once the reader
    /// has caught up it commits soon (`idle`: what a read_committed consumer waits for a record).
    enum CommitUrgency {
        /// Records keep coming: commit after 250 ms.
        case busy
        /// The reader caught up with the server, or waits for room: commit after 25 ms.
        case idle
        /// Commit now (a stop, a flush).
        case now

        var nanoseconds: UInt64 {
            switch self {
            case .busy: 250_000_000
            case .idle: 25_000_000
            case .now: 0
            }
        }
    }

    private struct Transaction {
        var initialized = false
        var isOpen = false
        var produced = 0
        var lastPosition: RecordPosition?
    }

    /// What this stream learnt about one topic it writes, on its first record to it. A class, never
    /// changed once made: every record looks it up, and a reference is one retain where a copy of the
    /// fields was one per field.
    private final class TopicPlacement: Sendable {
        let partitionCount: Int32
        /// ` <partitions> <stream>`, the end of every position header to this topic.
        let headerSuffix: [UInt8]
        /// What the tails hold; nothing to skip when the partition count changed since (the keys moved).
        let delivered: DeliveredPositions
        let skips: Bool

        init(partitionCount: Int32, headerSuffix: [UInt8], delivered: DeliveredPositions, skips: Bool) {
            self.partitionCount = partitionCount
            self.headerSuffix = headerSuffix
            self.delivered = delivered
            self.skips = skips
        }
    }

    /// What this stream learnt about the topics it writes; forgotten at each new stream.
    private struct Topics {
        var placements: [String: TopicPlacement] = [:]
        /// The topic looked up last: records come in runs to one topic, and comparing its name with
        /// the last one (mostly the same string storage, compared without reading it) costs less than
        /// hashing it for the dictionary.
        var last: (topic: String, placement: TopicPlacement)?

        mutating func lookUp(_ topic: String) -> TopicPlacement? {
            if let last, last.topic == topic { return last.placement }
            guard let placement = placements[topic] else { return nil }
            last = (topic, placement)
            return placement
        }
    }

    /// Snapshot units whose rows may already be in the topics (read before a failure), and what the
    /// topics hold of them.
    private struct RepeatedSnapshotUnits {
        /// The units, with their floors (`SnapshotTailScan`).
        var units: [String: LSN] = [:]
        /// Per topic, the rows of `units` its partitions hold; scanned on the first row to the topic.
        var delivered: [String: [String: Set<SnapshotRowIdentity>]] = [:]
    }

    private let transaction = Mutex(Transaction())
    private let topics = Mutex(Topics())
    private let repeatedUnits = Mutex(RepeatedSnapshotUnits())
    /// Set once `initTransactions` succeeded: the check every record makes without a lock.
    private let initialized = Atomic<Bool>(false)
    /// Records a resume skipped as already delivered, since the process started.
    let skipped = Atomic<Int>(0)
    /// The position of the last record in a committed Kafka transaction.
    let lastCommitted = Mutex<RecordPosition?>(nil)
    /// When the open transaction began (`DispatchTime` nanoseconds: a plain integer, where `Duration`
    /// arithmetic is 128-bit); `UInt64.max` while none is open. Kept beside `transaction` so that the
    /// check every frame makes (`commitIfDue`) takes no lock.
    private let openedAtNanos = Atomic<UInt64>(.max)

    init(producer: KafkaProducer, streamID: String, settings: PipelineSettings, logger: Logger) throws(PipelineError) {
        self.producer = producer
        self.streamID = streamID
        self.logger = logger
        commitTimeoutMilliseconds = Int32(clamping: max(settings.flushTimeoutMilliseconds, 1_000))
        do {
            reader = try KafkaLogReader(bootstrapServers: settings.bootstrapServers, properties: settings.kafkaProperties,
                                        secretProperties: settings.kafkaSecretProperties)
        } catch {
            throw PipelineError(code: .kafka, message: "cannot create the reader of the topics' tails (delivery: exactly_once): \(error)",
                                isRetriable: error.isRetriable, underlying: error)
        }
    }

    func close() { reader.close() }

    // MARK: Placing a record

    /// Where a positioned record goes, or that its partition already holds it.
    enum Placement {
        /// Produce to `partition` with the position header (lent to the producer), and a snapshot row's
        /// `swallow.snapshot` header.
        case produce(partition: Int32, position: RecordPosition.Header?, snapshotTag: KafkaHeader?)
        case alreadyDelivered
    }

    /// Where `record` goes, or that its topic already holds it; nil for a record a replay never skips
    /// (neither positioned nor a snapshot row): librdkafka places it. A snapshot row is compared with
    /// the rows of its unit, a stream record with its partition's tail.
    func place(_ record: OutgoingRecord) throws(PipelineError) -> Placement? {
        if let tag = record.snapshot { return try place(record, snapshot: tag) }
        if let position = record.position { return try place(record, at: position) }
        return nil
    }

    /// Decides where `record` at `position` goes, reading its topic's tails first if this stream has not.
    private func place(_ record: OutgoingRecord, at position: RecordPosition) throws(PipelineError) -> Placement {
        if !initialized.load(ordering: .acquiring) { try initializeIfNeeded() }
        let topic = try placement(of: record.topic)
        // A partition the record names (the outbox router's `partition` placement) is kept: the
        // comparison with the tail is per partition, and the same record names the same one again.
        let partition = record.partition
            ?? KafkaPartitioner.murmur2(key: record.key ?? position.partitionSeed, partitionCount: topic.partitionCount)
        if topic.skips, topic.delivered.isDelivered(topic: record.topic, partition: partition, position: position) {
            skipped.add(1, ordering: .relaxed)
            return .alreadyDelivered
        }
        return .produce(partition: partition, position: position.header(suffix: topic.headerSuffix), snapshotTag: nil)
    }

    /// Decides where a snapshot row goes, or that its topic already holds it: a row of a unit declared
    /// with `expectRepeatedSnapshotUnits` whose identity (key, or ordinal without key) the topic's
    /// partitions hold under the same unit. The partition is its key's (murmur2, as for stream records), or
    /// for a row without key its tag's.
    private func place(_ record: OutgoingRecord, snapshot tag: SnapshotTag) throws(PipelineError) -> Placement {
        if !initialized.load(ordering: .acquiring) { try initializeIfNeeded() }
        let topic = try placement(of: record.topic)
        if try snapshotRowDelivered(record, tag: tag, partitionCount: topic.partitionCount) {
            skipped.add(1, ordering: .relaxed)
            return .alreadyDelivered
        }
        let partition = record.partition
            ?? KafkaPartitioner.murmur2(key: record.key ?? Array(tag.description.utf8), partitionCount: topic.partitionCount)
        // The position too, so that a stream's tail scan that meets snapshot rows stops there (see
        // `RecordPosition.belowCommits(at:)` for an initial snapshot's).
        return .produce(partition: partition, position: record.position.map { $0.header(suffix: topic.headerSuffix) },
                        snapshotTag: KafkaHeader(key: SnapshotTag.headerName, value: tag.encode(stream: streamID)))
    }

    /// Rows of `units` may be in the topics already: a unit read again after a failure (an initial
    /// snapshot's chunks on another attempt, the rest of an interrupted snapshot read incrementally, an
    /// incremental snapshot's table after a restart), each with its floor (see `SnapshotTailScan`): each
    /// topic's partitions are read back to the lowest before its first such row. Replaces the units
    /// declared before; what the topics hold is read again when they changed.
    func expectRepeatedSnapshotUnits(_ units: [String: LSN]) {
        repeatedUnits.withLock { repeated in
            guard repeated.units != units else { return }
            repeated = RepeatedSnapshotUnits(units: units)
        }
    }

    private func snapshotRowDelivered(_ record: OutgoingRecord, tag: SnapshotTag, partitionCount: Int32) throws(PipelineError) -> Bool {
        // Under the lock throughout: several snapshot readers may reach a topic at once, and one scan serves them all.
        try repeatedUnits.withLock { (repeated: inout RepeatedSnapshotUnits) throws(PipelineError) -> Bool in
            guard repeated.units[tag.unit] != nil else { return false }
            let delivered: [String: Set<SnapshotRowIdentity>]
            if let known = repeated.delivered[record.topic] {
                delivered = known
            } else {
                delivered = try scanSnapshotRows(of: record.topic, partitionCount: partitionCount, units: repeated.units)
                repeated.delivered[record.topic] = delivered
            }
            return delivered[tag.unit]?.contains(SnapshotRowIdentity(key: record.key, tag: tag)) ?? false
        }
    }

    private func scanSnapshotRows(of topic: String, partitionCount: Int32,
                                  units: [String: LSN]) throws(PipelineError) -> [String: Set<SnapshotRowIdentity>] {
        var delivered: [String: Set<SnapshotRowIdentity>] = [:]
        var examined = 0
        for partition in 0..<partitionCount {
            let watermarks = try endOffsets(of: topic, partition: partition)
            var scan = SnapshotTailScan(stream: streamID, units: units, low: watermarks.low, end: watermarks.high)
            while case .read(let window) = scan.step {
                scan.receive(window: try records(of: topic, partition: partition, in: window).map { record in
                    SnapshotTailScan.Record(offset: record.offset, key: record.key,
                                            headers: record.headers.map { RecordHeader(key: $0.key, value: $0.value) })
                })
            }
            if case .malformedTag(let offset, _) = scan.step {
                throw PipelineError(code: .kafka,
                                    message: "the record at offset \(offset) of \(topic) [\(partition)] has a \(SnapshotTag.headerName) header Swallow cannot read, so it cannot tell which snapshot rows were delivered there (delivery: exactly_once). Was it written by another tool or another version? Remove the header's producer, or set delivery: at_least_once",
                                    isRetriable: false)
            }
            for (unit, rows) in scan.delivered { delivered[unit, default: []].formUnion(rows) }
            examined += scan.recordsExamined
        }
        logger.info("read what a topic holds of the snapshot rows being read again",
                    metadata: ["topic": "\(topic)", "records_examined": "\(examined)",
                               "rows_found": "\(delivered.values.reduce(0) { $0 + $1.count })"])
        return delivered
    }

    /// `initTransactions`, once: fences every earlier producer with this transactional id and aborts its
    /// open transaction.
    private func initializeIfNeeded() throws(PipelineError) {
        try transaction.withLock { (transaction: inout Transaction) throws(PipelineError) in
            guard !transaction.initialized else { return }
            do throws(KafkaError) {
                try producer.initTransactions(timeoutMilliseconds: metadataTimeoutMilliseconds)
            } catch {
                throw Self.transactionsUnavailable(error, streamID: streamID)
            }
            transaction.initialized = true
            initialized.store(true, ordering: .releasing)
        }
    }

    static func transactionsUnavailable(_ error: KafkaError, streamID: String) -> PipelineError {
        PipelineError(code: .kafka,
                      message: "cannot start the transactional producer (delivery: exactly_once, transactional id \(streamID)): \(error). The broker must support transactions (Kafka 0.11+, with transaction.state.log.replication.factor and transaction.state.log.min.isr the cluster can satisfy) and allow Write and Describe on the transactional id; or set delivery: at_least_once",
                      isRetriable: error.isRetriable && !error.isFatal, underlying: error)
    }

    /// The topic's partition count and tails, learnt on the first record of this stream to it.
    private func placement(of topic: String) throws(PipelineError) -> TopicPlacement {
        if let known = topics.withLock({ $0.lookUp(topic) }) { return known }
        let found: Int32?
        do {
            found = try producer.partitionCount(topic: topic, timeoutMilliseconds: metadataTimeoutMilliseconds)
        } catch {
            throw PipelineError(code: .kafka, message: "cannot read the partitions of topic \(topic): \(error)",
                                isRetriable: error.isRetriable, underlying: error)
        }
        guard let count = found, count > 0 else {
            throw PipelineError(code: .kafka,
                                message: "topic \(topic) does not exist and was not created on request: create it (delivery: exactly_once chooses each record's partition, so it needs the topic's partition count), or allow auto.create.topics.enable on the broker",
                                isRetriable: true)
        }
        let tails = try readTails(of: topic, partitionCount: count)
        var delivered = DeliveredPositions()
        for (partition, position) in tails.highest { delivered.observe(topic: topic, partition: partition, position: position) }
        var skips = !tails.highest.isEmpty
        if let written = tails.writtenWithPartitionCounts.first(where: { $0 != count }) {
            skips = false
            logger.warning("the partition count of a topic changed since Swallow last wrote to it: its records now hash to other partitions, so the records after the confirmed position are sent again to it (duplicates possible, nothing lost)",
                           metadata: ["topic": "\(topic)", "partitions_then": "\(written)", "partitions_now": "\(count)"])
        }
        let placement = TopicPlacement(partitionCount: count,
                                       headerSuffix: RecordPosition.headerSuffix(stream: streamID, partitionCount: count),
                                       delivered: delivered, skips: skips)
        topics.withLock { $0.placements[topic] = placement }
        return placement
    }

    /// What the committed tails of a topic's partitions hold.
    struct Tails {
        var highest: [(Int32, RecordPosition)] = []
        /// The partition counts the last records of the partitions were placed with.
        var writtenWithPartitionCounts: Set<Int32> = []
    }

    private func readTails(of topic: String, partitionCount: Int32) throws(PipelineError) -> Tails {
        var tails = Tails()
        for partition in 0..<partitionCount {
            let watermarks = try endOffsets(of: topic, partition: partition)
            var scan = TailScan(stream: streamID, low: watermarks.low, end: watermarks.high)
            while case .read(let window) = scan.step {
                scan.receive(window: try records(of: topic, partition: partition, in: window).map { record in
                    TailScan.Record(offset: record.offset, headers: record.headers.map { RecordHeader(key: $0.key, value: $0.value) })
                })
            }
            switch scan.step {
            case .found(let position, _, let writtenWith):
                tails.highest.append((partition, position))
                tails.writtenWithPartitionCounts.insert(writtenWith)
            case .notFound, .read:
                break
            case .malformedPosition(let offset, _):
                throw PipelineError(code: .kafka,
                                    message: "the record at offset \(offset) of \(topic) [\(partition)] has a \(RecordPosition.headerName) header Swallow cannot read, so it cannot tell what was delivered there (delivery: exactly_once). Was it written by another tool or another version? Remove the header's producer, or set delivery: at_least_once",
                                    isRetriable: false)
            }
            logger.debug("read a partition's tail", metadata: ["topic": "\(topic)", "partition": "\(partition)",
                                                              "records_examined": "\(scan.recordsExamined)"])
        }
        return tails
    }

    private func endOffsets(of topic: String, partition: Int32) throws(PipelineError) -> PartitionWatermarks {
        do {
            return try reader.offsets(topic: topic, partition: partition, timeoutMilliseconds: metadataTimeoutMilliseconds)
        } catch {
            throw PipelineError(code: .kafka, message: "cannot read the end offsets of \(topic) [\(partition)] (delivery: exactly_once reads the topics' tails at each start; the reader needs Read and Describe on the topic): \(error)",
                                isRetriable: error.isRetriable, underlying: error)
        }
    }

    private func records(of topic: String, partition: Int32, in window: Range<Int64>) throws(PipelineError) -> [KafkaRecord] {
        do {
            return try reader.records(topic: topic, partition: partition, from: window.lowerBound, to: window.upperBound,
                                      timeoutMilliseconds: metadataTimeoutMilliseconds)
        } catch {
            throw PipelineError(code: .kafka, message: "cannot read the tail of \(topic) [\(partition)] (delivery: exactly_once): \(error)",
                                isRetriable: error.isRetriable, underlying: error)
        }
    }

    /// A new stream replays from the confirmed position, a snapshot attempt reads its unfinished chunks
    /// again: what the tails hold is read again (an aborted transaction may have left records on a
    /// broker that keeps them visible).
    func forgetTopics() {
        topics.withLock { $0 = Topics() }
        repeatedUnits.withLock { $0.delivered = [:] }
    }

    // MARK: Transactions

    /// Runs `produce` (one record, handed to the producer without blocking) inside the open transaction,
    /// beginning one if needed. `position`: the record's, for the status.
    func inTransaction(position: RecordPosition?, _ produce: () throws(KafkaError) -> Void) throws(KafkaError) {
        try transaction.withLock { (transaction: inout Transaction) throws(KafkaError) in
            if !transaction.initialized {
                try producer.initTransactions(timeoutMilliseconds: metadataTimeoutMilliseconds)
                transaction.initialized = true
            }
            if !transaction.isOpen {
                try producer.beginTransaction()
                transaction.isOpen = true
                transaction.produced = 0
                openedAtNanos.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
            }
            try produce()
            transaction.produced += 1
            if let position { transaction.lastPosition = position }
        }
    }

    /// Commits the open transaction when it has been open as long as `urgency` allows;
    /// its records' owners then settle them. Throws when the commit fails: the stream restarts and the
    /// transaction is aborted (`abort`).
    func commitIfDue(_ urgency: CommitUrgency, state: DeliveryState, monitor: PipelineMonitor) throws(PipelineError) {
        // Most calls (one per frame read) find nothing due: they decide it without the lock.
        func isDue() -> Bool {
            let openedAt = openedAtNanos.load(ordering: .relaxed)
            return openedAt != .max && DispatchTime.now().uptimeNanoseconds &- openedAt >= urgency.nanoseconds
        }
        guard isDue() else { return }
        var commitTimes: [Int64] = []
        let committed: RecordPosition? = try transaction.withLock { (transaction: inout Transaction) throws(PipelineError) -> RecordPosition? in
            guard transaction.isOpen, isDue() else { return nil }
            let started = ContinuousClock.now
            do throws(KafkaError) {
                try producer.commitTransaction(timeoutMilliseconds: commitTimeoutMilliseconds)
                monitor.transactionCommitted(heldFor: ContinuousClock.now - started)
            } catch {
                if error.isFatal { throw DeliveryPath.producerFatal(error) }
                throw PipelineError(code: .kafka,
                                    message: "committing a Kafka transaction failed (nothing in it counts as delivered; the stream resumes from the confirmed position): \(error)",
                                    isRetriable: !error.isFatal, underlying: error)
            }
            // librdkafka has every report once the commit returns; the poll thread may still be handing
            // the last ones over.
            if !state.waitForTransactionReports(transaction.produced, until: Date().addingTimeInterval(10)) {
                throw PipelineError(code: .kafka, message: "a committed Kafka transaction's delivery reports did not all arrive within 10 s",
                                    isRetriable: true)
            }
            state.transactionCommitted(completedCommitTimes: &commitTimes)
            transaction.isOpen = false
            openedAtNanos.store(.max, ordering: .relaxed)
            return transaction.lastPosition
        }
        if !commitTimes.isEmpty { monitor.recordCommitsAcknowledged(commitTimes, nowMicros: WallClock.micros()) }
        if let committed { lastCommitted.withLock { $0 = committed } }
    }

    /// Aborts the open transaction, if any (after a failure: its records are resent or, where the broker
    /// keeps aborted records visible, found in the tails and skipped).
    func abort(state: DeliveryState, monitor: PipelineMonitor) {
        transaction.withLock { transaction in
            guard transaction.isOpen else { return }
            monitor.transactionsAborted.increment()
            do {
                try producer.abortTransaction(timeoutMilliseconds: commitTimeoutMilliseconds)
            } catch {
                logger.warning("aborting the Kafka transaction failed; the next start fences it", metadata: ["error": "\(error)"])
            }
            transaction.isOpen = false
            openedAtNanos.store(.max, ordering: .relaxed)
            state.transactionAborted()
        }
    }
}
