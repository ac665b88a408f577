// `table.expand.json.payload`: Debezium's EventRouter parses a string payload with Jackson, infers a
// Connect schema from it (JsonSchemaData) and puts the converted struct in the record, which
// JsonConverter then writes. What comes out differs from the input text in ways consumers see:
//
//   {"id": 1001, "total": 59.90, "note": null, "tags": [], "lines": [{"a": 1}, {"b": 2}]}
//   -> {"id":1001,"total":59.9,"lines":[{"a":1,"b":null},{"a":null,"b":2}]}
//
// - numbers: an integer that fits int32 or int64 stays an integer; any other number is a double,
//   printed as Java's Double.toString (59.90 -> 59.9, 1e5 -> 100000.0); integers beyond int64 fail;
// - null members are left out (table.json.payload.null.behavior=ignore), or kept as optional bytes;
//   empty arrays are left out (no element to infer a schema from);
// - an array takes the schema of its first non-null element (its elements must all be of that node
//   type, numbers of the same kind); an array of objects the union of its objects' fields, so each
//   object is written with every field of the union, null where it has none;
// - what fails (not starting with `{`, malformed, a mixed array, a type clash) leaves the payload
//   unexpanded, as Debezium does (it logs "JSON expansion failed").
//
// Debezium 3.6.3 fails the connector on a payload that is a JSON array at the top (the schema becomes an
// array, the value stays the string); Swallow leaves such a payload unexpanded.

/// Expands JSON payloads as Debezium's EventRouter does (see above).
public enum ExpandedJSONPayload {
    /// The expanded payload's JSON (no schema); nil when Debezium would leave the payload as it is.
    public static func expand(_ text: ArraySlice<UInt8>, keepNulls: Bool) -> [UInt8]? {
        guard let (node, schema) = parse(text, keepNulls: keepNulls) else { return nil }
        var out = JSONOutput(capacity: text.count)
        guard (try? write(node, schema, &out)) != nil else { return nil }
        return out.bytes()
    }

    /// The expanded payload as JsonConverter writes it with its schema, `{"schema":…,"payload":…}`,
    /// the struct named `name` (the payload column's name: Debezium passes it as the path of the
    /// schema, see `appendSchema`); nil when Debezium would leave the payload as it is.
    public static func expandWithSchema(_ text: ArraySlice<UInt8>, keepNulls: Bool, name: String) -> [UInt8]? {
        guard let (node, schema) = parse(text, keepNulls: keepNulls) else { return nil }
        return withSchema(node, schema, name: name, capacity: 2 * text.count + 64)
    }

    /// `{"schema":<schema, named by path from name>,"payload":<node>}`, as JsonConverter writes a value
    /// with its inferred schema; nil when the node does not fit the schema.
    static func withSchema(_ node: Node, _ schema: Schema, name: String, capacity: Int) -> [UInt8]? {
        var out = JSONOutput(capacity: capacity)
        JSON.appendASCII(&out, "{\"schema\":")
        appendSchema(schema, key: name, field: nil, &out)
        JSON.appendASCII(&out, ",\"payload\":")
        guard (try? write(node, schema, &out)) != nil else { return nil }
        out.append(Ascii.closeBrace)
        return out.bytes()
    }

    /// A payload Debezium expands (parsed, a JSON object, its schema inferred); nil for one it leaves.
    private static func parse(_ text: ArraySlice<UInt8>, keepNulls: Bool) -> (Node, Schema)? {
        guard let first = text.first, first == UInt8(ascii: "{") else { return nil }
        var parser = Parser(bytes: Array(text))
        guard let node = try? parser.document(), case .object = node,
              let schema = try? inferSchema(node, keepNulls: keepNulls) else { return nil }
        return (node, schema)
    }

    /// JsonConverter's JSON of an inferred schema (`asJsonSchema`: type, fields or items, optional, name,
    /// field). Every schema JsonSchemaData makes is optional. A struct is named by its path, `key`: the
    /// payload column's name at the top, then `<parent>.<field>` (`payload.nested.level`); the objects of
    /// an array take the array field's path (`payload.lines`); elements of other kinds are inferred with
    /// no path, so structs under an array of arrays have no name and their fields start a new path.
    ///
    ///     {"type":"struct","fields":[{"type":"array","items":{"type":"struct","fields":[…],"optional":true,
    ///      "name":"payload.lines"},"optional":true,"field":"lines"}],"optional":true,"name":"payload"}
    static func appendSchema(_ schema: Schema, key: String?, field: String?, _ out: inout JSONOutput) {
        JSON.appendASCII(&out, "{\"type\":")
        switch schema {
        case .string: JSON.appendASCII(&out, "\"string\"")
        case .boolean: JSON.appendASCII(&out, "\"boolean\"")
        case .int32: JSON.appendASCII(&out, "\"int32\"")
        case .int64: JSON.appendASCII(&out, "\"int64\"")
        case .float64: JSON.appendASCII(&out, "\"double\"")
        case .bytes: JSON.appendASCII(&out, "\"bytes\"")
        case .array(let element):
            JSON.appendASCII(&out, "\"array\",\"items\":")
            if case .structure = element {
                appendSchema(element, key: key, field: nil, &out)
            } else {
                appendSchema(element, key: nil, field: nil, &out)
            }
        case .structure(let fields):
            JSON.appendASCII(&out, "\"struct\",\"fields\":[")
            for (index, (name, fieldSchema)) in fields.enumerated() {
                if index > 0 { out.append(Ascii.comma) }
                // Strings.isNullOrBlank: a blank path starts anew.
                let path = key.map { $0.unicodeScalars.allSatisfy { $0.value <= 0x20 } ? name : "\($0).\(name)" } ?? name
                appendSchema(fieldSchema, key: path, field: name, &out)
            }
            out.append(Ascii.closeBracket)
        }
        JSON.appendASCII(&out, ",\"optional\":true")
        if case .structure = schema, let key {
            JSON.appendASCII(&out, ",\"name\":")
            JSON.appendString(&out, key)
        }
        if let field {
            JSON.appendASCII(&out, ",\"field\":")
            JSON.appendString(&out, field)
        }
        out.append(Ascii.closeBrace)
    }

    /// A Jackson node, numbers classified as Jackson's parser does.
    indirect enum Node: Equatable, Sendable {
        case null
        case bool(Bool)
        case int32(Int32)
        case int64(Int64)
        case bigInteger
        case double(Double)
        case string([UInt8])
        case array([Node])
        case object([(String, Node)])

        static func == (lhs: Node, rhs: Node) -> Bool {
            switch (lhs, rhs) {
            case (.null, .null), (.bigInteger, .bigInteger): true
            case (.bool(let a), .bool(let b)): a == b
            case (.int32(let a), .int32(let b)): a == b
            case (.int64(let a), .int64(let b)): a == b
            case (.double(let a), .double(let b)): a == b
            case (.string(let a), .string(let b)): a == b
            case (.array(let a), .array(let b)): a == b
            case (.object(let a), .object(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            default: false
            }
        }

        /// Jackson's JsonNodeType, for the homogeneity check of arrays.
        var nodeType: Int {
            switch self {
            case .null: 0
            case .bool: 1
            case .int32, .int64, .bigInteger, .double: 2
            case .string: 3
            case .array: 4
            case .object: 5
            }
        }
    }

    /// The Connect schema JsonSchemaData infers.
    indirect enum Schema: Equatable, Sendable {
        case string, boolean, int32, int64, float64, bytes
        case array(Schema)
        case structure([(String, Schema)])

        static func == (lhs: Schema, rhs: Schema) -> Bool {
            switch (lhs, rhs) {
            case (.string, .string), (.boolean, .boolean), (.int32, .int32), (.int64, .int64), (.float64, .float64), (.bytes, .bytes): true
            case (.array(let a), .array(let b)): a == b
            case (.structure(let a), .structure(let b)): a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            default: false
            }
        }
    }

    struct Failure: Error {}

    /// JsonSchemaData.toConnectSchema: nil for what gets no field (null members, empty arrays).
    static func inferSchema(_ node: Node, keepNulls: Bool) throws(Failure) -> Schema? {
        switch node {
        case .string: return .string
        case .bool: return .boolean
        case .int32: return .int32
        case .int64: return .int64
        case .bigInteger, .double: return .float64
        case .null: return keepNulls ? .bytes : nil
        case .array(let elements):
            if elements.isEmpty { return nil }
            return .array(try elementSchema(elements, keepNulls: keepNulls))
        case .object(let members):
            var fields: [(String, Schema)] = []
            for (name, value) in members {
                guard let schema = try inferSchema(value, keepNulls: keepNulls), !fields.contains(where: { $0.0 == name }) else { continue }
                fields.append((name, schema))
            }
            return .structure(fields)
        }
    }

    /// toConnectSchemaWithCycles: objects merge their schemas; anything else takes its first non-null
    /// element's, every element of the same node type (and numbers of the same schema).
    static func elementSchema(_ elements: [Node], keepNulls: Bool) throws(Failure) -> Schema {
        var sample: Node = .null
        var sampleSchema: Schema?
        for element in elements where element != .null {
            if sample == .null { sample = element }
            guard element.nodeType == sample.nodeType else { throw Failure() }
            if case .object = sample { continue }
            if sample.nodeType == 2 {
                if sampleSchema == nil { sampleSchema = try inferSchema(sample, keepNulls: keepNulls) }
                guard try inferSchema(element, keepNulls: keepNulls) == sampleSchema else { throw Failure() }
            }
        }
        if case .object = sample {
            // The distinct element schemas merged (Debezium iterates a HashSet; here: first seen first).
            var merged: [(String, Schema)]?
            var seen: [Schema] = []
            for element in elements {
                guard case .object = element, let schema = try inferSchema(element, keepNulls: keepNulls),
                      case .structure(let fields) = schema, !seen.contains(schema) else { continue }
                seen.append(schema)
                guard var result = merged else { merged = fields; continue }
                for (name, fieldSchema) in fields {
                    if let existing = result.firstIndex(where: { $0.0 == name }) {
                        if result[existing].1 == .bytes && fieldSchema != .bytes { result[existing].1 = fieldSchema }
                    } else {
                        result.append((name, fieldSchema))
                    }
                }
                merged = result
            }
            return .structure(merged ?? [])
        }
        guard let schema = try inferSchema(sample, keepNulls: keepNulls) else { throw Failure() }
        return schema
    }

    /// JsonSchemaData.toConnectData, then JsonConverter: a struct writes every field of its schema
    /// (null where the object has no such member); a value must fit its schema (Struct.put checks).
    static func write(_ node: Node, _ schema: Schema, _ out: inout JSONOutput) throws(Failure) {
        switch (node, schema) {
        case (.null, _): JSON.appendASCII(&out, "null")
        case (.string(let bytes), .string): bytes.withUnsafeBufferPointer { JSON.appendString(&out, $0) }
        case (.bool(let value), .boolean): JSON.appendASCII(&out, value ? "true" : "false")
        case (.int32(let value), .int32): JSON.appendInt(&out, Int64(value))
        case (.int64(let value), .int64): JSON.appendInt(&out, value)
        case (.double(let value), .float64): JavaDouble.append(&out, value)
        case (.array(let elements), .array(let elementSchema)):
            out.append(Ascii.openBracket)
            for (index, element) in elements.enumerated() {
                if index > 0 { out.append(Ascii.comma) }
                try write(element, elementSchema, &out)
            }
            out.append(Ascii.closeBracket)
        case (.object(let members), .structure(let fields)):
            out.append(Ascii.openBrace)
            for (index, (name, fieldSchema)) in fields.enumerated() {
                if index > 0 { out.append(Ascii.comma) }
                JSON.appendString(&out, name)
                out.append(Ascii.colon)
                if let member = members.first(where: { $0.0 == name }) {
                    try write(member.1, fieldSchema, &out)
                } else {
                    JSON.appendASCII(&out, "null")
                }
            }
            out.append(Ascii.closeBrace)
        default:
            // A BigInteger (Jackson's decimalValue into a FLOAT64 field) or a value of another type.
            throw Failure()
        }
    }

    /// A strict JSON parser (RFC 8259), numbers as Jackson classifies them; duplicate members keep the
    /// last value, in the first one's place (Jackson's ObjectNode).
    struct Parser {
        let bytes: [UInt8]
        var position = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func document() throws(Failure) -> Node {
            let node = try value(depth: 0)
            skipWhitespace()
            guard position == bytes.count else { throw Failure() }
            return node
        }

        mutating func skipWhitespace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func literal(_ text: StaticString) -> Bool {
            let count = text.utf8CodeUnitCount
            guard position + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[position + offset] != text.utf8Start[offset] { return false }
            position += count
            return true
        }

        mutating func value(depth: Int) throws(Failure) -> Node {
            guard depth < 512 else { throw Failure() }
            skipWhitespace()
            guard position < bytes.count else { throw Failure() }
            switch bytes[position] {
            case UInt8(ascii: "{"):
                position += 1
                var members: [(String, Node)] = []
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                while true {
                    skipWhitespace()
                    let name = String(decoding: try string(), as: UTF8.self)
                    skipWhitespace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw Failure() }
                    position += 1
                    let member = try value(depth: depth + 1)
                    if let existing = members.firstIndex(where: { $0.0 == name }) { members[existing].1 = member } else { members.append((name, member)) }
                    skipWhitespace()
                    guard position < bytes.count else { throw Failure() }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    guard bytes[position] == UInt8(ascii: "}") else { throw Failure() }
                    position += 1
                    return .object(members)
                }
            case UInt8(ascii: "["):
                position += 1
                var elements: [Node] = []
                skipWhitespace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
                while true {
                    elements.append(try value(depth: depth + 1))
                    skipWhitespace()
                    guard position < bytes.count else { throw Failure() }
                    if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                    guard bytes[position] == UInt8(ascii: "]") else { throw Failure() }
                    position += 1
                    return .array(elements)
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                guard literal("true") else { throw Failure() }
                return .bool(true)
            case UInt8(ascii: "f"):
                guard literal("false") else { throw Failure() }
                return .bool(false)
            case UInt8(ascii: "n"):
                guard literal("null") else { throw Failure() }
                return .null
            default:
                return try number()
            }
        }

        mutating func number() throws(Failure) -> Node {
            let start = position
            var isInteger = true
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
            let digitsStart = position
            while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
            guard position > digitsStart, bytes[digitsStart] != 0x30 || position == digitsStart + 1 else { throw Failure() }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                isInteger = false
                position += 1
                let fraction = position
                while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
                guard position > fraction else { throw Failure() }
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                isInteger = false
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
                let exponent = position
                while position < bytes.count, (0x30...0x39).contains(bytes[position]) { position += 1 }
                guard position > exponent else { throw Failure() }
            }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            if isInteger {
                guard let value = Int64(text) else { return .bigInteger }
                if let small = Int32(exactly: value) { return .int32(small) }
                return .int64(value)
            }
            guard let value = Double(text) else { throw Failure() }
            return .double(value)
        }

        /// A string's UTF-8 bytes, escapes resolved (surrogate pairs joined; a lone surrogate fails).
        mutating func string() throws(Failure) -> [UInt8] {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw Failure() }
            position += 1
            var result: [UInt8] = []
            while true {
                guard position < bytes.count else { throw Failure() }
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return result
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { throw Failure() }
                    let escaped = bytes[position]
                    position += 1
                    switch escaped {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): result.append(escaped)
                    case UInt8(ascii: "b"): result.append(0x08)
                    case UInt8(ascii: "f"): result.append(0x0C)
                    case UInt8(ascii: "n"): result.append(0x0A)
                    case UInt8(ascii: "r"): result.append(0x0D)
                    case UInt8(ascii: "t"): result.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard literal("\\u") else { throw Failure() }
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw Failure() }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw Failure() }
                        result.append(contentsOf: Array(String(Character(unicode)).utf8))
                    default:
                        throw Failure()
                    }
                case 0..<0x20:
                    throw Failure()
                default:
                    result.append(byte)
                }
            }
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard position + 4 <= bytes.count else { throw Failure() }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                position += 1
                let digit: UInt32
                switch byte {
                case 0x30...0x39: digit = UInt32(byte - 0x30)
                case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
                case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
                default: throw Failure()
                }
                value = value * 16 + digit
            }
            return value
        }
    }
}

/// The JSON content of a logical decoding message as Debezium's DecodeLogicalDecodingMessageContent makes
/// it a record for the outbox router: a struct with the schema JsonSchemaData infers (null members and
/// empty arrays are no fields), whose fields the router reads by name.
public struct DecodedMessageContent: Sendable {
    private let members: [String: ExpandedJSONPayload.Node]
    private let schemas: [String: ExpandedJSONPayload.Schema]

    /// nil when the content is not a JSON object Debezium could decode (it fails the connector).
    public init?(_ content: ArraySlice<UInt8>, keepNulls: Bool) {
        guard content.first == UInt8(ascii: "{") else { return nil }
        var parser = ExpandedJSONPayload.Parser(bytes: Array(content))
        guard let node = try? parser.document(), case .object(let members) = node,
              let schema = try? ExpandedJSONPayload.inferSchema(node, keepNulls: keepNulls),
              case .structure(let fields) = schema else { return nil }
        var byName: [String: ExpandedJSONPayload.Node] = [:]
        for (name, value) in members { byName[name] = value }
        var schemas: [String: ExpandedJSONPayload.Schema] = [:]
        for (name, fieldSchema) in fields { schemas[name] = fieldSchema }
        // Every field must convert (toConnectData), or Debezium fails the record.
        for (name, fieldSchema) in fields {
            var out = JSONOutput(capacity: 16)
            guard (try? ExpandedJSONPayload.write(byName[name] ?? .null, fieldSchema, &out)) != nil else { return nil }
        }
        self.members = byName
        self.schemas = schemas
    }

    /// Whether the decoded struct has field `name` (a member that is neither null nor an empty array).
    public func hasField(_ name: String) -> Bool { schemas[name] != nil }

    /// Field `name` as JsonConverter writes it; nil when there is no such field.
    public func json(_ name: String) -> [UInt8]? {
        guard let schema = schemas[name] else { return nil }
        var out = JSONOutput(capacity: 32)
        guard (try? ExpandedJSONPayload.write(members[name] ?? .null, schema, &out)) != nil else { return nil }
        return out.bytes()
    }

    /// Field `name` as JsonConverter writes it with its schema (`{"schema":…,"payload":…}`; a struct
    /// field's schema is named by its path, `name`); nil when there is no such field.
    public func jsonWithSchema(_ name: String) -> [UInt8]? {
        guard let schema = schemas[name] else { return nil }
        return ExpandedJSONPayload.withSchema(members[name] ?? .null, schema, name: name, capacity: 64)
    }

    /// Field `name` when it is a string (Struct.getString).
    public func string(_ name: String) -> String? {
        guard case .string(let bytes)? = members[name], schemas[name] != nil else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The UTF-8 bytes of string field `name`.
    public func stringBytes(_ name: String) -> [UInt8]? {
        guard case .string(let bytes)? = members[name], schemas[name] != nil else { return nil }
        return bytes
    }

    /// Field `name` when it is an int32 (Struct.getInt32).
    public func int32(_ name: String) -> Int32? {
        guard case .int32(let value)? = members[name] else { return nil }
        return value
    }
}
