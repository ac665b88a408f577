import CRdKafka
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An idempotent (acks=all, enable.idempotence=true) librdkafka producer; with a `transactionalID`, a
/// transactional one (see KafkaProducer+Transactions.swift).
///
/// Threading model:
/// - `produce` is synchronous and blocks its caller while librdkafka's local queue is full (backpressure);
///   call it from a thread of your own, not from Swift's cooperative pool.
/// - Delivery reports, errors and log lines are served by a dedicated poll thread owned by the producer
///   (librdkafka's event API on the main queue). Callbacks run on that thread, one at a time.
/// - Every accepted `produce` (one that did not throw) gets exactly one `DeliveryReport` for its id —
///   success, a librdkafka failure, or `_PURGE_QUEUE`/`_PURGE_INFLIGHT` if `close()` purged it (the
///   only exception: `close()` giving up after `closeDrainMilliseconds`, which it logs).
public final class KafkaProducer: Sendable {
    /// Applied before the caller's properties, so each can be overridden — except that `acks` and
    /// `enable.idempotence` must stay at these values (checked after applying the caller's properties).
    public static let defaultProperties: [(String, String)] = [
        ("enable.idempotence", "true"),
        ("acks", "all"),
        // murmur2 (with random partitioning for null keys) is the Java client's default partitioner, so a
        // key lands on the same partition as with Debezium/Kafka Connect for the same partition count.
        ("partitioner", "murmur2_random"),
        ("linger.ms", "5"),
        // Bounded memory: at most 100k messages / 32 MiB buffered before produce() blocks.
        ("queue.buffering.max.messages", "100000"),
        ("queue.buffering.max.kbytes", "32768"),
        ("message.timeout.ms", "300000"),
    ]

    /// How long `close()` keeps serving purge reports / waiting for blocked `produce` callers before it
    /// gives up and destroys the handle regardless.
    static let closeDrainMilliseconds: Int64 = 10_000

    let shared: ProducerShared
    /// The `transactional.id` given to init, nil for an idempotent producer.
    public let transactionalID: String?

    /// - Parameters:
    ///   - properties: librdkafka properties, applied verbatim after `defaultProperties`.
    ///     `acks` must remain `all` and `enable.idempotence` `true` (else `.configuration` is thrown);
    ///     `log.queue` is always forced to `true` (logs are delivered through the poll thread).
    ///   - secretProperties: names among `properties` whose values are secret (passwords, keys): errors
    ///     name these properties but never quote their values, even where librdkafka's message does.
    ///   - transactionalID: sets `transactional.id`, making this a transactional producer: `produce` is
    ///     then only allowed inside a transaction (`initTransactions` once, then `beginTransaction` …
    ///     `commitTransaction`/`abortTransaction`; librdkafka refuses it otherwise with `_STATE`). It must
    ///     stay the same across restarts of the same logical producer: initializing transactions with it
    ///     fences every earlier producer instance that used it (see `initTransactions`). `properties` must
    ///     not set `transactional.id` themselves. The default `message.timeout.ms` (300 s) is not applied
    ///     to a transactional producer: librdkafka requires `message.timeout.ms` <= `transaction.timeout.ms`
    ///     (default 60 s) and, when it is not set, makes it equal to it.
    ///   - onDeliveryReports: called on the producer's poll thread, once per librdkafka delivery-report
    ///     event (a batch). Must not block for long, and must not call `flush` (it would wait for itself).
    ///   - onFatalError: called at most once, on the poll thread, if librdkafka raises a fatal error;
    ///     the producer is unusable afterwards (`produce` throws the same underlying error, with
    ///     `isFatal` set; outstanding messages fail with `_FATAL`) and should be closed.
    ///   - logHandler: librdkafka log lines as (syslog level, facility, message), on the poll thread.
    ///     Non-fatal error events (e.g. `_TRANSPORT`, `_ALL_BROKERS_DOWN`; librdkafka retries these by
    ///     itself) are passed here too, as level 3 (LOG_ERR) with facility `ERROR`. When nil, log lines
    ///     are dropped (rather than printed to stderr from librdkafka's threads).
    ///   - purgeUnsentAfterFailure: when a delivery fails, purge at once (on the poll thread, before the
    ///     failure is reported) every message not yet sent to a broker; those fail with `_PURGE_QUEUE`.
    ///     For callers that send everything after a failure again: otherwise messages queued behind the
    ///     failed one (e.g. while its broker was down) are still delivered when the broker is back,
    ///     ahead of the failed one's second copy, and a partition no longer holds the order produced.
    public init(bootstrapServers: String,
                properties: [String: String],
                secretProperties: Set<String> = [],
                transactionalID: String? = nil,
                onDeliveryReports: @escaping @Sendable ([DeliveryReport]) -> Void,
                onFatalError: @escaping @Sendable (KafkaError) -> Void,
                logHandler: (@Sendable (Int32, String, String) -> Void)? = nil,
                purgeUnsentAfterFailure: Bool = false) throws(KafkaError) {
        if properties["transactional.id"] != nil {
            throw .configuration("Kafka property 'transactional.id' is not allowed in the producer's properties: "
                + "Swallow sets it itself for delivery: exactly_once (and a producer given one by accident "
                + "could not produce outside a transaction); remove it")
        }
        let config = KafkaConfiguration(secretProperties: secretProperties)
        try config.set("bootstrap.servers", bootstrapServers)
        if let transactionalID {
            guard !transactionalID.isEmpty else {
                throw .configuration("the producer's transactional.id must not be empty")
            }
            try config.set(Self.defaultProperties.filter { $0.0 != "message.timeout.ms" })
            try config.set("transactional.id", transactionalID)
        } else {
            try config.set(Self.defaultProperties)
        }
        try config.set(properties)
        try Self.checkEnforcedProperties(config, userProperties: properties)
        // Delivery reports, errors and log lines all arrive on the main queue, which our poll thread serves.
        let handle = try config.makeProducerHandle(events: RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR)

        let shared = ProducerShared(handle: handle)
        let loop = PollLoop(handle: handle, shared: shared, onDeliveryReports: onDeliveryReports,
                            onFatalError: onFatalError, logHandler: logHandler,
                            purgeUnsentAfterFailure: purgeUnsentAfterFailure)
        let thread = try startThread(name: "kafka-producer") { loop.run() }
        shared.state.withLock { $0.pollThread = thread }
        self.shared = shared
        self.transactionalID = transactionalID
    }

    deinit {
        close()
    }

    /// Enqueues one message (key, value and headers are copied into librdkafka) for asynchronous delivery;
    /// the outcome arrives as a `DeliveryReport` with this `id`. Blocks the calling thread while
    /// librdkafka's local queue is full (`queue.buffering.max.*`): that is the backpressure.
    ///
    /// - Parameters:
    ///   - key: nil for a null key (partitioned randomly by murmur2_random); `[]` is an empty key.
    ///   - value: nil for a tombstone (null value); `[]` is an empty value.
    ///   - borrowedHeader: one more header, after `headers`, whose value the caller lends for this call
    ///     (a header written for every record, without an array for it).
    ///   - partition: the partition to write to; nil lets librdkafka's partitioner choose
    ///     (`RD_KAFKA_PARTITION_UA`: murmur2_random, `KafkaPartitioner.murmur2` of the key for a non-null
    ///     key). A partition the topic does not have fails with `_UNKNOWN_PARTITION`: thrown here when
    ///     librdkafka already knows the topic's partitions (see `prepareTopic`), else in the delivery report.
    ///   - id: any value except `UInt64.max`, which is reserved (ids travel in librdkafka's per-message
    ///     opaque pointer as `id + 1`, because a pointer of 0 would be NULL).
    ///   - blockWhenQueueFull: true waits inside librdkafka for queue space (RD_KAFKA_MSG_F_BLOCK); false
    ///     throws `queueFull` at once, for callers that must keep doing other work while they wait.
    ///   - inFlightByteLimit: when given, the message is accepted only if `inFlightBytes` stays within it
    ///     (or nothing else is in flight: a message larger than the limit goes alone rather than never),
    ///     else `queueFull` is thrown at once. The check and the count are one atomic step, so threads
    ///     producing at once never pass the limit together.
    /// - Throws: immediate failures only, e.g. `MSG_SIZE_TOO_LARGE` (message above `message.max.bytes`),
    ///   the fatal error (with `isFatal`) once one was raised, `.closed`, `_INVALID_ARG` for the
    ///   reserved id. An unknown topic is not immediate: it is reported through the delivery report.
    public func produce(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [],
                        borrowedHeader: KafkaBorrowedHeader? = nil,
                        partition: Int32? = nil, timestamp: Int64? = nil, id: UInt64,
                        blockWhenQueueFull: Bool = true, inFlightByteLimit: Int? = nil) throws(KafkaError) {
        guard id != UInt64.max else {
            throw KafkaError(code: .invalidArgument,
                             message: "delivery id UInt64.max is reserved (ids are carried as id + 1)",
                             isRetriable: false, isFatal: false)
        }
        guard let handle = shared.acquire() else { throw .closed("KafkaProducer") }
        defer { shared.release() }
        let flags = RD_KAFKA_MSG_F_COPY | (blockWhenQueueFull ? RD_KAFKA_MSG_F_BLOCK : 0)
        // Counted before the enqueue: the delivery report (which subtracts) may come before it returns.
        let bytes = Self.messageBytes(key: key, value: value, headers: headers)
            + (borrowedHeader.map { Self.headerBytes(key: $0.key, valueCount: $0.value.count) } ?? 0)
        if let inFlightByteLimit {
            guard shared.reserveInFlightBytes(bytes, limit: inFlightByteLimit) else {
                throw KafkaError(code: .queueFull,
                                 message: "the in-flight byte bound (\(inFlightByteLimit) bytes) is reached: wait for acknowledgements",
                                 isRetriable: true, isFatal: false)
            }
        } else {
            shared.inFlightBytes.add(bytes, ordering: .relaxed)
        }
        if let error = Self.enqueue(rk: handle.rk, topic: topic, partition: partition ?? RD_KAFKA_PARTITION_UA,
                                    key: key, value: value, headers: headers, borrowedHeader: borrowedHeader,
                                    timestamp: timestamp, opaque: UnsafeMutableRawPointer(bitPattern: UInt(id) &+ 1), flags: flags) {
            shared.inFlightBytes.subtract(bytes, ordering: .relaxed)
            var failure = KafkaError.consuming(error)
            failure.message = handle.mask(failure.message)
            throw failure
        }
    }

    /// Fails every message not yet sent to a broker, at once (`_PURGE_QUEUE` in their reports), as a
    /// delivery failure does with `purgeUnsentAfterFailure`: for a caller about to send everything after
    /// a failure again, whose producing thread may have queued more after that first purge (or whose
    /// messages librdkafka put back in the queue to retry), none of which may reach the broker ahead of
    /// the second copies.
    public func purgeUnsent() {
        guard let handle = shared.acquire() else { return }
        defer { shared.release() }
        _ = rd_kafka_purge(handle.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING)
    }

    /// Waits up to `timeoutMilliseconds` for every outstanding message to be delivered or failed; their
    /// reports still go to `onDeliveryReports`, and when this returns 0 every one of those calls has
    /// already returned (librdkafka only stops counting a message once its report event is destroyed,
    /// which the poll thread does after the callback). Returns the number still outstanding (0 = all
    /// done; after a timeout this is `rd_kafka_outq_len`, at least 1). Returns 0 once closed.
    /// Must not be called from `onDeliveryReports` (the poll thread would wait for itself).
    public func flush(timeoutMilliseconds: Int32) -> Int {
        guard let handle = shared.acquire() else { return 0 }
        defer { shared.release() }
        // With RD_KAFKA_EVENT_DR enabled, rd_kafka_flush does not poll: it waits for the message count
        // to drop to zero while our poll thread serves the reports.
        if rd_kafka_flush(handle.rk, timeoutMilliseconds) == RD_KAFKA_RESP_ERR_NO_ERROR { return 0 }
        return max(Int(rd_kafka_outq_len(handle.rk)), 1)
    }

    /// Bytes (key + value + header names and values) of the messages accepted by `produce` whose delivery
    /// report has not been handed to `onDeliveryReports` yet: what a caller bounds to bound memory. The
    /// count drops just before the reports' callback runs, so a caller woken by that callback sees it.
    public var inFlightBytes: Int { shared.inFlightBytes.load(ordering: .relaxed) }

    /// The size `inFlightBytes` counts for one message.
    public static func messageBytes(key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader]) -> Int {
        var bytes = (key?.count ?? 0) + (value?.count ?? 0)
        for header in headers { bytes += headerBytes(key: header.key, valueCount: header.value?.count ?? 0) }
        return bytes
    }

    /// The size `inFlightBytes` counts for one header (of a message, or a `KafkaBorrowedHeader`).
    public static func headerBytes(key: String, valueCount: Int) -> Int {
        key.utf8.count + valueCount
    }

    /// Fetches the metadata of `topic` now, waiting up to `timeoutMilliseconds`. librdkafka creates a
    /// topic on its first message with its partitions unknown, and queries unknown topics only on its
    /// once-a-second timer: without this, the first messages to each topic wait up to a second (measured:
    /// a 1 s gap between "metadata information unknown" and the first ProduceRequest). Best effort:
    /// returns whether the metadata arrived; on failure the message still goes once librdkafka finds out.
    @discardableResult
    public func prepareTopic(_ topic: String, timeoutMilliseconds: Int32) -> Bool {
        guard let handle = shared.acquire() else { return false }
        defer { shared.release() }
        guard let rkt = rd_kafka_topic_new(handle.rk, topic, nil) else { return false }
        defer { rd_kafka_topic_destroy(rkt) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let error = rd_kafka_metadata(handle.rk, 0, rkt, &metadata, timeoutMilliseconds)
        if let metadata { rd_kafka_metadata_destroy(metadata) }
        return error == RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// `rd_kafka_outq_len`: messages not yet acknowledged plus events (reports, log lines) the poll thread
    /// has not served yet. 0 once closed.
    public var inFlightCount: Int {
        guard let handle = shared.acquire() else { return 0 }
        defer { shared.release() }
        return Int(rd_kafka_outq_len(handle.rk))
    }

    /// Closes the producer without waiting for delivery — call `flush` first for a graceful shutdown.
    /// Outstanding messages are purged (each id gets a `_PURGE_QUEUE`/`_PURGE_INFLIGHT` failure report;
    /// an in-flight one may nevertheless have been written), the poll thread serves the remaining
    /// events, exits, and the librdkafka handle is destroyed. `produce` callers blocked on a full queue
    /// are released (their message is purged too). Later calls throw `.closed`. Idempotent; also run by
    /// deinit. A concurrent second `close()` returns immediately. If called from a callback on the poll
    /// thread, it does not wait for the thread (which finishes and destroys the handle by itself).
    /// A transaction still open is neither committed nor aborted here: the broker aborts it after
    /// `transaction.timeout.ms`, or as soon as the next producer with the same transactional id calls
    /// `initTransactions`.
    public func close() {
        let (handle, thread) = shared.state.withLock { state -> (ClientHandle?, pthread_t?) in
            if state.closing { return (nil, nil) }
            state.closing = true
            defer { state.pollThread = nil }
            return (state.handle, state.pollThread)
        }
        guard let handle else { return }
        shared.stopRequested.store(true, ordering: .releasing)
        // Wake the poll thread now instead of at the end of its current poll timeout.
        rd_kafka_queue_yield(handle.mainQueue)
        if let thread {
            if pthread_equal(thread, pthread_self()) != 0 {
                pthread_detach(thread)
            } else {
                pthread_join(thread, nil)
            }
        }
        // Drop the owning reference; the handle is destroyed here unless a caller still holds it.
        shared.state.withLock { $0.handle = nil }
    }

    /// Test hook: makes librdkafka raise a fatal error (`rd_kafka_test_fatal_error`) as if the broker had
    /// caused one, to exercise `onFatalError`.
    func triggerFatalErrorForTesting(reason: String = "test-induced fatal error") {
        guard let handle = shared.acquire() else { return }
        defer { shared.release() }
        _ = rd_kafka_test_fatal_error(handle.rk, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason)
    }

    // MARK: - Internals

    /// Rejects configurations that weaken the delivery guarantees Swallow relies on. Reads the effective
    /// values back from librdkafka, so aliases (`request.required.acks`) and spellings (`-1`) are handled.
    private static func checkEnforcedProperties(_ config: KafkaConfiguration,
                                                userProperties: [String: String]) throws(KafkaError) {
        func shown(_ key: String, _ effective: String) -> String {
            config.isSecret(key) ? "***" : userProperties[key] ?? effective
        }
        let acks = config.get("acks") ?? "?"
        if acks != "-1" && acks.lowercased() != "all" {
            let key = ["acks", "request.required.acks"].first { userProperties[$0] != nil } ?? "acks"
            throw .configuration("Kafka property '\(key)' = '\(shown(key, acks))' is not allowed: "
                + "Swallow requires acks=all so that an acknowledged change event is on every in-sync replica")
        }
        let idempotence = config.get("enable.idempotence") ?? "?"
        if idempotence != "true" {
            throw .configuration("Kafka property 'enable.idempotence' = '\(shown("enable.idempotence", idempotence))' "
                + "is not allowed: Swallow requires enable.idempotence=true so that retries neither duplicate "
                + "nor reorder change events")
        }
    }

    /// Builds the `rd_kafka_vu_t` array for `rd_kafka_produceva` (the array form of the variadic
    /// `rd_kafka_producev`, which Swift cannot call). Returns the `rd_kafka_error_t` on failure.
    private static func enqueue(rk: OpaquePointer, topic: String, partition: Int32, key: [UInt8]?,
                                value: [UInt8]?, headers: [KafkaHeader], borrowedHeader: KafkaBorrowedHeader?,
                                timestamp: Int64? = nil, opaque: UnsafeMutableRawPointer?, flags: Int32) -> OpaquePointer? {
        var cHeaders: OpaquePointer?
        let headerCount = headers.count + (borrowedHeader == nil ? 0 : 1)
        if headerCount > 0 {
            let list = rd_kafka_headers_new(headerCount)
            cHeaders = list
            // Names through withCString: passing a String as `const char *` directly makes a
            // NUL-terminated copy of it (an allocation per header and message).
            for header in headers {
                header.key.withCString { name in
                    withBytes(header.value) { pointer, count in
                        _ = rd_kafka_header_add(list, name, -1, pointer, count)
                    }
                }
            }
            if let borrowedHeader {
                borrowedHeader.key.withCString { name in
                    let value = borrowedHeader.value
                    if let base = value.baseAddress {
                        _ = rd_kafka_header_add(list, name, -1, base, value.count)
                    } else {
                        // Never NULL (that would be a null value): an empty buffer may have no address.
                        var placeholder: UInt8 = 0
                        withUnsafePointer(to: &placeholder) { _ = rd_kafka_header_add(list, name, -1, $0, 0) }
                    }
                }
            }
        }
        let error = topic.withCString { topicName in
            withBytes(key) { keyPointer, keyCount in
                withBytes(value) { valuePointer, valueCount in
                    withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 8) { vus in
                        var count = 0
                        func append(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
                            var vu = rd_kafka_vu_t()
                            vu.vtype = type
                            fill(&vu)
                            vus.initializeElement(at: count, to: vu)
                            count += 1
                        }
                        append(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topicName }
                        if partition != RD_KAFKA_PARTITION_UA {
                            append(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition }
                        }
                        append(RD_KAFKA_VTYPE_KEY) { $0.u.mem.ptr = keyPointer; $0.u.mem.size = keyCount }
                        // A NULL pointer is a null value (tombstone); a non-NULL one with size 0 is empty.
                        append(RD_KAFKA_VTYPE_VALUE) { $0.u.mem.ptr = valuePointer; $0.u.mem.size = valueCount }
                        append(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque }
                        // The record's CreateTime in ms; without it librdkafka stamps the time of producing.
                        if let timestamp { append(RD_KAFKA_VTYPE_TIMESTAMP) { $0.u.i64 = timestamp } }
                        // COPY: librdkafka copies key/value, so our buffers need only outlive this call.
                        // BLOCK (optional): wait for queue space instead of failing with _QUEUE_FULL.
                        append(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = flags }
                        if let cHeaders {
                            append(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = cHeaders }
                        }
                        defer { vus.baseAddress!.deinitialize(count: count) }
                        return rd_kafka_produceva(rk, vus.baseAddress, count)
                    }
                }
            }
        }
        // On success the message owns the headers; on failure they are still ours.
        if error != nil, let cHeaders { rd_kafka_headers_destroy(cHeaders) }
        return error
    }
}

/// Passes bytes to C as (pointer, size): nil → (NULL, 0) meaning null; empty → a valid pointer with size 0
/// (an empty array may have no storage, and NULL would turn "empty" into "null").
@inline(__always)
func withBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeMutableRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    if bytes.isEmpty {
        var placeholder: UInt8 = 0
        return withUnsafeMutablePointer(to: &placeholder) { body(UnsafeMutableRawPointer($0), 0) }
    }
    // librdkafka takes `void *` but, with RD_KAFKA_MSG_F_COPY / header_add, only reads from it.
    return bytes.withUnsafeBytes { body(UnsafeMutableRawPointer(mutating: $0.baseAddress!), $0.count) }
}

/// Sole owner of a client's `rd_kafka_t` (the producer's, the admin client's) and of our reference to
/// its main queue.
/// `@unchecked Sendable`: only immutable pointers, and librdkafka's handle/queue APIs are thread-safe.
final class ClientHandle: @unchecked Sendable {
    let rk: OpaquePointer
    let mainQueue: OpaquePointer
    /// Masks secret property values in the texts librdkafka hands over (errors, log lines), which may
    /// quote them.
    let mask: SecretMask

    init(rk: OpaquePointer, mainQueue: OpaquePointer, mask: SecretMask) {
        self.rk = rk
        self.mainQueue = mainQueue
        self.mask = mask
    }

    deinit {
        // The queue reference from rd_kafka_queue_get_main must be released before the handle.
        rd_kafka_queue_destroy(mainQueue)
        rd_kafka_destroy(rk)
    }
}

/// State shared by the public producer, its callers and its poll thread.
final class ProducerShared: Sendable {
    struct State {
        /// The owning reference; nil once closed.
        var handle: ClientHandle?
        var closing = false
        /// `produce`/`flush`/… calls currently using the handle. close() waits (serving reports) until this
        /// is 0 before destroying, so a caller blocked in RD_KAFKA_MSG_F_BLOCK is released first.
        var activeCalls = 0
        var pollThread: pthread_t?
    }

    let state: Mutex<State>
    let stopRequested = Atomic<Bool>(false)
    let fatalReported = Atomic<Bool>(false)
    /// See `KafkaProducer.inFlightBytes`.
    let inFlightBytes = Atomic<Int>(0)

    /// Adds `bytes` to `inFlightBytes` if the sum stays within `limit` or nothing is in flight; false
    /// (and nothing added) otherwise. One compare-and-exchange: no other thread's message slips in
    /// between the check and the count.
    func reserveInFlightBytes(_ bytes: Int, limit: Int) -> Bool {
        var current = inFlightBytes.load(ordering: .relaxed)
        while true {
            guard current == 0 || current + bytes <= limit else { return false }
            let (exchanged, original) = inFlightBytes.compareExchange(expected: current, desired: current + bytes,
                                                                      ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }
    init(handle: ClientHandle) {
        state = Mutex(State(handle: handle))
    }

    /// The handle for one call, or nil once closing; pair with `release()`.
    func acquire() -> ClientHandle? {
        state.withLock { state in
            guard !state.closing, let handle = state.handle else { return nil }
            state.activeCalls += 1
            return handle
        }
    }

    func release() {
        state.withLock { $0.activeCalls -= 1 }
    }
}

/// The body of the producer's poll thread. Its mutable state (topic-name cache) is only touched by that
/// thread, hence `@unchecked Sendable`.
final class PollLoop: @unchecked Sendable {
    private let handle: ClientHandle
    private let shared: ProducerShared
    private let onDeliveryReports: @Sendable ([DeliveryReport]) -> Void
    private let onFatalError: @Sendable (KafkaError) -> Void
    private let logHandler: (@Sendable (Int32, String, String) -> Void)?
    private let purgeUnsentAfterFailure: Bool
    /// rd_kafka_topic_t* → name, so a report does not allocate a String per message.
    private var topicNames: [OpaquePointer: String] = [:]

    init(handle: ClientHandle, shared: ProducerShared,
         onDeliveryReports: @escaping @Sendable ([DeliveryReport]) -> Void,
         onFatalError: @escaping @Sendable (KafkaError) -> Void,
         logHandler: (@Sendable (Int32, String, String) -> Void)?, purgeUnsentAfterFailure: Bool) {
        self.handle = handle
        self.shared = shared
        self.purgeUnsentAfterFailure = purgeUnsentAfterFailure
        self.onDeliveryReports = onDeliveryReports
        self.onFatalError = onFatalError
        self.logHandler = logHandler
    }

    func run() {
        while !shared.stopRequested.load(ordering: .acquiring) {
            // 100 ms bounds how late a stop request is noticed if the wake-up (queue yield) is missed.
            serve(timeoutMilliseconds: 100)
        }
        shutdown()
    }

    /// Purges everything outstanding and serves the resulting reports until no message and no caller is
    /// left (or the drain deadline passes). Purging repeatedly also catches messages enqueued by callers
    /// that were blocked on a full queue when close() began.
    private func shutdown() {
        let deadline = monotonicMilliseconds() + KafkaProducer.closeDrainMilliseconds
        while true {
            _ = rd_kafka_purge(handle.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT
                                          | RD_KAFKA_PURGE_F_NON_BLOCKING)
            while serve(timeoutMilliseconds: 0) {}
            let active = shared.state.withLock { $0.activeCalls }
            if active == 0 && rd_kafka_outq_len(handle.rk) == 0 { break }
            if monotonicMilliseconds() >= deadline {
                logHandler?(4, "CLOSE", "KafkaProducer.close: gave up draining after "
                    + "\(KafkaProducer.closeDrainMilliseconds) ms with \(rd_kafka_outq_len(handle.rk)) "
                    + "messages/events and \(active) callers outstanding")
                break
            }
            serve(timeoutMilliseconds: 10)
        }
    }

    /// Serves at most one event; returns whether there was one.
    @discardableResult
    private func serve(timeoutMilliseconds: Int32) -> Bool {
        guard let event = rd_kafka_queue_poll(handle.mainQueue, timeoutMilliseconds) else { return false }
        // Destroyed only after the callback: librdkafka counts a message as outstanding until then, which
        // is what lets flush() returning 0 imply that every report has been handed over.
        defer { rd_kafka_event_destroy(event) }
        switch rd_kafka_event_type(event) {
        case RD_KAFKA_EVENT_DR: deliveryReports(event)
        case RD_KAFKA_EVENT_ERROR: error(event)
        case RD_KAFKA_EVENT_LOG: log(event)
        default: break
        }
        return true
    }

    private func deliveryReports(_ event: OpaquePointer) {
        var reports: [DeliveryReport] = []
        var failed = false
        reports.reserveCapacity(rd_kafka_event_message_count(event))
        var deliveredBytes = 0
        defer {
            // Before the callback, so that whoever it wakes sees the room made.
            shared.inFlightBytes.subtract(deliveredBytes, ordering: .relaxed)
            if !reports.isEmpty { onDeliveryReports(reports) }
        }
        while let message = rd_kafka_event_message_next(event) {
            let m = message.pointee
            let opaque = UInt(bitPattern: m._private)
            guard opaque != 0 else { continue }  // not produced by us (cannot happen)
            deliveredBytes += m.len + m.key_len + Self.headerBytes(message)
            let id = UInt64(opaque - 1)
            let topic = topicName(m.rkt)
            let latency = rd_kafka_message_latency(message)
            if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                reports.append(DeliveryReport(id: id, result: .success(
                    .init(topic: topic, partition: m.partition, offset: m.offset)),
                    latencyMicroseconds: latency >= 0 ? latency : nil))
            } else {
                // Not rd_kafka_message_errstr: for a delivery report the payload is the message, not a
                // description, and that function would return the payload.
                let reason = String(cString: rd_kafka_err2str(m.err))
                let error = KafkaError.fromResponse(m.err, message: "delivery to topic '\(topic ?? "?")' failed: \(reason)")
                reports.append(DeliveryReport(id: id, result: .failure(error)))
                if m.err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && m.err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT { failed = true }
            }
        }
        if failed && purgeUnsentAfterFailure {
            // Messages already in flight cannot be taken back; queued ones can, before a broker that
            // comes back takes them. (The reports go out after this, from the `defer` above.)
            _ = rd_kafka_purge(handle.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING)
        }
    }

    /// Header names and values of a reported message, as `KafkaProducer.messageBytes` counted them.
    private static func headerBytes(_ message: UnsafePointer<rd_kafka_message_t>) -> Int {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return 0 }
        var bytes = 0
        var index = 0
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            bytes += (name.map { strlen($0) } ?? 0) + size
            index += 1
        }
        return bytes
    }

    private func error(_ event: OpaquePointer) {
        let code = rd_kafka_event_error(event)
        let text = handle.mask(String(cString: rd_kafka_event_error_string(event)))
        if rd_kafka_event_error_is_fatal(event) != 0 {
            // The event only says _FATAL; the underlying error is kept by the handle.
            var buffer = [CChar](repeating: 0, count: 512)
            let underlying = rd_kafka_fatal_error(handle.rk, &buffer, buffer.count)
            let reason = handle.mask(string(fromBuffer: buffer))
            let error = KafkaError(code: .librdkafka(underlying == RD_KAFKA_RESP_ERR_NO_ERROR ? code.rawValue : underlying.rawValue),
                                   message: reason.isEmpty ? text : reason, isRetriable: false, isFatal: true)
            if !shared.fatalReported.exchange(true, ordering: .acquiringAndReleasing) {
                onFatalError(error)
            }
        } else {
            logHandler?(3, "ERROR", "\(KafkaError.Code.librdkafka(code.rawValue).name): \(text)")
        }
    }

    private func log(_ event: OpaquePointer) {
        guard let logHandler else { return }
        var facility: UnsafePointer<CChar>?
        var text: UnsafePointer<CChar>?
        var level: Int32 = 0
        guard rd_kafka_event_log(event, &facility, &text, &level) == 0 else { return }
        logHandler(level, facility.map { String(cString: $0) } ?? "", handle.mask(text.map { String(cString: $0) } ?? ""))
    }

    private func topicName(_ rkt: OpaquePointer?) -> String? {
        guard let rkt, let cName = rd_kafka_topic_name(rkt) else { return nil }
        // Verify the cached name: a pointer could in principle be reused for another topic.
        if let cached = topicNames[rkt], cached.withCString({ strcmp($0, cName) }) == 0 { return cached }
        let name = String(cString: cName)
        topicNames[rkt] = name
        return name
    }
}

// MARK: - Threads and time

/// Starts a joinable pthread running `body` — a thread we own, so blocking librdkafka calls never occupy
/// Swift's cooperative pool.
func startThread(name: String, _ body: @escaping @Sendable () -> Void) throws(KafkaError) -> pthread_t {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { argument in
        let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
        box.body()
        return nil
    }, context)
    guard rc == 0 else {
        Unmanaged<Box>.fromOpaque(context).release()
        throw KafkaError(code: .librdkafka(RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE.rawValue),
                         message: "could not start the \(name) thread (pthread_create: \(rc))",
                         isRetriable: false, isFatal: false)
    }
    return thread
}

func monotonicMilliseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}
