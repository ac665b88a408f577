import ChangeEvent
import Foundation
import Logging
import PGOutput
import PGReplication

/// Writes a heartbeat into the captured database every `heartbeat.interval_ms`, so the slot has
/// something of its own database to decode even when the captured tables are idle:
///
///     SELECT pg_logical_emit_message(false, 'swallow.heartbeat', '<slot name>')
///
/// A non-transactional message is decoded as soon as it is written, and the reader confirms it like any
/// other unit once its heartbeat record (if any) is acknowledged. The optional `action_query` runs
/// first, on the same connection, as Debezium's `heartbeat.action.query` does.
///
/// Threads: a thread of its own, because libpq calls block (they stay off Swift's shared executor), on
/// a plain SQL connection of its own, so a slow or failing heartbeat never holds up the reader. A failed
/// heartbeat is a warning; the next one reconnects.
///
/// `@unchecked Sendable`: the mutable state (stop flag, last position) is read and written only with
/// `condition` locked; the rest is immutable.
final class HeartbeatEmitter: @unchecked Sendable {
    /// The prefix of heartbeat messages (`HeartbeatMessages.prefix`).
    static let messagePrefix = HeartbeatMessages.prefix

    private let parameters: ConnectionParameters
    private let slotName: String
    private let interval: TimeInterval
    private let actionQuery: String?
    private let logger: Logger

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var stopRequested = false
    private var started = false
    private var lastPosition: LSN?
    private let finished = DispatchSemaphore(value: 0)

    init(settings: PipelineSettings, logger: Logger) {
        // A standby refuses writes: heartbeats go to postgres.primary when configured, and reach the
        // standby's slot through replication.
        var parameters = settings.writeConnection
        // Tells the heartbeat session apart in pg_stat_activity.
        parameters.applicationName = "swallow heartbeat"
        self.parameters = parameters
        slotName = settings.slotName
        interval = Double(settings.heartbeat.intervalMilliseconds) / 1000
        actionQuery = settings.heartbeat.actionQuery
        self.logger = logger
    }

    /// The WAL position after the newest heartbeat written (what `pg_logical_emit_message` returned).
    var lastHeartbeatPosition: LSN? { locked { lastPosition } }

    /// Starts the heartbeat thread; the first heartbeat follows one interval later. Idempotent.
    func start() {
        let first = locked { () -> Bool in
            defer { started = true }
            return !started && !stopRequested
        }
        guard first else { return }
        startThread(named: "swallow heartbeat") { [self] in
            run()
            finished.signal()
        }
    }

    /// Stops the thread, waiting a little for a heartbeat in progress (a hung server can hold a libpq
    /// call much longer; the thread then ends on its own and closes its connection).
    func stop() {
        let wasStarted = locked { () -> Bool in
            stopRequested = true
            condition.broadcast()
            return started
        }
        if wasStarted { _ = finished.wait(timeout: .now() + 5) }
    }

    private func run() {
        var connection: PostgresConnection?
        defer { connection?.close() }
        /// The cause of the current run of failures, logged when it first appears or changes.
        var failure: String?
        var failures = 0
        while waitForNextBeat() {
            do throws(ReplicationError) {
                let session: PostgresConnection
                if let connection {
                    session = connection
                } else {
                    session = try PostgresConnection(parameters, replication: false)
                    connection = session
                }
                let position = try beat(on: session)
                locked { lastPosition = position }
                if failures > 0 {
                    logger.notice("heartbeats work again", metadata: ["failed_heartbeats": "\(failures)"])
                }
                failure = nil
                failures = 0
            } catch {
                // A broken session is replaced; a failing statement on a live one is tried again as it is.
                if error.code == .connectionFailed {
                    connection?.close()
                    connection = nil
                }
                failures += 1
                if error.description != failure {
                    failure = error.description
                    logger.warning("heartbeat failed; streaming goes on, the next heartbeat tries again",
                                   metadata: ["error": "\(error)", "interval_ms": "\(Int(interval * 1000))"])
                }
            }
        }
    }

    /// Runs the action query, then writes the heartbeat message; returns the WAL position after it.
    private func beat(on session: PostgresConnection) throws(ReplicationError) -> LSN? {
        if let actionQuery {
            do {
                try session.execute(actionQuery)
            } catch {
                // Never echo the statement (it is the operator's SQL); the server's message names the problem.
                throw ReplicationError(code: error.code, message: "heartbeat.action_query failed: \(error.message)",
                                       sqlState: error.sqlState, hint: "correct heartbeat.action_query (it runs on the captured database as postgres.user)")
            }
        }
        let result = try session.execute(
            "SELECT pg_catalog.pg_logical_emit_message(false, \(try session.literal(Self.messagePrefix)), \(try session.literal(slotName)))::text AS lsn")
        return result[0, "lsn"].flatMap { LSN(string: $0) }
    }

    /// Sleeps one interval; false once a stop was requested.
    private func waitForNextBeat() -> Bool {
        let deadline = Date().addingTimeInterval(interval)
        return locked {
            while !stopRequested, condition.wait(until: deadline) {}
            return !stopRequested
        }
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }
}
