import CRdKafka
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a broker said about the cluster in a Metadata response (every topic: `all_topics = 1`).
public struct KafkaClusterMetadata: Sendable, Equatable {
    public struct Broker: Sendable, Equatable {
        public var id: Int32
        public var host: String
        public var port: Int32
    }

    public struct Topic: Sendable, Equatable {
        public var name: String
        public var partitionCount: Int
        /// The broker's error for this topic (e.g. `LEADER_NOT_AVAILABLE` while it is being created), nil if none.
        public var error: KafkaError.Code?
        /// The number of replicas of its partitions (the largest, should they differ); 0 without partitions.
        public var replicationFactor: Int = 0
    }

    public var brokers: [Broker]
    public var topics: [Topic]
    /// The broker that answered; -1 when it answered over a bootstrap connection whose node id librdkafka
    /// does not know (seen with librdkafka 2.16 against Tansu).
    public var originatingBrokerID: Int32

    /// The broker to read broker configs from (DescribeConfigs of resource BROKER): the one that answered,
    /// or the first one listed when that is unknown (-1: DescribeConfigs of broker "-1" fails with
    /// `_INVALID_ARG`).
    public var configBrokerID: Int32 {
        originatingBrokerID >= 0 ? originatingBrokerID : brokers.first?.id ?? originatingBrokerID
    }
}

/// A partition's log bounds as its leader reports them (ListOffsets): the earliest offset still held and
/// the high watermark, the offset the next acknowledged record will get (so every record at an offset
/// below it was acknowledged).
public struct PartitionWatermarks: Sendable, Equatable {
    public var low: Int64
    public var high: Int64

    public init(low: Int64, high: Int64) {
        self.low = low
        self.high = high
    }
}

/// The outcome of asking a broker to validate the creation of one topic (`CreateTopics` with
/// `validate_only`): nothing is created either way.
public struct TopicCreationCheck: Sendable {
    public var topic: String
    /// nil when the broker would create the topic; otherwise why not (e.g. `TOPIC_AUTHORIZATION_FAILED`,
    /// `INVALID_TOPIC_EXCEPTION`, `TOPIC_ALREADY_EXISTS`).
    public var error: KafkaError?
}

/// A short-lived client that inspects a cluster without producing anything: the Kafka half of
/// `swallow check`. Every call blocks its thread for at most the timeout it is given; calls are
/// serialized by an internal lock.
///
/// librdkafka reports connection failures (refused, unresolvable name, TLS or SASL failures) only as
/// error events and log lines; they are collected so that a failed request can say why
/// (`recentErrors`), instead of librdkafka printing them to stderr from its own threads.
public final class KafkaAdmin: Sendable {
    private let handle: Mutex<ClientHandle?>
    let errors = ConnectionErrors()

    /// - Parameters:
    ///   - properties: librdkafka properties applied verbatim (the producer's `kafka.properties`, so that
    ///     the same security settings are used); the client is a producer-type handle, so producer
    ///     properties are accepted.
    ///   - secretProperties: names among `properties` whose values are secret: errors and collected
    ///     connection problems never quote them, as with `KafkaProducer`.
    public init(bootstrapServers: String, properties: [String: String] = [:],
                secretProperties: Set<String> = []) throws(KafkaError) {
        let config = KafkaConfiguration(secretProperties: secretProperties)
        try config.set("bootstrap.servers", bootstrapServers)
        try config.set(properties)
        // Log lines are queued (and dropped by errors.collect, which drains the main queue) rather than
        // printed to stderr by librdkafka's threads in the middle of `swallow check`'s output.
        handle = Mutex(try config.makeProducerHandle(events: RD_KAFKA_EVENT_ERROR))
    }

    deinit { close() }

    /// Destroys the client. Idempotent; later calls throw `.closed`.
    public func close() {
        handle.withLock { $0 = nil }
    }

    /// Connection problems librdkafka reported since the client was created (its error events, e.g.
    /// `127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused`), oldest first,
    /// without repeats.
    public var recentErrors: [String] {
        handle.withLock { handle in
            if let handle { errors.collect(from: handle) }
        }
        return errors.all
    }

    /// A Metadata request for the whole cluster (which, unlike one naming topics, never makes a broker
    /// auto-create a topic). Throws `_TRANSPORT`/`_TIMED_OUT` (with `recentErrors` in the message) when
    /// no broker answered within the timeout.
    public func metadata(timeoutMilliseconds: Int32) throws(KafkaError) -> KafkaClusterMetadata {
        try withHandle { handle throws(KafkaError) in
            var pointer: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(handle.rk, 1, nil, &pointer, timeoutMilliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let pointer else {
                errors.collect(from: handle)
                throw KafkaError.fromResponse(err, message: errors.failureMessage(
                    "no broker answered a metadata request within \(timeoutMilliseconds) ms (\(String(cString: rd_kafka_err2str(err))))"))
            }
            defer { rd_kafka_metadata_destroy(pointer) }
            let md = pointer.pointee
            let brokers = (0 ..< Int(md.broker_cnt)).map { i in
                KafkaClusterMetadata.Broker(id: md.brokers[i].id, host: String(cString: md.brokers[i].host),
                                            port: md.brokers[i].port)
            }
            let topics = (0 ..< Int(md.topic_cnt)).map { i in
                let topic = md.topics[i]
                let replicas = (0 ..< Int(topic.partition_cnt)).map { Int(topic.partitions[$0].replica_cnt) }.max() ?? 0
                return KafkaClusterMetadata.Topic(
                    name: String(cString: topic.topic), partitionCount: Int(topic.partition_cnt),
                    error: topic.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : .librdkafka(topic.err.rawValue),
                    replicationFactor: replicas)
            }
            return KafkaClusterMetadata(brokers: brokers.sorted { $0.id < $1.id },
                                        topics: topics.sorted { $0.name < $1.name },
                                        originatingBrokerID: md.orig_broker_id)
        }
    }

    /// Asks the partition's leader for its watermarks (`rd_kafka_query_watermark_offsets`). Throws
    /// `_TIMED_OUT` when the leader did not answer within the timeout, and the broker's error (e.g.
    /// `UNKNOWN_TOPIC_OR_PART`) otherwise.
    ///
    /// librdkafka 2.0.2 does not honour the timeout while the leader is down (refusing connections): the
    /// call then blocks until the leader is reachable again (plus up to `reconnect.backoff.max.ms`).
    /// Callers that need a bounded wait must time the call themselves.
    public func watermarks(topic: String, partition: Int32, timeoutMilliseconds: Int32) throws(KafkaError) -> PartitionWatermarks {
        try withHandle { handle throws(KafkaError) in
            var low: Int64 = 0
            var high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(handle.rk, topic, partition, &low, &high, timeoutMilliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                errors.collect(from: handle)
                throw KafkaError.fromResponse(err, message: errors.failureMessage(
                    "no watermarks for \(topic) [\(partition)] within \(timeoutMilliseconds) ms (\(String(cString: rd_kafka_err2str(err))))"))
            }
            return PartitionWatermarks(low: low, high: high)
        }
    }

    /// A broker's configuration (`DescribeConfigs` for resource BROKER `brokerID`): every entry the
    /// broker returned, by name; a nil value is a sensitive or unset entry.
    public func brokerConfiguration(brokerID: Int32, timeoutMilliseconds: Int32) throws(KafkaError) -> [String: String?] {
        let described = try describeConfigs(RD_KAFKA_RESOURCE_BROKER, names: [String(brokerID)], what: "broker",
                                            timeoutMilliseconds: timeoutMilliseconds)
        guard let first = described.first else {
            throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "DescribeConfigs returned no resource for broker \(brokerID)")
        }
        return try first.entries.get()
    }

    /// One resource's answer to DescribeConfigs: its entries by name (nil values: sensitive or unset),
    /// or the broker's error for it.
    struct DescribedResource {
        var name: String
        var entries: Result<[String: String?], KafkaError>
    }

    /// `DescribeConfigs` for resources of one type; throws if the request as a whole failed.
    func describeConfigs(_ type: rd_kafka_ResourceType_t, names: [String], what: String,
                         timeoutMilliseconds: Int32) throws(KafkaError) -> [DescribedResource] {
        guard !names.isEmpty else { return [] }
        return try withHandle { handle throws(KafkaError) in
            var resources: [OpaquePointer?] = []
            defer { for resource in resources { rd_kafka_ConfigResource_destroy(resource) } }
            for name in names {
                guard let resource = rd_kafka_ConfigResource_new(type, name) else {
                    throw KafkaError(code: .invalidArgument, message: "could not describe \(what) \(name)",
                                     isRetriable: false, isFatal: false)
                }
                resources.append(resource)
            }
            let event = try adminRequest(handle, .describeConfigs, timeoutMilliseconds: timeoutMilliseconds) { options, queue in
                rd_kafka_DescribeConfigs(handle.rk, &resources, resources.count, options, queue)
            }
            defer { rd_kafka_event_destroy(event) }
            guard let result = rd_kafka_event_DescribeConfigs_result(event) else {
                throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "DescribeConfigs returned no result")
            }
            var count = 0
            guard let described = rd_kafka_DescribeConfigs_result_resources(result, &count) else {
                throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "DescribeConfigs returned no resources")
            }
            var answers: [DescribedResource] = []
            for i in 0 ..< count {
                guard let resource = described[i] else { continue }
                let name = String(cString: rd_kafka_ConfigResource_name(resource))
                let err = rd_kafka_ConfigResource_error(resource)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    let text = rd_kafka_ConfigResource_error_string(resource).map { String(cString: $0) }
                        ?? String(cString: rd_kafka_err2str(err))
                    answers.append(DescribedResource(name: name, entries: .failure(
                        KafkaError.fromResponse(err, message: "DescribeConfigs of \(what) \(name): \(text)"))))
                    continue
                }
                var entryCount = 0
                var entries: [String: String?] = [:]
                if let configs = rd_kafka_ConfigResource_configs(resource, &entryCount) {
                    for j in 0 ..< entryCount {
                        guard let entry = configs[j], let entryName = rd_kafka_ConfigEntry_name(entry) else { continue }
                        entries[String(cString: entryName)] = rd_kafka_ConfigEntry_value(entry).map { String(cString: $0) }
                    }
                }
                answers.append(DescribedResource(name: name, entries: .success(entries)))
            }
            return answers
        }
    }

    /// Asks the cluster's controller whether it would create `topics` with the broker's default
    /// partition count and replication factor (`CreateTopics` with `validate_only = true`, which needs
    /// Kafka 2.4 or later for the defaults). Nothing is created. Throws if the request as a whole failed
    /// (e.g. unsupported by the broker, or timed out); per-topic refusals are in the results.
    public func validateTopicCreation(_ topics: [String], timeoutMilliseconds: Int32) throws(KafkaError) -> [TopicCreationCheck] {
        try createTopics(topics.map { NewTopicSpecification(name: $0) }, validateOnly: true,
                         timeoutMilliseconds: timeoutMilliseconds)
    }

    // MARK: - Internals

    enum Operation {
        case describeConfigs, createTopics
        var cValue: rd_kafka_admin_op_t {
            switch self {
            case .describeConfigs: return RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS
            case .createTopics: return RD_KAFKA_ADMIN_OP_CREATETOPICS
            }
        }
    }

    func withHandle<R>(_ body: (ClientHandle) throws(KafkaError) -> R) throws(KafkaError) -> R {
        try handle.withLock { handle throws(KafkaError) -> R in
            guard let handle else { throw .closed("KafkaAdmin") }
            return try body(handle)
        }
    }

    /// Runs one admin request and waits for its result event; throws the request-level error, if any.
    /// The caller destroys the returned event.
    func adminRequest(_ handle: ClientHandle, _ operation: Operation, timeoutMilliseconds: Int32,
                              validateOnly: Bool = false, operationTimeoutMilliseconds: Int32? = nil,
                              _ start: (OpaquePointer?, OpaquePointer?) -> Void) throws(KafkaError) -> OpaquePointer {
        guard let queue = rd_kafka_queue_new(handle.rk) else {
            throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "could not allocate a result queue")
        }
        defer { rd_kafka_queue_destroy(queue) }
        guard let options = rd_kafka_AdminOptions_new(handle.rk, operation.cValue) else {
            throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "could not allocate admin options")
        }
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errstr = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMilliseconds, &errstr, errstr.count)
        if validateOnly {
            _ = rd_kafka_AdminOptions_set_validate_only(options, 1, &errstr, errstr.count)
        }
        if let operationTimeoutMilliseconds {
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, operationTimeoutMilliseconds, &errstr, errstr.count)
        }
        start(options, queue)
        // librdkafka always delivers a result (an error one on timeout); the margin covers its own timer.
        guard let event = rd_kafka_queue_poll(queue, timeoutMilliseconds + 2_000) else {
            errors.collect(from: handle)
            throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__TIMED_OUT, message: errors.failureMessage("no answer within \(timeoutMilliseconds) ms"))
        }
        let err = rd_kafka_event_error(event)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let text = handle.mask(rd_kafka_event_error_string(event).map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(err)))
            rd_kafka_event_destroy(event)
            errors.collect(from: handle)
            throw KafkaError.fromResponse(err, message: errors.failureMessage(text))
        }
        return event
    }
}

/// The connection problems librdkafka reported on a client's main queue (error events, e.g.
/// `127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused`), oldest first, without
/// repeats, so that a failed request can say why instead of librdkafka printing them to stderr.
final class ConnectionErrors: Sendable {
    private let texts = Mutex<[String]>([])

    var all: [String] { texts.withLock { $0 } }

    /// `what`, followed by the first connection problem librdkafka reported, if any: the later ones
    /// tend to be its consequences ("1/1 brokers are down").
    func failureMessage(_ what: String) -> String {
        guard let first = texts.withLock({ $0.first }) else { return what }
        return "\(what); first error: \(first)"
    }

    /// Drains the main queue, keeping the text of error events (log lines are dropped: the errors
    /// repeat what matters). librdkafka's timing suffix, e.g. " (after 0ms in state CONNECT)", is cut
    /// so that the same failure reads the same every time.
    func collect(from handle: ClientHandle) {
        while let event = rd_kafka_queue_poll(handle.mainQueue, 0) {
            defer { rd_kafka_event_destroy(event) }
            guard rd_kafka_event_type(event) == RD_KAFKA_EVENT_ERROR,
                  var text = rd_kafka_event_error_string(event).map({ handle.mask(String(cString: $0)) }) else { continue }
            if text.hasSuffix(")"), let suffix = text.firstRange(of: " (after ") {
                text = String(text[..<suffix.lowerBound])
            }
            add(text)
        }
    }

    /// Keeps a problem reported some other way (e.g. a consumer error about no partition in particular).
    func add(_ text: String) {
        texts.withLock { list in if !list.contains(text) { list.append(text) } }
    }
}
