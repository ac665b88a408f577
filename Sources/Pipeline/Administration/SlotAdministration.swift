import Foundation
import PGReplication
import SwallowCore

/// A replication slot as PostgreSQL reports it (`pg_replication_slots`, joined with
/// `pg_stat_replication` while a client streams from it), with the server's current WAL position.
/// Positions are PostgreSQL's text form (`16/B374D848`); byte counts are `pg_wal_lsn_diff` results.
public struct SlotStatus: Sendable, Equatable, Encodable {
    public var slot: String
    public var slotType: String
    public var plugin: String?
    /// The database a logical slot belongs to.
    public var database: String?
    public var active: Bool
    public var activePID: Int?
    /// Where the streaming client connects from; nil when inactive or over a Unix socket.
    public var clientAddress: String?
    public var applicationName: String?
    /// Everything before this position was confirmed by the client (for Swallow: acknowledged by Kafka).
    public var confirmedFlushLSN: String?
    /// The oldest WAL the slot keeps on the server.
    public var restartLSN: String?
    /// `pg_current_wal_lsn()`.
    public var serverLSN: String
    /// Server position minus confirmed position: the changes not yet confirmed.
    public var lagBytes: Int64?
    /// Server position minus restart position: the WAL the slot keeps from being removed.
    public var retainedWALBytes: Int64?
    /// `pg_stat_replication.flush_lag` in seconds: how long ago the WAL the client last confirmed was
    /// written. Known only while a client streams and PostgreSQL has a recent measurement.
    public var lagSeconds: Double?
    /// `reserved`, `extended`, `unreserved` or `lost` (invalidated: the WAL it needs is gone).
    public var walStatus: String?
    /// Bytes that can still be written before the slot is invalidated (`max_slot_wal_keep_size`); nil
    /// when unlimited.
    public var safeWALSizeBytes: Int64?

    enum CodingKeys: String, CodingKey {
        case slot, plugin, database, active, exists
        case slotType = "slot_type"
        case activePID = "active_pid"
        case clientAddress = "client_addr"
        case applicationName = "application_name"
        case confirmedFlushLSN = "confirmed_flush_lsn"
        case restartLSN = "restart_lsn"
        case serverLSN = "server_lsn"
        case lagBytes = "lag_bytes"
        case retainedWALBytes = "retained_wal_bytes"
        case lagSeconds = "lag_seconds"
        case walStatus = "wal_status"
        case safeWALSizeBytes = "safe_wal_size_bytes"
    }

    /// Every key present in JSON, with null for what is unknown (scripts need not test for absence).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(slot, forKey: .slot)
        try container.encode(true, forKey: .exists)
        try container.encode(slotType, forKey: .slotType)
        try container.encode(plugin, forKey: .plugin)
        try container.encode(database, forKey: .database)
        try container.encode(active, forKey: .active)
        try container.encode(activePID, forKey: .activePID)
        try container.encode(clientAddress, forKey: .clientAddress)
        try container.encode(applicationName, forKey: .applicationName)
        try container.encode(confirmedFlushLSN, forKey: .confirmedFlushLSN)
        try container.encode(restartLSN, forKey: .restartLSN)
        try container.encode(serverLSN, forKey: .serverLSN)
        try container.encode(lagBytes, forKey: .lagBytes)
        try container.encode(retainedWALBytes, forKey: .retainedWALBytes)
        try container.encode(lagSeconds, forKey: .lagSeconds)
        try container.encode(walStatus, forKey: .walStatus)
        try container.encode(safeWALSizeBytes, forKey: .safeWALSizeBytes)
    }
}

extension SlotStatus {
    /// Reads slot `name` on a plain SQL connection; nil if there is no such slot.
    static func read(_ sql: PostgresConnection, slot name: String) throws(ReplicationError) -> SlotStatus? {
        let result = try sql.execute("""
            SELECT s.slot_type, s.plugin, s.database, s.active, s.active_pid,
                   s.confirmed_flush_lsn::text AS confirmed, s.restart_lsn::text AS restart, s.wal_status,
                   s.safe_wal_size, pg_catalog.pg_current_wal_lsn()::text AS server,
                   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint AS lag,
                   pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint AS retained,
                   host(r.client_addr) AS client, r.application_name,
                   extract(epoch FROM r.flush_lag)::float8 AS lag_seconds
            FROM pg_catalog.pg_replication_slots s
            LEFT JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid
            WHERE s.slot_name = \(try sql.literal(name))
            """)
        guard result.rows.count == 1 else { return nil }
        return SlotStatus(slot: name, slotType: result[0, "slot_type"] ?? "?", plugin: result[0, "plugin"],
                          database: result[0, "database"], active: result[0, "active"] == "t",
                          activePID: result[0, "active_pid"].flatMap { Int($0) },
                          clientAddress: result[0, "client"], applicationName: result[0, "application_name"],
                          confirmedFlushLSN: result[0, "confirmed"], restartLSN: result[0, "restart"],
                          serverLSN: result[0, "server"] ?? "?",
                          lagBytes: result[0, "lag"].flatMap { Int64($0) },
                          retainedWALBytes: result[0, "retained"].flatMap { Int64($0) },
                          lagSeconds: result[0, "lag_seconds"].flatMap { Double($0) },
                          walStatus: result[0, "wal_status"],
                          safeWALSizeBytes: result[0, "safe_wal_size"].flatMap { Int64($0) })
    }
}

/// What `swallow slot drop` did, or would do without `--yes`.
public struct SlotDropOutcome: Sendable {
    /// The slot as it was before anything was done.
    public var slot: SlotStatus
    /// Whether the slot was dropped (false: only described).
    public var dropped: Bool
    /// Swallow's state files for this slot (snapshot and incremental snapshot progress): removed with
    /// the slot, or those that would be.
    public var stateFiles: [String]
}

/// `swallow status` and `swallow slot drop`: the configured slot, read or dropped on the server.
public enum SlotAdministration {
    /// The configured slot's status; nil if it does not exist.
    public static func status(settings: PipelineSettings) throws(PipelineError) -> SlotStatus? {
        do {
            let sql = try PostgresConnection(settings.connection, replication: false)
            defer { sql.close() }
            return try SlotStatus.read(sql, slot: settings.slotName)
        } catch {
            throw .postgres(error)
        }
    }

    /// Swallow's files under `state_dir` that describe this slot's snapshots, those that exist. They
    /// are meaningless without the slot: a new slot starts a new snapshot (snapshot.mode initial), and
    /// an incremental snapshot's progress refers to positions of the old one.
    public static func stateFiles(settings: PipelineSettings) -> [String] {
        [SnapshotStateStore(directory: settings.stateDirectory, slot: settings.slotName).path,
         StateFile<IncrementalSnapshotState>(directory: settings.stateDirectory, slot: settings.slotName).path]
            .filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Drops the configured slot when `confirmed`, and then its state files; otherwise only says what
    /// would be dropped. Refuses a slot that does not exist, belongs to another database, or is in
    /// use (naming the process), so that it never pulls a slot from under a running client.
    public static func drop(settings: PipelineSettings, confirmed: Bool) throws(PipelineError) -> SlotDropOutcome {
        let name = settings.slotName
        let sql: PostgresConnection
        do { sql = try PostgresConnection(settings.connection, replication: false) } catch { throw .postgres(error) }
        defer { sql.close() }
        let found: SlotStatus?
        do { found = try SlotStatus.read(sql, slot: name) } catch { throw .postgres(error) }
        guard let slot = found else {
            throw PipelineError(code: .postgres,
                                message: "replication slot \"\(name)\" does not exist on \(settings.connection.redactedDescription); nothing was dropped",
                                isRetriable: false)
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
            throw activeError((try? SlotStatus.read(sql, slot: name)) ?? slot)
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
