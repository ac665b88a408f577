// interval text (IntervalStyle=postgres) -> Debezium's interval.handling.mode=string value
// (io.debezium.time.Interval).
//
// Wire format (interval_out, IntervalStyle=postgres):
//   "1 year 2 mons 3 days 04:05:06.78"   "-1 years -2 mons +3 days -04:05:06"   "00:00:00"
//   "3 days"   "-00:00:00.5"   "2562047788:00:54.775807"
//   year/mon/day fields as "<signed int> <unit>" (singular for ±1), then an optional time field
//   "[+-]H+:MM:SS[.f{1,6}]" whose sign applies to hours, minutes and seconds alike.
//
// Debezium: pgjdbc's PGInterval(text) splits the fields into ints (Integer.parseInt: a field
// outside Int32, e.g. more than 2147483647 hours, makes the connector fail) and the seconds
// into wholeSeconds/microSeconds; Interval.toIsoString(years, months, days, hours, minutes,
// BigDecimal.valueOf(getSeconds())) then prints
//     "P" + years + "Y" + months + "M" + days + "D" + "T" + hours + "H" + minutes + "M" + seconds + "S"
// with Java int formatting (so negative fields read "P-1Y-2M3DT-4H-5M-6S"), where seconds is
//     BigDecimal.valueOf(wholeSeconds + (double) microSeconds / 1_000_000)   // via Double.toString
//        .setScale(6, RoundingMode.DOWN) if its scale is > 6
//        .stripTrailingZeros().toPlainString()
// The detour through a double loses a microsecond for about 0.8% of all second values:
// 1.003691 s is the double 1.0036909999999999, truncated to 1.003690 -> "1.00369".
// Zero is "P0Y0M0DT0H0M0S".

/// The fields of a postgres-style interval text, as pgjdbc's PGInterval holds them.
struct IntervalFields: Equatable, Sendable {
    var years: Int32 = 0
    var months: Int32 = 0
    var days: Int32 = 0
    var hours: Int32 = 0
    var minutes: Int32 = 0
    /// Whole seconds and microseconds, both carrying the sign of the time field.
    var wholeSeconds: Int32 = 0
    var microseconds: Int32 = 0
}

enum IntervalISO {
    /// Tokenises postgres-style interval output. Every field must fit an Int32 (pgjdbc parses
    /// them with Integer.parseInt); minutes and seconds must be below 60.
    static func parseFields(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> IntervalFields {
        let bad = ConversionFailure("not a valid interval (expected IntervalStyle postgres)")
        let range = ConversionFailure("interval field out of range")
        var f = IntervalFields()
        let n = p.count
        var seen: UInt8 = 0     // bits: year, mon, day, time
        var i = 0
        while i < n {
            if p[i] == Ascii.space { i += 1; continue }
            var end = i
            while end < n && p[end] != Ascii.space { end += 1 }
            var c = Temporal.Cursor(UnsafeBufferPointer(rebasing: p[i..<end]))
            var negative = false
            if c.consume(Ascii.minus) { negative = true } else { _ = c.consume(Ascii.plus) }
            var isTime = false
            for k in i..<end where p[k] == Ascii.colon { isTime = true; break }
            if isTime {
                guard seen & 8 == 0 else { throw bad }
                seen |= 8
                let h = try c.digits(min: 1, max: 12, bad.reason).value
                try c.expect(Ascii.colon, bad.reason)
                let m = try c.digits(min: 2, max: 2, bad.reason).value
                var s: Int64 = 0, frac: Int64 = 0
                if c.consume(Ascii.colon) {
                    s = try c.digits(min: 2, max: 2, bad.reason).value
                    if c.consume(Ascii.dot) {
                        let (fd, count) = try c.digits(min: 1, max: 6, bad.reason)
                        frac = fd
                        for _ in count..<6 { frac *= 10 }
                    }
                }
                guard c.atEnd, m <= 59, s <= 59 else { throw bad }
                guard h <= Int64(Int32.max) else { throw range }
                let sign: Int32 = negative ? -1 : 1
                f.hours = sign * Int32(h)
                f.minutes = sign * Int32(m)
                f.wholeSeconds = sign * Int32(s)
                f.microseconds = sign * Int32(frac)
                i = end
                continue
            }
            let magnitude = try c.digits(min: 1, max: 12, bad.reason).value
            guard c.atEnd else { throw bad }
            let signed = negative ? -magnitude : magnitude
            guard signed >= Int64(Int32.min) && signed <= Int64(Int32.max) else { throw range }
            var u = end
            while u < n && p[u] == Ascii.space { u += 1 }
            var uEnd = u
            while uEnd < n && p[uEnd] != Ascii.space { uEnd += 1 }
            guard u < uEnd else { throw bad }
            let unit = UnsafeBufferPointer(rebasing: p[u..<uEnd])
            if ValueConverter.bytesEqual(unit, "year") || ValueConverter.bytesEqual(unit, "years") {
                guard seen & 1 == 0 else { throw bad }
                seen |= 1
                f.years = Int32(signed)
            } else if ValueConverter.bytesEqual(unit, "mon") || ValueConverter.bytesEqual(unit, "mons") {
                guard seen & 2 == 0 else { throw bad }
                seen |= 2
                f.months = Int32(signed)
            } else if ValueConverter.bytesEqual(unit, "day") || ValueConverter.bytesEqual(unit, "days") {
                guard seen & 4 == 0 else { throw bad }
                seen |= 4
                f.days = Int32(signed)
            } else {
                throw bad
            }
            i = uEnd
        }
        guard seen != 0 else { throw bad }
        return f
    }

    /// interval.handling.mode=string: `"P1Y2M3DT4H5M6.78S"`.
    static func append(_ out: inout [UInt8], _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        let f = try parseFields(p)
        out.append(Ascii.quote)
        appendISO(&out, f)
        out.append(Ascii.quote)
    }

    /// Interval.toIsoString without quotes.
    static func appendISO(_ out: inout [UInt8], _ f: IntervalFields) {
        out.append(UInt8(ascii: "P"))
        JSON.appendInt(&out, Int64(f.years)); out.append(UInt8(ascii: "Y"))
        JSON.appendInt(&out, Int64(f.months)); out.append(UInt8(ascii: "M"))
        JSON.appendInt(&out, Int64(f.days)); out.append(UInt8(ascii: "D"))
        out.append(UInt8(ascii: "T"))
        JSON.appendInt(&out, Int64(f.hours)); out.append(UInt8(ascii: "H"))
        JSON.appendInt(&out, Int64(f.minutes)); out.append(UInt8(ascii: "M"))
        appendSeconds(&out, wholeSeconds: f.wholeSeconds, microseconds: f.microseconds)
        out.append(UInt8(ascii: "S"))
    }

    /// BigDecimal.valueOf(whole + micro / 1e6) truncated to 6 places, stripped, plain.
    static func appendSeconds(_ out: inout [UInt8], wholeSeconds: Int32, microseconds: Int32) {
        // pgjdbc: wholeSeconds + (double) microSeconds / MICROS_IN_SECOND
        let seconds = Double(wholeSeconds) + Double(microseconds) / 1_000_000.0
        if seconds == 0 {
            out.append(Ascii.zero)
            return
        }
        var digits: [UInt8] = []
        digits.reserveCapacity(20)
        var exponent = JavaDouble.shortestDigits(seconds, into: &digits)
        if exponent < -6 {
            // setScale(6, DOWN): drop the digits below 10^-6 (toward zero), then strip zeros again.
            let drop = -6 - exponent
            if drop >= digits.count {
                out.append(Ascii.zero)
                return
            }
            digits.removeLast(drop)
            exponent = -6
            while let last = digits.last, last == Ascii.zero { digits.removeLast(); exponent += 1 }
            if digits.isEmpty {
                out.append(Ascii.zero)
                return
            }
        }
        if seconds < 0 { out.append(Ascii.minus) }
        appendPlain(&out, digits, exponent)
    }

    /// BigDecimal.toPlainString of digits × 10^exponent (digits without leading zeros).
    static func appendPlain(_ out: inout [UInt8], _ digits: [UInt8], _ exponent: Int) {
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
}
