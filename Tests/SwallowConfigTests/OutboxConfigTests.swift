import SwallowConfig
import Testing

/// The `outbox` section: Debezium's EventRouter options.
@Suite struct OutboxConfigTests {
    private func parse(_ outbox: String, events: String? = nil) throws -> Config.Outbox? {
        var document = ConfigDocument()
        document.top["outbox"] = outbox
        if let events { document.top["events"] = events }
        return try Config.parse(yaml: document.yaml, environment: [:]).outbox
    }

    private func error(_ outbox: String, events: String? = nil) throws -> ConfigurationError {
        var document = ConfigDocument()
        document.top["outbox"] = outbox
        if let events { document.top["events"] = events }
        return try #require(parseError(document))
    }

    @Test func noSectionNoRouterAndDebeziumsDefaults() throws {
        #expect(try Config.parse(yaml: ConfigDocument().yaml, environment: [:]).outbox == nil)
        let outbox = try #require(try parse("{tables: [public.outboxevent]}"))
        #expect(outbox == Config.Outbox(tables: [.init(schema: "public", table: "outboxevent")]))
        #expect(outbox.routeByField == "aggregatetype")
        #expect(outbox.routeTopicRegex == "(?<routedByValue>.*)")
        #expect(outbox.routeTopicReplacement == "outbox.event.${routedByValue}")
        #expect(outbox.eventIDField == "id" && outbox.eventKeyField == "aggregateid" && outbox.payloadField == "payload")
        #expect(outbox.invalidOperationBehavior == .warn && !outbox.tombstoneOnEmptyPayload && !outbox.expandJSONPayload)
    }

    @Test func everyKeyIsRead() throws {
        let outbox = try #require(try parse(#"""
            {tables: [outbox], "route.by.field": kind, "route.topic.regex": "(?<k>.*)",
             "route.topic.replacement": "events.$${k}", "route.tombstone.on.empty.payload": true,
             "table.field.event.id": event_id, "table.field.event.key": agg, "table.field.event.payload": body,
             "table.field.event.timestamp": at, "table.field.event.schema.version": v, "table.expand.json.payload": true,
             "table.json.payload.null.behavior": optional_bytes, "table.field.additional.missing": ignore,
             "table.fields.additional.placement": "type:header:eventType, tenant:envelope,shard:partition",
             "table.op.invalid.behavior": fatal, "table.field.event.type": type}
            """#))
        #expect(outbox.tables == [.init(schema: "public", table: "outbox")])
        #expect(outbox.messagePrefixes.isEmpty)
        #expect(outbox.routeTopicReplacement == "events.${k}")
        #expect(outbox.additionalFields == [.init(column: "type", placement: .header, alias: "eventType"),
                                            .init(column: "tenant", placement: .envelope), .init(column: "shard", placement: .partition)])
        #expect(outbox.invalidOperationBehavior == .fatal && outbox.missingFieldBehavior == .ignore)
        #expect(outbox.jsonNullBehavior == .optionalBytes && outbox.expandJSONPayload && outbox.tombstoneOnEmptyPayload)
        #expect(outbox.timestampField == "at" && outbox.schemaVersionField == "v")
    }

    @Test func messagePrefixesAloneAreAnOutboxButNotWithATimestampOrAnEnvelopeWithSchemas() throws {
        let outbox = try #require(try parse("{message_prefixes: [outbox, events]}"))
        #expect(outbox.messagePrefixes == ["outbox", "events"] && outbox.tables.isEmpty)
        #expect(try parse("{message_prefixes: [outbox]}", events: "{envelope.schemas: true}")?.messagePrefixes == ["outbox"])
        #expect(try error(#"{message_prefixes: [outbox], "table.fields.additional.placement": "tenant:envelope"}"#,
                          events: "{envelope.schemas: true}").path == "outbox.table.fields.additional.placement")
        #expect(try error(#"{message_prefixes: [outbox], "table.field.event.timestamp": at}"#).path == "outbox.table.field.event.timestamp")
        #expect(try parse(#"{tables: [outbox], "table.expand.json.payload": true}"#, events: "{envelope.schemas: true}")?.expandJSONPayload == true)
        #expect(try error(#"{tables: [outbox], "table.expand.json.payload": true, "table.fields.additional.placement": "type:envelope"}"#,
                          events: "{envelope.schemas: true}").path == "outbox.table.expand.json.payload")
    }

    @Test func badConfigurationNamesTheKey() throws {
        var uncaptured = ConfigDocument()
        uncaptured.top["tables"] = "[public.orders]"
        uncaptured.top["outbox"] = "{tables: [public.orders, public.outboxevent]}"
        #expect(try #require(parseError(uncaptured)).path == "outbox.tables[1]")
        let unknown = try error("{tables: [outbox], route.by.feld: x}")
        #expect(unknown.path.hasPrefix("outbox."))
        let nothing = try error("{route.by.field: kind}")
        #expect(nothing.path == "outbox.tables")
        let regex = try error(#"{tables: [outbox], "route.topic.regex": "(unclosed"}"#)
        #expect(regex.path == "outbox.route.topic.regex")
        let group = try error(#"{tables: [outbox], "route.topic.replacement": "x.$${missing}"}"#)
        #expect(group.path == "outbox.route.topic.replacement")
        #expect(group.message.contains("missing"))
        let number = try error(#"{tables: [outbox], "route.topic.replacement": "x.$2"}"#)
        #expect(number.path == "outbox.route.topic.replacement")
        let placement = try error(#"{tables: [outbox], "table.fields.additional.placement": "type:body"}"#)
        #expect(placement.path == "outbox.table.fields.additional.placement")
        let twoPartitions = try error(#"{tables: [outbox], "table.fields.additional.placement": "a:partition,b:partition"}"#)
        #expect(twoPartitions.path == "outbox.table.fields.additional.placement")
        let behavior = try error(#"{tables: [outbox], "table.op.invalid.behavior": loud}"#)
        #expect(behavior.path == "outbox.table.op.invalid.behavior")
    }

    /// Outbox tables and messages in Avro, expanded payloads too (schemas inferred per value); an
    /// expanded payload in a value struct (which Debezium fails) is refused, naming the option.
    @Test func avroTakesOutboxTablesMessagesAndExpandedPayloads() throws {
        func document(_ outbox: String) -> ConfigDocument {
            var document = ConfigDocument()
            document.top["outbox"] = outbox
            document.top["events"] = "{format: avro}"
            document.top["schema_registry"] = "{url: \"http://registry:8081\"}"
            return document
        }
        let parsed = try Config.parse(yaml: document("{tables: [outbox]}").yaml, environment: [:])
        #expect(parsed.outbox?.tables == [.init(schema: "public", table: "outbox")])
        let expanding = try Config.parse(yaml: document(#"{tables: [outbox], "table.expand.json.payload": true}"#).yaml, environment: [:])
        #expect(expanding.outbox?.expandJSONPayload == true)
        let messages = try Config.parse(yaml: document("{message_prefixes: [outbox]}").yaml, environment: [:])
        #expect(messages.outbox?.messagePrefixes == ["outbox"])
        let expanded = try #require(parseError(document(#"{tables: [outbox], "table.expand.json.payload": true, "table.fields.additional.placement": "type:envelope"}"#)))
        #expect(expanded.path == "outbox.table.expand.json.payload")
        #expect(expanded.message.contains("events.format: avro"))
        let envelope = try #require(parseError(document(#"{message_prefixes: [outbox], "table.fields.additional.placement": "tenant:envelope"}"#)))
        #expect(envelope.path == "outbox.table.fields.additional.placement")
        #expect(envelope.message.contains("events.format: avro"))
    }

    @Test func topicPatternsFollowJavasRegexRouter() throws {
        let defaults = try #require(OutboxTopicPattern(regex: "(?<routedByValue>.*)", replacement: "outbox.event.${routedByValue}"))
        #expect(defaults.topic(for: "order") == "outbox.event.order")
        let numbered = try #require(OutboxTopicPattern(regex: "(order|customer)s?", replacement: "\\$$1.events"))
        #expect(numbered.topic(for: "orders") == "$order.events")
        // A value the regex does not match whole keeps its name.
        #expect(numbered.topic(for: "invoice") == "invoice")
        // `$12` with one group is group 1 then the digit 2, as Java reads it.
        let digits = try #require(OutboxTopicPattern(regex: "(a)", replacement: "$12"))
        #expect(digits.topic(for: "a") == "a2")
        #expect(OutboxTopicPattern(regex: "(a)", replacement: "$2") == nil)
        #expect(OutboxTopicPattern(regex: "(?<x>a)", replacement: "${y}") == nil)
        #expect(OutboxTopicPattern(regex: "[", replacement: "x") == nil)
        #expect(OutboxTopicPattern.groups(of: #"(?:a)(b)\((?<n>c)[(]"#) == .success(.init(count: 2, names: ["n"])))
    }
}
