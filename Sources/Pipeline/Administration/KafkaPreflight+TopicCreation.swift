import Kafka
import SwallowCore

/// `swallow check` with `topic_creation`: the topics Swallow would create (validated by the cluster
/// where it can), and the existing topics that differ from what their group would create — a warning
/// each, since Swallow leaves existing topics alone.
extension KafkaPreflight {
    func checkTopicCreation(_ admin: KafkaAdmin, _ metadata: KafkaClusterMetadata) -> [PreflightCheck] {
        let policy = settings.topicCreation
        guard !topics.isEmpty else {
            return [PreflightCheck(name: "kafka topics", outcome: .pass, found: "no tables to check topics for")]
        }
        let existing = Dictionary(metadata.topics.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let present = topics.filter { existing[$0] != nil }
        let missing = topics.filter { existing[$0] == nil }

        // The broker defaults -1 stands for, and whether the cluster answers the admin requests at all
        // (librdkafka's mock answers neither DescribeConfigs nor CreateTopics).
        var brokerDefaults = TopicCreationPolicy.BrokerDefaults()
        var adminUnavailable: String?
        do {
            let config = try admin.brokerConfiguration(brokerID: metadata.configBrokerID, timeoutMilliseconds: timeoutMilliseconds)
            brokerDefaults.partitions = (config["num.partitions"] ?? nil).flatMap { Int($0) }
            brokerDefaults.replicationFactor = (config["default.replication.factor"] ?? nil).flatMap { Int($0) }
        } catch {
            adminUnavailable = "the cluster did not answer DescribeConfigs (\(error.code.name): \(error.message))"
        }

        var checks: [PreflightCheck] = []
        if !missing.isEmpty {
            checks.append(checkCreation(admin, missing: missing, policy: policy, adminUnavailable: adminUnavailable))
        }
        var configs: [String: Result<[String: String], KafkaError>] = [:]
        var configsUnread = adminUnavailable
        if adminUnavailable == nil, !present.isEmpty {
            do {
                configs = try admin.topicConfigurations(present, timeoutMilliseconds: timeoutMilliseconds)
            } catch {
                configsUnread = "DescribeConfigs of the topics failed (\(error.code.name): \(error.message))"
            }
        }
        var matching: [String] = []
        for topic in present {
            guard let found = existing[topic] else { continue }
            var topicConfigs: [String: String]?
            var unread = configsUnread
            switch configs[topic] {
            case .success(let values): topicConfigs = values
            case .failure(let error): unread = "DescribeConfigs of \(topic) failed (\(error.code.name): \(error.message))"
            case nil: break
            }
            let mismatches = policy.mismatches(
                topic: topic,
                existing: .init(partitions: found.partitionCount, replicationFactor: found.replicationFactor, configs: topicConfigs),
                brokerDefaults: brokerDefaults)
            let configured = policy.settings(for: topic)?.configs ?? [:]
            let unreadNote = configured.isEmpty ? nil : unread.map { "configs not compared: \($0)" }
            if mismatches.isEmpty {
                matching.append(unreadNote.map { "\(topic) (\($0))" } ?? topic)
                continue
            }
            let differences = mismatches.map { "\($0.setting) is \($0.found ?? "not set") where topic_creation.\($0.group) says \($0.configured)" }
            checks.append(PreflightCheck(
                name: "kafka topic \(topic)", outcome: .warn,
                found: "exists and differs from topic_creation: \(differences.joined(separator: "; "))\(unreadNote.map { "; \($0)" } ?? ""); Swallow leaves existing topics alone",
                fix: "change the topic to match (kafka-topics.sh --alter --partitions N grows partitions, which moves keys to other partitions; kafka-configs.sh --alter --add-config NAME=VALUE for configs; kafka-reassign-partitions.sh for the replication factor), or change topic_creation to what the topic has"))
        }
        if !matching.isEmpty {
            checks.append(PreflightCheck(name: "kafka topics", outcome: .pass,
                                         found: "present as topic_creation would create them: \(Preflight.list(matching))"))
        }
        return checks
    }

    /// The topics Swallow will create, and whether the cluster would (CreateTopics, validate only).
    private func checkCreation(_ admin: KafkaAdmin, missing: [String], policy: TopicCreationPolicy,
                               adminUnavailable: String?) -> PreflightCheck {
        let name = "kafka topic creation"
        let planned = missing.compactMap { topic in policy.settings(for: topic).map { (topic, $0) } }
        let described = planned.map { topic, settings in
            "\(topic) (group \(settings.group): \(Self.describe(settings)))"
        }
        let found = "Swallow creates before their first record: \(Preflight.list(described))"
        if let adminUnavailable {
            return PreflightCheck(name: name, outcome: .warn,
                                  found: "\(found); not validated: \(adminUnavailable)",
                                  fix: "check that Swallow's principal may create these topics with these settings")
        }
        do {
            let specifications = planned.map { topic, settings in
                NewTopicSpecification(name: topic, partitions: Int32(settings.partitions ?? -1),
                                      replicationFactor: Int32(settings.replicationFactor ?? -1), configs: settings.configs)
            }
            let results = try admin.createTopics(specifications, validateOnly: true, timeoutMilliseconds: timeoutMilliseconds)
            let refused = results.compactMap { result -> (String, KafkaError)? in
                guard let error = result.error, error.code.name != "TOPIC_ALREADY_EXISTS" else { return nil }
                return (result.topic, error)
            }
            guard let (topic, error) = refused.first else {
                return PreflightCheck(name: name, outcome: .pass, found: "\(found); the cluster validated creating them")
            }
            let settings = planned.first { $0.0 == topic }?.1
            let refusals = refused.map { "\($0.0) (\($0.1.code.name): \($0.1.message))" }
            return PreflightCheck(name: name, outcome: .fail,
                                  found: "\(found); the cluster would refuse \(Preflight.list(refusals))",
                                  fix: settings.map { TopicCreationPolicy.refusalFix(errorName: error.code.name, topic: topic, settings: $0) })
        } catch {
            return PreflightCheck(name: name, outcome: .warn,
                                  found: "\(found); not validated: CreateTopics (validate only) failed (\(error.code.name): \(error.message))",
                                  fix: "check that Swallow's principal may create these topics with these settings")
        }
    }

    static func describe(_ settings: TopicCreationPolicy.Settings) -> String {
        let partitions = settings.partitions.map { $0 == 1 ? "1 partition" : "\($0) partitions" } ?? "the broker's default partitions"
        var parts = [partitions,
                     "replication factor \(settings.replicationFactor.map(String.init) ?? "the broker's default")"]
        parts += settings.configs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return parts.joined(separator: ", ")
    }
}
