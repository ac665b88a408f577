import Foundation
import Kafka
import Logging
import PGOutput
import PGReplication
import SwallowConfig

/// Before the first stream: decide from `snapshot.mode`, the slot and the state file whether the captured
/// tables must be snapshotted, and do it.
extension ReplicationPipeline {
    enum SnapshotPhaseOutcome {
        /// The slot exists (the snapshot, if any, is delivered): stream from its position.
        case streamFromSlot
        /// `no_data`: the stream prepares (and may create) the slot itself.
        case noSnapshotMode
        /// `initial_only` is done, or a stop was requested: do not stream.
        case finished
    }

    /// How a snapshot is taken.
    enum SnapshotPlan: CustomStringConvertible {
        /// Create the slot exporting its snapshot: snapshot and stream meet exactly at its consistent point.
        case createSlot
        /// Drop the slot (invalidated: its WAL is gone) and create it again.
        case recreateSlot(reason: String)
        /// The slot stays; a transaction exports the snapshot. The stream then repeats the changes between
        /// the slot's position and the snapshot (duplicates, never a gap).
        case keepSlot(reason: String)
        /// Continue the unfinished snapshot whose exported snapshot is still held.
        case resume

        var description: String {
            switch self {
            case .createSlot: "a new slot"
            case .recreateSlot(let reason), .keepSlot(let reason): reason
            case .resume: "continuing the unfinished snapshot"
            }
        }
    }

    func prepareSlotAndSnapshot(delivery: DeliveryPath, systemID: inout String?) throws(PipelineError) -> SnapshotPhaseOutcome {
        let mode = settings.snapshot.mode
        guard mode != .noData else { return .noSnapshotMode }
        let (walsender, system) = try connectWalsender(systemID: &systemID)
        defer { walsender.close() }
        let store = SnapshotStateStore(directory: settings.stateDirectory, slot: settings.slotName)
        var previous = try store.load()
        if let known = previous, known.systemID != system.systemID || known.database != settings.connection.database {
            logger.warning("ignoring a snapshot state file of another database or cluster",
                           metadata: ["path": "\(store.path)", "system_id": "\(known.systemID)", "database": "\(known.database)"])
            previous = nil
        }
        let unfinished = previous?.status == .running ? previous : nil

        let slotState: SlotStatus?
        do {
            try preparePublication(walsender)
            slotState = try walsender.slotStatus(named: settings.slotName)
        } catch { throw .postgres(error) }

        // Is the slot the one Swallow streamed from (after a failover, the promoted server's copy)?
        // Stops on a lost slot unless snapshot.mode is when_needed, and on diverged history.
        let (continuity, history) = try judgeSlot(walsender, system: system, slot: slotState, recoverable: true)
        if case .lost = continuity, let cause = continuity.failure(slot: settings.slotName, server: walsender.serverAddress,
                                                                   stateFile: lineageStore.path) {
            logger.warning("the replication slot Swallow streamed from is lost; snapshot.mode is when_needed, so a new slot and a new snapshot bring Kafka back to the tables",
                           metadata: ["slot": "\(settings.slotName)", "cause": "\(cause.message)"])
        }

        let plan: SnapshotPlan?
        if slotState == nil {
            guard settings.createSlot else {
                do { _ = try walsender.prepareSlot(named: settings.slotName, create: false, failover: settings.slotFailover) } catch { throw .postgres(error) }
                return .streamFromSlot   // not reached: a missing slot without `create` throws
            }
            if unfinished != nil {
                logger.warning("a previous snapshot did not finish and its slot is gone; starting the snapshot over",
                               metadata: ["slot": "\(settings.slotName)"])
            }
            plan = .createSlot
        } else if slotState?.walStatus == "lost" && mode == .whenNeeded {
            plan = .recreateSlot(reason: "the slot was invalidated (its WAL is gone), snapshot.mode is when_needed")
        } else if case .lost = continuity {
            // A slot of that name made on the promoted server after the promotion: the new snapshot
            // covers what it lacks, and it is kept (it may not be Swallow's to drop).
            do { _ = try walsender.prepareSlot(named: settings.slotName, create: false, failover: settings.slotFailover) } catch { throw .postgres(error) }
            plan = .keepSlot(reason: "the slot on the promoted server was not synchronized from the old primary, snapshot.mode is when_needed")
        } else {
            // Checks plugin, database, activity and invalidation.
            do { _ = try walsender.prepareSlot(named: settings.slotName, create: false, failover: settings.slotFailover) } catch { throw .postgres(error) }
            if let unfinished {
                if let name = unfinished.snapshotName, !unfinished.chunks.isEmpty, snapshotIsHeld(name) {
                    plan = .resume
                } else if try continueIncrementally(unfinished, store: store) {
                    return .streamFromSlot
                } else {
                    // Not a new slot: records of the unfinished snapshot are already in Kafka, and a row
                    // deleted since would keep its record forever if its delete were dropped with the slot.
                    // Nothing was confirmed during the snapshot, so the slot still holds every change since
                    // the first snapshot: a new snapshot, then those changes, end exactly at the table.
                    plan = .keepSlot(reason: "the previous snapshot did not finish and its exported snapshot is gone; snapshotting again and streaming from the slot's position, which repeats changes but loses none")
                }
            } else if mode == .always {
                plan = .keepSlot(reason: "snapshot.mode is always")
            } else {
                plan = nil
            }
        }
        guard let plan else {
            if mode == .initialOnly {
                logger.info("snapshot.mode is initial_only and the slot's snapshot is complete: nothing to do",
                            metadata: ["slot": "\(settings.slotName)"])
                return .finished
            }
            return .streamFromSlot
        }
        logger.info("snapshot needed", metadata: ["slot": "\(settings.slotName)", "reason": "\(plan)",
                                                  "mode": "\(mode.rawValue)", "state_file": "\(store.path)"])

        // Holds the exported snapshot until the readers are done: the walsender that created the slot, or
        // a transaction on a plain connection.
        var exporter: PostgresConnection?
        defer { exporter?.close() }
        var state: SnapshotState
        let source: InitialSnapshot.Source
        do {
            switch plan {
            case .resume:
                state = unfinished!
                guard let name = state.snapshotName, let point = state.consistentPoint.flatMap({ LSN(string: $0) }) else {
                    throw PipelineError(code: .state, message: "snapshot state \(store.path) lacks the snapshot name or position; remove it to start the snapshot over", isRetriable: false)
                }
                source = .init(snapshotName: name, consistentPoint: point)
            case .createSlot, .recreateSlot:
                // Recorded before the slot exists, so a crash from here on is recognised as an unfinished
                // snapshot of a slot Swallow created.
                state = SnapshotState(slot: settings.slotName, systemID: system.systemID,
                                      database: settings.connection.database, slotCreatedForSnapshot: true, startedAt: Date())
                try store.save(state)
                if case .recreateSlot = plan, slotState != nil {
                    try walsender.dropReplicationSlot(named: settings.slotName)
                    logger.warning("dropped replication slot to snapshot again", metadata: ["slot": "\(settings.slotName)"])
                }
                logger.info("creating replication slot with an exported snapshot (waits for transactions in progress to end)",
                            metadata: ["slot": "\(settings.slotName)"])
                let (point, name) = try creatingSlot(mayCreate: true) { () throws(ReplicationError) in
                    try walsender.createLogicalSlotExportingSnapshot(named: settings.slotName, failover: settings.slotFailover)
                }
                source = .init(snapshotName: name, consistentPoint: point)
                establishLineage(system: system, history: history)
                // The walsender now holds the snapshot: it must stay idle until the snapshot is read.
            case .keepSlot:
                state = SnapshotState(slot: settings.slotName, systemID: system.systemID,
                                      database: settings.connection.database, slotCreatedForSnapshot: false, startedAt: Date())
                let holder = try PostgresConnection(settings.connection, replication: false)
                exporter = holder
                let (name, position) = try holder.exportSnapshot()
                source = .init(snapshotName: name, consistentPoint: position)
                if case .lost = continuity { establishLineage(system: system, history: history) }
            }
        } catch let error as PipelineError {
            throw error
        } catch let error as ReplicationError {
            throw .postgres(error)
        } catch {
            throw PipelineError(code: .snapshot, message: "\(error)", isRetriable: false)
        }
        state.consistentPoint = source.consistentPoint.description
        state.snapshotName = source.snapshotName
        if state.streamFloor == nil {
            // Stream records written before this snapshot commit at or below the slot's position.
            state.streamFloor = slotState?.confirmedFlushLSN.flatMap { LSN(string: $0) }.map(\.description)
                ?? source.consistentPoint.description
        }
        try store.save(state)

        let snapshot = InitialSnapshot(settings: settings, logger: logger, pipeline: self, delivery: delivery,
                                       source: source, store: store, state: state)
        monitor.transition(to: .snapshotting)
        guard try snapshot.run() else { return .finished }
        var completed = snapshot.state
        completed.status = .completed
        completed.completedAt = ISO8601DateFormatter().string(from: Date())
        try store.save(completed)
        return mode == .initialOnly ? .finished : .streamFromSlot
    }

    /// With `delivery: exactly_once`, an initial snapshot whose exported snapshot is gone (the process
    /// holding it died) continues without repeating a row: its unfinished chunks are read as an
    /// incremental snapshot while the slot streams from the position the snapshot was taken at. Read on a
    /// new exported snapshot instead, their rows would show changes the stream then sends again (a row
    /// inserted in between would arrive twice, as `r` and as `c`); read between watermarks, each row
    /// arrives once, in the stream's order. Rows the interrupted attempt delivered are found in the
    /// topics (same unit, same key) and skipped.
    ///
    /// Needs a signal table (the watermarks) and streaming (not `initial_only`), and every unfinished
    /// chunk a primary-key range of a table that is not partitioned (what incremental snapshots read).
    /// Returns false otherwise: the snapshot is taken again (repeats, never loss).
    private func continueIncrementally(_ unfinished: SnapshotState, store: SnapshotStateStore) throws(PipelineError) -> Bool {
        guard settings.delivery == .exactlyOnce, settings.snapshot.mode != .initialOnly,
              let point = unfinished.consistentPoint.flatMap({ LSN(string: $0) }), !unfinished.chunks.isEmpty else { return false }
        let done = Set(unfinished.doneChunks)
        let left = unfinished.chunks.indices.filter { !done.contains($0) }
        guard settings.signalTable != nil else {
            logger.warning("the interrupted snapshot is taken again: with delivery: exactly_once its unfinished chunks could be continued without repeating rows through an incremental snapshot, which needs signal_table",
                           metadata: ["chunks_left": "\(left.count)/\(unfinished.chunks.count)"])
            return false
        }
        let readable = left.allSatisfy { index in
            let chunk = unfinished.chunks[index]
            guard chunk.table < unfinished.tables.count else { return false }
            let table = unfinished.tables[chunk.table]
            return !table.keyColumns.isEmpty && table.isPartitioned != true
        }
        guard readable else {
            logger.warning("the interrupted snapshot is taken again: a table it had not finished has no primary key or is partitioned, which incremental snapshots cannot read (rows of that snapshot may repeat)",
                           metadata: ["chunks_left": "\(left.count)/\(unfinished.chunks.count)"])
            return false
        }
        let floor = unfinished.streamFloor ?? point.description
        let incrementalStore = StateFile<IncrementalSnapshotState>(directory: settings.stateDirectory, slot: settings.slotName)
        var incremental = try incrementalStore.load() ?? IncrementalSnapshotState()
        do {
            let sql = try PostgresConnection(settings.connection, replication: false)
            defer { sql.close() }
            for index in left {
                let chunk = unfinished.chunks[index]
                let table = unfinished.tables[chunk.table]
                let unit = SnapshotTag.initialUnit(consistentPoint: point, chunk: index)
                // Written by a run that stopped before it marked the snapshot continued.
                guard !incremental.queue.contains(where: { $0.unit == unit }) else { continue }
                let key = try KeySQL(table.keyColumns, on: sql)
                var range: [String] = []
                if let lower = chunk.lowerKey { range.append(try key.after(lower)) }
                if let upper = chunk.upperKey { range.append(try key.upTo(upper)) }
                incremental.queue.append(.init(schema: table.schema, table: table.name,
                                               filter: range.isEmpty ? nil : range.joined(separator: " AND "),
                                               unit: unit, floor: floor))
            }
        } catch {
            throw .postgres(error)
        }
        // The chunks are queued before the snapshot is marked done: a crash in between queues them again
        // (recognised by their units), never loses them.
        try incrementalStore.save(incremental)
        var continued = unfinished
        continued.status = .completed
        continued.completedAt = ISO8601DateFormatter().string(from: Date())
        continued.continuedIncrementally = true
        try store.save(continued)
        logger.notice("continuing the interrupted snapshot: its unfinished chunks are read as an incremental snapshot while streaming from the slot, skipping the rows already delivered (delivery: exactly_once)",
                      metadata: ["chunks_left": "\(left.count)/\(unfinished.chunks.count)", "slot": "\(settings.slotName)"])
        return true
    }

    /// Whether an exported snapshot can still be imported (its exporting session is alive and idle).
    private func snapshotIsHeld(_ name: String) -> Bool {
        guard let probe = try? PostgresConnection(settings.connection, replication: false) else { return false }
        defer { probe.close() }
        do {
            try probe.beginTransaction(importingSnapshot: name)
            _ = try? probe.execute("ROLLBACK")
            return true
        } catch {
            return false
        }
    }
}
