import CRdKafka
import Synchronization

/// librdkafka's in-process mock cluster (`rdkafka_mock.h`): brokers that speak the real Kafka protocol
/// over TCP on 127.0.0.1 and keep all data in memory, served by a librdkafka thread. Point any client
/// (ours or others) at `bootstrapServers`.
///
/// Behaviour of librdkafka 2.0.2's mock worth knowing:
/// - topics are auto-created on first use (metadata request or produce) with 4 partitions and
///   replication factor min(3, brokers) (`createTopic` to choose otherwise);
/// - it answers InitProducerId, so acks=all + enable.idempotence=true producers work against it
///   (retries after `pushRequestErrors` are then deduplicated by the producer's sequence numbers);
/// - it answers the transactional requests (FindCoordinator, InitProducerId, AddPartitionsToTxn, EndTxn)
///   but keeps no transaction state: a second InitProducerId for the same transactional.id gets a new
///   producer id and fences nobody, EndTxn writes no commit/abort markers (aborted records stay readable,
///   offsets stay contiguous), and the last stable offset is always the high watermark
///   (TransactionTests, LogReaderTests); fencing can only be simulated with `pushRequestErrors`;
/// - its Metadata stops at v2, before AllowAutoTopicCreation: it creates every topic a Metadata request
///   names, whatever the client's `allow.auto.create.topics`;
/// - it leaves Nagle's algorithm on for the connections it accepts, which delays back-to-back responses
///   by the client's delayed ACK (40 ms): `MockBrokerNoDelay` sets TCP_NODELAY on them, as a real broker does;
/// - destroying a cluster takes up to ~1 s (librdkafka joins the mock thread, which polls with a 1 s
///   timeout);
/// - a command (`setBrokerUp`, `createTopic`, ...) sent right after another one returned sometimes
///   waits for that 1 s timeout too (seen with `setBrokerUp` straight after `setBrokerDown`, with or
///   without the port hold of `setBrokerDown`): the mock thread apparently consumes the second
///   command's wake-up while it finishes serving the first.
public final class MockKafkaCluster: Sendable {
    /// ApiKey of the Produce request, for `pushRequestErrors`.
    public static let produceAPIKey: Int16 = 0
    /// ApiKeys of the requests behind transactions, for `pushRequestErrors`: FindCoordinator (group and
    /// transaction coordinators), InitProducerId (`initTransactions`), AddPartitionsToTxn (sent before a
    /// transaction's first record to a partition may go), EndTxn (commit and abort).
    public static let findCoordinatorAPIKey: Int16 = 10
    public static let initProducerIdAPIKey: Int16 = 22
    public static let addPartitionsToTxnAPIKey: Int16 = 24
    public static let endTxnAPIKey: Int16 = 26

    private let handle: MockClusterHandle
    public let bootstrapServers: String
    /// Broker id i's port is `brokerPorts[i - 1]`.
    private let brokerPorts: [UInt16]
    var brokerPortCount: Int { brokerPorts.count }
    /// `create`'s requests (MockKafkaCluster+TopicCreation.swift).
    let creationLog = Mutex<[NewTopicSpecification]>([])

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
        // "127.0.0.1:port,..." with one entry per broker in the order the brokers were created, which is
        // the order of their ids 1...brokers (rd_kafka_mock_cluster_new, librdkafka 2.0.2).
        brokerPorts = bootstrapServers.split(separator: ",").map { UInt16($0.split(separator: ":").last ?? "") ?? 0 }
        precondition(brokerPorts.count == brokers && !brokerPorts.contains(0),
                     "unexpected mock cluster bootstrap servers '\(bootstrapServers)'")
        MockBrokerNoDelay.register(brokerPorts)
    }

    deinit {
        MockBrokerNoDelay.unregister(brokerPorts)
    }

    /// The TCP port (on 127.0.0.1) of broker `brokerID`, nil for an id that is not 1...brokers.
    func port(ofBroker brokerID: Int32) -> UInt16? {
        brokerPorts.indices.contains(Int(brokerID) - 1) ? brokerPorts[Int(brokerID) - 1] : nil
    }

    /// Creates a topic with the given partition count. Throws `TOPIC_ALREADY_EXISTS` if it exists
    /// (including after auto-creation), `INVALID_PARTITIONS`/`INVALID_REPLICATION_FACTOR` for bad counts.
    public func createTopic(_ name: String, partitions: Int32, replicationFactor: Int32 = 1) throws(KafkaError) {
        try check(rd_kafka_mock_topic_create(handle.cluster, name, partitions, replicationFactor),
                  "createTopic('\(name)', partitions: \(partitions), replicationFactor: \(replicationFactor))")
    }

    /// Disconnects the broker and refuses new connections (no leader change happens: partitions it
    /// leads become unavailable until `setBrokerUp`). Broker ids are 1...brokers, -1 means all of them.
    /// Does nothing to a broker that is down.
    ///
    /// Safe with any number of other sockets being opened meanwhile, in this process or another, which
    /// `rd_kafka_mock_broker_set_down` alone is not. librdkafka 2.0.2 (rdkafka_mock.c,
    /// `rd_kafka_mock_broker_cmd`, RD_KAFKA_MOCK_CMD_BROKER_SET_UPDOWN, lines 2092-2102) closes the
    /// broker's listening socket, then creates a new socket, sets SO_REUSEADDR on it and binds it to the
    /// same 127.0.0.1:port (`rd_kafka_mock_broker_new_listener`) without listening, so that connections
    /// are refused, and asserts that the bind worked; only then does it close the broker's connections.
    /// The port is an ephemeral one (the broker bound port 0 when the cluster was created), and between
    /// the close and the bind it may belong to no socket at all. If the kernel gives it to another socket
    /// in that moment (an outgoing connection, another mock broker binding port 0, ...), the bind fails
    /// with EADDRINUSE (SO_REUSEADDR only helps against sockets that set it too and do not listen) and
    /// the process aborts ("Failed to-create mock broker listener").
    ///
    /// So before asking librdkafka, this opens a connection to the broker and waits until the mock has
    /// accepted it (`MockBrokerPortHold`), and closes it once the broker is down. The broker's side of
    /// that connection is a socket on the broker's port that librdkafka closes only after the new socket
    /// is bound, so the port is never free: Linux gives an outgoing connection no port that a socket
    /// holds through bind() or accept() (`__inet_hash_connect` skips every port whose bind bucket was
    /// not created by connect()), gives bind() to port 0 no port with a conflicting socket
    /// (`inet_csk_find_open_port`), and refuses a bind() of that very port without SO_REUSEADDR. While
    /// the broker is down, the new socket (bound, not listening) holds the port in the same way, so
    /// `setBrokerUp`, which only calls listen() on it, needs no such care. What clients observe does not
    /// change: the extra connection sends one byte, no request, and is closed with the broker's others.
    ///
    /// Rejected alternatives. Emulating an outage while the listener stays open (a huge round trip
    /// time, errors injected for every request type, leadership moved elsewhere) changes what tests rely
    /// on: connections stay up and requests are sent and answered late or with errors, where a down
    /// broker refuses connections (librdkafka logs the failures, reports all brokers down, and keeps
    /// messages queued unsent until message.timeout.ms or the broker's return). Listening outside the
    /// ephemeral port range is not possible: 2.0.2 always binds its brokers to 127.0.0.1 port 0
    /// (`rd_kafka_mock_broker_new`) and offers no setting for it, and ip_local_port_range is the whole
    /// machine's.
    public func setBrokerDown(_ brokerID: Int32) throws(KafkaError) {
        let down = { () throws(KafkaError) in
            try self.check(rd_kafka_mock_broker_set_down(self.handle.cluster, brokerID), "setBrokerDown(\(brokerID))")
        }
        // -1 is every broker; for an unknown id librdkafka reports BROKER_NOT_AVAILABLE and touches no socket.
        let ports = brokerID == -1 ? brokerPorts : port(ofBroker: brokerID).map { [$0] } ?? []
        try MockBrokerPortHold.whileHeld(ports: ports, down)
    }

    /// Lets a broker set down with `setBrokerDown` accept connections again (librdkafka 2.0.2 calls
    /// listen() on the socket bound to its port all along; see `setBrokerDown`). Clients reconnect after
    /// their reconnect.backoff.ms. Does nothing to a broker that is up.
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

    /// Drops the errors `pushRequestErrors` queued for this ApiKey that no request has taken yet.
    public func clearRequestErrors(apiKey: Int16) {
        rd_kafka_mock_clear_request_errors(handle.cluster, apiKey)
    }

    /// Makes the mock answer this error for `topic` in every later Metadata response (and, in librdkafka
    /// 2.0.2, AddPartitionsToTxn; not Produce, ListOffsets or Fetch), e.g. `.topicAuthorizationFailed` as
    /// a broker does for a principal without Describe on it. Creates the topic (with the mock's
    /// default 4 partitions) if it does not exist. `.librdkafka(0)` (NO_ERROR) clears it.
    public func setTopicError(_ topic: String, _ error: KafkaError.Code) {
        rd_kafka_mock_topic_set_error(handle.cluster, topic, rd_kafka_resp_err_t(rawValue: error.rawValue))
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
