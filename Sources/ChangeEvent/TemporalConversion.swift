// date / time / timestamp / timestamptz / timetz / interval text (DateStyle=ISO,
// IntervalStyle=postgres) -> Debezium's time.precision.mode=adaptive representations.

enum Temporal {
    static let microsPerSecond: Int64 = 1_000_000
    static let microsPerDay: Int64 = 86_400_000_000

    // Debezium's encodings of PostgreSQL's infinities.
    /// PGStatement.DATE_POSITIVE_INFINITY / DATE_NEGATIVE_INFINITY read as epoch microseconds (MicroTimestamp).
    static let timestampPositiveInfinityMicros: Int64 = 9_223_372_036_825_200_000
    static let timestampNegativeInfinityMicros: Int64 = -9_223_372_036_832_400_000
    /// The same instants as epoch milliseconds (io.debezium.time.Timestamp).
    static let timestampPositiveInfinityMillis: Int64 = 9_223_372_036_825_200
    static let timestampNegativeInfinityMillis: Int64 = -9_223_372_036_832_400
    /// Epoch days of PostgresValueConverter.POSITIVE_INFINITY_LOCAL_DATE and NEGATIVE_INFINITY_LOCAL_DATE
    /// (-5877611-06-22).
    /// Released Debezium maps `infinity` to `LocalDate.parse("-5877611-06-21")` (a negative year, so the
    /// epoch day is below -infinity's); consumers of Debezium's topics see exactly this number.
    static let datePositiveInfinityDays: Int64 = -2_147_472_692
    static let dateNegativeInfinityDays: Int64 = -2_147_472_691

    // MARK: calendar (proleptic Gregorian, astronomical/ISO year numbering: 1 BC = year 0)

    static func isLeap(_ y: Int64) -> Bool {
        (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
    }

    static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        switch m {
        case 2: return isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (H. Hinnant's days_from_civil); valid for |y| < ~10^15.
    static func daysFromCivil(_ year: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = m > 2 ? m - 3 : m + 9
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    @inline(__always)
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    // MARK: scanning

    struct Cursor {
        let p: UnsafeBufferPointer<UInt8>
        var i = 0
        init(_ p: UnsafeBufferPointer<UInt8>) { self.p = p }

        var atEnd: Bool { i >= p.count }


        mutating func consume(_ b: UInt8) -> Bool {
            if i < p.count && p[i] == b { i += 1; return true }
            return false
        }

        mutating func expect(_ b: UInt8, _ reason: String) throws(ConversionFailure) {
            guard consume(b) else { throw ConversionFailure(reason) }
        }

        /// Reads between `min` and `max` decimal digits (max <= 18, so no overflow).
        mutating func digits(min: Int, max: Int, _ reason: String) throws(ConversionFailure) -> (value: Int64, count: Int) {
            var v: Int64 = 0
            var c = 0
            while c < max && i < p.count {
                let d = p[i] &- Ascii.zero
                if d > 9 { break }
                v = v * 10 + Int64(d)
                c += 1
                i += 1
            }
            guard c >= min else { throw ConversionFailure(reason) }
            if c == max, i < p.count, p[i] &- Ascii.zero <= 9 { throw ConversionFailure(reason) }
            return (v, c)
        }

        /// Consumes `literal` if the remaining input starts with it.
        mutating func consumeLiteral(_ literal: StaticString) -> Bool {
            let ok: Bool = literal.withUTF8Buffer { lit in
                guard p.count - i >= lit.count else { return false }
                for k in 0..<lit.count where p[i + k] != lit[k] { return false }
                return true
            }
            if ok { i += literal.utf8CodeUnitCount }
            return ok
        }
    }

    /// `YYYY-MM-DD` (4+ digit year-of-era). Returns the year of era; validation happens after the era is known.
    static func scanDate(_ c: inout Cursor) throws(ConversionFailure) -> (yearOfEra: Int64, month: Int64, day: Int64) {
        let reason = "not a valid ISO date"
        let y = try c.digits(min: 4, max: 9, reason).value
        try c.expect(Ascii.minus, reason)
        let m = try c.digits(min: 2, max: 2, reason).value
        try c.expect(Ascii.minus, reason)
        let d = try c.digits(min: 2, max: 2, reason).value
        return (y, m, d)
    }

    /// Converts a year of era + BC flag into an ISO year and validates month/day.
    static func validatedDays(yearOfEra: Int64, bc: Bool, month: Int64, day: Int64) throws(ConversionFailure) -> Int64 {
        guard yearOfEra >= 1 else { throw ConversionFailure("year 0 is not valid") }
        let year = bc ? 1 - yearOfEra : yearOfEra
        guard month >= 1 && month <= 12, day >= 1 && day <= daysInMonth(year, month) else {
            throw ConversionFailure("day or month out of range")
        }
        return daysFromCivil(year, month, day)
    }

    /// `HH:MM:SS[.ffffff]` -> microseconds of day; 24:00:00 allowed (= 86400 s).
    static func scanTime(_ c: inout Cursor) throws(ConversionFailure) -> Int64 {
        let reason = "not a valid time of day"
        let h = try c.digits(min: 1, max: 2, reason).value
        try c.expect(Ascii.colon, reason)
        let m = try c.digits(min: 2, max: 2, reason).value
        try c.expect(Ascii.colon, reason)
        let s = try c.digits(min: 2, max: 2, reason).value
        var frac: Int64 = 0
        if c.consume(Ascii.dot) {
            let (f, count) = try c.digits(min: 1, max: 6, reason)
            frac = f
            for _ in count..<6 { frac *= 10 }
        }
        guard h <= 24, m <= 59, s <= 59 else { throw ConversionFailure("time of day out of range") }
        if h == 24 { guard m == 0, s == 0, frac == 0 else { throw ConversionFailure("time of day out of range") } }
        return ((h * 60 + m) * 60 + s) * microsPerSecond + frac
    }

    /// `+HH[:MM[:SS]]` / `-HH[:MM[:SS]]` -> seconds east of UTC.
    static func scanOffset(_ c: inout Cursor) throws(ConversionFailure) -> Int64 {
        let reason = "not a valid UTC offset"
        let sign: Int64
        if c.consume(Ascii.plus) { sign = 1 } else if c.consume(Ascii.minus) { sign = -1 } else { throw ConversionFailure(reason) }
        let h = try c.digits(min: 2, max: 2, reason).value
        var m: Int64 = 0, s: Int64 = 0
        if c.consume(Ascii.colon) {
            m = try c.digits(min: 2, max: 2, reason).value
            if c.consume(Ascii.colon) { s = try c.digits(min: 2, max: 2, reason).value }
        }
        guard h <= 18, m <= 59, s <= 59 else { throw ConversionFailure("UTC offset out of range") }
        return sign * (h * 3600 + m * 60 + s)
    }

    static func scanBC(_ c: inout Cursor) -> Bool {
        c.consumeLiteral(" BC")
    }

    // MARK: date

    static func parseDateDays(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Int64 {
        if ValueConverter.bytesEqual(p, "infinity") { return datePositiveInfinityDays }
        if ValueConverter.bytesEqual(p, "-infinity") { return dateNegativeInfinityDays }
        var c = Cursor(p)
        let (y, m, d) = try scanDate(&c)
        let bc = scanBC(&c)
        guard c.atEnd else { throw ConversionFailure("not a valid ISO date") }
        return try validatedDays(yearOfEra: y, bc: bc, month: m, day: d)
    }

    /// io.debezium.time.Date: days since the epoch.
    static func appendDate(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        JSON.appendInt(&out, try parseDateDays(p))
    }

    // MARK: time

    static func parseTimeMicros(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Int64 {
        var c = Cursor(p)
        let t = try scanTime(&c)
        guard c.atEnd else { throw ConversionFailure("not a valid time of day") }
        return t
    }

    /// io.debezium.time.MicroTime (µs) or io.debezium.time.Time (ms) since midnight.
    static func appendTime(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>, micro: Bool) throws(ConversionFailure) {
        let t = try parseTimeMicros(p)
        JSON.appendInt(&out, micro ? t : t / 1000)
    }

    // MARK: timestamp

    /// Parses finite `timestamp without time zone` text into (days since epoch, µs of day).
    static func parseTimestamp(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> (days: Int64, microsOfDay: Int64) {
        var c = Cursor(p)
        let (y, m, d) = try scanDate(&c)
        try c.expect(Ascii.space, "not a valid ISO timestamp")
        let tod = try scanTime(&c)
        let bc = scanBC(&c)
        guard c.atEnd else { throw ConversionFailure("not a valid ISO timestamp") }
        let days = try validatedDays(yearOfEra: y, bc: bc, month: m, day: d)
        return (days, tod)
    }

    /// Epoch microseconds of a `timestamp without time zone` text; infinities map to Debezium's sentinels.
    static func parseTimestampMicros(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Int64 {
        if ValueConverter.bytesEqual(p, "infinity") { return timestampPositiveInfinityMicros }
        if ValueConverter.bytesEqual(p, "-infinity") { return timestampNegativeInfinityMicros }
        let (days, tod) = try parseTimestamp(p)
        let (a, o1) = days.multipliedReportingOverflow(by: microsPerDay)
        let (r, o2) = a.addingReportingOverflow(tod)
        guard !o1 && !o2 else { throw ConversionFailure("timestamp out of range for epoch microseconds") }
        return r
    }

    /// Epoch milliseconds (floor) of a `timestamp without time zone` text; infinities map to Debezium's sentinels.
    static func parseTimestampMillis(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Int64 {
        if ValueConverter.bytesEqual(p, "infinity") { return timestampPositiveInfinityMillis }
        if ValueConverter.bytesEqual(p, "-infinity") { return timestampNegativeInfinityMillis }
        let (days, tod) = try parseTimestamp(p)
        let (a, o1) = days.multipliedReportingOverflow(by: 86_400_000)
        let (r, o2) = a.addingReportingOverflow(floorDiv(tod, 1000))
        guard !o1 && !o2 else { throw ConversionFailure("timestamp out of range for epoch milliseconds") }
        return r
    }

    /// io.debezium.time.MicroTimestamp (µs) or io.debezium.time.Timestamp (ms) since the epoch.
    static func appendTimestamp(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>, micro: Bool) throws(ConversionFailure) {
        JSON.appendInt(&out, micro ? try parseTimestampMicros(p) : try parseTimestampMillis(p))
    }

    // MARK: timestamptz

    /// Parses `timestamp with time zone` text into UTC (days since epoch, µs of day).
    static func parseTimestampTZ(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> (days: Int64, microsOfDay: Int64) {
        var c = Cursor(p)
        let (y, m, d) = try scanDate(&c)
        try c.expect(Ascii.space, "not a valid ISO timestamp with time zone")
        let tod = try scanTime(&c)
        let offset = try scanOffset(&c)
        let bc = scanBC(&c)
        guard c.atEnd else { throw ConversionFailure("not a valid ISO timestamp with time zone") }
        var days = try validatedDays(yearOfEra: y, bc: bc, month: m, day: d)
        var us = tod - offset * microsPerSecond
        let shift = floorDiv(us, microsPerDay)
        days += shift
        us -= shift * microsPerDay
        return (days, us)
    }

    /// io.debezium.time.ZonedTimestamp: ISO-8601 in UTC, fraction padded to the column precision
    /// (Debezium >= 2.2, DBZ-6163), "infinity"/"-infinity" passed through.
    static func appendTimestampTZ(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>, fractionDigits: Int) throws(ConversionFailure) {
        if ValueConverter.bytesEqual(p, "infinity") { JSON.appendASCII(&out, "\"infinity\""); return }
        if ValueConverter.bytesEqual(p, "-infinity") { JSON.appendASCII(&out, "\"-infinity\""); return }
        let (days, us) = try parseTimestampTZ(p)
        out.append(Ascii.quote)
        appendISODate(&out, days)
        out.append(UInt8(ascii: "T"))
        appendClock(&out, us, fraction: .fixed(fractionDigits))
        out.append(UInt8(ascii: "Z"))
        out.append(Ascii.quote)
    }

    /// `yyyy-MM-dd` as java.time's ISO_LOCAL_DATE prints it ("+12345-…" above 9999, "-0043-…" for BC).
    static func appendISODate(_ out: inout JSONOutput, _ days: Int64) {
        let (y, m, d) = civilFromDays(days)
        if y > 9999 {
            out.append(Ascii.plus)
            JSON.appendInt(&out, y)
        } else {
            if y < 0 { out.append(Ascii.minus) }
            out.appendDecimal(y.magnitude, minimumWidth: 4)
        }
        out.append(Ascii.minus)
        out.appendDecimal(m.magnitude, minimumWidth: 2)
        out.append(Ascii.minus)
        out.appendDecimal(d.magnitude, minimumWidth: 2)
    }

    enum FractionStyle {
        /// Exactly n digits (n == 0: no fraction).
        case fixed(Int)
        /// Trailing zeros stripped, none when zero (java.time ISO_LOCAL_TIME).
        case stripped
    }

    /// `HH:mm:ss[.fraction]` for µs of day in 0..<86_400_000_000 (86_400_000_000 prints 24:00:00).
    static func appendClock(_ out: inout JSONOutput, _ us: Int64, fraction: FractionStyle) {
        let totalSeconds = us / microsPerSecond
        let micros = us % microsPerSecond
        out.appendDecimal(UInt64(totalSeconds / 3600), minimumWidth: 2)
        out.append(Ascii.colon)
        out.appendDecimal(UInt64((totalSeconds / 60) % 60), minimumWidth: 2)
        out.append(Ascii.colon)
        out.appendDecimal(UInt64(totalSeconds % 60), minimumWidth: 2)
        switch fraction {
        case .fixed(let n):
            guard n > 0 else { return }
            out.append(Ascii.dot)
            var divisor: Int64 = 100_000
            for _ in 0..<min(n, 6) {
                out.append(Ascii.zero &+ UInt8(truncatingIfNeeded: (micros / divisor) % 10))
                divisor /= 10
            }
        case .stripped:
            guard micros != 0 else { return }
            out.append(Ascii.dot)
            var rest = micros
            var divisor: Int64 = 100_000
            while rest != 0 {
                let digit = rest / divisor
                out.append(Ascii.zero &+ UInt8(truncatingIfNeeded: digit))
                rest -= digit * divisor
                divisor /= 10
            }
        }
    }

    // MARK: timetz

    /// Parses `time with time zone` text into UTC µs of day (0..<86400 s; exactly 24:00:00 at UTC stays 24:00:00).
    static func parseTimeTZ(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Int64 {
        var c = Cursor(p)
        let tod = try scanTime(&c)
        let offset = try scanOffset(&c)
        guard c.atEnd else { throw ConversionFailure("not a valid time with time zone") }
        if tod == microsPerDay && offset == 0 { return microsPerDay }
        var us = tod - offset * microsPerSecond
        us -= floorDiv(us, microsPerDay) * microsPerDay
        return us
    }

    /// io.debezium.time.ZonedTime: `HH:mm:ss[.f]Z` in UTC (java.time ISO_OFFSET_TIME layout).
    static func appendTimeTZ(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        let us = try parseTimeTZ(p)
        out.append(Ascii.quote)
        appendClock(&out, us, fraction: .stripped)
        out.append(UInt8(ascii: "Z"))
        out.append(Ascii.quote)
    }

    // MARK: interval

    /// Interval text (IntervalStyle=postgres) -> io.debezium.time.MicroDuration, computed exactly like
    /// Debezium: pgjdbc PGInterval fields, then MicroDuration.durationMicros(..., DAYS_PER_MONTH_AVG)
    /// in double arithmetic (months of 365.25/12 days), truncated to a long.
    /// The fields pgjdbc's PGInterval reads from IntervalStyle=postgres text; the time part carries
    /// its sign into hours, minutes, seconds and microseconds.
    struct IntervalParts {
        var years: Int64 = 0, months: Int64 = 0, days: Int64 = 0
        var hours: Int64 = 0, minutes: Int64 = 0
        var wholeSeconds: Int64 = 0, microSeconds: Int64 = 0
        /// A field (year, mon, day or the time) appeared twice; the last one counts. PostgreSQL never
        /// prints that; pgjdbc rejects it, so the ISO string mode does too.
        var hasRepeatedField = false
    }

    static func parseIntervalMicros(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Int64 {
        let parts = try parseIntervalParts(p)
        // pgjdbc: getSeconds() = wholeSeconds + microSeconds / 1e6
        let seconds = Double(parts.wholeSeconds) + Double(parts.microSeconds) / 1_000_000.0
        // MicroDuration.durationMicros(years, months, days, hours, minutes, seconds, 0, 365.25 / 12.0)
        let daysPerMonthAvg = 365.25 / 12.0
        let numberOfDays = Double(parts.years * 12 + parts.months) * daysPerMonthAvg + Double(parts.days)
        let numberOfSeconds = (((numberOfDays * 24 + Double(parts.hours)) * 60) + Double(parts.minutes)) * 60 + seconds
        return javaDoubleToLong(numberOfSeconds * 1e6 + 0)
    }

    static func parseIntervalParts(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> IntervalParts {
        let bad = ConversionFailure("not a valid interval (expected IntervalStyle postgres)")
        let n = p.count
        var years: Int64 = 0, months: Int64 = 0, days: Int64 = 0
        var hours: Int64 = 0, minutes: Int64 = 0
        var wholeSeconds: Int64 = 0, microSeconds: Int64 = 0
        var sawAny = false
        var seen: UInt8 = 0     // bits: year, mon, day, time
        var repeated = false
        func mark(_ bit: UInt8) {
            if seen & bit != 0 { repeated = true }
            seen |= bit
        }
        var i = 0
        while i < n {
            if p[i] == Ascii.space { i += 1; continue }
            var end = i
            while end < n && p[end] != Ascii.space { end += 1 }
            var c = Cursor(UnsafeBufferPointer(rebasing: p[i..<end]))
            var negative = false
            if c.consume(Ascii.minus) { negative = true } else { _ = c.consume(Ascii.plus) }
            // Time token: [+-]H+:MM[:SS[.ffffff]]
            var isTime = false
            for k in i..<end where p[k] == Ascii.colon { isTime = true; break }
            if isTime {
                mark(8)
                let h = try c.digits(min: 1, max: 12, bad.reason).value
                try c.expect(Ascii.colon, bad.reason)
                let m = try c.digits(min: 2, max: 2, bad.reason).value
                var s: Int64 = 0, frac: Int64 = 0
                if c.consume(Ascii.colon) {
                    s = try c.digits(min: 2, max: 2, bad.reason).value
                    if c.consume(Ascii.dot) {
                        let (f, count) = try c.digits(min: 1, max: 6, bad.reason)
                        frac = f
                        for _ in count..<6 { frac *= 10 }
                    }
                }
                guard c.atEnd, m <= 59, s <= 59 else { throw bad }
                let sign: Int64 = negative ? -1 : 1
                hours = sign * h
                minutes = sign * m
                wholeSeconds = sign * s
                microSeconds = sign * frac
                sawAny = true
                i = end
                continue
            }
            let value = try c.digits(min: 1, max: 12, bad.reason).value
            guard c.atEnd else { throw bad }
            let signed = negative ? -value : value
            // Unit token.
            var u = end
            while u < n && p[u] == Ascii.space { u += 1 }
            var uEnd = u
            while uEnd < n && p[uEnd] != Ascii.space { uEnd += 1 }
            guard u < uEnd else { throw bad }
            let unit = UnsafeBufferPointer(rebasing: p[u..<uEnd])
            if ValueConverter.bytesEqual(unit, "year") || ValueConverter.bytesEqual(unit, "years") {
                mark(1)
                years = signed
            } else if ValueConverter.bytesEqual(unit, "mon") || ValueConverter.bytesEqual(unit, "mons") {
                mark(2)
                months = signed
            } else if ValueConverter.bytesEqual(unit, "day") || ValueConverter.bytesEqual(unit, "days") {
                mark(4)
                days = signed
            } else {
                throw bad
            }
            sawAny = true
            i = uEnd
        }
        guard sawAny else { throw bad }
        return IntervalParts(years: years, months: months, days: days, hours: hours, minutes: minutes,
                             wholeSeconds: wholeSeconds, microSeconds: microSeconds, hasRepeatedField: repeated)
    }

    /// Java's `(long) d`: truncation toward zero, saturating, NaN -> 0.
    static func javaDoubleToLong(_ d: Double) -> Int64 {
        if d.isNaN { return 0 }
        if d >= 9_223_372_036_854_775_807.0 { return Int64.max }
        if d <= -9_223_372_036_854_775_808.0 { return Int64.min }
        return Int64(d.rounded(.towardZero))
    }

    static func appendInterval(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        JSON.appendInt(&out, try parseIntervalMicros(p))
    }
}
