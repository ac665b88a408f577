import CRdKafka
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A simple reader of whole topics, for tests and the `swallow consume` command: no consumer group, no
/// offset commits. Every partition of the given topics is assigned (`rd_kafka_assign`) from the beginning.
///
/// All methods poll on the calling thread (blocking it for up to the given timeout) — call them from a
/// thread that may block, not from latency-sensitive code. Calls are serialized by an internal lock.
public final class KafkaConsumer: Sendable {
    private struct TopicPartition: Hashable {
        var topic: String
        var partition: Int32
    }

    private struct State {
        var handle: ConsumerHandle?
        /// Per assigned partition: true once librdkafka reported partition EOF and no record from that
        /// partition has been returned since.
        var atEnd: [TopicPartition: Bool]
    }

    private let state: Mutex<State>

    /// The partitions assigned per topic (every partition the topic had when the consumer was created).
    public let assignedPartitions: [String: [Int32]]

    /// Assigns every partition of `topics` from offset BEGINNING with `enable.partition.eof=true`.
    ///
    /// Topics are looked up in full-cluster metadata (which never auto-creates a topic), retried every
    /// 200 ms until all exist with at least one partition; after `waitForTopicsMilliseconds` this throws
    /// `_UNKNOWN_TOPIC` naming the missing topics. (Partitions added later are not picked up.)
    ///
    /// librdkafka's own log lines go to stderr (its default logger), unlike the producer's.
    ///
    /// - Parameter properties: librdkafka properties applied after the defaults (`group.id` is a random
    ///   `swallow-reader-…`, required by librdkafka even though no group is joined;
    ///   `enable.auto.commit=false`; `auto.offset.reset=earliest`; `fetch.wait.max.ms=100`).
    ///   `enable.partition.eof` is forced to true because `readToEnd` depends on it.
    public init(bootstrapServers: String, topics: [String], properties: [String: String] = [:],
                waitForTopicsMilliseconds: Int32 = 10_000) throws(KafkaError) {
        let config = KafkaConfiguration()
        try config.set("bootstrap.servers", bootstrapServers)
        try config.set([
            ("group.id", "swallow-reader-\(UInt64.random(in: 0 ... UInt64.max))"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            // An empty partition's EOF is only known once a fetch returns, and a fetch with nothing to
            // return waits up to this long (default 500 ms): keep readToEnd snappy.
            ("fetch.wait.max.ms", "100"),
        ])
        try config.set(properties)
        try config.set("enable.partition.eof", "true")
        let handle = ConsumerHandle(rk: try config.makeClient(RD_KAFKA_CONSUMER))
        // Serve everything (including errors and logs callbacks) from rd_kafka_consumer_poll.
        _ = rd_kafka_poll_set_consumer(handle.rk)

        var uniqueTopics: [String] = []
        for topic in topics where !uniqueTopics.contains(topic) { uniqueTopics.append(topic) }
        let partitions = try Self.waitForPartitions(handle.rk, topics: uniqueTopics,
                                                     timeoutMilliseconds: waitForTopicsMilliseconds)
        guard let list = rd_kafka_topic_partition_list_new(Int32(partitions.count)) else {
            throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "could not allocate a partition list")
        }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for tp in partitions {
            rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition).pointee.offset = Int64(RD_KAFKA_OFFSET_BEGINNING)
        }
        let err = rd_kafka_assign(handle.rk, list)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.fromResponse(err, message: "assigning \(partitions.count) partitions failed: \(String(cString: rd_kafka_err2str(err)))")
        }
        assignedPartitions = Dictionary(grouping: partitions, by: \.topic).mapValues { $0.map(\.partition) }
        state = Mutex(State(handle: handle,
                            atEnd: Dictionary(uniqueKeysWithValues: partitions.map { ($0, false) })))
    }

    deinit {
        close()
    }

    /// The next record, or nil if none arrived within the timeout. Partition-EOF notifications are
    /// consumed internally (they feed `readToEnd`), as are transient errors (e.g. `_TRANSPORT`, which
    /// librdkafka recovers from by itself); other errors are thrown.
    public func poll(timeoutMilliseconds: Int32) throws(KafkaError) -> KafkaRecord? {
        try state.withLock { state throws(KafkaError) in
            try Self.poll(&state, deadline: monotonicMilliseconds() + Int64(max(0, timeoutMilliseconds)))
        }
    }

    /// Reads until every assigned partition is at its end (librdkafka reported EOF for it and no newer
    /// record has arrived) or the timeout passes; returns the records read, in offset order within each
    /// partition. Records already fetched are always drained first, so a second call returns anything
    /// produced since if librdkafka has fetched it; it does not wait for records that are produced later.
    public func readToEnd(timeoutMilliseconds: Int32) throws(KafkaError) -> [KafkaRecord] {
        try state.withLock { state throws(KafkaError) in
            let deadline = monotonicMilliseconds() + Int64(max(0, timeoutMilliseconds))
            var records: [KafkaRecord] = []
            // Drain what has been fetched already, then wait for the partitions still short of their end.
            while let record = try Self.poll(&state, deadline: 0) { records.append(record) }
            while !state.atEnd.values.allSatisfy({ $0 }) {
                switch try Self.pollEvent(&state, deadline: deadline) {
                case .record(let record): records.append(record)
                case .endOfPartition: continue
                case .timedOut: return records
                }
            }
            return records
        }
    }

    /// Reads until `count` records (across all topics) have been read by this call, or the timeout
    /// passes; returns them (exactly `count`, or fewer on timeout). Records after the `count`th stay
    /// queued for the next call. If an error is thrown, the records read so far by this call are lost.
    public func read(atLeast count: Int, timeoutMilliseconds: Int32) throws(KafkaError) -> [KafkaRecord] {
        try state.withLock { state throws(KafkaError) in
            let deadline = monotonicMilliseconds() + Int64(max(0, timeoutMilliseconds))
            var records: [KafkaRecord] = []
            while records.count < count && monotonicMilliseconds() < deadline {
                if let record = try Self.poll(&state, deadline: deadline) { records.append(record) }
            }
            return records
        }
    }

    /// Leaves the assignment and destroys the handle. Idempotent; also done by deinit. Later calls throw
    /// `.closed`.
    public func close() {
        let handle = state.withLock { state -> ConsumerHandle? in
            defer { state.handle = nil }
            return state.handle
        }
        _ = handle  // destroyed here, outside the lock
    }

    // MARK: - Internals

    private enum PollEvent {
        case record(KafkaRecord)
        case endOfPartition
        case timedOut
    }

    /// The next record or partition EOF, or `.timedOut` at the deadline (a deadline in the past polls once
    /// without waiting). Transient errors are skipped.
    private static func pollEvent(_ state: inout State, deadline: Int64) throws(KafkaError) -> PollEvent {
        guard let handle = state.handle else { throw .closed("KafkaConsumer") }
        while true {
            let remaining = Int32(clamping: max(0, deadline - monotonicMilliseconds()))
            guard let message = rd_kafka_consumer_poll(handle.rk, remaining) else { return .timedOut }
            defer { rd_kafka_message_destroy(message) }
            let m = message.pointee
            let topic = m.rkt.flatMap { rd_kafka_topic_name($0) }.map { String(cString: $0) } ?? ""
            let tp = TopicPartition(topic: topic, partition: m.partition)
            if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                state.atEnd[tp] = false
                return .record(record(message, topic: topic))
            }
            if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                state.atEnd[tp] = true
                return .endOfPartition
            }
            let error = KafkaError.fromResponse(m.err, message: String(cString: rd_kafka_message_errstr(message)))
            if !error.isRetriable || error.isFatal { throw error }
        }
    }

    /// The next record, skipping partition EOFs, or nil at the deadline.
    private static func poll(_ state: inout State, deadline: Int64) throws(KafkaError) -> KafkaRecord? {
        while true {
            switch try pollEvent(&state, deadline: deadline) {
            case .record(let record): return record
            case .timedOut: return nil
            case .endOfPartition: continue
            }
        }
    }

    static func record(_ message: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) -> KafkaRecord {
        let m = message.pointee
        func bytes(_ pointer: UnsafeMutableRawPointer?, _ count: Int) -> [UInt8]? {
            guard let pointer else { return nil }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }
        var headers: [KafkaHeader] = []
        var cHeaders: OpaquePointer?
        // The headers stay owned by the message.
        if rd_kafka_message_headers(message, &cHeaders) == RD_KAFKA_RESP_ERR_NO_ERROR, let cHeaders {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(cHeaders, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "",
                                           value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
                index += 1
            }
        }
        let timestamp = rd_kafka_message_timestamp(message, nil)
        return KafkaRecord(topic: topic, partition: m.partition, offset: m.offset,
                           key: bytes(m.key, m.key_len), value: bytes(m.payload, m.len),
                           headers: headers, timestamp: timestamp >= 0 ? timestamp : nil)
    }

    private static func waitForPartitions(_ rk: OpaquePointer, topics: [String],
                                          timeoutMilliseconds: Int32) throws(KafkaError) -> [TopicPartition] {
        let deadline = monotonicMilliseconds() + Int64(max(0, timeoutMilliseconds))
        var lastError = ""
        while true {
            var found: [String: [Int32]] = [:]
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let remaining = Int32(clamping: max(100, min(2_000, deadline - monotonicMilliseconds())))
            // all_topics = 1: a request naming the topics could auto-create them on a real broker.
            let err = rd_kafka_metadata(rk, 1, nil, &metadata, remaining)
            if err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata {
                let md = metadata.pointee
                for i in 0 ..< Int(md.topic_cnt) {
                    let t = md.topics[i]
                    let name = String(cString: t.topic)
                    guard topics.contains(name), t.err == RD_KAFKA_RESP_ERR_NO_ERROR, t.partition_cnt > 0 else { continue }
                    found[name] = (0 ..< Int(t.partition_cnt)).map { t.partitions[$0].id }.sorted()
                }
                rd_kafka_metadata_destroy(metadata)
            } else {
                lastError = " (last metadata request: \(String(cString: rd_kafka_err2str(err))))"
            }
            let missing = topics.filter { found[$0] == nil }
            if missing.isEmpty {
                return topics.flatMap { topic in found[topic]!.map { TopicPartition(topic: topic, partition: $0) } }
            }
            if monotonicMilliseconds() >= deadline {
                throw KafkaError(code: .unknownTopic,
                                 message: "topic(s) \(missing.map { "'\($0)'" }.joined(separator: ", ")) not found in "
                                    + "cluster metadata within \(timeoutMilliseconds) ms\(lastError)",
                                 isRetriable: true, isFatal: false)
            }
            usleep(200_000)
        }
    }
}

/// Sole owner of a consumer `rd_kafka_t`. `@unchecked Sendable`: an immutable pointer, and librdkafka's
/// consumer APIs may be called from any thread.
final class ConsumerHandle: @unchecked Sendable {
    let rk: OpaquePointer

    init(rk: OpaquePointer) {
        self.rk = rk
    }

    deinit {
        // Close the consumer (drops the assignment, stops fetchers) before destroying the handle.
        _ = rd_kafka_consumer_close(rk)
        rd_kafka_destroy(rk)
    }
}
