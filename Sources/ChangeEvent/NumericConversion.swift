// numeric / decimal -> Kafka Connect Decimal bytes (BigInteger.toByteArray of the unscaled
// value: big-endian two's complement, minimal length) written as base64, and float text ->
// Java Float/Double.toString layout.

enum DecimalCodec {
    /// Positions of the parts of a numeric text `[-]int[.frac]`.
    struct Parsed {
        var negative: Bool
        var intDigits: Range<Int>
        var fracDigits: Range<Int>
    }

    /// Parses PostgreSQL numeric output. Returns nil for the special values NaN / Infinity / -Infinity.
    static func parse(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Parsed? {
        let n = p.count
        let bad = ConversionFailure("not a valid numeric")
        guard n > 0 else { throw bad }
        if ValueConverter.bytesEqual(p, "NaN") || ValueConverter.bytesEqual(p, "Infinity")
            || ValueConverter.bytesEqual(p, "-Infinity") {
            return nil
        }
        var i = 0
        var negative = false
        if p[0] == Ascii.minus { negative = true; i = 1 } else if p[0] == Ascii.plus { i = 1 }
        let intStart = i
        while i < n && p[i] >= Ascii.zero && p[i] <= Ascii.nine { i += 1 }
        let intEnd = i
        var fracStart = i, fracEnd = i
        if i < n && p[i] == Ascii.dot {
            i += 1
            fracStart = i
            while i < n && p[i] >= Ascii.zero && p[i] <= Ascii.nine { i += 1 }
            fracEnd = i
        }
        guard i == n, intEnd > intStart || fracEnd > fracStart else { throw bad }
        return Parsed(negative: negative, intDigits: intStart..<intEnd, fracDigits: fracStart..<fracEnd)
    }

    /// A virtual digit string: p[r1] ++ p[r2] ++ "0" * pad.
    struct DigitSeq {
        let p: UnsafeBufferPointer<UInt8>
        let r1: Range<Int>
        let r2: Range<Int>
        let pad: Int
        var count: Int { r1.count + r2.count + pad }

        @inline(__always)
        func digit(_ k: Int) -> UInt8 {
            if k < r1.count { return p[r1.lowerBound + k] &- Ascii.zero }
            let k2 = k - r1.count
            if k2 < r2.count { return p[r2.lowerBound + k2] &- Ascii.zero }
            return 0
        }
    }

    @inline(__always)
    static func allZeros(_ p: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        for k in r where p[k] != Ascii.zero { return false }
        return true
    }

    /// numeric(p,s): Kafka Connect Decimal with the column's scale.
    static func appendFixed(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>, scale: Int) throws(ConversionFailure) {
        let (negative, seq) = try fixedDigits(p, scale: scale)
        appendUnscaledBase64(&out, negative: negative, digits: seq)
    }

    /// The sign and the digits of the unscaled value of `p` in a Decimal of `scale` (what `appendFixed`
    /// writes), checked as it checks them.
    static func fixedDigits(_ p: UnsafeBufferPointer<UInt8>, scale: Int) throws(ConversionFailure) -> (negative: Bool, digits: DigitSeq) {
        guard let parsed = try parse(p) else {
            // Like Debezium (SpecialValueDecimal.fromLogical), a Connect Decimal cannot hold NaN/±Infinity:
            // stop rather than write a wrong value.
            throw ConversionFailure("NaN and Infinity have no Connect Decimal form; set events.decimal.handling.mode to string or double to capture them")
        }
        let seq: DigitSeq
        let fracCount = parsed.fracDigits.count
        if scale >= 0 {
            if fracCount > scale {
                let extra = (parsed.fracDigits.lowerBound + scale)..<parsed.fracDigits.upperBound
                guard allZeros(p, extra) else { throw ConversionFailure("more fraction digits than the declared scale") }
                seq = DigitSeq(p: p, r1: parsed.intDigits, r2: parsed.fracDigits.lowerBound..<(parsed.fracDigits.lowerBound + scale), pad: 0)
            } else {
                seq = DigitSeq(p: p, r1: parsed.intDigits, r2: parsed.fracDigits, pad: scale - fracCount)
            }
        } else {
            // Negative scale (PostgreSQL 15+): unscaled = value / 10^-scale, which must be exact.
            let k = -scale
            guard allZeros(p, parsed.fracDigits) else { throw ConversionFailure("fraction digits with a negative declared scale") }
            let intR = parsed.intDigits
            let drop = Swift.min(k, intR.count)
            let kept = intR.lowerBound..<(intR.upperBound - drop)
            guard allZeros(p, kept.upperBound..<intR.upperBound) else { throw ConversionFailure("value not a multiple of the negative declared scale") }
            seq = DigitSeq(p: p, r1: kept, r2: 0..<0, pad: 0)
        }
        return (parsed.negative, seq)
    }

    /// Unconstrained numeric: io.debezium.data.VariableScaleDecimal `{"scale":s,"value":"<base64>"}`
    /// with trailing fraction zeros stripped (Debezium's stripTrailingZeros, scale >= 0).
    static func appendVariable(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        guard let parsed = try parse(p) else {
            // Debezium's SpecialValueDecimal.fromLogical rejects specials before VariableScaleDecimal too.
            throw ConversionFailure("NaN and Infinity have no Connect Decimal form; set events.decimal.handling.mode to string or double to capture them")
        }
        var fracEnd = parsed.fracDigits.upperBound
        while fracEnd > parsed.fracDigits.lowerBound && p[fracEnd - 1] == Ascii.zero { fracEnd -= 1 }
        let frac = parsed.fracDigits.lowerBound..<fracEnd
        let seq = DigitSeq(p: p, r1: parsed.intDigits, r2: frac, pad: 0)
        JSON.appendASCII(&out, "{\"scale\":")
        // A zero value has scale 0 (BigDecimal.stripTrailingZeros of zero).
        var isZero = true
        for k in 0..<seq.count where seq.digit(k) != 0 { isZero = false; break }
        JSON.appendInt(&out, isZero ? 0 : Int64(frac.count))
        JSON.appendASCII(&out, ",\"value\":")
        appendUnscaledBase64(&out, negative: parsed.negative, digits: seq)
        out.append(Ascii.closeBrace)
    }

    /// Writes `"<base64 of minimal two's complement of ±digits>"`.
    static func appendUnscaledBase64(_ out: inout JSONOutput, negative: Bool, digits: DigitSeq) {
        withUnscaledBytes(negative: negative, digits: digits) { JSON.appendBase64String(&out, $0) }
    }

    /// Gives `body` the bytes of `BigInteger.toByteArray()` of the unscaled value (minimal big-endian
    /// two's complement): what a Connect Decimal holds, base64 in JSON, as they are in Avro.
    static func withUnscaledBytes<R>(negative: Bool, digits: DigitSeq, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let total = digits.count
        var first = 0
        while first < total && digits.digit(first) == 0 { first += 1 }
        let significant = total - first
        if significant <= 18 {
            var v: Int64 = 0
            var k = first
            while k < total {
                v = v &* 10 &+ Int64(digits.digit(k))
                k += 1
            }
            return withUnscaledBytes(negative ? -v : v, body)
        }
        // Arbitrary precision: base-2^32 limbs (little-endian), fed 9 decimal digits at a time.
        var limbs: [UInt32] = []
        limbs.reserveCapacity(significant / 9 + 2)
        var k = first
        var chunkLen = significant % 9
        if chunkLen == 0 { chunkLen = 9 }
        while k < total {
            var chunk: UInt32 = 0
            var mul: UInt32 = 1
            for _ in 0..<chunkLen {
                chunk = chunk &* 10 &+ UInt32(digits.digit(k))
                mul = mul &* 10
                k += 1
            }
            var carry = UInt64(chunk)
            for j in 0..<limbs.count {
                let t = UInt64(limbs[j]) &* UInt64(mul) &+ carry
                limbs[j] = UInt32(truncatingIfNeeded: t)
                carry = t >> 32
            }
            if carry > 0 { limbs.append(UInt32(truncatingIfNeeded: carry)) }
            chunkLen = 9
        }
        // Big-endian magnitude with one leading zero byte (room for the sign bit).
        var bytes: [UInt8] = [0]
        bytes.reserveCapacity(limbs.count * 4 + 1)
        for j in stride(from: limbs.count - 1, through: 0, by: -1) {
            let l = limbs[j]
            bytes.append(UInt8(truncatingIfNeeded: l >> 24))
            bytes.append(UInt8(truncatingIfNeeded: l >> 16))
            bytes.append(UInt8(truncatingIfNeeded: l >> 8))
            bytes.append(UInt8(truncatingIfNeeded: l))
        }
        if negative {
            // Two's complement: invert and add one.
            var carry: UInt16 = 1
            for j in stride(from: bytes.count - 1, through: 0, by: -1) {
                let t = UInt16(~bytes[j]) + carry
                bytes[j] = UInt8(truncatingIfNeeded: t)
                carry = t >> 8
            }
        }
        var start = 0
        if negative {
            while start < bytes.count - 1 && bytes[start] == 0xFF && bytes[start + 1] >= 0x80 { start += 1 }
        } else {
            while start < bytes.count - 1 && bytes[start] == 0x00 && bytes[start + 1] < 0x80 { start += 1 }
        }
        return bytes[start...].withUnsafeBufferPointer(body)
    }

    /// Writes `"<base64 of BigInteger.valueOf(v).toByteArray()>"`.
    static func appendUnscaledInt64Base64(_ out: inout JSONOutput, _ v: Int64) {
        withUnscaledBytes(v) { JSON.appendBase64String(&out, $0) }
    }

    /// `BigInteger.valueOf(v).toByteArray()`, without an allocation.
    @inline(__always)
    static func withUnscaledBytes<R>(_ v: Int64, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var bigEndian = UInt64(bitPattern: v).bigEndian
        return withUnsafeBytes(of: &bigEndian) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            if v >= 0 {
                while start < 7 && bytes[start] == 0x00 && bytes[start + 1] < 0x80 { start += 1 }
            } else {
                while start < 7 && bytes[start] == 0xFF && bytes[start + 1] >= 0x80 { start += 1 }
            }
            return body(UnsafeBufferPointer(rebasing: bytes[start...]))
        }
    }
}

/// float4/float8 text -> JSON as Kafka Connect's JsonConverter (Jackson) writes a Java float/double:
/// the digits PostgreSQL printed (shortest round-trip in PG >= 12) laid out like Java's
/// Float/Double.toString ("1.0", "100.0", "1.0E10", "1.5E-7"); NaN and ±Infinity as JSON strings
/// (Jackson's QUOTE_NON_NUMERIC_NUMBERS default).
enum FloatText {
    static func append(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        let n = p.count
        let bad = ConversionFailure("not a valid floating point number")
        guard n > 0 else { throw bad }
        if ValueConverter.bytesEqual(p, "NaN") { JSON.appendASCII(&out, "\"NaN\""); return }
        if ValueConverter.bytesEqual(p, "Infinity") { JSON.appendASCII(&out, "\"Infinity\""); return }
        if ValueConverter.bytesEqual(p, "-Infinity") { JSON.appendASCII(&out, "\"-Infinity\""); return }

        var i = 0
        var negative = false
        if p[0] == Ascii.minus { negative = true; i = 1 } else if p[0] == Ascii.plus { i = 1 }
        var dot = -1
        var firstSig = -1
        var lastSig = -1
        var sawDigit = false
        while i < n {
            let b = p[i]
            if b >= Ascii.zero && b <= Ascii.nine {
                sawDigit = true
                if b != Ascii.zero {
                    if firstSig < 0 { firstSig = i }
                    lastSig = i
                }
            } else if b == Ascii.dot && dot < 0 {
                dot = i
            } else {
                break
            }
            i += 1
        }
        let mEnd = i
        guard sawDigit else { throw bad }
        var exponent = 0
        if i < n {
            guard p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") else { throw bad }
            i += 1
            var expNegative = false
            if i < n && (p[i] == Ascii.plus || p[i] == Ascii.minus) { expNegative = p[i] == Ascii.minus; i += 1 }
            var expDigits = 0
            while i < n && p[i] >= Ascii.zero && p[i] <= Ascii.nine {
                guard expDigits < 5 else { throw ConversionFailure("floating point exponent out of range") }
                exponent = exponent * 10 + Int(p[i] - Ascii.zero)
                expDigits += 1
                i += 1
            }
            guard expDigits > 0, i == n else { throw bad }
            if expNegative { exponent = -exponent }
        }
        if firstSig < 0 {
            // Zero (Java prints -0.0 for negative zero).
            if negative { out.append(Ascii.minus) }
            JSON.appendASCII(&out, "0.0")
            return
        }
        // Significant digits p[firstSig...lastSig] without the point.
        let dotInside = dot > firstSig && dot < lastSig
        let sigCount = lastSig - firstSig + 1 - (dotInside ? 1 : 0)
        @inline(__always) func sigDigit(_ k: Int) -> UInt8 {
            let idx = firstSig + k
            return (dot > firstSig && idx >= dot) ? p[idx + 1] : p[idx]
        }
        // value = d1.d2d3... * 10^sciExp
        let intDigitsFromFirstSig: Int
        if dot < 0 {
            intDigitsFromFirstSig = mEnd - firstSig
        } else {
            intDigitsFromFirstSig = firstSig < dot ? dot - firstSig : 0
        }
        let sciExp: Int
        if intDigitsFromFirstSig > 0 {
            sciExp = intDigitsFromFirstSig - 1 + exponent
        } else {
            sciExp = -(firstSig - dot) + exponent
        }
        guard sciExp > -400 && sciExp < 400 else { throw ConversionFailure("floating point exponent out of range") }
        if negative { out.append(Ascii.minus) }
        if sciExp >= -3 && sciExp < 7 {
            if sciExp >= 0 {
                let intCount = sciExp + 1
                for k in 0..<intCount { out.append(k < sigCount ? sigDigit(k) : Ascii.zero) }
                out.append(Ascii.dot)
                if sigCount > intCount {
                    for k in intCount..<sigCount { out.append(sigDigit(k)) }
                } else {
                    out.append(Ascii.zero)
                }
            } else {
                out.append(Ascii.zero)
                out.append(Ascii.dot)
                for _ in 0..<(-sciExp - 1) { out.append(Ascii.zero) }
                for k in 0..<sigCount { out.append(sigDigit(k)) }
            }
        } else {
            out.append(sigDigit(0))
            out.append(Ascii.dot)
            if sigCount > 1 {
                for k in 1..<sigCount { out.append(sigDigit(k)) }
            } else {
                out.append(Ascii.zero)
            }
            out.append(UInt8(ascii: "E"))
            JSON.appendInt(&out, Int64(sciExp))
        }
    }
}
