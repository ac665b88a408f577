import SwallowConfig
import Testing

/// `kafka.oversized_events` and `kafka.dead_letter_topic`.
@Suite struct OversizedEventsConfigTests {
    private func parse(_ kafka: [String: String?]) throws -> Config.Kafka {
        var document = ConfigDocument()
        document.kafka = kafka
        return try Config.parse(yaml: document.yaml, environment: [:]).kafka
    }

    private func error(_ kafka: [String: String?], top: [String: String?] = [:]) throws -> ConfigurationError {
        var document = ConfigDocument()
        document.kafka = kafka
        document.top = top
        return try #require(parseError(document))
    }

    @Test func defaultIsToFailAndTheDeadLetterTopicFollowsThePrefix() throws {
        let kafka = try parse([:])
        #expect(kafka.oversizedEvents == .fail)
        #expect(kafka.deadLetterTopic == nil)
        #expect(kafka.resolvedDeadLetterTopic(topicPrefix: "app") == "app.dead-letter")
        #expect(try parse(["oversized_events": "~", "dead_letter_topic": "~"]) == kafka)
    }

    @Test func bothKeysAreRead() throws {
        let kafka = try parse(["oversized_events": "dead_letter", "dead_letter_topic": "ops.swallow-dlq_1"])
        #expect(kafka.oversizedEvents == .deadLetter)
        #expect(kafka.deadLetterTopic == "ops.swallow-dlq_1")
        #expect(kafka.resolvedDeadLetterTopic(topicPrefix: "app") == "ops.swallow-dlq_1")
        #expect(try parse(["oversized_events": "fail"]).oversizedEvents == .fail)
    }

    @Test func anUnknownModeNamesTheChoices() throws {
        let wrong = try error(["oversized_events": "dead-letter"])
        #expect(wrong.code == .invalidValue)
        #expect(wrong.path == "kafka.oversized_events")
        #expect(wrong.message.contains("fail, dead_letter"))
        #expect(wrong.message.contains("did you mean `dead_letter`"))
        #expect(try error(["oversized_events": "[fail]"]).code == .wrongType)
    }

    @Test func aDeadLetterTopicMustBeAValidTopicName() throws {
        for bad in ["\"\"", "\"has space\"", "\"a/b\"", "\".\"", "\"..\"", String(repeating: "x", count: 250)] {
            let refused = try error(["dead_letter_topic": bad])
            #expect(refused.code == .invalidValue, "\(bad)")
            #expect(refused.path == "kafka.dead_letter_topic")
            #expect(refused.message.contains("[a-zA-Z0-9._-]"))
        }
        #expect(try parse(["dead_letter_topic": String(repeating: "x", count: 249)]).deadLetterTopic?.count == 249)
    }

    @Test func aTooLongDefaultDeadLetterTopicAsksForOne() throws {
        let prefix = String(repeating: "p", count: 240)
        let refused = try error(["oversized_events": "dead_letter"], top: ["topic_prefix": prefix])
        #expect(refused.path == "kafka.dead_letter_topic")
        #expect(refused.message.contains("set kafka.dead_letter_topic"))
        // Unused in fail mode, so not an error there; and an explicit topic is fine.
        #expect(parseError({ var d = ConfigDocument(); d.top = ["topic_prefix": prefix]; return d }()) == nil)
        var explicit = ConfigDocument()
        explicit.top = ["topic_prefix": prefix]
        explicit.kafka = ["oversized_events": "dead_letter", "dead_letter_topic": "dlq"]
        #expect(parseError(explicit) == nil)
    }
}
