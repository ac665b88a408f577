import ChangeEvent
import Foundation

/// Records as Swallow's JSON path writes them with `envelope.schemas` (what `events.format: avro`
/// converts), over every type and mode the JSON path supports: the inputs of the AvroData vectors
/// (scripts/oracle/avro-data.sh) and of the round-trip tests.
enum SampleRecords {
    struct Sample {
        var name: String
        var record: [UInt8]
    }

    // OIDs as in PostgreSQL's catalog; catalog-only types get made-up ones.
    static let bool: UInt32 = 16, bytea: UInt32 = 17, char: UInt32 = 18, name: UInt32 = 19, int8: UInt32 = 20
    static let int2: UInt32 = 21, int4: UInt32 = 23, text: UInt32 = 25, oid: UInt32 = 26, json: UInt32 = 114
    static let xml: UInt32 = 142, float4: UInt32 = 700, float8: UInt32 = 701, money: UInt32 = 790
    static let bpchar: UInt32 = 1042, varchar: UInt32 = 1043, date: UInt32 = 1082, time: UInt32 = 1083
    static let timestamp: UInt32 = 1114, timestamptz: UInt32 = 1184, interval: UInt32 = 1186, timetz: UInt32 = 1266
    static let numeric: UInt32 = 1700, uuid: UInt32 = 2950, jsonb: UInt32 = 3802, inet: UInt32 = 869
    static let bit: UInt32 = 1560, varbit: UInt32 = 1562, int4range: UInt32 = 3904, macaddr: UInt32 = 829
    static let textArray: UInt32 = 1009, int4Array: UInt32 = 1007, numericArray: UInt32 = 1231
    static let hstore: UInt32 = 90_001, mood: UInt32 = 90_002, price: UInt32 = 90_003, ltree: UInt32 = 90_005
    static let moodArray: UInt32 = 90_006

    static let catalog = TypeCatalog([
        PostgresTypeInfo(oid: textArray, schema: "pg_catalog", name: "_text", kind: .array(elementOID: text)),
        PostgresTypeInfo(oid: int4Array, schema: "pg_catalog", name: "_int4", kind: .array(elementOID: int4)),
        PostgresTypeInfo(oid: numericArray, schema: "pg_catalog", name: "_numeric", kind: .array(elementOID: numeric)),
        PostgresTypeInfo(oid: hstore, schema: "public", name: "hstore", kind: .base),
        PostgresTypeInfo(oid: ltree, schema: "public", name: "ltree", kind: .base),
        PostgresTypeInfo(oid: mood, schema: "public", name: "mood", kind: .enumeration(labels: ["sad", "ok", "happy"])),
        PostgresTypeInfo(oid: moodArray, schema: "public", name: "_mood", kind: .array(elementOID: mood)),
        PostgresTypeInfo(oid: price, schema: "public", name: "price",
                         kind: .domain(baseOID: numeric, baseTypeModifier: numericTypmod(10, 2))),
    ])

    static func numericTypmod(_ precision: Int, _ scale: Int) -> Int32 {
        Int32(((precision << 16) | (scale & 0x7FF)) + 4)
    }

    /// (column, type OID, typmod, NOT NULL, a value's text, another value's text (nil: NULL)).
    static let columns: [(String, UInt32, Int32, Bool, String, String?)] = [
        ("id", int4, -1, true, "1", "2"),
        ("c_int2", int2, -1, false, "-32768", "32767"),
        ("c_int8", int8, -1, true, "9223372036854775807", "-9223372036854775808"),
        ("c_oid", oid, -1, false, "4294967295", nil),
        ("c_bool", bool, -1, false, "t", "f"),
        ("c_float4", float4, -1, false, "3.4028235e+38", "NaN"),
        ("c_float8", float8, -1, false, "-1.5e-300", "Infinity"),
        ("c_float8_inf", float8, -1, false, "-Infinity", "0.1"),
        ("c_numeric", numeric, numericTypmod(10, 2), false, "-12345678.90", "0.00"),
        ("c_numeric_neg_scale", numeric, numericTypmod(5, -2), false, "12300", nil),
        ("c_numeric_free", numeric, -1, false, "3.14159265358979323846264338327950288", "-100"),
        ("c_money", money, -1, false, "-$1,234.56", "$0.00"),
        ("c_text", text, -1, false, "h\u{e9}llo \"w\u{f6}rld\" \\ \u{1F600} \n\t", ""),
        ("c_char", bpchar, 9, false, "abcde    ", nil),
        ("c_varchar", varchar, 24, false, "x", nil),
        ("c_name", name, -1, false, "pg_class", nil),
        ("c_bytea", bytea, -1, false, "\\x00ff10", "\\x"),
        ("c_date", date, -1, false, "2024-02-29", "infinity"),
        ("c_time", time, -1, false, "23:59:59.999999", "00:00:00"),
        ("c_time3", time, 3, false, "12:34:56.789", nil),
        ("c_timestamp", timestamp, -1, false, "2024-02-29 13:45:01.123456", "-infinity"),
        ("c_timestamp3", timestamp, 3, false, "1969-12-31 23:59:59.999", nil),
        ("c_timestamptz", timestamptz, -1, false, "2024-02-29 13:45:01.123456+01", "infinity"),
        ("c_timetz", timetz, -1, false, "13:45:01.5+05:30", nil),
        ("c_interval", interval, -1, false, "1 year 2 mons 3 days 04:05:06.789", "-00:00:01"),
        ("c_uuid", uuid, -1, false, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", nil),
        ("c_json", json, -1, false, "{\"a\": [1, 2]}", nil),
        ("c_jsonb", jsonb, -1, false, "{\"b\": null}", nil),
        ("c_xml", xml, -1, false, "<a>1</a>", nil),
        ("c_inet", inet, -1, false, "192.168.0.1/24", nil),
        ("c_macaddr", macaddr, -1, false, "08:00:2b:01:02:03", nil),
        ("c_bit1", bit, 1, false, "1", "0"),
        ("c_bit", bit, 10, false, "1010101011", nil),
        ("c_varbit", varbit, -1, false, "101", nil),
        ("c_int4range", int4range, -1, false, "[1,10)", nil),
        ("c_mood", mood, -1, false, "happy", "sad"),
        ("c_price", price, -1, false, "19.99", nil),
        ("c_ltree", ltree, -1, false, "a.b.c", nil),
        ("c_hstore", hstore, -1, false, "\"k\"=>\"v\", \"n\"=>NULL", "\"a\"=>\"b\""),
        ("c_text_array", textArray, -1, false, "{a,NULL,\"b c\"}", "{}"),
        ("c_int4_array", int4Array, -1, false, "{1,2,3}", nil),
        ("c_numeric_array", numericArray, numericTypmod(6, 3), false, "{1.500,-2.250}", nil),
        ("c_mood_array", moodArray, -1, false, "{ok,happy}", nil),
    ]

    static let modes: [(String, EncoderOptions)] = [
        ("default", EncoderOptions()),
        ("decimal_string", EncoderOptions(decimalHandling: .string)),
        ("decimal_double", EncoderOptions(decimalHandling: .double)),
        ("time_connect", EncoderOptions(timePrecision: .connect)),
        ("time_micro", EncoderOptions(timePrecision: .adaptiveTimeMicroseconds)),
        ("binary_base64", EncoderOptions(binaryHandling: .base64)),
        ("binary_hex", EncoderOptions(binaryHandling: .hex)),
        ("interval_string", EncoderOptions(intervalHandling: .string)),
        ("hstore_map", EncoderOptions(hstoreHandling: .map)),
    ]

    static func options(_ base: EncoderOptions) -> EncoderOptions {
        var options = base
        options.includeSchemas = true
        options.schemaNamePrefix = "app"
        return options
    }

    static func all() throws -> [Sample] {
        var samples: [Sample] = []
        let source = SourceInfo(connectorVersion: "3.6.3.Final", serverName: "app", database: "shop",
                                commitTimeMicros: 1_700_000_000_123_456, transactionID: 771,
                                lsn: 24_023_128, lastCommitLSN: 24_023_000)
        for (mode, base) in modes {
            let options = options(base)
            let encoder = ChangeEventEncoder(options: options)
            let table = TableSchema(
                schema: "public", table: "every_type",
                columns: columns.map { ColumnSchema(name: $0.0, typeOID: $0.1, typeModifier: $0.2, isKey: $0.0 == "id",
                                                    isOptional: !$0.3) },
                types: catalog, options: options)
            func row(_ second: Bool) -> [ColumnValue] {
                columns.map { column in
                    let text = second ? column.5 : column.4
                    return text.map { .text(ArraySlice(Array($0.utf8))) } ?? .null
                }
            }
            let first = row(false), second = row(true)
            var withTransaction = source
            withTransaction.transaction = TransactionBlock(id: "771:24023128", totalOrder: 2, dataCollectionOrder: 1)
            samples.append(Sample(name: "\(mode).key", record: try encoder.encodeKey(table: table, row: first)!))
            samples.append(Sample(name: "\(mode).insert", record: try encoder.encodeRowChange(
                op: .create, table: table, before: nil, after: first, source: withTransaction, eventTimeMillis: 1_700_000_000_500)))
            samples.append(Sample(name: "\(mode).update", record: try encoder.encodeRowChange(
                op: .update, table: table, before: first, after: second, source: source, eventTimeMillis: 1_700_000_000_501)))
            if mode == "default" {
                var toasted = second
                toasted[12] = .unchangedToast
                toasted[16] = .unchangedToast
                samples.append(Sample(name: "\(mode).update_toast", record: try encoder.encodeRowChange(
                    op: .update, table: table, before: nil, after: toasted, source: source, eventTimeMillis: 1_700_000_000_502)))
                var snapshotSource = source
                snapshotSource.snapshot = "last"
                snapshotSource.transactionID = nil
                snapshotSource.lsn = nil
                snapshotSource.lastCommitLSN = nil
                samples.append(Sample(name: "\(mode).read", record: try encoder.encodeRowChange(
                    op: .read, table: table, before: nil, after: second, source: snapshotSource, eventTimeMillis: 1_700_000_000_503)))
                samples.append(Sample(name: "\(mode).delete", record: try encoder.encodeRowChange(
                    op: .delete, table: table, before: first, after: nil, source: source, eventTimeMillis: 1_700_000_000_504)))
                samples.append(Sample(name: "\(mode).truncate", record: encoder.encodeTruncate(
                    table: table, source: source, eventTimeMillis: 1_700_000_000_505)))
                let keyless = TableSchema(schema: "public", table: "keyless",
                                          columns: [ColumnSchema(name: "v", typeOID: text)], options: options)
                samples.append(Sample(name: "\(mode).keyless_insert", record: try encoder.encodeRowChange(
                    op: .create, table: keyless, before: nil, after: [.text(ArraySlice(Array("x".utf8)))], source: source,
                    eventTimeMillis: 1_700_000_000_506)))
                samples.append(Sample(name: "\(mode).transaction_key", record: encoder.encodeTransactionKey(id: "771:24023128")))
                samples.append(Sample(name: "\(mode).transaction_begin", record: encoder.encodeTransactionBegin(
                    id: "771:24023128", timestampMillis: 1_700_000_000_123)))
                samples.append(Sample(name: "\(mode).transaction_end", record: encoder.encodeTransactionEnd(
                    id: "771:24023128", eventCount: 3,
                    dataCollections: [("public.every_type", 2), ("public.keyless", 1)], timestampMillis: 1_700_000_000_123)))
                samples.append(Sample(name: "\(mode).heartbeat_key", record: encoder.encodeHeartbeatKey(serverName: "app")))
                samples.append(Sample(name: "\(mode).heartbeat_value", record: encoder.encodeHeartbeatValue(timestampMillis: 1_700_000_000_999)))
            }
            if mode == "default" || mode == "binary_base64" {
                samples.append(Sample(name: "\(mode).message_key", record: encoder.encodeLogicalMessageKey(prefix: "audit")))
                samples.append(Sample(name: "\(mode).message", record: encoder.encodeLogicalMessage(
                    prefix: "audit", content: ArraySlice([0x00, 0xFF, 0x41]), isTransactional: true, source: source,
                    eventTimeMillis: 1_700_000_000_507)))
                samples.append(Sample(name: "\(mode).message_nontransactional", record: encoder.encodeLogicalMessage(
                    prefix: "", content: ArraySlice([]), isTransactional: false, source: source,
                    eventTimeMillis: 1_700_000_000_508)))
            }
        }
        return samples
    }

    /// With SWALLOW_AVRO_SAMPLES_OUT set, the samples are written there (one JSON object a line), the
    /// input of scripts/oracle/avro-data.sh.
    static func export(_ samples: [Sample]) throws {
        guard let path = ProcessInfo.processInfo.environment["SWALLOW_AVRO_SAMPLES_OUT"] else { return }
        var lines = ""
        for sample in samples {
            lines += "{\"name\":\"\(sample.name)\",\"record\":\(String(decoding: sample.record, as: UTF8.self))}\n"
        }
        try lines.write(toFile: path, atomically: true, encoding: .utf8)
    }
}
