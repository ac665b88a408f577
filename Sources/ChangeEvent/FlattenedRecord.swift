// Flattened records: what Debezium's ExtractNewRecordState SMT (io.debezium.transforms, 3.6) makes of a
// change event, written directly while encoding (the envelope is never built and read back). Options
// under the SMT's names, Swallow's `flatten` section:
//
//   delete.tombstone.handling.mode  tombstone (default): a delete becomes a record with a null value (with
//                                   schemas `{"schema":<row schema>,"payload":null}`), the tombstone after it
//                                   is dropped; drop: both dropped; rewrite: a delete becomes its `before`
//                                   row with "__deleted":"true" (other rows get "__deleted":"false"), the
//                                   tombstone dropped; rewrite-with-tombstone: rewrite, the tombstone kept;
//                                   delete-to-tombstone: a delete becomes a tombstone (null value, no schema).
//   add.fields, add.fields.prefix   fields of the envelope added to the row: `op`, `ts_ms`, `ts_us`,
//                                   `ts_ns`, `source.<f>` (or just `<f>`), `transaction.<f>` (`id`,
//                                   `total_order`, `data_collection_order` alone also mean the transaction's);
//                                   named prefix + field (prefix + struct_field when qualified), or
//                                   prefix + new name with `field:name`. Prefix `__` by default.
//   add.headers, add.headers.prefix the same as headers (the tombstone that a mode keeps gets `op` only, "d").
//   route.by.field                  the record's topic is the value of this row column (the `before` row's
//                                   for deletes) when it is not null or blank.
//
// Truncate events are dropped; records other than row changes (logical messages, heartbeats, transaction
// metadata) pass unchanged, as the SMT passes records whose value is not a change event envelope. Keys are
// unchanged. Schemas: the row's `<topic>.Value` struct, made required when fields are inserted (Kafka's
// SchemaUtil.copySchemaBasics copies no optionality), each added field an optional copy of the envelope
// field's schema (without its default).

/// The `flatten` section: ExtractNewRecordState's options.
public struct FlattenOptions: Sendable, Equatable {
    /// `delete.tombstone.handling.mode` (Debezium 2.5+, which replaced `delete.handling.mode` and
    /// `drop.tombstones`).
    public enum DeleteTombstoneHandling: String, Sendable, CaseIterable {
        case drop, tombstone, rewrite
        case rewriteWithTombstone = "rewrite-with-tombstone"
        case deleteToTombstone = "delete-to-tombstone"

        var rewrites: Bool { self == .rewrite || self == .rewriteWithTombstone }
    }

    public var deleteTombstoneHandling: DeleteTombstoneHandling
    /// `add.fields`, already named with `add.fields.prefix`.
    public var addFields: [FlattenField]
    /// `add.headers`, already named with `add.headers.prefix`.
    public var addHeaders: [FlattenField]
    /// `route.by.field`: nil when not set (or empty).
    public var routeByField: String?

    public init(deleteTombstoneHandling: DeleteTombstoneHandling = .tombstone, addFields: [FlattenField] = [],
                addHeaders: [FlattenField] = [], routeByField: String? = nil) {
        self.deleteTombstoneHandling = deleteTombstoneHandling
        self.addFields = addFields
        self.addHeaders = addHeaders
        self.routeByField = routeByField
    }
}

/// One entry of `add.fields` or `add.headers` (the SMT's FieldReference).
public struct FlattenField: Sendable, Equatable {
    /// Where the value comes from in the change event envelope.
    public enum Origin: Sendable, Equatable {
        case op, tsMs, tsUs, tsNs
        case source(SourceField)
        case transaction(TransactionField)
    }

    /// The fields of `io.debezium.connector.postgresql.Source`.
    public enum SourceField: String, Sendable, CaseIterable {
        case version, connector, name
        case tsMs = "ts_ms"
        case snapshot, db, sequence
        case tsUs = "ts_us"
        case tsNs = "ts_ns"
        case schema, table, txId, lsn, xmin, origin
        case originLSN = "origin_lsn"
    }

    /// The fields of the `transaction` block (`event.block`).
    public enum TransactionField: String, Sendable, CaseIterable {
        case id
        case totalOrder = "total_order"
        case dataCollectionOrder = "data_collection_order"
    }

    public var origin: Origin
    /// The field's (or header's) name in the record, prefix included.
    public var name: String

    public init(origin: Origin, name: String) {
        self.origin = origin
        self.name = name
    }

    public struct ParseError: Error, Equatable {
        public var message: String
    }

    /// One list entry, `field`, `struct.field` or either with `:newName`, named as FieldReference names it.
    /// Unlike the SMT, which leaves out a field the envelope does not have, a field Swallow's envelope does
    /// not have is an error (a typo would otherwise go unnoticed).
    public static func parse(_ entry: String, prefix: String) throws(ParseError) -> FlattenField {
        let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2, !parts[0].isEmpty, parts.count == 1 || !parts[1].isEmpty else {
            throw ParseError(message: "`\(entry)` is not `field`, `struct.field`, `field:name` or `struct.field:name`")
        }
        let splits = parts[0].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard splits.count <= 2, splits.allSatisfy({ !$0.isEmpty }) else {
            throw ParseError(message: "`\(entry)` names a field of a struct as `struct.field` (source or transaction)")
        }
        let field = splits.count == 1 ? splits[0] : splits[1]
        let structure: String? = splits.count == 1 ? defaultStruct(of: field) : splits[0]
        let origin: Origin
        switch structure {
        case nil:
            origin = try topLevel(field, entry)
        case "source":
            if let known = SourceField(rawValue: field) {
                origin = .source(known)
            } else {
                // FieldReference falls back to a top-level field of that name.
                origin = try topLevel(field, entry)
            }
        case "transaction":
            if let known = TransactionField(rawValue: field) {
                origin = .transaction(known)
            } else {
                origin = try topLevel(field, entry)
            }
        default:
            throw ParseError(message: "`\(entry)`: the change event has no struct `\(structure!)` (source or transaction)")
        }
        let name: String
        if parts.count == 2 {
            name = prefix + parts[1]
        } else {
            name = prefix + (splits.count == 1 ? field : "\(structure!)_\(field)")
        }
        return FlattenField(origin: origin, name: name)
    }

    /// FieldReference.determineStruct: transaction fields, top-level fields, else the source's.
    private static func defaultStruct(of field: String) -> String? {
        switch field {
        case "id", "data_collection_order", "total_order": "transaction"
        case "op", "ts_ms", "ts_us", "ts_ns": nil
        default: "source"
        }
    }

    private static func topLevel(_ field: String, _ entry: String) throws(ParseError) -> Origin {
        switch field {
        case "op": return .op
        case "ts_ms": return .tsMs
        case "ts_us": return .tsUs
        case "ts_ns": return .tsNs
        default:
            let known = ["op", "ts_ms", "ts_us", "ts_ns"] + SourceField.allCases.map { "source.\($0.rawValue)" }
                + TransactionField.allCases.map { "transaction.\($0.rawValue)" }
            throw ParseError(message: "`\(entry)`: the change event has no such field; known: \(known.joined(separator: ", "))")
        }
    }

    /// The field's Connect schema: an optional copy of the envelope field's (SchemaUtil.copySchemaBasics
    /// then optional(): no default).
    var connectSchema: ConnectFieldSchema {
        switch origin {
        case .op: return ConnectFieldSchema(type: "string")
        case .tsMs, .tsUs, .tsNs: return ConnectFieldSchema(type: "int64")
        case .source(let field):
            switch field {
            case .tsMs, .tsUs, .tsNs, .txId, .lsn, .xmin, .originLSN: return ConnectFieldSchema(type: "int64")
            case .snapshot:
                return ConnectFieldSchema(type: "string", name: "io.debezium.data.Enum", version: 1,
                                          parameters: [("allowed", "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental")])
            default: return ConnectFieldSchema(type: "string")
            }
        case .transaction(let field):
            return field == .id ? ConnectFieldSchema(type: "string") : ConnectFieldSchema(type: "int64")
        }
    }
}

/// A change event after the SMT: its value (nil: a tombstone), the topic `route.by.field` chose (nil: the
/// table's) and the headers `add.headers` adds (after the record's own).
public struct FlattenedRecord: Sendable, Equatable {
    public var value: [UInt8]?
    public var topic: String?
    public var headers: [FlattenedHeader]
}

public struct FlattenedHeader: Sendable, Equatable {
    public var key: String
    /// nil: a null header value.
    public var value: [UInt8]?
}

/// What one row change's flattened value is made from.
struct FlattenedEventContext {
    let op: Operation
    let table: TableSchema
    let source: SourceInfo
    let eventTimeMillis: Int64
}

/// Per table, what the flattened records need, computed with the table's plan.
struct FlattenedTablePlan: Sendable {
    /// With schemas: the flattened value's schema (row fields, `__deleted`, added fields).
    let valueSchema: [UInt8]?
    /// With schemas: the row schema alone, optional (a tombstone-mode delete's schema).
    let rowSchema: [UInt8]?
    /// `route.by.field`: the routing column's index (a text column of the value), nil when not routing.
    let routeColumn: Int?
    /// A routing column the table lacks (or that is not text): the error to report for its events.
    let routeProblem: String?

    init(table: TableSchema, flatten: FlattenOptions, rowFields: [[UInt8]], base: String, schemas: Bool) {
        if schemas {
            var fields = rowFields
            if flatten.deleteTombstoneHandling.rewrites {
                fields.append(ConnectFieldSchema.field("string", "__deleted", optional: true))
            }
            for field in flatten.addFields { fields.append(field.connectSchema.field(named: field.name, optional: true)) }
            let inserts = flatten.deleteTombstoneHandling.rewrites || !flatten.addFields.isEmpty
            let row = ConnectFieldSchema.structure(fields: rowFields, name: "\(base).Value")
            valueSchema = ConnectFieldSchema.structure(fields: fields, name: "\(base).Value").json(optional: !inserts)
            rowSchema = row.json(optional: true)
        } else {
            valueSchema = nil
            rowSchema = nil
        }
        if let field = flatten.routeByField {
            let index = table.valueColumnIndexes.first { table.columns[$0].name == field }
            if let index, table.kinds[index] == .string {
                routeColumn = index
                routeProblem = nil
            } else {
                routeColumn = nil
                routeProblem = index == nil
                    ? "flatten.route.by.field names `\(field)`, which this table's events do not have (the SMT would fail on them)"
                    : "flatten.route.by.field names `\(field)`, whose values are not text (the SMT reads it as a string)"
            }
        } else {
            routeColumn = nil
            routeProblem = nil
        }
    }
}

extension ChangeEventEncoder {
    /// A row change (c, u, d, r) as ExtractNewRecordState leaves it; nil when the SMT drops it.
    public func encodeFlattenedChange(op: Operation, table: TableSchema, before: [ColumnValue]?, after: [ColumnValue]?,
                                      source: SourceInfo, eventTimeMillis: Int64) throws(ChangeEventError) -> FlattenedRecord? {
        guard let flatten = options.flatten, let plan = table.flattenedPlan else {
            throw ChangeEventError(code: .unsupportedOperation, schema: table.schema, table: table.table, column: "",
                                   typeName: "", reason: "flattened records without a flatten configuration")
        }
        if let problem = plan.routeProblem {
            throw ChangeEventError(code: .routeFieldNotApplicable, schema: table.schema, table: table.table,
                                   column: flatten.routeByField ?? "", typeName: "", reason: problem)
        }
        let context = FlattenedEventContext(op: op, table: table, source: source, eventTimeMillis: eventTimeMillis)
        let headers = flattenedHeaders(flatten, context)
        let isDelete = op == .delete
        let row: [ColumnValue]
        switch (isDelete, flatten.deleteTombstoneHandling) {
        case (true, .drop):
            return nil
        case (true, .deleteToTombstone):
            return FlattenedRecord(value: nil, topic: try routedTopic(plan, table, before), headers: headers)
        case (true, .tombstone):
            // ExtractField keeps the `after` field's schema with a null value.
            let value: [UInt8]? = plan.rowSchema.map { schema in
                var out = JSONOutput(capacity: schema.count + 32)
                JSON.appendASCII(&out, "{\"schema\":")
                out.append(contentsOf: schema)
                JSON.appendASCII(&out, ",\"payload\":null}")
                return out.bytes()
            }
            return FlattenedRecord(value: value, topic: try routedTopic(plan, table, before), headers: headers)
        case (true, _):
            guard let before else { return nil }
            row = before
        case (false, _):
            guard let after else { return nil }
            row = after
        }
        let value = try record(schema: plan.valueSchema, capacity: row.count * 24 + 256) { out throws(ChangeEventError) in
            out.append(Ascii.openBrace)
            try appendRowFields(&out, table: table, row: row)
            var hasFields = !table.valueColumnIndexes.isEmpty
            if flatten.deleteTombstoneHandling.rewrites {
                JSON.appendASCII(&out, hasFields ? ",\"__deleted\":\"" : "\"__deleted\":\"")
                JSON.appendASCII(&out, isDelete ? "true\"" : "false\"")
                hasFields = true
            }
            for field in flatten.addFields {
                if hasFields { out.append(Ascii.comma) }
                hasFields = true
                JSON.appendString(&out, field.name)
                out.append(Ascii.colon)
                appendFlattenedFieldValue(&out, field.origin, context)
            }
            out.append(Ascii.closeBrace)
        }
        return FlattenedRecord(value: value, topic: try routedTopic(plan, table, row), headers: headers)
    }

    /// The headers of the tombstone that follows a delete, when the SMT keeps it (rewrite-with-tombstone):
    /// `add.headers`' `op` only, as "d" (a required string); nil when the SMT drops it.
    public func flattenedTombstoneHeaders() -> [FlattenedHeader]? {
        guard let flatten = options.flatten, flatten.deleteTombstoneHandling == .rewriteWithTombstone else { return nil }
        return flatten.addHeaders.compactMap { field in
            guard field.origin == .op else { return nil }
            return FlattenedHeader(key: field.name, value: record(schema: options.includeSchemas ? ConnectSchemas.requiredString : nil,
                                                                  capacity: 8) { out in JSON.appendString(&out, "d") })
        }
    }

    private func flattenedHeaders(_ flatten: FlattenOptions, _ context: FlattenedEventContext) -> [FlattenedHeader] {
        flatten.addHeaders.map { field in
            if !options.includeSchemas && isNullValue(field.origin, context) {
                return FlattenedHeader(key: field.name, value: nil)
            }
            let schema = options.includeSchemas ? field.connectSchema.json(optional: true) : nil
            return FlattenedHeader(key: field.name, value: record(schema: schema, capacity: 48) { out in
                appendFlattenedFieldValue(&out, field.origin, context)
            })
        }
    }

    /// The topic `route.by.field` chooses from `row`: the column's text, when not null or blank.
    private func routedTopic(_ plan: FlattenedTablePlan, _ table: TableSchema, _ row: [ColumnValue]?) throws(ChangeEventError) -> String? {
        guard let index = plan.routeColumn, let row, index < row.count else { return nil }
        let text: String
        switch row[index] {
        case .null: return nil
        case .unchangedToast: text = options.toastPlaceholder
        case .text(let bytes): text = String(decoding: bytes, as: UTF8.self)
        }
        // Masks apply before the SMT sees the row.
        let routed = table.masks[index].flatMap { $0.mask.apply(toString: text, declaredLength: $0.declaredLength) } ?? text
        return routed.allSatisfy(\.isWhitespace) ? nil : routed
    }

    private func isNullValue(_ origin: FlattenField.Origin, _ context: FlattenedEventContext) -> Bool {
        let source = context.source
        switch origin {
        case .op, .tsMs, .tsUs, .tsNs: return false
        case .source(let field):
            switch field {
            case .txId: return source.transactionID == nil
            case .lsn: return source.lsn == nil
            case .xmin: return true
            case .snapshot: return source.snapshot == "false"
            case .origin, .originLSN: return source.origin == nil
            default: return false
            }
        case .transaction: return source.transaction == nil
        }
    }

    /// The JSON of one envelope field, as the envelope carries it.
    func appendFlattenedFieldValue(_ out: inout JSONOutput, _ origin: FlattenField.Origin, _ context: FlattenedEventContext) {
        let source = context.source
        switch origin {
        case .op:
            JSON.appendString(&out, context.op.rawValue)
        case .tsMs:
            JSON.appendInt(&out, context.eventTimeMillis)
        case .tsUs:
            JSON.appendInt(&out, context.eventTimeMillis &* 1000)
        case .tsNs:
            JSON.appendInt(&out, context.eventTimeMillis &* 1_000_000)
        case .source(let field):
            switch field {
            case .version: JSON.appendString(&out, source.connectorVersion)
            case .connector: JSON.appendASCII(&out, "\"postgresql\"")
            case .name: JSON.appendString(&out, source.serverName)
            case .tsMs: JSON.appendInt(&out, Temporal.floorDiv(source.commitTimeMicros, 1000))
            case .snapshot:
                // Debezium leaves `snapshot` unset on streamed events (the envelope shows its default, "false").
                if source.snapshot == "false" { JSON.appendASCII(&out, "null") } else { JSON.appendString(&out, source.snapshot) }
            case .db: JSON.appendString(&out, source.database)
            case .sequence:
                func element(_ lsn: UInt64?) -> String { lsn.map { "\"\($0)\"" } ?? "null" }
                JSON.appendString(&out, "[\(element(source.lastCommitLSN)),\(element(source.lsn))]")
            case .tsUs: JSON.appendInt(&out, source.commitTimeMicros)
            case .tsNs: JSON.appendInt(&out, source.commitTimeMicros &* 1000)
            case .schema: JSON.appendString(&out, context.table.schema)
            case .table: JSON.appendString(&out, context.table.table)
            case .txId:
                if let txId = source.transactionID { JSON.appendUInt(&out, UInt64(txId)) } else { JSON.appendASCII(&out, "null") }
            case .lsn:
                if let lsn = source.lsn { JSON.appendUInt(&out, lsn) } else { JSON.appendASCII(&out, "null") }
            case .xmin:
                JSON.appendASCII(&out, "null")
            case .origin:
                if let origin = source.origin { JSON.appendString(&out, origin.name) } else { JSON.appendASCII(&out, "null") }
            case .originLSN:
                if let origin = source.origin { JSON.appendUInt(&out, origin.lsn) } else { JSON.appendASCII(&out, "null") }
            }
        case .transaction(let field):
            guard let block = source.transaction else {
                JSON.appendASCII(&out, "null")
                return
            }
            switch field {
            case .id: JSON.appendString(&out, block.id)
            case .totalOrder: JSON.appendInt(&out, block.totalOrder)
            case .dataCollectionOrder: JSON.appendInt(&out, block.dataCollectionOrder)
            }
        }
    }
}
