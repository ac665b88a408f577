import PGOutput

/// Decides how far the slot may be confirmed: the end of the newest transaction such that it and every
/// transaction before it had every event acknowledged by the broker.
///
/// A pure state machine, no I/O and no locks: the pipeline owns one and serialises access to it.
/// The replication reader opens and closes *units* (a transaction, or a non-transactional logical
/// message) in the order the server sent them, and registers events into the open unit; delivery
/// reports acknowledge or fail events by id, in any order.
///
/// Event ids increase for the tracker's whole life, across `restart`, so a delivery report from before
/// a restart can never be mistaken for a new event.
public struct AcknowledgementTracker: Sendable {
    struct Unit {
        /// The first event id registered in this unit; its events are `firstEventID ..< next unit's`.
        var firstEventID: UInt64
        var pendingEvents: Int
        /// Where a restart may begin once this unit is done; nil while the unit is still open.
        var endLSN: LSN?
        /// The transaction's commit time (Unix microseconds), for the commit-to-acknowledgement latency.
        var commitTimeMicros: Int64?
    }

    /// Outstanding units, oldest first; `units[head...]` are live. The array is compacted now and then
    /// rather than shifted on each removal.
    private var units: [Unit] = []
    private var head = 0
    private var nextEventID: UInt64 = 1
    /// A server position reported while something was outstanding, confirmed once nothing is.
    private var deferredServerPosition: LSN?

    /// The slot may be confirmed up to here.
    public private(set) var confirmedLSN: LSN
    /// Events registered but not yet acknowledged or failed.
    public private(set) var inFlightEvents = 0
    /// Set by the first failed delivery; from then on the confirmed position does not move until
    /// `restart`, because the failed event must be read again from the slot.
    public private(set) var failedEventID: UInt64?
    /// Commit times (Unix microseconds) of transactions with events that became fully acknowledged
    /// since the last `takeCompletedCommitTimes`, for the commit-to-acknowledgement latency metric.
    /// Bounded by `maxCompletedCommitTimes`: beyond it, completions are not recorded until taken.
    public private(set) var completedCommitTimes: [Int64] = []
    public static let maxCompletedCommitTimes = 4096

    public init(confirmedLSN: LSN) {
        self.confirmedLSN = confirmedLSN
    }

    public var hasOpenUnit: Bool { units.count > head && units[units.count - 1].endLSN == nil }
    /// Nothing is open or awaiting acknowledgement.
    public var isIdle: Bool { units.count == head }

    /// Opens a unit (at `Begin`, or before a non-transactional message).
    /// `commitTimeMicros`: the transaction's commit time (Unix microseconds), when it has one.
    public mutating func openUnit(commitTimeMicros: Int64? = nil) {
        precondition(!hasOpenUnit, "a unit is already open")
        units.append(Unit(firstEventID: nextEventID, pendingEvents: 0, endLSN: nil, commitTimeMicros: commitTimeMicros))
    }

    /// Moves the commit times collected in `completedCommitTimes` to `buffer` (appending), keeping the
    /// tracker's storage for reuse.
    public mutating func takeCompletedCommitTimes(into buffer: inout [Int64]) {
        guard !completedCommitTimes.isEmpty else { return }
        buffer.append(contentsOf: completedCommitTimes)
        completedCommitTimes.removeAll(keepingCapacity: true)
    }

    /// Registers one event of the open unit and returns the id to produce it with.
    public mutating func registerEvent() -> UInt64 {
        precondition(hasOpenUnit, "events belong to an open unit")
        let id = nextEventID
        nextEventID += 1
        units[units.count - 1].pendingEvents += 1
        inFlightEvents += 1
        return id
    }

    /// Closes the open unit (at `Commit`): once all its events are acknowledged, and all earlier units
    /// are done, the slot may be confirmed up to `endLSN`.
    public mutating func closeUnit(endLSN: LSN) {
        precondition(hasOpenUnit, "no unit is open")
        units[units.count - 1].endLSN = endLSN
        advance()
    }

    /// The broker acknowledged event `id`.
    public mutating func acknowledge(_ id: UInt64) {
        guard let index = unitIndex(of: id) else { return }
        units[index].pendingEvents -= 1
        inFlightEvents -= 1
        if index == head { advance() }
    }

    /// The broker did not take event `id`: the position freezes until the stream is restarted.
    public mutating func fail(_ id: UInt64) {
        guard let index = unitIndex(of: id) else { return }
        units[index].pendingEvents -= 1
        inFlightEvents -= 1
        if failedEventID == nil { failedEventID = id }
    }

    /// The server reported its position (a keepalive): everything it decoded before `position` has
    /// reached us. With nothing outstanding, that position is safe to confirm at once, which lets the
    /// server recycle the WAL of an idle (or uncaptured) database. With something outstanding it is kept
    /// and confirmed as soon as everything is acknowledged: the server only sends keepalives while our
    /// reported write position lags its own, so after answering this one it may send no other until new
    /// WAL arrives, and the slot would hold the idle WAL until then.
    ///
    /// A keepalive sent while a transaction streams is safe too: pgoutput (protocol 1) sends a
    /// transaction only after decoding its commit, so the position is at or past that commit, and it is
    /// applied only once that transaction's unit is closed and acknowledged.
    public mutating func serverPositionReported(_ position: LSN) {
        guard failedEventID == nil, position > confirmedLSN else { return }
        if isIdle {
            confirmedLSN = position
        } else if position > (deferredServerPosition ?? .invalid) {
            deferredServerPosition = position
        }
    }

    /// Forgets every outstanding unit for a new stream that resumes from `confirmedLSN` (or from
    /// `position`, when the server holds a later one). Reports still arriving for forgotten events are
    /// ignored: ids keep increasing.
    public mutating func restart(from position: LSN? = nil) {
        units.removeAll(keepingCapacity: true)
        head = 0
        inFlightEvents = 0
        failedEventID = nil
        deferredServerPosition = nil
        if let position, position > confirmedLSN { confirmedLSN = position }
    }

    /// As `restart`, and the confirmed position goes back to `position`: after a promotion, a position
    /// confirmed on the old primary past the point where the new one's timeline began must not be asked
    /// of the new one, which would skip its changes up to there (`SlotContinuity.streamStart`).
    public mutating func restart(rewindingTo position: LSN) {
        restart()
        confirmedLSN = position
    }

    private func unitIndex(of id: UInt64) -> Int? {
        guard units.count > head, id >= units[head].firstEventID, id < nextEventID else { return nil }
        // The last unit whose first id is <= id.
        var low = head, high = units.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if units[middle].firstEventID <= id { low = middle } else { high = middle - 1 }
        }
        return low
    }

    private mutating func advance() {
        guard failedEventID == nil else { return }
        while head < units.count, let end = units[head].endLSN, units[head].pendingEvents == 0 {
            if end > confirmedLSN { confirmedLSN = end }
            if let commitTime = units[head].commitTimeMicros, completedCommitTimes.count < Self.maxCompletedCommitTimes {
                let nextFirstID = head + 1 < units.count ? units[head + 1].firstEventID : nextEventID
                if nextFirstID > units[head].firstEventID { completedCommitTimes.append(commitTime) }
            }
            head += 1
        }
        if head == units.count {
            units.removeAll(keepingCapacity: true)
            head = 0
            if let deferred = deferredServerPosition {
                if deferred > confirmedLSN { confirmedLSN = deferred }
                deferredServerPosition = nil
            }
        } else if head >= 1024, head * 2 >= units.count {
            units.removeFirst(head)
            head = 0
        }
    }
}
