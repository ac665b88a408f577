/// Which state machine a produced record belongs to, carried through librdkafka as the record's
/// 64-bit opaque id so its delivery report finds its owner without a table of in-flight records:
///
///     bit 63 = 0   a stream event: `AcknowledgementTracker`'s event id (counting up from 1; it never
///                  reaches 2^63). Stream units hold changes, transaction metadata, logical messages,
///                  incremental-snapshot chunks and heartbeat records alike: each confirms a slot position.
///     bit 63 = 1   an initial-snapshot record: `SnapshotProgress`'s id (generation, chunk, record).
public enum DeliveryID: Sendable, Hashable, CustomStringConvertible {
    /// An id `AcknowledgementTracker.registerEvent` returned (bit 63 clear).
    case streamEvent(UInt64)
    /// An id `SnapshotProgress.register(chunk:)` returned (bit 63 set).
    case snapshotRecord(UInt64)

    static let snapshotFlag: UInt64 = 1 << 63

    /// The id handed to the producer: the owner's id as it is (the owners' id spaces do not overlap).
    public var rawValue: UInt64 {
        switch self {
        case .streamEvent(let id), .snapshotRecord(let id): id
        }
    }

    /// The id a delivery report carries back, sorted by owner.
    public init(rawValue: UInt64) {
        self = rawValue & Self.snapshotFlag == 0 ? .streamEvent(rawValue) : .snapshotRecord(rawValue)
    }

    public var description: String {
        switch self {
        case .streamEvent(let id): "stream event \(id)"
        case .snapshotRecord(let id): "snapshot record \(String(id, radix: 16))"
        }
    }
}
