import Testing
@testable import ChangeEvent

/// Differential tests against vectors computed by the JDK (scripts/oracle/Oracle.java, JDK 25).
@Suite("JDK oracle vectors")
struct OracleVectorTests {
    struct Vector {
        var kind: String
        var input: [UInt8]
        var expected: [UInt8]
    }

    static func unhex(_ s: Substring) -> [UInt8] {
        var out = JSONOutput(capacity: 64)
        out.reserveCapacity(s.utf8.count / 2)
        var hi: UInt8?
        for c in s.utf8 {
            let v: UInt8 = c <= 0x39 ? c - 0x30 : c - 0x61 + 10
            if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
        }
        return out.bytes()
    }

    static let vectors: [Vector] = OracleVectors.tsv.split(separator: "\n").map { line in
        let f = line.split(separator: "\t", omittingEmptySubsequences: false)
        return Vector(kind: String(f[0]), input: unhex(f[1]), expected: unhex(f[2]))
    }

    static func vectors(_ kind: String) -> [Vector] { vectors.filter { $0.kind == kind } }

    /// Runs `body` on the vector's input and returns the output as a String (or the error).
    static func run(_ v: Vector, _ body: (inout JSONOutput, UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Void) -> String {
        var out = JSONOutput(capacity: 64)
        let failure: ConversionFailure? = v.input.withUnsafeBufferPointer { p in
            do throws(ConversionFailure) { try body(&out, p); return nil } catch { return error }
        }
        if let failure { return "error: \(failure.reason)" }
        return utf8(out)
    }

    func check(_ kind: String, minimum: Int, _ body: (inout JSONOutput, UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Void) {
        let vs = Self.vectors(kind)
        #expect(vs.count >= minimum, "\(kind)")
        var failures = 0
        for v in vs {
            let got = Self.run(v, body)
            var want = utf8(v.expected)
            // Double.toString's non-finite values are what JsonConverter quotes.
            if ["NaN", "Infinity", "-Infinity"].contains(want) { want = "\"\(want)\"" }
            if got != want {
                failures += 1
                if failures <= 5 { Issue.record("\(kind): \(utf8(v.input).prefix(200)) -> \(got.prefix(200)), want \(want.prefix(200))") }
            }
        }
        #expect(failures == 0, "\(kind): \(failures) of \(vs.count) differ")
    }

    @Test func hstoreMap() { check("hstore_map", minimum: 100) { (out, p) throws(ConversionFailure) in try HstoreLiteral.appendMap(&out, p) } }

    @Test func hstoreJSON() { check("hstore_json", minimum: 100) { (out, p) throws(ConversionFailure) in try HstoreLiteral.appendJSONString(&out, p) } }

    /// Iteration order of larger maps, including tree bins (full and partial hash collisions).
    @Test func hstoreOrder() {
        check("hstore_order", minimum: 250) { (out, p) throws(ConversionFailure) in
            let parsed = try HstoreLiteral.parse(p)
            let order = HstoreLiteral.hashMapOrder(parsed)
            // Text position of each key's first occurrence.
            var text: [String] = []
            for (k, entry) in order.enumerated() {
                let index = parsed.pairs.firstIndex { $0.key == entry.key } ?? -1
                if k > 0 { text.append(",") }
                text.append(String(index))
            }
            out.append(contentsOf: Array(text.joined().utf8))
        }
    }

    @Test func numericString() {
        check("numeric_string", minimum: 400) { (out, p) throws(ConversionFailure) in
            var inner = JSONOutput(capacity: 64)
            try DecimalText.appendString(&inner, p)
            inner.withBytes { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0.dropFirst().dropLast())) }     // vectors hold the bare toString
        }
    }

    // (The numeric_string_scale_* vectors pad values to a column scale; PostgreSQL already prints every
    // numeric(p,s) value with s fraction digits, so Swallow copies its digits and has nothing to pad.)

    @Test func numericDouble() { check("numeric_double", minimum: 400) { (out, p) throws(ConversionFailure) in try DecimalText.appendDouble(&out, p) } }

    @Test func moneyString() {
        check("money_string", minimum: 200) { (out, p) throws(ConversionFailure) in
            var inner = JSONOutput(capacity: 64)
            DecimalText.appendMoneyString(&inner, cents: try ValueConverter.parseMoneyCents(p))
            inner.withBytes { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0.dropFirst().dropLast())) }
        }
    }

    @Test func moneyDouble() { check("money_double", minimum: 200) { (out, p) throws(ConversionFailure) in DecimalText.appendMoneyDouble(&out, cents: try ValueConverter.parseMoneyCents(p)) } }

    @Test func bits() { check("bits", minimum: 200) { (out, p) throws(ConversionFailure) in try BitString.append(&out, p) } }

    @Test func intervalISO() { check("interval_iso", minimum: 500) { (out, p) throws(ConversionFailure) in try IntervalISO.append(&out, p) } }

    @Test func javaDoubleToString() {
        check("double", minimum: 1500) { (out, p) throws(ConversionFailure) in
            let bits = UInt64(String(decoding: p, as: UTF8.self), radix: 16)!
            JavaDouble.append(&out, Double(bitPattern: bits))
        }
    }
}

extension OracleVectorTests {
    /// The hstore_order vectors reach the tree-bin code: treeifyBin, split + untreeify.
    @Test func hstoreVectorsExerciseTreeBins() throws {
        var treeified = 0, untreeified = 0
        for v in Self.vectors("hstore_order") {
            let parsed = try v.input.withUnsafeBufferPointer { (p) throws(ConversionFailure) in try HstoreLiteral.parse(p) }
            var map = JavaHashMapOrder()
            parsed.storage.withUnsafeBufferPointer { s in
                for pair in parsed.pairs { map.put(utf8: UnsafeBufferPointer(rebasing: s[pair.key])) }
            }
            treeified += map.treeifications
            untreeified += map.untreeifications
        }
        #expect(treeified > 10)
        #expect(untreeified > 0)
    }
}
