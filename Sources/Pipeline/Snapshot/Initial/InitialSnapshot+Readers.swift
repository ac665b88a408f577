import ChangeEvent
import Foundation
import Kafka
import Logging
import PGOutput
import PGReplication
import SwallowCore
import Synchronization

/// The reader threads: each takes chunks, copies their rows out and produces them through the delivery
/// path, holding one row back so the markers of the last rows can still change.
extension InitialSnapshot {
    struct Aborted: Error {}

    var aborted: Bool { abortFlag.load(ordering: .sequentiallyConsistent) }

    /// One reader thread: takes chunks until none is left or the attempt is aborted.
    func readChunks(on connection: PostgresConnection, chunks: [SnapshotState.Chunk], threads: Int) {
        let translator = self.translator
        while true {
            let next: Int? = runState.withLock { run in
                aborted || run.pendingChunks.isEmpty ? nil : run.pendingChunks.removeFirst()
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
                    local = HeldRow(id: .snapshotRecord(0), table: chunk.table, chunk: chunkNumber,
                                    row: UInt64(rowInChunk - 1), values: values,
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
                    return run.chunksLeftPerTable[chunk.table] == 0 && !aborted
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
                }
                abortFlag.store(true, ordering: .sequentiallyConsistent)
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
    func push(_ rows: inout [HeldRow], chunkNumber: Int, translator: StreamTranslator, threads: Int) throws {
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

    func produceFinalHeldRecord() throws(PipelineError) {
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

    func produce(_ row: HeldRow, translator: StreamTranslator, threads: Int, isVeryLast: Bool) throws {
        let marker = isVeryLast ? SnapshotMarker.lastIndex : SnapshotMarker.index(
            isFirstTable: threads == 1 && row.table == 0,
            isLastTable: threads == 1 && row.table == tables.count - 1,
            isFirstInTable: row.isFirstInTable, isLastInTable: row.isLastInTable)
        let relationID = tables[row.table].relation.relationID
        guard var record = try translator.snapshotRecord(relationID: relationID, row: row.values,
                                                         sourceBlock: sourceBlocks[row.table][marker],
                                                         eventTimeMillis: WallClock.millis()) else {
            deliveryState.settleWithoutDelivery(row.id)
            return
        }
        if !chunkUnits.isEmpty {
            record.position = rowPosition
            record.snapshot = SnapshotTag(unit: chunkUnits[row.chunk], row: row.row)
        }
        // The event bound is kept by `push`; the byte bound (max_in_flight_bytes) by the delivery path.
        let queued = try delivery.produce(record, id: row.id, origin: { .init(table: "\(tables[row.table].name)", sourceLSN: source.consistentPoint) }) {
            // Waits up to 50 ms for delivery reports; gives the record up on an abort or a stop request.
            if aborted { return false }
            let stopping = deliveryState.waitForReports(until: Date().addingTimeInterval(0.05))
            return !aborted && !stopping
        }
        guard queued else { throw Aborted() }
        let counters = eventCounters[row.table]
        counters.events.increment()
        counters.bytes.increment(by: (record.key?.count ?? 0) + (record.value?.count ?? 0))
    }
}
