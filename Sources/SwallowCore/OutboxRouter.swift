import ChangeEvent
import PGOutput
import Synchronization
import SwallowConfig

/// Debezium's outbox event router (`io.debezium.transforms.outbox.EventRouter`, configured by the
/// `outbox` section) applied while encoding: for a row of an outbox table it writes the routed record
/// directly from the row's column values, never from an encoded change event.
///
/// What a row becomes (Debezium 3.6's EventRouterDelegate):
/// - `c` (and snapshot `r`): one record on the topic made from the `route.by.field` value through
///   `route.topic.regex` / `route.topic.replacement`; key the `table.field.event.key` column; value the
///   `table.field.event.payload` column (a jsonb payload as its text in a JSON string, or expanded with
///   `table.expand.json.payload`), or, when an additional field is placed in the `envelope`, the struct
///   `{"payload":…,"<alias>":…}`; headers: the row's context headers, `id` (`table.field.event.id`), then
///   the additional `header` fields; the Kafka partition from a `partition` field; the Kafka timestamp
///   from `table.field.event.timestamp` (else the event time). An empty payload (null, or blank text)
///   with `route.tombstone.on.empty.payload` is a tombstone.
/// - `u`: nothing, as `table.op.invalid.behavior` says (a warning, an error line, or a stop).
/// - `d` and its tombstone, truncates: nothing (Debezium drops deletes; truncates of outbox tables are
///   not events).
public struct OutboxRouter: Sendable {
    public let settings: SwallowConfiguration.Outbox
    private let tables: Set<QualifiedTableName>
    private let topicPattern: OutboxTopicPattern
    private let encoder: ChangeEventEncoder
    /// Plans of the outbox relations, by OID, made when their Relation message arrives.
    private var plans: [UInt32: OutboxTablePlan] = [:]
    private let caches = Caches()

    /// What the router remembers across rows, shared by the stream and snapshot readers (which use the
    /// router from several threads without mutating it).
    final class Caches: Sendable {
        /// Topic per routed value: the values are few (aggregate types), the regex runs once each.
        let topics = Mutex<[String: String]>([:])
        /// The value struct's schema name per payload schema: Debezium caches the struct schema by the
        /// payload's schema, so the name made from the first routed value it saw stays for every later
        /// record with that payload schema (`app.public.outboxevent.order.Value` for customer events too).
        let envelopeSchemas = Mutex<[[UInt8]: [UInt8]]>([:])
        let versionedSchemas = Mutex<[Int: [UInt8]]>([:])
    }

    public init?(settings: SwallowConfiguration.Outbox?, encoder: ChangeEventEncoder) {
        guard let settings, let pattern = OutboxTopicPattern(regex: settings.routeTopicRegex, replacement: settings.routeTopicReplacement) else {
            return nil
        }
        self.settings = settings
        self.tables = Set(settings.tables.map { QualifiedTableName(schema: $0.schema, table: $0.table) })
        self.topicPattern = pattern
        self.encoder = encoder
    }

    /// Whether logical decoding messages with `prefix` are outbox events (`message_prefixes`).
    public func routesMessages(withPrefix prefix: String) -> Bool { settings.messagePrefixes.contains(prefix) }

    /// Routes a logical decoding message of an outbox prefix, as Debezium's
    /// DecodeLogicalDecodingMessageContent and EventRouter do: the message's JSON content is the event
    /// (`{"id":…,"aggregatetype":…,"aggregateid":…,"payload":…}`), its members the columns. Content
    /// Debezium cannot route stops Swallow, naming the prefix, as it fails Debezium's connector.
    public func routeMessage(prefix: String, content: ArraySlice<UInt8>, eventTimeMillis: Int64) throws(PipelineError) -> OutgoingRecord {
        func failure(_ what: String) -> PipelineError {
            PipelineError(code: .eventEncoding,
                          message: "a logical decoding message with prefix '\(prefix)' (outbox.message_prefixes) cannot be routed: \(what). Outbox messages must be JSON objects with the configured members; fix the writer, or take the prefix out of outbox.message_prefixes",
                          isRetriable: false)
        }
        guard let event = DecodedMessageContent(content, keepNulls: false) else {
            throw failure("its content is not a JSON object whose members Debezium can type")
        }
        guard let routed = event.string(settings.routeByField) else {
            throw failure("it has no string member \(settings.routeByField) (outbox.route.by.field)")
        }
        // With schemas, each member carries the schema JsonSchemaData inferred for it (named by its path).
        let withSchemas = encoder.options.includeSchemas
        func member(_ name: String) -> [UInt8]? { withSchemas ? event.jsonWithSchema(name) : event.json(name) }
        guard let id = member(settings.eventIDField) else { throw failure("it has no member \(settings.eventIDField) (outbox.table.field.event.id)") }
        guard let key = member(settings.eventKeyField) else { throw failure("it has no member \(settings.eventKeyField) (outbox.table.field.event.key)") }
        guard event.hasField(settings.payloadField), var payload = member(settings.payloadField) else {
            throw failure("it has no member \(settings.payloadField) (outbox.table.field.event.payload)")
        }
        let payloadText = event.stringBytes(settings.payloadField)
        if settings.expandJSONPayload, let payloadText, let expanded = expand(payloadText[...]) {
            payload = expanded
        }
        var headers = [RecordHeader(key: "id", value: id)]
        var envelope: [(String, [UInt8])] = []
        var partition: Int32?
        for field in settings.additionalFields {
            guard event.hasField(field.column) else {
                if settings.missingFieldBehavior == .ignore { continue }
                throw failure("it has no member \(field.column) (outbox.table.fields.additional.placement)")
            }
            switch field.placement {
            case .header: headers.append(RecordHeader(key: field.alias, value: member(field.column)))
            case .envelope: envelope.append((field.alias, event.json(field.column) ?? Array("null".utf8)))
            case .partition:
                guard let number = event.int32(field.column), number >= 0 else {
                    throw failure("its member \(field.column) is not a partition number (outbox.table.fields.additional.placement)")
                }
                partition = number
            }
        }
        let topic = caches.topics.withLock { topics in
            if let known = topics[routed] { return known }
            let made = topicPattern.topic(for: routed)
            if topics.count < 10_000 { topics[routed] = made }
            return made
        }
        var value: [UInt8]? = payload
        if settings.tombstoneOnEmptyPayload, let payloadText, payloadText.allSatisfy({ $0 <= 0x20 }) {
            value = nil
        } else if !envelope.isEmpty {
            var out: [UInt8] = Array(#"{"payload":"#.utf8) + payload
            for (name, json) in envelope {
                out.append(UInt8(ascii: ","))
                out += encoder.encodeStringHeader(name)   // a JSON string: envelope placement takes no schemas here (configuration)
                out.append(UInt8(ascii: ":"))
                out += json
            }
            out.append(UInt8(ascii: "}"))
            value = out
        }
        var record = OutgoingRecord(topic: topic, key: key, value: value, headers: headers, kind: .logicalMessage)
        record.partition = partition
        record.timestamp = eventTimeMillis
        return record
    }

    /// `table.expand.json.payload`: the payload's JSON as Debezium expands it (with its inferred schema,
    /// named after the payload field, with `envelope.schemas`); nil when Debezium leaves it as it is.
    private func expand(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let keepNulls = settings.jsonNullBehavior == .optionalBytes
        if encoder.options.includeSchemas {
            return ExpandedJSONPayload.expandWithSchema(text, keepNulls: keepNulls, name: settings.payloadField)
        }
        return ExpandedJSONPayload.expand(text, keepNulls: keepNulls)
    }

    /// Whether `table` is an outbox table.
    public func routes(_ table: QualifiedTableName) -> Bool { tables.contains(table) }

    /// Takes a (captured) relation's new shape: an outbox table's columns are checked against the
    /// configuration, which throws naming the key when one is missing or of the wrong type.
    public mutating func describe(relationID: UInt32, table: TableSchema) throws(PipelineError) {
        guard routes(QualifiedTableName(schema: table.schema, table: table.table)) else {
            plans[relationID] = nil
            return
        }
        plans[relationID] = try OutboxTablePlan(table: table, settings: settings)
    }

    /// The plan of relation `relationID` when it is an outbox table.
    public func plan(of relationID: UInt32) -> OutboxTablePlan? { plans.isEmpty ? nil : plans[relationID] }

    /// Routes an inserted (or snapshot) row of an outbox table.
    public func route(_ plan: OutboxTablePlan, row: [ColumnValue], headers: [RecordHeader], relationID: UInt32,
                      operation: ChangeEvent.Operation, eventTimeMillis: Int64) throws(PipelineError) -> OutgoingRecord {
        let table = plan.table
        guard row.count == table.columns.count else {
            throw PipelineError(code: .protocolViolation, message: "an outbox row of \(plan.name) has \(row.count) columns, the table \(table.columns.count)", isRetriable: false)
        }
        do {
            // The topic: the routed value through the regex (once per distinct value).
            guard case .text(let routedText) = row[plan.routeBy] else {
                throw PipelineError(code: .eventEncoding,
                                    message: "an outbox event of \(plan.name) has no \(settings.routeByField) (outbox.route.by.field): its topic cannot be named. Give every outbox row a value there",
                                    isRetriable: false)
            }
            let routed = String(decoding: routedText, as: UTF8.self)
            let topic = caches.topics.withLock { topics in
                if let known = topics[routed] { return known }
                let made = topicPattern.topic(for: routed)
                if topics.count < 10_000 { topics[routed] = made }
                return made
            }

            let key = try encoder.encodeColumn(table: table, index: plan.key, value: row[plan.key])
            var recordHeaders = headers
            recordHeaders.reserveCapacity(headers.count + 1 + plan.headerFields.count)
            recordHeaders.append(RecordHeader(key: "id", value: try encoder.encodeColumn(table: table, index: plan.id, value: row[plan.id])))
            for field in plan.headerFields {
                recordHeaders.append(RecordHeader(key: field.name, value: try encoder.encodeColumn(table: table, index: field.index, value: row[field.index])))
            }

            let payload = row[plan.payload]
            var value: [UInt8]?
            if settings.tombstoneOnEmptyPayload && Self.isEmpty(payload) {
                value = nil
            } else {
                let expanded = settings.expandJSONPayload ? payload.text.flatMap { expand($0) } : nil
                if plan.envelopeFields.isEmpty {
                    value = try expanded ?? encoder.encodeColumn(table: table, index: plan.payload, value: payload)
                } else {
                    let schema = encoder.options.includeSchemas ? try envelopeSchema(plan, row: row, routed: routed) : nil
                    value = try encoder.encodeOutboxEnvelope(table: table, row: row, payloadIndex: plan.payload, expandedPayload: expanded,
                                                             fields: plan.envelopeFields, schema: schema)
                }
            }

            var record = OutgoingRecord(topic: topic, key: key, value: value, headers: recordHeaders,
                                        kind: value == nil ? .tombstone(relationID: relationID) : .change(relationID: relationID, operation: operation))
            if let partition = plan.partition, let number = try integer(plan, partition, row) {
                guard let partitionNumber = Int32(exactly: number), partitionNumber >= 0 else {
                    throw PipelineError(code: .eventEncoding,
                                        message: "an outbox event of \(plan.name) names partition \(number) (column \(table.columns[partition].name), outbox.table.fields.additional.placement): not a partition number",
                                        isRetriable: false)
                }
                record.partition = partitionNumber
            }
            record.timestamp = eventTimeMillis
            if let timestamp = plan.timestamp, let number = try integer(plan, timestamp.index, row) {
                record.timestamp = timestamp.micro ? Self.floorDivide(number, 1000) : number
            }
            return record
        } catch let error as ChangeEventError {
            throw .encoding(error)
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(code: .eventEncoding, message: "\(error)", isRetriable: false)
        }
    }

    /// What an update of an outbox row becomes: nothing, as `table.op.invalid.behavior` says.
    public func update(_ plan: OutboxTablePlan) throws(PipelineError) -> StreamAction {
        let reason = "an update of outbox table \(plan.name) was not routed (outbox events are inserts; outbox.table.op.invalid.behavior: \(settings.invalidOperationBehavior.rawValue))"
        switch settings.invalidOperationBehavior {
        case .warn: return .skipped(reason: reason, isError: false)
        case .error: return .skipped(reason: reason, isError: true)
        case .fatal:
            throw PipelineError(code: .eventEncoding,
                                message: "an outbox row of \(plan.name) was updated, and outbox.table.op.invalid.behavior is fatal: outbox rows must only be inserted (and deleted). Fix the writer, or set table.op.invalid.behavior: warn to skip updates",
                                isRetriable: false)
        }
    }

    /// Debezium's test: the payload is null or its text trims (Java's `String.trim`) to nothing.
    static func isEmpty(_ value: ColumnValue) -> Bool {
        switch value {
        case .null: return true
        case .unchangedToast: return false
        case .text(let bytes): return bytes.allSatisfy { $0 <= 0x20 }
        }
    }

    private func integer(_ plan: OutboxTablePlan, _ index: Int, _ row: [ColumnValue]) throws -> Int64? {
        guard case .text = row[index] else { return nil }
        let json = try encoder.encodeColumnJSON(table: plan.table, index: index, value: row[index])
        return Int64(String(decoding: json, as: UTF8.self))
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// The value struct's schema (see `Caches.envelopeSchemas`).
    private func envelopeSchema(_ plan: OutboxTablePlan, row: [ColumnValue], routed: String) throws(PipelineError) -> [UInt8] {
        let name = "\(plan.valueSchemaNamePrefix)\(routed).Value"
        if let versionIndex = plan.schemaVersion {
            let version: Int64?
            do { version = try integer(plan, versionIndex, row) } catch { version = nil }
            guard let version, let small = Int(exactly: version) else {
                throw PipelineError(code: .eventEncoding, message: "an outbox event of \(plan.name) has no schema version (outbox.table.field.event.schema.version)", isRetriable: false)
            }
            return caches.versionedSchemas.withLock { schemas in
                if let known = schemas[small] { return known }
                let made = encoder.outboxEnvelopeSchema(table: plan.table, payloadIndex: plan.payload, fields: plan.envelopeFields, name: name, version: small)
                schemas[small] = made
                return made
            }
        }
        return caches.envelopeSchemas.withLock { schemas in
            if let known = schemas[plan.payloadSchema] { return known }
            let made = encoder.outboxEnvelopeSchema(table: plan.table, payloadIndex: plan.payload, fields: plan.envelopeFields, name: name, version: nil)
            if schemas.count < 10_000 { schemas[plan.payloadSchema] = made }
            return made
        }
    }
}

/// An outbox table's columns as the router uses them, resolved (and checked) once per Relation message.
public struct OutboxTablePlan: Sendable {
    public let table: TableSchema
    /// `schema.table`, for messages.
    public let name: String
    let routeBy: Int
    let id: Int
    let key: Int
    let payload: Int
    let payloadSchema: [UInt8]
    let timestamp: (index: Int, micro: Bool)?
    let schemaVersion: Int?
    let headerFields: [(name: String, index: Int)]
    let envelopeFields: [(name: String, index: Int)]
    let partition: Int?
    /// `<prefix>.<schema>.<table>.`: Debezium names the value struct after the row's schema name with
    /// the routed value before its last part.
    let valueSchemaNamePrefix: String

    init(table: TableSchema, settings: SwallowConfiguration.Outbox) throws(PipelineError) {
        self.table = table
        name = "\(table.schema).\(table.table)"
        let name = self.name
        func column(_ column: String, _ key: String) throws(PipelineError) -> Int {
            guard let index = table.columnIndex(named: column) else {
                throw PipelineError(code: .configuration,
                                    message: "outbox.\(key): the outbox table \(name) has no column \(column) (its columns: \(table.columns.map(\.name).joined(separator: ", "))); add the column or set outbox.\(key) to the column that holds it",
                                    isRetriable: false)
            }
            return index
        }
        func wrongType(_ index: Int, _ key: String, _ expected: String) -> PipelineError {
            PipelineError(code: .configuration,
                          message: "outbox.\(key): column \(table.columns[index].name) of the outbox table \(name) is \(table.typeName(at: index)), but \(expected)",
                          isRetriable: false)
        }
        routeBy = try column(settings.routeByField, "route.by.field")
        guard table.outboxColumnType(at: routeBy) == .string else {
            throw wrongType(routeBy, "route.by.field", "the topic is made from its value, so it must be a text column (text, varchar)")
        }
        id = try column(settings.eventIDField, "table.field.event.id")
        key = try column(settings.eventKeyField, "table.field.event.key")
        payload = try column(settings.payloadField, "table.field.event.payload")
        payloadSchema = table.connectSchemaJSON(at: payload)
        if let field = settings.timestampField {
            let index = try column(field, "table.field.event.timestamp")
            guard case .timestamp(let micro) = table.outboxColumnType(at: index) else {
                throw wrongType(index, "table.field.event.timestamp", "the Kafka timestamp is taken from a timestamp (without time zone) column, as in Debezium (io.debezium.time.Timestamp or MicroTimestamp)")
            }
            timestamp = (index, micro)
        } else {
            timestamp = nil
        }
        if let field = settings.schemaVersionField {
            let index = try column(field, "table.field.event.schema.version")
            guard table.outboxColumnType(at: index) == .int32 else {
                throw wrongType(index, "table.field.event.schema.version", "a schema version must be an integer (int4) column")
            }
            schemaVersion = index
        } else {
            schemaVersion = nil
        }
        var headers: [(String, Int)] = [], envelope: [(String, Int)] = [], partition: Int?
        for field in settings.additionalFields {
            guard let index = table.columnIndex(named: field.column) else {
                if settings.missingFieldBehavior == .ignore { continue }
                _ = try column(field.column, "table.fields.additional.placement")
                continue
            }
            switch field.placement {
            case .header: headers.append((field.alias, index))
            case .envelope: envelope.append((field.alias, index))
            case .partition:
                guard table.outboxColumnType(at: index) == .int32 else {
                    throw wrongType(index, "table.fields.additional.placement", "a partition placement needs an integer (int4) column holding the partition number")
                }
                partition = index
            }
        }
        headerFields = headers
        envelopeFields = envelope
        self.partition = partition
        let base = TopicName.ofTable(schema: table.schema, table: table.table, prefix: table.options.schemaNamePrefix).name
        valueSchemaNamePrefix = base + "."
    }
}
