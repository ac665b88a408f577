import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import SwallowCore

/// The PostgreSQL half of the checks, on one plain SQL connection (plus one replication connection,
/// opened only to prove the walsender accepts the role).
struct PostgresPreflight {
    let settings: PipelineSettings
    /// What the stream would make of the tables: which it captures, their topics and key overrides.
    let translator: StreamTranslator
    /// The topics the checked tables' events go to, for the Kafka half.
    private(set) var topics: [String] = []
    /// Whether a client streams from the slot now (a running Swallow, most likely).
    private(set) var slotInUse = false
    /// `postgres.host` is a standby Swallow may read from (PostgreSQL 16+).
    private var readsStandby = false
    private var checks: [PreflightCheck] = []

    init(settings: PipelineSettings) {
        self.settings = settings
        translator = StreamTranslator(settings: settings)
    }

    private var role: String { settings.connection.user }

    mutating func add(_ name: String, _ outcome: PreflightCheck.Outcome, _ found: String, fix: String? = nil) {
        checks.append(PreflightCheck(name: name, outcome: outcome, found: found, fix: fix))
    }

    mutating func run() -> [PreflightCheck] {
        let target = settings.connection.redactedDescription
        let sql: PostgresConnection
        do {
            sql = try PostgresConnection(settings.connection, replication: false)
        } catch {
            let reason = Preflight.connectFailureReason(error, target: target)
            add("postgres", .fail, "cannot connect to \(target): \(reason); the other PostgreSQL checks were skipped",
                fix: error.hint)
            topics = configuredTopics(settings.tables)
            return checks
        }
        defer { sql.close() }
        do {
            try checkServer(sql, target: target)
        } catch {
            add("postgres", .fail, "a catalog query failed: \(error.message); the remaining PostgreSQL checks were skipped",
                fix: error.hint ?? "check that the role may read the system catalogs")
        }
        return checks
    }

    /// Every PostgreSQL check, in order; a failed catalog query ends them (reported by `run`).
    private mutating func checkServer(_ sql: PostgresConnection, target: String) throws(ReplicationError) {
        let server = try sql.execute("""
            SELECT current_setting('server_version') AS version, pg_catalog.pg_is_in_recovery() AS standby,
                   current_setting('wal_level') AS wal_level,
                   current_setting('max_replication_slots')::int AS max_slots,
                   (SELECT count(*) FROM pg_catalog.pg_replication_slots) AS used_slots,
                   current_setting('max_wal_senders')::int AS max_senders,
                   (SELECT count(*) FROM pg_catalog.pg_stat_replication) AS used_senders
            """)
        // "15.4 (Debian 15.4-1.pgdg120+1)": the number is what matters.
        let version = (server[0, "version"] ?? "?").split(separator: " ").first.map(String.init) ?? "?"
        if server[0, "standby"] == "t" {
            guard try checkStandby(sql, target: target, version: version) else { return }
        } else {
            add("postgres", .pass, "connected to \(target) (PostgreSQL \(version))")
        }

        let walLevel = server[0, "wal_level"] ?? "?"
        let logical = walLevel == "logical"
        if logical {
            add("wal_level", .pass, "logical")
        } else {
            add("wal_level", .fail, "\(walLevel); logical decoding needs logical",
                fix: "ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf), then restart PostgreSQL")
        }

        let slot = try sql.slotStatus(named: settings.slotName)
        slotInUse = slot?.active == true
        let maxSlots = Int(server[0, "max_slots"] ?? "") ?? 0
        let usedSlots = Int(server[0, "used_slots"] ?? "") ?? 0
        let slotsInUse = "\(usedSlots) of \(maxSlots) (max_replication_slots) in use"
        if slot != nil {
            add("replication slots", .pass, "\(slotsInUse), \(settings.slotName) among them")
        } else if usedSlots < maxSlots {
            add("replication slots", .pass, "\(slotsInUse); one is free for \(settings.slotName)")
        } else {
            add("replication slots", .fail, "\(slotsInUse); none is free for \(settings.slotName)",
                fix: "raise max_replication_slots (restart needed), or drop a slot nothing uses (see pg_replication_slots)")
        }

        let maxSenders = Int(server[0, "max_senders"] ?? "") ?? 0
        let usedSenders = Int(server[0, "used_senders"] ?? "") ?? 0
        let sendersInUse = "\(usedSenders) of \(maxSenders) (max_wal_senders) in use"
        if slot?.active == true {
            add("wal senders", .pass, "\(sendersInUse), one of them streaming from \(settings.slotName)")
        } else if usedSenders < maxSenders {
            add("wal senders", .pass, "\(sendersInUse); one is free for Swallow")
        } else {
            add("wal senders", .fail, "\(sendersInUse); none is free for Swallow",
                fix: "raise max_wal_senders (restart needed), or stop a replication client")
        }

        let roleRow = try sql.execute("""
            SELECT rolsuper, rolreplication, pg_catalog.has_database_privilege(current_database(), 'CREATE') AS can_create
            FROM pg_catalog.pg_roles WHERE rolname = current_user
            """)
        let isSuperuser = roleRow[0, "rolsuper"] == "t"
        let canCreateInDatabase = roleRow[0, "can_create"] == "t"
        let replicationAccepted = checkReplicationRole(isSuperuser: isSuperuser,
                                                       hasReplication: roleRow[0, "rolreplication"] == "t")

        // The tables: the configured ones, or (tables: []) those the publication sends.
        let publication = try sql.execute("""
            SELECT puballtables, pubinsert, pubupdate, pubdelete FROM pg_catalog.pg_publication
            WHERE pubname = \(try sql.literal(settings.publicationName))
            """)
        let publicationExists = !publication.rows.isEmpty
        let publishesAllTables = publication[0, "puballtables"] == "t"
        let published = publicationExists ? Set(try sql.publicationTables(named: settings.publicationName)) : []
        var tables = settings.tables
        if tables.isEmpty {
            tables = publicationExists ? published.sorted { $0.description < $1.description }
                : (settings.createPublication ? try allPublishableTables(sql) : [])
        }
        if let signal = settings.signalTable { tables.removeAll { $0 == signal } }
        let publishesChanges = !publicationExists
            || publication[0, "pubupdate"] == "t" || publication[0, "pubdelete"] == "t"

        var owned: [QualifiedTableName: Bool] = [:]
        for table in tables {
            owned[table] = try checkTable(sql, table, keyNeeded: publishesChanges)
        }
        topics = configuredTopics(tables.filter { owned[$0] != nil })

        // A publication Swallow creates carries the signal table too (signals arrive through the stream);
        // whether an existing one does is the signal table's line.
        var required = settings.tables
        if publicationExists {
            checkExistingPublication(publication, allTables: publishesAllTables, published: published, required: required)
        } else {
            if let signal = settings.signalTable, !settings.tables.isEmpty { required.append(signal) }
            if let signal = settings.signalTable, owned[signal] == nil {
                owned[signal] = try sql.execute("""
                    SELECT pg_catalog.pg_has_role(c.relowner, 'USAGE') AS owns FROM pg_catalog.pg_class c
                    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = \(try sql.literal(signal.schema)) AND c.relname = \(try sql.literal(signal.table))
                    """)[0, "owns"] == "t"
            }
            checkMissingPublication(required: required, isSuperuser: isSuperuser,
                                    canCreateInDatabase: canCreateInDatabase, owned: owned)
        }

        try checkPublicationShape(sql, publicationExists: publicationExists)

        if let signal = settings.signalTable {
            try checkSignalTable(sql, signal, covered: publishesAllTables || published.contains(signal) || !publicationExists)
        }

        var blockers: [(reason: String, line: String)] = []
        if !logical { blockers.append(("wal_level is not logical", "wal_level")) }
        if usedSlots >= maxSlots { blockers.append(("no replication slot is free", "replication slots")) }
        if !replicationAccepted { blockers.append(("the role cannot open a replication connection", "replication role")) }
        checkSlot(slot, creationBlockers: blockers)
    }

    // MARK: Standby

    /// `postgres.host` is a standby: what ``StandbyReading`` says of reading there, one line per problem.
    /// Returns whether the other checks apply (not before PostgreSQL 16).
    private mutating func checkStandby(_ sql: PostgresConnection, target: String, version: String) throws(ReplicationError) -> Bool {
        let server = try StandbyProbe.readServer(sql)
        let features = StandbyReading.Features(settings)
        var primary: StandbyReading.Primary?
        if let parameters = settings.primaryConnection, features.writes {
            do {
                primary = try StandbyProbe.readPrimary(parameters, standbySystemID: StandbyProbe.systemID(sql))
            } catch {
                add("postgres.primary", .fail, "cannot connect to \(parameters.redactedDescription): \(Preflight.connectFailureReason(error, target: parameters.redactedDescription))",
                    fix: error.hint ?? "check postgres.primary: heartbeats, watermarks and signals are written there")
            }
        }
        let problems = StandbyReading.problems(server: server, features: features, primary: primary)
        guard server.versionNumber >= StandbyReading.minimumVersionNumber else {
            let problem = problems[0]
            add("postgres", .fail, "\(target) \(problem.found); the other PostgreSQL checks were skipped", fix: problem.fix)
            return false
        }
        readsStandby = true
        add("postgres", .pass, "connected to \(target) (PostgreSQL \(version)), a standby: Swallow decodes there\(settings.primaryConnection.map { " and writes to postgres.primary \($0.redactedDescription)" } ?? "")")
        for problem in problems { add(problem.setting, .fail, problem.found, fix: problem.fix) }
        if problems.isEmpty { add("hot_standby_feedback", .pass, "on") }
        return true
    }

    // MARK: Role

    /// The REPLICATION attribute, proven by opening a replication connection (pg_hba.conf must allow it).
    /// Returns whether the connection was accepted.
    private mutating func checkReplicationRole(isSuperuser: Bool, hasReplication: Bool) -> Bool {
        guard isSuperuser || hasReplication else {
            add("replication role", .fail, "role \(role) has neither REPLICATION nor SUPERUSER",
                fix: "ALTER ROLE \(Preflight.sqlName(role)) WITH REPLICATION")
            return false
        }
        let attribute = isSuperuser ? "is a superuser" : "has REPLICATION"
        do {
            let walsender = try PostgresConnection(settings.connection, replication: true)
            defer { walsender.close() }
            _ = try walsender.identifySystem()
            add("replication role", .pass, "role \(role) \(attribute); a replication connection was accepted")
            return true
        } catch {
            add("replication role", .fail, "role \(role) \(attribute), but a replication connection failed: \(error.message)",
                fix: error.hint ?? "allow replication connections for this role and database in pg_hba.conf")
            return false
        }
    }

    // MARK: Tables

    /// Regular and partitioned tables a FOR ALL TABLES publication would send (PostgreSQL's
    /// `is_publishable_class`: permanent, not in a system schema; partitions rather than their parents).
    private func allPublishableTables(_ sql: PostgresConnection) throws(ReplicationError) -> [QualifiedTableName] {
        let result = try sql.execute("""
            SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND c.oid >= 16384
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
            ORDER BY 1, 2
            """)
        return result.rows.compactMap { row in
            guard row.count == 2, let schema = row[0], let table = row[1] else { return nil }
            return QualifiedTableName(schema: schema, table: table)
        }
    }

    /// One table: it exists, the role may read it (snapshots do), and its changes carry a key.
    /// Returns whether the role owns it (creating a publication FOR TABLE needs that), nil if it is missing.
    @discardableResult
    private mutating func checkTable(_ sql: PostgresConnection, _ table: QualifiedTableName,
                                     keyNeeded: Bool) throws(ReplicationError) -> Bool? {
        let name = "table \(table)"
        let row = try sql.execute("""
            SELECT c.oid, c.relreplident, pg_catalog.has_table_privilege(c.oid, 'SELECT') AS can_select,
                   pg_catalog.pg_has_role(c.relowner, 'USAGE') AS owns,
                   (SELECT pg_catalog.json_agg(a.attname) FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)::text AS columns
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(try sql.literal(table.schema)) AND c.relname = \(try sql.literal(table.table))
              AND c.relkind IN ('r', 'p')
            """)
        guard let oid = row[0, "oid"].flatMap({ UInt32($0) }) else {
            add(name, .fail, "does not exist", fix: "create it, or remove it from `tables`")
            return nil
        }
        let columns = row[0, "columns"].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String] } ?? []
        let keys = try keyCandidates(sql, oid)
        var problems: [String] = []
        var fixes: [String] = []
        var warnings: [String] = []

        let override = translator.keyColumnOverride(for: table)
        if let override {
            let unknown = override.filter { !columns.contains($0) }
            if !unknown.isEmpty {
                problems.append("events.message.key.columns names columns it lacks: \(Preflight.list(unknown))")
                fixes.append("correct events.message.key.columns")
            }
        }
        // What PostgreSQL publishes of the old row (the replica identity) decides whether updates and
        // deletes are allowed at all; the Kafka key is the override, else the identity's columns.
        var key: String
        switch row[0, "relreplident"] {
        case "f":
            if let override {
                key = "message.key.columns (\(Preflight.list(override))), REPLICA IDENTITY FULL"
            } else if !keys.primaryKey.isEmpty {
                key = "primary key (\(Preflight.list(keys.primaryKey))), REPLICA IDENTITY FULL"
            } else if !keys.uniqueIndex.isEmpty {
                key = "unique index (\(Preflight.list(keys.uniqueIndex))), REPLICA IDENTITY FULL"
            } else {
                key = "none, REPLICA IDENTITY FULL"
                warnings.append("no primary key or unique NOT NULL index, so its events have a null key")
                fixes.append("set events.message.key.columns for it, or add a primary key")
            }
        case "i" where !keys.replicaIdentityIndex.isEmpty:
            key = override.map { "message.key.columns (\(Preflight.list($0)))" }
                ?? "replica identity index (\(Preflight.list(keys.replicaIdentityIndex)))"
        case "d" where !keys.primaryKey.isEmpty:
            key = override.map { "message.key.columns (\(Preflight.list($0)))" }
                ?? "primary key (\(Preflight.list(keys.primaryKey)))"
        default:
            let identity: String
            switch row[0, "relreplident"] {
            case "n": identity = "REPLICA IDENTITY NOTHING"
            case "i": identity = "its REPLICA IDENTITY index is gone"
            default: identity = "no primary key and REPLICA IDENTITY DEFAULT"
            }
            if keyNeeded {
                key = ""
                problems.append("\(identity), so PostgreSQL will refuse UPDATE and DELETE on it once it is published")
                fixes.append("add a primary key, or ALTER TABLE \(Preflight.sqlName(table)) REPLICA IDENTITY FULL (events.message.key.columns then chooses the Kafka key)")
            } else {
                key = "none needed (\(identity); the publication sends neither updates nor deletes)"
            }
        }

        let canSelect = row[0, "can_select"] == "t"
        let selectNeeded = settings.snapshot.mode != .noData || settings.signalTable != nil
        let grant = "GRANT SELECT ON \(Preflight.sqlName(table)) TO \(Preflight.sqlName(role))"
        if !canSelect && selectNeeded {
            problems.append("role \(role) may not SELECT it (snapshots read it)")
            fixes.append(grant)
        } else if !canSelect {
            warnings.append("role \(role) may not SELECT it (only snapshots need that, and snapshot.mode is no_data)")
            fixes.append(grant)
        }

        if !problems.isEmpty {
            add(name, .fail, (problems + warnings).joined(separator: "; "), fix: fixes.joined(separator: "; "))
        } else if !warnings.isEmpty {
            add(name, .warn, "key: \(key); " + warnings.joined(separator: "; "), fix: fixes.joined(separator: "; "))
        } else {
            add(name, .pass, "key: \(key); SELECT granted")
        }
        return row[0, "owns"] == "t"
    }

    /// The same key candidates the stream uses (`CatalogReader.details`), on this connection.
    private func keyCandidates(_ sql: PostgresConnection, _ oid: UInt32) throws(ReplicationError) -> RelationDetails {
        CatalogReader.keyCandidates(try sql.execute(CatalogReader.keyCandidatesSQL(oid)))
    }

    /// `<topic_prefix>.<schema>.<table>` of the tables whose events `table.include.list` /
    /// `table.exclude.list` let through, plus the transaction topic and the dead-letter topic when they
    /// are used.
    private func configuredTopics(_ tables: [QualifiedTableName]) -> [String] {
        var topics: [String] = []
        // Each once: with topic_routing several tables share one.
        for topic in tables.filter(translator.captures).map(translator.topic(of:)) where !topics.contains(topic) { topics.append(topic) }
        if settings.events.provideTransactionMetadata { topics.append(translator.transactionTopic) }
        if settings.oversizedEvents == .deadLetter { topics.append(settings.deadLetterTopic) }
        return topics
    }

    // MARK: Publication

    private mutating func checkExistingPublication(_ publication: QueryResult, allTables: Bool,
                                                   published: Set<QualifiedTableName>, required: [QualifiedTableName]) {
        let name = settings.publicationName
        let actions = [("insert", "pubinsert"), ("update", "pubupdate"), ("delete", "pubdelete")]
        let skipped = actions.filter { publication[0, $0.1] != "t" }.map(\.0)
        let scope = allTables ? "FOR ALL TABLES" : "\(published.count) table\(published.count == 1 ? "" : "s")"
        let missing = allTables ? [] : required.filter { !published.contains($0) }
        if !missing.isEmpty {
            let list = Preflight.list(missing.map(Preflight.sqlName))
            add("publication", .fail, "\(name) exists (\(scope)) but does not include \(Preflight.list(missing.map(\.description)))",
                fix: "ALTER PUBLICATION \(Preflight.sqlName(name)) ADD TABLE \(list)")
        } else if !skipped.isEmpty {
            add("publication", .warn, "\(name) exists (\(scope)) but does not publish \(skipped.joined(separator: " or ")), so those changes never reach Kafka",
                fix: "ALTER PUBLICATION \(Preflight.sqlName(name)) SET (publish = 'insert, update, delete, truncate') if they should")
        } else {
            add("publication", .pass, "\(name) exists (\(scope)) and covers the captured tables")
        }
    }

    private mutating func checkMissingPublication(required: [QualifiedTableName], isSuperuser: Bool,
                                                  canCreateInDatabase: Bool, owned: [QualifiedTableName: Bool]) {
        let name = settings.publicationName
        let target = required.isEmpty ? "FOR ALL TABLES" : "FOR TABLE \(Preflight.list(required.map(Preflight.sqlName)))"
        let statement = "CREATE PUBLICATION \(Preflight.sqlName(name)) \(target)"
        if readsStandby {
            let text = StandbyReading.missingPublication(name, statement: statement)
            add("publication", .fail, text.found, fix: text.fix)
            return
        }
        guard settings.createPublication else {
            add("publication", .fail, "\(name) does not exist and publication.create is false",
                fix: "\(statement) (as \(required.isEmpty ? "a superuser" : "the tables' owner")), or set publication.create: true")
            return
        }
        if isSuperuser {
            add("publication", .pass, "\(name) does not exist; Swallow will create it \(target)")
            return
        }
        if required.isEmpty {
            add("publication", .fail, "\(name) does not exist, and creating it FOR ALL TABLES needs a superuser",
                fix: "\(statement) as a superuser, or list the tables in `tables`")
            return
        }
        var reasons: [String] = []
        if !canCreateInDatabase { reasons.append("role \(role) lacks CREATE on database \(settings.connection.database)") }
        let notOwned = required.filter { owned[$0] == false }
        if !notOwned.isEmpty { reasons.append("role \(role) does not own \(Preflight.list(notOwned.map(\.description)))") }
        if reasons.isEmpty {
            add("publication", .pass, "\(name) does not exist; Swallow will create it \(target)")
        } else {
            add("publication", .fail, "\(name) does not exist and Swallow cannot create it: \(reasons.joined(separator: "; "))",
                fix: "\(statement) as the tables' owner (or a superuser)")
        }
    }

    // MARK: Signal table

    private mutating func checkSignalTable(_ sql: PostgresConnection, _ signal: QualifiedTableName,
                                           covered: Bool) throws(ReplicationError) {
        let name = "signal table \(signal)"
        let row = try sql.execute("""
            SELECT pg_catalog.has_table_privilege(c.oid, 'SELECT, INSERT, DELETE') AS can_write,
                   EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS keyed
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(try sql.literal(signal.schema)) AND c.relname = \(try sql.literal(signal.table))
              AND c.relkind IN ('r', 'p')
            """)
        guard !row.rows.isEmpty else {
            add(name, .fail, "does not exist (snapshot.signal_table)",
                fix: "CREATE TABLE \(Preflight.sqlName(signal)) (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)), or remove snapshot.signal_table")
            return
        }
        var problems: [String] = []
        var fixes: [String] = []
        if row[0, "keyed"] != "t" {
            problems.append("it has no primary key")
            fixes.append("ALTER TABLE \(Preflight.sqlName(signal)) ADD PRIMARY KEY (id)")
        }
        if row[0, "can_write"] != "t" {
            problems.append("role \(role) may not SELECT, INSERT and DELETE in it (watermarks are written there)")
            fixes.append("GRANT SELECT, INSERT, DELETE ON \(Preflight.sqlName(signal)) TO \(Preflight.sqlName(role))")
        }
        if !covered {
            problems.append("publication \(settings.publicationName) does not include it, so signals never reach Swallow")
            fixes.append("ALTER PUBLICATION \(Preflight.sqlName(settings.publicationName)) ADD TABLE \(Preflight.sqlName(signal))")
        }
        if problems.isEmpty {
            add(name, .pass, "exists, is published and writable")
        } else {
            add(name, .fail, problems.joined(separator: "; "), fix: fixes.joined(separator: "; "))
        }
    }

    // MARK: Slot

    /// The slot exists and can serve Swallow, or can be created (`creationBlockers`: why not, and the
    /// line that says more).
    private mutating func checkSlot(_ slot: SlotStatus?, creationBlockers: [(reason: String, line: String)]) {
        let name = settings.slotName
        guard let slot else {
            guard settings.createSlot else {
                add("slot", .fail, "\(name) does not exist and slot.create is false",
                    fix: "set slot.create: true, or SELECT pg_create_logical_replication_slot('\(name)', 'pgoutput')")
                return
            }
            if creationBlockers.isEmpty {
                let snapshot = settings.snapshot.mode == .noData ? "" : " and snapshot the captured tables (snapshot.mode \(settings.snapshot.mode.rawValue))"
                add("slot", .pass, "\(name) does not exist; Swallow will create it\(snapshot)")
            } else {
                add("slot", .fail, "\(name) does not exist and cannot be created while \(creationBlockers.map(\.reason).joined(separator: " and "))",
                    fix: "see \(creationBlockers.map(\.line).joined(separator: " and ")) above")
            }
            return
        }
        guard slot.slotType == "logical", slot.plugin == "pgoutput" else {
            add("slot", .fail, "\(name) is a \(slot.slotType) slot with plugin \(slot.plugin ?? "none"), not a pgoutput logical slot",
                fix: "use another slot.name, or drop the slot if nothing else needs it")
            return
        }
        guard slot.database == settings.connection.database else {
            add("slot", .fail, "\(name) belongs to database \(slot.database ?? "?"), not \(settings.connection.database)",
                fix: "use another slot.name for this database")
            return
        }
        let lag = slot.lagBytes.map { "\($0) bytes behind the server" } ?? "lag unknown"
        let position = "confirmed \(slot.confirmedFlushLSN ?? "none"), server at \(slot.serverLSN)"
        let activity = slot.active ? "active (pid \(slot.activePID.map(String.init) ?? "?"))" : "inactive"
        let summary = "\(name) exists, \(activity), wal_status \(slot.walStatus ?? "unknown"), \(lag) (\(position))"
        if let invalidation = slot.invalidation {
            if settings.snapshot.mode == .whenNeeded {
                add("slot", .warn, "\(summary): it was invalidated (\(invalidation.cause)); snapshot.mode when_needed re-creates it and snapshots again")
            } else {
                add("slot", .fail, "\(summary): it was invalidated (\(invalidation.cause)), and the changes since its position cannot be read any more",
                    fix: "swallow slot drop --yes, then start Swallow to re-create it and snapshot again; \(invalidation.prevention) to avoid this")
            }
            return
        }
        switch slot.walStatus {
        case "unreserved":
            add("slot", .warn, "\(summary): PostgreSQL will remove WAL it still needs at the next checkpoint (max_slot_wal_keep_size)",
                fix: "start Swallow so that it catches up, or raise max_slot_wal_keep_size")
        default:
            if slot.active {
                add("slot", .warn, "\(summary): a client streams from it; a second Swallow on this slot would wait for it",
                    fix: "nothing, if that client is this Swallow")
            } else {
                add("slot", .pass, summary)
            }
        }
    }
}
