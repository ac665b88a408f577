import CRdKafka
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads what was committed at the end of a partition: how a transactional producer that chooses its own
/// partitions finds, after a restart, the last record it delivered to each partition it writes.
///
/// A consumer with `isolation.level=read_committed`: records of open or aborted transactions are never
/// returned (librdkafka drops aborted batches using the aborted-transaction list of each Fetch response,
/// and turns the transaction markers into internal events), and a partition's end is its last stable
/// offset (LSO: the first offset of the oldest open transaction, or the high watermark when none is
/// open) rather than its high watermark. Because markers and aborted records take offsets too, the
/// offsets of the records returned have gaps (as they do after compaction): the record before offset
/// `n` is not necessarily at `n - 1`.
///
/// No consumer group is joined and no offset committed: partitions are assigned directly
/// (`rd_kafka_assign`), one at a time. librdkafka requires a `group.id` for that (a random
/// `swallow-log-reader-…` one) and looks up that group's coordinator; a failed lookup (e.g.
/// `GROUP_AUTHORIZATION_FAILED`) is remembered for error messages but does not stop the reading.
///
/// Every method blocks the calling thread for at most about its timeout (see `offsets` for the one
/// exception in librdkafka 2.0.2); calls are serialized by an internal lock. Records are returned, never
/// logged. Connection problems librdkafka reports are collected (as `KafkaAdmin` does) and the first one
/// is quoted when a call fails.
public final class KafkaLogReader: Sendable {
    private let handle: Mutex<ClientHandle?>
    private let errors = ConnectionErrors()

    /// - Parameters:
    ///   - properties: librdkafka properties applied after the defaults (`group.id` random, auto commit
    ///     off, `fetch.wait.max.ms=10` so that a partition's end is seen quickly): the producer's
    ///     `kafka.properties`, so that the same security settings are used (producer-only properties are
    ///     accepted; librdkafka ignores them on a consumer). Forced afterwards, because the methods depend
    ///     on them: `isolation.level=read_committed`, `enable.partition.eof=true`,
    ///     `allow.auto.create.topics=false` (reading must not create a topic) and `auto.offset.reset=error`
    ///     (a start offset outside the log is an error, not a silent jump to another offset).
    ///   - secretProperties: names among `properties` whose values are secret: errors never quote them.
    public init(bootstrapServers: String, properties: [String: String] = [:],
                secretProperties: Set<String> = []) throws(KafkaError) {
        let config = KafkaConfiguration(secretProperties: secretProperties)
        try config.set("bootstrap.servers", bootstrapServers)
        try config.set([
            ("group.id", "swallow-log-reader-\(UInt64.random(in: 0 ... UInt64.max))"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            // A tail read ends at the partition's end: a fetch there waits this long for records that will
            // not come before librdkafka reports the end (EOF). A resume reads every partition a stream
            // writes, one after another, so this wait is paid per partition.
            ("fetch.wait.max.ms", "10"),
        ])
        try config.set(properties)
        try config.set([
            ("isolation.level", "read_committed"),
            ("enable.partition.eof", "true"),
            ("allow.auto.create.topics", "false"),
            ("auto.offset.reset", "error"),
        ])
        // Error events and log lines go to the main queue, which `errors.collect` drains; records and
        // partition errors come from the consumer queue.
        handle = Mutex(try config.makeQueuedHandle(RD_KAFKA_CONSUMER, events: RD_KAFKA_EVENT_ERROR))
    }

    deinit { close() }

    /// Destroys the client (closing the consumer first). Idempotent; later calls throw `.closed`.
    public func close() {
        let handle = self.handle.withLock { handle -> ClientHandle? in
            defer { handle = nil }
            return handle
        }
        _ = handle  // destroyed here, outside the lock
    }

    /// Problems librdkafka reported since the reader was created, oldest first, without repeats: its
    /// connection errors, and consumer errors that stopped no read (transient ones, and those about no
    /// partition in particular, e.g. `GROUP_AUTHORIZATION_FAILED: FindCoordinator response error: …`).
    public var recentErrors: [String] {
        handle.withLock { handle in
            guard let handle else { return }
            errors.collect(from: handle)
            collectConsumerErrors(handle)
        }
        return errors.all
    }

    /// Consumer errors that arrived between reads. librdkafka queues a group coordinator's refusal on
    /// the consumer queue, which only `records` polls: one that comes after the last read would
    /// otherwise never be seen. Nothing is assigned between reads, so anything else there is stale.
    private func collectConsumerErrors(_ handle: ClientHandle) {
        while let message = rd_kafka_consumer_poll(handle.rk, 0) {
            defer { rd_kafka_message_destroy(message) }
            let code = message.pointee.err
            guard code != RD_KAFKA_RESP_ERR_NO_ERROR, code != RD_KAFKA_RESP_ERR__PARTITION_EOF else { continue }
            let text = handle.mask(String(cString: rd_kafka_message_errstr(message)))
            errors.add("\(KafkaError.fromResponse(code, message: text).code.name): \(text)")
        }
    }

    /// The partition ids of `topic`, sorted; nil if the topic does not exist. From a Metadata request for
    /// every topic (as `KafkaConsumer` does), which never creates a topic: one naming the topic would
    /// carry AllowAutoTopicCreation = false, but only from Metadata v4 on, and librdkafka 2.0.2's mock
    /// (Metadata up to v2) creates every topic such a request names. Brokers list only the topics the
    /// principal may describe, so a topic it may not describe reads as absent; Write and Read both imply
    /// Describe, so it cannot have written to such a topic. A listed topic with an error
    /// (`TOPIC_AUTHORIZATION_FAILED`, …) throws it; one being created (`LEADER_NOT_AVAILABLE`, no
    /// partitions yet) is asked for again every 100 ms until the timeout.
    ///
    /// Call this before `offsets` and `records` for a topic that may not exist: those name the topic in
    /// their requests for its leader, which brokers before Kafka 0.11 and the 2.0.2 mock answer by
    /// creating it.
    public func partitions(of topic: String, timeoutMilliseconds: Int32) throws(KafkaError) -> [Int32]? {
        try withHandle { handle throws(KafkaError) -> [Int32]? in
            do throws(KafkaError) {
                return try topicPartitions(handle.rk, topic: topic, wholeCluster: true,
                                           timeoutMilliseconds: timeoutMilliseconds)
            } catch {
                throw failure(error, handle)
            }
        }
    }

    /// The partition's log bounds for this read_committed reader (`rd_kafka_query_watermark_offsets`: two
    /// ListOffsets requests to the leader, EARLIEST and LATEST): `low` is the first offset still in the log,
    /// `high` the end that `records` reads up to: the last stable offset. librdkafka 2.0.2 sends its
    /// `isolation.level` in every ListOffsets request (v2 and later, `rd_kafka_make_ListOffsetsRequest`),
    /// and for READ_COMMITTED a broker answers LATEST with the LSO (Kafka's ListOffsets schema: "READ_COMMITTED
    /// returns all data from offsets smaller than the current LSO"). So `high` is at most the high
    /// watermark, and every record below it is committed, aborted, or a transaction marker; LSO - 1 is
    /// typically a commit marker, not a record. librdkafka 2.0.2's mock cluster keeps no LSO: it answers
    /// with the high watermark (and has no markers and no aborted records either).
    ///
    /// As with `KafkaAdmin.watermarks`, librdkafka 2.0.2 does not honour the timeout while the leader is
    /// down (the call waits for it to come back; fixed in librdkafka 2.3.0, #4460).
    /// - Throws: the broker's error (e.g. `UNKNOWN_TOPIC_OR_PART`), `_TIMED_OUT`, `.closed`.
    public func offsets(topic: String, partition: Int32, timeoutMilliseconds: Int32) throws(KafkaError) -> PartitionWatermarks {
        try withHandle { handle throws(KafkaError) in
            var low: Int64 = 0
            var high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(handle.rk, topic, partition, &low, &high, timeoutMilliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw failure(KafkaError.fromResponse(err, message: "no offsets for topic '\(topic)' partition \(partition) "
                    + "within \(timeoutMilliseconds) ms (\(String(cString: rd_kafka_err2str(err))))"), handle)
            }
            return PartitionWatermarks(low: low, high: high)
        }
    }

    /// Every committed record of `topic` partition `partition` with `from <= offset < to`, in offset order
    /// (an empty array when `from >= to`). Assigns that partition alone at offset `from`, reads until it
    /// sees a record at offset `to - 1` or later, or the partition's end (librdkafka's partition EOF, raised
    /// when the fetch position reaches the LSO), then unassigns it. Offsets without a record (transaction
    /// markers, aborted or compacted records) are skipped, so `to` may be the LSO from `offsets` and the
    /// last record returned may be below `to - 1`; a `to` beyond the end returns what there is up to the end.
    ///
    /// - Throws: `_TIMED_OUT` (retriable) if neither `to - 1` nor the end was reached within the timeout,
    ///   naming the partition and how far it got; `_AUTO_OFFSET_RESET` if `from` is outside the log (below
    ///   `low`: deleted by retention meanwhile; above the end); other errors about this partition that
    ///   librdkafka does not retry by itself (e.g. `TOPIC_AUTHORIZATION_FAILED`, `UNKNOWN_TOPIC_OR_PART`);
    ///   `.closed`. A thrown error loses the records read so far.
    public func records(topic: String, partition: Int32, from: Int64, to: Int64,
                        timeoutMilliseconds: Int32) throws(KafkaError) -> [KafkaRecord] {
        guard from < to else { return [] }
        return try withHandle { handle throws(KafkaError) in
            let deadline = monotonicMilliseconds() + Int64(max(0, timeoutMilliseconds))
            try assign(handle, topic: topic, partition: partition, offset: from)
            defer { _ = rd_kafka_assign(handle.rk, nil) }
            let place = "topic '\(topic)' partition \(partition)"
            var records: [KafkaRecord] = []
            while true {
                let remaining = deadline - monotonicMilliseconds()
                guard remaining > 0 else {
                    let progress = records.last.map { "\(records.count) records up to offset \($0.offset)" } ?? "no record"
                    throw failure(KafkaError(code: .timedOut,
                                             message: "reading \(place) from offset \(from) to \(to): \(progress) within "
                                                + "\(timeoutMilliseconds) ms, and neither offset \(to - 1) nor the end of "
                                                + "the partition was reached; is its leader available? try again",
                                             isRetriable: true, isFatal: false), handle)
                }
                guard let message = rd_kafka_consumer_poll(handle.rk, Int32(clamping: remaining)) else { continue }
                defer { rd_kafka_message_destroy(message) }
                let m = message.pointee
                let name = m.rkt.flatMap { rd_kafka_topic_name($0) }.map { String(cString: $0) }
                let ours = name == topic && m.partition == partition
                switch m.err {
                case RD_KAFKA_RESP_ERR_NO_ERROR:
                    guard ours, m.offset >= from else { continue }
                    if m.offset >= to { return records }
                    records.append(KafkaConsumer.record(message, topic: topic))
                    if m.offset >= to - 1 { return records }
                case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                    // The EOF's offset is the fetch position; one below `from` would be a stale event.
                    if ours && m.offset >= from { return records }
                default:
                    let text = handle.mask(String(cString: rd_kafka_message_errstr(message)))
                    let error = KafkaError.fromResponse(m.err, message: "reading \(place) from offset \(from): \(text)")
                    if ours && (!error.isRetriable || error.isFatal) {
                        throw failure(error, handle)
                    }
                    // Transient (librdkafka retries by itself), or about no partition of ours (e.g. the group
                    // coordinator lookup): remembered for the message of a later failure.
                    errors.add("\(error.code.name): \(text)")
                }
            }
        }
    }

    // MARK: - Internals

    private func withHandle<R>(_ body: (ClientHandle) throws(KafkaError) -> R) throws(KafkaError) -> R {
        try handle.withLock { handle throws(KafkaError) -> R in
            guard let handle else { throw .closed("KafkaLogReader") }
            return try body(handle)
        }
    }

    private func assign(_ handle: ClientHandle, topic: String, partition: Int32, offset: Int64) throws(KafkaError) {
        guard let list = rd_kafka_topic_partition_list_new(1) else {
            throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "could not allocate a partition list")
        }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_topic_partition_list_add(list, topic, partition).pointee.offset = offset
        let err = rd_kafka_assign(handle.rk, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.fromResponse(err, message: "assigning topic '\(topic)' partition \(partition) at offset "
                + "\(offset) failed: \(String(cString: rd_kafka_err2str(err)))")
        }
    }

    /// `error` with the first connection problem librdkafka reported, if any, appended to its message.
    private func failure(_ error: KafkaError, _ handle: ClientHandle) -> KafkaError {
        errors.collect(from: handle)
        var error = error
        error.message = errors.failureMessage(error.message)
        return error
    }
}
