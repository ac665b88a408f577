// Minimal, allocation-free JSON writing primitives that append UTF-8 bytes to a [UInt8].
//
// The output mirrors what Kafka Connect's JsonConverter (Jackson) writes:
//  * strings: `"` and `\` escaped, the control characters U+0000..U+001F escaped as
//    \b \t \n \f \r or \u00XX (upper-case hex, Jackson's style); characters outside the Basic
//    Multilingual Plane (emoji, U+10000 and up) as their UTF-16 surrogate pair, `\uD83D\uDE00`, as
//    Jackson's UTF8JsonGenerator writes them (`_outputMultiByteChar`: "outside of BMP; add an escape");
//    everything else, DEL and the rest of non-ASCII included, is written as raw UTF-8;
//  * invalid UTF-8 input is repaired with U+FFFD per maximal subpart (what Java's
//    UTF-8 decoder does when Debezium builds a String from the bytes);
//  * binary values as standard base64 with padding (Jackson's MIME_NO_LINEFEEDS).

@usableFromInline
enum Ascii {
    static let quote: UInt8 = 0x22
    static let backslash: UInt8 = 0x5C
    static let comma: UInt8 = 0x2C
    static let colon: UInt8 = 0x3A
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
    static let openBracket: UInt8 = 0x5B
    static let closeBracket: UInt8 = 0x5D
    static let minus: UInt8 = 0x2D
    static let plus: UInt8 = 0x2B
    static let dot: UInt8 = 0x2E
    static let space: UInt8 = 0x20
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39

    /// PostgreSQL's isspace for array and hstore literals: space, \t, \n, \v, \f, \r.
    @inline(__always)
    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }
}

@inline(__always)
private func hexUpper(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 &+ v : 0x41 &+ (v &- 10) }

/// Standard base64 alphabet without a table lookup.
@inline(__always)
private func base64Char(_ v: UInt32) -> UInt8 {
    let x = UInt8(truncatingIfNeeded: v & 0x3F)
    if x < 26 { return 0x41 &+ x }          // A-Z
    if x < 52 { return 0x61 &+ (x &- 26) }  // a-z
    if x < 62 { return 0x30 &+ (x &- 52) }  // 0-9
    return x == 62 ? 0x2B : 0x2F            // + /
}

enum JSON {
    // MARK: literals

    @inline(__always)
    static func appendASCII(_ out: inout JSONOutput, _ s: StaticString) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    // MARK: integers

    /// Appends the decimal representation of `value` (never traps, handles Int64.min).
    static func appendInt(_ out: inout JSONOutput, _ value: Int64) {
        if value < 0 {
            out.append(Ascii.minus)
            appendUInt(&out, value.magnitude)
        } else {
            appendUInt(&out, UInt64(value))
        }
    }

    static func appendUInt(_ out: inout JSONOutput, _ value: UInt64) {
        out.appendDecimal(value)
    }

    // MARK: strings

    /// Appends `s` as a JSON string literal (with quotes).
    static func appendString(_ out: inout JSONOutput, _ s: String) {
        var s = s
        s.withUTF8 { appendString(&out, $0) }
    }

    /// Appends the bytes as a JSON string literal (with quotes). `escapingSupplementary: false` leaves
    /// characters outside the Basic Multilingual Plane as UTF-8, as Jackson's character writers do
    /// (`writeValueAsString`): for JSON text that becomes a string value of the event.
    static func appendString(_ out: inout JSONOutput, _ bytes: UnsafeBufferPointer<UInt8>,
                             escapingSupplementary: Bool = true) {
        out.append(Ascii.quote)
        appendStringContents(&out, bytes, escapingSupplementary: escapingSupplementary)
        out.append(Ascii.quote)
    }

    /// Appends the escaped contents of a JSON string (without quotes).
    static func appendStringContents(_ out: inout JSONOutput, _ bytes: UnsafeBufferPointer<UInt8>,
                                     escapingSupplementary: Bool = true) {
        let n = bytes.count
        guard n > 0 else { return }
        var i = 0
        var runStart = 0
        let start = bytes.baseAddress!
        while i < n {
            // Eight bytes at a time while none needs attention (most text is plain ASCII), then straight
            // to the first byte that does: the byte handling below returns here, and the next word test
            // then starts just past that byte rather than testing it again.
            while i &+ 8 <= n {
                let mask = attentionMask(UInt64(littleEndian: UnsafeRawPointer(start + i).loadUnaligned(as: UInt64.self)))
                if mask == 0 {
                    i &+= 8
                    continue
                }
                i &+= mask.trailingZeroBitCount &>> 3
                break
            }
            guard i < n else { break }
            let b = bytes[i]
            if b < 0x80 {
                if b >= 0x20 && b != Ascii.quote && b != Ascii.backslash {
                    i &+= 1
                    continue
                }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                appendEscape(&out, b)
                i &+= 1
                runStart = i
            } else {
                let len = validUTF8SequenceLength(bytes, i)
                if len == 4 && escapingSupplementary {
                    if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                    appendSurrogatePair(&out, bytes, i)
                    i &+= 4
                    runStart = i
                    continue
                }
                if len > 0 {
                    i &+= len
                    continue
                }
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                // U+FFFD REPLACEMENT CHARACTER for one maximal subpart.
                out.append(0xEF); out.append(0xBF); out.append(0xBD)
                i &+= maximalSubpartLength(bytes, i)
                runStart = i
            }
        }
        if runStart < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n])) }
    }

    /// Whether any of the eight bytes in `word` is below 0x20, a quote, a backslash or non-ASCII.
    @inline(__always)
    static func needsAttention(_ word: UInt64) -> Bool { attentionMask(word) != 0 }

    /// The high bit of each byte of `word` (byte 0 in the low bits) that is below 0x20, a quote, a
    /// backslash or non-ASCII: the classic "has a zero byte" bit trick, applied to `word`, `word ^ '"'`
    /// and `word ^ '\\'`. A borrow can flag a byte only above one truly flagged, so the lowest set bit
    /// is always a byte that needs attention.
    @inline(__always)
    static func attentionMask(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- 0x20 &* ones) & ~word
        let quotes = word ^ (0x22 &* ones)
        let backslashes = word ^ (0x5C &* ones)
        let quote = (quotes &- ones) & ~quotes
        let backslash = (backslashes &- ones) & ~backslashes
        return (control | quote | backslash | word) & highBits
    }

    /// The well-formed 4-byte UTF-8 sequence at `i` (U+10000...U+10FFFF) as Jackson writes it: two
    /// `\uXXXX` escapes of its UTF-16 surrogates, upper-case hex.
    private static func appendSurrogatePair(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>, _ i: Int) {
        let scalar = (UInt32(p[i] & 0x07) << 18) | (UInt32(p[i + 1] & 0x3F) << 12)
            | (UInt32(p[i + 2] & 0x3F) << 6) | UInt32(p[i + 3] & 0x3F)
        let v = scalar &- 0x10000
        for unit in [0xD800 | (v >> 10), 0xDC00 | (v & 0x3FF)] {
            out.append(Ascii.backslash)
            out.append(UInt8(ascii: "u"))
            for shift in stride(from: 12, through: 0, by: -4) {
                out.append(hexUpper(UInt8(truncatingIfNeeded: (unit >> UInt32(shift)) & 0xF)))
            }
        }
    }

    @inline(__always)
    private static func appendEscape(_ out: inout JSONOutput, _ b: UInt8) {
        out.append(Ascii.backslash)
        switch b {
        case Ascii.quote: out.append(Ascii.quote)
        case Ascii.backslash: out.append(Ascii.backslash)
        case 0x08: out.append(UInt8(ascii: "b"))
        case 0x09: out.append(UInt8(ascii: "t"))
        case 0x0A: out.append(UInt8(ascii: "n"))
        case 0x0C: out.append(UInt8(ascii: "f"))
        case 0x0D: out.append(UInt8(ascii: "r"))
        default:
            out.append(UInt8(ascii: "u"))
            out.append(Ascii.zero)
            out.append(Ascii.zero)
            out.append(hexUpper(b >> 4))
            out.append(hexUpper(b & 0x0F))
        }
    }

    /// Length (2...4) of the well-formed UTF-8 sequence starting at `i` (lead byte >= 0x80), or 0.
    @inline(__always)
    static func validUTF8SequenceLength(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let n = p.count
        let b0 = p[i]
        @inline(__always) func cont(_ k: Int) -> Bool { k < n && (p[k] & 0xC0) == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            return cont(i + 1) ? 2 : 0
        case 0xE0:
            guard i + 2 < n, (0xA0...0xBF).contains(p[i + 1]), cont(i + 2) else { return 0 }
            return 3
        case 0xE1...0xEC, 0xEE...0xEF:
            return cont(i + 1) && cont(i + 2) ? 3 : 0
        case 0xED:
            guard i + 2 < n, (0x80...0x9F).contains(p[i + 1]), cont(i + 2) else { return 0 }
            return 3
        case 0xF0:
            guard i + 3 < n, (0x90...0xBF).contains(p[i + 1]), cont(i + 2), cont(i + 3) else { return 0 }
            return 4
        case 0xF1...0xF3:
            return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0
        case 0xF4:
            guard i + 3 < n, (0x80...0x8F).contains(p[i + 1]), cont(i + 2), cont(i + 3) else { return 0 }
            return 4
        default:
            return 0
        }
    }

    /// Length (>= 1) of the maximal subpart of an ill-formed sequence starting at `i` (Unicode §3.9).
    static func maximalSubpartLength(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        let n = p.count
        let b0 = p[i]
        let needed: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch b0 {
        case 0xC2...0xDF: needed = 1
        case 0xE0: needed = 2; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: needed = 2
        case 0xED: needed = 2; secondRange = 0x80...0x9F
        case 0xF0: needed = 3; secondRange = 0x90...0xBF
        case 0xF1...0xF3: needed = 3
        case 0xF4: needed = 3; secondRange = 0x80...0x8F
        default: return 1
        }
        var len = 1
        var k = i + 1
        while len <= needed && k < n {
            let b = p[k]
            let ok = (len == 1) ? secondRange.contains(b) : (b & 0xC0) == 0x80
            if !ok { break }
            len += 1
            k += 1
        }
        return len
    }

    // MARK: base64

    /// Incremental standard base64 encoder (with '=' padding) appending to `out`.
    struct Base64Stream {
        private var pending: UInt32 = 0
        private var pendingCount = 0

        @inline(__always)
        mutating func push(_ b: UInt8, _ out: inout JSONOutput) {
            pending = (pending << 8) | UInt32(b)
            pendingCount &+= 1
            if pendingCount == 3 {
                out.append(base64Char((pending >> 18) & 0x3F))
                out.append(base64Char((pending >> 12) & 0x3F))
                out.append(base64Char((pending >> 6) & 0x3F))
                out.append(base64Char(pending & 0x3F))
                pending = 0
                pendingCount = 0
            }
        }

        mutating func finish(_ out: inout JSONOutput) {
            switch pendingCount {
            case 1:
                let v = pending << 16
                out.append(base64Char((v >> 18) & 0x3F))
                out.append(base64Char((v >> 12) & 0x3F))
                out.append(UInt8(ascii: "="))
                out.append(UInt8(ascii: "="))
            case 2:
                let v = pending << 8
                out.append(base64Char((v >> 18) & 0x3F))
                out.append(base64Char((v >> 12) & 0x3F))
                out.append(base64Char((v >> 6) & 0x3F))
                out.append(UInt8(ascii: "="))
            default:
                break
            }
            pending = 0
            pendingCount = 0
        }
    }

    /// Appends `"<base64>"`.
    static func appendBase64String<C: Collection>(_ out: inout JSONOutput, _ bytes: C) where C.Element == UInt8 {
        out.append(Ascii.quote)
        var s = Base64Stream()
        for b in bytes { s.push(b, &out) }
        s.finish(&out)
        out.append(Ascii.quote)
    }
}
