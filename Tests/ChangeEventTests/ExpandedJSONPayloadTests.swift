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

    private func expandWithSchema(_ text: String, keepNulls: Bool = false, name: String = "payload") -> String? {
        ExpandedJSONPayload.expandWithSchema(Array(text.utf8)[...], keepNulls: keepNulls, name: name)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// The schema JsonSchemaData infers as JsonConverter writes it (the golden runs outbox.expandschemas
    /// and outbox-messages.schemas check these against Debezium itself): all optional, structs named by
    /// their path from the payload field, an array's objects by the array's path.
    @Test func schemasAreOptionalAndStructsNamedByPath() {
        #expect(expandWithSchema(#"{"id": 1, "big": 12345678901, "w": 1.5, "ok": true, "s": "x"}"#, name: "body") == #"""
            {"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"field":"id"},\#
            {"type":"int64","optional":true,"field":"big"},{"type":"double","optional":true,"field":"w"},\#
            {"type":"boolean","optional":true,"field":"ok"},{"type":"string","optional":true,"field":"s"}],\#
            "optional":true,"name":"body"},"payload":{"id":1,"big":12345678901,"w":1.5,"ok":true,"s":"x"}}
            """#)
        #expect(expandWithSchema(#"{"n": {"deep": {}}, "lines": [{"a": 1}]}"#) == #"""
            {"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"struct","fields":[],\#
            "optional":true,"name":"payload.n.deep","field":"deep"}],"optional":true,"name":"payload.n","field":"n"},\#
            {"type":"array","items":{"type":"struct","fields":[{"type":"int32","optional":true,"field":"a"}],\#
            "optional":true,"name":"payload.lines"},"optional":true,"field":"lines"}],"optional":true,"name":"payload"},\#
            "payload":{"n":{"deep":{}},"lines":[{"a":1}]}}
            """#)
        // Elements other than objects are inferred with no path: the objects of an inner array have no name.
        #expect(expandWithSchema(#"{"m": [[{"a": "x"}]], "t": ["x"]}"#) == #"""
            {"schema":{"type":"struct","fields":[{"type":"array","items":{"type":"array","items":{"type":"struct",\#
            "fields":[{"type":"string","optional":true,"field":"a"}],"optional":true},"optional":true},\#
            "optional":true,"field":"m"},{"type":"array","items":{"type":"string","optional":true},"optional":true,\#
            "field":"t"}],"optional":true,"name":"payload"},"payload":{"m":[[{"a":"x"}]],"t":["x"]}}
            """#)
        // table.json.payload.null.behavior: optional_bytes keeps a null member as optional bytes.
        #expect(expandWithSchema(#"{"note": null}"#, keepNulls: true) == #"""
            {"schema":{"type":"struct","fields":[{"type":"bytes","optional":true,"field":"note"}],"optional":true,\#
            "name":"payload"},"payload":{"note":null}}
            """#)
        #expect(expandWithSchema(#"{"scores": [1.5, 2]}"#) == nil)
    }
}
