import Foundation
import PGReplication
import Testing

/// COPY TO STDOUT, the snapshot read path, against a real server: decoded rows hold exactly the text
/// the type output functions print (what pgoutput sends while streaming).
@Suite(.integrationTest) struct CopyOutTests {
    @Test func copiedRowsDecodeToTheOutputFunctionsText() throws {
        let database = try TestPostgres.shared.makeDatabase("copyout")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("""
            CREATE TABLE t (id int PRIMARY KEY, txt text, raw bytea, arr text[], ts timestamptz, n numeric);
            INSERT INTO t VALUES
              (1, E'tab\\there\\nnew line \\\\ back', '\\x00ff', '{"a b",NULL}', '2024-02-29 13:45:01.5+00', 1.50),
              (2, NULL, NULL, NULL, NULL, NULL),
              (3, '', '\\x', '{}', 'infinity', 'NaN');
            """)
        let expected = try sql.execute("SELECT id::text, txt, raw::text, arr::text, ts::text, n::text FROM t ORDER BY id").rows
        var decoded: [[String?]] = []
        let count = try sql.copyOut("COPY (SELECT * FROM t ORDER BY id) TO STDOUT") { line in
            let row = try CopyTextRow.decode(line, expectedFields: 6)
            decoded.append(row.fields.map { range in range.map { String(decoding: row.storage[$0], as: UTF8.self) } })
        }
        #expect(count == 3)
        #expect(decoded == expected)
        // The connection is usable afterwards.
        #expect(try sql.execute("SELECT 1").rows == [["1"]])
    }

    @Test func anErrorInTheRowHandlerCancelsTheCopyAndKeepsTheConnectionUsable() throws {
        let database = try TestPostgres.shared.makeDatabase("copycancel")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            _ = try sql.copyOut("COPY (SELECT g FROM generate_series(1, 1000000) g) TO STDOUT") { _ in throw Stop() }
        }
        #expect(try sql.execute("SELECT 2").rows == [["2"]])
    }

    @Test func aFailingCopyIsAnError() throws {
        let database = try TestPostgres.shared.makeDatabase("copyfail")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        #expect(throws: ReplicationError.self) { _ = try sql.copyOut("COPY (SELECT * FROM missing_table) TO STDOUT") { _ in } }
        #expect(throws: ReplicationError.self) { _ = try sql.copyOut("COPY (SELECT 1/0 FROM generate_series(1, 10)) TO STDOUT") { _ in } }
    }
}

/// The exported snapshot of a new slot and the changes streamed from its consistent point meet exactly.
@Suite(.integrationTest) struct ExportedSnapshotTests {
    @Test func aReaderOnTheExportedSnapshotSeesExactlyTheRowsBeforeTheConsistentPoint() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("exported")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)")
        let walsender = try PostgresConnection(postgres.parameters(database: database), replication: true)
        defer { walsender.close() }
        let (point, snapshot) = try walsender.createLogicalSlotExportingSnapshot(named: database)
        #expect(point.value > 0)
        // A change committed after the slot exists is not in the snapshot.
        try sql.execute("INSERT INTO t VALUES (101); DELETE FROM t WHERE id = 1")
        let reader = try postgres.connect(database)
        defer { reader.close() }
        try reader.beginTransaction(importingSnapshot: snapshot)
        var ids: [Int] = []
        _ = try reader.copyOut("COPY (SELECT id FROM t ORDER BY id) TO STDOUT") { line in
            ids.append(Int(String(decoding: line, as: UTF8.self))!)
        }
        try reader.execute("COMMIT")
        #expect(ids == Array(1...100))
        // Once the walsender runs another command the snapshot can no longer be imported.
        _ = try walsender.identifySystem()
        let late = try postgres.connect(database)
        defer { late.close() }
        #expect(throws: ReplicationError.self) { try late.beginTransaction(importingSnapshot: snapshot) }
    }
}
