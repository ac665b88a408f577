import Testing
@testable import ChangeEvent

@Suite("interval.handling.mode=string")
struct IntervalISOTests {
    static func iso(_ text: String) -> Outcome {
        run(text) { (out, p) throws(ConversionFailure) in try IntervalISO.append(&out, p) }
    }

    @Test(arguments: [
        // Outputs of interval_out (IntervalStyle=postgres) as printed by PostgreSQL 15.
        ("1 year 2 mons 3 days 04:05:06.78", "P1Y2M3DT4H5M6.78S"),          // the docs' example
        ("-1 years -2 mons +3 days -04:05:06", "P-1Y-2M3DT-4H-5M-6S"),
        ("00:00:00", "P0Y0M0DT0H0M0S"),
        ("-00:00:00.5", "P0Y0M0DT0H0M-0.5S"),
        ("3 days", "P0Y0M3DT0H0M0S"),
        ("10 years", "P10Y0M0DT0H0M0S"),
        ("1 day -00:00:01", "P0Y0M1DT0H0M-1S"),
        ("-1 days +00:00:01", "P0Y0M-1DT0H0M1S"),
        ("1 mon -00:00:01", "P0Y1M0DT0H0M-1S"),
        ("2147483647:59:59.999999", "P0Y0M0DT2147483647H59M59.999999S"),
        ("-178956970 years -8 mons -2147483648 days -2147483647:00:00", "P-178956970Y-8M-2147483648DT-2147483647H0M0S"),
        ("00:00:00.000001", "P0Y0M0DT0H0M0.000001S"),
        ("00:00:10", "P0Y0M0DT0H0M10S"),
        ("00:01", "P0Y0M0DT0H1M0S"),
    ])
    func postgresOutput(_ text: String, _ expected: String) {
        #expect(Self.iso(text) == .json("\"\(expected)\""))
    }

    @Test(arguments: [
        // The double detour of BigDecimal.valueOf(whole + micro / 1e6) drops a microsecond (JDK-verified).
        ("00:00:01.003691", "1.00369"),
        ("-00:00:01.003691", "-1.00369"),
        ("00:00:01.005162", "1.005161"),
        ("00:00:59.999999", "59.999999"),
        ("00:00:06.78", "6.78"),
    ])
    func secondsGoThroughADouble(_ text: String, _ seconds: String) {
        #expect(Self.iso(text) == .json("\"P0Y0M0DT0H0M\(seconds)S\""))
    }

    @Test func fieldsAreExposed() throws {
        let f = try Array("-1 years -2 mons +3 days -04:05:06.78".utf8).withUnsafeBufferPointer { (p) throws(ConversionFailure) in
            try IntervalISO.parseFields(p)
        }
        #expect(f == IntervalFields(years: -1, months: -2, days: 3, hours: -4, minutes: -5, wholeSeconds: -6, microseconds: -780_000))
    }

    @Test func agreesWithTheNumericModeParserOnValidInput() throws {
        // Same tokenisation as Temporal.parseIntervalMicros (interval.handling.mode=numeric).
        for text in ["1 year 2 mons 3 days 04:05:06.78", "-1 years -2 mons +3 days -04:05:06", "00:00:00", "-00:00:00.5", "7 days"] {
            let bytes = Array(text.utf8)
            let f = try bytes.withUnsafeBufferPointer { (p) throws(ConversionFailure) in try IntervalISO.parseFields(p) }
            let micros = try bytes.withUnsafeBufferPointer { (p) throws(ConversionFailure) in try Temporal.parseIntervalMicros(p) }
            let seconds = Double(f.wholeSeconds) + Double(f.microseconds) / 1_000_000.0
            let days = Double(Int64(f.years) * 12 + Int64(f.months)) * (365.25 / 12.0) + Double(f.days)
            let total = (((days * 24 + Double(f.hours)) * 60) + Double(f.minutes)) * 60 + seconds
            #expect(Temporal.javaDoubleToLong(total * 1e6) == micros, "\(text)")
        }
    }

    @Test(arguments: [
        "", " ", "1", "1 yr", "1 years 2 years", "year", "+", "-", "1 day 04:05:06 04:05:06", "04:5:06", "04:05:6", "04:60:00",
        "04:05:60", "04:05:06.", "04:05:06.1234567", "04:05:06x", ":05:06", "2147483648:00:00", "2147483648 days",
        "-2147483649 years", "99999999999999 days", "1 day 2", "@ 1 day", "P1D", "1 days ago", "1.5 days", "--1 day",
    ])
    func malformedThrows(_ text: String) {
        #expect(Self.iso(text).isFailure, "\(text)")
    }

    @Test func randomBytesNeverCrash() {
        let alphabet = "0123456789 :.-+yearsmondaysy"
        let inputs = fuzzInputs(seed: 41, count: 20_000, alphabet: alphabet)
            + mutations(of: ["1 year 2 mons 3 days 04:05:06.78", "-1 years -2 mons +3 days -04:05:06", "00:00:00", "2147483647:00:00"],
                        seed: 42, count: 20_000, alphabet: alphabet)
        let (ok, failed) = expectNoCrash(inputs) { (out, p) throws(ConversionFailure) in try IntervalISO.append(&out, p) }
        #expect(ok > 500 && failed > 1000)
    }
}
