import ChangeEvent
import CoreMetrics
import Foundation
import Kafka
import Logging
import PGOutput
import PGReplication
import SwallowConfig
import SwallowCore
import Synchronization

/// Streams committed changes from the slot to Kafka until stopped, confirming the slot only up to what
/// the broker acknowledged.
///
/// The service: an initial snapshot when `snapshot.mode` asks for one (`prepareSlotAndSnapshot`), then
/// stream sessions (`StreamSession`), each from the confirmed position; retriable failures start the next
/// session after a backoff. Every record goes out through one `DeliveryPath`.
///
/// Threads: `run()` blocks its caller, which becomes the replication reader (libpq calls block, so they
/// stay off Swift's shared executor); the producer owns a poll thread that delivers acknowledgements.
/// The two meet only in `DeliveryState`.
public final class ReplicationPipeline: Sendable {
    public let settings: PipelineSettings
    let logger: Logger
    /// Records in flight by owner, delivery failures and the stop request: what every thread shares.
    let deliveryState: DeliveryState
    /// Status, metrics and service-manager notifications.
    public let monitor: PipelineMonitor
    /// Writes heartbeats while streaming, when `heartbeat.interval_ms` is set.
    let heartbeat: HeartbeatEmitter?
    let positionGauges: ConfirmedPositionGauges
    /// Whether the confirmed position keeps up with the server's; fed by the stream sessions.
    let positionWatch: Mutex<ConfirmedPositionWatch>
    /// Whether the server of the current stream is a standby (`StandbySource`).
    let readsFromStandby = Atomic<Bool>(false)
    /// Where the records Swallow delivered come from (cluster, timeline, how far), and what of it
    /// `<state_dir>/stream-<slot>.json` holds: what a slot is judged against before it is used.
    let streamLineage = Mutex(LineageRecord())

    /// `monitor`: pass one with a ``ServiceNotifier`` to notify a service manager; by default the
    /// pipeline keeps its status and metrics only. `metricsFactory`: where the stall gauges go; the
    /// process's bootstrapped backend by default.
    public init(settings: PipelineSettings, logger: Logger, monitor: PipelineMonitor? = nil,
                metricsFactory: MetricsFactory = MetricsSystem.factory) {
        self.settings = settings
        self.logger = logger
        deliveryState = DeliveryState(confirmedLSN: .invalid, holdsReportsUntilCommit: settings.delivery == .exactlyOnce)
        self.monitor = monitor ?? PipelineMonitor(slot: settings.slotName, delivery: settings.delivery)
        heartbeat = settings.heartbeat.intervalMilliseconds > 0 ? HeartbeatEmitter(settings: settings, logger: logger) : nil
        positionGauges = ConfirmedPositionGauges(slot: settings.slotName, factory: metricsFactory)
        let threshold = settings.heartbeat.stallWarningSeconds
        positionWatch = Mutex(ConfirmedPositionWatch(threshold: threshold > 0 ? .seconds(threshold) : nil, now: .now))
    }

    /// Asks `run()` to finish: stop reading, wait (bounded) for in-flight deliveries, confirm, return.
    /// Safe to call from any thread, e.g. a signal handler's queue.
    public func stop() {
        if deliveryState.requestStop() { monitor.beginStopping() }
    }

    /// What the pipeline is doing now (for `/status`, `/readyz`).
    public var status: PipelineStatus { monitor.status }

    /// The position the slot may be confirmed to; for tests and status.
    public var confirmedLSN: LSN { deliveryState.confirmedLSN }

    /// The WAL position after the newest heartbeat written; nil before the first (or without heartbeats).
    public var lastHeartbeatPosition: LSN? { heartbeat?.lastHeartbeatPosition }

    var stopRequested: Bool { deliveryState.stopRequested }

    /// Refreshes the monitor from the delivery state (and a session's or snapshot's own figures),
    /// pinging the watchdog when due. Only the pipeline's own loops call this, about once a second: if
    /// they hang, the figures freeze and the watchdog pings stop.
    func refreshStatus(delivery: DeliveryPath?, stream: PipelineMonitor.StreamFigures? = nil,
                       snapshot: PipelineStatus.Snapshot?? = nil) {
        var commitTimes: [Int64] = []
        deliveryState.takeCompletedCommitTimes(into: &commitTimes)
        if !commitTimes.isEmpty { monitor.recordCommitsAcknowledged(commitTimes, nowMicros: WallClock.micros()) }
        monitor.refresh(confirmed: deliveryState.confirmedLSN, inFlight: deliveryState.inFlightEvents,
                        inFlightBytes: delivery?.inFlightBytes ?? 0, stream: stream, snapshot: snapshot,
                        exactlyOnce: delivery?.exactlyOnce.map { eos in
                            (eos.lastCommitted.withLock { $0?.commitLSN } ?? .invalid, eos.skipped.load(ordering: .relaxed))
                        })
    }

    /// Runs until `stop()` (returns normally) or a non-retriable error (throws). Retriable failures —
    /// Postgres going away, deliveries failing during a broker outage — restart the stream from the
    /// confirmed position after a backoff.
    public func run() throws(PipelineError) {
        var backoff = Backoff()
        while true {
            do {
                try runPipeline()
                monitor.transition(to: .stopped)
                return
            } catch where replacesProducer(after: error) {
                // librdkafka before 2.3.0 can turn a disconnect into a fatal idempotence error (#4438):
                // with transactions, a new producer under the same transactional id is the routine way
                // on (its initTransactions fences the old one's epoch), and the stream resumes from the
                // confirmed position as after any failure.
                let delay = backoff.next()
                monitor.transition(to: .reconnecting, error: error.message)
                monitor.streamRetries.increment()
                logger.warning("the Kafka producer failed; starting a new one and resuming from the confirmed position",
                               metadata: ["error": "\(error)", "retry_in_ms": "\(delay)", "confirmed_lsn": "\(confirmedLSN)"])
                deliveryState.producerReplaced()
                if deliveryState.waitUnlessStopped(milliseconds: delay, refresh: { refreshStatus(delivery: nil) }) {
                    monitor.transition(to: .stopped)
                    return
                }
            } catch {
                monitor.transition(to: .failed, error: error.message)
                throw error
            }
        }
    }

    /// How often a slot another client holds is asked for again.
    static let slotPollMilliseconds = 1000

    /// Whether `error` is a fatal producer error a new producer gets past: with `delivery: exactly_once`,
    /// any but being fenced (another instance took over, and must be left to work) and a refusal a new
    /// producer would meet again (authorization, an unsupported broker), which must stop with its fix.
    private func replacesProducer(after error: PipelineError) -> Bool {
        guard settings.delivery == .exactlyOnce, error.code == .producerFatal, !stopRequested,
              let kafka = error.underlying as? KafkaError else { return false }
        let refusals: Set<KafkaError.Code> = [
            .transactionalIDAuthorizationFailed, .clusterAuthorizationFailed, .topicAuthorizationFailed,
            .unsupportedVersion, .fenced, .producerFenced,
        ]
        return !refusals.contains(kafka.code)
    }

    private func runPipeline() throws(PipelineError) {
        let delivery = try DeliveryPath(settings: settings, state: deliveryState, monitor: monitor, logger: logger)
        defer { delivery.close() }
        defer { heartbeat?.stop() }
        // However the run ends, the next one starts from what this one produced.
        defer { saveLineage(force: true) }
        let refresh = { [self] in refreshStatus(delivery: delivery) }

        var backoff = Backoff()
        var progress = StreamProgress()
        var snapshotPhaseDone = false
        var waitingForSlot = false
        while !stopRequested {
            let confirmedAtStart = confirmedLSN
            do {
                if !snapshotPhaseDone {
                    switch try prepareSlotAndSnapshot(delivery: delivery, systemID: &progress.systemID) {
                    case .streamFromSlot:
                        progress.slotEstablished = true
                    case .noSnapshotMode:
                        break
                    case .finished:
                        delivery.drain(refresh: refresh)
                        if stopRequested {
                            logger.info("stopped")
                        } else {
                            logger.notice("snapshot finished; not streaming (snapshot.mode: initial_only). The slot keeps the WAL written since the snapshot: stream from it with snapshot.mode initial, or drop it (`swallow slot drop --yes`) if nothing will",
                                          metadata: ["slot": "\(settings.slotName)"])
                        }
                        return
                    }
                    snapshotPhaseDone = true
                }
                try streamSession(delivery: delivery, progress: &progress)
                return   // stopped: the session already flushed and confirmed
            } catch {
                switch RetryDecision(after: error, stopRequested: stopRequested, snapshotMode: settings.snapshot.mode) {
                case .stop:
                    break
                case .fail:
                    delivery.drain(refresh: refresh)
                    throw error
                case .snapshotAgain:
                    // The changes after the confirmed position are gone: a new slot and a new snapshot
                    // bring Kafka back to the tables (Debezium's when_needed).
                    logger.warning("the replication slot was lost while streaming; snapshot.mode is when_needed, so taking a new snapshot",
                                   metadata: ["slot": "\(settings.slotName)", "cause": "\(error)"])
                    try resetForNewStream(delivery)
                    // The new slot's positions have nothing to do with those confirmed on the old one.
                    deliveryState.restartStream(rewindingTo: .invalid)
                    snapshotPhaseDone = false
                    progress = StreamProgress(systemID: progress.systemID)
                    continue
                case .retry:
                    // Only progress proves the cause went away; a failure that repeats before anything was
                    // confirmed keeps backing off.
                    if confirmedLSN > confirmedAtStart { backoff.reset() }
                    var delay = backoff.next()
                    if (error.underlying as? ReplicationError)?.code == .slotInUse {
                        // Another client (another Swallow instance, most likely) streams from the slot:
                        // this one is a hot standby. PostgreSQL lets one walsender hold a slot, so it
                        // asks again every second and takes over soon after the other stops.
                        monitor.transition(to: .standby)
                        delay = Self.slotPollMilliseconds
                        if !waitingForSlot {
                            logger.notice("the replication slot is in use by another client; waiting for it",
                                          metadata: ["slot": "\(settings.slotName)", "poll_ms": "\(delay)"])
                        }
                        waitingForSlot = true
                        // The client streaming now (the other instance of a hot-standby pair) confirms
                        // past this one's position; taking the slot back later is a takeover, as at a
                        // start: the slot's position is adopted, not taken for another client's skip.
                        progress.positionAdopted = false
                    } else {
                        monitor.transition(to: .reconnecting, error: error.message)
                        monitor.streamRetries.increment()
                        waitingForSlot = false
                        logger.warning("stream interrupted, resuming from the confirmed position",
                                       metadata: ["error": "\(error)", "retry_in_ms": "\(delay)",
                                                  "confirmed_lsn": "\(confirmedLSN)"])
                    }
                    try resetForNewStream(delivery)
                    _ = deliveryState.waitUnlessStopped(milliseconds: delay, refresh: refresh)
                    continue
                }
                break
            }
        }
        delivery.drain(refresh: refresh)
        logger.info("stopped", metadata: ["confirmed_lsn": "\(confirmedLSN)"])
    }

    /// Before a new stream: every delivery of the old one reported (so none is mistaken for a new one),
    /// and the stream's units forgotten, since the new stream sends everything after the confirmed
    /// position again.
    private func resetForNewStream(_ delivery: DeliveryPath) throws(PipelineError) {
        delivery.purgeUnsentAfterFailure()
        delivery.prepareForReplay()
        delivery.drain(untilEmpty: true) { refreshStatus(delivery: delivery) }
        if let fatal = deliveryState.failures.fatal { throw DeliveryPath.producerFatal(fatal) }
        deliveryState.restartStream()
    }

    /// One replication connection, from connect to stop or failure.
    private func streamSession(delivery: DeliveryPath, progress: inout StreamProgress) throws(PipelineError) {
        let (connection, startPosition) = try openStream(progress: &progress)
        defer { connection.close() }
        // The slot is ours now: what the topics hold is read again before the first record to each.
        delivery.prepareForReplay()
        monitor.transition(to: .streaming)
        logger.info("streaming", metadata: ["slot": "\(settings.slotName)", "from": "\(startPosition)"])
        heartbeat?.start()
        // Each stream reloads the incremental snapshot's progress as of the confirmed position, which is
        // where the new stream starts.
        let incremental = try settings.signalTable.map { table throws(PipelineError) in
            try IncrementalSnapshotter(signalTable: table, settings: settings, logger: logger)
        }
        defer { incremental?.close() }
        if let exactlyOnce = delivery.exactlyOnce, let incremental {
            exactlyOnce.expectRepeatedSnapshotUnits(incremental.takeRepeatedUnits())
        }
        var session = StreamSession(pipeline: self, connection: connection, delivery: delivery, incremental: incremental)
        try session.run()
    }
}

/// What the pipeline knows across stream sessions.
struct StreamProgress {
    /// Whether this run has found or created its slot; until then it may create it, afterwards a missing
    /// slot means data loss.
    var slotEstablished = false
    /// Whether the confirmed position was taken from the slot; the first stream does that.
    var positionAdopted = false
    /// The server's system identifier, once known: a different one is another cluster.
    var systemID: String?
}

/// Wall-clock time for event timestamps (`ts_ms`) and status updates.
enum WallClock {
    static func micros() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
    }

    static func millis() -> Int64 { micros() / 1000 }
}
