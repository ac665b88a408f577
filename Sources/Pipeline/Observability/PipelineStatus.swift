import Foundation
import PGOutput

/// What the pipeline is doing, as `/status`, `/readyz` and the service manager see it: a value copied
/// out of ``PipelineMonitor`` under its lock, never the live state.
///
/// It holds positions, counts, times, table names and error texts — never row contents or secrets
/// (error texts are written not to carry either).
public struct PipelineStatus: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        /// Connecting and checking the server, publication and slot for the first time.
        case starting
        /// Reading the captured tables' existing rows (initial snapshot).
        case snapshotting
        /// Streaming changes from the slot.
        case streaming
        /// A retriable failure interrupted the stream or snapshot; resuming after a backoff.
        case reconnecting
        /// Another client (another instance, most likely) streams from the slot: this instance waits,
        /// asking for the slot every second, and takes over once it is released.
        case standby
        /// A stop was requested; in-flight deliveries are being flushed.
        case stopping
        /// Stopped cleanly (or finished an `initial_only` snapshot).
        case stopped
        /// Stopped by a failure restarting cannot fix; `lastError` says which.
        case failed
    }

    /// Progress of one table of a running initial snapshot.
    public struct SnapshotTable: Sendable, Equatable {
        /// `schema.table`.
        public var name: String
        public var rowsRead: Int
        /// `pg_class.reltuples` when the snapshot was planned; nil when PostgreSQL had no estimate.
        public var estimatedRows: Int?
        public var rowsPerSecond: Double
        /// Seconds left at the current rate, from the estimate; nil without an estimate or a rate.
        public var etaSeconds: Double?
        public var isDone: Bool

        public init(name: String, rowsRead: Int, estimatedRows: Int?, rowsPerSecond: Double, etaSeconds: Double?,
                    isDone: Bool) {
            self.name = name
            self.rowsRead = rowsRead
            self.estimatedRows = estimatedRows
            self.rowsPerSecond = rowsPerSecond
            self.etaSeconds = etaSeconds
            self.isDone = isDone
        }
    }

    /// Progress of a running initial snapshot.
    public struct Snapshot: Sendable, Equatable {
        public var chunksDone: Int
        public var chunkCount: Int
        public var tables: [SnapshotTable]

        public init(chunksDone: Int, chunkCount: Int, tables: [SnapshotTable]) {
            self.chunksDone = chunksDone
            self.chunkCount = chunkCount
            self.tables = tables
        }
    }

    /// Quantiles of commit-to-acknowledgement latency (PostgreSQL commit timestamp to the broker's
    /// acknowledgement of the transaction's last event), in milliseconds, over `windowSeconds`.
    public struct LatencySummary: Sendable, Equatable {
        /// Transactions measured.
        public var count: Int
        public var p50: Double
        public var p99: Double
        public var p999: Double
        /// Exact.
        public var max: Double
        /// The span the figures cover: the period in progress and the one before (60 s each).
        public var windowSeconds: Double

        public init(count: Int, p50: Double, p99: Double, p999: Double, max: Double, windowSeconds: Double) {
            self.count = count
            self.p50 = p50
            self.p99 = p99
            self.p999 = p999
            self.max = max
            self.windowSeconds = windowSeconds
        }
    }

    public var state: State
    public var slot: String
    /// `delivery`: `at_least_once` or `exactly_once`.
    public var delivery: String
    /// With `exactly_once`: the commit position of the last record in a committed Kafka transaction
    /// (what a read_committed consumer can see); invalid before the first, and with `at_least_once`.
    public var kafkaCommittedLSN: LSN
    /// With `exactly_once`: records a replay skipped because their partition already held them, since
    /// the process started.
    public var resumeSkippedEvents: Int
    /// The slot is confirmed (or will be at the next status update) up to here: everything before it is
    /// acknowledged by Kafka.
    public var confirmedLSN: LSN
    /// The highest WAL position received from the server.
    public var receivedLSN: LSN
    /// The server's WAL end as its last keepalive reported it.
    public var serverLSN: LSN
    /// Events produced and not yet acknowledged or failed (streamed and snapshot records).
    public var inFlightEvents: Int
    /// Key, value and header bytes of the events produced and not yet acknowledged or failed.
    public var inFlightBytes: Int
    /// Commit-to-acknowledgement latency of streamed transactions, over a rotating window.
    public var commitToAck: LatencySummary
    /// When the last event was produced; nil before the first.
    public var lastEventTime: Date?
    /// When the confirmed position last moved forward; nil before it first did.
    public var lastConfirmedTime: Date?
    /// When the state last changed.
    public var stateSince: Date
    /// Set while an initial snapshot runs.
    public var snapshot: Snapshot?
    /// The last failure, retriable or not; kept after recovery so that `/status` shows what happened.
    public var lastError: String?
    public var lastErrorTime: Date?

    public init(slot: String, delivery: String = "at_least_once", state: State = .starting, since: Date = Date()) {
        self.state = state
        self.slot = slot
        self.delivery = delivery
        kafkaCommittedLSN = .invalid
        resumeSkippedEvents = 0
        confirmedLSN = .invalid
        receivedLSN = .invalid
        serverLSN = .invalid
        inFlightEvents = 0
        inFlightBytes = 0
        commitToAck = LatencySummary(count: 0, p50: 0, p99: 0, p999: 0, max: 0, windowSeconds: 0)
        stateSince = since
    }

    /// WAL the slot holds back: the server's position minus the confirmed one (0 before either is known).
    public var lagBytes: UInt64 {
        guard confirmedLSN != .invalid, serverLSN > confirmedLSN else { return 0 }
        return serverLSN.value - confirmedLSN.value
    }

    /// `/readyz`: ready while streaming or snapshotting, with the reason when not.
    public var readiness: (isReady: Bool, reason: String) {
        switch state {
        case .streaming: (true, "streaming from slot \(slot)")
        case .snapshotting: (true, "snapshotting")
        case .starting: (false, "starting: connecting to PostgreSQL and preparing slot \(slot)")
        case .reconnecting: (false, "reconnecting after: \(lastError ?? "an interruption")")
        case .standby: (false, "standby: another client streams from slot \(slot); this instance takes over when it is released")
        case .stopping: (false, "stopping")
        case .stopped: (false, "stopped")
        case .failed: (false, "failed: \(lastError ?? "unknown error")")
        }
    }

    /// The `/status` document, one JSON object (keys sorted):
    ///
    ///     {"commit_to_ack_ms":{"count":120,"max":9.1,"p50":3.2,"p99":8.7,"p999":9.1,"window_s":75.2},
    ///      "confirmed_lsn":"0/1A2B3C8","delivery":"exactly_once","kafka_committed_lsn":"0/1A2B3C0",
    ///      "resume_skipped_events":0,"in_flight_bytes":0,"in_flight_events":0,"lag_bytes":0,"last_confirmed_time":"…Z",
    ///      "last_error":null,"last_error_time":null,"last_event_time":"…Z","received_lsn":"0/1A2B3C8",
    ///      "server_lsn":"0/1A2B3C8","slot":"swallow","snapshot":null,"state":"streaming",
    ///      "state_since":"2025-01-01T00:00:00.000Z"}
    public func json(now: Date = Date()) -> [UInt8] {
        func time(_ date: Date?) -> Any { date.map { Self.iso8601($0) } ?? NSNull() }
        func lsn(_ position: LSN) -> Any { position == .invalid ? NSNull() : position.description }
        var object: [String: Any] = [
            "state": state.rawValue,
            "state_since": Self.iso8601(stateSince),
            "ready": readiness.isReady,
            "slot": slot,
            "delivery": delivery,
            "kafka_committed_lsn": lsn(kafkaCommittedLSN),
            "resume_skipped_events": resumeSkippedEvents,
            "confirmed_lsn": lsn(confirmedLSN),
            "received_lsn": lsn(receivedLSN),
            "server_lsn": lsn(serverLSN),
            "lag_bytes": lagBytes,
            "in_flight_events": inFlightEvents,
            "in_flight_bytes": inFlightBytes,
            "commit_to_ack_ms": [
                "count": commitToAck.count, "p50": commitToAck.p50, "p99": commitToAck.p99,
                "p999": commitToAck.p999, "max": commitToAck.max, "window_s": commitToAck.windowSeconds,
            ] as [String: Any],
            "last_event_time": time(lastEventTime),
            "last_confirmed_time": time(lastConfirmedTime),
            "last_error": lastError ?? NSNull(),
            "last_error_time": time(lastErrorTime),
        ]
        if let snapshot {
            object["snapshot"] = [
                "chunks_done": snapshot.chunksDone,
                "chunks_total": snapshot.chunkCount,
                "tables": snapshot.tables.map { table -> [String: Any] in
                    [
                        "table": table.name,
                        "rows_read": table.rowsRead,
                        "estimated_rows": table.estimatedRows ?? NSNull(),
                        "rows_per_second": (table.rowsPerSecond * 10).rounded() / 10,
                        "eta_seconds": table.etaSeconds.map { $0.rounded() } ?? NSNull(),
                        "done": table.isDone,
                    ]
                },
            ]
        } else {
            object["snapshot"] = NSNull()
        }
        // Every value above is a JSON type, so serialisation cannot fail.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data) + [UInt8(ascii: "\n")]
    }

    /// `2025-01-31T12:34:56.789Z`.
    static func iso8601(_ date: Date) -> String {
        ISO8601Timestamp.format(unixMilliseconds: Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }
}

/// UTC timestamps with milliseconds, formatted without Foundation's formatters (which allocate and
/// lock): log lines are formatted on every call.
public enum ISO8601Timestamp {
    public static func format(unixMilliseconds: Int64) -> String {
        var seconds = time_t(unixMilliseconds / 1000)
        let millis = Int(unixMilliseconds % 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}
