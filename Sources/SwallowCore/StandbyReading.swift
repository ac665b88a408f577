import SwallowConfig

/// Whether Swallow can read from the server `postgres.host` reached, when that server is a physical
/// standby (logical decoding on a standby, PostgreSQL 16+), decided from what it reported and what is
/// configured, with no I/O. The pipeline stops at start-up with every problem at once; `swallow check`
/// shows one line per problem.
///
/// What works on a standby (16+; tried on 18): creating the slot (it waits for the primary to log its
/// running transactions, which `pg_log_standby_snapshot()` on the primary does at once), exporting the
/// slot's snapshot and importing it for the initial snapshot, pgoutput streaming, confirming positions,
/// and publications created on the primary (replicated like any catalog change). What does not: any
/// write — heartbeats (`pg_logical_emit_message`, `heartbeat.action_query`), incremental snapshot
/// watermarks in the signal table, creating the publication — and a failover slot (PostgreSQL refuses
/// one created on a standby). Writes go to `postgres.primary` when it is configured.
public enum StandbyReading {
    /// What the server at `postgres.host` reported.
    public struct Server: Sendable, Equatable {
        /// `server_version_num`, e.g. 180001, and the version's number, e.g. 18.1.
        public var versionNumber: Int
        public var version: String
        /// `pg_is_in_recovery()`.
        public var inRecovery: Bool
        public var hotStandbyFeedback: Bool

        public init(versionNumber: Int, version: String, inRecovery: Bool, hotStandbyFeedback: Bool) {
            self.versionNumber = versionNumber
            self.version = version
            self.inRecovery = inRecovery
            self.hotStandbyFeedback = hotStandbyFeedback
        }
    }

    /// What `postgres.primary` reported, when it is configured and asked.
    public struct Primary: Sendable, Equatable {
        /// `user@host:port/db`, without secrets.
        public var target: String
        public var inRecovery: Bool
        /// Its system identifier, and the standby's: a physical standby has its primary's. Nil when it
        /// could not be read (`pg_control_system()` may be refused).
        public var systemID: String?
        public var standbySystemID: String?

        public init(target: String, inRecovery: Bool, systemID: String?, standbySystemID: String?) {
            self.target = target
            self.inRecovery = inRecovery
            self.systemID = systemID
            self.standbySystemID = standbySystemID
        }
    }

    /// What is configured that a standby cannot do by itself.
    public struct Features: Sendable, Equatable {
        public var heartbeat: Bool
        public var heartbeatActionQuery: Bool
        public var signalTable: Bool
        public var failoverSlot: Bool
        /// `postgres.primary` is configured.
        public var primaryConfigured: Bool

        public init(heartbeat: Bool, heartbeatActionQuery: Bool, signalTable: Bool, failoverSlot: Bool,
                    primaryConfigured: Bool) {
            self.heartbeat = heartbeat
            self.heartbeatActionQuery = heartbeatActionQuery
            self.signalTable = signalTable
            self.failoverSlot = failoverSlot
            self.primaryConfigured = primaryConfigured
        }

        public init(_ configuration: SwallowConfiguration) {
            self.init(heartbeat: configuration.heartbeat.intervalMilliseconds > 0,
                      heartbeatActionQuery: configuration.heartbeat.actionQuery != nil,
                      signalTable: configuration.snapshot.signalTable != nil, failoverSlot: configuration.slot.failover,
                      primaryConfigured: configuration.postgresPrimary != nil)
        }

        /// Whether anything configured writes, and so needs the primary when reading a standby.
        public var writes: Bool { heartbeat || signalTable }
    }

    /// One thing that keeps Swallow from reading this standby: the setting, what is wrong, the fix.
    public struct Problem: Sendable, Equatable {
        public var setting: String
        public var found: String
        public var fix: String
    }

    /// The first version that decodes logically on a standby.
    public static let minimumVersionNumber = 160000

    /// Every problem with reading from `server`; none for a primary. `primary`: what `postgres.primary`
    /// reported, when it is configured and something writes.
    public static func problems(server: Server, features: Features, primary: Primary? = nil) -> [Problem] {
        guard server.inRecovery else { return [] }
        guard server.versionNumber >= minimumVersionNumber else {
            return [Problem(setting: "postgres.host",
                            found: "is a standby of PostgreSQL \(server.version), and logical decoding on a standby needs PostgreSQL 16 or later",
                            fix: "point postgres.host at the primary (with a list of hosts, target_session_attrs: read-write), or upgrade to 16 or later")]
        }
        var problems: [Problem] = []
        if !server.hotStandbyFeedback {
            problems.append(Problem(
                setting: "hot_standby_feedback",
                found: "is off on the standby, so the primary may remove catalog rows the slot still needs, and PostgreSQL then invalidates the slot (rows_removed)",
                fix: "ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf() on the standby (and let it stream from a physical slot, primary_slot_name, so that the feedback outlives a reconnection)"))
        }
        if features.failoverSlot {
            problems.append(Problem(
                setting: "slot.failover",
                found: "a slot created on a standby cannot be a failover slot (PostgreSQL refuses it)",
                fix: "remove slot.failover to read from the standby, or point postgres.host at the primary"))
        }
        if !features.primaryConfigured {
            if features.heartbeat {
                let what = features.heartbeatActionQuery
                    ? "heartbeat.action_query and the heartbeat message (pg_logical_emit_message) write" : "heartbeats write (pg_logical_emit_message)"
                problems.append(Problem(
                    setting: features.heartbeatActionQuery ? "heartbeat.action_query" : "heartbeat.interval_ms",
                    found: "\(what), which a standby refuses",
                    fix: "set postgres.primary (heartbeats are then written there and reach the standby's slot through replication), or heartbeat.interval_ms: 0"))
            }
            if features.signalTable {
                problems.append(Problem(
                    setting: "snapshot.signal_table",
                    found: "incremental snapshots write watermarks to the signal table, which a standby refuses",
                    fix: "set postgres.primary (watermarks are then written, and chunks read, there), or remove snapshot.signal_table"))
            }
        } else if let primary {
            if primary.inRecovery {
                problems.append(Problem(
                    setting: "postgres.primary",
                    found: "\(primary.target) is in recovery too, and writes need the primary",
                    fix: "point postgres.primary at the primary of the standby Swallow reads"))
            } else if let theirs = primary.systemID, let ours = primary.standbySystemID, theirs != ours {
                problems.append(Problem(
                    setting: "postgres.primary",
                    found: "\(primary.target) is another cluster (system identifier \(theirs), the standby's \(ours)), so what Swallow writes there never reaches the standby's slot",
                    fix: "point postgres.primary at the primary of the standby Swallow reads"))
            }
        }
        return problems
    }

    /// The start-up error for `problems` (not empty), naming each with its fix.
    public static func error(server: Server, target: String, problems: [Problem]) -> PipelineError {
        let list = problems.map { "\($0.setting): \($0.found); fix: \($0.fix)" }.joined(separator: ". ")
        return PipelineError(code: .standbySource,
                             message: "postgres.host \(target) is a standby (PostgreSQL \(server.version), in recovery), and Swallow cannot read from it as configured: \(list) (docs/high-availability.md, Reading from a standby)",
                             isRetriable: false)
    }

    /// A publication that does not exist on the standby: it is created on the primary, which a standby
    /// follows.
    public static func missingPublication(_ name: String, statement: String) -> (found: String, fix: String) {
        ("\(name) does not exist, and a standby cannot create it (it is read-only)",
         "\(statement) on the primary; the standby receives it through replication")
    }
}
