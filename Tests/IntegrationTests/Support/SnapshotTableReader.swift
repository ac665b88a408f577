import ChangeEvent
import PGOutput
import PGReplication
@testable import Pipeline

/// Test helper: reads one whole table in a transaction that imported the slot's exported snapshot, and turns
/// every row into an `op: "r"` record through the same translator as streamed changes, so a test can set
/// snapshot records beside streamed ones without a pipeline. (The service reads chunks in parallel:
/// `InitialSnapshot`.)
///
/// Rows arrive by `COPY (SELECT <published columns> FROM <table>) TO STDOUT`, one CopyData message per
/// row, in the text format of the type output functions (what pgoutput sends), so a row converts exactly
/// like a streamed one. One row is held back so that the table's last row can carry its marker.
struct SnapshotTableReader {
    let translator: StreamTranslator
    let connection: PostgresConnection

    /// What every record of this snapshot shares: `source.lsn` (the consistent point), `source.txId`
    /// (the snapshot transaction), `source.ts_ms` (the snapshot transaction's start), `sequence`.
    let source: SourceInfo

    /// Reads `relation` (already translated, so that the translator knows it), calling `emit` for each
    /// record in table order. `isFirstTable`/`isLastTable` follow Debezium's marker rules (false for
    /// both when tables are read in parallel). Returns the number of rows read.
    func read(_ relation: RelationMessage, isFirstTable: Bool, isLastTable: Bool, now: () -> Int64,
              emit: (OutgoingRecord) throws -> Void) throws -> Int {
        let columnList = try connection.identifierList(relation.columns.map(\.name))
        let table = try connection.qualifiedName(QualifiedTableName(schema: relation.namespace, table: relation.name))
        let columnCount = relation.columns.count
        var held: [ColumnValue]?
        var rows = 0

        func flush(_ values: [ColumnValue], isLastInTable: Bool) throws {
            var source = self.source
            source.snapshot = SnapshotMarker.value(isFirstTable: isFirstTable, isLastTable: isLastTable,
                                                   isFirstInTable: rows == 1, isLastInTable: isLastInTable)
            if let record = try translator.snapshotRecord(relationID: relation.relationID, row: values, source: source,
                                                          eventTimeMillis: now()) {
                try emit(record)
            }
        }

        _ = try connection.copyOut("COPY (SELECT \(columnList) FROM ONLY \(table)) TO STDOUT") { line in
            let values = try CopyTextRow.decode(line, expectedFields: columnCount).columnValues
            if let previous = held { try flush(previous, isLastInTable: false) }
            rows += 1
            held = values
        }
        if let last = held {
            // `rows` counts the held row too; it was the first only if it was the only one.
            try flush(last, isLastInTable: true)
        }
        return rows
    }
}
