import Kafka
import Logging
import Synchronization
import SwallowCore

/// `topic_creation` at run time: before the first record to a topic this process has not seen, the topic
/// is created with its group's settings (`TopicCreationPolicy`) unless it exists, as Kafka Connect's
/// `WorkerSourceTask.maybeCreateTopic` does. A function of the topic name alone, called by
/// `DeliveryPath.produce` for every record, so every topic Swallow writes is covered, whoever named it.
///
/// Seen topics are remembered for the life of the process: a topic deleted meanwhile is not created
/// again (the broker may, with `auto.create.topics.enable`).
final class TopicCreator: Sendable {
    private let policy: TopicCreationPolicy
    private let cluster: Cluster
    private let logger: Logger
    private let timeoutMilliseconds: Int32
    /// Topics that exist (found, created, or created by someone else meanwhile).
    private let known = Mutex<Set<String>>([])
    /// One creation at a time: the snapshot readers produce concurrently, and creating a topic twice
    /// would only make the second request fail with TOPIC_ALREADY_EXISTS.
    private let creation = Mutex<Void>(())

    /// Where topics are created.
    enum Cluster: Sendable {
        /// A real cluster: CreateTopics through librdkafka's admin API.
        case brokers(KafkaAdmin)
        /// The in-process mock cluster (`bootstrap_servers: embedded`, tests), which answers no CreateTopics.
        case embedded(MockKafkaCluster)
    }

    /// nil when `topic_creation` creates nothing.
    init?(settings: PipelineSettings, logger: Logger) throws(PipelineError) {
        guard settings.topicCreation.createsTopics else { return nil }
        policy = settings.topicCreation
        self.logger = logger
        // CreateTopics waits for the creation to complete (its operation timeout) within the request's.
        timeoutMilliseconds = 30_000
        if let embedded = settings.embeddedCluster {
            cluster = .embedded(embedded)
        } else {
            do {
                cluster = .brokers(try KafkaAdmin(bootstrapServers: settings.bootstrapServers, properties: settings.kafkaProperties,
                                                  secretProperties: settings.kafkaSecretProperties))
            } catch {
                throw .kafka(error)
            }
        }
    }

    func close() {
        if case .brokers(let admin) = cluster { admin.close() }
    }

    /// Makes sure `topic` exists, creating it as its group says. Throws a non-retriable error naming the
    /// topic, the broker's message and the fix when the cluster refuses, a retriable one when it did
    /// not answer.
    func ensure(_ topic: String) throws(PipelineError) {
        if known.withLock({ $0.contains(topic) }) { return }
        try creation.withLock { _ throws(PipelineError) in
            if known.withLock({ $0.contains(topic) }) { return }
            try create(topic)
            known.withLock { _ = $0.insert(topic) }
        }
    }

    private func create(_ topic: String) throws(PipelineError) {
        guard let settings = policy.settings(for: topic) else { return }
        let specification = NewTopicSpecification(
            name: topic, partitions: Int32(settings.partitions ?? -1),
            replicationFactor: Int32(settings.replicationFactor ?? -1), configs: settings.configs)
        let refusal: KafkaError?
        do {
            switch cluster {
            case .embedded(let mock):
                refusal = mock.create(specification)
                if refusal == nil, !settings.configs.isEmpty {
                    logger.notice("the embedded Kafka cluster keeps no topic configs; not applied",
                                  metadata: ["topic": "\(topic)", "configs": "\(settings.configs.keys.sorted())"])
                }
            case .brokers(let admin):
                // Existing topics are left alone, and looked for first: a principal allowed to write to a
                // topic but not to create it gets TOPIC_AUTHORIZATION_FAILED from CreateTopics even when the
                // topic exists. A whole-cluster Metadata request auto-creates nothing.
                let metadata = try admin.metadata(timeoutMilliseconds: timeoutMilliseconds)
                if metadata.topics.contains(where: { $0.name == topic }) { return }
                refusal = try admin.createTopics([specification], timeoutMilliseconds: timeoutMilliseconds).first?.error
            }
        } catch {
            throw PipelineError(code: .kafka,
                                message: "creating topic \(topic) (topic_creation, group \(settings.group)) failed: \(error.message); retrying",
                                isRetriable: true, underlying: error)
        }
        guard let refusal else {
            logger.notice("created topic", metadata: [
                "topic": "\(topic)", "group": "\(settings.group)",
                "partitions": "\(settings.partitions.map(String.init) ?? "broker default")",
                "replication_factor": "\(settings.replicationFactor.map(String.init) ?? "broker default")",
                "configs": "\(settings.configs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))"])
            return
        }
        // Created meanwhile by someone else (another instance, an administrator, auto-creation).
        if refusal.code.name == "TOPIC_ALREADY_EXISTS" { return }
        let fix = TopicCreationPolicy.refusalFix(errorName: refusal.code.name, topic: topic, settings: settings)
        let brokerMessage = refusal.message.hasSuffix(".") ? String(refusal.message.dropLast()) : refusal.message
        throw PipelineError(code: .kafka,
                            message: "Kafka refused to create topic \(topic) (topic_creation, group \(settings.group)): \(refusal.code.name): \(brokerMessage). Swallow stops before the topic's first record; nothing from it on is confirmed, so a restart sends it again. Fix: \(fix), then restart",
                            isRetriable: refusal.isRetriable, underlying: refusal)
    }
}
