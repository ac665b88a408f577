import SwallowConfig
import Testing

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

    @Test func modeDefaultsAreDebeziumsAndEveryModeIsRead() throws {
        let defaults = try parse(nil)
        #expect(defaults.decimalHandling == .precise && defaults.timePrecision == .adaptive)
        #expect(defaults.binaryHandling == .bytes && defaults.intervalHandling == .numeric && defaults.hstoreHandling == .json)
        #expect(defaults.unknownTypeHandling == .fail && !defaults.includeSchemas && !defaults.provideTransactionMetadata)
        let events = try parse("""
            {decimal.handling.mode: string, time.precision.mode: adaptive_time_microseconds, binary.handling.mode: base64-url-safe,
             interval.handling.mode: string, hstore.handling.mode: map, unknown.type.handling.mode: string,
             envelope.schemas: true, provide.transaction.metadata: true}
            """)
        #expect(events.decimalHandling == .string && events.timePrecision == .adaptiveTimeMicroseconds)
        #expect(events.binaryHandling == .base64URLSafe && events.intervalHandling == .string && events.hstoreHandling == .map)
        #expect(events.unknownTypeHandling == .string && events.includeSchemas && events.provideTransactionMetadata)
    }

    @Test func fieldNameAdjustmentIsNoneOrAvro() throws {
        #expect(try parse(nil).fieldNameAdjustment == .none)
        #expect(try parse("{field.name.adjustment.mode: avro}").fieldNameAdjustment == .avro)
        var document = ConfigDocument()
        document.top["events"] = "{field.name.adjustment.mode: avro_unicode}"
        let error = try #require(parseError(document))
        #expect(error.path == "events.field.name.adjustment.mode" && error.message.contains("none, avro"))
    }

    @Test func aMisspeltModeSuggestsTheRightOne() throws {
        var document = ConfigDocument()
        document.top["events"] = "{decimal.handling.mode: presice}"
        let error = try #require(parseError(document))
        #expect(error.path == "events.decimal.handling.mode")
        #expect(error.message.contains("precise, string, double"))
        #expect(error.message.contains("did you mean `precise`"))
    }

    @Test func messageKeyColumnsAndFiltersAreRead() throws {
        let events = try parse(#"{message.key.columns: "public.orders:region,id; inventory.(.*):code", table.include.list: "public\\..*", column.exclude.list: "public.users.password"}"#)
        #expect(events.messageKeyColumns == [.init(table: "public.orders", columns: ["region", "id"]),
                                             .init(table: "inventory.(.*)", columns: ["code"])])
        #expect(events.tableIncludeList == ["public\\..*"])
        #expect(events.columnExcludeList == ["public.users.password"])
    }

    @Test func malformedMessageKeyColumnsAndExclusiveFiltersAreRejected() throws {
        for bad in [#"{message.key.columns: "public.orders"}"#, #"{message.key.columns: "public.orders:"}"#,
                    #"{message.key.columns: "(:id"}"#,
                    #"{table.include.list: "a", table.exclude.list: "b"}"#,
                    #"{column.include.list: "a", column.exclude.list: "b"}"#] {
            var document = ConfigDocument()
            document.top["events"] = bad
            let error = try #require(parseError(document), "\(bad)")
            #expect(error.code == .invalidValue, "\(bad)")
        }
    }
}
