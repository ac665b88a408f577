import Foundation
import PGOutput
import PGReplication
import SwallowCore

/// The stream's lineage (`StreamLineage`) kept and saved, and the slot judged against it
/// (`SlotContinuity`) before it is used or created: the I/O around the decision.
extension ReplicationPipeline {
    /// This run's lineage, and what of it the state file holds.
    struct LineageRecord {
        var lineage: StreamLineage?
        /// The commit position the file was last saved with, and when.
        var savedThrough = LSN.invalid
        var savedAt: ContinuousClock.Instant?
        /// The file could not be written: said once per run.
        var saveFailureReported = false
        /// The server's timeline history could not be read: said once per run.
        var historyFailureReported = false
    }

    /// How often, at most, the lineage is saved while streaming (at start and stop it is saved at once).
    static let lineageSaveInterval = Duration.seconds(10)

    var lineageStore: StateFile<StreamLineage> { StateFile(directory: settings.stateDirectory, slot: settings.slotName) }

    /// Judges the slot on the server `walsender` reached (`slot`: the slot as found there, nil if it is
    /// missing). Throws the error that names cause and fix for diverged history, and for a lost slot
    /// unless `recoverable` (the snapshot phase under `snapshot.mode: when_needed`, which snapshots
    /// again). Returns the verdict and the server's timeline history.
    func judgeSlot(_ walsender: PostgresConnection, system: SystemIdentification, slot: SlotStatus?,
                   recoverable: Bool) throws(PipelineError) -> (SlotContinuity, TimelineHistory?) {
        let history = try timelineHistory(walsender, timeline: system.timeline)
        let known = try knownLineage(system: system)
        let verdict = SlotContinuity(lineage: known, server: .init(
            systemID: system.systemID, database: settings.connection.database, timeline: system.timeline, history: history,
            slotPosition: slot.map { $0.confirmedFlushLSN.flatMap { LSN(string: $0) } ?? .invalid }))
        if verdict.response(snapshotMode: settings.snapshot.mode) == .stop || !recoverable,
           let failure = verdict.failure(slot: settings.slotName, server: walsender.serverAddress, stateFile: lineageStore.path) {
            throw failure
        }
        return (verdict, history)
    }

    /// The server's timeline history; nil, with a warning, when the server refuses `TIMELINE_HISTORY` or
    /// sends what is not a history (a managed service may): the slot is then judged by timeline numbers.
    private func timelineHistory(_ walsender: PostgresConnection, timeline: Int) throws(PipelineError) -> TimelineHistory? {
        let failure: String
        do {
            return try TimelineHistory(timeline: timeline, parsing: try walsender.timelineHistoryFile(of: timeline))
        } catch let error as ReplicationError {
            if error.isRetriable { throw .postgres(error) }
            failure = "\(error)"
        } catch {
            failure = "\(error)"
        }
        if !streamLineage.withLock({ record in defer { record.historyFailureReported = true }; return record.historyFailureReported }) {
            logger.warning("the server's timeline history cannot be read; after a failover Swallow can tell a missing slot, but not changes the promoted server lacks",
                           metadata: ["timeline": "\(timeline)", "error": "\(failure)"])
        }
        return nil
    }

    /// The lineage this run has, or else the state file's when it is of this cluster and database.
    private func knownLineage(system: SystemIdentification) throws(PipelineError) -> StreamLineage? {
        if let current = streamLineage.withLock({ $0.lineage }) { return current }
        guard let saved = try lineageStore.load() else { return nil }
        guard saved.systemID == system.systemID, saved.database == settings.connection.database, saved.slot == settings.slotName else {
            logger.warning("ignoring a stream state file of another cluster or database",
                           metadata: ["path": "\(lineageStore.path)", "system_id": "\(saved.systemID)", "database": "\(saved.database)"])
            return nil
        }
        return saved
    }

    /// The slot is Swallow's on this server now (found continuing, or created): the lineage moves to the
    /// server's timeline and is saved before anything is streamed from it.
    func establishLineage(system: SystemIdentification, history: TimelineHistory?) {
        streamLineage.withLock { record in
            let produced = record.lineage?.producedThrough ?? .invalid
            record.lineage = StreamLineage(slot: settings.slotName, systemID: system.systemID,
                                           database: settings.connection.database, timeline: system.timeline,
                                           timelineStart: history?.start, producedThrough: produced)
        }
        saveLineage(force: true)
    }

    /// A record from a commit at `position` goes to Kafka (called once per position that is higher).
    func noteProduced(through position: LSN) {
        streamLineage.withLock { record in
            if let produced = record.lineage?.producedThrough, position > produced { record.lineage?.producedThrough = position }
        }
    }

    /// Saves the lineage when it changed, at most every `lineageSaveInterval` unless `force`. A file
    /// that cannot be written is reported once: the stream goes on (the lineage of this run still
    /// guards its reconnects), but a restart would not know what this run delivered.
    func saveLineage(force: Bool = false) {
        let now = ContinuousClock.now
        let due: StreamLineage? = streamLineage.withLock { record in
            guard var lineage = record.lineage else { return nil }
            if !force {
                guard lineage.producedThrough != record.savedThrough else { return nil }
                if let savedAt = record.savedAt, now - savedAt < Self.lineageSaveInterval { return nil }
            }
            lineage.updatedAt = ISO8601DateFormatter().string(from: Date())
            return lineage
        }
        guard let due else { return }
        do {
            try lineageStore.save(due)
            streamLineage.withLock { record in
                record.savedThrough = due.producedThrough
                record.savedAt = now
            }
        } catch {
            let first = streamLineage.withLock { record in
                defer { record.saveFailureReported = true }
                record.savedAt = now
                return !record.saveFailureReported
            }
            if first {
                logger.warning("cannot save the stream's lineage; after a restart Swallow cannot tell a slot lost in a failover from a first start",
                               metadata: ["error": "\(error)", "path": "\(lineageStore.path)"])
            }
        }
    }
}

extension StateFile where Value == StreamLineage {
    public init(directory: String, slot: String) {
        self.init(directory: directory, fileName: "stream-\(slot).json")
    }
}
