import CRdKafka

/// The single error type of the Kafka module.
///
/// `code` says what failed (a librdkafka error code, or one of the few conditions this module detects
/// itself), `message` is human-readable and names the property/topic involved where there is one.
/// `isRetriable` answers "may the same operation succeed if simply tried again later?", `isFatal`
/// "is the producer/consumer that raised this unusable from now on?" and `requiresAbort` "must the
/// current Kafka transaction be aborted before the producer can go on?".
public struct KafkaError: Error, Sendable, CustomStringConvertible {
    /// What failed. Mostly a librdkafka `rd_kafka_resp_err_t`, kept as its number so this module's public
    /// API never exposes C types; `name` is librdkafka's own symbolic name for it (`rd_kafka_err2name`).
    public enum Code: Sendable, Hashable, CustomStringConvertible {
        /// A librdkafka error code (`rd_kafka_resp_err_t`): negative values are librdkafka-internal errors
        /// (names start with `_`, e.g. `_MSG_TIMED_OUT`), positive values are Kafka protocol errors
        /// returned by a broker (e.g. `NOT_LEADER_FOR_PARTITION`).
        case librdkafka(Int32)
        /// The configuration was rejected: an unknown or invalid librdkafka property (the message names it
        /// and quotes librdkafka), or a property Swallow refuses to let be overridden (`acks`,
        /// `enable.idempotence`).
        case configuration
        /// The producer/consumer has been closed; no further operations are possible.
        case closed

        /// The librdkafka error number. For the two module-specific codes this is the closest librdkafka
        /// code (`_INVALID_ARG` for `.configuration`, `_DESTROY` for `.closed`), so it does not on its own
        /// distinguish them from `.librdkafka` codes: compare `Code` values instead.
        public var rawValue: Int32 {
            switch self {
            case .librdkafka(let raw): return raw
            case .configuration: return RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue
            case .closed: return RD_KAFKA_RESP_ERR__DESTROY.rawValue
            }
        }

        /// librdkafka's symbolic name (`rd_kafka_err2name`), e.g. `_MSG_TIMED_OUT`, `REQUEST_TIMED_OUT`;
        /// `CONFIGURATION` / `CLOSED` for the module-specific codes.
        public var name: String {
            switch self {
            case .librdkafka(let raw): return String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: raw)))
            case .configuration: return "CONFIGURATION"
            case .closed: return "CLOSED"
            }
        }

        public var description: String { "\(name) (\(rawValue))" }

        // Frequently inspected librdkafka codes, so callers need not know the numbers.
        public static let messageTimedOut = Code.librdkafka(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue)
        public static let messageSizeTooLarge = Code.librdkafka(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE.rawValue)
        public static let queueFull = Code.librdkafka(RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue)
        public static let invalidArgument = Code.librdkafka(RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue)
        public static let unknownTopic = Code.librdkafka(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC.rawValue)
        public static let purgedFromQueue = Code.librdkafka(RD_KAFKA_RESP_ERR__PURGE_QUEUE.rawValue)
        public static let purgedInFlight = Code.librdkafka(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT.rawValue)
        public static let notLeaderForPartition = Code.librdkafka(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue)
        public static let requestTimedOut = Code.librdkafka(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue)
        public static let notEnoughReplicas = Code.librdkafka(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue)
        public static let topicAuthorizationFailed = Code.librdkafka(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED.rawValue)
        /// The broker does not implement the request (e.g. DescribeConfigs on librdkafka's mock cluster).
        public static let unsupportedFeature = Code.librdkafka(RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE.rawValue)
        public static let timedOut = Code.librdkafka(RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue)
        public static let state = Code.librdkafka(RD_KAFKA_RESP_ERR__STATE.rawValue)
        public static let unknownPartition = Code.librdkafka(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION.rawValue)
        public static let unknownTopicOrPartition = Code.librdkafka(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART.rawValue)
        /// Another producer with the same `transactional.id` has initialized transactions since (librdkafka
        /// reports the broker's `PRODUCER_FENCED` and `INVALID_PRODUCER_EPOCH` as this): always fatal.
        public static let fenced = Code.librdkafka(RD_KAFKA_RESP_ERR__FENCED.rawValue)
        public static let producerFenced = Code.librdkafka(RD_KAFKA_RESP_ERR_PRODUCER_FENCED.rawValue)
        public static let invalidProducerEpoch = Code.librdkafka(RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH.rawValue)
        public static let coordinatorNotAvailable = Code.librdkafka(RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE.rawValue)
        public static let transactionalIDAuthorizationFailed =
            Code.librdkafka(RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED.rawValue)
        public static let groupAuthorizationFailed = Code.librdkafka(RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED.rawValue)
        public static let clusterAuthorizationFailed = Code.librdkafka(RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED.rawValue)
        public static let unsupportedVersion = Code.librdkafka(RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION.rawValue)
        /// The fetch offset is outside the partition's log and `auto.offset.reset` is `error`.
        public static let autoOffsetReset = Code.librdkafka(RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET.rawValue)
    }

    public var code: Code
    public var message: String
    public var isRetriable: Bool
    public var isFatal: Bool
    /// From a transactional call (`KafkaProducer.commitTransaction` etc.), librdkafka's
    /// `rd_kafka_error_txn_requires_abort`: "the application must call rd_kafka_abort_transaction() and
    /// start a new transaction with rd_kafka_begin_transaction() if it wishes to proceed with
    /// transactions" — the transaction failed (e.g. a message of it could not be delivered) but the
    /// producer is still usable. Only librdkafka's transactional calls flag errors so.
    public var requiresAbort: Bool

    public init(code: Code, message: String, isRetriable: Bool, isFatal: Bool, requiresAbort: Bool) {
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
        self.isFatal = isFatal
        self.requiresAbort = requiresAbort
    }

    /// An error outside the transactional API (`requiresAbort` false). A separate initializer rather than a
    /// default argument, so that code built against the earlier four-argument one still links.
    public init(code: Code, message: String, isRetriable: Bool, isFatal: Bool) {
        self.init(code: code, message: message, isRetriable: isRetriable, isFatal: isFatal, requiresAbort: false)
    }

    public var description: String {
        var flags: [String] = []
        if isFatal { flags.append("fatal") }
        if requiresAbort { flags.append("requires abort") }
        if isRetriable { flags.append("retriable") }
        let suffix = flags.isEmpty ? "" : " [\(flags.joined(separator: ", "))]"
        return "Kafka error \(code): \(message)\(suffix)"
    }
}

// MARK: - Construction from librdkafka results (internal)

extension KafkaError {
    /// From a bare `rd_kafka_resp_err_t` (delivery reports, consumer messages, mock calls), which carries no
    /// retriable/fatal flags of its own: those come from the documented mapping in `isRetriable(code:)`.
    static func fromResponse(_ err: rd_kafka_resp_err_t, message: String? = nil) -> KafkaError {
        let raw = err.rawValue
        let text = message ?? String(cString: rd_kafka_err2str(err))
        return KafkaError(code: .librdkafka(raw), message: text,
                          isRetriable: isRetriable(code: raw),
                          isFatal: err == RD_KAFKA_RESP_ERR__FATAL)
    }

    /// From an `rd_kafka_error_t` object (e.g. from `rd_kafka_produceva`), which knows whether it is
    /// retriable/fatal/abortable itself; the mapping only widens `isRetriable` for codes librdkafka leaves
    /// unflagged — except with `transactional`: for the transactional API librdkafka's flags are the
    /// contract ("retriable" means "call the same function again", which for `commit_transaction` after
    /// e.g. a `_MSG_TIMED_OUT` delivery failure would be wrong), so they are taken as they are.
    /// Consumes (destroys) the error object.
    static func consuming(_ error: OpaquePointer, transactional: Bool = false) -> KafkaError {
        defer { rd_kafka_error_destroy(error) }
        let raw = rd_kafka_error_code(error).rawValue
        let fatal = rd_kafka_error_is_fatal(error) != 0
        let requiresAbort = !fatal && rd_kafka_error_txn_requires_abort(error) != 0
        let flagged = rd_kafka_error_is_retriable(error) != 0
        let retriable = !fatal && !requiresAbort && (flagged || (!transactional && isRetriable(code: raw)))
        return KafkaError(code: .librdkafka(raw), message: String(cString: rd_kafka_error_string(error)),
                          isRetriable: retriable, isFatal: fatal, requiresAbort: requiresAbort)
    }

    static func configuration(_ message: String) -> KafkaError {
        KafkaError(code: .configuration, message: message, isRetriable: false, isFatal: false)
    }

    static func closed(_ what: String) -> KafkaError {
        KafkaError(code: .closed, message: "\(what) has been closed", isRetriable: false, isFatal: false)
    }

    /// Documented retriable mapping for plain error codes (librdkafka only flags `rd_kafka_error_t`
    /// objects, not delivery-report codes). "Retriable" means: nothing is wrong with the request itself,
    /// the cluster was (temporarily) unable to take it, so producing the same message again later can
    /// succeed. Modelled on the Java client's `RetriableException` subclasses plus librdkafka's local
    /// transient conditions:
    /// - local: `_TRANSPORT`, `_RESOLVE`, `_MSG_TIMED_OUT`, `_TIMED_OUT`, `_TIMED_OUT_QUEUE`,
    ///   `_ALL_BROKERS_DOWN`, `_QUEUE_FULL`, `_ISR_INSUFF`, `_NODE_UPDATE`, `_WAIT_COORD`, `_WAIT_CACHE`,
    ///   `_RETRY`, `_UNKNOWN_TOPIC` (the topic may be created later, as with the Java client),
    ///   `_PURGE_QUEUE`/`_PURGE_INFLIGHT` (the message was dropped by our own close(), not refused);
    /// - broker: `INVALID_MSG` (CRC corruption), `UNKNOWN_TOPIC_OR_PART`, `LEADER_NOT_AVAILABLE`,
    ///   `NOT_LEADER_FOR_PARTITION`, `REQUEST_TIMED_OUT`, `BROKER_NOT_AVAILABLE`, `REPLICA_NOT_AVAILABLE`,
    ///   `NETWORK_EXCEPTION`, `COORDINATOR_*`, `NOT_COORDINATOR`, `NOT_ENOUGH_REPLICAS(_AFTER_APPEND)`,
    ///   `CONCURRENT_TRANSACTIONS`, `KAFKA_STORAGE_ERROR`, fetch-session/leader-epoch errors,
    ///   `OFFSET_NOT_AVAILABLE`, `(PREFERRED|ELIGIBLE)_LEADER(S)_NOT_AVAILABLE`, `UNSTABLE_OFFSET_COMMIT`,
    ///   `THROTTLING_QUOTA_EXCEEDED`.
    /// Everything else — `_FATAL`, `_INVALID_ARG`, `MSG_SIZE_TOO_LARGE`, `RECORD_LIST_TOO_LARGE`, any
    /// authorization/authentication failure, `INVALID_CONFIG`, `INVALID_REQUIRED_ACKS`, ... — is not.
    static func isRetriable(code raw: Int32) -> Bool { retriableCodes.contains(raw) }

    private static let retriableCodes: Set<Int32> = {
        let codes: [rd_kafka_resp_err_t] = [
            RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
            RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
            RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__ISR_INSUFF, RD_KAFKA_RESP_ERR__NODE_UPDATE,
            RD_KAFKA_RESP_ERR__WAIT_COORD, RD_KAFKA_RESP_ERR__WAIT_CACHE, RD_KAFKA_RESP_ERR__RETRY,
            RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT,
            RD_KAFKA_RESP_ERR_INVALID_MSG, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
            RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR, RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND,
            RD_KAFKA_RESP_ERR_INVALID_FETCH_SESSION_EPOCH, RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH,
            RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH, RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT, RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED,
        ]
        return Set(codes.map(\.rawValue))
    }()
}
