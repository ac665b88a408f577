import ChangeEvent
import Testing

/// `table.expand.json.payload` as Debezium's JsonSchemaData and JsonConverter write it (the golden run
/// outbox.expanded checks these against Debezium itself).
@Suite struct ExpandedJSONPayloadTests {
    private func expand(_ text: String, keepNulls: Bool = false) -> String? {
        ExpandedJSONPayload.expand(Array(text.utf8)[...], keepNulls: keepNulls).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func numbersNullsAndEmptyArraysAsJacksonAndJsonSchemaData() {
        #expect(expand(#"{"id": 1001, "total": 59.90, "note": null, "tags": [], "big": 12345678901, "e": 1e5}"#)
                == #"{"id":1001,"total":59.9,"big":12345678901,"e":100000.0}"#)
        #expect(expand(#"{"note": null}"#, keepNulls: true) == #"{"note":null}"#)
        #expect(expand(#"{"s": "a\"b\u00e9\t"}"#) == "{\"s\":\"a\\\"bé\\t\"}")
    }

    @Test func arraysOfObjectsTakeTheUnionOfTheirFields() {
        #expect(expand(#"{"lines": [{"a": 1}, {"b": "x"}]}"#) == #"{"lines":[{"a":1,"b":null},{"a":null,"b":"x"}]}"#)
        #expect(expand(#"{"n": {"deep": {"x": true}}, "empty": {}}"#) == #"{"n":{"deep":{"x":true}},"empty":{}}"#)
    }

    @Test func whatDebeziumCannotExpandStaysAsItIs() {
        #expect(expand(#"{"scores": [1.5, 2, null]}"#) == nil)       // mixed number kinds
        #expect(expand(#"{"n": 123456789012345678901234}"#) == nil)   // beyond int64
        #expect(expand(#"[{"a": 1}]"#) == nil)                        // an array at the top
        #expect(expand(#" {"a": 1}"#) == nil)                         // not starting with {
        #expect(expand(#"{"a": }"#) == nil)                           // malformed
        #expect(expand(#"{"a": [null]}"#) == nil)                     // no element to type the array
    }
}
