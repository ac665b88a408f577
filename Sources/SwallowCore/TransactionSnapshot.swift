/// Which transactions a PostgreSQL snapshot sees: `pg_current_snapshot()`'s `xmin:xmax:xip_list`, as
/// an incremental snapshot's chunk read takes it.
///
/// Why the chunk needs it (DBLog on PostgreSQL): a transaction's commit record is written before the
/// transaction becomes visible to new snapshots. A transaction whose commit the stream has already
/// decoded — even one that committed before the open watermark — can therefore still be invisible to the
/// chunk's SELECT, which then reads the row as it was before. Emitted at the close watermark, after the
/// change's own event, that stale read would undo the change for every consumer. So a chunk's row is
/// dropped when a transaction its snapshot did not see changed it before the close watermark, and a
/// chunk is not read while a transaction the stream already sent is invisible to its snapshot.
public struct TransactionSnapshot: Sendable, Equatable {
    /// Every transaction below it is finished (committed or aborted) for this snapshot.
    public var xmin: UInt64
    /// Every transaction at or above it had not started for this snapshot.
    public var xmax: UInt64
    /// Transactions between the two that were in progress.
    public var inProgress: Set<UInt64>

    public init(xmin: UInt64, xmax: UInt64, inProgress: Set<UInt64>) {
        self.xmin = xmin
        self.xmax = xmax
        self.inProgress = inProgress
    }

    /// Parses `pg_current_snapshot()::text`: `xmin:xmax:xip,xip,...` (64-bit transaction ids, the list
    /// possibly empty). Nil for anything else.
    public init?(text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let xmin = UInt64(parts[0]), let xmax = UInt64(parts[1]), xmin <= xmax else { return nil }
        var inProgress: Set<UInt64> = []
        if !parts[2].isEmpty {
            for item in parts[2].split(separator: ",", omittingEmptySubsequences: false) {
                guard let xid = UInt64(item) else { return nil }
                inProgress.insert(xid)
            }
        }
        self.init(xmin: xmin, xmax: xmax, inProgress: inProgress)
    }

    /// Whether the snapshot sees the (committed) transaction `xid`, a 32-bit id as pgoutput's Begin
    /// carries it. It is widened to 64 bits next to `xmax` (within 2^31 either side, as PostgreSQL
    /// compares transaction ids), so a wrap of the 32-bit counter between the two changes nothing.
    public func sees(_ xid: UInt32) -> Bool {
        let distance = Int64(Int32(bitPattern: xid &- UInt32(truncatingIfNeeded: xmax)))
        let full = Int64(bitPattern: xmax) + distance
        guard full >= 0 else { return true }
        let wide = UInt64(full)
        if wide < xmin { return true }
        return wide < xmax && !inProgress.contains(wide)
    }
}
