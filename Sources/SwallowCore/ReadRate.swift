/// Rows read in a time, and what that says about the rest: the figures the snapshots' logs, `/status`
/// and metrics quote, computed one way.
public struct ReadRate: Sendable, Equatable {
    public var rows: Int
    public var seconds: Double

    public init(rows: Int, seconds: Double) {
        self.rows = rows
        self.seconds = seconds
    }

    /// Rows read from `start` until now.
    public init(rows: Int, since start: ContinuousClock.Instant, now: ContinuousClock.Instant = .now) {
        let elapsed = now - start
        self.init(rows: rows, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// Rows per second; 0 before any time has passed.
    public var rowsPerSecond: Double { seconds > 0 ? Double(rows) / seconds : 0 }

    /// Whole rows per second as the completion logs quote it: all the rows when no time has passed.
    public var wholeRowsPerSecond: Int { seconds > 0 ? Int(rowsPerSecond) : rows }

    /// Seconds until `estimatedRows` are read at this rate; nil without an estimate or a rate.
    public func secondsLeft(estimatedRows: Double) -> Double? {
        guard estimatedRows > 0, rowsPerSecond > 0 else { return nil }
        return max(0, estimatedRows - Double(rows)) / rowsPerSecond
    }

    /// The seconds with one decimal, as the logs quote them.
    public var secondsText: String {
        let tenths = Int((seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
