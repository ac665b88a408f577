import PGOutput

/// Everything the broker has yet to acknowledge, by owner: the stream's units
/// (`AcknowledgementTracker`) and, while an initial snapshot runs, its chunks (`SnapshotProgress`).
/// Delivery reports are settled here by `DeliveryID`, so neither owner sees the other's ids.
///
/// A pure value: the delivery path keeps it under its lock, the reader registers records into it, and
/// the producer's poll thread settles reports.
public struct DeliveryLedger: Sendable {
    /// The stream's units: how far the slot may be confirmed.
    public var stream: AcknowledgementTracker
    /// The initial snapshot's chunks while one is being read; nil otherwise.
    public var snapshot: SnapshotProgress?

    public init(confirmedLSN: LSN) {
        stream = AcknowledgementTracker(confirmedLSN: confirmedLSN)
    }

    /// Records of every owner awaiting a report.
    public var inFlightEvents: Int { stream.inFlightEvents + (snapshot?.inFlightEvents ?? 0) }

    /// Settles one delivery report with its owner. A report for an owner that is gone (a snapshot
    /// attempt given up) or an id it forgot (before a restart) changes nothing.
    public mutating func settle(_ id: DeliveryID, delivered: Bool) {
        switch (id, delivered) {
        case (.streamEvent(let raw), true): stream.acknowledge(raw)
        case (.streamEvent(let raw), false): stream.fail(raw)
        case (.snapshotRecord(let raw), true): snapshot?.acknowledge(raw)
        case (.snapshotRecord(let raw), false): snapshot?.fail(raw)
        }
    }
}
