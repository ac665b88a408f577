import SwallowConfig
import Testing

/// The `topic_creation` section: Kafka Connect's `topic.creation.*` options less the prefix.
@Suite struct TopicCreationConfigTests {
    private func document(_ lines: [String]) -> ConfigDocument {
        var document = ConfigDocument()
        document.top["topic_creation"] = "\n" + lines.map { "  " + $0 }.joined(separator: "\n")
        return document
    }

    private func parse(_ lines: [String]) throws -> Config.TopicCreation? {
        try Config.parse(yaml: document(lines).yaml, environment: [:]).topicCreation
    }

    private func error(_ lines: [String]) throws -> ConfigurationError {
        try #require(parseError(document(lines)))
    }

    @Test func withoutTheSectionSwallowCreatesNoTopics() throws {
        #expect(try Config.parse(yaml: ConfigDocument().yaml, environment: [:]).topicCreation == nil)
        var document = ConfigDocument()
        document.top["topic_creation"] = "~"
        #expect(try Config.parse(yaml: document.yaml, environment: [:]).topicCreation == nil)
    }

    @Test func everyKeyIsReadWithConnectsNames() throws {
        let creation = try #require(try parse([
            "default.partitions: 6",
            "default.replication.factor: 3",
            "default.cleanup.policy: compact",
            "default.compression.type: lz4",
            "groups: audit, big",
            #"audit.include: 'app\.audit\..*, app\.public\.log_.*'"#,
            #"audit.exclude: ['app\.audit\.keep']"#,
            "audit.partitions: 1",
            "audit.retention.ms: 604800000",
            "big.include: [app.public.events]",
            "big.replication.factor: -1",
            "big.confluent.placement.constraints: '{}'",
        ]))
        #expect(creation.enabled)
        #expect(creation.defaultGroup == Config.TopicCreation.Group(
            name: "default", include: [".*"], partitions: 6, replicationFactor: 3,
            configs: ["cleanup.policy": "compact", "compression.type": "lz4"]))
        // A group inherits partitions and replication factor from the default group, not its configs.
        #expect(creation.groups == [
            Config.TopicCreation.Group(name: "audit", include: [#"app\.audit\..*"#, #"app\.public\.log_.*"#],
                                       exclude: [#"app\.audit\.keep"#], partitions: 1, replicationFactor: 3,
                                       configs: ["retention.ms": "604800000"]),
            Config.TopicCreation.Group(name: "big", include: ["app.public.events"], partitions: 6, replicationFactor: -1,
                                       configs: ["confluent.placement.constraints": "{}"]),
        ])
    }

    @Test func enableFalseKeepsTheSectionAndCreatesNothing() throws {
        let creation = try #require(try parse(["enable: false", "default.partitions: -1", "default.replication.factor: -1"]))
        #expect(!creation.enabled)
        #expect(creation.defaultGroup.partitions == -1)
        // Connect ignores topic.creation.* when topic.creation.enable is false: nothing is required then.
        #expect(try parse(["enable: false"])?.enabled == false)
    }

    @Test func theDefaultGroupNeedsPartitionsAndReplicationFactorAsInConnect() throws {
        let partitions = try error(["default.replication.factor: 1"])
        #expect(partitions.code == .missingKey)
        #expect(partitions.path == "topic_creation.default.partitions")
        let replication = try error(["default.partitions: 1"])
        #expect(replication.path == "topic_creation.default.replication.factor")
    }

    @Test func anUnknownKeyIsNamed() throws {
        let misspeltGroup = try error(["defualt.partitions: 1", "default.partitions: 1", "default.replication.factor: 1"])
        #expect(misspeltGroup.code == .unknownKey)
        #expect(misspeltGroup.path == "topic_creation.defualt.partitions")
        #expect(misspeltGroup.message.contains("did you mean `default`"))

        let unlisted = try error(["default.partitions: 1", "default.replication.factor: 1", "audit.include: x"])
        #expect(unlisted.path == "topic_creation.audit.include")
        #expect(unlisted.message.contains("topic_creation.groups"))

        let config = try error(["default.partitions: 1", "default.replication.factor: 1", "default.retention.msx: 5"])
        #expect(config.code == .unknownKey)
        #expect(config.path == "topic_creation.default.retention.msx")
        #expect(config.message.contains("did you mean `default.retention.ms`"))

        let bare = try error(["default.partitions: 1", "default.replication.factor: 1", "partitions: 3"])
        #expect(bare.path == "topic_creation.partitions")
    }

    @Test func aBadNumberIsNamed() throws {
        let word = try error(["default.partitions: many", "default.replication.factor: 1"])
        #expect(word.code == .wrongType)
        #expect(word.path == "topic_creation.default.partitions")
        let zero = try error(["default.partitions: 1", "default.replication.factor: 0"])
        #expect(zero.code == .invalidValue)
        #expect(zero.path == "topic_creation.default.replication.factor")
        #expect(zero.message.contains("-1 (the broker's default)"))
        let below = try error(["default.partitions: -2", "default.replication.factor: 1"])
        #expect(below.path == "topic_creation.default.partitions")
        let tooMany = try error(["default.partitions: 1", "default.replication.factor: 40000"])
        #expect(tooMany.path == "topic_creation.default.replication.factor")
        let group = try error(["default.partitions: 1", "default.replication.factor: 1", "groups: a",
                               "a.include: x", "a.partitions: 1.5"])
        #expect(group.path == "topic_creation.a.partitions")
    }

    @Test func aGroupWithoutIncludeIsRefused() throws {
        let missing = try error(["default.partitions: 1", "default.replication.factor: 1", "groups: audit", "audit.partitions: 1"])
        #expect(missing.code == .missingKey)
        #expect(missing.path == "topic_creation.audit.include")
    }

    @Test func aRegexThatDoesNotCompileIsNamed() throws {
        let include = try error(["default.partitions: 1", "default.replication.factor: 1", "groups: audit",
                                 "audit.include: 'app.(audit'"])
        #expect(include.code == .invalidValue)
        #expect(include.path == "topic_creation.audit.include")
        #expect(include.message.contains("not a valid regular expression"))
        let exclude = try error(["default.partitions: 1", "default.replication.factor: 1", "groups: audit",
                                 "audit.include: '.*'", "audit.exclude: ['[a-']"])
        #expect(exclude.path == "topic_creation.audit.exclude")
    }

    @Test func groupNamesAreCheckedAsConnectDoes() throws {
        let duplicate = try error(["default.partitions: 1", "default.replication.factor: 1", "groups: [a, a]", "a.include: x"])
        #expect(duplicate.path == "topic_creation.groups")
        #expect(duplicate.message.contains("listed twice"))
        let named = try error(["default.partitions: 1", "default.replication.factor: 1", "groups: default"])
        #expect(named.path == "topic_creation.groups")
        let defaultInclude = try error(["default.partitions: 1", "default.replication.factor: 1", "default.include: x"])
        #expect(defaultInclude.path == "topic_creation.default.include")
    }

    @Test func anEmptyConfigValueIsRefused() throws {
        let empty = try error(["default.partitions: 1", "default.replication.factor: 1", "default.cleanup.policy: ''"])
        #expect(empty.path == "topic_creation.default.cleanup.policy")
        let mapping = try error(["default.partitions: 1", "default.replication.factor: 1", "default.cleanup.policy: {a: b}"])
        #expect(mapping.path == "topic_creation.default.cleanup.policy")
        #expect(mapping.code == .wrongType)
    }
}
