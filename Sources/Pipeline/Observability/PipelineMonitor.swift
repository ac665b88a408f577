import CoreMetrics
import Foundation
import Logging
import Metrics
import PGOutput
import SwallowConfig
import Synchronization

/// Watches the pipeline for the outside world: keeps the ``PipelineStatus`` that `/status` and `/readyz`
/// read, the metrics (through swift-metrics; the executable bootstraps the Prometheus backend), and the
/// service manager's notifications.
///
/// Cost discipline: the hot paths update nothing here per event except the per-(table, op) counters,
/// whose handles are cached by the caller (``EventCounters``). Everything else — positions, lag, ages,
/// snapshot progress, the watchdog — is refreshed by ``ReplicationPipeline/refreshStatus`` from the
/// pipeline's own loops about once a second, so a hung loop freezes the figures and stops the watchdog.
public final class PipelineMonitor: Sendable {
    /// What changes, behind one lock.
    private struct State {
        var current: PipelineStatus
        var readySent = false
        var nextWatchdog = ContinuousClock.now
        var snapshotGauges: [String: SnapshotTableGauges] = [:]
        var commitToAckWindow = RotatingLatencyWindow(nowMicros: WallClock.micros())
    }

    private let state: Mutex<State>

    let notifier: (any ServiceManagerNotifier)?
    let startedAt = Date()
    /// How often the loops call `refreshStatus`: every second, or more often if the watchdog needs it.
    let statusRefreshInterval: Duration

    // Metric handles, created once (swift-metrics looks labels up only at creation).
    let deliveryFailures = Counter(label: "swallow_delivery_failures_total")
    let streamRetries = Counter(label: "swallow_retries_total", dimensions: [("phase", "stream")])
    let snapshotRetries = Counter(label: "swallow_retries_total", dimensions: [("phase", "snapshot")])
    let ackLatency = Metrics.Timer(label: "swallow_ack_latency_seconds")
    let commitToAckLatency = Metrics.Timer(label: "swallow_commit_to_ack_latency_seconds")
    let inFlightGauge = Gauge(label: "swallow_events_in_flight")
    let inFlightBytesGauge = Gauge(label: "swallow_bytes_in_flight")
    let confirmedGauge = Gauge(label: "swallow_confirmed_lsn")
    let receivedGauge = Gauge(label: "swallow_received_lsn")
    let serverGauge = Gauge(label: "swallow_server_lsn")
    let lagGauge = Gauge(label: "swallow_slot_lag_bytes")
    let lastEventAgeGauge = Gauge(label: "swallow_last_event_age_seconds")
    let lastConfirmedAgeGauge = Gauge(label: "swallow_last_confirmed_age_seconds")
    let stateGauges: [PipelineStatus.State: Gauge] = Dictionary(uniqueKeysWithValues: PipelineStatus.State.allCases.map {
        ($0, Gauge(label: "swallow_state", dimensions: [("state", $0.rawValue)]))
    })
    let kafkaCommittedGauge = Gauge(label: "swallow_kafka_committed_lsn")
    let resumeSkippedGauge = Gauge(label: "swallow_resume_skipped_events")
    let transactionsCommitted = Counter(label: "swallow_kafka_transactions_total", dimensions: [("outcome", "committed")])
    let transactionsAborted = Counter(label: "swallow_kafka_transactions_total", dimensions: [("outcome", "aborted")])
    /// How long each commit held the producing thread (flush of what is in flight, then EndTxn).
    let transactionCommitLatency = Metrics.Timer(label: "swallow_kafka_transaction_commit_seconds")
    let snapshotChunksDone = Gauge(label: "swallow_snapshot_chunks_done")
    let snapshotChunksTotal = Gauge(label: "swallow_snapshot_chunks_total")

    struct SnapshotTableGauges: Sendable {
        let rowsRead: Gauge
        let estimatedRows: Gauge
        let rowsPerSecond: Gauge
        let etaSeconds: Gauge

        init(table: String) {
            let dimensions = [("table", table)]
            rowsRead = Gauge(label: "swallow_snapshot_rows_read", dimensions: dimensions)
            estimatedRows = Gauge(label: "swallow_snapshot_rows_estimated", dimensions: dimensions)
            rowsPerSecond = Gauge(label: "swallow_snapshot_rows_per_second", dimensions: dimensions)
            etaSeconds = Gauge(label: "swallow_snapshot_eta_seconds", dimensions: dimensions)
        }
    }

    /// `notifier`: where READY/STATUS/WATCHDOG/STOPPING go; nil when not run by a service manager.
    public init(slot: String, delivery: SwallowConfiguration.Delivery = .atLeastOnce,
                notifier: (any ServiceManagerNotifier)? = nil) {
        state = Mutex(State(current: PipelineStatus(slot: slot, delivery: delivery.rawValue)))
        Gauge(label: "swallow_delivery_mode", dimensions: [("mode", delivery.rawValue)]).record(1)
        self.notifier = notifier
        statusRefreshInterval = min(.seconds(1), notifier?.watchdogInterval ?? .seconds(1))
        stateGauges[.starting]?.record(1)
    }

    /// A copy of the current status.
    public var status: PipelineStatus { state.withLock { $0.current } }

    /// Records a state change and tells the service manager: `READY=1` the first time the pipeline is
    /// snapshotting, streaming or a standby (a snapshot can take hours — longer than any start-up timeout — and is
    /// already the service doing its work), `STOPPING=1` when a stop begins, `STATUS=` always.
    /// `error`: the failure that caused the change, if any.
    func transition(to state: PipelineStatus.State, error: String? = nil) {
        let (previous, changed, sendReady, statusText) = self.state.withLock { locked in
            let previous = locked.current.state
            // Once stopping, only the end counts: a stream that opens meanwhile is closing anyway.
            let changed = previous != state && (previous != .stopping || state == .stopped || state == .failed)
            if changed {
                locked.current.state = state
                locked.current.stateSince = Date()
            }
            if let error {
                locked.current.lastError = error
                locked.current.lastErrorTime = Date()
            }
            // A standby is the service running as deployed (and may wait for hours): ready for systemd.
            let sendReady = !locked.readySent && (state == .streaming || state == .snapshotting || state == .standby)
            if sendReady { locked.readySent = true }
            return (previous, changed, sendReady, Self.statusText(locked.current))
        }
        guard changed else { return }
        stateGauges[previous]?.record(0)
        stateGauges[state]?.record(1)
        guard let notifier else { return }
        if sendReady {
            notifier.send(["READY": "1", "STATUS": statusText])
        } else if state == .stopping {
            notifier.send(["STOPPING": "1", "STATUS": statusText])
        } else {
            notifier.send(["STATUS": statusText])
        }
    }

    /// A stop was requested: `stopping`, unless the pipeline already ended.
    func beginStopping() {
        let ended = state.withLock { $0.current.state == .stopped || $0.current.state == .failed }
        if !ended { transition(to: .stopping) }
    }

    /// Notes a failure that did not change the state (e.g. a retried delivery failure).
    func recordError(_ error: String) {
        state.withLock {
            $0.current.lastError = error
            $0.current.lastErrorTime = Date()
        }
    }

    /// `systemctl status` text for a state.
    static func statusText(_ status: PipelineStatus) -> String {
        switch status.state {
        case .streaming: "streaming from slot \(status.slot)"
        case .snapshotting: "snapshotting the captured tables"
        default: status.readiness.reason
        }
    }

    /// The figures the stream loop owns (the rest come from the shared state).
    struct StreamFigures {
        var receivedLSN: LSN
        var serverLSN: LSN
        /// Unix milliseconds of the last event produced; 0 before the first.
        var lastEventMillis: Int64
    }

    /// Refreshes the status and gauges and pings the watchdog when due. Called by the pipeline's loops
    /// only (see the type's comment); `confirmed`/`inFlight` come from the shared state.
    func refresh(confirmed: LSN, inFlight: Int, inFlightBytes: Int, stream: StreamFigures?,
                 snapshot: PipelineStatus.Snapshot??, exactlyOnce: (committed: LSN, skipped: Int)? = nil) {
        let now = Date()
        let clock = ContinuousClock.now
        let watchdogInterval = notifier?.watchdogInterval
        let (status, pingWatchdog, tableGauges) = state.withLock { locked in
            if confirmed > locked.current.confirmedLSN {
                // The first adoption of the slot's position is not progress.
                if locked.current.confirmedLSN != .invalid { locked.current.lastConfirmedTime = now }
                locked.current.confirmedLSN = confirmed
            }
            locked.current.inFlightEvents = inFlight
            locked.current.inFlightBytes = inFlightBytes
            if let exactlyOnce {
                locked.current.kafkaCommittedLSN = max(locked.current.kafkaCommittedLSN, exactlyOnce.committed)
                locked.current.resumeSkippedEvents = exactlyOnce.skipped
            }
            locked.current.commitToAck = locked.commitToAckWindow.summary(nowMicros: WallClock.micros())
            if let stream {
                if stream.receivedLSN > locked.current.receivedLSN { locked.current.receivedLSN = stream.receivedLSN }
                if stream.serverLSN > locked.current.serverLSN { locked.current.serverLSN = stream.serverLSN }
                if stream.lastEventMillis > 0 {
                    locked.current.lastEventTime = Date(timeIntervalSince1970: Double(stream.lastEventMillis) / 1000)
                }
            }
            if let snapshot { locked.current.snapshot = snapshot }
            var pingWatchdog = false
            if let watchdogInterval, clock >= locked.nextWatchdog {
                pingWatchdog = true
                locked.nextWatchdog = clock + watchdogInterval
            }
            let tableGauges = locked.current.snapshot.map { snapshot in
                snapshot.tables.map { table in
                    if let known = locked.snapshotGauges[table.name] { return known }
                    let made = SnapshotTableGauges(table: table.name)
                    locked.snapshotGauges[table.name] = made
                    return made
                }
            }
            return (locked.current, pingWatchdog, tableGauges)
        }

        if pingWatchdog { notifier?.send(["WATCHDOG": "1"]) }
        inFlightGauge.record(status.inFlightEvents)
        inFlightBytesGauge.record(status.inFlightBytes)
        if exactlyOnce != nil {
            if status.kafkaCommittedLSN != .invalid { kafkaCommittedGauge.record(Double(status.kafkaCommittedLSN.value)) }
            resumeSkippedGauge.record(status.resumeSkippedEvents)
        }
        if status.confirmedLSN != .invalid { confirmedGauge.record(Double(status.confirmedLSN.value)) }
        if status.receivedLSN != .invalid { receivedGauge.record(Double(status.receivedLSN.value)) }
        if status.serverLSN != .invalid { serverGauge.record(Double(status.serverLSN.value)) }
        lagGauge.record(Double(status.lagBytes))
        // Before the first event (or confirmation), the age counts from start-up.
        lastEventAgeGauge.record(now.timeIntervalSince(status.lastEventTime ?? startedAt))
        lastConfirmedAgeGauge.record(now.timeIntervalSince(status.lastConfirmedTime ?? startedAt))
        if let snapshot = status.snapshot, let tableGauges {
            snapshotChunksDone.record(snapshot.chunksDone)
            snapshotChunksTotal.record(snapshot.chunkCount)
            for (table, gauges) in zip(snapshot.tables, tableGauges) {
                gauges.rowsRead.record(table.rowsRead)
                gauges.estimatedRows.record(table.estimatedRows ?? -1)
                gauges.rowsPerSecond.record(table.rowsPerSecond)
                gauges.etaSeconds.record(table.etaSeconds ?? -1)
            }
        }
    }

    /// Records what a batch of delivery reports says: failures, and broker acknowledgement latency.
    func recordDeliveries(failures: Int, latenciesMicros: [Int64]) {
        if failures > 0 { deliveryFailures.increment(by: failures) }
        for latency in latenciesMicros { ackLatency.recordMicroseconds(latency) }
    }

    /// A Kafka transaction committed; the producing thread waited `heldFor` for it.
    func transactionCommitted(heldFor: Duration) {
        transactionsCommitted.increment()
        transactionCommitLatency.recordNanoseconds(heldFor.components.seconds * 1_000_000_000 + heldFor.components.attoseconds / 1_000_000_000)
    }

    /// Commit-to-acknowledgement latency of transactions that became fully acknowledged.
    func recordCommitsAcknowledged(_ commitTimesMicros: [Int64], nowMicros: Int64) {
        state.withLock { locked in
            for commitTime in commitTimesMicros {
                let micros = max(0, nowMicros - commitTime)
                locked.commitToAckWindow.record(micros, nowMicros: nowMicros)
                commitToAckLatency.recordMicroseconds(micros)
            }
        }
    }
}

/// The per-(table, op) event counters of one producing thread, looked up by relation OID and operation:
/// no string is built per event; a table's counters are made the first time it produces.
struct EventCounters {
    struct Handles {
        let events: Counter
        let bytes: Counter
    }

    private var handles: [RecordKind: Handles] = [:]

    init() {}

    /// Counts one produced record of `kind` with `bytes` of key and value; false (counting nothing)
    /// when `kind` was not registered yet.
    mutating func count(_ kind: RecordKind, bytes: Int) -> Bool {
        guard let found = handles[kind] else { return false }
        found.events.increment()
        found.bytes.increment(by: bytes)
        return true
    }

    /// Makes the counters of `kind`; `table` is `schema.table`, nil for Swallow's own topics.
    mutating func register(_ kind: RecordKind, table: String?) {
        handles[kind] = Self.handles(table: table ?? "", operation: kind.operationLabel)
    }

    static func handles(table: String, operation: String) -> Handles {
        let dimensions = [("table", table), ("op", operation)]
        return Handles(events: Counter(label: "swallow_events_total", dimensions: dimensions),
                       bytes: Counter(label: "swallow_event_bytes_total", dimensions: dimensions))
    }

    /// A table was described again (it may have been renamed): its counters are looked up anew.
    mutating func forget(relationID: UInt32) {
        handles = handles.filter { $0.key.relationID != relationID }
    }
}
