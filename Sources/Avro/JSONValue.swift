// A JSON document model for the two JSON texts the Avro path reads: Kafka Connect schemas as
// JsonConverter writes them (`envelope.schemas`) and the defaults inside them. Numbers keep their text,
// so an int64 or a Java-printed double is read back exactly; object members keep their order (Connect
// parameters and Avro properties are ordered maps).

public indirect enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number as written (e.g. `1`, `-3.5E-7`).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The value of `key` in an object (the first one), nil otherwise.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var intValue: Int? {
        if case .number(let text) = self { return Int(text) }
        return nil
    }

    /// Parses one JSON document (surrounding whitespace allowed, nothing else after it).
    public static func parse(_ bytes: [UInt8]) throws(AvroError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(AvroError) -> JSONValue in
            var reader = JSONReader(buffer)
            let value = try reader.readValue()
            reader.skipWhitespace()
            guard reader.atEnd else { throw reader.failure("unexpected text after the JSON document") }
            return value
        }
    }

    public static func parse(_ text: String) throws(AvroError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Compact JSON (no spaces), strings escaped as Jackson does.
    public var json: String {
        var out: [UInt8] = []
        JSONText.append(self, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

public struct JSONMember: Sendable, Hashable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// Writing JSON the way Jackson's default generator does (what Avro's `Schema.toString` uses): `"` and
/// `\` escaped, control characters as `\b \t \n \f \r` or `\u00XX`, everything else (`/`, DEL,
/// non-ASCII) as is.
enum JSONText {
    static func append(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .string(let s): appendString(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                append(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendString(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                append(member.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0..<0x20:
                let hex = Array("0123456789ABCDEF".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// A forward-only reader over JSON bytes: the tree parser for schemas and, token by token, the payload
/// transcoder (which reads each value as its schema expects, without building a tree).
struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var atEnd: Bool { position >= bytes.count }

    func failure(_ reason: String) -> AvroError {
        AvroError(code: .invalidJSON, message: "\(reason) at byte \(position)")
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// The next non-space byte, not consumed.
    @inline(__always)
    mutating func peek() throws(AvroError) -> UInt8 {
        skipWhitespace()
        guard position < bytes.count else { throw failure("unexpected end of JSON") }
        return bytes[position]
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8) throws(AvroError) {
        guard try peek() == byte else {
            throw failure("expected '\(Character(Unicode.Scalar(byte)))'")
        }
        position += 1
    }

    /// Consumes `byte` if it is next.
    @inline(__always)
    mutating func consume(_ byte: UInt8) throws(AvroError) -> Bool {
        if try peek() == byte {
            position += 1
            return true
        }
        return false
    }

    mutating func consumeLiteral(_ literal: StaticString) -> Bool {
        skipWhitespace()
        let n = literal.utf8CodeUnitCount
        guard position + n <= bytes.count else { return false }
        let start = literal.utf8Start
        for k in 0..<n where bytes[position + k] != start[k] { return false }
        position += n
        return true
    }

    /// `null`, consumed, or false with nothing consumed.
    mutating func consumeNull() -> Bool { consumeLiteral("null") }

    mutating func readBool() throws(AvroError) -> Bool {
        if consumeLiteral("true") { return true }
        if consumeLiteral("false") { return false }
        throw failure("expected true or false")
    }

    /// The text of a number, validated loosely (sign, digits, fraction, exponent).
    mutating func readNumberText() throws(AvroError) -> UnsafeBufferPointer<UInt8> {
        skipWhitespace()
        let start = position
        while position < bytes.count {
            let b = bytes[position]
            if (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2B || b == 0x2E || b == 0x45 || b == 0x65 {
                position += 1
            } else {
                break
            }
        }
        guard position > start else { throw failure("expected a number") }
        return UnsafeBufferPointer(rebasing: bytes[start..<position])
    }

    mutating func readInt64() throws(AvroError) -> Int64 {
        let text = try readNumberText()
        var i = 0
        var negative = false
        if text[0] == 0x2D { negative = true; i = 1 }
        guard i < text.count else { throw failure("expected an integer") }
        var magnitude: UInt64 = 0
        while i < text.count {
            let d = text[i] &- 0x30
            guard d < 10 else { throw failure("expected an integer") }
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { throw failure("integer out of range") }
            magnitude = m2
            i += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw failure("integer out of range") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw failure("integer out of range") }
        return Int64(magnitude)
    }

    /// A string's contents, unescaped, appended to `out` (UTF-8).
    mutating func readString(into out: inout [UInt8]) throws(AvroError) {
        try expect(0x22)
        while true {
            // The bytes up to the next quote or backslash in one copy: most strings have no escape.
            let runStart = position
            while position < bytes.count, bytes[position] != 0x22, bytes[position] != 0x5C { position += 1 }
            if position > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<position])) }
            guard position < bytes.count else { throw failure("unterminated string") }
            let b = bytes[position]
            position += 1
            if b == 0x22 { return }
            guard position < bytes.count else { throw failure("unterminated escape") }
            let e = bytes[position]
            position += 1
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try readHex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // A surrogate pair: `\uD83D\uDE00`.
                    guard position + 1 < bytes.count, bytes[position] == 0x5C, bytes[position + 1] == UInt8(ascii: "u") else {
                        throw failure("unpaired surrogate in string")
                    }
                    position += 2
                    let low = try readHex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw failure("unpaired surrogate in string") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw failure("unpaired surrogate in string")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw failure("invalid escape in string") }
                out.append(contentsOf: String(Character(unicode)).utf8)
            default:
                throw failure("invalid escape in string")
            }
        }
    }

    private mutating func readHex4() throws(AvroError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw failure("invalid \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw failure("invalid \\u escape")
            }
            v = v << 4 | d
            position += 1
        }
        return v
    }

    mutating func readStringValue() throws(AvroError) -> String {
        var out: [UInt8] = []
        try readString(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Skips one value of any kind; returns its byte range.
    mutating func skipValue() throws(AvroError) -> Range<Int> {
        skipWhitespace()
        let start = position
        switch try peek() {
        case 0x7B, 0x5B:
            var depth = 0
            while position < bytes.count {
                let b = bytes[position]
                if b == 0x22 {
                    var scratch: [UInt8] = []
                    try readString(into: &scratch)
                    continue
                }
                position += 1
                if b == 0x7B || b == 0x5B { depth += 1 }
                if b == 0x7D || b == 0x5D {
                    depth -= 1
                    if depth == 0 { return start..<position }
                }
            }
            throw failure("unterminated JSON value")
        default:
            _ = try readValue()
            return start..<position
        }
    }

    mutating func readValue() throws(AvroError) -> JSONValue {
        switch try peek() {
        case 0x7B:
            position += 1
            var members: [JSONMember] = []
            if try consume(0x7D) { return .object(members) }
            repeat {
                let key = try readStringValue()
                try expect(0x3A)
                members.append(JSONMember(key, try readValue()))
            } while try consume(0x2C)
            try expect(0x7D)
            return .object(members)
        case 0x5B:
            position += 1
            var items: [JSONValue] = []
            if try consume(0x5D) { return .array(items) }
            repeat {
                items.append(try readValue())
            } while try consume(0x2C)
            try expect(0x5D)
            return .array(items)
        case 0x22:
            return .string(try readStringValue())
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            return .bool(try readBool())
        case UInt8(ascii: "n"):
            guard consumeNull() else { throw failure("expected null") }
            return .null
        default:
            let text = try readNumberText()
            return .number(String(decoding: text, as: UTF8.self))
        }
    }
}
