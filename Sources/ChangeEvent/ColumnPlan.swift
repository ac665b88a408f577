// Per-column conversion plan, computed once per TableSchema.

/// Built-in PostgreSQL type OIDs the encoder knows about.
enum PGType {
    static let bool: UInt32 = 16
    static let bytea: UInt32 = 17
    static let char: UInt32 = 18
    static let name: UInt32 = 19
    static let int8: UInt32 = 20
    static let int2: UInt32 = 21
    static let int4: UInt32 = 23
    static let text: UInt32 = 25
    static let oid: UInt32 = 26
    static let json: UInt32 = 114
    static let xml: UInt32 = 142
    static let float4: UInt32 = 700
    static let float8: UInt32 = 701
    static let money: UInt32 = 790
    static let bpchar: UInt32 = 1042
    static let varchar: UInt32 = 1043
    static let date: UInt32 = 1082
    static let time: UInt32 = 1083
    static let timestamp: UInt32 = 1114
    static let timestamptz: UInt32 = 1184
    static let interval: UInt32 = 1186
    static let timetz: UInt32 = 1266
    static let numeric: UInt32 = 1700
    static let uuid: UInt32 = 2950
    static let jsonb: UInt32 = 3802
}

/// How a column's text value is turned into JSON.
enum ConverterKind: Sendable, Equatable {
    /// Integer copied as a JSON number after validation against [min, max].
    case integer(min: Int64, max: Int64)
    case bool
    /// float4/float8: JSON number in Java's Float/Double.toString layout; NaN/±Infinity as strings.
    case float
    /// numeric with a declared scale -> Kafka Connect Decimal (base64 unscaled two's complement).
    case decimal(scale: Int)
    /// unconstrained numeric -> io.debezium.data.VariableScaleDecimal {"scale":..,"value":..}.
    case variableDecimal
    /// money -> Kafka Connect Decimal with scale 2.
    case money
    /// Anything printed as a JSON string (text types, uuid, json, xml, unknown, ...).
    case string
    /// bytea -> base64.
    case bytea
    /// io.debezium.time.Date (days since epoch).
    case date
    /// io.debezium.time.Time (ms, micro == false) or MicroTime (µs).
    case time(micro: Bool)
    /// io.debezium.time.Timestamp (ms, micro == false) or MicroTimestamp (µs).
    case timestamp(micro: Bool)
    /// io.debezium.time.ZonedTimestamp with exactly `fractionDigits` fraction digits (0 = none).
    case timestamptz(fractionDigits: Int)
    /// io.debezium.time.ZonedTime.
    case timetz
    /// io.debezium.time.MicroDuration.
    case interval
}

struct ColumnPlan: Sendable {
    let kind: ConverterKind
    /// `"<escaped name>":`
    let fieldPrefix: [UInt8]
    let name: String
    let typeName: String

    init(column: ColumnSchema) {
        kind = ColumnPlan.kind(oid: column.typeOID, typmod: column.typeModifier)
        var prefix: [UInt8] = []
        JSON.appendString(&prefix, column.name)
        prefix.append(Ascii.colon)
        fieldPrefix = prefix
        name = column.name
        typeName = ColumnPlan.typeName(oid: column.typeOID, typmod: column.typeModifier)
    }

    /// Precision of time/timestamp types: typmod is the precision; -1 means the default, 6.
    static func temporalPrecision(_ typmod: Int32) -> Int {
        if typmod < 0 || typmod > 6 { return 6 }
        return Int(typmod)
    }

    /// Scale of a numeric typmod (PostgreSQL 15+ encoding, with signed 11-bit scale), nil if unconstrained.
    static func numericScale(_ typmod: Int32) -> Int? {
        guard typmod >= 4 else { return nil }
        let t = Int(typmod) - 4
        return ((t & 0x7FF) ^ 1024) - 1024
    }

    static func numericPrecision(_ typmod: Int32) -> Int? {
        guard typmod >= 4 else { return nil }
        return ((Int(typmod) - 4) >> 16) & 0xFFFF
    }

    static func kind(oid: UInt32, typmod: Int32) -> ConverterKind {
        switch oid {
        case PGType.int2: return .integer(min: Int64(Int16.min), max: Int64(Int16.max))
        case PGType.int4: return .integer(min: Int64(Int32.min), max: Int64(Int32.max))
        case PGType.int8: return .integer(min: Int64.min, max: Int64.max)
        case PGType.oid: return .integer(min: 0, max: Int64(UInt32.max))
        case PGType.bool: return .bool
        case PGType.float4, PGType.float8: return .float
        case PGType.numeric:
            if let scale = numericScale(typmod) { return .decimal(scale: scale) }
            return .variableDecimal
        case PGType.money: return .money
        case PGType.bytea: return .bytea
        case PGType.date: return .date
        case PGType.time: return .time(micro: temporalPrecision(typmod) > 3)
        case PGType.timestamp: return .timestamp(micro: temporalPrecision(typmod) > 3)
        case PGType.timestamptz: return .timestamptz(fractionDigits: temporalPrecision(typmod))
        case PGType.timetz: return .timetz
        case PGType.interval: return .interval
        default: return .string
        }
    }

    static func typeName(oid: UInt32, typmod: Int32) -> String {
        let base: String
        switch oid {
        case PGType.bool: base = "bool"
        case PGType.bytea: base = "bytea"
        case PGType.char: base = "char"
        case PGType.name: base = "name"
        case PGType.int8: base = "int8"
        case PGType.int2: base = "int2"
        case PGType.int4: base = "int4"
        case PGType.text: base = "text"
        case PGType.oid: base = "oid"
        case PGType.json: base = "json"
        case PGType.xml: base = "xml"
        case PGType.float4: base = "float4"
        case PGType.float8: base = "float8"
        case PGType.money: base = "money"
        case PGType.bpchar: base = "bpchar"
        case PGType.varchar: base = "varchar"
        case PGType.date: base = "date"
        case PGType.time: base = "time"
        case PGType.timestamp: base = "timestamp"
        case PGType.timestamptz: base = "timestamptz"
        case PGType.interval: base = "interval"
        case PGType.timetz: base = "timetz"
        case PGType.numeric:
            if let p = numericPrecision(typmod), let s = numericScale(typmod) { return "numeric(\(p),\(s))" }
            return "numeric"
        case PGType.uuid: base = "uuid"
        case PGType.jsonb: base = "jsonb"
        default: return "oid \(oid)"
        }
        switch oid {
        case PGType.time, PGType.timestamp, PGType.timestamptz, PGType.timetz:
            if typmod >= 0 { return "\(base)(\(typmod))" }
        case PGType.bpchar, PGType.varchar:
            if typmod >= 4 { return "\(base)(\(typmod - 4))" }
        default: break
        }
        return base
    }
}
