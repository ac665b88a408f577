import Testing
@testable import ChangeEvent

@Suite("hstore")
struct HstoreLiteralTests {
    static func map(_ text: String) -> Outcome {
        run(text) { (out, p) throws(ConversionFailure) in try HstoreLiteral.appendMap(&out, p) }
    }

    static func json(_ text: String) -> Outcome {
        run(text) { (out, p) throws(ConversionFailure) in try HstoreLiteral.appendJSONString(&out, p) }
    }

    @Test func debeziumTestExpectations() {
        // AbstractRecordsProducerTest: hs / hsarr JSON strings (HashMap order: key5 before key4).
        #expect(Self.json(#""key"=>"val""#) == .json(#""{\"key\":\"val\"}""#))
        #expect(Self.json(#""key1"=>"val1", "key2"=>"val2", "key3"=>"val3""#)
                == .json(#""{\"key1\":\"val1\",\"key2\":\"val2\",\"key3\":\"val3\"}""#))
        #expect(Self.json(#""key4"=>"val4", "key5"=>NULL"#) == .json(#""{\"key5\":null,\"key4\":\"val4\"}""#))
        #expect(Self.json(#""key1"=>"val1", "key2"=>NULL"#) == .json(#""{\"key1\":\"val1\",\"key2\":null}""#))
        #expect(Self.map(#""key4"=>"val4", "key5"=>NULL"#) == .json(#"{"key5":null,"key4":"val4"}"#))
    }

    @Test func emptyHstore() {
        #expect(Self.map("") == .json("{}"))
        #expect(Self.json("") == .json(#""{}""#))
        #expect(Self.map("  ") == .json("{}"))
    }

    @Test func escapesNullsAndQuotedNULL() {
        // PostgreSQL's output for hstore(ARRAY['a','b','c"d','NULL','','k'], ARRAY['1',NULL,'x\y','NULL','',E'tab\there']).
        let text = "\"\"=>\"\", \"a\"=>\"1\", \"b\"=>NULL, \"k\"=>\"tab\there\", \"c\\\"d\"=>\"x\\\\y\", \"NULL\"=>\"NULL\""
        // java.util.HashMap iterates these keys as "", a, b, NULL, c"d, k (JDK 17 and 25).
        #expect(Self.map(text) == .json(#"{"":"","a":"1","b":null,"NULL":"NULL","c\"d":"x\\y","k":"tab\there"}"#))
        #expect(Self.json(text) == .json(#""{\"\":\"\",\"a\":\"1\",\"b\":null,\"NULL\":\"NULL\",\"c\\\"d\":\"x\\\\y\",\"k\":\"tab\\there\"}""#))
    }

    @Test func inputWhitespaceAndCaseAreLenient() {
        #expect(Self.map(#" "a" => "1" ,"b"=>null "#) == .json(#"{"a":"1","b":null}"#))
    }

    @Test func repeatedKeysBehaveLikeHashMapPut() {
        // Last value wins, first position kept.
        #expect(Self.map(#""a"=>"1", "b"=>"2", "a"=>NULL"#) == .json(#"{"a":null,"b":"2"}"#))
    }

    @Test func nonASCIIAndInvalidUTF8() {
        // Outside the Basic Multilingual Plane: escaped by the event's writer (map), once (json); as
        // Debezium 3.6.3 writes them (the golden workload's c_hstore).
        #expect(Self.map("\"é\"=>\"😀\"") == .json("{\"é\":\"\\uD83D\\uDE00\"}"))
        #expect(Self.json("\"é\"=>\"😀\"") == .json("\"{\\\"é\\\":\\\"\\uD83D\\uDE00\\\"}\""))
        // Invalid UTF-8 is repaired with U+FFFD, like Java's decoder.
        #expect(run([0x22, 0xFF, 0x22, 0x3D, 0x3E, 0x22, 0x78, 0x22]) { (out, p) throws(ConversionFailure) in
            try HstoreLiteral.appendMap(&out, p)
        } == .json("{\"\u{FFFD}\":\"x\"}"))
    }

    @Test func orderMatchesJavaForAManyKeyMap() {
        // Keys k0...k19: java.util.HashMap iterates them in this order (checked with JDK 17 and 25).
        let text = (0..<20).map { "\"k\($0)\"=>\"\($0)\"" }.joined(separator: ", ")
        let expected = "{" + ["k0", "k1", "k2", "k3", "k4", "k5", "k11", "k6", "k10", "k7", "k13", "k8", "k12", "k9", "k15",
                              "k14", "k17", "k16", "k19", "k18"].map { "\"\($0)\":\"\($0.dropFirst())\"" }.joined(separator: ",") + "}"
        #expect(Self.map(text) == .json(expected))
    }

    @Test func javaStringHash() {
        var units: [UInt16] = []
        Array("key4".utf8).withUnsafeBufferPointer { JavaHashMapOrder.appendUTF16(&units, $0) }
        #expect(JavaHashMapOrder.stringHash(units[...]) == 3_288_501)       // "key4".hashCode()
        units.removeAll()
        Array("😀é".utf8).withUnsafeBufferPointer { JavaHashMapOrder.appendUTF16(&units, $0) }
        #expect(units == [0xD83D, 0xDE00, 0xE9])
        #expect(JavaHashMapOrder.stringHash(units[...]) == 54_960_102)       // "😀é".hashCode()
    }

    @Test(arguments: [
        "a=>b", "\"a\"", "\"a\"=>", "\"a\"=>\"b", "\"a\"=\"b\"", "\"a\">\"b\"", "\"a\"=>\"b\",", "\"a\"=>\"b\" \"c\"=>\"d\"",
        "\"a\"=>nul", "\"a\"=>NULLx", "\"a\"=>\"b\"x", ",", "\"a\\", "\"a\"=>\"b\\\"", "NULL=>\"a\"", "\"a\"=>\"b\",,\"c\"=>\"d\"",
    ])
    func malformedThrows(_ text: String) {
        #expect(Self.map(text).isFailure, "\(text)")
        #expect(Self.json(text).isFailure, "\(text)")
    }

    @Test func randomBytesNeverCrash() {
        let alphabet = "\"\"\"=>=>,, NULLnul\\ab1é"
        let inputs = fuzzInputs(seed: 21, count: 20_000, alphabet: alphabet)
            + mutations(of: [#""a"=>"1", "b"=>NULL"#, #""c\"d"=>"x\\y""#, #""key4"=>"val4", "key5"=>NULL"#, ""],
                        seed: 22, count: 20_000, alphabet: alphabet)
        let (ok, failed) = expectNoCrash(inputs) { (out, p) throws(ConversionFailure) in try HstoreLiteral.appendMap(&out, p) }
        #expect(ok > 200 && failed > 1000)
        expectNoCrash(inputs) { (out, p) throws(ConversionFailure) in try HstoreLiteral.appendJSONString(&out, p) }
    }
}
