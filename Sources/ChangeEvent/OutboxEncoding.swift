// What Debezium's outbox event router (io.debezium.transforms.outbox.EventRouter) writes for an outbox
// row, as Kafka Connect's JsonConverter serializes it: single columns as record keys, header values and
// values, and the router's value struct. With `envelope.schemas` each is `{"schema":…,"payload":…}`
// with the column's own Connect schema, as the router keeps it:
//
//   key    "1001"                         {"schema":{"type":"string","optional":false},"payload":"1001"}
//   value  "{\"id\": 1001}"               (a jsonb payload: its text, a string of io.debezium.data.Json)
//   value  {"payload":"{…}","eventType":"OrderCreated"}    (additional fields placed in the envelope)
//          schema {"type":"struct","fields":[<payload>,<eventType>],"optional":false,
//                  "name":"app.public.outboxevent.order.Value"}

/// The Connect type of a column, as far as the outbox router cares: the route-by column must be a
/// string, a partition column an int32, a timestamp column Debezium's Timestamp or MicroTimestamp.
public enum OutboxColumnType: Sendable, Equatable {
    /// A Connect string whose value is the column's text (text types, uuid, json, jsonb, enums, ...).
    case string
    case int32
    /// io.debezium.time.Timestamp (ms) or, `micro`, MicroTimestamp (µs).
    case timestamp(micro: Bool)
    case other
}

extension TableSchema {
    /// The index of the column named `name` (exactly), if the table has one.
    public func columnIndex(named name: String) -> Int? { columns.firstIndex { $0.name == name } }

    /// The column's type as the outbox router classifies it.
    public func outboxColumnType(at index: Int) -> OutboxColumnType {
        switch plans[index].kind {
        case .string: .string
        case .integer(let min, let max) where min == Int64(Int32.min) && max == Int64(Int32.max): .int32
        case .timestamp(let micro) where options.timePrecision != .connect: .timestamp(micro: micro)
        default: .other
        }
    }

    /// The column's PostgreSQL type name, for error messages.
    public func typeName(at index: Int) -> String { plans[index].typeName }

    /// The column's Connect schema as JsonConverter writes it (optional as the column is).
    public func connectSchemaJSON(at index: Int) -> [UInt8] {
        plans[index].connectSchema.json(optional: columns[index].isOptional)
    }
}

extension ChangeEventEncoder {
    /// One column's value as a record key, header value or record value: its JSON, or with
    /// `envelope.schemas` `{"schema":<the column's schema>,"payload":<its JSON>}`. A null value is the
    /// JSON `null` (JsonConverter writes an optional schema's null so), not a null record field.
    public func encodeColumn(table: TableSchema, index: Int, value: ColumnValue) throws(ChangeEventError) -> [UInt8] {
        let schema = options.includeSchemas ? table.connectSchemaJSON(at: index) : nil
        return try record(schema: schema, capacity: 16 + (value.text?.count ?? 4)) { out throws(ChangeEventError) in
            try appendValue(&out, table: table, index: index, value: value, kind: table.kinds[index])
        }
    }

    /// A column's value as JSON, never with a schema (a partition number, a timestamp).
    public func encodeColumnJSON(table: TableSchema, index: Int, value: ColumnValue) throws(ChangeEventError) -> [UInt8] {
        var out = JSONOutput(capacity: 24)
        try appendValue(&out, table: table, index: index, value: value, kind: table.kinds[index])
        return out.bytes()
    }

    /// The router's value struct: `{"payload":<payload>,"<alias>":<column>,…}`. `payload` is the payload
    /// column's JSON, or an expanded payload (`expandedPayload`); `schema` the struct's Connect schema
    /// (`outboxEnvelopeSchema`) with `envelope.schemas`, else nil.
    public func encodeOutboxEnvelope(table: TableSchema, row: [ColumnValue], payloadIndex: Int, expandedPayload: [UInt8]?,
                                     fields: [(name: String, index: Int)], schema: [UInt8]?) throws(ChangeEventError) -> [UInt8] {
        try record(schema: schema, capacity: 64 + (row[payloadIndex].text?.count ?? 4)) { out throws(ChangeEventError) in
            JSON.appendASCII(&out, "{\"payload\":")
            if let expandedPayload {
                out.append(contentsOf: expandedPayload)
            } else {
                try appendValue(&out, table: table, index: payloadIndex, value: row[payloadIndex], kind: table.kinds[payloadIndex])
            }
            for field in fields {
                out.append(Ascii.comma)
                JSON.appendString(&out, field.name)
                out.append(Ascii.colon)
                try appendValue(&out, table: table, index: field.index, value: row[field.index], kind: table.kinds[field.index])
            }
            out.append(Ascii.closeBrace)
        }
    }

    /// The Connect schema of the router's value struct: named `name`, the payload column's schema as
    /// field `payload`, then each additional envelope field with its column's schema; `version` from
    /// `table.field.event.schema.version`.
    public func outboxEnvelopeSchema(table: TableSchema, payloadIndex: Int, fields: [(name: String, index: Int)],
                                     name: String, version: Int?) -> [UInt8] {
        var members = [table.plans[payloadIndex].connectSchema.field(named: "payload", optional: table.columns[payloadIndex].isOptional)]
        for field in fields {
            members.append(table.plans[field.index].connectSchema.field(named: field.name, optional: table.columns[field.index].isOptional))
        }
        return ConnectFieldSchema.structure(fields: members, name: name, version: version).json(optional: false)
    }
}

extension ColumnValue {
    /// The text of a `.text` value.
    public var text: ArraySlice<UInt8>? {
        if case .text(let bytes) = self { return bytes }
        return nil
    }
}
