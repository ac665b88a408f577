// Conversions of structured text values: arrays, hstore, bit strings, and the non-default
// decimal.handling.mode / interval.handling.mode outputs.

/// PostgreSQL array output: `{1,2,NULL}`, `{"a,b","c\"d",NULL}`, `{{1,2},{3,4}}`, optionally preceded by
/// dimension bounds `[0:1]={…}`. Elements that need it are double-quoted with backslash escapes; an
/// unquoted `NULL` (any case) is SQL NULL, a quoted "NULL" is the string.
enum ArrayLiteral {
    /// PostgreSQL's MAXDIM.
    static let maximumDepth = 6

    /// Appends the array as a JSON array (nested for multi-dimensional arrays), converting each
    /// element with `element` and writing `null` for NULL elements.
    static func append(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>,
                       element: (inout [UInt8], UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Void) throws(ConversionFailure) {
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
        while i < p.count, isSpace(p[i]) { i += 1 }
    }

    @inline(__always)
    static func isSpace(_ b: UInt8) -> Bool {
        b == Ascii.space || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C
    }

    private static func appendElement(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>, _ i: inout Int,
                                      _ scratch: inout [UInt8],
                                      _ element: (inout [UInt8], UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Void) throws(ConversionFailure) {
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
        while end > start && isSpace(p[end - 1]) { end -= 1 }
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

/// hstore output: `"key"=>"value", "k2"=>NULL`. Debezium reads it into a java.util.HashMap (pgjdbc's
/// HStoreConverter) and serialises the map in HashMap iteration order, so the pairs are written in that
/// order: by bucket of Java's String.hashCode for the map's final capacity, insertion order within a bucket.
enum HstoreLiteral {
    struct Pair {
        var key: [UInt8]
        var value: [UInt8]?
    }

    static func parse(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> [Pair] {
        let bad = ConversionFailure("not a valid hstore value")
        var pairs: [Pair] = []
        var i = 0
        let n = p.count
        func skipSpace() { while i < n, ArrayLiteral.isSpace(p[i]) { i += 1 } }
        func quoted() throws(ConversionFailure) -> [UInt8] {
            guard i < n, p[i] == Ascii.quote else { throw bad }
            i += 1
            var bytes: [UInt8] = []
            while i < n {
                let b = p[i]
                if b == Ascii.backslash {
                    guard i + 1 < n else { throw bad }
                    bytes.append(p[i + 1])
                    i += 2
                } else if b == Ascii.quote {
                    i += 1
                    return bytes
                } else {
                    bytes.append(b)
                    i += 1
                }
            }
            throw bad
        }
        skipSpace()
        while i < n {
            let key = try quoted()
            skipSpace()
            guard i + 1 < n, p[i] == UInt8(ascii: "="), p[i + 1] == UInt8(ascii: ">") else { throw bad }
            i += 2
            skipSpace()
            var value: [UInt8]?
            if i < n && p[i] == Ascii.quote {
                value = try quoted()
            } else {
                guard i + 4 <= n, (p[i] | 0x20) == UInt8(ascii: "n"), (p[i + 1] | 0x20) == UInt8(ascii: "u"),
                      (p[i + 2] | 0x20) == UInt8(ascii: "l"), (p[i + 3] | 0x20) == UInt8(ascii: "l") else { throw bad }
                i += 4
            }
            pairs.append(Pair(key: key, value: value))
            skipSpace()
            if i < n {
                guard p[i] == Ascii.comma else { throw bad }
                i += 1
                skipSpace()
                guard i < n else { throw bad }
            }
        }
        return javaHashMapOrder(pairs)
    }

    /// Java's `String.hashCode` over the UTF-16 code units of the UTF-8 key.
    static func javaHashCode(_ utf8: [UInt8]) -> Int32 {
        var h: Int32 = 0
        for unit in String(decoding: utf8, as: UTF8.self).utf16 {
            h = h &* 31 &+ Int32(unit)
        }
        return h
    }

    /// The iteration order of a java.util.HashMap filled with `pairs` in order (later duplicates replace
    /// the value in place).
    static func javaHashMapOrder(_ pairs: [Pair]) -> [Pair] {
        var unique: [Pair] = []
        var positions: [[UInt8]: Int] = [:]
        for pair in pairs {
            if let at = positions[pair.key] { unique[at].value = pair.value } else {
                positions[pair.key] = unique.count
                unique.append(pair)
            }
        }
        var capacity = 16
        while unique.count > capacity / 4 * 3 { capacity *= 2 }
        let buckets = unique.map { pair -> Int in
            let h = UInt32(bitPattern: javaHashCode(pair.key))
            return Int((h ^ (h >> 16)) & UInt32(capacity - 1))
        }
        return unique.indices.sorted { (buckets[$0], $0) < (buckets[$1], $1) }.map { unique[$0] }
    }

    /// `{"k":"v","k2":null}`.
    static func appendObject(_ out: inout [UInt8], _ pairs: [Pair]) {
        out.append(Ascii.openBrace)
        for (index, pair) in pairs.enumerated() {
            if index > 0 { out.append(Ascii.comma) }
            pair.key.withUnsafeBufferPointer { JSON.appendString(&out, $0) }
            out.append(Ascii.colon)
            if let value = pair.value {
                value.withUnsafeBufferPointer { JSON.appendString(&out, $0) }
            } else {
                JSON.appendASCII(&out, "null")
            }
        }
        out.append(Ascii.closeBrace)
    }

    /// hstore.handling.mode=map: a JSON object; =json: that object's text as a JSON string.
    static func append(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>, asMap: Bool) throws(ConversionFailure) {
        let pairs = try parse(p)
        if asMap {
            appendObject(&out, pairs)
        } else {
            var object: [UInt8] = []
            appendObject(&object, pairs)
            object.withUnsafeBufferPointer { JSON.appendString(&out, $0) }
        }
    }
}

/// bit(n) / varbit as io.debezium.data.Bits: Debezium reads the text into a java.util.BitSet with the
/// last character as bit 0 and writes `BitSet.toByteArray()` (little-endian, trailing zero bytes
/// dropped), padded with zero bytes to the column's length in bytes.
enum BitString {
    static func append(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>, byteCount: Int) throws(ConversionFailure) {
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
        if bytes.count < byteCount { bytes += [UInt8](repeating: 0, count: byteCount - bytes.count) }
        JSON.appendBase64String(&out, bytes)
    }
}

/// decimal.handling.mode string and double.
enum DecimalText {
    /// `BigDecimal.toString()` of the value (Debezium's STRING mode), which switches to scientific
    /// notation below 1E-6 ("1E-7", "0E-8"); NaN and ±Infinity become SpecialValueDecimal's names
    /// "NAN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY".
    static func appendString(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
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
        if scale == 0 {
            out.append(contentsOf: coefficient)
        } else if adjusted >= -6 {
            if coefficient.count > scale {
                out.append(contentsOf: coefficient[..<(coefficient.count - scale)])
                out.append(Ascii.dot)
                out.append(contentsOf: coefficient[(coefficient.count - scale)...])
            } else {
                out.append(Ascii.zero)
                out.append(Ascii.dot)
                for _ in 0..<(scale - coefficient.count) { out.append(Ascii.zero) }
                out.append(contentsOf: coefficient)
            }
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
    static func appendDouble(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
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
        try appendJavaDouble(&out, value)
    }

    /// A double as Java's Double.toString lays it out (shortest round-trip digits).
    static func appendJavaDouble(_ out: inout [UInt8], _ value: Double) throws(ConversionFailure) {
        if value.isNaN { JSON.appendASCII(&out, "\"NaN\""); return }
        if value.isInfinite { JSON.appendASCII(&out, value > 0 ? "\"Infinity\"" : "\"-Infinity\""); return }
        let text = Array(value.description.utf8)
        try text.withUnsafeBufferPointer { (buffer) throws(ConversionFailure) in try FloatText.append(&out, buffer) }
    }

    /// money in STRING mode: the amount with two fraction digits, as BigDecimal.toString prints it.
    static func appendMoneyString(_ out: inout [UInt8], cents: Int64) {
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

/// interval.handling.mode=string: Debezium's Interval.toIsoString, always all components:
/// `P<y>Y<m>M<d>DT<h>H<mi>M<s>S`, where the seconds are `new BigDecimal(double seconds)` truncated to
/// nine digits with trailing zeros stripped (so 6.78 prints as 6.78, and a value whose double lies just
/// below its decimal keeps Debezium's truncation).
enum IntervalISO {
    static func append(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        let parts = try Temporal.parseIntervalParts(p)
        out.append(Ascii.quote)
        out.append(UInt8(ascii: "P"))
        JSON.appendInt(&out, parts.years)
        out.append(UInt8(ascii: "Y"))
        JSON.appendInt(&out, parts.months)
        out.append(UInt8(ascii: "M"))
        JSON.appendInt(&out, parts.days)
        JSON.appendASCII(&out, "DT")
        JSON.appendInt(&out, parts.hours)
        out.append(UInt8(ascii: "H"))
        JSON.appendInt(&out, parts.minutes)
        out.append(UInt8(ascii: "M"))
        appendSeconds(&out, Double(parts.wholeSeconds) + Double(parts.microSeconds) / 1_000_000.0)
        out.append(UInt8(ascii: "S"))
        out.append(Ascii.quote)
    }

    /// `new BigDecimal(d).setScale(9, DOWN).stripTrailingZeros().toPlainString()` for |d| < 2^63 / 1e9.
    static func appendSeconds(_ out: inout [UInt8], _ d: Double) {
        if d == 0 {
            out.append(Ascii.zero)
            return
        }
        // The exact value of d is significand * 2^exponent; floor(|d| * 1e9) computed exactly.
        let magnitude = Swift.abs(d)
        let significand = UInt128(magnitude.significandBitPattern | (magnitude.isNormal ? (1 << 52) : 0))
        let exponent = Int(magnitude.exponent) - 52 + (magnitude.isNormal ? 0 : 1)
        var nanos: UInt128 = significand * 1_000_000_000
        if exponent >= 0 {
            nanos <<= UInt128(Swift.min(exponent, 60))
        } else {
            let shift = -exponent
            nanos = shift >= 128 ? 0 : nanos >> UInt128(shift)
        }
        if nanos == 0 {
            out.append(Ascii.zero)
            return
        }
        if d < 0 { out.append(Ascii.minus) }
        let whole = nanos / 1_000_000_000
        var fraction = nanos % 1_000_000_000
        out.append(contentsOf: Array(String(whole).utf8))
        if fraction != 0 {
            var digits = 9
            while fraction % 10 == 0 {
                fraction /= 10
                digits -= 1
            }
            out.append(Ascii.dot)
            let text = Array(String(fraction).utf8)
            for _ in 0..<(digits - text.count) { out.append(Ascii.zero) }
            out.append(contentsOf: text)
        }
    }
}
