// bytea in Debezium's binary.handling.mode, and the placeholder values Debezium puts in place of
// unchanged TOASTed columns, shaped like the column (UnchangedToastedPlaceholder).

enum BinaryText {
    /// Appends `bytes` as JsonConverter writes them for `mode`: `bytes` (a Connect BYTES value) and
    /// `base64` both become standard base64 with padding; `base64-url-safe` uses Java's URL encoder
    /// (`-` and `_`, padding kept); `hex` uses Debezium's HexConverter (lower case).
    static func append<C: Collection>(_ out: inout JSONOutput, _ bytes: C, mode: EncoderOptions.BinaryHandling)
    where C.Element == UInt8 {
        switch mode {
        case .bytes, .base64:
            JSON.appendBase64String(&out, bytes)
        case .base64URLSafe:
            let start = out.count
            JSON.appendBase64String(&out, bytes)
            for i in start..<out.count {
                if out[i] == UInt8(ascii: "+") { out[i] = UInt8(ascii: "-") } else if out[i] == UInt8(ascii: "/") { out[i] = UInt8(ascii: "_") }
            }
        case .hex:
            let digits: StaticString = "0123456789abcdef"
            out.append(Ascii.quote)
            digits.withUTF8Buffer { d in
                for b in bytes {
                    out.append(d[Int(b >> 4)])
                    out.append(d[Int(b & 0x0F)])
                }
            }
            out.append(Ascii.quote)
        }
    }
}

enum ToastPlaceholder {
    /// The JSON written for an unchanged TOASTed value of a column, following Debezium's
    /// `UnchangedToastedReplicationMessageColumn.markerForType` and `UnchangedToastedPlaceholder`:
    /// text-like arrays get `[placeholder]`, bytea arrays `[bytes of placeholder]`, int4/date and int8
    /// arrays the placeholder's bytes as numbers, uuid arrays `[UUID.nameUUIDFromBytes(placeholder)]`,
    /// hstore `{placeholder: placeholder}`, bytea the placeholder's bytes, everything else the string.
    static func json(placeholder: String, kind: ConverterKind, elementKind: ConverterKind?, arrayElementOID: UInt32?) -> [UInt8] {
        let bytes = Array(placeholder.utf8)
        var out = JSONOutput(capacity: 64)
        if let element = arrayElementOID {
            switch element {
            case PGType.text, PGType.varchar, PGType.bpchar, PGType.json, PGType.jsonb:
                out.append(Ascii.openBracket)
                JSON.appendString(&out, placeholder)
                out.append(Ascii.closeBracket)
                return out.bytes()
            case PGType.bytea:
                out.append(Ascii.openBracket)
                if case .binary(let mode)? = elementKind { BinaryText.append(&out, bytes, mode: mode) }
                else { JSON.appendBase64String(&out, bytes) }
                out.append(Ascii.closeBracket)
                return out.bytes()
            case PGType.int4, PGType.date, PGType.int8:
                out.append(Ascii.openBracket)
                for (i, b) in bytes.enumerated() {
                    if i > 0 { out.append(Ascii.comma) }
                    // Java bytes are signed.
                    JSON.appendInt(&out, Int64(Int8(bitPattern: b)))
                }
                out.append(Ascii.closeBracket)
                return out.bytes()
            case PGType.uuid:
                out.append(Ascii.openBracket)
                JSON.appendString(&out, nameBasedUUID(bytes))
                out.append(Ascii.closeBracket)
                return out.bytes()
            default:
                break
            }
        }
        switch kind {
        case .binary(.hex):
            // Debezium's convertBinaryToHex hands the placeholder string through unchanged.
            JSON.appendString(&out, placeholder)
        case .binary(let mode):
            BinaryText.append(&out, bytes, mode: mode)
        case .hstoreMap:
            out.append(Ascii.openBrace)
            JSON.appendString(&out, placeholder)
            out.append(Ascii.colon)
            JSON.appendString(&out, placeholder)
            out.append(Ascii.closeBrace)
        case .hstoreJSON:
            var object = JSONOutput(capacity: 64)
            object.append(Ascii.openBrace)
            JSON.appendString(&object, placeholder)
            object.append(Ascii.colon)
            JSON.appendString(&object, placeholder)
            object.append(Ascii.closeBrace)
            object.withBytes { JSON.appendString(&out, $0) }
        default:
            JSON.appendString(&out, placeholder)
        }
        return out.bytes()
    }

    /// Java's `UUID.nameUUIDFromBytes`: an MD5-based (version 3) UUID, lower-case hex.
    static func nameBasedUUID(_ name: [UInt8]) -> String {
        var digest = MD5.digest(name)
        digest[6] = (digest[6] & 0x0F) | 0x30
        digest[8] = (digest[8] & 0x3F) | 0x80
        let hex: [Character] = Array("0123456789abcdef")
        var s = ""
        for (i, b) in digest.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { s.append("-") }
            s.append(hex[Int(b >> 4)])
            s.append(hex[Int(b & 0x0F)])
        }
        return s
    }
}

/// RFC 1321 MD5: the name-based UUID of the placeholder (computed once per table plan) and the MD5 of
/// `column.mask.hash.MD5...` (`DigestAlgorithm`).
enum MD5 {
    private static let shifts: [UInt32] = [7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                                           5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
                                           4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                                           6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]
    /// floor(abs(sin(i + 1)) * 2^32).
    private static let constants: [UInt32] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
    ]

    static func digest(_ message: [UInt8]) -> [UInt8] {
        var data = message
        let bitLength = UInt64(message.count) &* 8
        data.append(0x80)
        while data.count % 64 != 56 { data.append(0) }
        for i in 0..<8 { data.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        var a0: UInt32 = 0x67452301, b0: UInt32 = 0xefcdab89, c0: UInt32 = 0x98badcfe, d0: UInt32 = 0x10325476
        for chunk in stride(from: 0, to: data.count, by: 64) {
            var m = [UInt32](repeating: 0, count: 16)
            for i in 0..<16 {
                let o = chunk + i * 4
                m[i] = UInt32(data[o]) | UInt32(data[o + 1]) << 8 | UInt32(data[o + 2]) << 16 | UInt32(data[o + 3]) << 24
            }
            var a = a0, b = b0, c = c0, d = d0
            for i in 0..<64 {
                var f: UInt32
                let g: Int
                switch i {
                case 0..<16: f = (b & c) | (~b & d); g = i
                case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                default: f = c ^ (b | ~d); g = (7 * i) % 16
                }
                f = f &+ a &+ constants[i] &+ m[g]
                a = d
                d = c
                c = b
                b = b &+ ((f << shifts[i]) | (f >> (32 - shifts[i])))
            }
            a0 = a0 &+ a; b0 = b0 &+ b; c0 = c0 &+ c; d0 = d0 &+ d
        }
        var out: [UInt8] = []
        for v in [a0, b0, c0, d0] { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        return out
    }
}
