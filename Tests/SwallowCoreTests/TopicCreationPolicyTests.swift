import SwallowConfig
import SwallowCore
import Testing

/// Which group a topic belongs to, what it is created with, and what a mismatch is (Kafka Connect's
/// TopicCreation and TopicCreationGroup).
@Suite struct TopicCreationPolicyTests {
    typealias Group = SwallowConfiguration.TopicCreation.Group

    private let configuration = SwallowConfiguration.TopicCreation(
        defaultGroup: Group(name: "default", include: [".*"], partitions: 6, replicationFactor: 3,
                            configs: ["cleanup.policy": "compact"]),
        groups: [
            Group(name: "audit", include: [#"app\.audit\..*"#], exclude: [#"app\.audit\.keep"#], partitions: 1,
                  replicationFactor: 3, configs: ["retention.ms": "604800000"]),
            Group(name: "wide", include: [#"app\..*"#], partitions: -1, replicationFactor: -1),
        ])

    @Test func nothingIsCreatedWithoutTheSectionOrWithEnableFalse() {
        #expect(!TopicCreationPolicy(nil).createsTopics)
        #expect(TopicCreationPolicy(nil).settings(for: "app.public.orders") == nil)
        var off = configuration
        off.enabled = false
        #expect(TopicCreationPolicy(off).settings(for: "app.public.orders") == nil)
        #expect(TopicCreationPolicy(off).mismatches(topic: "x", existing: .init(partitions: 1, replicationFactor: 1, configs: [:])).isEmpty)
    }

    @Test func theFirstMatchingGroupInListedOrderWinsAndDefaultTakesTheRest() {
        let policy = TopicCreationPolicy(configuration)
        // Both audit and wide match: audit is listed first.
        #expect(policy.group(for: "app.audit.logins")?.name == "audit")
        // Excluded from audit: the next group that matches.
        #expect(policy.group(for: "app.audit.keep")?.name == "wide")
        #expect(policy.group(for: "app.public.orders")?.name == "wide")
        #expect(policy.group(for: "other.public.orders")?.name == "default")
        // Whole names only (Matcher.matches()), case-sensitive.
        #expect(policy.group(for: "x.app.audit.logins")?.name == "default")
        #expect(policy.group(for: "APP.audit.logins")?.name == "default")
    }

    @Test func settingsCarryTheGroupsValuesWithMinusOneAsTheBrokersDefault() {
        let policy = TopicCreationPolicy(configuration)
        #expect(policy.settings(for: "app.audit.logins") == .init(group: "audit", partitions: 1, replicationFactor: 3,
                                                                   configs: ["retention.ms": "604800000"]))
        #expect(policy.settings(for: "app.public.orders") == .init(group: "wide", partitions: nil, replicationFactor: nil, configs: [:]))
        #expect(policy.settings(for: "dlq") == .init(group: "default", partitions: 6, replicationFactor: 3,
                                                      configs: ["cleanup.policy": "compact"]))
    }

    @Test func aMismatchNamesTopicSettingFoundAndConfigured() {
        let policy = TopicCreationPolicy(configuration)
        let mismatches = policy.mismatches(
            topic: "dlq", existing: .init(partitions: 2, replicationFactor: 3, configs: ["cleanup.policy": "delete", "retention.ms": "1"]))
        #expect(mismatches == [
            .init(topic: "dlq", setting: "partitions", found: "2", configured: "6", group: "default"),
            .init(topic: "dlq", setting: "cleanup.policy", found: "delete", configured: "compact", group: "default"),
        ])
        #expect(mismatches[0].description == "dlq: partitions is 2 where topic_creation (group default) says 6")
        // Configs the group does not set are not compared; a config the cluster did not report differs.
        #expect(policy.mismatches(topic: "app.audit.x", existing: .init(partitions: 1, replicationFactor: 3, configs: [:]))
            == [.init(topic: "app.audit.x", setting: "retention.ms", found: nil, configured: "604800000", group: "audit")])
        #expect(policy.mismatches(topic: "dlq", existing: .init(partitions: 6, replicationFactor: 3, configs: ["cleanup.policy": "compact"])).isEmpty)
    }

    @Test func unreadConfigsAreNotComparedAndBrokerDefaultsStandInForMinusOne() {
        let policy = TopicCreationPolicy(configuration)
        #expect(policy.mismatches(topic: "dlq", existing: .init(partitions: 6, replicationFactor: 1, configs: nil))
            == [.init(topic: "dlq", setting: "replication.factor", found: "1", configured: "3", group: "default")])
        // -1 with an unknown broker default: not compared.
        #expect(policy.mismatches(topic: "app.public.orders", existing: .init(partitions: 9, replicationFactor: 1, configs: nil)).isEmpty)
        let known = TopicCreationPolicy.BrokerDefaults(partitions: 4, replicationFactor: 1)
        #expect(policy.mismatches(topic: "app.public.orders", existing: .init(partitions: 9, replicationFactor: 1, configs: nil),
                                  brokerDefaults: known)
            == [.init(topic: "app.public.orders", setting: "partitions", found: "9", configured: "-1 (the broker's default, 4)", group: "wide")])
    }

    @Test func aRefusalsFixNamesTheKeyToChange() {
        let settings = TopicCreationPolicy.Settings(group: "audit", partitions: 1, replicationFactor: 3, configs: ["retention.ms": "1"])
        #expect(TopicCreationPolicy.refusalFix(errorName: "INVALID_REPLICATION_FACTOR", topic: "t", settings: settings)
            .contains("topic_creation.audit.replication.factor"))
        #expect(TopicCreationPolicy.refusalFix(errorName: "TOPIC_AUTHORIZATION_FAILED", topic: "t", settings: settings)
            .contains("--operation Create --topic t"))
        #expect(TopicCreationPolicy.refusalFix(errorName: "INVALID_CONFIG", topic: "t", settings: settings).contains("retention.ms"))
        #expect(TopicCreationPolicy.refusalFix(errorName: "POLICY_VIOLATION", topic: "t", settings: settings).contains("create.topic.policy"))
    }
}
