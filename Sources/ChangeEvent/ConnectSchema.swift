// Kafka Connect schemas as JsonConverter writes them with schemas.enable=true (`envelope.schemas`).
//
// JsonConverter.asJsonSchema writes, in this order: "type", then "items" (array) / "keys", "values"
// (map) / "fields" (struct), then "optional" (always), "name", "version", "doc", "parameters" (each
// only when set), and inside a struct's "fields" each field schema gets "field" last:
//
//   {"type":"int32","optional":false,"field":"id"}
//   {"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,
//    "parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"price"}
//
// The layout of the envelope follows Debezium 3.6's PostgreSQL connector (its output is the golden
// tests' expected files, scripts/oracle/debezium.sh): before, after, source, transaction, op, ts_ms,
// ts_us, ts_ns, with the Envelope at version 2.

/// One Connect schema, split around the `optional` flag so that the same type serves as an optional
/// value field and a required key field.
struct ConnectFieldSchema: Sendable {
    /// `{"type":"…"` plus any items/keys/values/fields.
    var head: [UInt8]
    /// `,"name":…,"version":…,"doc":…,"parameters":{…}` (possibly empty).
    var tail: [UInt8]

    init(type: StaticString, name: String? = nil, version: Int? = nil, doc: String? = nil,
         parameters: [(String, String)] = [], inner: [UInt8] = []) {
        var head = JSONOutput(capacity: 64)
        JSON.appendASCII(&head, "{\"type\":\"")
        JSON.appendASCII(&head, type)
        head.append(Ascii.quote)
        head.append(contentsOf: inner)
        self.head = head.bytes()
        var tail = JSONOutput(capacity: 64)
        if let name {
            JSON.appendASCII(&tail, ",\"name\":")
            JSON.appendString(&tail, name)
        }
        if let version {
            JSON.appendASCII(&tail, ",\"version\":")
            JSON.appendInt(&tail, Int64(version))
        }
        if let doc {
            JSON.appendASCII(&tail, ",\"doc\":")
            JSON.appendString(&tail, doc)
        }
        if !parameters.isEmpty {
            JSON.appendASCII(&tail, ",\"parameters\":{")
            for (i, (key, value)) in parameters.enumerated() {
                if i > 0 { tail.append(Ascii.comma) }
                JSON.appendString(&tail, key)
                tail.append(Ascii.colon)
                JSON.appendString(&tail, value)
            }
            tail.append(Ascii.closeBrace)
        }
        self.tail = tail.bytes()
    }

    /// The schema as a struct field: `{…,"optional":…,…,"field":"<name>"}`.
    func appendField(_ out: inout JSONOutput, name: String, optional: Bool) {
        out.append(contentsOf: head)
        JSON.appendASCII(&out, optional ? ",\"optional\":true" : ",\"optional\":false")
        out.append(contentsOf: tail)
        JSON.appendASCII(&out, ",\"field\":")
        JSON.appendString(&out, name)
        out.append(Ascii.closeBrace)
    }

    /// The schema as a struct field, as bytes.
    func field(named name: String, optional: Bool) -> [UInt8] {
        var out = JSONOutput(capacity: head.count + tail.count + name.utf8.count + 40)
        appendField(&out, name: name, optional: optional)
        return out.bytes()
    }

    /// The schema on its own (array items, map values, top level).
    func append(_ out: inout JSONOutput, optional: Bool) {
        out.append(contentsOf: head)
        JSON.appendASCII(&out, optional ? ",\"optional\":true" : ",\"optional\":false")
        out.append(contentsOf: tail)
        out.append(Ascii.closeBrace)
    }

    /// The schema on its own, as bytes.
    func json(optional: Bool) -> [UInt8] {
        var out = JSONOutput(capacity: head.count + tail.count + 24)
        append(&out, optional: optional)
        return out.bytes()
    }

    /// An array schema of `items` (Debezium's array elements are optional, arrays may hold NULLs, but
    /// for enum arrays, whose element schema PostgresValueConverter builds without `optional()`).
    static func array(of items: ConnectFieldSchema, itemsOptional: Bool = true) -> ConnectFieldSchema {
        var inner = JSONOutput(capacity: 256)
        JSON.appendASCII(&inner, ",\"items\":")
        items.append(&inner, optional: itemsOptional)
        return ConnectFieldSchema(type: "array", inner: inner.bytes())
    }

    /// A struct schema with the given fields (each already written with `appendField`).
    static func structure(fields: [[UInt8]], name: String?, version: Int? = nil, doc: String? = nil) -> ConnectFieldSchema {
        var inner = JSONOutput(capacity: 256)
        JSON.appendASCII(&inner, ",\"fields\":[")
        for (i, field) in fields.enumerated() {
            if i > 0 { inner.append(Ascii.comma) }
            inner.append(contentsOf: field)
        }
        inner.append(Ascii.closeBracket)
        return ConnectFieldSchema(type: "struct", name: name, version: version, doc: doc, inner: inner.bytes())
    }

    static func field(_ type: StaticString, _ name: String, optional: Bool) -> [UInt8] {
        ConnectFieldSchema(type: type).field(named: name, optional: optional)
    }
}

enum ConnectSchemas {
    /// The Connect schema of a column converted as `kind` (Debezium's PostgresValueConverter.schemaBuilder).
    static func schema(kind: ConverterKind, elementKind: ConverterKind?,
                       resolvedTypmod: Int32, enumLabels: [String]?, semantic: SemanticType) -> ConnectFieldSchema {
        switch kind {
        case .array:
            return .array(of: schema(kind: elementKind ?? .string, elementKind: nil, resolvedTypmod: resolvedTypmod,
                                     enumLabels: enumLabels, semantic: semantic),
                          itemsOptional: semantic != .enumeration)
        case .integer(let min, _):
            if min == Int64(Int16.min) { return ConnectFieldSchema(type: "int16") }
            if min == Int64(Int32.min) { return ConnectFieldSchema(type: "int32") }
            return ConnectFieldSchema(type: "int64")
        case .bool, .bitAsBool:
            return ConnectFieldSchema(type: "boolean")
        case .bits:
            // Bits.builder(length): the declared length, or 2^31-1 for an unbounded varbit.
            let length = resolvedTypmod > 0 ? Int(resolvedTypmod) : Int(Int32.max)
            return ConnectFieldSchema(type: "bytes", name: "io.debezium.data.Bits", version: 1,
                                      parameters: [("length", String(length))])
        case .float:
            return ConnectFieldSchema(type: semantic == .float4 ? "float" : "double")
        case .decimal(let scale):
            var parameters = [("scale", String(scale))]
            if let precision = ColumnPlan.numericPrecision(resolvedTypmod) {
                parameters.append(("connect.decimal.precision", String(precision)))
            }
            return ConnectFieldSchema(type: "bytes", name: "org.apache.kafka.connect.data.Decimal", version: 1,
                                      parameters: parameters)
        case .variableDecimal:
            let fields = [ConnectFieldSchema.field("int32", "scale", optional: false),
                          ConnectFieldSchema.field("bytes", "value", optional: false)]
            return .structure(fields: fields, name: "io.debezium.data.VariableScaleDecimal", version: 1,
                              doc: "Variable scaled decimal")
        case .money:
            return ConnectFieldSchema(type: "bytes", name: "org.apache.kafka.connect.data.Decimal", version: 1,
                                      parameters: [("scale", "2")])
        case .decimalString, .moneyString:
            return ConnectFieldSchema(type: "string")
        case .decimalDouble, .moneyDouble:
            return ConnectFieldSchema(type: "double")
        case .string:
            switch semantic {
            case .uuid: return ConnectFieldSchema(type: "string", name: "io.debezium.data.Uuid", version: 1)
            case .json: return ConnectFieldSchema(type: "string", name: "io.debezium.data.Json", version: 1)
            case .xml: return ConnectFieldSchema(type: "string", name: "io.debezium.data.Xml", version: 1)
            case .ltree: return ConnectFieldSchema(type: "string", name: "io.debezium.data.Ltree", version: 1)
            case .enumeration:
                return ConnectFieldSchema(type: "string", name: "io.debezium.data.Enum", version: 1,
                                          parameters: [("allowed", (enumLabels ?? []).joined(separator: ","))])
            default: return ConnectFieldSchema(type: "string")
            }
        case .binary(let mode):
            return mode == .bytes ? ConnectFieldSchema(type: "bytes") : ConnectFieldSchema(type: "string")
        case .date:
            return semantic == .connectTemporal
                ? ConnectFieldSchema(type: "int32", name: "org.apache.kafka.connect.data.Date", version: 1)
                : ConnectFieldSchema(type: "int32", name: "io.debezium.time.Date", version: 1)
        case .time(let micro):
            if semantic == .connectTemporal {
                return ConnectFieldSchema(type: "int32", name: "org.apache.kafka.connect.data.Time", version: 1)
            }
            return micro ? ConnectFieldSchema(type: "int64", name: "io.debezium.time.MicroTime", version: 1)
                         : ConnectFieldSchema(type: "int32", name: "io.debezium.time.Time", version: 1)
        case .timestamp(let micro):
            if semantic == .connectTemporal {
                return ConnectFieldSchema(type: "int64", name: "org.apache.kafka.connect.data.Timestamp", version: 1)
            }
            return micro ? ConnectFieldSchema(type: "int64", name: "io.debezium.time.MicroTimestamp", version: 1)
                         : ConnectFieldSchema(type: "int64", name: "io.debezium.time.Timestamp", version: 1)
        case .timestamptz:
            return ConnectFieldSchema(type: "string", name: "io.debezium.time.ZonedTimestamp", version: 1)
        case .timetz:
            return ConnectFieldSchema(type: "string", name: "io.debezium.time.ZonedTime", version: 1)
        case .interval:
            return ConnectFieldSchema(type: "int64", name: "io.debezium.time.MicroDuration", version: 1)
        case .intervalString:
            return ConnectFieldSchema(type: "string", name: "io.debezium.time.Interval", version: 1)
        case .hstoreJSON:
            return ConnectFieldSchema(type: "string", name: "io.debezium.data.Json", version: 1)
        case .hstoreMap:
            var inner = JSONOutput(capacity: 256)
            JSON.appendASCII(&inner, ",\"keys\":{\"type\":\"string\",\"optional\":false},\"values\":{\"type\":\"string\",\"optional\":true}")
            return ConnectFieldSchema(type: "map", inner: inner.bytes())
        }
    }

    /// `io.debezium.connector.postgresql.Source`, as Debezium 3.6 writes it: version 1, the snapshot
    /// markers of 3.x, `origin` and `origin_lsn` last.
    static let source: [UInt8] = {
        var fields: [[UInt8]] = [
            ConnectFieldSchema.field("string", "version", optional: false),
            ConnectFieldSchema.field("string", "connector", optional: false),
            ConnectFieldSchema.field("string", "name", optional: false),
            ConnectFieldSchema.field("int64", "ts_ms", optional: false),
        ]
        fields.append(Array("{\"type\":\"string\",\"optional\":true,\"name\":\"io.debezium.data.Enum\",\"version\":1,\"parameters\":{\"allowed\":\"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental\"},\"default\":\"false\",\"field\":\"snapshot\"}".utf8))
        fields += [
            ConnectFieldSchema.field("string", "db", optional: false),
            ConnectFieldSchema.field("string", "sequence", optional: true),
            ConnectFieldSchema.field("int64", "ts_us", optional: true),
            ConnectFieldSchema.field("int64", "ts_ns", optional: true),
            ConnectFieldSchema.field("string", "schema", optional: false),
            ConnectFieldSchema.field("string", "table", optional: false),
            ConnectFieldSchema.field("int64", "txId", optional: true),
            ConnectFieldSchema.field("int64", "lsn", optional: true),
            ConnectFieldSchema.field("int64", "xmin", optional: true),
            ConnectFieldSchema.field("string", "origin", optional: true),
            ConnectFieldSchema.field("int64", "origin_lsn", optional: true),
        ]
        return ConnectFieldSchema.structure(fields: fields, name: "io.debezium.connector.postgresql.Source", version: 1)
            .field(named: "source", optional: false)
    }()

    /// The `transaction` block (`event.block`).
    static let transactionBlock = ConnectFieldSchema.structure(fields: [
        ConnectFieldSchema.field("string", "id", optional: false),
        ConnectFieldSchema.field("int64", "total_order", optional: false),
        ConnectFieldSchema.field("int64", "data_collection_order", optional: false),
    ], name: "event.block", version: 1).field(named: "transaction", optional: true)

    /// The fields after the row images and the source: transaction, op, ts_ms, ts_us, ts_ns.
    static let envelopeTailFields: [[UInt8]] = [
        transactionBlock,
        ConnectFieldSchema.field("string", "op", optional: false),
        ConnectFieldSchema.field("int64", "ts_ms", optional: true),
        ConnectFieldSchema.field("int64", "ts_us", optional: true),
        ConnectFieldSchema.field("int64", "ts_ns", optional: true),
    ]

    /// `io.debezium.connector.postgresql.MessageKey`.
    static let messageKey = ConnectFieldSchema.structure(
        fields: [ConnectFieldSchema.field("string", "prefix", optional: true)],
        name: "io.debezium.connector.postgresql.MessageKey", version: 1).json(optional: false)

    /// `io.debezium.connector.postgresql.MessageValue`: op, ts_ms, source, transaction, message.
    static func messageValue(binary: EncoderOptions.BinaryHandling) -> [UInt8] {
        let message = ConnectFieldSchema.structure(fields: [
            ConnectFieldSchema.field("string", "prefix", optional: true),
            binary == .bytes ? ConnectFieldSchema.field("bytes", "content", optional: true)
                             : ConnectFieldSchema.field("string", "content", optional: true),
        ], name: "io.debezium.connector.postgresql.Message", version: 1).field(named: "message", optional: false)
        return ConnectFieldSchema.structure(fields: [
            ConnectFieldSchema.field("string", "op", optional: false),
            ConnectFieldSchema.field("int64", "ts_ms", optional: true),
            source, transactionBlock, message,
        ], name: "io.debezium.connector.postgresql.MessageValue", version: 1).json(optional: false)
    }

    /// A required string on its own: the schema of Debezium's context headers.
    static let requiredString: [UInt8] = ConnectFieldSchema(type: "string").json(optional: false)

    /// `io.debezium.connector.common.ServerNameKey`, the key of heartbeat records (no version).
    static let heartbeatKey = ConnectFieldSchema.structure(
        fields: [ConnectFieldSchema.field("string", "serverName", optional: false)],
        name: "io.debezium.connector.common.ServerNameKey").json(optional: false)

    /// `io.debezium.connector.common.Heartbeat`, the value of heartbeat records (no version).
    static let heartbeatValue = ConnectFieldSchema.structure(
        fields: [ConnectFieldSchema.field("int64", "ts_ms", optional: false)],
        name: "io.debezium.connector.common.Heartbeat").json(optional: false)

    /// `io.debezium.connector.common.TransactionMetadataKey`.
    static let transactionKey = ConnectFieldSchema.structure(
        fields: [ConnectFieldSchema.field("string", "id", optional: false)],
        name: "io.debezium.connector.common.TransactionMetadataKey", version: 1).json(optional: false)

    /// `io.debezium.connector.common.TransactionMetadataValue`.
    static let transactionValue: [UInt8] = {
        let collection = ConnectFieldSchema.structure(fields: [
            ConnectFieldSchema.field("string", "data_collection", optional: false),
            ConnectFieldSchema.field("int64", "event_count", optional: false),
        ], name: "event.collection", version: 1)
        let collections = ConnectFieldSchema.array(of: collection).field(named: "data_collections", optional: true)
        return ConnectFieldSchema.structure(fields: [
            ConnectFieldSchema.field("string", "status", optional: false),
            ConnectFieldSchema.field("string", "id", optional: false),
            ConnectFieldSchema.field("int64", "event_count", optional: true),
            collections,
            ConnectFieldSchema.field("int64", "ts_ms", optional: false),
        ], name: "io.debezium.connector.common.TransactionMetadataValue", version: 1).json(optional: false)
    }()

    /// Key schema `<topic>.Key` and value schema `<topic>.Envelope` (its row `<topic>.Value`), where the
    /// topic is `<prefix>.<schema>.<table>` as Debezium names it (`TopicName`: `"Odd"."Order Lines"` gives
    /// `app.Odd.Order_Lines.Value`, as Debezium 3.6.3 writes).
    static func tableSchemas(table: TableSchema, prefix: String) -> (key: [UInt8]?, value: [UInt8]) {
        let base = TopicName.ofTable(schema: table.schema, table: table.table, prefix: prefix).name
        var key: [UInt8]?
        if !table.keyColumnIndexes.isEmpty {
            var fields = table.keyColumnIndexes.map { index in
                // Optional as the column is: a primary key's columns are NOT NULL, but message.key.columns
                // may name nullable ones.
                table.plans[index].connectSchema.field(named: table.fieldName(index),
                                                       optional: table.columns[index].isOptional)
            }
            // Topic routing's field naming the physical table: ByLogicalTableRouter adds it last, as
            // Schema.STRING_SCHEMA (required).
            if let keyField = table.routing?.keyField {
                fields.append(ConnectFieldSchema.field("string", keyField.name, optional: false))
            }
            key = ConnectFieldSchema.structure(fields: fields, name: table.routing?.keySchemaName ?? "\(base).Key").json(optional: false)
        }
        let valueFields = table.valueColumnIndexes.map { index in
            table.plans[index].connectSchema.field(named: table.fieldName(index), optional: table.columns[index].isOptional)
        }
        let row = ConnectFieldSchema.structure(fields: valueFields, name: table.routing?.valueSchemaName ?? "\(base).Value")
        let fields = [row.field(named: "before", optional: true), row.field(named: "after", optional: true), source]
            + envelopeTailFields
        let value = ConnectFieldSchema.structure(fields: fields, name: table.routing?.envelopeSchemaName ?? "\(base).Envelope", version: 2).json(optional: false)
        return (key, value)
    }
}

/// What the Connect schema needs beyond the converter kind: Debezium's semantic type names.
enum SemanticType: Sendable, Equatable {
    case plain
    case float4
    case uuid
    case json
    case xml
    case ltree
    case enumeration
    /// time.precision.mode=connect: Kafka Connect's own Date/Time/Timestamp logical types.
    case connectTemporal
}
