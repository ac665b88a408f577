#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PGOutput

/// What `IDENTIFY_SYSTEM` reports.
public struct SystemIdentification: Sendable {
    public var systemID: String
    public var timeline: Int
    /// The server's current WAL flush position.
    public var walPosition: LSN
    public var database: String?
}

extension PostgresConnection {
    /// `IDENTIFY_SYSTEM` (walsender connections only).
    public func identifySystem() throws(ReplicationError) -> SystemIdentification {
        let result = try execute("IDENTIFY_SYSTEM")
        guard result.rows.count == 1, let systemID = result[0, "systemid"],
              let timeline = result[0, "timeline"].flatMap({ Int($0) }),
              let position = result[0, "xlogpos"].flatMap({ LSN(string: $0) }) else {
            throw ReplicationError(code: .protocolViolation, message: "IDENTIFY_SYSTEM returned an unexpected result")
        }
        return SystemIdentification(systemID: systemID, timeline: timeline, walPosition: position,
                                    database: result[0, "dbname"])
    }

    /// Creates a logical slot for pgoutput without exporting a snapshot; returns its consistent point,
    /// the position from which it will decode. `failover`: synchronized to standbys (PostgreSQL 17+).
    public func createLogicalSlot(named name: String, failover: Bool = false) throws(ReplicationError) -> LSN {
        let command: String
        if failover {
            try requireFailoverSlots()
            command = "CREATE_REPLICATION_SLOT \(try identifier(name)) LOGICAL pgoutput (SNAPSHOT 'nothing', FAILOVER)"
        } else {
            command = "CREATE_REPLICATION_SLOT \(try identifier(name)) LOGICAL pgoutput NOEXPORT_SNAPSHOT"
        }
        let result = try execute(command)
        guard let point = result[0, "consistent_point"].flatMap({ LSN(string: $0) }) else {
            throw ReplicationError(code: .protocolViolation, message: "CREATE_REPLICATION_SLOT returned no consistent point")
        }
        return point
    }

    /// Creates a pgoutput slot and exports the snapshot it starts from (PostgreSQL 15 syntax:
    /// `CREATE_REPLICATION_SLOT name LOGICAL pgoutput (SNAPSHOT 'export')`). Rows read by transactions that
    /// import `snapshotName` (REPEATABLE READ, `SET TRANSACTION SNAPSHOT` first) plus the changes streamed
    /// from `consistentPoint` are every committed row exactly once. The snapshot stays importable only
    /// until this connection runs its next command or closes: keep it idle until every reader imported it.
    /// `failover`: synchronized to standbys (PostgreSQL 17+: `(SNAPSHOT 'export', FAILOVER)`).
    public func createLogicalSlotExportingSnapshot(named name: String, failover: Bool = false) throws(ReplicationError)
        -> (consistentPoint: LSN, snapshotName: String) {
        if failover { try requireFailoverSlots() }
        let result = try execute("CREATE_REPLICATION_SLOT \(try identifier(name)) LOGICAL pgoutput (SNAPSHOT 'export'\(failover ? ", FAILOVER" : ""))")
        guard let point = result[0, "consistent_point"].flatMap({ LSN(string: $0) }),
              let snapshot = result[0, "snapshot_name"], !snapshot.isEmpty else {
            throw ReplicationError(code: .protocolViolation,
                                   message: "CREATE_REPLICATION_SLOT returned no consistent point or snapshot name")
        }
        return (point, snapshot)
    }

    /// Starts a REPEATABLE READ, read-only transaction on the exported snapshot `snapshotName`, on a plain
    /// (non-replication) connection of the same database.
    /// `readOnly: false` lets the transaction take a transaction id (`txid_current()`), as Debezium's
    /// snapshot transaction does for `source.txId`.
    public func beginTransaction(importingSnapshot snapshotName: String, readOnly: Bool = true) throws(ReplicationError) {
        try execute("BEGIN ISOLATION LEVEL REPEATABLE READ\(readOnly ? " READ ONLY" : "")")
        try execute("SET TRANSACTION SNAPSHOT \(try literal(snapshotName))")
    }

    /// Starts a REPEATABLE READ transaction on a plain connection and exports its snapshot, for a snapshot
    /// of tables whose slot already exists. Returns the snapshot's name and the WAL insert position, which
    /// every change the snapshot does not see is after. Keep the transaction open until the readers
    /// imported the snapshot.
    public func exportSnapshot() throws(ReplicationError) -> (snapshotName: String, walPosition: LSN) {
        try execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        // On a standby (which cannot tell its insert position) the position replayed.
        let result = try execute("""
            SELECT pg_catalog.pg_export_snapshot() AS name,
                   (CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
                         ELSE pg_catalog.pg_current_wal_insert_lsn() END)::text AS lsn
            """)
        guard let name = result[0, "name"], let position = result[0, "lsn"].flatMap({ LSN(string: $0) }) else {
            throw ReplicationError(code: .protocolViolation, message: "pg_export_snapshot() returned no snapshot")
        }
        return (name, position)
    }

    /// Drops a replication slot (`DROP_REPLICATION_SLOT name WAIT`, walsender connections only).
    public func dropReplicationSlot(named name: String) throws(ReplicationError) {
        try execute("DROP_REPLICATION_SLOT \(try identifier(name)) WAIT")
    }

    /// Checks that a slot can serve Swallow, or creates it when `create` allows. `failover`: the slot
    /// must be a failover slot (PostgreSQL 17+); an existing one that is not is altered.
    /// Returns the slot's confirmed position (the consistent point for a new slot).
    public func prepareSlot(named name: String, create: Bool, failover: Bool = false) throws(ReplicationError) -> (position: LSN, created: Bool) {
        guard let state = try slotStatus(named: name) else {
            guard create else {
                throw ReplicationError(code: .slotMissing, message: "replication slot \"\(name)\" does not exist",
                                       hint: "set slot.create: true, or create it: SELECT pg_create_logical_replication_slot('\(name)', 'pgoutput'\(failover ? ", failover => true" : ""))")
            }
            return (try createLogicalSlot(named: name, failover: failover), true)
        }
        guard state.slotType == "logical", state.plugin == "pgoutput" else {
            throw ReplicationError(code: .slotUnusable,
                                   message: "replication slot \"\(name)\" is a \(state.slotType) slot with plugin \(state.plugin ?? "none"), not a pgoutput logical slot",
                                   hint: "use another slot.name, or drop the slot if nothing else needs it")
        }
        if state.database != parameters.database {
            throw ReplicationError(code: .slotUnusable,
                                   message: "replication slot \"\(name)\" belongs to database \(state.database ?? "?"), not \(parameters.database)",
                                   hint: "use another slot.name for this database")
        }
        if let invalidation = state.invalidation {
            throw ReplicationError(code: .slotInvalidated,
                                   message: "replication slot \"\(name)\" was invalidated: \(invalidation.cause); changes since its position\(state.confirmedFlushLSN.map { " \($0)" } ?? "") cannot be read any more",
                                   hint: "run `swallow slot drop --yes` (it drops the slot and Swallow's state for it) and start Swallow again to snapshot the tables, or set snapshot.mode: when_needed to have Swallow do so; \(invalidation.prevention) to avoid this")
        }
        if state.active {
            throw ReplicationError(code: .slotInUse,
                                   message: "replication slot \"\(name)\" is in use by process \(state.activePID.map(String.init) ?? "?")",
                                   hint: "stop the other consumer of this slot, or give Swallow its own slot.name")
        }
        if failover, state.failover != true {
            try requireFailoverSlots()
            // ALTER_REPLICATION_SLOT (17+) takes the slot for the moment it alters it: not while in use.
            try execute("ALTER_REPLICATION_SLOT \(try identifier(name)) (FAILOVER)")
        }
        return (state.confirmedFlushLSN.flatMap { LSN(string: $0) } ?? .invalid, false)
    }

    /// The server's `server_version_num`, e.g. 170002.
    public func serverVersionNumber() throws(ReplicationError) -> Int {
        let text = try execute("SHOW server_version_num")[0, "server_version_num"] ?? ""
        guard let number = Int(text) else {
            throw ReplicationError(code: .protocolViolation, message: "server_version_num is \(text), not a number")
        }
        return number
    }

    /// Failover slots are PostgreSQL 17's: before, a promoted standby has no copy of a logical slot.
    private func requireFailoverSlots() throws(ReplicationError) {
        let version = try serverVersionNumber()
        guard version >= 170000 else {
            throw ReplicationError(code: .serverMisconfigured,
                                   message: "slot.failover needs PostgreSQL 17 or later (failover slots are new in 17); this server is version \(version / 10000).\(version % 10000)",
                                   hint: "remove slot.failover, or upgrade the server; before 17 a promoted standby has no copy of the slot (docs/high-availability.md)")
        }
    }

    /// Makes sure the publication exists and covers `tables` (all tables when empty), creating it when
    /// `create` allows. An existing publication is never altered: that is the operator's decision.
    /// A publication Swallow creates follows `definition` (checked first: `checkPublicationDefinition`).
    public func preparePublication(named name: String, tables: [QualifiedTableName], create: Bool,
                                   definition: PublicationDefinition = PublicationDefinition()) throws(ReplicationError) -> Bool {
        let exists = try execute("SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = \(try literal(name))")
        if exists.rows.isEmpty {
            guard create else {
                throw ReplicationError(code: .publicationMissing, message: "publication \"\(name)\" does not exist",
                                       hint: "set publication.create: true, or run CREATE PUBLICATION \(name) FOR TABLE ...")
            }
            for table in tables {
                if try !tableExists(table) {
                    throw ReplicationError(code: .tableMissing, message: "table \(table) does not exist",
                                           hint: "create the table or remove it from `tables`")
                }
            }
            _ = try checkPublicationDefinition(tables: tables, definition: definition)
            let target = try publicationTarget(tables: tables, definition: definition)
            try execute("BEGIN")
            try execute("CREATE PUBLICATION \(try identifier(name)) \(target)")
            let xid = try execute("SELECT pg_current_xact_id()::text AS xid")[0, "xid"] ?? "0"
            try execute("COMMIT")
            try waitUntilOlderThanEveryRunningTransaction(xid)
            return true
        }
        if exists[0, "puballtables"] == "t" { return false }
        let coveredSet = Set(try publicationTables(named: name))
        let missing = tables.filter { !coveredSet.contains($0) }
        if !missing.isEmpty {
            let list = missing.map(\.description).joined(separator: ", ")
            throw ReplicationError(code: .publicationMissing,
                                   message: "publication \"\(name)\" does not include \(list)",
                                   hint: "ALTER PUBLICATION \(name) ADD TABLE \(list)")
        }
        return false
    }

    /// Waits until transaction `xid` is older than every transaction still running.
    ///
    /// A slot created right after the publication can start decoding from a snapshot in which the
    /// publication's transaction is not yet known as committed (seen under concurrent load: the slot
    /// then silently publishes nothing). Once no transaction older than the publication's is running,
    /// every snapshot the slot can start from has it below its xmin, i.e. visible.
    func waitUntilOlderThanEveryRunningTransaction(_ xid: String) throws(ReplicationError) {
        for _ in 0..<1200 {
            let result = try execute("SELECT pg_snapshot_xmin(pg_current_snapshot()) > '\(xid)'::xid8 AS done")
            if result[0, "done"] == "t" { return }
            usleep(50_000)
        }
        throw ReplicationError(code: .commandFailed,
                               message: "a transaction older than the new publication is still running after 60 s",
                               hint: "end long-running transactions (see pg_stat_activity) and restart Swallow")
    }

    /// The tables a publication sends, by schema and name (every table for FOR ALL TABLES).
    public func publicationTables(named name: String) throws(ReplicationError) -> [QualifiedTableName] {
        let result = try execute("SELECT schemaname, tablename FROM pg_catalog.pg_publication_tables WHERE pubname = \(try literal(name)) ORDER BY 1, 2")
        return result.rows.compactMap { row in
            guard row.count == 2, let schema = row[0], let table = row[1] else { return nil }
            return QualifiedTableName(schema: schema, table: table)
        }
    }

    public func tableExists(_ table: QualifiedTableName) throws(ReplicationError) -> Bool {
        let result = try execute("""
            SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(try literal(table.schema)) AND c.relname = \(try literal(table.table))
              AND c.relkind IN ('r', 'p')
            """)
        return !result.rows.isEmpty
    }

    /// `START_REPLICATION SLOT name LOGICAL lsn (proto_version '1', publication_names '...', messages 'true')`.
    /// The server starts at the later of `position` and the slot's confirmed position.
    public func startLogicalReplication(slot: String, from position: LSN, publication: String) throws(ReplicationError) {
        // publication_names is itself a list of identifiers inside a string literal.
        let names = try literal(try identifier(publication))
        try startCopyBoth("""
            START_REPLICATION SLOT \(try identifier(slot)) LOGICAL \(position) \
            (proto_version '1', publication_names \(names), messages 'true')
            """)
    }
}
