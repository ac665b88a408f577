import Testing
@testable import ChangeEvent

@Suite("Java Double.toString")
struct JavaDoubleTests {
    static func java(_ d: Double) -> String {
        var out = JSONOutput(capacity: 64)
        JavaDouble.append(&out, d)
        return utf8(out)
    }

    @Test func layouts() {
        // JDK 25 output.
        #expect(Self.java(1) == "1.0")
        #expect(Self.java(-1) == "-1.0")
        #expect(Self.java(0) == "0.0")
        #expect(Self.java(-0.0) == "-0.0")
        #expect(Self.java(100) == "100.0")
        #expect(Self.java(1234.56) == "1234.56")
        #expect(Self.java(9_999_999) == "9999999.0")
        #expect(Self.java(1e7) == "1.0E7")
        #expect(Self.java(0.001) == "0.001")
        #expect(Self.java(0.0001) == "1.0E-4")
        #expect(Self.java(1.2345678901234568e29) == "1.2345678901234568E29")
        #expect(Self.java(.greatestFiniteMagnitude) == "1.7976931348623157E308")
        #expect(Self.java(2.2250738585072014e-308) == "2.2250738585072014E-308")
        #expect(Self.java(.nan) == "\"NaN\"")
        #expect(Self.java(.infinity) == "\"Infinity\"")
        #expect(Self.java(-.infinity) == "\"-Infinity\"")
    }

    @Test func smallestSubnormalsUseJavasTwoDigitRule() {
        #expect(Self.java(.leastNonzeroMagnitude) == "4.9E-324")            // Swift prints 5e-324
        #expect(Self.java(Double(bitPattern: 2)) == "9.9E-324")
        #expect(Self.java(Double(bitPattern: 3)) == "1.5E-323")
        #expect(Self.java(-Double(bitPattern: 20)) == "-9.9E-323")
        #expect(Self.java(Double(bitPattern: 21)) == "1.04E-322")
    }

    @Test func shortestDigits() {
        var digits: [UInt8] = []
        #expect(JavaDouble.shortestDigits(6.78, into: &digits) == -2 && utf8(digits) == "678")
        #expect(JavaDouble.shortestDigits(1e-7, into: &digits) == -7 && utf8(digits) == "1")
        #expect(JavaDouble.shortestDigits(1.5e20, into: &digits) == 19 && utf8(digits) == "15")
        #expect(JavaDouble.shortestDigits(100, into: &digits) == 2 && utf8(digits) == "1")
        #expect(JavaDouble.shortestDigits(0.001, into: &digits) == -3 && utf8(digits) == "1")
        #expect(JavaDouble.shortestDigits(123456789, into: &digits) == 0 && utf8(digits) == "123456789")
    }

    @Test func roundTripsForRandomDoubles() {
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<20_000 {
            let d = Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng))
            let s = Self.java(d)
            if d.isNaN { #expect(s == "\"NaN\""); continue }
            if d.isInfinite { continue }
            // Java's text parses back to the same double (Swift accepts "1.0E7" too).
            #expect(Double(s) == d, "\(d) -> \(s)")
            #expect(s.contains(".") )
        }
    }
}
