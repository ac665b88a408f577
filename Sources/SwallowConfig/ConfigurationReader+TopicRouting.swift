import Foundation

/// The `topic_routing` section (Debezium's ByLogicalTableRouter option names).
extension ConfigurationReader {
    func readTopicRouting(_ top: Section, topicPrefix: String) throws(ConfigurationError) -> SwallowConfiguration.TopicRouting? {
        guard let routing = try optionalSection(top, "topic_routing", allowed: Keys.topicRouting) else { return nil }
        func string(_ key: String) throws(ConfigurationError) -> ScalarValue? {
            try scalar(routing[key], path: routing.path(key), expected: "a string")
        }
        func regex(_ key: String) throws(ConfigurationError) -> (String, RoutingRegex)? {
            guard let value = try string(key) else { return nil }
            guard let compiled = RoutingRegex(value.text) else {
                throw ConfigurationError(code: .invalidValue, path: routing.path(key),
                                         message: "\(value.shown) is not a valid regular expression")
            }
            return (value.text, compiled)
        }
        func replacement(_ key: String, for compiled: RoutingRegex) throws(ConfigurationError) -> String? {
            guard let value = try string(key) else { return nil }
            do {
                _ = try JavaReplacement(value.text, groupCount: compiled.groupCount, groupNames: compiled.groupNames)
            } catch {
                throw ConfigurationError(code: .invalidValue, path: routing.path(key),
                                         message: "\(value.shown) is not a usable replacement: \(error.description)")
            }
            return value.text
        }
        guard let (topicRegex, compiledTopic) = try regex("topic.regex") else {
            throw ConfigurationError(code: .missingKey, path: routing.path("topic.regex"),
                                     message: "topic_routing needs topic.regex, the regex a table's whole topic must match to be routed, e.g. `topic.regex: 'app\\.public\\.orders_(.*)'`")
        }
        guard let topicReplacement = try replacement("topic.replacement", for: compiledTopic) else {
            throw ConfigurationError(code: .missingKey, path: routing.path("topic.replacement"),
                                     message: "topic_routing needs topic.replacement, the new topic (`$1` for a group of topic.regex), e.g. `topic.replacement: app.public.orders`")
        }
        // Debezium would route these records too (and add the key field to their keys); Swallow routes
        // the tables' topics only, so a regex that matches these is refused rather than half applied.
        for topic in ["\(topicPrefix).transaction", "\(topicPrefix).message", "__debezium-heartbeat.\(topicPrefix)"]
        where (try? compiledTopic.regex.wholeMatch(in: topic)) != nil {
            throw ConfigurationError(code: .invalidValue, path: routing.path("topic.regex"),
                                     message: "\(SecretValue.quoted(topicRegex, secret: false)) matches the topic \(topic), which is not a table's; Swallow routes the topics of tables only: make the regex more specific")
        }
        var keyFieldRegex: String?
        var keyFieldReplacement: String?
        // Debezium ignores a key.field.regex that is empty after trimming.
        if let (pattern, compiled) = try regex("key.field.regex"), !pattern.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let text = try replacement("key.field.replacement", for: compiled),
                  !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ConfigurationError(code: .missingKey, path: routing.path("key.field.replacement"),
                                         message: "key.field.replacement must be non-empty if key.field.regex is set")
            }
            keyFieldRegex = pattern
            keyFieldReplacement = text
        } else if try string("key.field.replacement") != nil {
            throw ConfigurationError(code: .invalidValue, path: routing.path("key.field.replacement"),
                                     message: "key.field.replacement is used only with key.field.regex; set key.field.regex or remove it")
        }
        let keyFieldName = try string("key.field.name")?.text ?? SwallowConfiguration.TopicRouting.defaultKeyFieldName
        guard !keyFieldName.isEmpty else {
            throw ConfigurationError(code: .invalidValue, path: routing.path("key.field.name"),
                                     message: "expected a key field name, got an empty string")
        }
        return SwallowConfiguration.TopicRouting(
            topicRegex: topicRegex, topicReplacement: topicReplacement,
            keyEnforceUniqueness: try boolean(routing, "key.enforce.uniqueness", default: true),
            keyFieldName: keyFieldName, keyFieldRegex: keyFieldRegex, keyFieldReplacement: keyFieldReplacement,
            schemaNameAdjustmentMode: try enumeration(routing, "schema.name.adjustment.mode", default: .avro),
            logicalTableCacheSize: try integer(routing, "logical.table.cache.size", range: 1...1_000_000, default: 16))
    }
}
