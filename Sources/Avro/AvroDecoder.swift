/// Reads Avro binary with its writer's schema back into the JSON shape JsonConverter gives the same
/// value: records as objects, unions unwrapped, bytes as base64, NaN and infinities as Jackson's
/// strings. What a consumer does with a record and the schema its id names; the tests' check that what
/// Swallow writes decodes to what its JSON path says.
public struct AvroDecoder {
    private let bytes: [UInt8]
    private var position: Int

    public static func decode(_ body: ArraySlice<UInt8>, schema: AvroSchema) throws(AvroError) -> JSONValue {
        var decoder = AvroDecoder(bytes: Array(body), position: 0)
        let value = try decoder.read(schema)
        guard decoder.position == decoder.bytes.count else {
            throw AvroError(code: .invalidBinary, message: "\(decoder.bytes.count - decoder.position) bytes left after the value")
        }
        return value
    }

    private init(bytes: [UInt8], position: Int) {
        self.bytes = bytes
        self.position = position
    }

    private func failure(_ reason: String) -> AvroError {
        AvroError(code: .invalidBinary, message: "\(reason) at byte \(position)")
    }

    private mutating func readLong() throws(AvroError) -> Int64 {
        var shift: UInt64 = 0
        var n: UInt64 = 0
        while true {
            guard position < bytes.count else { throw failure("truncated varint") }
            let b = bytes[position]
            position += 1
            guard shift < 64 else { throw failure("varint too long") }
            n |= UInt64(b & 0x7F) << shift
            if b < 0x80 { break }
            shift += 7
        }
        return Int64(bitPattern: n >> 1) ^ -Int64(bitPattern: n & 1)
    }

    private mutating func readFixed(_ count: Int) throws(AvroError) -> ArraySlice<UInt8> {
        guard count >= 0, position + count <= bytes.count else { throw failure("truncated value") }
        defer { position += count }
        return bytes[position..<position + count]
    }

    private mutating func readBytes() throws(AvroError) -> ArraySlice<UInt8> {
        try readFixed(Int(try readLong()))
    }

    private static func floating(_ value: Double) -> JSONValue {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value < 0 ? "-Infinity" : "Infinity") }
        return .number("\(value)")
    }

    private mutating func read(_ schema: AvroSchema) throws(AvroError) -> JSONValue {
        switch schema {
        case .primitive(let type, _):
            switch type {
            case .null: return .null
            case .boolean:
                let b = try readFixed(1)
                guard b.first! <= 1 else { throw failure("invalid boolean") }
                return .bool(b.first! == 1)
            case .int, .long: return .number(String(try readLong()))
            case .float:
                var bits: UInt32 = 0
                for (i, b) in try readFixed(4).enumerated() { bits |= UInt32(b) << (8 * UInt32(i)) }
                return Self.floating(Double(Float(bitPattern: bits)))
            case .double:
                var bits: UInt64 = 0
                for (i, b) in try readFixed(8).enumerated() { bits |= UInt64(b) << (8 * UInt64(i)) }
                return Self.floating(Double(bitPattern: bits))
            case .bytes: return .string(Base64.encode(try readBytes()))
            case .string:
                let raw = try readBytes()
                guard let text = String(validating: raw, as: UTF8.self) else { throw failure("string is not UTF-8") }
                return .string(text)
            }
        case .record(let record):
            var members: [JSONMember] = []
            for field in record.fields { members.append(JSONMember(field.name, try read(field.schema))) }
            return .object(members)
        case .union(let branches):
            let index = try readLong()
            guard index >= 0, index < branches.count else { throw failure("union branch \(index) out of range") }
            return try read(branches[Int(index)])
        case .array(let items, _):
            var values: [JSONValue] = []
            while true {
                var count = try readLong()
                if count == 0 { break }
                if count < 0 {
                    count = -count
                    _ = try readLong()   // the block's size in bytes
                }
                for _ in 0..<count { values.append(try read(items)) }
            }
            return .array(values)
        case .map(let valueSchema, _):
            var members: [JSONMember] = []
            while true {
                var count = try readLong()
                if count == 0 { break }
                if count < 0 {
                    count = -count
                    _ = try readLong()
                }
                for _ in 0..<count {
                    let raw = try readBytes()
                    guard let key = String(validating: raw, as: UTF8.self) else { throw failure("map key is not UTF-8") }
                    members.append(JSONMember(key, try read(valueSchema)))
                }
            }
            return .object(members)
        }
    }
}

extension JSONValue {
    /// Equality where numbers compare by value (a double printed by Java and by Swift differ in text).
    public func sameValue(as other: JSONValue) -> Bool {
        switch (self, other) {
        case (.number(let a), .number(let b)):
            if a == b { return true }
            if let x = Int64(a), let y = Int64(b) { return x == y }
            guard let x = Double(a), let y = Double(b) else { return false }
            // A float decoded to a double equals the float the other text rounds to.
            return x == y || Double(Float(x)) == y || Double(Float(y)) == x
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.sameValue(as: $1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value.sameValue(as: $1.value) }
        default:
            return self == other
        }
    }
}
