import CoreMetrics
import PGOutput

/// Notices a confirmed position that stopped moving while the server's went on: the slot then retains
/// WAL without bound (a broker that does not acknowledge, an event stuck in flight, a transaction too
/// large to finish). Nothing is wrong while both stand still (an idle server).
///
/// A pure state machine: the reader feeds it the confirmed and the server's positions with the time.
struct ConfirmedPositionWatch: Sendable {
    struct Observation: Equatable {
        /// The confirmed position has not moved for the threshold while the server's is ahead of it.
        var isStalled: Bool
        /// How long the confirmed position has not moved.
        var unchangedFor: Duration
        /// Log a warning now: the first at the threshold, then at most once per threshold.
        var warn: Bool
        /// The stall just ended: the confirmed position moved again.
        var recovered: Bool
    }

    /// nil: never stalled (`heartbeat.stall_warning_s: 0`).
    let threshold: Duration?
    private(set) var confirmed = LSN.invalid
    private var movedAt: ContinuousClock.Instant
    private var lastWarningAt: ContinuousClock.Instant?
    private var stalled = false

    init(threshold: Duration?, now: ContinuousClock.Instant) {
        self.threshold = threshold
        movedAt = now
    }

    mutating func observe(confirmed: LSN, server: LSN, at now: ContinuousClock.Instant) -> Observation {
        var recovered = false
        if confirmed != self.confirmed {
            self.confirmed = confirmed
            movedAt = now
            lastWarningAt = nil
            recovered = stalled
        }
        let unchangedFor = now - movedAt
        guard let threshold else {
            return Observation(isStalled: false, unchangedFor: unchangedFor, warn: false, recovered: false)
        }
        stalled = server > confirmed && unchangedFor >= threshold
        var warn = false
        if stalled, lastWarningAt.map({ now - $0 >= threshold }) ?? true {
            warn = true
            lastWarningAt = now
        }
        return Observation(isStalled: stalled, unchangedFor: unchangedFor, warn: warn, recovered: recovered)
    }
}

/// The watch's finding as a metric (swift-metrics; whichever backend the process bootstrapped):
/// `swallow_confirmed_position_stalled` (1 while stalled, else 0), with the dimension `slot`. How long
/// the position has stood still is the monitor's `swallow_last_confirmed_age_seconds`: one gauge per fact.
struct ConfirmedPositionGauges {
    static let stalledLabel = "swallow_confirmed_position_stalled"

    let stalled: Gauge

    init(slot: String, factory: MetricsFactory) {
        stalled = Gauge(label: Self.stalledLabel, dimensions: [("slot", slot)], factory: factory)
    }

    func record(_ observation: ConfirmedPositionWatch.Observation) {
        stalled.record(observation.isStalled ? 1 : 0)
    }
}
