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
        var id: UInt64
        /// Index into `tables`.
        var table: Int
        var values: [ColumnValue]
        var isFirstInTable: Bool
        var isLastInTable: Bool
    }

    // Sendable by discipline: while readers run, they only read `tables`, `translator`, `sourceBlocks` and
    // their own copy of the chunk list; everything both sides change lives in `runState`, under the lock.

    /// Reader and coordinator state; guarded by the pipeline's lock (`Shared`), whose condition also
    /// wakes readers waiting for acknowledgements.
    final class RunState: @unchecked Sendable {
        var pendingChunks: [Int] = []
        var held: HeldRow?
        var readerError: PipelineError?
        var abort = false
        var activeReaders = 0
        var rowsRead: [Int] = []
        var chunksLeftPerTable: [Int] = []
    }

    let settings: PipelineSettings
    let logger: Logger
    let shared: ReplicationPipeline.Shared
    let producer: KafkaProducer
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
    private let runState = RunState()
    private let oversized: OversizedEventHandling
    private var startedAt = ContinuousClock.now
    private var tableStartedAt: [ContinuousClock.Instant?] = []

    init(settings: PipelineSettings, logger: Logger, shared: ReplicationPipeline.Shared, producer: KafkaProducer,
         source: Source, store: SnapshotStateStore, state: SnapshotState, monitor: PipelineMonitor) {
        self.monitor = monitor
        self.settings = settings
        oversized = OversizedEventHandling(settings: settings)
        self.logger = logger
        self.shared = shared
        self.producer = producer
        self.source = source
        self.store = store
        self.state = state
        self.translator = StreamTranslator(topicPrefix: settings.topicPrefix, database: settings.connection.database,
                                           capturedTables: settings.tables, connectorVersion: settings.connectorVersion,
                                           options: settings.events)
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
                shared.withLock { $0.snapshot = nil; $0.deliveryFailure = nil }
                if shared.waitUnlessStopped(milliseconds: delay, refresh: refreshStatus) { return false }
            }
        }
        let rows = shared.withLock { _ in runState.rowsRead.reduce(0, +) }
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
        var ignored: [StreamAction] = []
        for name in names {
            guard let oid = try catalog.relationID(schema: name.schema, table: name.table) else {
                throw PipelineError(code: .snapshot, message: "table \(name) does not exist; create it or remove it from `tables`",
                                    isRetriable: false)
            }
            let details = try catalog.details(of: oid)
            guard let relation = try catalog.relationMessage(relationID: oid, details: details) else { continue }
            guard translator.captures(relation) else { continue }
            try catalog.describe(relation, details: details, to: &translator)
            try translator.translate(.relation(relation), walStart: source.consistentPoint, eventTimeMillis: 0, into: &ignored)
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
        runState.rowsRead = Array(repeating: 0, count: tables.count)
        tableStartedAt = Array(repeating: nil, count: tables.count)
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
        shared.withLock { state in
            state.snapshot = progress
            state.deliveryFailure = nil
            runState.pendingChunks = pending
            runState.held = nil
            runState.readerError = nil
            runState.abort = false
            runState.activeReaders = readers.count
            runState.chunksLeftPerTable = Array(repeating: 0, count: tables.count)
            for chunk in pending { runState.chunksLeftPerTable[chunks[chunk].table] += 1 }
        }
        logger.info("snapshot reading", metadata: ["chunks": "\(pending.count)", "threads": "\(readers.count)",
                                                   "consistent_point": "\(source.consistentPoint)"])
        let finished = DispatchGroup()
        let threadCount = readers.count
        for (index, reader) in readers.enumerated() {
            finished.enter()
            let thread = Thread { [self] in
                self.readChunks(on: reader, chunks: chunks, threads: threadCount)
                self.shared.withLock { _ in
                    self.runState.activeReaders -= 1
                    self.shared.condition.broadcast()
                }
                finished.leave()
            }
            thread.name = "swallow-snapshot-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }

        var lastLog = ContinuousClock.now
        var outcome: Outcome?
        while outcome == nil {
            let (newlyDone, active, readerError, failure, fatal, stop, complete) = shared.withLock { state in
                if state.snapshot?.isComplete != true, !state.stopRequested, state.fatalProducerError == nil {
                    _ = state.condition.wait(until: Date().addingTimeInterval(1))
                }
                return (state.snapshot?.takeNewlyDone() ?? [], runState.activeReaders, runState.readerError,
                        state.deliveryFailure, state.fatalProducerError, state.stopRequested,
                        state.snapshot?.isComplete == true)
            }
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
                throw ReplicationPipeline.producerFatal(fatal)
            }
            if let readerError {
                stopReaders(finished)
                // A retriable failure (a dropped reader connection, say) retries on the same snapshot; if the
                // snapshot is no longer held, opening the readers says so and the snapshot starts over.
                if readerError.isRetriable { outcome = .retry(readerError) } else { throw readerError }
            } else if let failure {
                stopReaders(finished)
                guard failure.isRetriable else {
                    if OversizedEventHandling.isOversized(failure) { throw oversized.brokerRefusal(failure, snapshot: true) }
                    throw PipelineError(code: .deliveryFailed,
                                        message: "Kafka refused a snapshot record (\(failure)). Fix the cause (topic permissions, message.max.bytes...) and restart; the snapshot continues or starts over",
                                        isRetriable: false)
                }
                outcome = .retry(PipelineError(code: .deliveryFailed, message: "\(failure)", isRetriable: true))
            } else if stop {
                stopReaders(finished)
                let left = producer.flush(timeoutMilliseconds: Int32(clamping: settings.flushTimeoutMilliseconds))
                let done = shared.withLock { $0.snapshot?.takeNewlyDone() ?? [] }
                state.doneChunks += done
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
        shared.withLock { $0.snapshot = nil }
        ReplicationPipeline.refreshStatus(shared: shared, monitor: monitor, snapshot: .some(nil))
        return outcome!
    }

    private func stopReaders(_ finished: DispatchGroup) {
        shared.withLock { state in
            runState.abort = true
            state.condition.broadcast()
        }
        finished.wait()
    }

    private struct Aborted: Error {}

    /// One reader thread: takes chunks until none is left or the attempt is aborted.
    private func readChunks(on connection: PostgresConnection, chunks: [SnapshotState.Chunk], threads: Int) {
        let translator = self.translator
        while true {
            let next: Int? = shared.withLock { _ in
                runState.abort || runState.pendingChunks.isEmpty ? nil : runState.pendingChunks.removeFirst()
            }
            guard let chunkNumber = next else { return }
            let chunk = chunks[chunkNumber]
            let table = tables[chunk.table]
            let columnCount = table.relation.columns.count
            shared.withLock { _ in if tableStartedAt[chunk.table] == nil { tableStartedAt[chunk.table] = .now } }
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
                    local = HeldRow(id: 0, table: chunk.table, values: values,
                                    isFirstInTable: chunk.index == 0 && rowInChunk == 1, isLastInTable: false)
                }
                if var last = local {
                    last.isLastInTable = chunk.isLastOfTable
                    batch.append(last)
                }
                try push(&batch, chunkNumber: chunkNumber, translator: translator, threads: threads)
                let tableDone = shared.withLock { state -> Bool in
                    state.snapshot?.close(chunk: chunkNumber)
                    runState.chunksLeftPerTable[chunk.table] -= 1
                    state.condition.broadcast()
                    return runState.chunksLeftPerTable[chunk.table] == 0 && !runState.abort
                }
                if tableDone { logTableDone(chunk.table) }
            } catch is Aborted {
                return
            } catch {
                let failure: PipelineError
                switch error {
                case let error as PipelineError: failure = error
                case let error as ReplicationError: failure = .postgres(error)
                default: failure = PipelineError(code: .snapshot, message: "\(error)", isRetriable: false)
                }
                shared.withLock { state in
                    if runState.readerError == nil {
                        runState.readerError = PipelineError(
                            code: failure.code,
                            message: "reading \(table.name) for the snapshot failed: \(failure.message)",
                            isRetriable: failure.isRetriable)
                    }
                    runState.abort = true
                    state.condition.broadcast()
                }
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
        let limit = settings.maxInFlightEvents
        let displaced: [HeldRow] = try shared.withLock { state in
            // Below the bound, or nothing in flight at all (a batch larger than the bound still goes).
            while !runState.abort, !state.stopRequested, let inFlight = state.snapshot?.inFlightEvents,
                  inFlight > 0, inFlight + rows.count > limit {
                _ = state.condition.wait(until: Date().addingTimeInterval(0.1))
            }
            if runState.abort || state.stopRequested { throw Aborted() }
            guard state.snapshot != nil else { throw Aborted() }
            var out: [HeldRow] = []
            out.reserveCapacity(rows.count)
            if let previous = runState.held { out.append(previous) }
            for index in rows.indices {
                rows[index].id = state.snapshot!.register(chunk: chunkNumber)
            }
            runState.rowsRead[rows[0].table] += rows.count
            runState.held = rows.removeLast()
            out.append(contentsOf: rows)
            return out
        }
        rows.removeAll(keepingCapacity: true)
        for row in displaced { try produce(row, translator: translator, threads: threads, isVeryLast: false) }
    }

    private func produceFinalHeldRecord() throws(PipelineError) {
        let held: HeldRow? = shared.withLock { _ in
            defer { runState.held = nil }
            return runState.held
        }
        guard let held else { return }
        do {
            try produce(held, translator: translator, threads: settings.snapshot.maxThreads, isVeryLast: true)
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError(code: .snapshot, message: "\(error)", isRetriable: true)
        }
    }

    private func produce(_ row: HeldRow, translator: StreamTranslator, threads: Int, isVeryLast: Bool) throws {
        let marker = isVeryLast ? SnapshotMarker.lastIndex : SnapshotMarker.index(
            isFirstTable: threads == 1 && row.table == 0,
            isLastTable: threads == 1 && row.table == tables.count - 1,
            isFirstInTable: row.isFirstInTable, isLastInTable: row.isLastInTable)
        let relationID = tables[row.table].relation.relationID
        guard var record = try translator.snapshotRecord(relationID: relationID, row: row.values,
                                                         sourceBlock: sourceBlocks[row.table][marker],
                                                         eventTimeMillis: WallClock.millis()) else {
            shared.withLock { state in
                state.snapshot?.acknowledge(row.id)
                state.condition.broadcast()
            }
            return
        }
        // The byte bound (max_in_flight_bytes), shared with every reader; the event bound is kept by `push`.
        let bytes = KafkaProducer.messageBytes(key: record.key, value: record.value, headers: record.headers)
        // The in-flight byte count is atomic: the shared lock (which `push` takes once per batch of rows)
        // is only taken to wait.
        while !ReplicationPipeline.hasByteRoom(inFlight: producer.inFlightBytes, adding: bytes, limit: settings.maxInFlightBytes) {
            try waitForDeliveries(failing: row.id)
        }
        while true {
            do {
                try producer.produce(topic: record.topic, key: record.key, value: record.value, headers: record.headers,
                                     id: row.id, blockWhenQueueFull: false)
                let counters = eventCounters[row.table]
                counters.events.increment()
                counters.bytes.increment(by: (record.key?.count ?? 0) + (record.value?.count ?? 0))
                return
            } catch where error.code == .queueFull {
                try waitForDeliveries(failing: row.id)
            } catch where OversizedEventHandling.isOversized(error) {
                do {
                    record = try oversized.replacement(for: record, refusal: error, table: "\(tables[row.table].name)",
                                                       sourceLSN: source.consistentPoint, logger: logger)
                } catch {
                    shared.withLock { $0.snapshot?.fail(row.id) }
                    throw error
                }
            } catch {
                shared.withLock { $0.snapshot?.fail(row.id) }
                throw PipelineError(code: .kafka, message: "producing to topic \(record.topic) failed: \(error)",
                                    isRetriable: error.isRetriable)
            }
        }
    }

    /// Waits up to 50 ms for delivery reports (the delivery thread broadcasts on the condition); on an
    /// abort or a stop request gives row `id` up and throws `Aborted`.
    private func waitForDeliveries(failing id: UInt64) throws {
        let stop = shared.withLock { state -> Bool in
            if !runState.abort, !state.stopRequested { _ = state.condition.wait(until: Date().addingTimeInterval(0.05)) }
            return runState.abort || state.stopRequested
        }
        if stop {
            shared.withLock { $0.snapshot?.fail(id) }
            throw Aborted()
        }
    }

    // MARK: Recovery and progress

    /// Before another attempt: every record sent must be acknowledged or failed, so that no late report
    /// of the previous attempt is mistaken for a new one.
    private func waitForInFlight() {
        var remaining = producer.flush(timeoutMilliseconds: 1000)
        while remaining > 0, !shared.withLock({ $0.stopRequested }) {
            refreshStatus()
            remaining = producer.flush(timeoutMilliseconds: 1000)
        }
    }

    /// Refreshes the monitor with the snapshot's progress; called from the coordinating loop only.
    private func refreshStatus() {
        ReplicationPipeline.refreshStatus(shared: shared, monitor: monitor, snapshot: .some(progressStatus()))
    }

    /// Rows read, rate and time left per table, and chunks done (persisted, i.e. acknowledged).
    func progressStatus() -> PipelineStatus.Snapshot {
        let (rows, left, starts) = shared.withLock { _ in (runState.rowsRead, runState.chunksLeftPerTable, tableStartedAt) }
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
        let (rows, started) = shared.withLock { _ in (runState.rowsRead[table], tableStartedAt[table]) }
        let seconds = started.map(Self.seconds(since:)) ?? 0
        logger.info("snapshot of table completed", metadata: [
            "table": "\(tables[table].name)", "rows": "\(rows)",
            "seconds": "\(String(format: "%.1f", seconds))",
            "rows_per_second": "\(seconds > 0 ? Int(Double(rows) / seconds) : rows)"])
    }

    /// One line per table being read: rows so far, rows/s, and the time left from `pg_class.reltuples`.
    private func logProgress() {
        let (rows, left, starts) = shared.withLock { _ in (runState.rowsRead, runState.chunksLeftPerTable, tableStartedAt) }
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
