extension SwallowConfiguration {
    /// `topic_creation:`: Kafka Connect's topic creation for source connectors (KIP-158), with its option
    /// names less the `topic.creation.` prefix. Swallow creates each topic it writes, before the first
    /// record to it, with the settings of the first group (in `groups` order) whose `include` matches the
    /// topic's name and whose `exclude` does not; the `default` group takes every other topic. A topic
    /// that exists is left alone.
    ///
    /// ```yaml
    /// topic_creation:
    ///   default.partitions: 3            # topic.creation.default.partitions
    ///   default.replication.factor: 3    # topic.creation.default.replication.factor
    ///   default.cleanup.policy: compact  # topic.creation.default.<topic config>
    ///   groups: audit                    # topic.creation.groups
    ///   audit.include: 'app\.audit\..*'  # topic.creation.audit.include
    ///   audit.partitions: 1
    ///   audit.retention.ms: 604800000
    /// ```
    public struct TopicCreation: Sendable, Equatable {
        /// One group of topics and the settings they are created with.
        public struct Group: Sendable, Equatable {
            /// `default`, or a name listed in `groups`.
            public var name: String
            /// Regular expressions over whole topic names (Java's `Matcher.matches()`), case-sensitive;
            /// the default group's is `.*`.
            public var include: [String]
            public var exclude: [String]
            /// -1: the broker's default (`num.partitions`).
            public var partitions: Int
            /// -1: the broker's default (`default.replication.factor`).
            public var replicationFactor: Int
            /// Topic configs (`cleanup.policy`, `retention.ms`, ...) by name, as written. A group does not
            /// inherit the default group's (as in Connect); it inherits only partitions and replication factor.
            public var configs: [String: String]

            public init(name: String, include: [String], exclude: [String] = [], partitions: Int,
                        replicationFactor: Int, configs: [String: String] = [:]) {
                self.name = name
                self.include = include
                self.exclude = exclude
                self.partitions = partitions
                self.replicationFactor = replicationFactor
                self.configs = configs
            }
        }

        /// `enable` (Connect's worker option `topic.creation.enable`): false keeps the section but creates
        /// nothing.
        public var enabled: Bool
        public var defaultGroup: Group
        /// The groups of `groups`, in that order (the first that matches wins).
        public var groups: [Group]

        public init(enabled: Bool = true, defaultGroup: Group, groups: [Group] = []) {
            self.enabled = enabled
            self.defaultGroup = defaultGroup
            self.groups = groups
        }

        /// The name of the group that is always there.
        public static let defaultGroupName = "default"
        /// A group's own keys, after `<group>.`; any other key there is a topic config.
        public static let groupKeys = ["include", "exclude", "partitions", "replication.factor"]

        /// Kafka's topic-level configs (`org.apache.kafka.common.config.TopicConfig` and the tiered-storage
        /// ones of Kafka 3.6-4.x), the names a group may set. Vendors' own topic configs pass under their
        /// prefixes (`vendorConfigPrefixes`); anything else is a misspelling to report at start-up rather
        /// than a broker refusal at the first record.
        public static let topicConfigNames: Set<String> = [
            "cleanup.policy", "compression.type", "compression.gzip.level", "compression.lz4.level",
            "compression.zstd.level", "delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms",
            "follower.replication.throttled.replicas", "index.interval.bytes",
            "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
            "max.compaction.lag.ms", "max.message.bytes", "message.downconversion.enable",
            "message.format.version", "message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
            "message.timestamp.difference.max.ms", "message.timestamp.type", "min.cleanable.dirty.ratio",
            "min.compaction.lag.ms", "min.insync.replicas", "preallocate", "remote.log.copy.disable",
            "remote.log.delete.on.disable", "remote.storage.enable", "retention.bytes", "retention.ms",
            "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
            "unclean.leader.election.enable",
        ]
        /// Confluent Server's topic configs (`confluent.placement.constraints`, ...).
        public static let vendorConfigPrefixes = ["confluent."]
    }
}
