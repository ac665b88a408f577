import SwallowCore
import Synchronization
import ChangeEvent
import Foundation
import Kafka
import Logging
import PGOutput
import PGReplication

/// Reads every captured table on one exported snapshot and produces each row as an `op: "r"` record.
///
/// Tables are cut into chunks — primary-key ranges, or block (ctid) ranges for tables without a primary
/// key — and `snapshot.max_threads` reader threads, each with its own connection importing the snapshot,
/// read chunks with `COPY (SELECT ...) TO STDOUT`, so no table is ever held in memory and production
/// overlaps reading. The calling thread coordinates: it persists chunks once the broker acknowledged all
/// of their records, logs progress, and returns when every chunk is done.
///
/// Markers follow Debezium: one record is held back globally so that the very last record produced is
/// marked `last`; each reader holds back its chunk's last row so that a table's last row can be marked.
final class InitialSnapshot: @unchecked Sendable {
    /// Where the snapshot comes from: a new slot's exported snapshot or one exported by a transaction.
    struct Source {
        var snapshotName: String
        var consistentPoint: LSN
    }

    /// A captured table as the snapshot reads it.
    struct Table {
        var relation: RelationMessage
        var state: SnapshotState.Table
        var name: QualifiedTableName { QualifiedTableName(schema: relation.namespace, table: relation.name) }
    }

    /// A row waiting for the next one, so that its marker can still change.
    struct HeldRow {
        var id: DeliveryID
        /// Index into `tables`.
        var table: Int
        var values: [ColumnValue]
        var isFirstInTable: Bool
        var isLastInTable: Bool
    }

    // @unchecked Sendable: while readers run, they only read `tables`, `translator`, `sourceBlocks`,
    // `eventCounters` and their own copy of the chunk list, all set before the threads start; everything
    // both sides change lives in `runState` (its own lock) or the delivery state (its methods).

    /// Reader and coordinator state of one attempt.
    struct RunState {
        var pendingChunks: [Int] = []
        var held: HeldRow?
        var readerError: PipelineError?
        var abort = false
        var activeReaders = 0
        var rowsRead: [Int] = []
        var chunksLeftPerTable: [Int] = []
        var tableStartedAt: [ContinuousClock.Instant?] = []
    }

    let settings: PipelineSettings
    let logger: Logger
    let pipeline: ReplicationPipeline
    let delivery: DeliveryPath
    var deliveryState: DeliveryState { delivery.state }
    let source: Source
    let store: SnapshotStateStore
    var state: SnapshotState
    let monitor: PipelineMonitor
    /// `swallow_events_total` / `swallow_event_bytes_total` handles of each table (op `r`), by table index:
    /// made once, shared by the reader threads.
    private var eventCounters: [EventCounters.Handles] = []
    private var translator: StreamTranslator
    private var tables: [Table] = []
    private var recordSource: SourceInfo
    /// Per table, the `source` block of its records for each `SnapshotMarker.values` entry: formatted
    /// once, since nothing else in it changes within a snapshot.
    private var sourceBlocks: [[[UInt8]]] = []
    let runState = Mutex(RunState())
    private var startedAt = ContinuousClock.now

    init(settings: PipelineSettings, logger: Logger, pipeline: ReplicationPipeline, delivery: DeliveryPath,
         source: Source, store: SnapshotStateStore, state: SnapshotState) {
        self.monitor = pipeline.monitor
        self.settings = settings
        self.logger = logger
        self.pipeline = pipeline
        self.delivery = delivery
        self.source = source
        self.store = store
        self.state = state
        self.translator = StreamTranslator(settings: settings)
        self.recordSource = SourceInfo(connectorVersion: settings.connectorVersion, serverName: settings.topicPrefix,
                                       database: settings.connection.database, commitTimeMicros: 0,
                                       lsn: source.consistentPoint.value, snapshot: "true")
    }

    /// Runs to completion (true), or until a stop request (false; the state file keeps what was done).
    /// Delivery failures retry the chunks not yet done on the same snapshot; other failures throw.
    func run() throws(PipelineError) -> Bool {
        startedAt = .now
        let first = try openReader(readOnly: false)
        defer { first.close() }
        try describeSnapshotTransaction(first)
        let catalog = CatalogReader(parameters: settings.connection)
        defer { catalog.close() }
        try describeTables(reader: first, catalog: catalog)
        try formatSourceBlocks()
        if state.chunks.isEmpty {
            try planChunks(reader: first)
            try store.save(state)
        }
        var backoff = Backoff()
        var firstReader: PostgresConnection? = first
        attempts: while true {
            let progress = SnapshotProgress(chunkCount: state.chunks.count, done: Set(state.doneChunks))
            if progress.isComplete { break }
            let outcome = try attempt(progress: progress, firstReader: firstReader)
            firstReader = nil   // later attempts open fresh readers on the same snapshot
            switch outcome {
            case .completed:
                break attempts
            case .stopped:
                return false
            case .retry(let error):
                let delay = backoff.next()
                monitor.snapshotRetries.increment()
                monitor.recordError(error.message)
                logger.warning("snapshot interrupted; reading the unfinished chunks again on the same snapshot",
                               metadata: ["error": "\(error)", "retry_in_ms": "\(delay)",
                                          "chunks_done": "\(state.doneChunks.count)/\(state.chunks.count)"])
                waitForInFlight()
                deliveryState.endSnapshot()
                if deliveryState.waitUnlessStopped(milliseconds: delay, refresh: refreshStatus) { return false }
            }
        }
        let rows = runState.withLock { $0.rowsRead.reduce(0, +) }
        let seconds = Self.seconds(since: startedAt)
        logger.info("snapshot completed", metadata: [
            "tables": "\(tables.count)", "rows": "\(rows)", "seconds": "\(String(format: "%.1f", seconds))",
            "rows_per_second": "\(seconds > 0 ? Int(Double(rows) / seconds) : rows)"])
        return true
    }

    enum Outcome {
        case completed
        case stopped
        case retry(PipelineError)
    }

    // MARK: Setup

    private func openReader(readOnly: Bool) throws(PipelineError) -> PostgresConnection {
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

    /// Debezium's snapshot records carry the snapshot transaction's id and start time.
    private func describeSnapshotTransaction(_ reader: PostgresConnection) throws(PipelineError) {
        let result: QueryResult
        do {
            result = try reader.execute("""
                SELECT pg_catalog.txid_current() % 4294967296 AS xid,
                       (extract(epoch FROM CURRENT_TIMESTAMP) * 1000000)::bigint AS micros
                """)
        } catch { throw .postgres(error) }
        recordSource.transactionID = result[0, "xid"].flatMap { UInt32($0) }
        recordSource.commitTimeMicros = result[0, "micros"].flatMap { Int64($0) } ?? 0
    }

    /// The captured tables (configured, else the publication's), as Relation messages built from the
    /// catalog, in the order they are read.
    private func describeTables(reader: PostgresConnection, catalog: CatalogReader) throws(PipelineError) {
        var names: [QualifiedTableName] = settings.tables
        if names.isEmpty {
            do { names = try reader.publicationTables(named: settings.publicationName) } catch { throw .postgres(error) }
            // The signal table is Swallow's bookkeeping, not data.
            names.removeAll { $0 == settings.signalTable }
        }
        tables = []
        for name in names {
            guard let oid = try catalog.relationID(schema: name.schema, table: name.table) else {
                throw PipelineError(code: .snapshot, message: "table \(name) does not exist; create it or remove it from `tables`",
                                    isRetriable: false)
            }
            let details = try catalog.details(of: oid)
            guard let relation = try catalog.relationMessage(relationID: oid, details: details) else { continue }
            guard translator.captures(relation) else { continue }
            try translator.describe(relation, catalog: try catalog.catalog(of: relation, details: details))
            tables.append(Table(relation: relation,
                                state: .init(schema: name.schema, name: name.table, keyColumns: details.primaryKey,
                                             estimatedRows: -1)))
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

    private func formatSourceBlocks() throws(PipelineError) {
        var source = recordSource
        sourceBlocks = []
        for table in tables {
            var blocks: [[UInt8]] = []
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
    private func planChunks(reader: PostgresConnection) throws(PipelineError) {
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
                          FROM \(from)\(try reader.qualifiedName(table.name))) numbered
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

    /// `COPY (SELECT <published columns> FROM ONLY <table> WHERE <chunk range>) TO STDOUT`.
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
        let filter = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        return "COPY (SELECT \(columns) FROM \(table.state.fromPrefix)\(try connection.qualifiedName(table.name))\(filter)) TO STDOUT"
    }

    // MARK: Reading

    private func attempt(progress: SnapshotProgress, firstReader: PostgresConnection?) throws(PipelineError) -> Outcome {
        let pending = state.chunks.indices.filter { !progress.done.contains($0) }
        let threads = max(1, min(settings.snapshot.maxThreads, pending.count))
        var readers: [PostgresConnection] = []
        if let firstReader { readers.append(firstReader) }
        do {
            while readers.count < threads { readers.append(try openReader(readOnly: true)) }
        } catch {
            for reader in readers where reader !== firstReader { reader.close() }
            throw error
        }
        defer { for reader in readers where reader !== firstReader { reader.close() } }

        let chunks = state.chunks
        deliveryState.beginSnapshot(progress)
        let tableCount = tables.count
        runState.withLock { run in
            run.pendingChunks = pending
            run.held = nil
            run.readerError = nil
            run.abort = false
            run.activeReaders = readers.count
            run.chunksLeftPerTable = Array(repeating: 0, count: tableCount)
            for chunk in pending { run.chunksLeftPerTable[chunks[chunk].table] += 1 }
        }
        logger.info("snapshot reading", metadata: ["chunks": "\(pending.count)", "threads": "\(readers.count)",
                                                   "consistent_point": "\(source.consistentPoint)"])
        let finished = DispatchGroup()
        let threadCount = readers.count
        for (index, reader) in readers.enumerated() {
            finished.enter()
            startThread(named: "swallow-snapshot-\(index)") { [self] in
                readChunks(on: reader, chunks: chunks, threads: threadCount)
                runState.withLock { $0.activeReaders -= 1 }
                deliveryState.wakeWaiters()
                finished.leave()
            }
        }

        var lastLog = ContinuousClock.now
        var outcome: Outcome?
        while outcome == nil {
            deliveryState.waitForSnapshotProgress(until: Date().addingTimeInterval(1))
            let (active, readerError) = runState.withLock { ($0.activeReaders, $0.readerError) }
            let (newlyDone, complete) = deliveryState.takeDoneChunks()
            let (fatal, failure) = deliveryState.failures
            let stop = deliveryState.stopRequested
            if !newlyDone.isEmpty {
                state.doneChunks += newlyDone
                try store.save(state)
            }
            if active == 0, !complete, readerError == nil, failure == nil, fatal == nil, !stop {
                // Every reader finished: the held-back record is the snapshot's very last one.
                try produceFinalHeldRecord()
            }
            if let fatal {
                stopReaders(finished)
                throw DeliveryPath.producerFatal(fatal)
            }
            if let readerError {
                stopReaders(finished)
                // A retriable failure (a dropped reader connection, say) retries on the same snapshot; if the
                // snapshot is no longer held, opening the readers says so and the snapshot starts over.
                if readerError.isRetriable { outcome = .retry(readerError) } else { throw readerError }
            } else if failure != nil {
                stopReaders(finished)
                do {
                    try delivery.checkHealth(snapshot: true)
                } catch {
                    guard error.isRetriable else { throw error }
                    outcome = .retry(error)
                }
            } else if stop {
                stopReaders(finished)
                let left = delivery.flush(timeoutMilliseconds: settings.flushTimeoutMilliseconds) {}
                state.doneChunks += deliveryState.takeDoneChunks().done
                try store.save(state)
                logger.info("snapshot stopped before the end; the next start continues it or starts it over",
                            metadata: ["chunks_done": "\(state.doneChunks.count)/\(state.chunks.count)",
                                       "in_flight": "\(left)"])
                outcome = .stopped
            } else if complete {
                finished.wait()
                outcome = .completed
            }
            if ContinuousClock.now - lastLog >= .seconds(10) {
                lastLog = .now
                logProgress()
            }
            refreshStatus()
        }
        deliveryState.endSnapshot()
        pipeline.refreshStatus(delivery: delivery, snapshot: .some(nil))
        return outcome!
    }

    private func stopReaders(_ finished: DispatchGroup) {
        runState.withLock { $0.abort = true }
        deliveryState.wakeWaiters()
        finished.wait()
    }

    private struct Aborted: Error {}

    private var aborted: Bool { runState.withLock { $0.abort } }

    /// One reader thread: takes chunks until none is left or the attempt is aborted.
    private func readChunks(on connection: PostgresConnection, chunks: [SnapshotState.Chunk], threads: Int) {
        let translator = self.translator
        while true {
            let next: Int? = runState.withLock { run in
                run.abort || run.pendingChunks.isEmpty ? nil : run.pendingChunks.removeFirst()
            }
            guard let chunkNumber = next else { return }
            let chunk = chunks[chunkNumber]
            let table = tables[chunk.table]
            let columnCount = table.relation.columns.count
            runState.withLock { run in if run.tableStartedAt[chunk.table] == nil { run.tableStartedAt[chunk.table] = .now } }
            var local: HeldRow?
            var batch: [HeldRow] = []
            batch.reserveCapacity(Self.batchSize)
            var rowInChunk = 0
            do {
                let query = try chunkQuery(chunk, on: connection)
                _ = try connection.copyOut(query) { line in
                    let values = try CopyTextRow.decode(line, expectedFields: columnCount).columnValues
                    rowInChunk += 1
                    if let previous = local {
                        batch.append(previous)
                        if batch.count >= Self.batchSize {
                            try push(&batch, chunkNumber: chunkNumber, translator: translator, threads: threads)
                        }
                    }
                    local = HeldRow(id: .snapshotRecord(0), table: chunk.table, values: values,
                                    isFirstInTable: chunk.index == 0 && rowInChunk == 1, isLastInTable: false)
                }
                if var last = local {
                    last.isLastInTable = chunk.isLastOfTable
                    batch.append(last)
                }
                try push(&batch, chunkNumber: chunkNumber, translator: translator, threads: threads)
                deliveryState.closeChunk(chunkNumber)
                let tableDone = runState.withLock { run -> Bool in
                    run.chunksLeftPerTable[chunk.table] -= 1
                    return run.chunksLeftPerTable[chunk.table] == 0 && !run.abort
                }
                if tableDone { logTableDone(chunk.table) }
            } catch is Aborted {
                return
            } catch {
                let failure: PipelineError
                switch error {
                case let error as PipelineError: failure = error
                case let error as ReplicationError: failure = .postgres(error)
                default: failure = PipelineError(code: .snapshot, message: "\(error)", isRetriable: false, underlying: error)
                }
                runState.withLock { run in
                    if run.readerError == nil {
                        run.readerError = failure.prefixed("reading \(table.name) for the snapshot failed")
                    }
                    run.abort = true
                }
                deliveryState.wakeWaiters()
                return
            }
        }
    }

    /// Rows a reader registers per lock acquisition: the lock is shared with the delivery thread.
    static let batchSize = 256

    /// Registers `rows` (in order), keeps the last in the global hold-back slot, and produces the rows that
    /// leaves out: the previously held row (perhaps another reader's), then all but the last of `rows`.
    /// Waits while too many records await acknowledgement.
    private func push(_ rows: inout [HeldRow], chunkNumber: Int, translator: StreamTranslator, threads: Int) throws {
        guard !rows.isEmpty else { return }
        // Below the bound, or nothing in flight at all (a batch larger than the bound still goes).
        guard let ids = deliveryState.registerSnapshotRecords(chunk: chunkNumber, count: rows.count,
                                                              limit: settings.maxInFlightEvents,
                                                              shouldGiveUp: { aborted }) else { throw Aborted() }
        for index in rows.indices { rows[index].id = ids[index] }
        let last = rows.removeLast()
        var displaced: [HeldRow] = runState.withLock { run in
            run.rowsRead[last.table] += rows.count + 1
            defer { run.held = last }
            return run.held.map { [$0] } ?? []
        }
        displaced.append(contentsOf: rows)
        rows.removeAll(keepingCapacity: true)
        for row in displaced { try produce(row, translator: translator, threads: threads, isVeryLast: false) }
    }

    private func produceFinalHeldRecord() throws(PipelineError) {
        let held: HeldRow? = runState.withLock { run in
            defer { run.held = nil }
            return run.held
        }
        guard let held else { return }
        do {
            try produce(held, translator: translator, threads: settings.snapshot.maxThreads, isVeryLast: true)
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(code: .snapshot, message: "\(error)", isRetriable: true, underlying: error)
        }
    }

    private func produce(_ row: HeldRow, translator: StreamTranslator, threads: Int, isVeryLast: Bool) throws {
        let marker = isVeryLast ? SnapshotMarker.lastIndex : SnapshotMarker.index(
            isFirstTable: threads == 1 && row.table == 0,
            isLastTable: threads == 1 && row.table == tables.count - 1,
            isFirstInTable: row.isFirstInTable, isLastInTable: row.isLastInTable)
        let relationID = tables[row.table].relation.relationID
        guard let record = try translator.snapshotRecord(relationID: relationID, row: row.values,
                                                         sourceBlock: sourceBlocks[row.table][marker],
                                                         eventTimeMillis: WallClock.millis()) else {
            deliveryState.settleWithoutDelivery(row.id)
            return
        }
        // The event bound is kept by `push`; the byte bound (max_in_flight_bytes) by the delivery path.
        let queued = try delivery.produce(record, id: row.id, origin: .init(table: "\(tables[row.table].name)", sourceLSN: source.consistentPoint)) {
            // Waits up to 50 ms for delivery reports; gives the record up on an abort or a stop request.
            _ = deliveryState.waitForReports(until: Date().addingTimeInterval(0.05))
            return !aborted && !deliveryState.stopRequested
        }
        guard queued else { throw Aborted() }
        let counters = eventCounters[row.table]
        counters.events.increment()
        counters.bytes.increment(by: (record.key?.count ?? 0) + (record.value?.count ?? 0))
    }

    // MARK: Recovery and progress

    /// Before another attempt: every record sent must be acknowledged or failed, so that no late report
    /// of the previous attempt is mistaken for a new one.
    private func waitForInFlight() {
        var remaining = delivery.flush(timeoutMilliseconds: 1000) {}
        while remaining > 0, !deliveryState.stopRequested {
            refreshStatus()
            remaining = delivery.flush(timeoutMilliseconds: 1000) {}
        }
    }

    /// Refreshes the monitor with the snapshot's progress; called from the coordinating loop only.
    private func refreshStatus() {
        pipeline.refreshStatus(delivery: delivery, snapshot: .some(progressStatus()))
    }

    /// Rows read, rate and time left per table, and chunks done (persisted, i.e. acknowledged).
    func progressStatus() -> PipelineStatus.Snapshot {
        let (rows, left, starts) = runState.withLock { ($0.rowsRead, $0.chunksLeftPerTable, $0.tableStartedAt) }
        let tableStatus = tables.enumerated().map { index, table -> PipelineStatus.SnapshotTable in
            let rowsRead = index < rows.count ? rows[index] : 0
            let seconds = (index < starts.count ? starts[index] : nil).map(Self.seconds(since:)) ?? 0
            let rate = seconds > 0 ? Double(rowsRead) / seconds : 0
            let estimate = table.state.estimatedRows > 0 ? Int(table.state.estimatedRows) : nil
            return PipelineStatus.SnapshotTable(
                name: "\(table.name)", rowsRead: rowsRead, estimatedRows: estimate,
                rowsPerSecond: rate,
                etaSeconds: estimate.flatMap { rate > 0 ? max(0, Double($0 - rowsRead)) / rate : nil },
                isDone: index < left.count && left[index] == 0)
        }
        return PipelineStatus.Snapshot(chunksDone: state.doneChunks.count, chunkCount: state.chunks.count, tables: tableStatus)
    }

    private func logTableDone(_ table: Int) {
        let (rows, started) = runState.withLock { ($0.rowsRead[table], $0.tableStartedAt[table]) }
        let seconds = started.map(Self.seconds(since:)) ?? 0
        logger.info("snapshot of table completed", metadata: [
            "table": "\(tables[table].name)", "rows": "\(rows)",
            "seconds": "\(String(format: "%.1f", seconds))",
            "rows_per_second": "\(seconds > 0 ? Int(Double(rows) / seconds) : rows)"])
    }

    /// One line per table being read: rows so far, rows/s, and the time left from `pg_class.reltuples`.
    private func logProgress() {
        let (rows, left, starts) = runState.withLock { ($0.rowsRead, $0.chunksLeftPerTable, $0.tableStartedAt) }
        for (index, table) in tables.enumerated() {
            guard let started = starts[index], left[index] > 0 else { continue }
            let seconds = Self.seconds(since: started)
            let rate = seconds > 0 ? Double(rows[index]) / seconds : 0
            var metadata: Logger.Metadata = [
                "table": "\(table.name)", "rows": "\(rows[index])",
                "rows_per_second": "\(Int(rate))"]
            let estimate = table.state.estimatedRows
            if estimate > 0 {
                metadata["estimated_rows"] = "\(Int(estimate))"
                if rate > 0 {
                    metadata["eta_seconds"] = "\(Int(max(0, estimate - Double(rows[index])) / rate))"
                }
            }
            logger.info("snapshot progress", metadata: metadata)
        }
    }

    static func seconds(since instant: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - instant
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
