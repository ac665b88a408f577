import ChangeEvent
import Foundation
import Kafka
import Logging
import PGOutput
import PGReplication
import SwallowCore
import Synchronization

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
///
/// `@unchecked Sendable`: while readers run, they only read `tables`, `translator`, `sourceBlocks`,
/// `eventCounters` and their own copy of the chunk list, all set before the threads start; everything
/// both sides change lives in `runState` (its own lock) or the delivery state (its methods).
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
        /// The publication's row filter and column list for the table (`PublishedShape`).
        var published = PublishedTable()
        var name: QualifiedTableName { QualifiedTableName(schema: relation.namespace, table: relation.name) }
    }

    /// A row waiting for the next one, so that its marker can still change.
    struct HeldRow {
        var id: DeliveryID
        /// Index into `tables`.
        var table: Int
        /// Index into the state's chunks, and the row's ordinal in it.
        var chunk: Int
        var row: UInt64
        var values: [ColumnValue]
        var isFirstInTable: Bool
        var isLastInTable: Bool
    }


    /// Reader and coordinator state of one attempt.
    struct RunState {
        var pendingChunks: [Int] = []
        var held: HeldRow?
        var readerError: PipelineError?
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
    var eventCounters: [EventCounters.Handles] = []
    var translator: StreamTranslator
    var tables: [Table] = []
    var recordSource: SourceInfo
    /// Per table, the `source` block of its records for each `SnapshotMarker.values` entry: formatted
    /// once, since nothing else in it changes within a snapshot.
    var sourceBlocks: [[SnapshotSourceBlock]] = []
    let runState = Mutex(RunState())
    /// The attempt is being given up: readers stop at their next row. An atomic of its own, because
    /// `DeliveryState` asks for it under its lock (nothing is locked inside that lock).
    let abortFlag = Atomic<Bool>(false)
    var startedAt = ContinuousClock.now
    /// With `delivery: exactly_once`: each chunk's snapshot unit (`SnapshotTag`), the position every
    /// row carries (`RecordPosition.belowCommits(at:)` the stream floor), and whether rows of the chunks
    /// to read may already be in the topics (an attempt after the first, or a snapshot continued).
    var chunkUnits: [String] = []
    var rowPosition = RecordPosition(commitLSN: LSN(0), changeLSN: LSN(0))
    var chunksMayHaveBeenRead: Bool

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
        self.chunksMayHaveBeenRead = !state.doneChunks.isEmpty || !state.chunks.isEmpty
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
        if delivery.exactlyOnce != nil {
            chunkUnits = state.chunks.indices.map { SnapshotTag.initialUnit(consistentPoint: source.consistentPoint, chunk: $0) }
            rowPosition = RecordPosition.belowCommits(at: state.streamFloor.flatMap { LSN(string: $0) } ?? source.consistentPoint)
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
                deliveryState.clearFailure()
                if deliveryState.waitUnlessStopped(milliseconds: delay, refresh: refreshStatus) { return false }
            }
        }
        let rate = ReadRate(rows: runState.withLock { $0.rowsRead.reduce(0, +) }, since: startedAt)
        delivery.exactlyOnce?.expectRepeatedSnapshotUnits([:])
        logger.info("snapshot completed", metadata: [
            "tables": "\(tables.count)", "rows": "\(rate.rows)", "seconds": "\(rate.secondsText)",
            "rows_per_second": "\(rate.wholeRowsPerSecond)"])
        return true
    }

    enum Outcome {
        case completed
        case stopped
        case retry(PipelineError)
    }

    // MARK: Reading

    func attempt(progress: SnapshotProgress, firstReader: PostgresConnection?) throws(PipelineError) -> Outcome {
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

        if let exactlyOnce = delivery.exactlyOnce, chunksMayHaveBeenRead {
            // Rows of these chunks may be in the topics from an earlier attempt: each is compared with them.
            let floor = rowPosition.commitLSN
            exactlyOnce.expectRepeatedSnapshotUnits(Dictionary(pending.map { (chunkUnits[$0], floor) }, uniquingKeysWith: { $1 }))
        }
        chunksMayHaveBeenRead = true
        let chunks = state.chunks
        deliveryState.beginSnapshot(progress)
        abortFlag.store(false, ordering: .sequentiallyConsistent)
        let tableCount = tables.count
        runState.withLock { run in
            run.pendingChunks = pending
            run.held = nil
            run.readerError = nil
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
            // With delivery: exactly_once a chunk is done once its Kafka transaction commits, which this
            // loop does when due.
            deliveryState.waitForSnapshotProgress(until: Date().addingTimeInterval(delivery.exactlyOnce == nil ? 1 : 0.025))
            do {
                // Readers wait for room in the same transactions: commit soon.
                try delivery.commitIfDue(.idle)
            } catch {
                stopReaders(finished)
                guard error.isRetriable else {
                    deliveryState.endSnapshot()
                    throw error
                }
                outcome = .retry(error)
                break
            }
            let (active, readerError) = runState.withLock { ($0.activeReaders, $0.readerError) }
            let (newlyDone, complete) = deliveryState.takeDoneChunks()
            let (fatal, failure) = deliveryState.failures
            let stop = deliveryState.stopRequested
            if !newlyDone.isEmpty {
                state.doneChunks += newlyDone
                do {
                    try store.save(state)
                } catch {
                    stopReaders(finished)
                    deliveryState.endSnapshot()
                    throw error
                }
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
            } else if let error = delivery.error(fatal: nil, failure: failure, snapshot: true) {
                stopReaders(finished)
                guard error.isRetriable else { throw error }
                outcome = .retry(error)
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

    func stopReaders(_ finished: DispatchGroup) {
        abortFlag.store(true, ordering: .sequentiallyConsistent)
        deliveryState.wakeWaiters()
        finished.wait()
    }

    // MARK: Recovery and progress

    /// Before another attempt: every record sent must be acknowledged or failed, so that no late report
    /// of the previous attempt is mistaken for a new one.
    func waitForInFlight() {
        // An open Kafka transaction (delivery: exactly_once) is aborted: the attempt's records are not delivered.
        delivery.prepareForReplay()
        var remaining = delivery.flush(timeoutMilliseconds: 1000) {}
        while remaining > 0, !deliveryState.stopRequested {
            refreshStatus()
            remaining = delivery.flush(timeoutMilliseconds: 1000) {}
        }
    }

    /// Refreshes the monitor with the snapshot's progress; called from the coordinating loop only.
    func refreshStatus() {
        pipeline.refreshStatus(delivery: delivery, snapshot: .some(progressStatus()))
    }

    /// Rows read, rate and time left per table, and chunks done (persisted, i.e. acknowledged).
    func progressStatus() -> PipelineStatus.Snapshot {
        let (rows, left, starts) = runState.withLock { ($0.rowsRead, $0.chunksLeftPerTable, $0.tableStartedAt) }
        let tableStatus = tables.enumerated().map { index, table -> PipelineStatus.SnapshotTable in
            let rowsRead = index < rows.count ? rows[index] : 0
            let started = index < starts.count ? starts[index] : nil
            let rate = started.map { ReadRate(rows: rowsRead, since: $0) } ?? ReadRate(rows: rowsRead, seconds: 0)
            let estimate = table.state.estimatedRows > 0 ? Int(table.state.estimatedRows) : nil
            return PipelineStatus.SnapshotTable(
                name: "\(table.name)", rowsRead: rowsRead, estimatedRows: estimate,
                rowsPerSecond: rate.rowsPerSecond,
                etaSeconds: estimate.flatMap { rate.secondsLeft(estimatedRows: Double($0)) },
                isDone: index < left.count && left[index] == 0)
        }
        return PipelineStatus.Snapshot(chunksDone: state.doneChunks.count, chunkCount: state.chunks.count, tables: tableStatus)
    }

    func logTableDone(_ table: Int) {
        let (rows, started) = runState.withLock { ($0.rowsRead[table], $0.tableStartedAt[table]) }
        let rate = started.map { ReadRate(rows: rows, since: $0) } ?? ReadRate(rows: rows, seconds: 0)
        logger.info("snapshot of table completed", metadata: [
            "table": "\(tables[table].name)", "rows": "\(rows)", "seconds": "\(rate.secondsText)",
            "rows_per_second": "\(rate.wholeRowsPerSecond)"])
    }

    /// One line per table being read: rows so far, rows/s, and the time left from `pg_class.reltuples`.
    func logProgress() {
        let (rows, left, starts) = runState.withLock { ($0.rowsRead, $0.chunksLeftPerTable, $0.tableStartedAt) }
        for (index, table) in tables.enumerated() {
            guard let started = starts[index], left[index] > 0 else { continue }
            let rate = ReadRate(rows: rows[index], since: started)
            var metadata: Logger.Metadata = [
                "table": "\(table.name)", "rows": "\(rows[index])",
                "rows_per_second": "\(Int(rate.rowsPerSecond))"]
            let estimate = table.state.estimatedRows
            if estimate > 0 {
                metadata["estimated_rows"] = "\(Int(estimate))"
                if let left = rate.secondsLeft(estimatedRows: estimate) { metadata["eta_seconds"] = "\(Int(left))" }
            }
            logger.info("snapshot progress", metadata: metadata)
        }
    }
}
