import CRdKafka

/// librdkafka's in-process mock cluster (`rdkafka_mock.h`): brokers that speak the real Kafka protocol
/// over TCP on 127.0.0.1 and keep all data in memory, served by a librdkafka thread. Point any client
/// (ours or others) at `bootstrapServers`.
///
/// Behaviour of librdkafka 2.0.2's mock worth knowing:
/// - topics are auto-created on first use (metadata request or produce) with 4 partitions and
///   replication factor min(3, brokers) (`createTopic` to choose otherwise);
/// - it answers InitProducerId, so acks=all + enable.idempotence=true producers work against it
///   (retries after `pushRequestErrors` are then deduplicated by the producer's sequence numbers);
/// - destroying a cluster takes up to ~1 s (librdkafka joins the mock thread, which polls with a 1 s
///   timeout).
public final class MockKafkaCluster: Sendable {
    /// ApiKey of the Produce request, for `pushRequestErrors`.
    public static let produceAPIKey: Int16 = 0

    private let handle: MockClusterHandle
    public let bootstrapServers: String

    public init(brokers: Int = 1) throws(KafkaError) {
        precondition(brokers >= 1, "a mock cluster needs at least one broker")
        // The mock cluster lives inside an rd_kafka_t (its "host"); a producer with default settings
        // except for quiet logging is the cheapest one to create.
        let config = KafkaConfiguration()
        try config.set("log_level", "3")
        let rk = try config.makeClient(RD_KAFKA_PRODUCER)
        guard let cluster = rd_kafka_mock_cluster_new(rk, Int32(brokers)) else {
            rd_kafka_destroy(rk)
            throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "rd_kafka_mock_cluster_new failed")
        }
        handle = MockClusterHandle(host: rk, cluster: cluster)
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    /// Creates a topic with the given partition count. Throws `TOPIC_ALREADY_EXISTS` if it exists
    /// (including after auto-creation), `INVALID_PARTITIONS`/`INVALID_REPLICATION_FACTOR` for bad counts.
    public func createTopic(_ name: String, partitions: Int32, replicationFactor: Int32 = 1) throws(KafkaError) {
        try check(rd_kafka_mock_topic_create(handle.cluster, name, partitions, replicationFactor),
                  "createTopic('\(name)', partitions: \(partitions), replicationFactor: \(replicationFactor))")
    }

    /// Disconnects the broker and refuses new connections (no leader change happens: partitions it
    /// leads become unavailable until `setBrokerUp`). Broker ids are 1...brokers.
    public func setBrokerDown(_ brokerID: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_broker_set_down(handle.cluster, brokerID), "setBrokerDown(\(brokerID))")
    }

    public func setBrokerUp(_ brokerID: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_broker_set_up(handle.cluster, brokerID), "setBrokerUp(\(brokerID))")
    }

    /// Delays every response of the broker by `milliseconds`.
    public func setBrokerRoundTripTime(_ brokerID: Int32, milliseconds: Int32) throws(KafkaError) {
        try check(rd_kafka_mock_broker_set_rtt(handle.cluster, brokerID, milliseconds),
                  "setBrokerRoundTripTime(\(brokerID), \(milliseconds))")
    }

    /// Makes the next `errors.count` requests with this ApiKey (to any broker) fail with these errors,
    /// in order (`Code.librdkafka` values; e.g. `.notLeaderForPartition`, `.requestTimedOut`). The
    /// request is answered with the error without being executed (nothing is appended for Produce).
    ///
    /// Beware with an idempotent (non-transactional) producer and more than one request in flight per
    /// connection: the mock checks sequence numbers only for transactional producers, so it accepts the
    /// next batch of a partition after failing the previous one, where a real broker answers
    /// OUT_OF_ORDER_SEQUENCE_NUMBER. librdkafka then infers from the later acknowledged sequence that the
    /// failed batch was persisted and reports its messages delivered (offset -1001) although they are not
    /// in the log. With `max.in.flight.requests.per.connection=1` the injected errors are faithful.
    public func pushRequestErrors(apiKey: Int16, errors: [KafkaError.Code]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        codes.withUnsafeBufferPointer {
            rd_kafka_mock_push_request_errors_array(handle.cluster, apiKey, $0.count, $0.baseAddress)
        }
    }

    private func check(_ result: rd_kafka_resp_err_t, _ what: String) throws(KafkaError) {
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.fromResponse(result, message: "MockKafkaCluster.\(what): \(String(cString: rd_kafka_err2str(result)))")
        }
    }
}

/// Sole owner of the mock cluster and its host handle. `@unchecked Sendable`: immutable pointers, and the
/// mock API is thread-safe (each call is a request to the mock cluster's own thread).
final class MockClusterHandle: @unchecked Sendable {
    let host: OpaquePointer
    let cluster: OpaquePointer

    init(host: OpaquePointer, cluster: OpaquePointer) {
        self.host = host
        self.cluster = cluster
    }

    deinit {
        // The cluster runs inside its host handle, so it must go first.
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(host)
    }
}
