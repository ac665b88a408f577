import Testing
@testable import PGReplication

/// COPY text rows, as PostgreSQL's COPY TO STDOUT (FORMAT text) writes them.
@Suite struct CopyTextRowTests {
    private func fields(_ line: String, _ count: Int) throws -> [String?] {
        let row = try CopyTextRow.decode(Array(line.utf8), expectedFields: count)
        return row.fields.map { range in range.map { String(decoding: row.storage[$0], as: UTF8.self) } }
    }

    @Test func fieldsNullsAndEmptyValues() throws {
        #expect(try fields("1\tabc\t\\N\t", 4) == ["1", "abc", nil, ""])
        #expect(try fields("", 1) == [""])
        #expect(try fields("\\N", 1) == [nil])
    }

    @Test func escapesAreUndone() throws {
        #expect(try fields(#"a\tb\nc\\d\re\bf\fg\vh"#, 1) == ["a\tb\nc\\d\re\u{8}f\u{c}g\u{b}h"])
        #expect(try fields(#"\101\x42\x4"#, 1) == ["AB\u{4}"])
        #expect(try fields(#"\\N"#, 1) == ["\\N"])   // an escaped backslash before N is text
        #expect(try fields(#"x\y"#, 1) == ["xy"])    // other escaped characters stand for themselves
    }

    @Test(arguments: ["a\\", "\\Nx", "x\\N", "a\t\\x"])
    func malformedRowsAreErrors(_ line: String) {
        #expect(throws: ReplicationError.self) { try CopyTextRow.decode(Array(line.utf8), expectedFields: line.filter { $0 == "\t" }.count + 1) }
    }

    @Test func aFieldCountMismatchIsAnError() {
        #expect(throws: ReplicationError.self) { try CopyTextRow.decode(Array("1\t2".utf8), expectedFields: 3) }
    }

    @Test func randomBytesNeverCrash() {
        var state: UInt64 = 42
        for _ in 0..<20_000 {
            var line: [UInt8] = []
            state = state &* 6364136223846793005 &+ 1442695040888963407
            for k in 0..<Int(state >> 60) {
                let pick = (state >> UInt64(k * 3 % 60)) & 7
                line.append([0x5C, 0x09, 0x4E, 0x78, 0x37, 0x41, 0x6E, 0x30][Int(pick)])
            }
            _ = try? CopyTextRow.decode(line, expectedFields: 2)
        }
    }
}

/// `pg_publication_tables.attnames` as `array_to_json` writes it, read back.
@Suite struct PublishedColumnsTextTests {
    @Test func jsonArraysOfNamesAreReadWithTheirEscapes() {
        #expect(PostgresConnection.textArray(#"["id","email"]"#) == ["id", "email"])
        #expect(PostgresConnection.textArray(#"["Odd \"Name\"","a,b","back\\slash"]"#) == [#"Odd "Name""#, "a,b", #"back\slash"#])
        #expect(PostgresConnection.textArray("[]") == [])
    }
}
