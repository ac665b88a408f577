import CRdKafka
import Synchronization

/// Topic creation on the mock cluster, which answers no CreateTopics (librdkafka 2.0.2's mock implements
/// neither CreateTopics nor DescribeConfigs, and names no controller to send them to): what
/// `topic_creation` does with `bootstrap_servers: embedded` and in the tests.
extension MockKafkaCluster {
    /// The partition count and replication factor the mock gives a topic it creates by itself (on first
    /// use), which stand for the broker defaults (-1) here.
    public var defaultPartitions: Int32 { 4 }
    public var defaultReplicationFactor: Int32 { Int32(min(3, brokerCount)) }
    public var brokerCount: Int { brokerPortCount }

    /// Creates `topic` as a broker would answer CreateTopics: nil when created, the broker's error
    /// otherwise — `TOPIC_ALREADY_EXISTS`, or `INVALID_REPLICATION_FACTOR` with Kafka's message when the
    /// replication factor exceeds the brokers (the mock itself would assign fewer replicas). -1 stands
    /// for the mock's defaults. The mock keeps no topic configs (they are only recorded in
    /// `creationRequests`, as asked), and gives every topic min(3, brokers) replicas whatever it is asked.
    public func create(_ topic: NewTopicSpecification) -> KafkaError? {
        creationLog.withLock { $0.append(topic) }
        let partitions = topic.partitions == -1 ? defaultPartitions : topic.partitions
        let replicationFactor = topic.replicationFactor == -1 ? defaultReplicationFactor : topic.replicationFactor
        if Int(replicationFactor) > brokerCount {
            return KafkaError.fromResponse(RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR,
                                           message: "Replication factor: \(replicationFactor) larger than available brokers: \(brokerCount).")
        }
        do {
            try createTopic(topic.name, partitions: partitions, replicationFactor: replicationFactor)
            return nil
        } catch {
            return error
        }
    }

    /// Every `create` call so far, in order, configs included.
    public var creationRequests: [NewTopicSpecification] { creationLog.withLock { $0 } }
}
