import Testing
import SwallowConfig

/// The `events` section: Debezium's option names and defaults.
@Suite struct EventsTests {
    private func parse(_ events: String?) throws -> Config.Events {
        var document = ConfigDocument()
        if let events { document.top["events"] = events }
        return try Config.parse(yaml: document.yaml, environment: [:]).events
    }

    @Test func defaultsAreDebeziums() throws {
        let events = try parse(nil)
        #expect(events.tombstonesOnDelete)
        #expect(events.skippedOperations == [.truncate])
        #expect(events.unavailableValuePlaceholder == "__debezium_unavailable_value")
        #expect(events.messagePrefixIncludeList == nil && events.messagePrefixExcludeList == nil)
    }

    @Test func everyOptionIsRead() throws {
        let events = try parse(#"{tombstones.on.delete: false, skipped.operations: "u, d", unavailable.value.placeholder: "<n/a>", message.prefix.include.list: "audit.*, ops"}"#)
        #expect(!events.tombstonesOnDelete)
        #expect(events.skippedOperations == [.update, .delete])
        #expect(events.unavailableValuePlaceholder == "<n/a>")
        #expect(events.messagePrefixIncludeList == ["audit.*", "ops"])
    }

    @Test func noneSkipsNothing() throws {
        #expect(try parse("{skipped.operations: none}").skippedOperations.isEmpty)
    }

    @Test func anUnknownOperationLetterNamesTheKeyAndTheChoices() throws {
        var document = ConfigDocument()
        document.top["events"] = "{skipped.operations: \"c,x\"}"
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "events.skipped.operations")
        #expect(error.message.contains("t (truncate)"))
    }

    @Test func anInvalidRegularExpressionIsRejected() throws {
        var document = ConfigDocument()
        document.top["events"] = "{message.prefix.exclude.list: \"a(\"}"
        let error = try #require(parseError(document))
        #expect(error.path == "events.message.prefix.exclude.list")
        #expect(error.message.contains("not a valid regular expression"))
    }

    @Test func includeAndExcludeListsAreExclusive() throws {
        var document = ConfigDocument()
        document.top["events"] = "{message.prefix.include.list: a, message.prefix.exclude.list: b}"
        #expect(parseError(document)?.code == .invalidValue)
    }

    @Test func anUnknownEventsKeyIsRejected() throws {
        var document = ConfigDocument()
        document.top["events"] = "{tombstones.on.deletes: false}"
        let error = try #require(parseError(document))
        #expect(error.code == .unknownKey)
        #expect(error.path == "events.tombstones.on.deletes")
    }
}
