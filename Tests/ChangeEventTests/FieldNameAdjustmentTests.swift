import Testing
@testable import ChangeEvent

/// `field.name.adjustment.mode` against Debezium's FieldNameUnderscoreReplacementFunction (per UTF-16 unit,
/// `[A-Za-z_]` first, `[A-Za-z0-9_]` after; a leading digit kept after its `_`). The golden Avro run
/// checks the same against real Debezium for `Line Note` and `Zähler` (Golden/*.avro-schemas.json).
@Suite struct FieldNameAdjustmentTests {
    @Test func avroNamesAreLeftAlone() {
        for name in ["id", "_x", "Order_Id2", "a"] { #expect(FieldNameAdjustment.avro.adjusted(name) == name) }
        #expect(FieldNameAdjustment.none.adjusted("Line Note") == "Line Note")
    }

    @Test func invalidCharactersBecomeUnderscores() {
        let avro = FieldNameAdjustment.avro
        #expect(avro.adjusted("Line Note") == "Line_Note")
        #expect(avro.adjusted("Zähler") == "Z_hler")
        #expect(avro.adjusted("a.b-c") == "a_b_c")
        #expect(avro.adjusted("1st") == "_1st")
        #expect(avro.adjusted("-x") == "_x")
        #expect(avro.adjusted("t😀") == "t__")     // a surrogate pair: two Java chars
        #expect(avro.adjusted("") == "")
    }

    @Test func keysRowsAndTheirSchemasUseTheAdjustedName() throws {
        var options = EncoderOptions(includeSchemas: true, schemaNamePrefix: "app")
        options.fieldNameAdjustment = .avro
        let table = TableSchema(schema: "Odd", table: "Order Lines", columns: [
            ColumnSchema(name: "Id", typeOID: OID.int4, isKey: true, isOptional: false),
            ColumnSchema(name: "Line Note", typeOID: OID.text),
        ], options: options)
        let encoder = ChangeEventEncoder(options: options)
        let key = utf8(try #require(try encoder.encodeKey(table: table, row: [txt("1"), txt("x")])))
        #expect(key.contains(#""field":"Id""#) && key.hasSuffix(#""payload":{"Id":1}}"#))
        let value = utf8(try encoder.encodeRowChange(
            op: .create, table: table, before: nil, after: [txt("1"), txt("note")],
            source: SourceInfo(connectorVersion: "v", serverName: "app", database: "db", commitTimeMicros: 0,
                               transactionID: 7, lsn: 10), eventTimeMillis: 1))
        #expect(value.contains(#"{"type":"string","optional":true,"field":"Line_Note"}"#))
        #expect(value.contains(#""after":{"Id":1,"Line_Note":"note"}"#))
        #expect(!value.contains("Line Note"))
    }
}
