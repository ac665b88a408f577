import Foundation
import PGReplication
import SwallowCore

/// What `swallow slot drop` did, or would do without `--yes`.
public struct SlotDropOutcome: Sendable {
    /// The slot as it was before anything was done; nil when it does not exist (lost in a failover, or
    /// dropped by other means) and only Swallow's record of it is forgotten.
    public var slot: SlotStatus?
    /// Whether it was done: the slot dropped (if there was one) and the state files removed (false:
    /// only described).
    public var dropped: Bool
    /// Swallow's state files for this slot (the stream's lineage, snapshot and incremental snapshot
    /// progress): removed with the slot, or those that would be.
    public var stateFiles: [String]
}

/// `swallow status` and `swallow slot drop`: the configured slot, read or dropped on the server.
public enum SlotAdministration {
    /// The configured slot's status; nil if it does not exist.
    public static func status(settings: PipelineSettings) throws(PipelineError) -> SlotStatus? {
        do {
            let sql = try PostgresConnection(settings.connection, replication: false)
            defer { sql.close() }
            return try sql.slotStatus(named: settings.slotName)
        } catch {
            throw .postgres(error)
        }
    }

    /// Swallow's files under `state_dir` that describe this slot's stream and snapshots, those that
    /// exist. They are meaningless without the slot: a new slot starts a new snapshot (snapshot.mode
    /// initial), an incremental snapshot's progress refers to positions of the old one, and the stream's
    /// lineage is the record that the old slot existed (with it, a missing slot stops Swallow).
    public static func stateFiles(settings: PipelineSettings) -> [String] {
        [StateFile<StreamLineage>(directory: settings.stateDirectory, slot: settings.slotName).path,
         SnapshotStateStore(directory: settings.stateDirectory, slot: settings.slotName).path,
         StateFile<IncrementalSnapshotState>(directory: settings.stateDirectory, slot: settings.slotName).path]
            .filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Drops the configured slot when `confirmed`, and then its state files; otherwise only says what
    /// would be dropped. Refuses a slot that belongs to another database or is in use (naming the
    /// process), so that it never pulls a slot from under a running client. A slot that does not exist
    /// (lost in a failover) leaves its state files to forget; with none either, there is nothing to do.
    public static func drop(settings: PipelineSettings, confirmed: Bool) throws(PipelineError) -> SlotDropOutcome {
        let name = settings.slotName
        let sql: PostgresConnection
        do { sql = try PostgresConnection(settings.connection, replication: false) } catch { throw .postgres(error) }
        defer { sql.close() }
        let found: SlotStatus?
        do { found = try sql.slotStatus(named: name) } catch { throw .postgres(error) }
        guard let slot = found else {
            let files = stateFiles(settings: settings)
            guard !files.isEmpty else {
                throw PipelineError(code: .postgres,
                                    message: "replication slot \"\(name)\" does not exist on \(settings.connection.redactedDescription); nothing was dropped (and Swallow keeps no state for it under \(settings.stateDirectory))",
                                    isRetriable: false)
            }
            if confirmed { for file in files { unlink(file) } }
            return SlotDropOutcome(slot: nil, dropped: confirmed, stateFiles: files)
        }
        if let database = slot.database, database != settings.connection.database {
            throw PipelineError(code: .postgres,
                                message: "replication slot \"\(name)\" belongs to database \(database), not \(settings.connection.database); it is not this configuration's slot, so it was not dropped",
                                isRetriable: false)
        }
        if slot.active { throw activeError(slot) }
        let files = stateFiles(settings: settings)
        guard confirmed else { return SlotDropOutcome(slot: slot, dropped: false, stateFiles: files) }
        do {
            try sql.execute("SELECT pg_catalog.pg_drop_replication_slot(\(try sql.literal(name)))")
        } catch {
            // 55006: it became active between the check and the drop.
            guard error.sqlState == "55006" else { throw .postgres(error) }
            throw activeError((try? sql.slotStatus(named: name)) ?? slot)
        }
        // The slot goes first: a state file without its slot is harmless (the next start recognises
        // it), a slot whose snapshot record was deleted is not.
        for file in files { unlink(file) }
        return SlotDropOutcome(slot: slot, dropped: true, stateFiles: files)
    }

    private static func activeError(_ slot: SlotStatus) -> PipelineError {
        let client = [slot.applicationName.map { "application \($0)" }, slot.clientAddress.map { "from \($0)" }]
            .compactMap { $0 }.joined(separator: " ")
        return PipelineError(code: .postgres,
                             message: "replication slot \"\(slot.slot)\" is active: process \(slot.activePID.map(String.init) ?? "?")\(client.isEmpty ? "" : " (\(client))") streams from it; it was not dropped. Stop that client (stop Swallow, or SELECT pg_terminate_backend(\(slot.activePID.map(String.init) ?? "pid"))) and run this again",
                             isRetriable: false)
    }
}
