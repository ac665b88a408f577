// A Swift Double written the way Kafka Connect's JsonConverter (Jackson) writes a Java double:
// the characters of Double.toString(d), non-finite values as the strings "NaN", "Infinity",
// "-Infinity" (Jackson's QUOTE_NON_NUMERIC_NUMBERS default).
//
// Digit selection follows JDK >= 19 (JDK-4511638, Raffaello Giulietti's algorithm): the shortest
// decimal that rounds to d, the one closest to d among several. That is exactly Swift's
// `description` digits, except that Java also considers 2-digit decimals when the shortest has a
// single digit and takes the closest of them, which only changes the output of the smallest
// subnormals (4.9E-324 for Double.leastNonzeroMagnitude where Swift prints 5e-324).
// JDK <= 18's FloatingDecimal occasionally printed a non-shortest digit string; not modelled.

enum JavaDouble {
    /// Double.toString of the subnormals m * 2^-1074, m = 1...20, as JDK 19+ prints them
    /// (digits, decimal exponent of the last digit). From m = 21 on Swift's shortest digits agree.
    private static let smallestSubnormals: [(UInt64, Int)] = [
        (49, -325), (99, -325), (15, -324), (20, -324), (25, -324), (30, -324), (35, -324), (40, -324),
        (44, -324), (49, -324), (54, -324), (59, -324), (64, -324), (69, -324), (74, -324), (79, -324),
        (84, -324), (89, -324), (94, -324), (99, -324),
    ]

    /// Normalized shortest decimal of a finite, nonzero `d`: |d| ≈ digits × 10^exponent with
    /// `digits` having no trailing zeros. Digits are ASCII, most significant first. For zero and
    /// non-finite values `digits` is left empty.
    static func shortestDigits(_ d: Double, into digits: inout [UInt8]) -> Int {
        digits.removeAll(keepingCapacity: true)
        guard d.isFinite, d != 0 else { return 0 }
        let m = d.magnitude
        if m.bitPattern <= 20 {
            let (value, exponent) = smallestSubnormals[Int(m.bitPattern) - 1]
            var e = exponent
            var v = value
            while v % 10 == 0 { v /= 10; e += 1 }
            if v >= 10 { digits.append(Ascii.zero &+ UInt8(truncatingIfNeeded: v / 10)) }
            digits.append(Ascii.zero &+ UInt8(truncatingIfNeeded: v % 10))
            return e
        }
        // Swift prints the shortest round-trip digits: "6.78", "1e-07", "1.5e+20", "123456789.0".
        var text = m.description
        return text.withUTF8 { t in
            var intDigits = 0
            var sawPoint = false
            var exponent = 0
            var k = 0
            while k < t.count {
                let c = t[k]
                if c >= Ascii.zero && c <= Ascii.nine {
                    if !(digits.isEmpty && c == Ascii.zero) {
                        digits.append(c)
                        if !sawPoint { intDigits += 1 }
                    } else if sawPoint {
                        intDigits -= 1          // a leading zero after the point
                    }
                } else if c == Ascii.dot {
                    sawPoint = true
                } else if c == UInt8(ascii: "e") {
                    k += 1
                    var negative = false
                    if k < t.count && (t[k] == Ascii.minus || t[k] == Ascii.plus) { negative = t[k] == Ascii.minus; k += 1 }
                    var e = 0
                    while k < t.count { e = e * 10 + Int(t[k] &- Ascii.zero); k += 1 }
                    exponent = negative ? -e : e
                    break
                }
                k += 1
            }
            // value = 0.d1d2... × 10^(intDigits + exponent) = digits × 10^(intDigits + exponent - count)
            var e = intDigits + exponent - digits.count
            while let last = digits.last, last == Ascii.zero { digits.removeLast(); e += 1 }
            return e
        }
    }

    /// Appends Double.toString(d) as JSON (quoted for NaN and the infinities).
    static func append(_ out: inout JSONOutput, _ d: Double) {
        if d.isNaN { JSON.appendASCII(&out, "\"NaN\""); return }
        if d.isInfinite { JSON.appendASCII(&out, d < 0 ? "\"-Infinity\"" : "\"Infinity\""); return }
        if d == 0 {
            JSON.appendASCII(&out, d.sign == .minus ? "-0.0" : "0.0")
            return
        }
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        let exponent = shortestDigits(d, into: &digits)
        // Lay out as "[-]<digits>e<exponent>" and let FloatText apply Java's layout rules.
        var text = JSONOutput(capacity: digits.count + 8)
        if d < 0 { text.append(Ascii.minus) }
        text.append(contentsOf: digits)
        text.append(UInt8(ascii: "e"))
        JSON.appendInt(&text, Int64(exponent))
        text.withBytes { buf in
            // Well-formed by construction with |exponent| < 400: FloatText cannot fail here.
            do throws(ConversionFailure) { try FloatText.append(&out, buf) } catch { JSON.appendASCII(&out, "null") }
        }
    }
}
