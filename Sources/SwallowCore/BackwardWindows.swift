/// The windows a scan reads a partition's log in, backwards from its end: first the last `firstSize`
/// offsets, then windows twice the size of the one before, each ending where the previous one began,
/// never below the log start. Shared by ``TailScan`` and ``SnapshotTailScan``: a scan that stops early
/// reads little, one that reads to the start reads every offset once.
public struct BackwardWindows: Sendable, Equatable {
    public let low: Int64
    public let end: Int64
    /// The window being read; nil once the log start was passed (or the log is empty).
    public private(set) var current: Range<Int64>?
    private var nextSize: Int64

    /// `low ..< end`: the partition's offsets.
    public init(low: Int64, end: Int64, firstSize: Int64) {
        precondition(firstSize > 0, "a window covers at least one offset")
        self.low = low
        self.end = end
        current = end > low ? Self.window(endingAt: end, size: firstSize, low: low) : nil
        nextSize = Self.doubled(firstSize)
    }

    /// Moves to the window before the current one; nil when the current one began at the log start.
    @discardableResult
    public mutating func advance() -> Range<Int64>? {
        guard let window = current, window.lowerBound > low else {
            current = nil
            return nil
        }
        current = Self.window(endingAt: window.lowerBound, size: nextSize, low: low)
        nextSize = Self.doubled(nextSize)
        return current
    }

    private static func doubled(_ size: Int64) -> Int64 { size > Int64.max / 2 ? Int64.max : size * 2 }

    /// `size` offsets ending at `end`, cut at `low`; computed without overflowing.
    private static func window(endingAt end: Int64, size: Int64, low: Int64) -> Range<Int64> {
        let start = end.subtractingReportingOverflow(low).overflow || end - low > size ? end - size : low
        return start..<end
    }
}
