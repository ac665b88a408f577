import Foundation
import Logging
import PGOutput
import PGReplication
import SwallowCore
import Synchronization

/// Reading from a physical standby (PostgreSQL 16+): finding out that `postgres.host` is one, stopping at
/// start-up when what is configured cannot work there (``StandbyReading`` decides), the publication that
/// only the primary can create, and a slot whose creation waits for the primary.
extension ReplicationPipeline {
    /// Whether the server on `connection` (a walsender) is a standby Swallow can read from; throws the
    /// ``StandbyReading`` error when it cannot. Called for every new walsender connection: with a host
    /// list, a reconnection may reach another server.
    func checkReadServer(_ connection: PostgresConnection, system: SystemIdentification) throws(PipelineError) -> Bool {
        let server: StandbyReading.Server
        do {
            server = try StandbyProbe.readServer(connection)
        } catch {
            throw .postgres(error)
        }
        guard server.inRecovery else { return false }
        let features = StandbyReading.Features(settings)
        var primary: StandbyReading.Primary?
        if let parameters = settings.primaryConnection, features.writes {
            do {
                primary = try StandbyProbe.readPrimary(parameters, standbySystemID: system.systemID)
            } catch {
                throw PipelineError.postgres(error).prefixed("postgres.primary")
            }
        }
        let problems = StandbyReading.problems(server: server, features: features, primary: primary)
        guard problems.isEmpty else {
            throw StandbyReading.error(server: server, target: settings.connection.redactedDescription, problems: problems)
        }
        if !readsFromStandby.exchange(true, ordering: .relaxed) {
            logger.notice(settings.primaryConnection == nil ? "postgres.host is a standby: decoding there"
                          : "postgres.host is a standby: decoding there; heartbeats, watermarks and signals are written to postgres.primary",
                          metadata: ["version": "\(server.version)",
                                     "primary": "\(settings.primaryConnection?.redactedDescription ?? "(none)")"])
        }
        return true
    }

    /// On a standby, the publication must exist already: a standby cannot create it.
    func requirePublicationOnStandby(_ connection: PostgresConnection, tables: [QualifiedTableName]) throws(ReplicationError) {
        guard readsFromStandby.load(ordering: .relaxed) else { return }
        let name = settings.publicationName
        guard try connection.execute("SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = \(try connection.literal(name))").rows.isEmpty else { return }
        let target = tables.isEmpty ? "FOR ALL TABLES" : "FOR TABLE " + Preflight.list(tables.map(Preflight.sqlName))
        let text = StandbyReading.missingPublication(name, statement: "CREATE PUBLICATION \(Preflight.sqlName(name)) \(target)")
        throw ReplicationError(code: .publicationMissing, message: "publication \(text.found)", hint: text.fix)
    }

    /// Runs `body`, which may create the slot. On a standby, creating a logical slot waits until the
    /// primary logs its running transactions (every 15 s while it writes, never while idle): with
    /// `postgres.primary`, `pg_log_standby_snapshot()` is called there every second meanwhile.
    func creatingSlot<T>(mayCreate: Bool, _ body: () throws(ReplicationError) -> T) throws(ReplicationError) -> T {
        guard mayCreate, readsFromStandby.load(ordering: .relaxed) else { return try body() }
        guard let primary = settings.primaryConnection else {
            logger.notice("creating the slot on a standby waits until the primary logs its running transactions (while it writes, every 15 s); on an idle primary run SELECT pg_log_standby_snapshot() there, or set postgres.primary to have Swallow do it",
                          metadata: ["slot": "\(settings.slotName)"])
            return try body()
        }
        let logger = logger
        let done = Atomic<Bool>(false)
        let finished = DispatchSemaphore(value: 0)
        startThread(named: "swallow standby snapshot") {
            defer { finished.signal() }
            var connection: PostgresConnection?
            defer { connection?.close() }
            var warned = false
            while !done.load(ordering: .relaxed) {
                do throws(ReplicationError) {
                    let sql: PostgresConnection
                    if let connection { sql = connection } else { sql = try PostgresConnection(primary, replication: false) }
                    connection = sql
                    try sql.execute("SELECT pg_catalog.pg_log_standby_snapshot()")
                } catch {
                    connection?.close()
                    connection = nil
                    if !warned {
                        warned = true
                        logger.warning("cannot call pg_log_standby_snapshot() on postgres.primary; creating the slot on the standby waits for the primary to log its running transactions by itself",
                                       metadata: ["error": "\(error)"])
                    }
                }
                for _ in 0..<10 where !done.load(ordering: .relaxed) { usleep(100_000) }
            }
        }
        defer {
            done.store(true, ordering: .relaxed)
            finished.wait()
        }
        return try body()
    }
}

extension StandbyReading.Features {
    init(_ settings: PipelineSettings) {
        self.init(heartbeat: settings.heartbeat.intervalMilliseconds > 0,
                  heartbeatActionQuery: settings.heartbeat.actionQuery != nil,
                  signalTable: settings.signalTable != nil, failoverSlot: settings.slotFailover,
                  primaryConfigured: settings.primaryConnection != nil)
    }
}

/// What a standby, and `postgres.primary`, report; for the pipeline and `swallow check`.
enum StandbyProbe {
    /// `pg_is_in_recovery()`, the version and `hot_standby_feedback`, on any connection.
    static func readServer(_ connection: PostgresConnection) throws(ReplicationError) -> StandbyReading.Server {
        let row = try connection.execute("""
            SELECT pg_catalog.pg_is_in_recovery() AS standby, current_setting('server_version_num') AS version_number,
                   current_setting('server_version') AS version, current_setting('hot_standby_feedback') AS feedback
            """)
        return StandbyReading.Server(
            versionNumber: Int(row[0, "version_number"] ?? "") ?? 0,
            version: (row[0, "version"] ?? "?").split(separator: " ").first.map(String.init) ?? "?",
            inRecovery: row[0, "standby"] == "t", hotStandbyFeedback: row[0, "feedback"] == "on")
    }

    /// The server's system identifier, nil when the role may not read it (`pg_control_system()` may be
    /// refused to a role without pg_monitor).
    static func systemID(_ connection: PostgresConnection) -> String? {
        (try? connection.execute("SELECT system_identifier::text AS id FROM pg_catalog.pg_control_system()"))?[0, "id"]
    }

    /// What `postgres.primary` is: in recovery or not, and its system identifier.
    static func readPrimary(_ parameters: ConnectionParameters, standbySystemID: String?) throws(ReplicationError) -> StandbyReading.Primary {
        let sql = try PostgresConnection(parameters, replication: false)
        defer { sql.close() }
        let recovery = try sql.execute("SELECT pg_catalog.pg_is_in_recovery() AS standby")[0, "standby"] == "t"
        return StandbyReading.Primary(target: parameters.redactedDescription, inRecovery: recovery,
                                      systemID: systemID(sql), standbySystemID: standbySystemID)
    }
}
