import ChangeEvent
import PGOutput

/// A chunk read between two watermarks, waiting for the close watermark to come through the stream.
///
/// DBLog: the chunk was selected after the open watermark was committed and before the close one. Any
/// streamed change between the two watermarks may or may not be in the selected rows, so its key is
/// dropped from the chunk; the streamed change itself carries the newer state. What remains is emitted
/// at the close watermark, in stream order.
public struct ChunkWindow {
    public let openID: String
    public let closeID: String
    public let relationID: UInt32
    /// Positions of the key columns in the relation's columns.
    public let keyPositions: [Int]
    public var isOpen = false
    /// The snapshot the chunk was read with: a change by a transaction it did not see, streamed before
    /// the close watermark, drops its key even before the open watermark (see `TransactionSnapshot`).
    public var snapshot: TransactionSnapshot?
    public private(set) var rows: [[ColumnValue]] = []
    private var rowByKey: [[[UInt8]]: Int] = [:]
    private var dropped = Set<Int>()

    public init(openID: String, closeID: String, relationID: UInt32, keyPositions: [Int]) {
        self.openID = openID
        self.closeID = closeID
        self.relationID = relationID
        self.keyPositions = keyPositions
    }

    /// Whether a change streamed now by transaction `xid` (nil: unknown) may be missing from the rows
    /// read: between the watermarks, or by a transaction the read's snapshot did not see. Its key must
    /// then leave the chunk (the change's own event carries the newer row).
    public func mayHaveMissed(changeBy xid: UInt32?) -> Bool {
        if isOpen { return true }
        guard let snapshot, let xid else { return false }
        return !snapshot.sees(xid)
    }

    public mutating func append(_ row: [ColumnValue]) {
        if let key = Self.key(of: row, at: keyPositions) { rowByKey[key] = rows.count }
        rows.append(row)
    }

    /// A streamed change of the chunk's table touched `key`.
    public mutating func drop(key: [[UInt8]]) {
        if let index = rowByKey[key] { dropped.insert(index) }
    }

    /// A truncate inside the window: nothing read is current any more.
    public mutating func dropAll() {
        dropped = Set(rows.indices)
    }

    public var remainingRows: [[ColumnValue]] {
        rows.indices.filter { !dropped.contains($0) }.map { rows[$0] }
    }

    public var droppedCount: Int { dropped.count }

    public static func key(of row: [ColumnValue], at positions: [Int]) -> [[UInt8]]? {
        var key: [[UInt8]] = []
        for position in positions {
            guard position < row.count, case .text(let bytes) = row[position] else { return nil }
            key.append(Array(bytes))
        }
        return key
    }

    public static func key(of tuple: TupleData, at positions: [Int]) -> [[UInt8]]? {
        var key: [[UInt8]] = []
        for position in positions {
            guard position < tuple.columns.count, case .text(let bytes) = tuple.columns[position] else { return nil }
            key.append(Array(bytes))
        }
        return key
    }
}
