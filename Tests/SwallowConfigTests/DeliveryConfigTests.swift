import SwallowConfig
import Testing

/// `delivery` and `confirm_interval_ms`.
@Suite struct DeliveryConfigTests {
    private func parse(_ top: [String: String?]) throws -> Config {
        var document = ConfigDocument()
        for (key, value) in top { document.top[key] = value }
        return try Config.parse(yaml: document.yaml, environment: [:])
    }

    @Test func atLeastOnceWithAPromptConfirmationByDefault() throws {
        let config = try parse([:])
        #expect(config.delivery == .atLeastOnce)
        #expect(config.confirmIntervalMilliseconds == 200)
        #expect(config.statusIntervalMilliseconds == 10_000)
        #expect(config.redactedDescription.contains("delivery=at_least_once"))
        #expect(config.redactedDescription.contains("confirm_interval_ms=200"))
    }

    @Test func bothModesAndAnIntervalAreRead() throws {
        let config = try parse(["delivery": "exactly_once", "confirm_interval_ms": "1000"])
        #expect(config.delivery == .exactlyOnce)
        #expect(config.confirmIntervalMilliseconds == 1000)
        #expect(try parse(["delivery": "at_least_once"]).delivery == .atLeastOnce)
    }

    @Test(arguments: ["exactly-once", "exactlyonce", "true", "[exactly_once]"])
    func anUnknownModeNamesBoth(text: String) throws {
        var document = ConfigDocument()
        document.top["delivery"] = text
        let error = try #require(parseError(document))
        #expect(error.path == "delivery")
        #expect(error.message.contains("at_least_once"))
        #expect(error.message.contains("exactly_once"))
    }

    @Test(arguments: ["0", "9", "600001", "-1", "1s"])
    func aConfirmIntervalOutOfRangeIsAnError(text: String) throws {
        var document = ConfigDocument()
        document.top["confirm_interval_ms"] = text
        let error = try #require(parseError(document))
        #expect(error.path == "confirm_interval_ms")
    }
}

/// `kafka.transactional_id`.
@Suite struct TransactionalIDConfigTests {
    @Test func theDefaultBelongsToThePrefixAndTheSlot() throws {
        let config = try Config.parse(yaml: ConfigDocument().yaml, environment: [:])
        #expect(config.kafka.transactionalID == nil)
        #expect(config.kafka.resolvedTransactionalID(topicPrefix: config.topicPrefix, slotName: config.slot.name)
                == "swallow.\(config.topicPrefix).\(config.slot.name)")
    }

    @Test func aConfiguredIDIsUsed() throws {
        var document = ConfigDocument()
        document.kafka["transactional_id"] = "orders-cdc"
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.kafka.resolvedTransactionalID(topicPrefix: "app", slotName: "s") == "orders-cdc")
    }

    @Test(arguments: ["\"\"", "\"a b\"", "\"tab\\there\""])
    func aBadIDIsAnError(text: String) throws {
        var document = ConfigDocument()
        document.kafka["transactional_id"] = text
        let error = try #require(parseError(document))
        #expect(error.path == "kafka.transactional_id")
    }

    @Test func transactionalIDInThePropertiesPointsToTheKey() throws {
        var document = ConfigDocument()
        document.kafka["properties"] = "{transactional.id: x}"
        let error = try #require(parseError(document))
        #expect(error.path == "kafka.properties.transactional.id")
        #expect(error.message.contains("kafka.transactional_id"))
    }
}
