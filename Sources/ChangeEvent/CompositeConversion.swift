// Conversions of structured text values: arrays and bit strings, and the non-default
// decimal.handling.mode outputs. (hstore: HstoreLiteral.swift; interval strings: IntervalISO.swift.)

/// PostgreSQL array output: `{1,2,NULL}`, `{"a,b","c\"d",NULL}`, `{{1,2},{3,4}}`, optionally preceded by
/// dimension bounds `[0:1]={…}`. Elements that need it are double-quoted with backslash escapes; an
/// unquoted `NULL` (any case) is SQL NULL, a quoted "NULL" is the string.
enum ArrayLiteral {
    /// PostgreSQL's MAXDIM.
    static let maximumDepth = 6

    /// Appends the array as a JSON array (nested for multi-dimensional arrays), converting each
    /// element with `element` and writing `null` for NULL elements.
    static func append(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>,
                       element: (inout JSONOutput, UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Void) throws(ConversionFailure) {
        let bad = ConversionFailure("not a valid array literal")
        var i = 0
        let n = p.count
        if n > 0 && p[0] == UInt8(ascii: "[") {
            // Dimension decoration: [lo:hi][lo:hi]=
            while i < n && p[i] != UInt8(ascii: "=") {
                let b = p[i]
                guard b == UInt8(ascii: "[") || b == UInt8(ascii: "]") || b == Ascii.colon || b == Ascii.minus
                        || (b >= Ascii.zero && b <= Ascii.nine) else { throw bad }
                i += 1
            }
            guard i < n else { throw bad }
            i += 1
        }
        var scratch: [UInt8] = []
        var depth = 0
        // Whether the current level is waiting for its first item (to accept an immediate '}').
        var expectingItem = false
        while true {
            skipSpace(p, &i)
            guard i < n else { throw bad }
            if depth == 0 {
                guard p[i] == Ascii.openBrace else { throw bad }
                out.append(Ascii.openBracket)
                depth = 1
                i += 1
                expectingItem = true
                continue
            }
            if expectingItem {
                if p[i] == Ascii.closeBrace {
                    // Empty level.
                    out.append(Ascii.closeBracket)
                    i += 1
                    depth -= 1
                    expectingItem = false
                    if depth == 0 { break }
                    continue
                }
                if p[i] == Ascii.openBrace {
                    guard depth < maximumDepth else { throw ConversionFailure("array nested too deeply") }
                    out.append(Ascii.openBracket)
                    depth += 1
                    i += 1
                    continue
                }
                try appendElement(&out, p, &i, &scratch, element)
                expectingItem = false
                continue
            }
            // After an item: ',' or '}'.
            if p[i] == Ascii.comma {
                out.append(Ascii.comma)
                i += 1
                expectingItem = true
                skipSpace(p, &i)
                // "{1,}" is not valid.
                guard i < n, p[i] != Ascii.closeBrace else { throw bad }
                continue
            }
            guard p[i] == Ascii.closeBrace else { throw bad }
            out.append(Ascii.closeBracket)
            i += 1
            depth -= 1
            if depth == 0 { break }
        }
        skipSpace(p, &i)
        guard i == n else { throw bad }
    }

    @inline(__always)
    private static func skipSpace(_ p: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < p.count, Ascii.isSpace(p[i]) { i += 1 }
    }

    private static func appendElement(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>, _ i: inout Int,
                                      _ scratch: inout [UInt8],
                                      _ element: (inout JSONOutput, UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Void) throws(ConversionFailure) {
        let n = p.count
        let bad = ConversionFailure("not a valid array literal")
        if p[i] == Ascii.quote {
            i += 1
            scratch.removeAll(keepingCapacity: true)
            var closed = false
            while i < n {
                let b = p[i]
                if b == Ascii.backslash {
                    guard i + 1 < n else { throw bad }
                    scratch.append(p[i + 1])
                    i += 2
                } else if b == Ascii.quote {
                    i += 1
                    closed = true
                    break
                } else {
                    scratch.append(b)
                    i += 1
                }
            }
            guard closed else { throw bad }
            try scratch.withUnsafeBufferPointer { (buffer) throws(ConversionFailure) in try element(&out, buffer) }
            return
        }
        // Unquoted: up to ',' or '}' (backslash escapes allowed), trailing spaces dropped.
        let start = i
        var escaped = false
        while i < n && p[i] != Ascii.comma && p[i] != Ascii.closeBrace {
            guard p[i] != Ascii.openBrace && p[i] != Ascii.quote else { throw bad }
            if p[i] == Ascii.backslash { escaped = true; i += 2 } else { i += 1 }
        }
        guard i <= n else { throw bad }
        var end = i
        while end > start && Ascii.isSpace(p[end - 1]) { end -= 1 }
        guard end > start else { throw bad }
        let raw = UnsafeBufferPointer(rebasing: p[start..<end])
        if !escaped && raw.count == 4 && isNull(raw) {
            JSON.appendASCII(&out, "null")
            return
        }
        if escaped {
            scratch.removeAll(keepingCapacity: true)
            var k = 0
            while k < raw.count {
                if raw[k] == Ascii.backslash {
                    guard k + 1 < raw.count else { throw bad }
                    scratch.append(raw[k + 1])
                    k += 2
                } else {
                    scratch.append(raw[k])
                    k += 1
                }
            }
            try scratch.withUnsafeBufferPointer { (buffer) throws(ConversionFailure) in try element(&out, buffer) }
        } else {
            try element(&out, raw)
        }
    }

    private static func isNull(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        (p[0] | 0x20) == UInt8(ascii: "n") && (p[1] | 0x20) == UInt8(ascii: "u")
            && (p[2] | 0x20) == UInt8(ascii: "l") && (p[3] | 0x20) == UInt8(ascii: "l")
    }
}

/// bit(n) / varbit as io.debezium.data.Bits: Debezium reads the text into a java.util.BitSet with the
/// last character as bit 0 and writes `BitSet.toByteArray()`: little-endian, only up to the highest set
/// bit (all zeros: no bytes). Its `padLittleEndian` pads to that same count, so nothing is padded.
enum BitString {
    static func append(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        var bytes = [UInt8](repeating: 0, count: (p.count + 7) / 8)
        for (index, b) in p.enumerated() {
            let bit = p.count - 1 - index
            switch b {
            case Ascii.zero: break
            case UInt8(ascii: "1"): bytes[bit / 8] |= UInt8(1) << UInt8(bit % 8)
            default: throw ConversionFailure("not a valid bit string")
            }
        }
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        JSON.appendBase64String(&out, bytes)
    }
}

/// decimal.handling.mode string and double.
enum DecimalText {
    /// BigDecimal.toPlainString of digits × 10^exponent (digits without leading zeros).
    static func appendPlain(_ out: inout JSONOutput, _ digits: [UInt8], _ exponent: Int) {
        if exponent >= 0 {
            out.append(contentsOf: digits)
            for _ in 0..<exponent { out.append(Ascii.zero) }
            return
        }
        let intCount = digits.count + exponent
        if intCount > 0 {
            out.append(contentsOf: digits[0..<intCount])
            out.append(Ascii.dot)
            out.append(contentsOf: digits[intCount...])
        } else {
            out.append(Ascii.zero)
            out.append(Ascii.dot)
            for _ in 0..<(-intCount) { out.append(Ascii.zero) }
            out.append(contentsOf: digits)
        }
    }

    /// `BigDecimal.toString()` of the value (Debezium's STRING mode), which switches to scientific
    /// notation below 1E-6 ("1E-7", "0E-8"); NaN and ±Infinity become SpecialValueDecimal's names
    /// "NAN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY".
    static func appendString(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        guard let parsed = try DecimalCodec.parse(p) else {
            if ValueConverter.bytesEqual(p, "NaN") { JSON.appendASCII(&out, "\"NAN\"") }
            else if ValueConverter.bytesEqual(p, "Infinity") { JSON.appendASCII(&out, "\"POSITIVE_INFINITY\"") }
            else { JSON.appendASCII(&out, "\"NEGATIVE_INFINITY\"") }
            return
        }
        // Unscaled digits without leading zeros, and the scale.
        var digits: [UInt8] = []
        for k in parsed.intDigits { digits.append(p[k]) }
        for k in parsed.fracDigits { digits.append(p[k]) }
        var first = 0
        while first < digits.count - 1 && digits[first] == Ascii.zero { first += 1 }
        let coefficient = Array(digits[first...])
        let scale = parsed.fracDigits.count
        let isZero = coefficient == [Ascii.zero]
        out.append(Ascii.quote)
        if parsed.negative && !isZero { out.append(Ascii.minus) }
        let adjusted = coefficient.count - 1 - scale
        if scale == 0 || adjusted >= -6 {
            appendPlain(&out, coefficient, -scale)
        } else {
            out.append(coefficient[0])
            if coefficient.count > 1 {
                out.append(Ascii.dot)
                out.append(contentsOf: coefficient[1...])
            }
            out.append(UInt8(ascii: "E"))
            JSON.appendInt(&out, Int64(adjusted))
        }
        out.append(Ascii.quote)
    }

    /// `BigDecimal.doubleValue()` written as Java's Double.toString (Debezium's DOUBLE mode); NaN and
    /// ±Infinity as JsonConverter writes non-finite doubles ("NaN", "Infinity", "-Infinity").
    static func appendDouble(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        guard try DecimalCodec.parse(p) != nil else {
            if ValueConverter.bytesEqual(p, "NaN") { JSON.appendASCII(&out, "\"NaN\"") }
            else if ValueConverter.bytesEqual(p, "Infinity") { JSON.appendASCII(&out, "\"Infinity\"") }
            else { JSON.appendASCII(&out, "\"-Infinity\"") }
            return
        }
        // Swift's Double(String) rounds correctly, like BigDecimal.doubleValue().
        guard let value = Double(String(decoding: p, as: UTF8.self)) else {
            throw ConversionFailure("not a valid numeric")
        }
        // A BigDecimal zero has no sign ("-0.00" is 0.0); only a non-zero value that underflows keeps it.
        JavaDouble.append(&out, value == 0 && isZero(p) ? 0 : value)
    }

    private static func isZero(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        !p.contains { $0 >= UInt8(ascii: "1") && $0 <= Ascii.nine }
    }

    /// money in DOUBLE mode: `BigDecimal.doubleValue()` of the amount, correctly rounded (cents / 100 in
    /// doubles would round twice above 2^53 cents).
    static func appendMoneyDouble(_ out: inout JSONOutput, cents: Int64) {
        let magnitude = cents.magnitude
        let text = (cents < 0 ? "-" : "") + "\(magnitude / 100)." + (magnitude % 100 < 10 ? "0" : "") + "\(magnitude % 100)"
        let value = Double(text) ?? Double(cents) / 100
        JavaDouble.append(&out, value == 0 ? 0 : value)
    }

    /// money in STRING mode: the amount with two fraction digits, as BigDecimal.toString prints it.
    static func appendMoneyString(_ out: inout JSONOutput, cents: Int64) {
        out.append(Ascii.quote)
        if cents < 0 { out.append(Ascii.minus) }
        let magnitude = cents.magnitude
        JSON.appendUInt(&out, magnitude / 100)
        out.append(Ascii.dot)
        let fraction = magnitude % 100
        out.append(Ascii.zero + UInt8(fraction / 10))
        out.append(Ascii.zero + UInt8(fraction % 10))
        out.append(Ascii.quote)
    }
}
