import Testing
@testable import ChangeEvent

@Suite("Envelope golden tests")
struct EnvelopeTests {
    let orders = TableSchema(schema: "public", table: "orders", columns: [
        col("id", OID.int4, key: true),
        col("note", OID.text),
        col("amount", OID.numeric, typmod: numericTypmod(10, 2)),
        col("created", OID.timestamptz),
        col("data", OID.bytea),
    ])

    let source = SourceInfo(connectorVersion: "0.1.0", serverName: "srv", database: "shop",
                            commitTimeMicros: 1_700_000_000_123_456, transactionID: 771,
                            lsn: 24_023_128, lastCommitLSN: 24_023_000)

    let sourceJSON = #"{"version":"0.1.0","connector":"postgresql","name":"srv","ts_ms":1700000000123,"snapshot":"false","db":"shop","sequence":"[\"24023000\",\"24023128\"]","ts_us":1700000000123456,"ts_ns":1700000000123456000,"schema":"public","table":"orders","txId":771,"lsn":24023128,"xmin":null,"origin":null,"origin_lsn":null}"#

    let row: [ColumnValue] = [
        txt("1"), txt("hi \"there\""), txt("1234.50"), txt("2024-02-29 13:45:01.123456+01"), txt("\\x0102ff"),
    ]
    let rowJSON = #"{"id":1,"note":"hi \"there\"","amount":"AeI6","created":"2024-02-29T12:45:01.123456Z","data":"AQL/"}"#

    @Test func insert() throws {
        let out = try encoder.encodeRowChange(op: .create, table: orders, before: nil, after: row,
                                              source: source, eventTimeMillis: 1_700_000_000_500)
        let expected = #"{"before":null,"after":"# + rowJSON + #","source":"# + sourceJSON
            + #","transaction":null,"op":"c","ts_ms":1700000000500,"ts_us":1700000000500000,"ts_ns":1700000000500000000}"#
        #expect(utf8(out) == expected)
        #expect(isValidJSON(out))
    }

    @Test func preformattedSourceBlockGivesTheSameRecord() throws {
        var snapshotSource = source
        snapshotSource.snapshot = "last_in_data_collection"
        let direct = try encoder.encodeRowChange(op: .read, table: orders, before: nil, after: row,
                                                 source: snapshotSource, eventTimeMillis: 1_700_000_000_500)
        let block = encoder.encodeSource(snapshotSource, table: orders)
        let preformatted = try encoder.encodeRowChange(op: .read, table: orders, before: nil, after: row,
                                                       sourceBlock: block, eventTimeMillis: 1_700_000_000_500)
        #expect(utf8(preformatted) == utf8(direct))
        #expect(utf8(block).contains(#""snapshot":"last_in_data_collection""#))
    }

    /// ts_us and ts_ns are written from ts_ms's digits: zero, negative, and digit-count edges.
    @Test(arguments: [Int64(0), 1, 9, 10, 99, 100, 101, 999_999, 1_000_000, -1, -100, -1_700_000_000_500,
                      Int64.max / 1_000_000])
    func envelopeTimestampsAreMillisTimesThousandAndMillion(millis: Int64) throws {
        let out = try encoder.encodeRowChange(op: .create, table: orders, before: nil, after: row,
                                              source: source, eventTimeMillis: millis)
        let tail = #","op":"c","ts_ms":\#(millis),"ts_us":\#(millis * 1000),"ts_ns":\#(millis * 1_000_000)}"#
        #expect(utf8(out).hasSuffix(tail))
    }

    @Test func integersAtDigitCountEdges() {
        for value: UInt64 in [0, 9, 10, 11, 99, 100, 999, 1000, 12345, 1_000_000_007, UInt64.max] {
            var out = JSONOutput(capacity: 64)
            JSON.appendUInt(&out, value)
            #expect(utf8(out) == String(value))
        }
        var out = JSONOutput(capacity: 64)
        JSON.appendInt(&out, Int64.min)
        #expect(utf8(out) == String(Int64.min))
    }

    @Test func updateWithoutBefore() throws {
        let after: [ColumnValue] = [txt("1"), txt("x"), .null, .null, .unchangedToast]
        let out = try encoder.encodeRowChange(op: .update, table: orders, before: nil, after: after,
                                              source: source, eventTimeMillis: 5)
        let expected = #"{"before":null,"after":{"id":1,"note":"x","amount":null,"created":null,"data":"X19kZWJleml1bV91bmF2YWlsYWJsZV92YWx1ZQ=="},"source":"#
            + sourceJSON + #","transaction":null,"op":"u","ts_ms":5,"ts_us":5000,"ts_ns":5000000}"#
        #expect(utf8(out) == expected)
    }

    @Test func updateWithKeyOnlyBefore() throws {
        // Key change under REPLICA IDENTITY DEFAULT: pgoutput sends only the old key ('K').
        let before: [ColumnValue] = [txt("1"), .null, .null, .null, .null]
        let after: [ColumnValue] = [txt("2"), .unchangedToast, txt("-1.00"), txt("2024-03-01 02:15:00+05:30"), txt("\\x")]
        let out = try encoder.encodeRowChange(op: .update, table: orders, before: before, after: after,
                                              source: source, eventTimeMillis: 7)
        let expected = #"{"before":{"id":1,"note":null,"amount":null,"created":null,"data":null},"#
            + #""after":{"id":2,"note":"__debezium_unavailable_value","amount":"nA==","created":"2024-02-29T20:45:00.000000Z","data":""},"#
            + #""source":"# + sourceJSON + #","transaction":null,"op":"u","ts_ms":7,"ts_us":7000,"ts_ns":7000000}"#
        #expect(utf8(out) == expected)
    }

    @Test func deleteWithDefaultIdentity() throws {
        let before: [ColumnValue] = [txt("42"), .null, .null, .null, .null]
        let src = SourceInfo(connectorVersion: "0.1.0", serverName: "srv", database: "shop",
                             commitTimeMicros: 1_000_999, transactionID: nil, lsn: 24_023_128, lastCommitLSN: nil)
        let out = try encoder.encodeRowChange(op: .delete, table: orders, before: before, after: nil,
                                              source: src, eventTimeMillis: 9)
        let expected = #"{"before":{"id":42,"note":null,"amount":null,"created":null,"data":null},"after":null,"#
            + #""source":{"version":"0.1.0","connector":"postgresql","name":"srv","ts_ms":1000,"snapshot":"false","db":"shop","sequence":"[null,\"24023128\"]","ts_us":1000999,"ts_ns":1000999000,"schema":"public","table":"orders","txId":null,"lsn":24023128,"xmin":null,"origin":null,"origin_lsn":null},"#
            + #""transaction":null,"op":"d","ts_ms":9,"ts_us":9000,"ts_ns":9000000}"#
        #expect(utf8(out) == expected)
        let key = try encoder.encodeKey(table: orders, row: before)
        #expect(key.map(utf8) == #"{"id":42}"#)
    }

    @Test func readOpAndSnapshotField() throws {
        var src = source
        src.snapshot = "last"
        src.lsn = nil
        src.lastCommitLSN = nil
        let out = try encoder.encodeRowChange(op: .read, table: orders, before: nil, after: row, source: src, eventTimeMillis: 1)
        let s = utf8(out)
        #expect(s.contains(#""snapshot":"last""#))
        #expect(s.contains(#""sequence":"[null,null]""#))
        #expect(s.contains(#""lsn":null,"xmin":null,"origin":null,"origin_lsn":null}"#))
        #expect(s.contains(#""op":"r""#))
        #expect(isValidJSON(out))
    }

    @Test func truncate() {
        let out = encoder.encodeTruncate(table: orders, source: source, eventTimeMillis: 11)
        let expected = #"{"before":null,"after":null,"source":"# + sourceJSON
            + #","transaction":null,"op":"t","ts_ms":11,"ts_us":11000,"ts_ns":11000000}"#
        #expect(utf8(out) == expected)
    }

    @Test func transactionalLogicalMessage() {
        let out = encoder.encodeLogicalMessage(prefix: "outbox", content: ArraySlice(Array("hello".utf8)),
                                               isTransactional: true, source: source, eventTimeMillis: 13)
        let expected = #"{"op":"m","ts_ms":13,"source":{"version":"0.1.0","connector":"postgresql","name":"srv","ts_ms":1700000000123,"snapshot":"false","db":"shop","sequence":"[\"24023000\",\"24023128\"]","ts_us":1700000000123456,"ts_ns":1700000000123456000,"schema":"","table":"","txId":771,"lsn":24023128,"xmin":null,"origin":null,"origin_lsn":null},"transaction":null,"message":{"prefix":"outbox","content":"aGVsbG8="}}"#
        #expect(utf8(out) == expected)
    }

    @Test func nonTransactionalLogicalMessage() {
        let out = encoder.encodeLogicalMessage(prefix: "p\"x", content: [0x00, 0xFF, 0x10][...],
                                               isTransactional: false, source: source, eventTimeMillis: 13)
        let expected = #"{"op":"m","ts_ms":13,"source":{"version":"0.1.0","connector":"postgresql","name":"srv","ts_ms":1700000000123,"snapshot":"false","db":"shop","sequence":"[\"24023000\",\"24023128\"]","ts_us":1700000000123456,"ts_ns":1700000000123456000,"schema":"","table":"","txId":null,"lsn":24023128,"xmin":null,"origin":null,"origin_lsn":null},"transaction":null,"message":{"prefix":"p\"x","content":"AP8Q"}}"#
        #expect(utf8(out) == expected)
    }

    @Test func keyJSON() throws {
        let table = TableSchema(schema: "public", table: "pairs", columns: [
            col("a", OID.text, key: true), col("v", OID.int8), col("b", OID.numeric, key: true),
        ])
        #expect(table.keyColumnIndexes == [0, 2])
        let key = try encoder.encodeKey(table: table, row: [txt("x\ny"), txt("5"), txt("1.50")])
        #expect(key.map(utf8) == #"{"a":"x\ny","b":{"scale":1,"value":"Dw=="}}"#)
    }

    @Test func tableWithoutKeyHasNilKey() throws {
        let table = TableSchema(schema: "public", table: "log", columns: [col("line", OID.text)])
        #expect(table.keyColumnIndexes.isEmpty)
        #expect(try encoder.encodeKey(table: table, row: [txt("a")]) == nil)
    }

    @Test func schemaMutationRecomputesPlan() throws {
        var table = TableSchema(schema: "public", table: "t", columns: [col("a", OID.int4, key: true)])
        table.columns.append(col("b", OID.bool, key: true))
        table.table = "t\"2"
        #expect(table.keyColumnIndexes == [0, 1])
        #expect(try encoder.encodeKey(table: table, row: [txt("1"), txt("t")]).map(utf8) == #"{"a":1,"b":true}"#)
        let out = encoder.encodeTruncate(table: table, source: source, eventTimeMillis: 0)
        #expect(utf8(out).contains(#""schema":"public","table":"t\"2""#))
    }

    @Test func escapedNamesAndMetadata() throws {
        let table = TableSchema(schema: "sch\u{1}", table: "ta\\ble", columns: [col("c\"ol", OID.int4, key: true)])
        let src = SourceInfo(connectorVersion: "v\"1", serverName: "n\\", database: "d\u{7F}é",
                             commitTimeMicros: -1, transactionID: UInt32.max, lsn: UInt64.max, lastCommitLSN: 0)
        let out = try encoder.encodeRowChange(op: .create, table: table, before: nil, after: [txt("1")], source: src, eventTimeMillis: 0)
        let s = utf8(out)
        #expect(s.contains(#"{"c\"ol":1}"#))
        #expect(s.contains(#""version":"v\"1","connector":"postgresql","name":"n\\","ts_ms":-1,"#))
        #expect(s.contains("\"db\":\"d\u{7F}é\""))
        #expect(s.contains(#""schema":"sch\u0001","table":"ta\\ble","txId":4294967295,"lsn":18446744073709551615"#))
        #expect(s.contains(#""sequence":"[\"0\",\"18446744073709551615\"]""#))
        #expect(isValidJSON(out))
    }

    @Test func customToastPlaceholder() throws {
        let options = EncoderOptions(toastPlaceholder: "??")
        let enc = ChangeEventEncoder(options: options)
        let table = TableSchema(schema: "s", table: "t", columns: [
            col("a", OID.text), col("b", OID.bytea), col("c", OID.jsonb), col("d", OID.int4),
        ], options: options)
        let out = try enc.encodeRowChange(op: .update, table: table, before: nil,
                                          after: [.unchangedToast, .unchangedToast, .unchangedToast, .unchangedToast],
                                          source: source, eventTimeMillis: 0)
        #expect(utf8(out).hasPrefix(#"{"before":null,"after":{"a":"??","b":"Pz8=","c":"??","d":"??"},"#))
    }

    @Test func rowShapeAndOpErrors() {
        #expect(throws: ChangeEventError.self) {
            _ = try encoder.encodeRowChange(op: .create, table: orders, before: nil, after: [txt("1")], source: source, eventTimeMillis: 0)
        }
        do {
            _ = try encoder.encodeRowChange(op: .truncate, table: orders, before: nil, after: row, source: source, eventTimeMillis: 0)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unsupportedOperation)
            #expect(!error.isRetriable)
        }
        do {
            _ = try encoder.encodeKey(table: orders, row: [])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .columnCountMismatch)
            #expect(error.description.contains("public.orders"))
        }
    }
}
