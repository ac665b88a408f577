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

        let plan: SnapshotPlan?
        if slotState == nil {
            guard settings.createSlot else {
                do { _ = try walsender.prepareSlot(named: settings.slotName, create: false) } catch { throw .postgres(error) }
                return .streamFromSlot   // not reached: a missing slot without `create` throws
            }
            if unfinished != nil {
                logger.warning("a previous snapshot did not finish and its slot is gone; starting the snapshot over",
                               metadata: ["slot": "\(settings.slotName)"])
            }
            plan = .createSlot
        } else if slotState?.walStatus == "lost" && mode == .whenNeeded {
            plan = .recreateSlot(reason: "the slot was invalidated (its WAL is gone), snapshot.mode is when_needed")
        } else {
            // Checks plugin, database, activity and invalidation.
            do { _ = try walsender.prepareSlot(named: settings.slotName, create: false) } catch { throw .postgres(error) }
            if let unfinished {
                if let name = unfinished.snapshotName, !unfinished.chunks.isEmpty, snapshotIsHeld(name) {
                    plan = .resume
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
                let (point, name) = try walsender.createLogicalSlotExportingSnapshot(named: settings.slotName)
                source = .init(snapshotName: name, consistentPoint: point)
                // The walsender now holds the snapshot: it must stay idle until the snapshot is read.
            case .keepSlot:
                state = SnapshotState(slot: settings.slotName, systemID: system.systemID,
                                      database: settings.connection.database, slotCreatedForSnapshot: false, startedAt: Date())
                let holder = try PostgresConnection(settings.connection, replication: false)
                exporter = holder
                let (name, position) = try holder.exportSnapshot()
                source = .init(snapshotName: name, consistentPoint: position)
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
