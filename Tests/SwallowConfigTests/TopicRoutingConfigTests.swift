import SwallowConfig
import Testing

/// `topic_routing` (Debezium's ByLogicalTableRouter option names) and the Java replacement strings it takes.
@Suite struct TopicRoutingConfigTests {
    private func routing(_ section: String) throws -> SwallowConfiguration.TopicRouting? {
        var document = ConfigDocument()
        document.top["topic_routing"] = section
        return try Config.parse(yaml: document.yaml, environment: [:]).topicRouting
    }

    private func error(_ section: String) -> ConfigurationError? {
        var document = ConfigDocument()
        document.top["topic_routing"] = section
        return parseError(document)
    }

    @Test func absentMeansNoRouting() throws {
        #expect(try Config.parse(yaml: ConfigDocument().yaml, environment: [:]).topicRouting == nil)
    }

    @Test func debeziumsDefaults() throws {
        let routing = try #require(try routing(#"{topic.regex: 'app\.public\.orders_(.*)', topic.replacement: app.public.orders}"#))
        #expect(routing.topicRegex == #"app\.public\.orders_(.*)"#)
        #expect(routing.topicReplacement == "app.public.orders")
        #expect(routing.keyEnforceUniqueness)
        #expect(routing.keyFieldName == "__dbz__physicalTableIdentifier")
        #expect(routing.keyFieldRegex == nil && routing.keyFieldReplacement == nil)
        #expect(routing.schemaNameAdjustmentMode == .avro)
    }

    @Test func everyOption() throws {
        let routing = try #require(try routing(#"{topic.regex: 'app\.(s\d+)\.orders', topic.replacement: 'app.all.orders', key.enforce.uniqueness: false, key.field.name: shard, key.field.regex: 'app\.(?<shard>s\d+)\.orders', key.field.replacement: '$${shard}', schema.name.adjustment.mode: none, logical.table.cache.size: 64}"#))
        #expect(!routing.keyEnforceUniqueness)
        #expect(routing.keyFieldName == "shard")
        #expect(routing.keyFieldRegex == #"app\.(?<shard>s\d+)\.orders"# && routing.keyFieldReplacement == "${shard}")
        #expect(routing.schemaNameAdjustmentMode == SwallowConfiguration.TopicRouting.SchemaNameAdjustmentMode.none)
        #expect(routing.logicalTableCacheSize == 64)
    }

    @Test func javasNamedGroupReferenceIsWrittenWithTheEnvironmentEscape() throws {
        // `${NAME}` is an environment variable in Swallow's YAML; `$${` is a literal `${`.
        #expect(parseError({ var d = ConfigDocument(); d.top["topic_routing"] = "{topic.regex: '(?<s>a)', topic.replacement: '${s}'}"; return d }())?
            .message.contains("environment variable s is not set") == true)
        #expect(try routing("{topic.regex: '(?<s>a)', topic.replacement: '$${s}'}")?.topicReplacement == "${s}")
    }

    @Test func badConfigurationNamesTheKey() {
        #expect(error("{topic.replacement: x}")?.path == "topic_routing.topic.regex")
        #expect(error("{topic.regex: 'a(b'}")?.path == "topic_routing.topic.regex")
        #expect(error("{topic.regex: 'a(b', topic.replacement: x}")?.message.contains("not a valid regular expression") == true)
        #expect(error("{topic.regex: 'a'}")?.path == "topic_routing.topic.replacement")
        #expect(error("{topic.regex: 'a(.*)', topic.replacement: 'x$2'}")?.message.contains("group 2") == true)
        #expect(error("{topic.regex: 'a(.*)', topic.replacement: 'x$'}")?.path == "topic_routing.topic.replacement")
        #expect(error("{topic.regex: 'a(.*)', topic.replacement: 'x${nope}'}")?.message.contains("nope") == true)
        #expect(error("{topic.regex: a, topic.replacement: b, key.field.regex: 'a'}")?.path == "topic_routing.key.field.replacement")
        #expect(error("{topic.regex: a, topic.replacement: b, key.field.regex: '(('}")?.path == "topic_routing.key.field.regex")
        #expect(error("{topic.regex: a, topic.replacement: b, key.field.replacement: x}")?.path == "topic_routing.key.field.replacement")
        #expect(error("{topic.regex: a, topic.replacement: b, topic.regexp: c}")?.path == "topic_routing.topic.regexp")
        #expect(error("{topic.regex: a, topic.replacement: b, schema.name.adjustment.mode: avro_unicode}")?.path == "topic_routing.schema.name.adjustment.mode")
        #expect(error("{topic.regex: a, topic.replacement: b, key.field.name: ''}")?.path == "topic_routing.key.field.name")
    }

    @Test func aRegexMatchingTheTopicsOfNoTableIsRefused() {
        // Debezium would route (and re-key) transaction, message and heartbeat records too; Swallow refuses.
        #expect(error("{topic.regex: 'app\\..*', topic.replacement: app.all}")?.message.contains("app.transaction") == true)
        #expect(error("{topic.regex: '.*', topic.replacement: app.all}")?.path == "topic_routing.topic.regex")
        #expect(error(#"{topic.regex: 'app\.public\..*', topic.replacement: app.all}"#) == nil)
    }

    @Test func javaReplacementSyntax() throws {
        let parts = try JavaReplacement(#"a$1\$b${name}$12c\\"#, groupCount: 1, groupNames: ["name"]).parts
        // $12 with one group is group 1 then "2" (Java takes the longest number that names a group).
        #expect(parts == [.literal("a"), .group(1), .literal("$b"), .namedGroup("name"), .group(1), .literal("2c\\")])
        #expect(throws: JavaReplacement.ReplacementProblem.trailingBackslash) { try JavaReplacement("a\\", groupCount: 0, groupNames: []) }
        #expect(throws: JavaReplacement.ReplacementProblem.noSuchGroup(1, groupCount: 0)) { try JavaReplacement("$1", groupCount: 0, groupNames: []) }
        #expect(throws: JavaReplacement.ReplacementProblem.unclosedGroupName("name")) { try JavaReplacement("${name", groupCount: 0, groupNames: ["name"]) }
        let twelve = try JavaReplacement("$12", groupCount: 12, groupNames: []).parts
        #expect(twelve == [.group(12)])
    }

    @Test func routingRegexReplacesLikeJavaMatchesThenReplaceFirst() throws {
        let regex = try #require(RoutingRegex(#"app\.public\.shard_(\d+)"#))
        #expect(regex.groupCount == 1)
        let replacement = try JavaReplacement("app.public.shards_$1", groupCount: 1, groupNames: [])
        #expect(regex.replacingIfWholeMatch("app.public.shard_7", with: replacement) == "app.public.shards_7")
        // Only a whole match routes.
        #expect(regex.replacingIfWholeMatch("app.public.shard_7x", with: replacement) == nil)
        let named = try #require(RoutingRegex(#"(?<db>[a-z]+)\.(x)"#))
        #expect(named.groupCount == 2 && named.groupNames == ["db"])
        #expect(named.replacingIfWholeMatch("ab.x", with: try JavaReplacement("${db}-$2", groupCount: 2, groupNames: ["db"])) == "ab-x")
        #expect(RoutingRegex("(") == nil)
    }
}
