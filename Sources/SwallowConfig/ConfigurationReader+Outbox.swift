import Foundation
import Yams

/// The `outbox` section: Debezium's EventRouter options under their Debezium names, plus which tables
/// (`tables`) and logical decoding message prefixes (`message_prefixes`) carry outbox events.
extension ConfigurationReader {
    func readOutbox(_ top: Section, events: SwallowConfiguration.Events) throws(ConfigurationError) -> SwallowConfiguration.Outbox? {
        guard let outbox = try optionalSection(top, "outbox", allowed: Keys.outbox) else { return nil }
        // Records with their Connect schemas: envelope.schemas, or Avro (whose schemas come from them).
        let schemas = events.includeSchemas || events.format == .avro
        let schemasOption = events.format == .avro ? "events.format: avro" : "events.envelope.schemas"
        let defaults = SwallowConfiguration.Outbox()
        let tables = try readTables(outbox)
        // An outbox table must be captured, or its rows would never reach the router.
        let captured = try readTables(top)
        if !captured.isEmpty, let index = tables.firstIndex(where: { !captured.contains($0) }) {
            throw ConfigurationError(code: .invalidValue, path: "\(outbox.path("tables"))[\(index)]",
                                     message: "the outbox table \(tables[index]) is not among the captured `tables`; add it there")
        }
        let prefixes = try readStringList(outbox, "message_prefixes", expected: "a sequence of logical decoding message prefixes, e.g. `message_prefixes: [outbox]`")
        if tables.isEmpty && prefixes.isEmpty {
            throw ConfigurationError(code: .missingKey, path: outbox.path("tables"),
                                     message: "the outbox section routes nothing: name the outbox tables (`tables: [public.outboxevent]`) or the prefixes of outbox messages written with pg_logical_emit_message (`message_prefixes: [outbox]`)")
        }
        func name(_ key: String, _ defaultValue: String?) throws(ConfigurationError) -> String? {
            let path = outbox.path(key)
            guard let value = try scalar(outbox[key], path: path, expected: "a column name") else { return defaultValue }
            guard !value.text.isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: path, message: "must not be empty; expected a column name")
            }
            return value.text
        }
        let regexPath = outbox.path("route.topic.regex")
        let regex = try name("route.topic.regex", defaults.routeTopicRegex)!
        let groups: OutboxTopicPattern.Groups
        switch OutboxTopicPattern.groups(of: regex) {
        case .success(let found): groups = found
        case .failure(let problem):
            throw ConfigurationError(code: .invalidValue, path: regexPath,
                                     message: "\(SecretValue.quoted(regex, secret: false)) is not a valid regular expression (\(problem.reason)); e.g. `(?<routedByValue>.*)`")
        }
        let replacementPath = outbox.path("route.topic.replacement")
        let replacement = try name("route.topic.replacement", defaults.routeTopicReplacement)!
        if let problem = OutboxTopicPattern.replacementProblem(replacement, groups: groups) {
            throw ConfigurationError(code: .invalidValue, path: replacementPath,
                                     message: "\(SecretValue.quoted(replacement, secret: false)): \(problem); e.g. `outbox.event.${routedByValue}`")
        }
        let additional = try readAdditionalFields(outbox)
        let additionalColumns = Set(additional.map(\.column))
        if additional.filter({ $0.placement == .partition }).count > 1 {
            throw ConfigurationError(code: .invalidValue, path: outbox.path("table.fields.additional.placement"),
                                     message: "more than one column has the placement `partition`; a record has one partition")
        }
        _ = additionalColumns
        let envelopeFields = additional.filter { $0.placement == .envelope }
        if !prefixes.isEmpty && schemas, let field = envelopeFields.first {
            throw ConfigurationError(code: .invalidValue, path: outbox.path("table.fields.additional.placement"),
                                     message: "`\(field.column):envelope` with outbox messages and \(schemasOption) is not supported: the value struct would need a schema made from each message. Place the field in a header (`\(field.column):header`), or route an outbox table instead")
        }
        if !prefixes.isEmpty, outbox["table.field.event.timestamp"] != nil {
            throw ConfigurationError(code: .invalidValue, path: outbox.path("table.field.event.timestamp"),
                                     message: "a message's members have no timestamp type, so Debezium's router cannot take the Kafka timestamp from one (it fails every message); remove the key or the message_prefixes")
        }
        let expand = try boolean(outbox, "table.expand.json.payload", default: defaults.expandJSONPayload)
        if expand && schemas, let field = envelopeFields.first {
            // EventRouter's value struct keeps the payload column's schema (a string) for its `payload`
            // field, so putting the expanded struct there fails every record in Debezium.
            throw ConfigurationError(code: .invalidValue, path: outbox.path("table.expand.json.payload"),
                                     message: "an expanded payload cannot go in a value struct with \(schemasOption) (`\(field.column):envelope`): Debezium's router keeps the payload column's string schema there and fails every record. Place the field in a header (`\(field.column):header`), or send the payload as it is (table.expand.json.payload: false)")
        }
        _ = try name("table.field.event.type", nil)  // accepted as Debezium accepts it; its EventRouter for SQL tables does not use it
        return SwallowConfiguration.Outbox(
            tables: tables, messagePrefixes: prefixes,
            routeByField: try name("route.by.field", defaults.routeByField)!,
            routeTopicRegex: regex, routeTopicReplacement: replacement,
            tombstoneOnEmptyPayload: try boolean(outbox, "route.tombstone.on.empty.payload", default: defaults.tombstoneOnEmptyPayload),
            eventIDField: try name("table.field.event.id", defaults.eventIDField)!,
            eventKeyField: try name("table.field.event.key", defaults.eventKeyField)!,
            payloadField: try name("table.field.event.payload", defaults.payloadField)!,
            timestampField: try name("table.field.event.timestamp", nil),
            schemaVersionField: try name("table.field.event.schema.version", nil),
            expandJSONPayload: expand,
            jsonNullBehavior: try enumeration(outbox, "table.json.payload.null.behavior", default: defaults.jsonNullBehavior),
            additionalFields: additional,
            missingFieldBehavior: try enumeration(outbox, "table.field.additional.missing", default: defaults.missingFieldBehavior),
            invalidOperationBehavior: try enumeration(outbox, "table.op.invalid.behavior", default: defaults.invalidOperationBehavior))
    }

    /// `table.fields.additional.placement`: `column:placement[:alias]` entries separated by commas, as
    /// Debezium reads them (`type:header:eventType,tenant:envelope,shard:partition`).
    func readAdditionalFields(_ outbox: Section) throws(ConfigurationError) -> [SwallowConfiguration.Outbox.AdditionalField] {
        let path = outbox.path("table.fields.additional.placement")
        let expected = "comma-separated `column:placement[:alias]` entries, placement header, envelope or partition (e.g. `type:header:eventType,tenant:envelope`)"
        guard let value = try scalar(outbox["table.fields.additional.placement"], path: path, expected: expected) else { return [] }
        var fields: [SwallowConfiguration.Outbox.AdditionalField] = []
        for entry in value.text.split(separator: ",") {
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, parts.count == 2 || !parts[2].isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: path, message: "`\(entry)` is not `column:placement[:alias]`; expected \(expected)")
            }
            guard let placement = SwallowConfiguration.Outbox.Placement(rawValue: parts[1].lowercased()) else {
                throw ConfigurationError(code: .invalidValue, path: path,
                                         message: "`\(entry)`: unknown placement `\(parts[1])`; expected header, envelope or partition")
            }
            fields.append(.init(column: parts[0], placement: placement, alias: parts.count == 3 ? parts[2] : nil))
        }
        return fields
    }

    /// A YAML sequence of non-empty strings; empty when absent.
    func readStringList(_ section: Section, _ key: String, expected: String) throws(ConfigurationError) -> [String] {
        let path = section.path(key)
        guard let node = section[key], !Self.isNull(node) else { return [] }
        guard case .sequence(let sequence) = node else { throw wrongType(path: path, expected: expected, found: node, secret: false) }
        var items: [String] = []
        for (index, item) in sequence.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let value = try scalar(item, path: itemPath, expected: expected), !value.text.isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: itemPath, message: "expected \(expected), got an empty value")
            }
            items.append(value.text)
        }
        return items
    }
}
