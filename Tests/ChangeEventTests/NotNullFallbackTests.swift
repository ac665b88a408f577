import Testing
@testable import ChangeEvent

/// A delete's old row under REPLICA IDENTITY DEFAULT has nulls for the non-key columns; NOT NULL ones get
/// Debezium's per-type fallback (NotNullFallback, read from Debezium 3.6.3: Golden/every-type.*.jsonl,
/// table strict_row, which GoldenTests compares end to end), nullable ones stay null.
@Suite struct NotNullFallbackTests {
    func before(_ options: EncoderOptions, _ columns: [(String, UInt32, Int32)]) throws -> String {
        let table = TableSchema(schema: "public", table: "t", columns:
            [ColumnSchema(name: "id", typeOID: OID.int4, isKey: true, isOptional: false)]
            + columns.map { ColumnSchema(name: $0.0, typeOID: $0.1, typeModifier: $0.2, isOptional: false) }
            + [ColumnSchema(name: "maybe", typeOID: OID.int4)],
            types: testCatalog, options: options)
        let value = utf8(try ChangeEventEncoder(options: options).encodeRowChange(
            op: .delete, table: table, before: [txt("1")] + columns.map { _ in .null } + [.null], after: nil,
            source: SourceInfo(connectorVersion: "v", serverName: "app", database: "db", commitTimeMicros: 0,
                               transactionID: 7, lsn: 10), eventTimeMillis: 1))
        let start = try #require(value.range(of: #""before":"#)).upperBound
        let end = try #require(value.range(of: #","after":"#)).lowerBound
        return String(value[start..<end])
    }

    @Test func debeziumsFallbacksInTheDefaultModes() throws {
        let numeric62: Int32 = (6 << 16 | 2) + 4
        let row = try before(EncoderOptions(), [
            ("n", OID.int4, -1), ("t", OID.text, -1), ("ok", OID.bool, -1), ("price", OID.numeric, numeric62),
            ("amount", OID.numeric, -1), ("ratio", OID.float8, -1), ("day", OID.date, -1), ("at", OID.timestamptz, -1),
            ("local", OID.timestamp, -1), ("raw", OID.bytea, -1), ("uid", OID.uuid, -1), ("nums", OID.int4Array, -1),
            ("span", OID.interval, -1), ("cash", OID.money, -1), ("tmz", OID.timetz, -1), ("hs", OID.hstore, -1),
        ])
        #expect(row == #"{"id":1,"n":0,"t":"","ok":false,"price":"AA==","amount":{"scale":0,"value":"AA=="},"ratio":0.0,"day":0,"at":"1970-01-01T00:00:00Z","local":0,"raw":"","uid":"","nums":[],"span":0,"cash":"AA==","tmz":"00:00:00Z","hs":"{}","maybe":null}"#)
    }

    @Test func debeziumsFallbacksInTheOtherModes() throws {
        let numeric62: Int32 = (6 << 16 | 2) + 4
        let options = EncoderOptions(decimalHandling: .string, timePrecision: .connect, binaryHandling: .hex,
                                     intervalHandling: .string, hstoreHandling: .map)
        let row = try before(options, [("price", OID.numeric, numeric62), ("amount", OID.numeric, -1), ("cash", OID.money, -1),
                                       ("raw", OID.bytea, -1), ("span", OID.interval, -1), ("hs", OID.hstore, -1),
                                       ("local", OID.timestamp, -1)])
        #expect(row == #"{"id":1,"price":"0.00","amount":"0","cash":"0.00","raw":"","span":"P0Y0M0DT0H0M0S","hs":{},"local":0,"maybe":null}"#)
    }
}
