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
    /// The interval's fields as pgjdbc's PGInterval holds them: the numeric mode's tokenisation
    /// (`Temporal.parseIntervalParts`), narrowed to what pgjdbc accepts: every field must fit an Int32
    /// (Integer.parseInt), and no field may appear twice.
    static func parseFields(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> IntervalFields {
        let parts = try Temporal.parseIntervalParts(p)
        guard !parts.hasRepeatedField else {
            throw ConversionFailure("not a valid interval (expected IntervalStyle postgres)")
        }
        func narrow(_ value: Int64) throws(ConversionFailure) -> Int32 {
            guard let narrowed = Int32(exactly: value) else { throw ConversionFailure("interval field out of range") }
            return narrowed
        }
        return IntervalFields(years: try narrow(parts.years), months: try narrow(parts.months), days: try narrow(parts.days),
                              hours: try narrow(parts.hours), minutes: try narrow(parts.minutes),
                              wholeSeconds: try narrow(parts.wholeSeconds), microseconds: try narrow(parts.microSeconds))
    }

    /// interval.handling.mode=string: `"P1Y2M3DT4H5M6.78S"`.
    static func append(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        let f = try parseFields(p)
        out.append(Ascii.quote)
        appendISO(&out, f)
        out.append(Ascii.quote)
    }

    /// Interval.toIsoString without quotes.
    static func appendISO(_ out: inout JSONOutput, _ f: IntervalFields) {
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
    static func appendSeconds(_ out: inout JSONOutput, wholeSeconds: Int32, microseconds: Int32) {
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
        DecimalText.appendPlain(&out, digits, exponent)
    }
}
