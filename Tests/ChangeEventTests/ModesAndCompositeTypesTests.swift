import Foundation
import Testing
@testable import ChangeEvent

/// Arrays, hstore, bit strings, enums, domains, extension types, unknown types, and every non-default
/// Debezium mode, value by value.
@Suite("Composite types and modes")
struct ModesAndCompositeTypesTests {
    // MARK: arrays

    @Test func arraysConvertEachElementAndKeepNulls() throws {
        #expect(try convert("{1,NULL,-3}", oid: OID.int4Array) == "[1,null,-3]")
        #expect(try convert("{}", oid: OID.int4Array) == "[]")
        #expect(try convert(#"{"a,b","c\"d",NULL,"NULL",plain,"x\\y"}"#, oid: OID.textArray)
                == #"["a,b","c\"d",null,"NULL","plain","x\\y"]"#)
        #expect(try convert("{t,f}", oid: OID.boolArray) == "[true,false]")
        #expect(try convert("{1.50,NULL}", oid: OID.numericArray) == #"[{"scale":1,"value":"Dw=="},null]"#)
        #expect(try convert("{2024-02-29,1970-01-01}", oid: OID.dateArray) == "[19782,0]")
        #expect(try convert(#"{"2024-02-29 13:45:01+00"}"#, oid: OID.timestamptzArray) == #"["2024-02-29T13:45:01.000000Z"]"#)
        #expect(try convert(#"{"\\x0a0b"}"#, oid: OID.byteaArray) == #"["Cgs="]"#)
    }

    @Test func multiDimensionalArraysNestAndDimensionBoundsAreIgnored() throws {
        #expect(try convert("{{1,2},{3,NULL}}", oid: OID.int4Array) == "[[1,2],[3,null]]")
        #expect(try convert("[0:1]={7,8}", oid: OID.int4Array) == "[7,8]")
        #expect(try convert("[1:1][1:2]={{7,8}}", oid: OID.int4Array) == "[[7,8]]")
        #expect(try convert("{ 1 , 2 }", oid: OID.int4Array) == "[1,2]")
    }

    @Test func arraysOfEnumsAndDomainsUseTheirBaseConversion() throws {
        #expect(try convert("{sad,happy}", oid: OID.moodArray) == #"["sad","happy"]"#)
        #expect(try convert("{1.50,2.00}", oid: OID.priceArray) == #"["AJY=","AMg="]"#)   // numeric(10,2): 150, 200
    }

    @Test(arguments: ["", "{", "}", "{1,}", "{,1}", "{1,2", "{1}x", "{{1},2}x", "1,2", "{\"a}", "{1\"}",
                      "[0:1]{1}", "{{{{{{{1}}}}}}}", "{a b}c}"])
    func malformedArraysAreRejected(_ text: String) {
        #expect(throws: ChangeEventError.self) { try convert(text, oid: OID.int4Array) }
    }

    @Test func anElementThatDoesNotParseFailsTheArray() {
        #expect(throws: ChangeEventError.self) { try convert("{1,x}", oid: OID.int4Array) }
        #expect(throws: ChangeEventError.self) { try convert("{99999999999}", oid: OID.int4Array) }
    }

    // MARK: hstore

    @Test func hstoreIsAJSONStringOrAMapInJavaHashMapOrder() throws {
        let text = #""b"=>"2", "a"=>"1", "c"=>NULL, "q\"uote"=>"x\\y""#
        // Java: "a".hashCode()=97, "b"=98, "c"=99, "q\"uote" spreads to bucket 6 of 16.
        let map = try convert(text, oid: OID.hstore, options: EncoderOptions(hstoreHandling: .map))
        #expect(map == #"{"a":"1","b":"2","c":null,"q\"uote":"x\\y"}"# || map.hasPrefix(#"{"a":"1","b":"2","c":null"#))
        let object = try JSONSerialization.jsonObject(with: Data(map.utf8)) as? [String: Any]
        #expect(object?["q\"uote"] as? String == "x\\y")
        let json = try convert(text, oid: OID.hstore)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed) as? String
        #expect(decoded == String(map))
        #expect(try convert("", oid: OID.hstore, options: EncoderOptions(hstoreHandling: .map)) == "{}")
    }

    @Test(arguments: [#""a"=>"1","#, #""a"=>"#, #""a"="1""#, #"a=>"1""#, #""a"=>nul"#, #""a"=>"1" "b"=>"2""#, #""a"=>"1"x"#])
    func malformedHstoreIsRejected(_ text: String) {
        #expect(throws: ChangeEventError.self) { try convert(text, oid: OID.hstore) }
    }

    // MARK: bit strings

    @Test func bitStringsAreLittleEndianBitSetBytes() throws {
        #expect(try convert("1", oid: OID.bit, typmod: 1) == "true")
        #expect(try convert("0", oid: OID.bit, typmod: 1) == "false")
        #expect(try convert("10110", oid: OID.bit, typmod: 5) == "\"Fg==\"")            // 22
        #expect(try convert("0000000100000010", oid: OID.bit, typmod: 16) == "\"AgE=\"") // 0x0102 little-endian
        #expect(try convert("0000000000000010", oid: OID.bit, typmod: 16) == "\"Ag==\"") // BitSet.toByteArray: no high zero byte
        #expect(try convert("00000", oid: OID.bit, typmod: 5) == "\"\"")                 // all zeros: no bytes
        #expect(try convert("101", oid: OID.varbit) == "\"BQ==\"")
        #expect(try convert("", oid: OID.varbit) == "\"\"")
        #expect(throws: ChangeEventError.self) { try convert("102", oid: OID.bit, typmod: 3) }
        #expect(throws: ChangeEventError.self) { try convert("2", oid: OID.bit, typmod: 1) }
    }

    // MARK: enums, domains, extension types, unknown types

    @Test func enumsDomainsAndExtensionTypes() throws {
        #expect(try convert("happy", oid: OID.mood) == "\"happy\"")
        #expect(try convert("12.30", oid: OID.price) == "\"BM4=\"")   // numeric(10,2) from the domain: 1230
        #expect(try convert("Hello", oid: OID.citext) == "\"Hello\"")
        #expect(try convert("a.b.c", oid: OID.ltree) == "\"a.b.c\"")
    }

    @Test func unknownTypesFailByDefaultOrPassAsText() throws {
        let table = TableSchema(schema: "s", table: "t", columns: [col("id", OID.int4, key: true), col("p", OID.point)],
                                types: testCatalog)
        #expect(table.unsupportedColumns.map(\.column) == ["p"])
        do {
            _ = try encoder.encodeKey(table: table, row: [txt("1"), .null])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unsupportedType)
            #expect(error.description.contains("s.t.p of type point"))
        }
        #expect(try convert("(1,2)", oid: OID.point, options: EncoderOptions(unknownTypeHandling: .string)) == "\"(1,2)\"")
        // An OID no catalog describes is unknown too.
        #expect(throws: ChangeEventError.self) { try convert("x", oid: 424_242) }
        // Excluded columns do not count.
        let excluded = TableSchema(schema: "s", table: "t", columns: [col("id", OID.int4, key: true), col("p", OID.point)],
                                   types: testCatalog, excludedColumns: ["p"])
        #expect(excluded.unsupportedTypeError == nil)
    }

    // MARK: decimal.handling.mode

    @Test func decimalStringModeIsBigDecimalToString() throws {
        let string = EncoderOptions(decimalHandling: .string)
        let t = numericTypmod(10, 2)
        #expect(try convert("1234.50", oid: OID.numeric, typmod: t, options: string) == "\"1234.50\"")
        #expect(try convert("-0.05", oid: OID.numeric, options: string) == "\"-0.05\"")
        #expect(try convert("0.000001", oid: OID.numeric, options: string) == "\"0.000001\"")
        #expect(try convert("0.0000001", oid: OID.numeric, options: string) == "\"1E-7\"")
        #expect(try convert("0.00000012", oid: OID.numeric, options: string) == "\"1.2E-7\"")
        #expect(try convert("0.00000000", oid: OID.numeric, options: string) == "\"0E-8\"")
        #expect(try convert("12300", oid: OID.numeric, options: string) == "\"12300\"")
        #expect(try convert("NaN", oid: OID.numeric, options: string) == "\"NAN\"")
        #expect(try convert("Infinity", oid: OID.numeric, options: string) == "\"POSITIVE_INFINITY\"")
        #expect(try convert("-Infinity", oid: OID.numeric, options: string) == "\"NEGATIVE_INFINITY\"")
        #expect(try convert("$1,234.56", oid: OID.money, options: string) == "\"1234.56\"")
        #expect(try convert("-$0.05", oid: OID.money, options: string) == "\"-0.05\"")
    }

    @Test func decimalDoubleModeIsJavaDoubleToString() throws {
        let double = EncoderOptions(decimalHandling: .double)
        #expect(try convert("1234.50", oid: OID.numeric, options: double) == "1234.5")
        #expect(try convert("0.1", oid: OID.numeric, options: double) == "0.1")
        #expect(try convert("100", oid: OID.numeric, options: double) == "100.0")
        #expect(try convert("12345678.9", oid: OID.numeric, options: double) == "1.23456789E7")
        #expect(try convert("0.0001", oid: OID.numeric, options: double) == "1.0E-4")
        #expect(try convert("NaN", oid: OID.numeric, options: double) == "\"NaN\"")
        #expect(try convert("-Infinity", oid: OID.numeric, options: double) == "\"-Infinity\"")
        #expect(try convert("$1,234.56", oid: OID.money, options: double) == "1234.56")
    }

    // MARK: time.precision.mode

    @Test func connectAndMicrosecondTimeModes() throws {
        let connect = EncoderOptions(timePrecision: .connect)
        #expect(try convert("13:51:30.123456", oid: OID.time, options: connect) == "49890123")
        #expect(try convert("2024-02-29 13:45:01.123456", oid: OID.timestamp, options: connect) == "1709214301123")
        #expect(try convert("2024-02-29", oid: OID.date, options: connect) == "19782")
        let micro = EncoderOptions(timePrecision: .adaptiveTimeMicroseconds)
        #expect(try convert("13:51:30.123", oid: OID.time, typmod: 3, options: micro) == "49890123000")
        #expect(try convert("2024-02-29 13:45:01.123", oid: OID.timestamp, typmod: 3, options: micro) == "1709214301123")
        // timestamptz and timetz do not change with the mode.
        #expect(try convert("2024-02-29 13:45:01+00", oid: OID.timestamptz, options: connect) == "\"2024-02-29T13:45:01.000000Z\"")
    }

    // MARK: binary.handling.mode

    @Test func binaryModes() throws {
        let bytes = "\\xfbff00"
        #expect(try convert(bytes, oid: OID.bytea) == "\"+/8A\"")
        #expect(try convert(bytes, oid: OID.bytea, options: EncoderOptions(binaryHandling: .base64)) == "\"+/8A\"")
        #expect(try convert(bytes, oid: OID.bytea, options: EncoderOptions(binaryHandling: .base64URLSafe)) == "\"-_8A\"")
        #expect(try convert(bytes, oid: OID.bytea, options: EncoderOptions(binaryHandling: .hex)) == "\"fbff00\"")
        #expect(try convert("\\x61", oid: OID.bytea, options: EncoderOptions(binaryHandling: .base64URLSafe)) == "\"YQ==\"")
        // Unchanged TOAST: the placeholder's bytes in base64 modes, the placeholder itself in hex mode.
        #expect(try convert(.unchangedToast, oid: OID.bytea, options: EncoderOptions(toastPlaceholder: "ab", binaryHandling: .base64)) == "\"YWI=\"")
        #expect(try convert(.unchangedToast, oid: OID.bytea, options: EncoderOptions(toastPlaceholder: "ab", binaryHandling: .hex)) == "\"ab\"")
    }

    // MARK: interval.handling.mode

    @Test func intervalStringModeIsDebeziumISO() throws {
        let string = EncoderOptions(intervalHandling: .string)
        #expect(try convert("1 year 2 mons 3 days 04:05:06.78", oid: OID.interval, options: string) == "\"P1Y2M3DT4H5M6.78S\"")
        #expect(try convert("00:00:00", oid: OID.interval, options: string) == "\"P0Y0M0DT0H0M0S\"")
        #expect(try convert("-1 days -02:03:04.5", oid: OID.interval, options: string) == "\"P0Y0M-1DT-2H-3M-4.5S\"")
        #expect(try convert("00:00:00.000001", oid: OID.interval, options: string) == "\"P0Y0M0DT0H0M0.000001S\"")
        // 1.003691 is the double 1.0036909999999999: Debezium's BigDecimal.valueOf(...).setScale(6, DOWN) loses a µs.
        #expect(try convert("00:00:01.003691", oid: OID.interval, options: string) == "\"P0Y0M0DT0H0M1.00369S\"")
        #expect(try convert("00:00:00.5", oid: OID.interval, options: string) == "\"P0Y0M0DT0H0M0.5S\"")
        #expect(try convert("00:01:00", oid: OID.interval, options: string) == "\"P0Y0M0DT0H1M0S\"")
    }

    // MARK: TOAST placeholders shaped like the column

    @Test func unchangedToastPlaceholdersFollowTheColumnShape() throws {
        let table = TableSchema(schema: "s", table: "t", columns: [
            col("texts", OID.textArray), col("ints", OID.int4Array), col("uuids", OID.uuidArray),
            col("blobs", OID.byteaArray), col("tags", OID.hstore), col("nums", OID.numericArray),
        ], types: testCatalog, options: EncoderOptions(toastPlaceholder: "ab"))
        let out = try encoder.encodeRowChange(op: .update, table: table, before: nil,
                                              after: Array(repeating: .unchangedToast, count: 6),
                                              source: SourceInfo(connectorVersion: "v", serverName: "s", database: "d",
                                                                 commitTimeMicros: 0),
                                              eventTimeMillis: 0)
        let after = try #require((try JSONSerialization.jsonObject(with: Data(out)) as? [String: Any])?["after"] as? [String: Any])
        #expect(after["texts"] as? [String] == ["ab"])
        #expect(after["ints"] as? [Int] == [97, 98])
        // Java's UUID.nameUUIDFromBytes("ab".getBytes()): md5 187ef4436122d1cc2f40dc2b92f0eba0 with the
        // version (3) and variant bits set.
        #expect(after["uuids"] as? [String] == ["187ef443-6122-31cc-af40-dc2b92f0eba0"])
        #expect(after["blobs"] as? [String] == ["YWI="])
        #expect(after["tags"] as? String == #"{"ab":"ab"}"#)
        #expect(after["nums"] as? String == "ab")
    }

    @Test func md5MatchesTheRFCVectors() {
        func hex(_ s: String) -> String { MD5.digest(Array(s.utf8)).map { String(format: "%02x", $0) }.joined() }
        #expect(hex("") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex("abc") == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hex(String(repeating: "1234567890", count: 8)) == "57edf4a22be3c955ac49da2e2107b67a")
    }
}
