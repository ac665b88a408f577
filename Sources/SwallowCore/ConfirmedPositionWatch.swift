import PGOutput

/// Notices a confirmed position that stopped moving while the server's went on: the slot then retains
/// WAL without bound (a broker that does not acknowledge, an event stuck in flight, a transaction too
/// large to finish). Nothing is wrong while both stand still (an idle server).
///
/// A pure state machine: the reader feeds it the confirmed and the server's positions with the time.
public struct ConfirmedPositionWatch: Sendable {
    public struct Observation: Equatable, Sendable {
        /// The confirmed position has not moved for the threshold while the server's is ahead of it.
        public var isStalled: Bool
        /// How long the confirmed position has not moved.
        public var unchangedFor: Duration
        /// Log a warning now: the first at the threshold, then at most once per threshold.
        public var warn: Bool
        /// The stall just ended: the confirmed position moved again.
        public var recovered: Bool
    }

    /// nil: never stalled (`heartbeat.stall_warning_s: 0`).
    public let threshold: Duration?
    public private(set) var confirmed = LSN.invalid
    private var movedAt: ContinuousClock.Instant
    private var lastWarningAt: ContinuousClock.Instant?
    private var stalled = false

    public init(threshold: Duration?, now: ContinuousClock.Instant) {
        self.threshold = threshold
        movedAt = now
    }

    public mutating func observe(confirmed: LSN, server: LSN, at now: ContinuousClock.Instant) -> Observation {
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

