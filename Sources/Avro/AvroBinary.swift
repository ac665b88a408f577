// Avro's binary encoding (the specification's "Binary Encoding"; what Avro Java's BinaryEncoder writes):
// int and long as zig-zag varints, float and double as little-endian IEEE 754, bytes and strings as a
// long length and the bytes, arrays and maps as one block (count, items) and a zero count, a union as
// the branch index (a long) and the value, a record as its fields in order.

enum AvroBinary {
    @inline(__always)
    static func appendLong(_ value: Int64, to out: inout [UInt8]) {
        var n = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while n >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: n) | 0x80)
            n >>= 7
        }
        out.append(UInt8(n))
    }

    @inline(__always)
    static func appendFloat(_ value: Float, to out: inout [UInt8]) {
        let bits = value.bitPattern
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
    }

    @inline(__always)
    static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        let bits = value.bitPattern
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
    }

    @inline(__always)
    static func appendBytes<C: Collection>(_ bytes: C, to out: inout [UInt8]) where C.Element == UInt8 {
        appendLong(Int64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }
}

/// Standard base64 (RFC 4648, with padding), as JsonConverter writes bytes.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    /// Decodes `text` (length a multiple of 4, `=` padding only at the end), appending to `out`;
    /// false when it is not base64.
    static func decode<C: Collection>(_ text: C, into out: inout [UInt8]) -> Bool where C.Element == UInt8 {
        guard text.count % 4 == 0 else { return false }
        var quad: UInt32 = 0
        var filled = 0
        var padding = 0
        for c in text {
            if c == UInt8(ascii: "=") {
                padding += 1
                quad <<= 6
            } else {
                let v = values[Int(c)]
                guard v != 0xFF, padding == 0 else { return false }
                quad = quad << 6 | UInt32(v)
            }
            filled += 1
            if filled == 4 {
                guard padding <= 2 else { return false }
                out.append(UInt8(truncatingIfNeeded: quad >> 16))
                if padding < 2 { out.append(UInt8(truncatingIfNeeded: quad >> 8)) }
                if padding < 1 { out.append(UInt8(truncatingIfNeeded: quad)) }
                quad = 0
                filled = 0
            }
        }
        return true
    }

    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        return decode(Array(text.utf8), into: &out) ? out : nil
    }

    static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = b1 == nil ? nil : iterator.next()
            let v = UInt32(b0) << 16 | UInt32(b1 ?? 0) << 8 | UInt32(b2 ?? 0)
            out.append(alphabet[Int(v >> 18 & 0x3F)])
            out.append(alphabet[Int(v >> 12 & 0x3F)])
            out.append(b1 == nil ? UInt8(ascii: "=") : alphabet[Int(v >> 6 & 0x3F)])
            out.append(b2 == nil ? UInt8(ascii: "=") : alphabet[Int(v & 0x3F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Confluent's wire format for Schema Registry serializers: magic byte 0, the schema id as a 4-byte
/// big-endian integer, then the Avro binary.
public enum ConfluentWireFormat {
    public static let magicByte: UInt8 = 0
    public static let headerLength = 5

    /// The 5-byte header for `schemaID`, with room reserved for `bodyCapacity` more bytes.
    public static func header(schemaID: Int32, bodyCapacity: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headerLength + bodyCapacity)
        let id = UInt32(bitPattern: schemaID)
        out.append(magicByte)
        out.append(UInt8(truncatingIfNeeded: id >> 24))
        out.append(UInt8(truncatingIfNeeded: id >> 16))
        out.append(UInt8(truncatingIfNeeded: id >> 8))
        out.append(UInt8(truncatingIfNeeded: id))
        return out
    }

    /// The schema id and the Avro body of a framed message.
    public static func split(_ message: [UInt8]) throws(AvroError) -> (schemaID: Int32, body: ArraySlice<UInt8>) {
        guard message.count >= headerLength, message[0] == magicByte else {
            throw AvroError(code: .invalidFraming,
                            message: "not a Schema Registry framed message (magic byte 0 and a 4-byte schema id expected)")
        }
        let id = UInt32(message[1]) << 24 | UInt32(message[2]) << 16 | UInt32(message[3]) << 8 | UInt32(message[4])
        return (Int32(bitPattern: id), message[headerLength...])
    }
}
