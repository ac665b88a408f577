import PGOutput

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
    /// `pg_current_wal_insert_lsn()` (on a standby, `pg_last_wal_replay_lsn()`).
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
    /// Whether the slot is synchronized to standbys that may be promoted (`failover`, PostgreSQL 17+);
    /// nil before 17.
    public var failover: Bool?
    /// On a standby, whether the slot is a copy the slot sync worker keeps of the primary's failover
    /// slot (`synced`, PostgreSQL 17+; nil before). Such a copy cannot be streamed from until promotion.
    public var synced: Bool?
    /// A temporary slot: the slot sync worker's copy stays temporary until the primary's slot has passed
    /// the standby's own position.
    public var temporary: Bool
    /// Why the slot was invalidated, nil while it is usable: PostgreSQL 17's `invalidation_reason`
    /// (`wal_removed`, `rows_removed`, `wal_level_insufficient`, 18's `idle_timeout`); before 17
    /// `rows_removed or wal_level_insufficient` for a conflict on a standby (`conflicting`, 16), and
    /// `wal_removed` for a slot whose WAL is gone.
    public var invalidationReason: String?

    /// Why the slot was invalidated, as a sentence fragment, and how to keep it from happening again;
    /// nil while it is usable.
    public var invalidation: (cause: String, prevention: String)? {
        guard walStatus == "lost" || invalidationReason != nil else { return nil }
        switch invalidationReason {
        case let reason? where reason.hasPrefix("rows_removed"):
            return ("the primary removed catalog rows it needed (conflict on a standby: \(reason))",
                    "on the standby keep hot_standby_feedback on and stream from a physical slot (primary_slot_name)")
        case "wal_level_insufficient":
            return ("the primary's wal_level was lowered below logical",
                    "keep wal_level = logical on the primary")
        case "idle_timeout":
            return ("it was unused for longer than idle_replication_slot_timeout",
                    "raise idle_replication_slot_timeout, or keep Swallow running")
        default:
            return ("the server removed WAL it still needed (max_slot_wal_keep_size)",
                    "raise max_slot_wal_keep_size (or keep Swallow running)")
        }
    }

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
        case failover, synced, temporary
        case invalidationReason = "invalidation_reason"
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
        try container.encode(failover, forKey: .failover)
        try container.encode(synced, forKey: .synced)
        try container.encode(temporary, forKey: .temporary)
        try container.encode(invalidationReason, forKey: .invalidationReason)
    }
}

extension PostgresConnection {
    /// Reads slot `name` (on a plain SQL or a walsender connection); nil if there is no such slot.
    /// The server's position is its WAL insert position, or on a standby (where the insert position
    /// cannot be read) the last position replayed. Not the write position (`pg_current_wal_lsn()`): with
    /// `synchronous_commit = off` that may lie before commits already made, for as long as the WAL writer
    /// waits, and the lag then leaves them out (PostgreSQL 18 was seen reporting no lag at all right after
    /// a 100-row insert).
    public func slotStatus(named name: String) throws(ReplicationError) -> SlotStatus? {
        let result = try execute("""
            SELECT s.slot_type, s.plugin, s.database, s.active, s.active_pid,
                   s.confirmed_flush_lsn::text AS confirmed, s.restart_lsn::text AS restart, s.wal_status,
                   s.safe_wal_size, w.lsn::text AS server,
                   pg_catalog.to_jsonb(s) ->> 'failover' AS failover, pg_catalog.to_jsonb(s) ->> 'synced' AS synced,
                   s.temporary, pg_catalog.to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason,
                   pg_catalog.to_jsonb(s) ->> 'conflicting' AS conflicting,
                   pg_catalog.pg_wal_lsn_diff(w.lsn, s.confirmed_flush_lsn)::bigint AS lag,
                   pg_catalog.pg_wal_lsn_diff(w.lsn, s.restart_lsn)::bigint AS retained,
                   host(r.client_addr) AS client, r.application_name,
                   extract(epoch FROM r.flush_lag)::float8 AS lag_seconds
            FROM pg_catalog.pg_replication_slots s
            LEFT JOIN pg_catalog.pg_stat_replication r ON r.pid = s.active_pid
            CROSS JOIN (SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
                                    ELSE pg_catalog.pg_current_wal_insert_lsn() END AS lsn) w
            WHERE s.slot_name = \(try literal(name))
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
                          safeWALSizeBytes: result[0, "safe_wal_size"].flatMap { Int64($0) },
                          failover: result[0, "failover"].map { $0 == "true" },
                          synced: result[0, "synced"].map { $0 == "true" }, temporary: result[0, "temporary"] == "t",
                          invalidationReason: result[0, "invalidation_reason"]
                            ?? (result[0, "conflicting"] == "true" ? "rows_removed or wal_level_insufficient"
                                : result[0, "wal_status"] == "lost" ? "wal_removed" : nil))
    }
}
