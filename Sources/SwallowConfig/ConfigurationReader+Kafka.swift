import Foundation

/// The `kafka` section (brokers, librdkafka properties, oversized events) and `topic_prefix`, with
/// Kafka's topic name rule.
extension ConfigurationReader {
    /// librdkafka properties that Swallow sets itself.
    static let reservedKafkaProperties = ["bootstrap.servers", "metadata.broker.list"]

    func readTopicPrefix(_ top: Section) throws(ConfigurationError) -> String {
        let value = try requiredString(top, "topic_prefix",
                                       expected: "a Kafka topic prefix (characters [a-zA-Z0-9._-])",
                                       example: "topic_prefix: app")
        let prefix = value.text
        guard !prefix.isEmpty, prefix.utf8.count <= Limits.topicPrefixLength,
              prefix.unicodeScalars.allSatisfy({ Self.isTopicCharacter($0) }) else {
            throw ConfigurationError(
                code: .invalidValue, path: top.path("topic_prefix"),
                message: "expected a Kafka topic prefix of 1 to \(Limits.topicPrefixLength) characters from [a-zA-Z0-9._-], got \(value.shown)")
        }
        return prefix
    }

    func readKafka(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Kafka {
        let kafka = try requiredSection(top, "kafka", allowed: Keys.kafka, required: ["bootstrap_servers"])
        let serversValue = try requiredString(
            kafka, "bootstrap_servers",
            expected: "a comma-separated list of Kafka brokers (host:port), or `embedded`",
            example: "bootstrap_servers: 127.0.0.1:9092")
        let servers = serversValue.text
        let bootstrap: SwallowConfiguration.KafkaBootstrap
        if servers == "embedded" {
            bootstrap = .embedded
        } else {
            let entries = servers.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard entries.allSatisfy({ !$0.isEmpty && !$0.contains(where: \.isWhitespace) }) else {
                throw ConfigurationError(
                    code: .invalidValue, path: kafka.path("bootstrap_servers"),
                    message: "expected a comma-separated list of Kafka brokers such as `host1:9092,host2:9092` (no empty entries, no spaces inside an entry), or the literal `embedded`, got \(serversValue.shown)")
            }
            bootstrap = .servers(entries.joined(separator: ","))
        }
        let properties = try readKafkaProperties(kafka)
        let flush = try integer(kafka, "flush_timeout_ms", range: Limits.flushTimeoutMilliseconds, default: 30_000)
        let oversized = try enumeration(kafka, "oversized_events", default: SwallowConfiguration.Kafka.OversizedEvents.fail)
        var deadLetterTopic: String?
        let topicPath = kafka.path("dead_letter_topic")
        if let value = try scalar(kafka["dead_letter_topic"], path: topicPath, expected: "a Kafka topic name") {
            guard !value.text.isEmpty, value.text.utf8.count <= Limits.topicPrefixLength,
                  value.text != ".", value.text != "..",
                  value.text.unicodeScalars.allSatisfy(Self.isTopicCharacter) else {
                throw ConfigurationError(
                    code: .invalidValue, path: topicPath,
                    message: "expected a Kafka topic name of 1 to \(Limits.topicPrefixLength) characters from [a-zA-Z0-9._-] (not `.` or `..`), got \(value.shown); remove the key for the default `<topic_prefix>.dead-letter`")
            }
            deadLetterTopic = value.text
        }
        if properties["transactional.id"] != nil {
            throw ConfigurationError(
                code: .invalidValue, path: kafka.path("properties.transactional.id"),
                message: "Swallow sets librdkafka's transactional.id itself (with delivery: exactly_once); name it with kafka.transactional_id instead")
        }
        var transactionalID: String?
        let idPath = kafka.path("transactional_id")
        if let value = try scalar(kafka["transactional_id"], path: idPath, expected: "a Kafka transactional id") {
            // Kafka allows any string; spaces and control characters only make ACLs and logs hard to read.
            guard !value.text.isEmpty, value.text.utf8.count <= 249,
                  value.text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
                throw ConfigurationError(
                    code: .invalidValue, path: idPath,
                    message: "expected a transactional id of 1 to 249 characters without spaces or control characters, got \(value.shown); remove the key for the default `swallow.<topic_prefix>.<slot.name>`")
            }
            transactionalID = value.text
        }
        return SwallowConfiguration.Kafka(bootstrapServers: bootstrap, properties: properties,
                                          flushTimeoutMilliseconds: flush, oversizedEvents: oversized,
                                          deadLetterTopic: deadLetterTopic, transactionalID: transactionalID)
    }

    func readKafkaProperties(_ kafka: Section) throws(ConfigurationError) -> [String: String] {
        let path = kafka.path("properties")
        guard let node = kafka["properties"], !Self.isNull(node) else { return [:] }
        let entries = try mapping(
            node, path: path,
            expected: "a mapping of librdkafka property names to scalar values, e.g. `properties: {linger.ms: 5, acks: all}`")
        var properties: [String: String] = [:]
        for entry in entries {
            guard !entry.key.isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: entry.path,
                                         message: "empty librdkafka property name; remove it")
            }
            if Self.reservedKafkaProperties.contains(entry.key) {
                throw ConfigurationError(
                    code: .invalidValue, path: entry.path,
                    message: "`\(entry.key)` is set from kafka.bootstrap_servers; set `kafka.bootstrap_servers` instead and remove this property")
            }
            // Secret by its name or not: scalar(...) applies SwallowConfiguration.isSecretByKey(path:).
            guard let value = try scalar(entry.value, path: entry.path,
                                         expected: "a scalar value (string, number or boolean)") else {
                throw ConfigurationError(
                    code: .wrongType, path: entry.path,
                    message: "expected a scalar value (string, number or boolean), got null; remove the property to use librdkafka's default")
            }
            properties[entry.key] = value.text
        }
        return properties
    }

    static func isTopicCharacter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || scalar == "." || scalar == "_" || scalar == "-"
    }
}
