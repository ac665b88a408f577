import ChangeEvent
import Foundation
import Logging
import PGOutput
import PGReplication
import SwallowConfig
import SwallowCore

/// Snapshots on demand while streaming (Debezium's incremental snapshots, the DBLog watermark method).
///
/// Driven by the stream reader, on its thread: signals arrive as inserts into the signal table; after the
/// transaction that asked for a snapshot (or closed the previous window) commits, the next chunk is read
/// on a side connection between an open and a close watermark written to the signal table; when the
/// close watermark comes back through the stream, the chunk's rows not touched in between are emitted as
/// `op: "r"` records with `source.snapshot: "incremental"`.
final class IncrementalSnapshotter {
    let signalTable: QualifiedTableName
    private let settings: PipelineSettings
    private let logger: Logger
    private let stateFile: StateFile<IncrementalSnapshotState>
    private var connection: PostgresConnection?
    private(set) var signalRelationID: UInt32?
    private var signalRelation: RelationMessage?
    private var state: IncrementalSnapshotState
    private var window: ChunkWindow?
    /// A chunk must be read once the current transaction commits.
    private(set) var wantsChunkRead: Bool
    /// States to persist once the stream position they belong to is confirmed, oldest first.
    private var pendingSaves: [(position: LSN?, state: IncrementalSnapshotState)] = []
    private var stateChangedInTransaction = false
    /// Watermark rows of the last window, deleted with the next read so the signal table does not grow.
    private var spentWatermarks: [String] = []
    private var tableStartedAt = ContinuousClock.now
    private var rowsEmitted = 0
    /// The transaction being streamed (pgoutput's Begin), and the transactions streamed since the last
    /// chunk read (the last few thousand): a chunk is read only once its snapshot sees all of them.
    private var currentTransaction: UInt32?
    private var streamedTransactions: [UInt32] = []
    static let streamedTransactionsKept = 8192
    /// Tables were queued since `takeRepeatedUnits` was last called.
    private(set) var unitsChanged = false

    init(signalTable: QualifiedTableName, settings: PipelineSettings, logger: Logger) throws(PipelineError) {
        self.signalTable = signalTable
        self.settings = settings
        self.logger = logger
        self.stateFile = StateFile(directory: settings.stateDirectory, slot: settings.slotName)
        self.state = try stateFile.load() ?? IncrementalSnapshotState()
        // Entries of files written before units existed get one now (their rows were never tagged).
        for index in state.queue.indices where state.queue[index].unit == nil {
            state.queue[index].unit = SnapshotTag.incrementalUnit(signalID: "", table: state.queue[index].name)
        }
        self.wantsChunkRead = !state.queue.isEmpty
        if let table = state.queue.first {
            logger.info("resuming incremental snapshot", metadata: ["table": "\(table.name)", "tables_left": "\(state.queue.count)"])
        }
    }

    deinit { connection?.close() }

    /// The units whose rows may be in the topics already, and the stream position they all come after
    /// (`ExactlyOnceDelivery.expectRepeatedSnapshotUnits`): every queued entry may have been read in
    /// part before this stream began (after its saved progress, or as an initial snapshot's chunk).
    ///
    /// A table queued by a signal during this stream counts too: the signal may be one the stream
    /// replays, whose first reading delivered rows before a crash. Reading resets `unitsChanged`.
    func takeRepeatedUnits() -> [String: LSN] {
        unitsChanged = false
        let saved = state.position.flatMap { LSN(string: $0) }
        var units: [String: LSN] = [:]
        for entry in state.queue {
            if let unit = entry.unit { units[unit] = entry.repeatedUnitFloor(savedAt: saved) }
        }
        return units
    }

    func close() {
        connection?.close()
        connection = nil
    }

    // MARK: Stream hooks

    func observe(_ relation: RelationMessage) {
        if relation.namespace == signalTable.schema && relation.name == signalTable.table {
            signalRelationID = relation.relationID
            signalRelation = relation
        }
    }

    func isSignal(_ relationID: UInt32) -> Bool { relationID == signalRelationID }

    /// A streamed change of a captured table: inside an open window, its key leaves the chunk.
    func observe(_ message: PGOutputMessage) {
        if case .begin(let begin) = message {
            currentTransaction = begin.xid
            streamedTransactions.append(begin.xid)
            if streamedTransactions.count > Self.streamedTransactionsKept { streamedTransactions.removeFirst(streamedTransactions.count / 2) }
            return
        }
        guard var current = window, current.mayHaveMissed(changeBy: currentTransaction) else { return }
        switch message {
        case .insert(let insert) where insert.relationID == current.relationID:
            if let key = ChunkWindow.key(of: insert.newTuple, at: current.keyPositions) { current.drop(key: key) }
        case .update(let update) where update.relationID == current.relationID:
            if let key = ChunkWindow.key(of: update.newTuple, at: current.keyPositions) { current.drop(key: key) }
            if let old = update.oldTuple, let key = ChunkWindow.key(of: old, at: current.keyPositions) { current.drop(key: key) }
        case .delete(let delete) where delete.relationID == current.relationID:
            if let key = ChunkWindow.key(of: delete.oldTuple, at: current.keyPositions) { current.drop(key: key) }
        case .truncate(let truncate) where truncate.relationIDs.contains(current.relationID):
            current.dropAll()
        default:
            return
        }
        window = current
    }

    /// An insert into the signal table. Returns the records to produce now (a closed window's rows).
    /// `position`: the insert's stream position; a closed window's rows take it in turn.
    func handleSignal(_ insert: InsertMessage, at position: RecordPosition, translator: StreamTranslator) throws(PipelineError) -> [OutgoingRecord] {
        guard let relation = signalRelation else { return [] }
        func text(_ name: String) -> String? {
            guard let index = relation.columns.firstIndex(where: { $0.name == name }), index < insert.newTuple.columns.count,
                  case .text(let bytes) = insert.newTuple.columns[index] else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
        guard let id = text("id"), let type = text("type") else {
            logger.warning("ignoring a signal without id or type", metadata: ["signal_table": "\(signalTable)"])
            return []
        }
        let signal: SnapshotSignal?
        do {
            signal = try SnapshotSignal.parse(type: type, data: text("data"))
        } catch {
            logger.error("ignoring a malformed signal", metadata: ["id": "\(id)", "type": "\(type)", "reason": "\(error)"])
            return []
        }
        switch signal {
        case nil:
            logger.warning("ignoring a signal of a type Swallow does not know", metadata: ["id": "\(id)", "type": "\(type)"])
            return []
        case .windowOpen:
            if window?.openID == id { window?.isOpen = true }
            return []
        case .windowClose:
            guard let current = window, current.closeID == id else { return [] }
            window = nil
            return try emit(current, at: position, translator: translator)
        case .executeSnapshot(let collections, let conditions):
            guard !state.handledSignals.contains(id) else { return [] }
            remember(id)
            let tables = try resolve(collections)
            if tables.isEmpty {
                logger.warning("execute-snapshot matched no captured table with a primary key",
                               metadata: ["id": "\(id)", "data_collections": "\(collections.joined(separator: ","))"])
                return []
            }
            let startNow = state.queue.isEmpty
            // A table already queued by a request stays queued once (the rest of an initial snapshot's
            // chunk, which has a floor, is not the whole table).
            for table in tables where !state.queue.contains(where: { $0.name == table.description && !$0.continuesInitialSnapshot }) {
                let filter = conditions[table.description.lowercased()]
                state.queue.append(.init(schema: table.schema, table: table.table, filter: filter,
                                         unit: SnapshotTag.incrementalUnit(signalID: id, table: table.description),
                                         floor: position.commitLSN.description))
            }
            unitsChanged = true
            logger.info("incremental snapshot requested", metadata: [
                "id": "\(id)", "tables": "\(tables.map(\.description).joined(separator: ","))"])
            if startNow { wantsChunkRead = true; startTable() }
            stateChangedInTransaction = true
            return []
        case .stopSnapshot(let collections):
            guard !state.handledSignals.contains(id) else { return [] }
            remember(id)
            let before = state.queue.count
            let current = state.queue.first?.unit
            if collections.isEmpty {
                state.queue.removeAll()
            } else {
                let patterns = collections
                state.queue.removeAll { entry in patterns.contains { Self.matches($0, entry.name) } }
            }
            if state.queue.first?.unit != current {
                window = nil
                state.lastKey = nil
                state.maximumKey = nil
                wantsChunkRead = !state.queue.isEmpty
                if wantsChunkRead { startTable() }
            }
            logger.info("incremental snapshot stopped", metadata: ["id": "\(id)", "tables_removed": "\(before - state.queue.count)",
                                                                   "tables_left": "\(state.queue.count)"])
            stateChangedInTransaction = true
            return []
        }
    }

    /// The current transaction ended at `position`: what changed in it is saved once that is confirmed.
    func transactionCommitted(at position: LSN) {
        if stateChangedInTransaction {
            pendingSaves.append((position, state))
            stateChangedInTransaction = false
        }
    }

    /// The slot was confirmed up to `confirmed`: persist the states that belong to it.
    func confirmed(_ confirmed: LSN) throws(PipelineError) {
        var latest: IncrementalSnapshotState?
        while let first = pendingSaves.first, let position = first.position, position <= confirmed {
            latest = first.state
            latest?.position = position.description
            pendingSaves.removeFirst()
        }
        if let latest { try stateFile.save(latest) }
    }

    // MARK: Reading chunks

    /// Reads the next chunk between watermarks (on a side connection, each statement its own transaction).
    /// Call between transactions.
    func readNextChunk(translator: inout StreamTranslator, catalog: CatalogReader) throws(PipelineError) {
        wantsChunkRead = false
        defer {
            // Done: no window is open, so every watermark left (including those of windows a restart
            // abandoned) is spent.
            if state.queue.isEmpty, let sql = try? open() { try? deleteAllWatermarks(on: sql) }
        }
        while let entry = state.queue.first {
            guard let oid = try catalog.relationID(schema: entry.schema, table: entry.table) else {
                logger.warning("incremental snapshot: table is gone, skipping it", metadata: ["table": "\(entry.name)"])
                finishTable()
                continue
            }
            let details = try catalog.details(of: oid)
            let shape: TableShape
            do { shape = try tableShape(oid, entry) } catch { close(); throw .postgres(error) }
            guard !details.primaryKey.isEmpty,
                  let relation = try catalog.relationMessage(relationID: oid, details: details).map(shape.published.restrict) else {
                logger.warning("incremental snapshot: table has no primary key, skipping it (chunks are primary-key ranges)",
                               metadata: ["table": "\(entry.name)"])
                finishTable()
                continue
            }
            if translator.columnNames(of: oid) == nil {
                try translator.describe(relation, catalog: try catalog.catalog(of: relation, details: details))
            }
            // The stream's own description of the table wins: snapshot rows must have its columns.
            let columns = translator.columnNames(of: oid) ?? relation.columns.map(\.name)
            let keyPositions = details.primaryKey.compactMap { name in columns.firstIndex(of: name) }
            guard keyPositions.count == details.primaryKey.count else {
                logger.warning("incremental snapshot: the table's primary key is not among its published columns, skipping it",
                               metadata: ["table": "\(entry.name)"])
                finishTable()
                continue
            }
            do {
                if try readChunk(entry, relationID: oid, columns: columns, keyColumns: details.primaryKey,
                                 keyPositions: keyPositions, shape: shape) { return }
            } catch let error as PipelineError {
                throw error
            } catch let error as ReplicationError {
                close()
                throw .postgres(error)
            } catch {
                throw PipelineError(code: .snapshot, message: "incremental snapshot of \(entry.name): \(error)", isRetriable: true)
            }
            finishTable()
        }
    }

    /// How a table is read: `ONLY` it, or, partitioned (`publish_via_partition_root`), with its
    /// partitions, which hold its rows; and what the publication publishes of it.
    struct TableShape {
        var from: String
        var published: PublishedTable
    }

    private func tableShape(_ oid: UInt32, _ entry: IncrementalSnapshotState.Entry) throws(ReplicationError) -> TableShape {
        let sql = try open()
        let partitioned = try sql.execute("SELECT relkind FROM pg_catalog.pg_class WHERE oid = \(oid)")[0, "relkind"] == "p"
        let published = try sql.publishedTables(named: settings.publicationName)[QualifiedTableName(schema: entry.schema, table: entry.table)]
        return TableShape(from: partitioned ? "" : "ONLY ", published: published ?? PublishedTable())
    }

    /// Returns false when the table has nothing left to read.
    private func readChunk(_ entry: IncrementalSnapshotState.Entry, relationID: UInt32, columns columnNames: [String],
                           keyColumns: [String], keyPositions: [Int], shape: TableShape) throws -> Bool {
        let sql = try open()
        let table = shape.from + (try sql.qualifiedName(QualifiedTableName(schema: entry.schema, table: entry.table)))
        let key = try KeySQL(keyColumns, on: sql)
        // The signal's additional condition, and the publication's row filter: the stream sends no other rows.
        let filter = (entry.filter.map { " AND (\($0))" } ?? "") + shape.published.andRowFilter
        if state.maximumKey == nil {
            let descending = try keyColumns.map { c throws(ReplicationError) in "\(try sql.identifier(c)) DESC" }
                .joined(separator: ", ")
            let result = try sql.execute("SELECT \(key.list) FROM \(table) WHERE true\(filter) ORDER BY \(descending) LIMIT 1")
            guard let row = result.rows.first else { return false }   // empty
            state.maximumKey = row.map { $0 ?? "" }
        }
        guard let maximum = state.maximumKey else { return false }
        var conditions = [try key.upTo(maximum)]
        if let lower = state.lastKey { conditions.append(try key.after(lower)) }
        let columns = try sql.identifierList(columnNames)
        let limit = settings.snapshot.incrementalChunkRows

        try deleteSpentWatermarks(on: sql)
        let id = UUID().uuidString.lowercased()
        var chunk = ChunkWindow(openID: "\(id)-open", closeID: "\(id)-close", relationID: relationID,
                                keyPositions: keyPositions)
        try writeWatermark(chunk.openID, type: SnapshotSignal.openType, on: sql)
        let columnCount = columnNames.count
        // One snapshot for the read and for knowing what it saw (`TransactionSnapshot`).
        chunk.snapshot = try beginSnapshotSeeingStreamedTransactions(on: sql)
        do {
            _ = try sql.copyOut("""
                COPY (SELECT \(columns) FROM \(table) WHERE \(conditions.joined(separator: " AND "))\(filter) \
                ORDER BY \(key.list) LIMIT \(limit)) TO STDOUT
                """) { line in
                chunk.append(try CopyTextRow.decode(line, expectedFields: columnCount).columnValues)
            }
            try sql.execute("COMMIT")
        } catch {
            _ = try? sql.execute("ROLLBACK")
            throw error
        }
        streamedTransactions.removeAll(keepingCapacity: true)
        try writeWatermark(chunk.closeID, type: SnapshotSignal.closeType, on: sql)
        guard let last = chunk.rows.last else { return false }
        state.lastKey = keyPositions.map { position in
            if case .text(let bytes) = last[position] { return String(decoding: bytes, as: UTF8.self) }
            return ""
        }
        window = chunk
        return true
    }

    /// Begins a repeatable-read transaction whose snapshot sees every transaction the stream has sent,
    /// and returns that snapshot. A transaction's commit is decoded (and its events sent) as soon as its
    /// commit record is written, a little before it becomes visible: a snapshot taken in between would
    /// read its rows as they were before it, after its events went out. Such a window lasts
    /// microseconds, so the snapshot is taken again after a short pause until it sees them all.
    private func beginSnapshotSeeingStreamedTransactions(on sql: PostgresConnection) throws -> TransactionSnapshot {
        var pauseMicroseconds: UInt32 = 200
        for _ in 0..<50 {
            try sql.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            let text = try sql.execute("SELECT pg_catalog.pg_current_snapshot()::text AS snapshot")[0, "snapshot"] ?? ""
            guard let snapshot = TransactionSnapshot(text: text) else {
                _ = try? sql.execute("ROLLBACK")
                throw PipelineError(code: .snapshot, message: "pg_current_snapshot() returned \(text), which Swallow cannot read",
                                    isRetriable: false)
            }
            if streamedTransactions.allSatisfy({ snapshot.sees($0) }) { return snapshot }
            try sql.execute("ROLLBACK")
            usleep(pauseMicroseconds)
            pauseMicroseconds = min(pauseMicroseconds * 2, 50_000)
        }
        throw PipelineError(code: .snapshot,
                            message: "a transaction the stream already sent stayed invisible to new snapshots for over a second; reading the chunk again later",
                            isRetriable: true)
    }

    private func writeWatermark(_ id: String, type: String, on sql: PostgresConnection) throws {
        let table = try sql.qualifiedName(signalTable)
        try sql.execute("""
            INSERT INTO \(table) (id, type, data) VALUES (\(try sql.literal(id)), \(try sql.literal(type)), \
            \(try sql.literal("{\"openWindowTimestamp\": \"\(ISO8601DateFormatter().string(from: Date()))\"}")))
            """)
    }

    private func deleteSpentWatermarks(on sql: PostgresConnection) throws {
        guard !spentWatermarks.isEmpty else { return }
        let table = try sql.qualifiedName(signalTable)
        let ids = try spentWatermarks.map { id throws(ReplicationError) in try sql.literal(id) }.joined(separator: ", ")
        try sql.execute("DELETE FROM \(table) WHERE id IN (\(ids))")
        spentWatermarks.removeAll()
    }

    private func deleteAllWatermarks(on sql: PostgresConnection) throws {
        let table = try sql.qualifiedName(signalTable)
        try sql.execute("DELETE FROM \(table) WHERE type IN ('\(SnapshotSignal.openType)', '\(SnapshotSignal.closeType)')")
        spentWatermarks.removeAll()
    }

    /// The window's rows that the stream did not touch, as records at the close watermark's `position`
    /// (`index` 0, 1, ... in key order), tagged with the table's unit.
    private func emit(_ chunk: ChunkWindow, at position: RecordPosition, translator: StreamTranslator) throws(PipelineError) -> [OutgoingRecord] {
        spentWatermarks = [chunk.openID, chunk.closeID]
        var records: [OutgoingRecord] = []
        let now = WallClock.micros()
        let source = SourceInfo(connectorVersion: settings.connectorVersion, serverName: settings.topicPrefix,
                                database: settings.connection.database, commitTimeMicros: now, snapshot: "incremental")
        // One source block for the chunk: its rows share it.
        if let block = try translator.snapshotSourceBlock(relationID: chunk.relationID, source: source) {
            let unit = state.queue.first?.unit ?? SnapshotTag.incrementalUnit(signalID: "", table: "\(chunk.relationID)")
            for row in chunk.remainingRows {
                if var record = try translator.snapshotRecord(relationID: chunk.relationID, row: row, sourceBlock: block,
                                                              eventTimeMillis: now / 1000) {
                    record.position = RecordPosition(commitLSN: position.commitLSN, changeLSN: position.changeLSN,
                                                     index: UInt32(truncatingIfNeeded: records.count))
                    record.snapshot = SnapshotTag(unit: unit, row: UInt64(rowsEmitted + records.count))
                    records.append(record)
                }
            }
        }
        rowsEmitted += records.count
        if let table = state.queue.first {
            logger.debug("incremental snapshot chunk", metadata: ["table": "\(table.name)", "rows": "\(records.count)",
                                                                  "dropped_by_stream": "\(chunk.droppedCount)"])
        }
        // A short chunk is the table's last.
        if chunk.rows.count < settings.snapshot.incrementalChunkRows || state.lastKey == state.maximumKey {
            finishTable()
        }
        wantsChunkRead = true   // the next chunk, or the last watermarks' cleanup
        stateChangedInTransaction = true
        return records
    }

    private func startTable() {
        tableStartedAt = .now
        rowsEmitted = 0
    }

    private func finishTable() {
        guard let entry = state.queue.first else { return }
        let rate = ReadRate(rows: rowsEmitted, since: tableStartedAt)
        logger.info("incremental snapshot of table completed", metadata: [
            "table": "\(entry.name)", "rows": "\(rowsEmitted)", "seconds": "\(rate.secondsText)"])
        state.queue.removeFirst()
        state.lastKey = nil
        state.maximumKey = nil
        stateChangedInTransaction = true
        startTable()
        if state.queue.isEmpty { logger.info("incremental snapshot completed") }
    }

    private func remember(_ id: String) {
        state.handledSignals.append(id)
        if state.handledSignals.count > 100 { state.handledSignals.removeFirst(state.handledSignals.count - 100) }
    }

    /// Captured tables matching the data-collection expressions, in the order given.
    private func resolve(_ collections: [String]) throws(PipelineError) -> [QualifiedTableName] {
        let sql: PostgresConnection
        do { sql = try open() } catch { throw .postgres(error) }
        var candidates: [QualifiedTableName] = settings.tables
        if candidates.isEmpty {
            do { candidates = try sql.publicationTables(named: settings.publicationName) } catch { throw .postgres(error) }
        }
        candidates.removeAll { $0 == signalTable }
        var matched: [QualifiedTableName] = []
        for pattern in collections {
            for table in candidates where Self.matches(pattern, table.description) && !matched.contains(table) {
                matched.append(table)
            }
        }
        return matched
    }

    static func matches(_ pattern: String, _ name: String) -> Bool {
        NameFilter(include: [pattern], exclude: nil, ignoringCase: true).accepts(name)
    }

    private func open() throws(ReplicationError) -> PostgresConnection {
        if let connection { return connection }
        // Watermarks are written, and chunks read between them, on the primary when Swallow reads a
        // standby (postgres.primary): the chunk's snapshot then follows the open watermark, as DBLog needs.
        let opened = try PostgresConnection(settings.writeConnection, replication: false)
        connection = opened
        return opened
    }
}
