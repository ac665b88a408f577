import ChangeEvent
import Foundation
import Kafka
import Logging
import PGOutput
import PGReplication
import SwallowCore
import Synchronization

/// Before reading: the snapshot transaction, the tables as Relation messages from the catalog, and the
/// chunks each table is cut into.
extension InitialSnapshot {
    // MARK: Setup

    func openReader(readOnly: Bool) throws(PipelineError) -> PostgresConnection {
        let connection: PostgresConnection
        do { connection = try PostgresConnection(settings.connection, replication: false) } catch { throw .postgres(error) }
        do {
            try connection.beginTransaction(importingSnapshot: source.snapshotName, readOnly: readOnly)
        } catch {
            connection.close()
            throw PipelineError(code: .snapshot,
                                message: "cannot import the exported snapshot \(source.snapshotName) (\(error)); it is no longer held. Swallow starts the snapshot again",
                                isRetriable: true)
        }
        return connection
    }

    /// Debezium's snapshot records carry the snapshot transaction's id and start time. A standby
    /// assigns no transaction ids: there the id is null.
    func describeSnapshotTransaction(_ reader: PostgresConnection) throws(PipelineError) {
        let result: QueryResult
        do {
            result = try reader.execute("""
                SELECT CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN pg_catalog.txid_current() % 4294967296 END AS xid,
                       (extract(epoch FROM CURRENT_TIMESTAMP) * 1000000)::bigint AS micros
                """)
        } catch { throw .postgres(error) }
        recordSource.transactionID = result[0, "xid"].flatMap { UInt32($0) }
        recordSource.commitTimeMicros = result[0, "micros"].flatMap { Int64($0) } ?? 0
    }

    /// The captured tables (configured, else the publication's), as Relation messages built from the
    /// catalog, in the order they are read.
    func describeTables(reader: PostgresConnection, catalog: CatalogReader) throws(PipelineError) {
        var names: [QualifiedTableName] = settings.tables
        if names.isEmpty {
            do { names = try reader.publicationTables(named: settings.publicationName) } catch { throw .postgres(error) }
            // The signal table is Swallow's bookkeeping, not data.
            names.removeAll { $0 == settings.signalTable }
        }
        tables = []
        let published: [QualifiedTableName: PublishedTable]
        do { published = try reader.publishedTables(named: settings.publicationName) } catch { throw .postgres(error) }
        for name in names {
            guard let oid = try catalog.relationID(schema: name.schema, table: name.table) else {
                throw PipelineError(code: .snapshot, message: "table \(name) does not exist; create it or remove it from `tables`",
                                    isRetriable: false)
            }
            let details = try catalog.details(of: oid)
            let shape = published[name] ?? PublishedTable()
            guard let relation = try catalog.relationMessage(relationID: oid, details: details).map(shape.restrict) else { continue }
            guard translator.captures(relation) else { continue }
            try translator.describe(relation, catalog: try catalog.catalog(of: relation, details: details))
            tables.append(Table(relation: relation,
                                state: .init(schema: name.schema, name: name.table, keyColumns: details.primaryKey,
                                             estimatedRows: -1), published: shape))
        }
        if !state.tables.isEmpty {
            // Resuming: the plan must describe the same tables.
            guard state.tables.map({ "\($0.schema).\($0.name)" }) == tables.map({ "\($0.state.schema).\($0.state.name)" }) else {
                throw PipelineError(code: .snapshot,
                                    message: "the captured tables changed since this snapshot was planned; Swallow starts the snapshot again",
                                    isRetriable: true)
            }
            for index in tables.indices { tables[index].state = state.tables[index] }
        }
        let tableCount = tables.count
        runState.withLock { run in
            run.rowsRead = [Int](repeating: 0, count: tableCount)
            run.tableStartedAt = [ContinuousClock.Instant?](repeating: nil, count: tableCount)
        }
        eventCounters = tables.map { EventCounters.handles(table: "\($0.name)", operation: ChangeEvent.Operation.read.rawValue) }
    }

    func formatSourceBlocks() throws(PipelineError) {
        var source = recordSource
        sourceBlocks = []
        for table in tables {
            var blocks: [SnapshotSourceBlock] = []
            for marker in SnapshotMarker.values {
                source.snapshot = marker
                guard let block = try translator.snapshotSourceBlock(relationID: table.relation.relationID, source: source) else {
                    throw PipelineError(code: .snapshot, message: "table \(table.name) is not captured",
                                        isRetriable: false)
                }
                blocks.append(block)
            }
            sourceBlocks.append(blocks)
        }
    }

    // MARK: Planning

    /// Cuts each table into chunks of about `chunk_rows` rows: primary-key ranges whose bounds are every
    /// chunk_rows-th key in key order (one index scan), or block ranges sized from the table's rows per page.
    func planChunks(reader: PostgresConnection) throws(PipelineError) {
        var chunks: [SnapshotState.Chunk] = []
        let chunkRows = settings.snapshot.chunkRows
        for (tableIndex, table) in tables.enumerated() {
            do {
                let relation = table.relation
                let stats = try reader.execute("""
                    SELECT reltuples::float8, relpages, relkind,
                           pg_catalog.pg_relation_size(oid) / current_setting('block_size')::int AS blocks
                    FROM pg_catalog.pg_class WHERE oid = \(relation.relationID)
                    """)
                let estimated = stats[0, "reltuples"].flatMap { Double($0) } ?? -1
                let pages = stats[0, "relpages"].flatMap { Double($0) } ?? 0
                let blocks = stats[0, "blocks"].flatMap { UInt32($0) } ?? 0
                tables[tableIndex].state.estimatedRows = estimated
                tables[tableIndex].state.isPartitioned = stats[0, "relkind"] == "p"
                let from = tables[tableIndex].state.fromPrefix
                let keyColumns = table.state.keyColumns
                var tableChunks: [SnapshotState.Chunk] = []
                if !keyColumns.isEmpty {
                    let list = try reader.identifierList(keyColumns)
                    let bounds = try reader.execute("""
                        SELECT \(list) FROM (
                          SELECT \(list), row_number() OVER (ORDER BY \(list)) AS swallow_row_number
                          FROM \(from)\(try reader.qualifiedName(table.name)) WHERE true\(table.published.andRowFilter)) numbered
                        WHERE swallow_row_number % \(chunkRows) = 0 ORDER BY swallow_row_number
                        """)
                    var lower: [String]?
                    for row in bounds.rows {
                        let upper = row.map { $0 ?? "" }
                        tableChunks.append(.init(table: tableIndex, index: tableChunks.count, isLastOfTable: false,
                                                 lowerKey: lower, upperKey: upper))
                        lower = upper
                    }
                    tableChunks.append(.init(table: tableIndex, index: tableChunks.count, isLastOfTable: true, lowerKey: lower))
                } else {
                    let rowsPerPage = estimated > 0 && pages > 0 ? estimated / pages : 60
                    let step = UInt32(clamping: max(1, Int(Double(chunkRows) / max(rowsPerPage, 1))))
                    var lower: UInt32 = 0
                    while lower + step < blocks {
                        tableChunks.append(.init(table: tableIndex, index: tableChunks.count, isLastOfTable: false,
                                                 lowerBlock: lower == 0 ? nil : lower, upperBlock: lower + step))
                        lower += step
                    }
                    tableChunks.append(.init(table: tableIndex, index: tableChunks.count, isLastOfTable: true,
                                             lowerBlock: lower == 0 ? nil : lower))
                }
                chunks += tableChunks
            } catch {
                throw .postgres(error)
            }
        }
        guard chunks.count <= SnapshotProgress.maxChunks else {
            throw PipelineError(code: .snapshot, message: "the snapshot would need \(chunks.count) chunks; raise snapshot.chunk_rows",
                                isRetriable: false)
        }
        state.tables = tables.map(\.state)
        state.chunks = chunks
        state.doneChunks = []
        let summary = tables.enumerated().map { index, table in
            "\(table.name):\(chunks.filter { $0.table == index }.count)"
        }.joined(separator: ",")
        logger.info("snapshot planned", metadata: ["tables": "\(tables.count)", "chunks": "\(chunks.count)",
                                                   "chunks_per_table": "\(summary)"])
    }

    /// `COPY (SELECT <published columns> FROM ONLY <table> WHERE <chunk range> AND (<row filter>)) TO STDOUT`.
    func chunkQuery(_ chunk: SnapshotState.Chunk, on connection: PostgresConnection) throws(ReplicationError) -> String {
        let table = tables[chunk.table]
        let columns = try connection.identifierList(table.relation.columns.map(\.name))
        var conditions: [String] = []
        if !table.state.keyColumns.isEmpty {
            let key = try KeySQL(table.state.keyColumns, on: connection)
            if let lower = chunk.lowerKey { conditions.append(try key.after(lower)) }
            if let upper = chunk.upperKey { conditions.append(try key.upTo(upper)) }
        } else {
            if let lower = chunk.lowerBlock { conditions.append("ctid >= '(\(lower),0)'::tid") }
            if let upper = chunk.upperBlock { conditions.append("ctid < '(\(upper),0)'::tid") }
        }
        if let rowFilter = table.published.rowFilter { conditions.append("(\(rowFilter))") }
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return "COPY (SELECT \(columns) FROM \(table.state.fromPrefix)\(try connection.qualifiedName(table.name))\(filter)) TO STDOUT"
    }
}
