import Avro
import ChangeEvent
import Testing

/// `events.format: avro` writes keys and row changes straight from the column values
/// (`encodeAvroKey`, `encodeAvroRowChange`). The reference is the transcoding of the JSON path's record
/// with its Connect schema (`AvroShape.encode(payload:)`), which the AvroData vectors check against
/// Confluent's AvroData: the direct bytes must be the same, for every type and mode.
@Suite("Avro written from column values")
struct DirectAvroTests {
    let source = SourceInfo(connectorVersion: "3.6.3.Final", serverName: "app", database: "shop",
                            commitTimeMicros: 1_700_000_000_123_456, transactionID: 771,
                            lsn: 24_023_128, lastCommitLSN: 24_023_000)

    static func avroOptions(_ base: EncoderOptions) -> EncoderOptions {
        var options = SampleRecords.options(base)
        options.avroRecords = true
        return options
    }

    /// The Avro the transcoder makes of a JSON record with its schema, and the schema string.
    static func transcoded(_ record: [UInt8]) throws -> (avro: [UInt8], schema: String) {
        let text = String(decoding: record, as: UTF8.self)
        let json = try JSONValue.parse(text)
        let schema = Array(try #require(json["schema"]).json.utf8)
        let payload = Array(try #require(json["payload"]).json.utf8)
        let shape = try AvroShape(connectSchemaJSON: schema)
        return (try shape.encode(payload: payload), shape.schemaString)
    }

    static func table(_ name: String = "every_type", options: EncoderOptions, columns: [ColumnSchema]? = nil,
                      excluded: Set<String> = [], routing: TableRouting? = nil,
                      masks: [String: ColumnMaskRule] = [:]) -> TableSchema {
        TableSchema(schema: "public", table: name,
                    columns: columns ?? SampleRecords.columns.map {
                        ColumnSchema(name: $0.0, typeOID: $0.1, typeModifier: $0.2, isKey: $0.0 == "id", isOptional: !$0.3)
                    },
                    types: SampleRecords.catalog, options: options, excludedColumns: excluded, routing: routing,
                    columnMasks: masks)
    }

    static func row(_ second: Bool) -> [ColumnValue] {
        SampleRecords.columns.map { column in
            let text = second ? column.5 : column.4
            return text.map { .text(ArraySlice(Array($0.utf8))) } ?? .null
        }
    }

    /// Checks every row change of `table` (insert with a transaction block, update, TOAST, snapshot read,
    /// delete with a key-only old row, and the key) written both ways.
    func checkEveryChange(_ table: TableSchema, rows: (first: [ColumnValue], second: [ColumnValue]),
                          label: String) throws {
        let encoder = ChangeEventEncoder(options: table.options)
        let plan = try #require(table.avro, "\(label): no Avro plan")
        #expect(plan.value.schemaString == (try Self.transcoded(encoder.encodeRowChange(
            op: .create, table: table, before: nil, after: rows.first, source: source, eventTimeMillis: 1)).schema), "\(label)")

        func same(_ direct: [UInt8], _ json: [UInt8], _ what: String) throws {
            #expect(direct.prefix(5) == [0, 0, 0, 0, 0], "\(label) \(what): the header's room")
            let reference = try Self.transcoded(json).avro
            #expect(Array(direct.dropFirst(5)) == reference, "\(label) \(what)")
        }

        var withTransaction = source
        withTransaction.transaction = TransactionBlock(id: "771:24023128", totalOrder: 2, dataCollectionOrder: 1)
        var toasted = rows.second
        // Columns PostgreSQL can TOAST (variable-length ones); the placeholder is a string.
        let toastable: Set<String> = ["c_text", "c_bytea", "c_jsonb", "c_xml", "c_text_array", "t"]
        for index in toasted.indices where toastable.contains(table.columns[index].name) { toasted[index] = .unchangedToast }
        var keyOnly = rows.first.map { _ in ColumnValue.null }
        for index in table.keyColumnIndexes { keyOnly[index] = rows.first[index] }
        var fromOrigin = source
        fromOrigin.origin = ReplicationOrigin(name: "node_b \u{e9}", lsn: 77_000)
        fromOrigin.lastCommitLSN = nil
        let changes: [(String, Operation, [ColumnValue]?, [ColumnValue]?, SourceInfo)] = [
            ("insert", .create, nil, rows.first, withTransaction),
            ("insert through a replication origin", .create, nil, rows.second, fromOrigin),
            ("update", .update, rows.first, rows.second, source),
            ("toast", .update, nil, toasted, source),
            ("delete", .delete, rows.first, nil, source),
            ("delete of a key-only old row", .delete, keyOnly, nil, source),
        ]
        for (what, op, before, after, source) in changes {
            try same(encoder.encodeAvroRowChange(op: op, table: table, before: before, after: after, source: source,
                                                  eventTimeMillis: 1_700_000_000_500),
                     encoder.encodeRowChange(op: op, table: table, before: before, after: after, source: source,
                                             eventTimeMillis: 1_700_000_000_500), what)
        }

        var snapshotSource = source
        snapshotSource.snapshot = "last"
        snapshotSource.transactionID = nil
        snapshotSource.lsn = nil
        snapshotSource.lastCommitLSN = nil
        let avroSource = try #require(try encoder.encodeAvroSource(snapshotSource, table: table))
        try same(encoder.encodeAvroRowChange(op: .read, table: table, before: nil, after: rows.second, avroSource: avroSource,
                                             eventTimeMillis: -1_500),
                 encoder.encodeRowChange(op: .read, table: table, before: nil, after: rows.second, source: snapshotSource,
                                         eventTimeMillis: -1_500), "snapshot read")

        if !table.keyColumnIndexes.isEmpty {
            let keyShape = try #require(plan.key)
            let jsonKey = try #require(try encoder.encodeKey(table: table, row: rows.first))
            #expect(keyShape.schemaString == (try Self.transcoded(jsonKey).schema), "\(label) key schema")
            try same(try #require(try encoder.encodeAvroKey(table: table, row: rows.first)), jsonKey, "key")
        } else {
            #expect(plan.key == nil)
            #expect(try encoder.encodeAvroKey(table: table, row: rows.first) == nil)
        }
    }

    @Test func everyTypeAndModeIsTheTranscodedRecord() throws {
        for (mode, base) in SampleRecords.modes {
            let table = Self.table(options: Self.avroOptions(base))
            try checkEveryChange(table, rows: (Self.row(false), Self.row(true)), label: mode)
        }
    }

    /// Values the direct path does not take itself go the JSON path's way and give the same bytes:
    /// non-canonical integers, long boolean spellings, invalid UTF-8 (replaced), non-ASCII text.
    @Test func unusualTextTakesTheConvertersWay() throws {
        let options = Self.avroOptions(EncoderOptions())
        let columns = [
            ColumnSchema(name: "id", typeOID: SampleRecords.int8, isKey: true, isOptional: false),
            ColumnSchema(name: "n", typeOID: SampleRecords.int4),
            ColumnSchema(name: "b", typeOID: SampleRecords.bool),
            ColumnSchema(name: "t", typeOID: SampleRecords.text),
            ColumnSchema(name: "v", typeOID: SampleRecords.varchar, isOptional: false),
        ]
        let table = Self.table("odd", options: options, columns: columns)
        func text(_ bytes: [UInt8]) -> ColumnValue { .text(ArraySlice(bytes)) }
        let first: [ColumnValue] = [text(Array("+007".utf8)), text(Array("-0".utf8)), text(Array("true".utf8)),
                                    text([0x61, 0xFF, 0x62, 0xC3]), text(Array("Zähler 𝄞 \"q\"\\".utf8))]
        let second: [ColumnValue] = [text(Array("-9223372036854775808".utf8)), .null, text(Array("false".utf8)),
                                     text(Array(String(repeating: "abcdefgh", count: 9).utf8)), .null]
        try checkEveryChange(table, rows: (first, second), label: "odd")
    }

    @Test func masksExcludedColumnsRoutingAndKeylessTables() throws {
        let options = Self.avroOptions(EncoderOptions())
        let masks = [
            "c_text": ColumnMaskRule(option: "column.mask.with.5.chars", mask: .maskWith("*****"), columns: []),
            "c_varchar": ColumnMaskRule(option: "column.truncate.to.2.chars", mask: .truncate(length: 2), columns: []),
            "c_bytea": ColumnMaskRule(option: "column.truncate.to.2.chars", mask: .truncate(length: 2), columns: []),
            "c_char": ColumnMaskRule(option: "column.mask.hash.v2.SHA-256.with.salt.pepper",
                                     mask: .hash(.sha256, salt: Array("pepper".utf8), version: .v2), columns: []),
        ]
        let masked = Self.table(options: options, excluded: ["c_json", "c_float4"], masks: masks)
        #expect(masked.maskNotApplicableError == nil)
        try checkEveryChange(masked, rows: (Self.row(false), Self.row(true)), label: "masks")

        var routedOptions = options
        routedOptions.fieldNameAdjustment = .avro
        let routing = TableRouting(keySchemaName: "app.all_types.Key", valueSchemaName: "app.all_types.Value",
                                   envelopeSchemaName: "app.all_types.Envelope",
                                   keyField: .init(name: "__dbz__physicalTableIdentifier", value: "app.public.every_type"))
        let routed = Self.table(options: routedOptions, routing: routing)
        #expect(routed.avro?.key != nil)
        try checkEveryChange(routed, rows: (Self.row(false), Self.row(true)), label: "routed")

        let keyless = Self.table("keyless", options: options,
                                 columns: [ColumnSchema(name: "v", typeOID: SampleRecords.text)])
        try checkEveryChange(keyless, rows: ([.text(ArraySlice(Array("x".utf8)))], [.null]), label: "keyless")
    }

    /// A value the converters refuse is refused the same way, naming column and type (never the value).
    @Test func invalidValuesNameTheColumn() throws {
        let table = Self.table(options: Self.avroOptions(EncoderOptions()))
        var row = Self.row(false)
        row[1] = .text(ArraySlice(Array("70000".utf8)))  // c_int2
        let encoder = ChangeEventEncoder(options: table.options)
        #expect {
            _ = try encoder.encodeAvroRowChange(op: .create, table: table, before: nil, after: row, source: source,
                                                eventTimeMillis: 1)
        } throws: { error in
            guard let error = error as? ChangeEventError else { return false }
            return error.code == .invalidValue && error.column == "c_int2" && !error.description.contains("70000")
        }
    }

    @Test func jsonFormatPlansNoAvro() {
        #expect(Self.table(options: SampleRecords.options(EncoderOptions())).avro == nil)
    }
}
