import Foundation
import Testing
@testable import ChangeEvent

@Suite("Round trips")
struct RoundTripTests {
    /// Random PostgreSQL-style numeric text with `scale` fraction digits (exactly, like numeric_out).
    static func randomNumeric(_ rng: inout SeededGenerator, maxIntDigits: Int, scale: Int) -> String {
        let intDigits = Int.random(in: 0...maxIntDigits, using: &rng)
        var s = ""
        if Bool.random(using: &rng) { s += "-" }
        if intDigits == 0 {
            s += "0"
        } else {
            s += String(Int.random(in: 1...9, using: &rng))
            for _ in 1..<intDigits { s += String(Int.random(in: 0...9, using: &rng)) }
        }
        if scale > 0 {
            s += "."
            for _ in 0..<scale { s += String(Int.random(in: 0...9, using: &rng)) }
        }
        return s
    }

    /// Canonical form for comparison: no leading zeros, "-" dropped for zero.
    static func canonical(_ s: String) -> String {
        var neg = false
        var body = Substring(s)
        if body.first == "-" { neg = true; body = body.dropFirst() }
        var parts = body.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        while parts[0].count > 1 && parts[0].first == "0" { parts[0].removeFirst() }
        let joined = parts.joined(separator: ".")
        let isZero = !joined.contains(where: { $0 != "0" && $0 != "." })
        return (neg && !isZero ? "-" : "") + joined
    }

    @Test func fixedScaleNumericsRoundTrip() throws {
        var rng = SeededGenerator(seed: 0xC0FFEE)
        for iteration in 0..<3000 {
            let scale = Int.random(in: 0...30, using: &rng)
            let maxInt = iteration % 10 == 0 ? 300 : 25
            let text = Self.randomNumeric(&rng, maxIntDigits: maxInt, scale: scale)
            let json = try convert(text, oid: OID.numeric, typmod: numericTypmod(1000, scale))
            let bytes = try #require(base64Decode(json), "\(text)")
            #expect(isMinimalTwosComplement(bytes), "\(text)")
            #expect(applyScale(twosComplementToDecimal(bytes), scale) == Self.canonical(text), "\(text)")
        }
    }

    @Test func variableScaleNumericsRoundTrip() throws {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<2000 {
            let scale = Int.random(in: 0...40, using: &rng)
            let text = Self.randomNumeric(&rng, maxIntDigits: Int.random(in: 0...1100, using: &rng) < 50 ? 1000 : 20, scale: scale)
            let json = try convert(text, oid: OID.numeric)
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(text)")
            let s = try #require(obj["scale"] as? Int)
            let v = try #require(obj["value"] as? String)
            let bytes = try #require(base64Decode("\"\(v)\""))
            #expect(isMinimalTwosComplement(bytes))
            // Expected: the value with trailing fraction zeros stripped.
            var expected = Self.canonical(text)
            if expected.contains(".") {
                while expected.hasSuffix("0") { expected.removeLast() }
                if expected.hasSuffix(".") { expected.removeLast() }
            }
            if expected == "-0" { expected = "0" }
            #expect(applyScale(twosComplementToDecimal(bytes), s) == expected, "\(text)")
        }
    }

    @Test func thousandDigitNumeric() throws {
        let digits = String(repeating: "9876543210", count: 100)
        for text in [digits, "-" + digits, digits + ".5", "-0." + digits] {
            let scale = text.contains(".") ? text.split(separator: ".")[1].count : 0
            let json = try convert(text, oid: OID.numeric, typmod: numericTypmod(1000, scale))
            let bytes = try #require(base64Decode(json))
            #expect(applyScale(twosComplementToDecimal(bytes), scale) == text)
        }
    }

    @Test func int64BoundaryUnscaledValues() throws {
        for v: Int64 in [0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, -32769,
                         Int64.max, Int64.min, Int64.max - 1, Int64.min + 1, 1 << 40, -(1 << 40)] {
            var out = JSONOutput(capacity: 64)
            DecimalCodec.appendUnscaledInt64Base64(&out, v)
            let bytes = try #require(base64Decode(utf8(out)))
            #expect(isMinimalTwosComplement(bytes), "\(v)")
            #expect(twosComplementToDecimal(bytes) == String(v))
        }
    }

    // MARK: timestamps

    /// Formats epoch µs the way PostgreSQL prints `timestamp` with DateStyle=ISO.
    static func pgTimestampText(_ us: Int64) -> String {
        let days = Temporal.floorDiv(us, Temporal.microsPerDay)
        let tod = us - days * Temporal.microsPerDay
        let (y, m, d) = Temporal.civilFromDays(days)
        let bc = y <= 0
        let yoe = bc ? 1 - y : y
        var s = String(yoe)
        if s.count < 4 { s = String(repeating: "0", count: 4 - s.count) + s }
        s += String(format: "-%02lld-%02lld ", m, d)
        let secs = tod / 1_000_000
        s += String(format: "%02lld:%02lld:%02lld", secs / 3600, (secs / 60) % 60, secs % 60)
        var frac = tod % 1_000_000
        if frac != 0 {
            var digits = String(format: "%06lld", frac)
            while digits.hasSuffix("0") { digits.removeLast() }
            s += "." + digits
            frac = 0
        }
        if bc { s += " BC" }
        return s
    }

    @Test func timestampMicrosRoundTrip() throws {
        var rng = SeededGenerator(seed: 7)
        let minUS: Int64 = -210_866_803_200_000_000  // 4714-11-24 00:00:00 BC
        let maxUS: Int64 = 9_223_371_331_199_999_999 // 294247-01-01 23:59:59.999999 (largest that fits int64 µs)
        for i in 0..<5000 {
            var us = Int64.random(in: minUS...maxUS, using: &rng)
            if i % 3 == 0 { us = Int64.random(in: -5_000_000_000_000_000...5_000_000_000_000_000, using: &rng) }
            if i % 7 == 0 { us -= us % 1_000_000 }
            let text = Self.pgTimestampText(us)
            #expect(try convert(text, oid: OID.timestamp) == String(us), "\(text)")
            var t = Array(text.utf8)
            let back = try t.withUnsafeMutableBufferPointer { p throws(ConversionFailure) in
                try Temporal.parseTimestampMicros(UnsafeBufferPointer(p))
            }
            #expect(Self.pgTimestampText(back) == text)
        }
    }

    @Test func calendarAgreesWithFoundation() {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        var rng = SeededGenerator(seed: 99)
        for _ in 0..<2000 {
            // Foundation's gregorian calendar is Julian before 1582; compare from 1600 on.
            let days = Int64.random(in: -135_140...2_932_896, using: &rng) // 1600-01-01 ... 9999-12-31
            let date = Date(timeIntervalSince1970: Double(days) * 86_400)
            let c = cal.dateComponents([.year, .month, .day], from: date)
            let (y, m, d) = Temporal.civilFromDays(days)
            #expect(Int(y) == c.year && Int(m) == c.month && Int(d) == c.day)
            #expect(Temporal.daysFromCivil(y, m, d) == days)
        }
    }

    @Test func timestamptzAgainstIndependentComputation() throws {
        var rng = SeededGenerator(seed: 1234)
        for _ in 0..<3000 {
            let utc = Int64.random(in: -60_000_000_000_000_000...60_000_000_000_000_000, using: &rng)
            let offsetSeconds = Int64.random(in: -15 * 3600...15 * 3600, using: &rng) / 60 * 60
            let local = utc + offsetSeconds * 1_000_000
            var text = Self.pgTimestampText(local)
            let bc = text.hasSuffix(" BC")
            if bc { text.removeLast(3) }
            let sign = offsetSeconds < 0 ? "-" : "+"
            let a = abs(offsetSeconds)
            text += sign + String(format: "%02lld", a / 3600)
            if a % 3600 != 0 { text += String(format: ":%02lld", (a / 60) % 60) }
            if bc { text += " BC" }
            let json = try convert(text, oid: OID.timestamptz)
            // Independent expectation: format the UTC µs with java.time's ISO layout.
            let days = Temporal.floorDiv(utc, Temporal.microsPerDay)
            let tod = utc - days * Temporal.microsPerDay
            let (y, m, d) = Temporal.civilFromDays(days)
            var year: String
            if y > 9999 { year = "+" + String(y) } else {
                year = String(format: "%04lld", abs(y))
                if y < 0 { year = "-" + year }
            }
            let secs = tod / 1_000_000
            let expected = "\"" + year + String(format: "-%02lld-%02lldT%02lld:%02lld:%02lld.%06lldZ", m, d, secs / 3600,
                                                 (secs / 60) % 60, secs % 60, tod % 1_000_000) + "\""
            #expect(json == expected, "\(text)")
        }
    }

    // MARK: intervals

    @Test func intervalMicroDurationsRoundTripForDayTimeIntervals() throws {
        var rng = SeededGenerator(seed: 77)
        for _ in 0..<2000 {
            let days = Int64.random(in: -100_000...100_000, using: &rng)
            let micros = Int64.random(in: -86_399_999_999...86_399_999_999, using: &rng)
            let sign = micros < 0 ? "-" : ""
            let m = micros.magnitude
            let text = "\(days) days \(sign)\(m / 3_600_000_000):" + pad(m / 60_000_000 % 60) + ":" + pad(m / 1_000_000 % 60)
                + "." + String(format: "%06d", Int(m % 1_000_000))
            let json = try convert(text, oid: OID.interval)
            let decoded = try #require(Int64(json))
            let expected = days * 86_400_000_000 + micros
            // Debezium computes in doubles: exact up to 2^53 µs, within 1 µs beyond.
            #expect(Swift.abs(decoded - expected) <= 1, "\(text)")
        }
    }

    @Test func intervalISOStringsParseBackToTheOriginalComponents() throws {
        var rng = SeededGenerator(seed: 78)
        let string = EncoderOptions(intervalHandling: .string)
        var lossy = 0
        defer { #expect(lossy < 60, "Debezium's double detour loses a microsecond for about 0.8% of values") }
        for _ in 0..<2000 {
            let years = Int64.random(in: -200...200, using: &rng), months = Int64.random(in: -11...11, using: &rng)
            let days = Int64.random(in: -1000...1000, using: &rng)
            let micros = Int64.random(in: -86_399_999_999...86_399_999_999, using: &rng)
            let sign = micros < 0 ? "-" : ""
            let m = micros.magnitude
            let text = "\(years) years \(months) mons \(days) days \(sign)\(m / 3_600_000_000):" + pad(m / 60_000_000 % 60)
                + ":" + pad(m / 1_000_000 % 60) + "." + String(format: "%06d", Int(m % 1_000_000))
            let iso = try convert(text, oid: OID.interval, options: string)
            let match = try #require(iso.wholeMatch(of: /"P(-?\d+)Y(-?\d+)M(-?\d+)DT(-?\d+)H(-?\d+)M(-?[\d.]+)S"/), "\(iso)")
            #expect(Int64(match.1) == years && Int64(match.2) == months && Int64(match.3) == days)
            // Debezium's seconds go through a double truncated to six places, which loses one microsecond
            // for under 1% of values (toward zero); the rest come back exactly.
            let seconds = try #require(Double(String(match.6)))
            let total = (Int64(match.4)! * 3600 + Int64(match.5)! * 60) * 1_000_000 + Int64((seconds * 1_000_000).rounded())
            #expect(total == micros || total == micros - micros.signum(), "\(text) -> \(iso)")
            if total != micros { lossy += 1 }
        }
    }

    private func pad(_ v: UInt64) -> String { v < 10 ? "0\(v)" : "\(v)" }

    // MARK: decimal modes

    @Test func decimalStringsAndDoublesDecodeToTheOriginalValue() throws {
        var rng = SeededGenerator(seed: 79)
        let string = EncoderOptions(decimalHandling: .string)
        let double = EncoderOptions(decimalHandling: .double)
        for _ in 0..<3000 {
            let intDigits = Int.random(in: 0...20, using: &rng), fracDigits = Int.random(in: 0...20, using: &rng)
            var text = Bool.random(using: &rng) ? "-" : ""
            text += intDigits == 0 ? "0" : String((0..<intDigits).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
            if fracDigits > 0 {
                text += "." + String((0..<fracDigits).map { _ in Character(String(Int.random(in: 0...9, using: &rng))) })
            }
            let asString = try convert(text, oid: OID.numeric, options: string)
            let decoded = try #require(Decimal(string: String(asString.dropFirst().dropLast())), "\(asString)")
            #expect(decoded == Decimal(string: text), "\(text) -> \(asString)")
            let asDouble = try convert(text, oid: OID.numeric, options: double)
            #expect(Double(asDouble) == Double(text), "\(text) -> \(asDouble)")
        }
    }
}
