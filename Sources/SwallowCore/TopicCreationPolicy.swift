import SwallowConfig

/// What `topic_creation` decides for one topic name, as Kafka Connect's `TopicCreation` and
/// `TopicCreationGroup` do (KIP-158): whether Swallow creates it, with which group's settings, and, for a
/// topic that exists, where it differs from what that group would create.
///
/// A function of the topic name only, so every topic Swallow writes is covered the same way, whoever
/// chose its name: tables, transaction metadata, heartbeats, logical messages, dead letters, and topics
/// routed per record.
public struct TopicCreationPolicy: @unchecked Sendable {
    // @unchecked: Regex is not Sendable; the policy is built once and only read afterwards.

    /// What a topic is created with.
    public struct Settings: Sendable, Equatable {
        /// The group whose settings these are (`default` or a name of `groups`).
        public var group: String
        /// nil: the broker's default (`num.partitions`); Connect's -1.
        public var partitions: Int?
        /// nil: the broker's default (`default.replication.factor`); Connect's -1.
        public var replicationFactor: Int?
        public var configs: [String: String]

        public init(group: String, partitions: Int?, replicationFactor: Int?, configs: [String: String]) {
            self.group = group
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.configs = configs
        }
    }

    /// What an existing topic has, as far as the cluster said.
    public struct ExistingTopic: Sendable, Equatable {
        public var partitions: Int
        /// The number of replicas of its partitions (the largest, should they differ).
        public var replicationFactor: Int
        /// The topic's configs by name; nil when the cluster did not answer DescribeConfigs (then configs
        /// are not compared).
        public var configs: [String: String]?

        public init(partitions: Int, replicationFactor: Int, configs: [String: String]?) {
            self.partitions = partitions
            self.replicationFactor = replicationFactor
            self.configs = configs
        }
    }

    /// The broker defaults that -1 stands for, when known (from the broker's `num.partitions` and
    /// `default.replication.factor`).
    public struct BrokerDefaults: Sendable, Equatable {
        public var partitions: Int?
        public var replicationFactor: Int?

        public init(partitions: Int? = nil, replicationFactor: Int? = nil) {
            self.partitions = partitions
            self.replicationFactor = replicationFactor
        }
    }

    /// One setting of an existing topic that differs from what its group would create it with.
    public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
        public var topic: String
        /// `partitions`, `replication.factor`, or a topic config name.
        public var setting: String
        /// What the topic has; nil for a config the cluster did not report.
        public var found: String?
        public var configured: String
        public var group: String

        public init(topic: String, setting: String, found: String?, configured: String, group: String) {
            self.topic = topic
            self.setting = setting
            self.found = found
            self.configured = configured
            self.group = group
        }

        /// `app.public.orders: partitions is 1, topic_creation (group default) says 6`
        public var description: String {
            "\(topic): \(setting) is \(found ?? "not set") where topic_creation (group \(group)) says \(configured)"
        }
    }

    private struct CompiledGroup {
        var group: SwallowConfiguration.TopicCreation.Group
        var include: [Regex<AnyRegexOutput>]
        var exclude: [Regex<AnyRegexOutput>]
    }

    private let configuration: SwallowConfiguration.TopicCreation?
    private let groups: [CompiledGroup]

    /// nil, or a configuration with `enable: false`: Swallow creates nothing (the brokers may, with
    /// `auto.create.topics.enable`), as Connect does without `topic.creation.*` options or with
    /// `topic.creation.enable=false`.
    public init(_ configuration: SwallowConfiguration.TopicCreation?) {
        self.configuration = configuration?.enabled == true ? configuration : nil
        // The configuration reader has already rejected patterns that do not compile.
        groups = (self.configuration?.groups ?? []).map { group in
            CompiledGroup(group: group, include: group.include.compactMap { try? Regex($0) },
                          exclude: group.exclude.compactMap { try? Regex($0) })
        }
    }

    /// Whether Swallow creates topics at all.
    public var createsTopics: Bool { configuration != nil }

    /// The group `topic` belongs to: the first of `groups`, in their order, with an include pattern that
    /// matches the whole name and no exclude pattern that does; otherwise `default`. nil when Swallow
    /// creates no topics.
    public func group(for topic: String) -> SwallowConfiguration.TopicCreation.Group? {
        guard let configuration else { return nil }
        for compiled in groups where Self.matchesAny(compiled.include, topic) && !Self.matchesAny(compiled.exclude, topic) {
            return compiled.group
        }
        return configuration.defaultGroup
    }

    /// What `topic` is created with; nil when Swallow creates no topics.
    public func settings(for topic: String) -> Settings? {
        group(for: topic).map { group in
            Settings(group: group.name, partitions: group.partitions == -1 ? nil : group.partitions,
                     replicationFactor: group.replicationFactor == -1 ? nil : group.replicationFactor,
                     configs: group.configs)
        }
    }

    /// Where `existing` differs from what `topic`'s group would create: the partition count and the
    /// replication factor (against the broker's default when the group leaves them to it, and not
    /// compared when that default is unknown), and each configured topic config whose value differs
    /// from the topic's (exactly, as text: `compact,delete` and `delete,compact` differ). Configs the group
    /// does not set are not compared. Empty when Swallow creates no topics.
    public func mismatches(topic: String, existing: ExistingTopic, brokerDefaults: BrokerDefaults = .init()) -> [Mismatch] {
        guard let settings = settings(for: topic) else { return [] }
        var mismatches: [Mismatch] = []
        func compare(_ setting: String, found: Int, configured: Int?, brokerDefault: Int?) {
            guard let expected = configured ?? brokerDefault, expected != found else { return }
            let text = configured == nil ? "-1 (the broker's default, \(expected))" : "\(expected)"
            mismatches.append(Mismatch(topic: topic, setting: setting, found: "\(found)", configured: text, group: settings.group))
        }
        compare("partitions", found: existing.partitions, configured: settings.partitions,
                brokerDefault: brokerDefaults.partitions)
        compare("replication.factor", found: existing.replicationFactor, configured: settings.replicationFactor,
                brokerDefault: brokerDefaults.replicationFactor)
        if let configs = existing.configs {
            for (name, value) in settings.configs.sorted(by: { $0.key < $1.key }) where configs[name] != value {
                mismatches.append(Mismatch(topic: topic, setting: name, found: configs[name], configured: value,
                                           group: settings.group))
            }
        }
        return mismatches
    }

    private static func matchesAny(_ patterns: [Regex<AnyRegexOutput>], _ name: String) -> Bool {
        patterns.contains { (try? $0.wholeMatch(in: name)) != nil }
    }
}

extension TopicCreationPolicy {
    /// What to do when the cluster refused to create `topic` with `settings`, by the broker's error
    /// name (`INVALID_REPLICATION_FACTOR`, `POLICY_VIOLATION`, ...).
    public static func refusalFix(errorName: String, topic: String, settings: Settings) -> String {
        let group = "topic_creation.\(settings.group)"
        switch errorName {
        case "INVALID_REPLICATION_FACTOR":
            return "set \(group).replication.factor to at most the number of brokers (or -1 for the broker's default.replication.factor), or create \(topic) beforehand: Swallow leaves existing topics alone"
        case "INVALID_PARTITIONS":
            return "set \(group).partitions to a count the cluster allows (or -1 for the broker's num.partitions)"
        case "POLICY_VIOLATION":
            return "the cluster's create.topic.policy refused these settings: change \(group) to what the policy allows, or have an administrator create \(topic)"
        case "TOPIC_AUTHORIZATION_FAILED", "CLUSTER_AUTHORIZATION_FAILED":
            return "grant Swallow's principal Create on topic \(topic) (kafka-acls.sh --add --allow-principal User:... --operation Create --topic \(topic)) or on the cluster, or create the topic beforehand: Swallow leaves existing topics alone"
        case "INVALID_CONFIG":
            return "correct the topic configs of \(group) (\(settings.configs.keys.sorted().joined(separator: ", "))): the broker did not accept them"
        case "INVALID_TOPIC_EXCEPTION":
            return "the name is not a valid Kafka topic name: change topic_prefix or the routing that names it"
        default:
            return "create \(topic) beforehand (Swallow leaves existing topics alone), or change \(group)"
        }
    }
}
