/// One Connect schema made ready for Avro: its Avro schema (and the string a serializer registers) and
/// a plan that turns the schema's JSON payload (as JsonConverter writes it) into Avro binary — what
/// AvroConverter does with the Connect value that JsonConverter would have written.
///
/// The JSON payload is the value Swallow's JSON path already converted (one conversion for both
/// formats): numbers keep their text and are read exactly; bytes (and Decimals) arrive as base64;
/// float NaN and infinities as Jackson's strings `"NaN"`, `"Infinity"`, `"-Infinity"`; struct fields
/// in schema order, as JsonConverter writes them.
///
/// A class: records carry a reference to their shape (`events.format: avro`), and the registry's ids are
/// cached per shape and subject, by identity.
public final class AvroShape: Sendable, Equatable {
    public let connectSchema: ConnectSchema
    public let avroSchema: AvroSchema
    /// `Schema.toString()` of the Avro schema.
    public let schemaString: String
    private let plan: WritePlan

    public init(connectSchema: ConnectSchema) throws(AvroError) {
        self.connectSchema = connectSchema
        avroSchema = try AvroData.avroSchema(for: connectSchema)
        schemaString = avroSchema.canonicalString
        plan = try WritePlan(connectSchema)
    }

    public convenience init(connectSchemaJSON: [UInt8]) throws(AvroError) {
        try self.init(connectSchema: ConnectSchema(json: connectSchemaJSON))
    }

    /// The whole value, to be written piece by piece (`AvroValueWriter`).
    public var writer: AvroValueWriter { AvroValueWriter(plan: plan, name: connectSchema.name ?? "") }

    /// Shapes are compared by identity: a record carries the very shape its table planned.
    public static func == (a: AvroShape, b: AvroShape) -> Bool { a === b }

    /// The full name of the top-level record (RecordNameStrategy's subject), nil when it is no record.
    public var recordName: String? { avroSchema.fullName }

    /// Appends the Avro binary of `payload` (JSON) to `out`.
    public func encode(payload: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) throws(AvroError) {
        var reader = JSONReader(payload)
        var scratch: [UInt8] = []
        try plan.write(&reader, &out, &scratch)
        reader.skipWhitespace()
        guard reader.atEnd else { throw reader.failure("unexpected text after the payload") }
    }

    public func encode(payload: [UInt8]) throws(AvroError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count)
        try payload.withUnsafeBufferPointer { (p) throws(AvroError) in try encode(payload: p, into: &out) }
        return out
    }
}

/// One value of a shape — the whole record, or a field of it — for encoders that know their values'
/// types and write them directly (ChangeEvent's Avro row encoder): a union's branch, a string's bytes,
/// a long, without a JSON text in between. Values of any other type are given as their JSON (one value,
/// as JsonConverter writes it) and transcoded as `AvroShape.encode(payload:)` transcodes a payload.
public struct AvroValueWriter: Sendable {
    let plan: WritePlan
    /// The field's name in its record (the record's full name for the whole value).
    public let name: String

    /// What a non-null value is, for writing it directly.
    public enum Direct: Sendable, Equatable {
        /// A string: its length and UTF-8 bytes (`appendString`).
        case string
        /// An int or long in [min, max] (`appendLong`).
        case integer(min: Int64, max: Int64)
        case boolean
        /// Bytes: their length and the bytes (a Connect Decimal's unscaled value too).
        case bytes
        /// A record; `fields` are its fields.
        case record
        /// Anything else: only `write(json:)`.
        case other
    }

    /// The union index of the null branch when the value is optional; nil when it is required.
    public var nullBranch: Int64? {
        if case .optional(_, let nullIndex) = plan { return nullIndex }
        return nil
    }

    private var valuePlan: WritePlan {
        if case .optional(let inner, _) = plan { return inner }
        return plan
    }

    public var direct: Direct {
        switch valuePlan {
        case .string: return .string
        case .int(let min, let max): return .integer(min: min, max: max)
        case .long: return .integer(min: .min, max: .max)
        case .boolean: return .boolean
        case .bytes: return .bytes
        case .record: return .record
        default: return .other
        }
    }

    /// The fields of a record (or of an optional record), in order; nil for any other value.
    public var fields: [AvroValueWriter]? {
        guard case .record(let names, let plans, _) = valuePlan else { return nil }
        return zip(names, plans).map { AvroValueWriter(plan: $1, name: String(decoding: $0, as: UTF8.self)) }
    }

    /// Null: the null branch of an optional value; a required value's zero (what the transcoder writes
    /// for a JSON null there, `WritePlan.writeFallback`).
    @inline(__always)
    public func writeNull(into out: inout [UInt8]) {
        plan.writeFallback(&out)
    }

    /// The branch of a non-null value when the value is optional (nothing for a required one); the
    /// value itself follows, written by `appendString`, `appendLong`, the fields...
    @inline(__always)
    public func writeValueBranch(into out: inout [UInt8]) {
        if case .optional(_, let nullIndex) = plan { AvroBinary.appendLong(1 - nullIndex, to: &out) }
    }

    /// The value given as one JSON value, transcoded (its branch included).
    public func write(json: UnsafeBufferPointer<UInt8>, into out: inout [UInt8], scratch: inout [UInt8]) throws(AvroError) {
        var reader = JSONReader(json)
        try plan.write(&reader, &out, &scratch)
        reader.skipWhitespace()
        guard reader.atEnd else { throw reader.failure("unexpected text after the value") }
    }

    /// An Avro long (or int): its zig-zag varint.
    @inline(__always)
    public static func appendLong(_ value: Int64, to out: inout [UInt8]) { AvroBinary.appendLong(value, to: &out) }

    /// An Avro string (or bytes): the length and the bytes.
    @inline(__always)
    public static func appendString(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        AvroBinary.appendLong(Int64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }
}

/// How one Connect schema's JSON value becomes Avro binary.
indirect enum WritePlan: Sendable {
    case int(min: Int64, max: Int64)
    case long
    case float
    case double
    case boolean
    case string
    /// Bytes; `zeroFallback`: a Connect Decimal, whose value without data is the unscaled zero (one byte).
    case bytes(zeroFallback: Bool)
    /// A union with null: the index of the null branch (the value's is the other one).
    case optional(WritePlan, nullIndex: Int64)
    case record(names: [[UInt8]], plans: [WritePlan], recordName: String)
    case array(WritePlan)
    case map(WritePlan)

    init(_ schema: ConnectSchema) throws(AvroError) {
        let base: WritePlan
        switch schema.kind {
        case .int8: base = .int(min: Int64(Int8.min), max: Int64(Int8.max))
        case .int16: base = .int(min: Int64(Int16.min), max: Int64(Int16.max))
        case .int32: base = .int(min: Int64(Int32.min), max: Int64(Int32.max))
        case .int64: base = .long
        case .float32: base = .float
        case .float64: base = .double
        case .boolean: base = .boolean
        case .string: base = .string
        case .bytes: base = .bytes(zeroFallback: schema.name == AvroData.decimalName)
        case .array:
            guard let items = schema.valueSchema else { throw AvroError(code: .unsupportedSchema, message: "array without items") }
            base = .array(try WritePlan(items))
        case .map:
            guard let values = schema.valueSchema else { throw AvroError(code: .unsupportedSchema, message: "map without values") }
            base = .map(try WritePlan(values))
        case .struct:
            var plans: [WritePlan] = []
            for field in schema.fields { plans.append(try WritePlan(field.schema)) }
            base = .record(names: schema.fields.map { Array($0.name.utf8) }, plans: plans,
                           recordName: schema.name ?? "(unnamed struct)")
        }
        guard schema.isOptional else {
            self = base
            return
        }
        // AvroData: an optional struct is always ["null", record]; any other optional schema with a
        // default is [T, "null"], without one ["null", T].
        self = .optional(base, nullIndex: schema.kind != .struct && schema.defaultValue != nil ? 1 : 0)
    }

    func write(_ reader: inout JSONReader, _ out: inout [UInt8], _ scratch: inout [UInt8]) throws(AvroError) {
        if case .optional = self {} else if reader.consumeNull() {
            writeFallback(&out)
            return
        }
        switch self {
        case .optional(let inner, let nullIndex):
            if reader.consumeNull() {
                AvroBinary.appendLong(nullIndex, to: &out)
            } else if inner.isScalar, try reader.peek() == 0x5B {
                // A sub-array of a multi-dimensional array (`{{1,2},{3,4}}`): the JSON path nests it
                // (docs/events.md), but the Connect schema is one-dimensional, and Debezium's element
                // converter gives null for each sub-array — so AvroConverter writes [null,null] there.
                _ = try reader.skipValue()
                AvroBinary.appendLong(nullIndex, to: &out)
            } else {
                AvroBinary.appendLong(1 - nullIndex, to: &out)
                try inner.write(&reader, &out, &scratch)
            }
        case .int(let min, let max):
            let value = try reader.readInt64()
            guard value >= min && value <= max else { throw reader.failure("integer out of range for its schema") }
            AvroBinary.appendLong(value, to: &out)
        case .long:
            AvroBinary.appendLong(try reader.readInt64(), to: &out)
        case .float:
            if try reader.peek() == 0x22 {
                AvroBinary.appendFloat(Float(try Self.special(&reader)), to: &out)
            } else {
                let text = try reader.readNumberText()
                guard let value = Float(String(decoding: text, as: UTF8.self)) else { throw reader.failure("not a float") }
                AvroBinary.appendFloat(value, to: &out)
            }
        case .double:
            if try reader.peek() == 0x22 {
                AvroBinary.appendDouble(try Self.special(&reader), to: &out)
            } else {
                let text = try reader.readNumberText()
                guard let value = Double(String(decoding: text, as: UTF8.self)) else { throw reader.failure("not a double") }
                AvroBinary.appendDouble(value, to: &out)
            }
        case .boolean:
            out.append(try reader.readBool() ? 1 : 0)
        case .string:
            scratch.removeAll(keepingCapacity: true)
            try reader.readString(into: &scratch)
            AvroBinary.appendBytes(scratch, to: &out)
        case .bytes:
            scratch.removeAll(keepingCapacity: true)
            try reader.readString(into: &scratch)
            var decoded: [UInt8] = []
            decoded.reserveCapacity(scratch.count * 3 / 4)
            guard Base64.decode(scratch, into: &decoded) else { throw reader.failure("bytes value is not base64") }
            AvroBinary.appendBytes(decoded, to: &out)
        case .record(let names, let plans, let recordName):
            try reader.expect(0x7B)
            for i in 0..<names.count {
                if i > 0 { try reader.expect(0x2C) }
                scratch.removeAll(keepingCapacity: true)
                try reader.readString(into: &scratch)
                guard scratch == names[i] else {
                    throw AvroError(code: .valueMismatch,
                                    message: "field \(i + 1) of \(recordName) is not `\(String(decoding: names[i], as: UTF8.self))` in the payload")
                }
                try reader.expect(0x3A)
                try plans[i].write(&reader, &out, &scratch)
            }
            try reader.expect(0x7D)
        case .array(let items):
            try reader.expect(0x5B)
            var block: [UInt8] = []
            var count: Int64 = 0
            if try !reader.consume(0x5D) {
                repeat {
                    try items.write(&reader, &block, &scratch)
                    count += 1
                } while try reader.consume(0x2C)
                try reader.expect(0x5D)
            }
            if count > 0 {
                AvroBinary.appendLong(count, to: &out)
                out.append(contentsOf: block)
            }
            out.append(0)
        case .map(let values):
            try reader.expect(0x7B)
            var block: [UInt8] = []
            var count: Int64 = 0
            if try !reader.consume(0x7D) {
                repeat {
                    scratch.removeAll(keepingCapacity: true)
                    try reader.readString(into: &scratch)
                    AvroBinary.appendBytes(scratch, to: &block)
                    try reader.expect(0x3A)
                    try values.write(&reader, &block, &scratch)
                    count += 1
                } while try reader.consume(0x2C)
                try reader.expect(0x7D)
            }
            if count > 0 {
                AvroBinary.appendLong(count, to: &out)
                out.append(contentsOf: block)
            }
            out.append(0)
        }
    }

    /// Neither an array, a map nor a record.
    var isScalar: Bool {
        switch self {
        case .array, .map, .record, .optional: return false
        default: return true
        }
    }

    /// The value of a required field the payload has null for. Neither Debezium nor Swallow's JSON path
    /// writes one: a NOT NULL column without a value (the columns an old tuple of REPLICA IDENTITY
    /// DEFAULT lacks) gets Debezium's per-type fallback there already (ChangeEvent's NotNullFallback).
    /// Should a payload still have one, this writes Avro's zero of the type (0, false, "", no bytes,
    /// empty arrays and maps, a record of zeros; a Decimal's unscaled zero) instead of failing.
    func writeFallback(_ out: inout [UInt8]) {
        switch self {
        case .optional(_, let nullIndex): AvroBinary.appendLong(nullIndex, to: &out)
        case .int, .long: out.append(0)
        case .float: AvroBinary.appendFloat(0, to: &out)
        case .double: AvroBinary.appendDouble(0, to: &out)
        case .boolean: out.append(0)
        case .string: out.append(0)
        case .bytes(let zero): zero ? AvroBinary.appendBytes([0], to: &out) : out.append(0)
        case .record(_, let plans, _): for plan in plans { plan.writeFallback(&out) }
        case .array, .map: out.append(0)
        }
    }

    /// Jackson's strings for the floating-point values JSON has no number for.
    private static func special(_ reader: inout JSONReader) throws(AvroError) -> Double {
        switch try reader.readStringValue() {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default: throw reader.failure("not a floating-point value")
        }
    }
}

/// The two parts of a record JsonConverter wrote with schemas: `{"schema":<schema>,"payload":<payload>}`.
public enum ConnectEnvelope {
    /// The byte ranges of the schema and the payload.
    public static func split(_ record: UnsafeBufferPointer<UInt8>) throws(AvroError) -> (schema: Range<Int>, payload: Range<Int>) {
        var reader = JSONReader(record)
        try reader.expect(0x7B)
        var schema: Range<Int>?
        var payload: Range<Int>?
        repeat {
            let key = try reader.readStringValue()
            try reader.expect(0x3A)
            let range = try reader.skipValue()
            switch key {
            case "schema": schema = range
            case "payload": payload = range
            default: throw reader.failure("unexpected member `\(key)` in a record with schema")
            }
        } while try reader.consume(0x2C)
        try reader.expect(0x7D)
        guard let schema, let payload else {
            throw AvroError(code: .invalidJSON, message: "a record without schema or payload (events.format avro needs both)")
        }
        return (schema, payload)
    }
}
