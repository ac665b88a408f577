// Conversion of one pgoutput text value into its Debezium JSON representation.
//
// Every parser works on raw bytes with explicit bounds and overflow checks and reports
// problems through `ConversionFailure` (a fixed reason text, never the value).

/// Internal failure of a single value conversion; `reason` is fixed text without row contents.
struct ConversionFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

enum ValueConverter {
    /// Appends the JSON for `text` converted according to `kind`.
    static func append(_ out: inout JSONOutput, kind: ConverterKind, text p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        switch kind {
        case .string:
            JSON.appendString(&out, p)
        case .integer(let min, let max):
            try appendInteger(&out, p, min: min, max: max)
        case .bool:
            try appendBool(&out, p)
        case .float:
            try FloatText.append(&out, p)
        case .decimal(let scale):
            try DecimalCodec.appendFixed(&out, p, scale: scale)
        case .variableDecimal:
            try DecimalCodec.appendVariable(&out, p)
        case .money:
            try appendMoney(&out, p)
        case .binary(let mode):
            if mode == .bytes || mode == .base64 {
                try appendBytea(&out, p)
            } else {
                let bytes = try decodeBytea(p)
                BinaryText.append(&out, bytes, mode: mode)
            }
        case .bitAsBool:
            guard p.count == 1, p[0] == Ascii.zero || p[0] == UInt8(ascii: "1") else {
                throw ConversionFailure("not a valid bit(1) value")
            }
            JSON.appendASCII(&out, p[0] == Ascii.zero ? "false" : "true")
        case .date:
            try Temporal.appendDate(&out, p)
        case .time(let micro):
            try Temporal.appendTime(&out, p, micro: micro)
        case .timestamp(let micro):
            try Temporal.appendTimestamp(&out, p, micro: micro)
        case .timestamptz(let fractionDigits):
            try Temporal.appendTimestampTZ(&out, p, fractionDigits: fractionDigits)
        case .timetz:
            try Temporal.appendTimeTZ(&out, p)
        case .interval:
            try Temporal.appendInterval(&out, p)
        case .intervalString:
            try IntervalISO.append(&out, p)
        case .bits:
            try BitString.append(&out, p)
        case .decimalString:
            try DecimalText.appendString(&out, p)
        case .decimalDouble:
            try DecimalText.appendDouble(&out, p)
        case .moneyString:
            DecimalText.appendMoneyString(&out, cents: try parseMoneyCents(p))
        case .moneyDouble:
            DecimalText.appendMoneyDouble(&out, cents: try parseMoneyCents(p))
        case .hstoreJSON:
            try HstoreLiteral.appendJSONString(&out, p)
        case .hstoreMap:
            try HstoreLiteral.appendMap(&out, p)
        case .array:
            // Arrays need the table's element kinds; the encoder converts them itself.
            throw ConversionFailure("array converted without its element type")
        }
    }

    // MARK: integers

    /// Parses an optionally signed decimal integer into Int64 (overflow-checked).
    static func parseInt64(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Int64 {
        let n = p.count
        guard n > 0 else { throw ConversionFailure("empty integer") }
        var i = 0
        var negative = false
        if p[0] == Ascii.minus { negative = true; i = 1 } else if p[0] == Ascii.plus { i = 1 }
        guard i < n else { throw ConversionFailure("not a valid integer") }
        var magnitude: UInt64 = 0
        while i < n {
            let d = p[i] &- Ascii.zero
            guard d < 10 else { throw ConversionFailure("not a valid integer") }
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(d))
            guard !o1 && !o2 else { throw ConversionFailure("integer out of range") }
            magnitude = m2
            i &+= 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw ConversionFailure("integer out of range") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw ConversionFailure("integer out of range") }
        return Int64(magnitude)
    }

    static func appendInteger(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>, min: Int64, max: Int64) throws(ConversionFailure) {
        let v = try parseInt64(p)
        guard v >= min && v <= max else { throw ConversionFailure("integer out of range for the type") }
        // Canonical text (what PostgreSQL prints) is copied; anything else is re-printed.
        let first = p[0]
        let canonical: Bool
        if first == Ascii.minus {
            canonical = p.count > 1 && p[1] != Ascii.zero
        } else {
            canonical = first != Ascii.plus && (first != Ascii.zero || p.count == 1)
        }
        if canonical { out.append(contentsOf: p) } else { JSON.appendInt(&out, v) }
    }

    // MARK: bool

    static func appendBool(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        if p.count == 1 {
            switch p[0] {
            case UInt8(ascii: "t"): JSON.appendASCII(&out, "true"); return
            case UInt8(ascii: "f"): JSON.appendASCII(&out, "false"); return
            default: break
            }
        } else if bytesEqual(p, "true") {
            JSON.appendASCII(&out, "true"); return
        } else if bytesEqual(p, "false") {
            JSON.appendASCII(&out, "false"); return
        }
        throw ConversionFailure("not a valid boolean")
    }

    // MARK: money

    /// Parses lc_monetary=C output ("$1,234.56", "-$1.00", "($1.00)") into cents, rounding
    /// further fraction digits HALF_UP like Debezium's setScale(2, HALF_UP).
    static func parseMoneyCents(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Int64 {
        let n = p.count
        var i = 0
        var negative = false
        var paren = false
        let bad = ConversionFailure("not a valid money value (expected lc_monetary C format)")
        guard n > 0 else { throw bad }
        if p[i] == Ascii.minus { negative = true; i += 1 } else if p[i] == UInt8(ascii: "(") { negative = true; paren = true; i += 1 }
        if i < n && p[i] == UInt8(ascii: "$") { i += 1 }
        if !negative && i < n && p[i] == Ascii.minus { negative = true; i += 1 }
        var magnitude: UInt64 = 0
        var intDigits = 0
        var lastWasDigit = false
        while i < n {
            let b = p[i]
            if b >= Ascii.zero && b <= Ascii.nine {
                let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(UInt64(b - Ascii.zero))
                guard !o1 && !o2 else { throw ConversionFailure("money value out of range") }
                magnitude = m2
                intDigits += 1
                lastWasDigit = true
            } else if b == Ascii.comma {
                guard lastWasDigit else { throw bad }
                lastWasDigit = false
            } else {
                break
            }
            i += 1
        }
        guard intDigits > 0, lastWasDigit else { throw bad }
        var fracDigits = 0
        var roundUp = false
        if i < n && p[i] == Ascii.dot {
            i += 1
            while i < n, p[i] >= Ascii.zero && p[i] <= Ascii.nine {
                let d = UInt64(p[i] - Ascii.zero)
                if fracDigits < 2 {
                    let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (m2, o2) = m1.addingReportingOverflow(d)
                    guard !o1 && !o2 else { throw ConversionFailure("money value out of range") }
                    magnitude = m2
                } else if fracDigits == 2 {
                    roundUp = d >= 5
                }
                fracDigits += 1
                i += 1
            }
            guard fracDigits > 0 else { throw bad }
        }
        var k = fracDigits
        while k < 2 {
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
            guard !o1 else { throw ConversionFailure("money value out of range") }
            magnitude = m1
            k += 1
        }
        if roundUp {
            let (m1, o1) = magnitude.addingReportingOverflow(1)
            guard !o1 else { throw ConversionFailure("money value out of range") }
            magnitude = m1
        }
        if paren {
            guard i < n && p[i] == UInt8(ascii: ")") else { throw bad }
            i += 1
        }
        guard i == n else { throw bad }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { throw ConversionFailure("money value out of range") }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw ConversionFailure("money value out of range") }
        return Int64(magnitude)
    }

    static func appendMoney(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        let cents = try parseMoneyCents(p)
        DecimalCodec.appendUnscaledInt64Base64(&out, cents)
    }

    // MARK: bytea

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x61...0x66: return b - 0x61 + 10
        case 0x41...0x46: return b - 0x41 + 10
        default: return nil
        }
    }

    /// The bytes of a bytea text value (hex or escape format).
    static func decodeBytea(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> [UInt8] {
        let n = p.count
        if n >= 2 && p[0] == Ascii.backslash && p[1] == UInt8(ascii: "x") {
            guard (n - 2) % 2 == 0 else { throw ConversionFailure("odd number of hex digits in bytea") }
            var bytes: [UInt8] = []
            bytes.reserveCapacity((n - 2) / 2)
            var i = 2
            while i < n {
                guard let high = hexValue(p[i]), let low = hexValue(p[i + 1]) else {
                    throw ConversionFailure("invalid hex digit in bytea")
                }
                bytes.append(high << 4 | low)
                i += 2
            }
            return bytes
        }
        return try decodeByteaEscape(p)
    }

    /// bytea text: hex format `\x0a0b...` (default bytea_output) or, defensively, escape format.
    static func appendBytea(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        let n = p.count
        if n >= 2 && p[0] == Ascii.backslash && p[1] == UInt8(ascii: "x") {
            guard (n - 2) % 2 == 0 else { throw ConversionFailure("odd number of hex digits in bytea") }
            // One pass: on invalid input the encoder cuts the field's partial output back (appendField).
            out.append(Ascii.quote)
            var stream = JSON.Base64Stream()
            var i = 2
            while i < n {
                guard let high = hexValue(p[i]), let low = hexValue(p[i + 1]) else {
                    throw ConversionFailure("invalid hex digit in bytea")
                }
                stream.push(high << 4 | low, &out)
                i += 2
            }
            stream.finish(&out)
            out.append(Ascii.quote)
            return
        }
        let decoded = try decodeByteaEscape(p)
        JSON.appendBase64String(&out, decoded)
    }

    /// Escape format: `\\` is a backslash, `\ooo` an octal byte, everything else literal.
    static func decodeByteaEscape(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> [UInt8] {
        let n = p.count
        var decoded: [UInt8] = []
        decoded.reserveCapacity(n)
        var i = 0
        while i < n {
            let b = p[i]
            if b != Ascii.backslash {
                decoded.append(b)
                i += 1
                continue
            }
            if i + 1 < n && p[i + 1] == Ascii.backslash {
                decoded.append(Ascii.backslash)
                i += 2
                continue
            }
            guard i + 3 < n else { throw ConversionFailure("invalid bytea escape") }
            let d1 = p[i + 1] &- Ascii.zero, d2 = p[i + 2] &- Ascii.zero, d3 = p[i + 3] &- Ascii.zero
            guard d1 <= 3, d2 <= 7, d3 <= 7 else { throw ConversionFailure("invalid bytea escape") }
            decoded.append(d1 << 6 | d2 << 3 | d3)
            i += 4
        }
        return decoded
    }

    // MARK: helpers

    @inline(__always)
    static func bytesEqual(_ p: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        s.withUTF8Buffer { lit in
            guard lit.count == p.count else { return false }
            for k in 0..<lit.count where lit[k] != p[k] { return false }
            return true
        }
    }
}
