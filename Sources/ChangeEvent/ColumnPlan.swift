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
    static let inet: UInt32 = 869
    static let cidr: UInt32 = 650
    static let macaddr: UInt32 = 829
    static let macaddr8: UInt32 = 774
    static let bit: UInt32 = 1560
    static let varbit: UInt32 = 1562
    static let int4range: UInt32 = 3904
    static let numrange: UInt32 = 3906
    static let tsrange: UInt32 = 3908
    static let tstzrange: UInt32 = 3910
    static let daterange: UInt32 = 3912
    static let int8range: UInt32 = 3926

    static let names: [UInt32: String] = [
        bool: "bool", bytea: "bytea", char: "char", name: "name", int8: "int8", int2: "int2", int4: "int4",
        text: "text", oid: "oid", json: "json", xml: "xml", float4: "float4", float8: "float8", money: "money",
        bpchar: "bpchar", varchar: "varchar", date: "date", time: "time", timestamp: "timestamp",
        timestamptz: "timestamptz", interval: "interval", timetz: "timetz", numeric: "numeric", uuid: "uuid",
        jsonb: "jsonb", inet: "inet", cidr: "cidr", macaddr: "macaddr", macaddr8: "macaddr8", bit: "bit",
        varbit: "varbit", int4range: "int4range", numrange: "numrange", tsrange: "tsrange",
        tstzrange: "tstzrange", daterange: "daterange", int8range: "int8range",
    ]

    /// The scalar types converted without a catalog entry.
    static let builtinScalars: Set<UInt32> = Set(names.keys)
}

/// How a column's text value is turned into JSON.
enum ConverterKind: Sendable, Equatable {
    /// Integer copied as a JSON number after validation against [min, max].
    case integer(min: Int64, max: Int64)
    case bool
    /// bit(1): Debezium's BOOLEAN from "0"/"1".
    case bitAsBool
    /// bit(n > 1) / varbit: io.debezium.data.Bits, the bits as bytes (base64 in JSON).
    case bits
    /// float4/float8: JSON number in Java's Float/Double.toString layout; NaN/±Infinity as strings.
    case float
    /// numeric with a declared scale -> Kafka Connect Decimal (base64 unscaled two's complement).
    case decimal(scale: Int)
    /// unconstrained numeric -> io.debezium.data.VariableScaleDecimal {"scale":..,"value":..}.
    case variableDecimal
    /// numeric, decimal.handling.mode=string: BigDecimal.toPlainString.
    case decimalString
    /// numeric, decimal.handling.mode=double: Java Double.toString.
    case decimalDouble
    /// money -> Kafka Connect Decimal with scale 2.
    case money
    /// money, decimal.handling.mode=string / double.
    case moneyString
    case moneyDouble
    /// Anything printed as a JSON string (text types, uuid, json, xml, enums, ranges, inet, ...).
    case string
    /// bytea in the configured binary.handling.mode.
    case binary(EncoderOptions.BinaryHandling)
    /// io.debezium.time.Date / org.apache.kafka.connect.data.Date (days since epoch).
    case date
    /// io.debezium.time.Time / Connect Time (ms, micro == false) or MicroTime (µs).
    case time(micro: Bool)
    /// io.debezium.time.Timestamp / Connect Timestamp (ms, micro == false) or MicroTimestamp (µs).
    case timestamp(micro: Bool)
    /// io.debezium.time.ZonedTimestamp with exactly `fractionDigits` fraction digits (0 = none).
    case timestamptz(fractionDigits: Int)
    /// io.debezium.time.ZonedTime.
    case timetz
    /// io.debezium.time.MicroDuration.
    case interval
    /// io.debezium.time.Interval (ISO 8601 string), interval.handling.mode=string.
    case intervalString
    /// hstore as io.debezium.data.Json (a JSON object in a string), hstore.handling.mode=json.
    case hstoreJSON
    /// hstore as a map of strings, hstore.handling.mode=map.
    case hstoreMap
    /// Array of the element kind at `TableSchema.elementKinds[element]`.
    case array(element: Int)
}

struct ColumnPlan: Sendable {
    let kind: ConverterKind
    let name: String
    let typeName: String
    /// The type has no mapping and `unknownTypeHandling` is `.fail`.
    let isUnsupported: Bool
    /// What an unchanged TOASTed value of this column becomes, shaped like the column.
    let toastJSON: [UInt8]
    /// The column's Connect schema (`envelope.schemas`).
    var connectSchema: ConnectFieldSchema
    /// What a NOT NULL column without a value becomes, as in Debezium (`NotNullFallback`).
    let notNullFallbackJSON: [UInt8]

    init(column: ColumnSchema, types: TypeCatalog, options: EncoderOptions, elementKinds: inout [ConverterKind]) {
        name = column.name
        let resolution = ColumnPlan.resolve(oid: column.typeOID, typmod: column.typeModifier, types: types,
                                            options: options, allowArray: true)
        typeName = resolution.typeName
        let kind: ConverterKind
        var elementKind: ConverterKind?
        switch resolution.mapping {
        case .scalar(let scalar):
            kind = scalar
            isUnsupported = false
        case .array(let element):
            elementKinds.append(element)
            elementKind = element
            kind = .array(element: elementKinds.count - 1)
            isUnsupported = false
        case .unsupported:
            kind = .string
            isUnsupported = options.unknownTypeHandling == .fail
        }
        self.kind = kind
        connectSchema = ConnectSchemas.schema(kind: kind, elementKind: elementKind,
                                              resolvedTypmod: resolution.typmod, enumLabels: resolution.enumLabels,
                                              semantic: resolution.semantic)
        toastJSON = ToastPlaceholder.json(placeholder: options.toastPlaceholder, kind: kind, elementKind: elementKind,
                                          arrayElementOID: resolution.arrayElementOID)
        // numeric's typmod is ((precision << 16) | scale) + 4 (VARHDRSZ); -1 when unconstrained.
        notNullFallbackJSON = NotNullFallback.json(kind: kind, scale: resolution.typmod >= 4 ? Int((resolution.typmod - 4) & 0xFFFF) : nil)
    }

    enum Mapping: Equatable {
        case scalar(ConverterKind)
        case array(element: ConverterKind)
        case unsupported
    }

    struct Resolution {
        var mapping: Mapping
        var typeName: String
        /// The element type of an array column, as declared (before following domains).
        var arrayElementOID: UInt32? = nil
        /// The typmod after following domains (precision, scale, length).
        var typmod: Int32 = -1
        var semantic: SemanticType = .plain
        var enumLabels: [String]? = nil
    }

    /// Maps a column type to its converter, following domains to their base type and arrays to their
    /// element type through the catalog. Arrays of arrays do not exist in PostgreSQL (a multi-dimensional
    /// array has the same type as a one-dimensional one), so `allowArray` is false for elements.
    static func resolve(oid: UInt32, typmod: Int32, types: TypeCatalog, options: EncoderOptions, allowArray: Bool,
                        depth: Int = 0) -> Resolution {
        let name = typeName(oid: oid, typmod: typmod, types: types)
        if let kind = builtinKind(oid: oid, typmod: typmod, options: options) {
            return Resolution(mapping: .scalar(kind), typeName: name, typmod: typmod,
                              semantic: builtinSemantic(oid: oid, options: options))
        }
        guard depth < 8, let info = types[oid] else { return Resolution(mapping: .unsupported, typeName: name) }
        switch info.kind {
        case .domain(let base, let baseTypmod):
            // A domain column's atttypmod is -1; the domain's own typmod (varchar(20), numeric(10,2)) counts.
            var inner = resolve(oid: base, typmod: typmod >= 0 ? typmod : baseTypmod, types: types, options: options,
                                allowArray: allowArray, depth: depth + 1)
            inner.typeName = name
            return inner
        case .enumeration(let labels):
            return Resolution(mapping: .scalar(.string), typeName: name, semantic: .enumeration, enumLabels: labels)
        case .range:
            return Resolution(mapping: .scalar(.string), typeName: name)
        case .array(let element):
            guard allowArray else { return Resolution(mapping: .unsupported, typeName: name) }
            // The array's typmod applies to its elements (varchar(10)[], numeric(8,2)[]).
            var inner = resolve(oid: element, typmod: typmod, types: types, options: options, allowArray: false,
                                depth: depth + 1)
            guard case .scalar(let kind) = inner.mapping else { return Resolution(mapping: .unsupported, typeName: name) }
            inner.mapping = .array(element: kind)
            inner.typeName = name
            inner.arrayElementOID = element
            return inner
        case .base:
            switch info.name {
            case "hstore":
                return Resolution(mapping: .scalar(options.hstoreHandling == .json ? .hstoreJSON : .hstoreMap), typeName: name)
            case "citext": return Resolution(mapping: .scalar(.string), typeName: name)
            case "ltree": return Resolution(mapping: .scalar(.string), typeName: name, semantic: .ltree)
            default: return Resolution(mapping: .unsupported, typeName: name)
            }
        case .other:
            return Resolution(mapping: .unsupported, typeName: name)
        }
    }

    static func builtinSemantic(oid: UInt32, options: EncoderOptions) -> SemanticType {
        switch oid {
        case PGType.float4: return .float4
        case PGType.uuid: return .uuid
        case PGType.json, PGType.jsonb: return .json
        case PGType.xml: return .xml
        case PGType.date, PGType.time, PGType.timestamp:
            return options.timePrecision == .connect ? .connectTemporal : .plain
        default: return .plain
        }
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

    /// Converter of a built-in scalar type, or nil when the OID is not one.
    static func builtinKind(oid: UInt32, typmod: Int32, options: EncoderOptions) -> ConverterKind? {
        switch oid {
        case PGType.int2: return .integer(min: Int64(Int16.min), max: Int64(Int16.max))
        case PGType.int4: return .integer(min: Int64(Int32.min), max: Int64(Int32.max))
        case PGType.int8: return .integer(min: Int64.min, max: Int64.max)
        case PGType.oid: return .integer(min: 0, max: Int64(UInt32.max))
        case PGType.bool: return .bool
        case PGType.bit, PGType.varbit:
            // Debezium: a length of 1 is a BOOLEAN, anything else Bits of length/8 bytes.
            if typmod == 1 { return .bitAsBool }
            return .bits
        case PGType.float4, PGType.float8: return .float
        case PGType.numeric:
            switch options.decimalHandling {
            case .precise:
                if let scale = numericScale(typmod) { return .decimal(scale: scale) }
                return .variableDecimal
            case .string: return .decimalString
            case .double: return .decimalDouble
            }
        case PGType.money:
            switch options.decimalHandling {
            case .precise: return .money
            case .string: return .moneyString
            case .double: return .moneyDouble
            }
        case PGType.bytea: return .binary(options.binaryHandling)
        case PGType.date: return .date
        case PGType.time:
            switch options.timePrecision {
            case .adaptive: return .time(micro: temporalPrecision(typmod) > 3)
            case .adaptiveTimeMicroseconds: return .time(micro: true)
            case .connect: return .time(micro: false)
            }
        case PGType.timestamp:
            switch options.timePrecision {
            case .adaptive, .adaptiveTimeMicroseconds: return .timestamp(micro: temporalPrecision(typmod) > 3)
            case .connect: return .timestamp(micro: false)
            }
        case PGType.timestamptz: return .timestamptz(fractionDigits: temporalPrecision(typmod))
        case PGType.timetz: return .timetz
        case PGType.interval: return options.intervalHandling == .numeric ? .interval : .intervalString
        case PGType.char, PGType.name, PGType.text, PGType.bpchar, PGType.varchar, PGType.json, PGType.jsonb,
             PGType.xml, PGType.uuid, PGType.inet, PGType.cidr, PGType.macaddr, PGType.macaddr8,
             PGType.int4range, PGType.int8range, PGType.numrange, PGType.tsrange, PGType.tstzrange, PGType.daterange:
            return .string
        default: return nil
        }
    }

    static func typeName(oid: UInt32, typmod: Int32, types: TypeCatalog) -> String {
        let base: String
        if let builtin = PGType.names[oid] {
            base = builtin
        } else if let info = types[oid] {
            if case .array(let element) = info.kind {
                return typeName(oid: element, typmod: typmod, types: types) + "[]"
            }
            base = info.displayName
        } else {
            return "oid \(oid)"
        }
        switch oid {
        case PGType.numeric:
            if let p = numericPrecision(typmod), let s = numericScale(typmod) { return "numeric(\(p),\(s))" }
        case PGType.time, PGType.timestamp, PGType.timestamptz, PGType.timetz, PGType.interval:
            if typmod >= 0 && typmod <= 6 { return "\(base)(\(typmod))" }
        case PGType.bpchar, PGType.varchar:
            if typmod >= 4 { return "\(base)(\(typmod - 4))" }
        case PGType.bit, PGType.varbit:
            if typmod >= 0 { return "\(base)(\(typmod))" }
        default: break
        }
        return base
    }
}
