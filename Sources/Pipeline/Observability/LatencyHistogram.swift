/// A log-linear histogram of non-negative integer values (microseconds here), in the manner of HDR
/// histograms: values below 128 have a bucket each; above, every power of two is cut into 64 equal
/// buckets, so a quantile is off by at most 1/64 (1.6%) of its value. Fixed size (3,712 counters),
/// no allocation per value. Our own rather than a package: it is this small, and the stream only needs
/// quantiles and the exact maximum.
public struct LatencyHistogram: Sendable, Equatable {
    static let linearLimit: Int64 = 128
    static let subBuckets = 64
    /// Enough buckets for every non-negative Int64: `index(of: Int64.max)` is 56 * 64 + 127.
    static let bucketCount = 58 * subBuckets

    private var counts = [UInt64](repeating: 0, count: bucketCount)
    public private(set) var count: UInt64 = 0
    /// The exact largest value recorded; 0 when empty.
    public private(set) var max: Int64 = 0

    public init() {}

    /// Records `value`; negative values count as 0.
    public mutating func record(_ value: Int64) {
        let value = Swift.max(0, value)
        counts[Self.index(of: value)] += 1
        count += 1
        if value > max { max = value }
    }

    /// Adds every value recorded in `other`.
    public mutating func merge(_ other: LatencyHistogram) {
        guard other.count > 0 else { return }
        for index in counts.indices { counts[index] += other.counts[index] }
        count += other.count
        max = Swift.max(max, other.max)
    }

    /// The value at quantile `q` (0...1): the highest value of the bucket holding the ⌈q·count⌉-th
    /// smallest value, never above the exact maximum. 0 when empty.
    public func value(atQuantile q: Double) -> Int64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((q * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for index in counts.indices {
            seen += counts[index]
            if seen >= rank { return Swift.min(Self.highestValue(inBucket: index), max) }
        }
        return max
    }

    static func index(of value: Int64) -> Int {
        if value < linearLimit { return Int(value) }
        // The top seven significant bits select the bucket: 64 per power of two from 128 on.
        let shift = (63 - value.leadingZeroBitCount) - 6
        return shift * subBuckets + Int(value >> shift)
    }

    static func highestValue(inBucket index: Int) -> Int64 {
        if index < Int(linearLimit) { return Int64(index) }
        let shift = index / subBuckets - 1
        let top = Int64(index - shift * subBuckets)   // 64...127
        // The bucket holds top << shift ... ((top + 1) << shift) - 1.
        // The last bucket's end, 128 << 56, wraps to Int64.min, and minus one is Int64.max.
        return ((top + 1) &<< shift) &- 1
    }
}

/// Commit-to-acknowledgement latency over a rotating window: the values of the period in progress and
/// of the one before it (so the window covers between one and two periods), for `/status`'s exact
/// quantiles. A fresh process starts with an empty window.
public struct RotatingLatencyWindow: Sendable {
    public let periodMicros: Int64
    private var current = LatencyHistogram()
    private var previous = LatencyHistogram()
    private var currentStart: Int64
    private var previousStart: Int64?

    public init(periodSeconds: Int = 60, nowMicros: Int64) {
        periodMicros = Int64(periodSeconds) * 1_000_000
        currentStart = nowMicros
    }

    public mutating func record(_ valueMicros: Int64, nowMicros: Int64) {
        rotate(nowMicros: nowMicros)
        current.record(valueMicros)
    }

    /// Starts a new period when the current one is over; one that ended more than a period ago leaves
    /// nothing behind.
    public mutating func rotate(nowMicros: Int64) {
        let elapsed = nowMicros - currentStart
        guard elapsed >= periodMicros else { return }
        if elapsed < 2 * periodMicros {
            previous = current
            previousStart = currentStart
        } else {
            previous = LatencyHistogram()
            previousStart = nil
        }
        current = LatencyHistogram()
        currentStart = nowMicros
    }

    /// The window's figures as of `nowMicros`.
    public mutating func summary(nowMicros: Int64) -> PipelineStatus.LatencySummary {
        rotate(nowMicros: nowMicros)
        var merged = previous
        merged.merge(current)
        let start = previousStart ?? currentStart
        func ms(_ micros: Int64) -> Double { (Double(micros) / 10).rounded() / 100 }
        return PipelineStatus.LatencySummary(
            count: Int(merged.count), p50: ms(merged.value(atQuantile: 0.5)), p99: ms(merged.value(atQuantile: 0.99)),
            p999: ms(merged.value(atQuantile: 0.999)), max: ms(merged.max),
            windowSeconds: Double(Swift.max(0, nowMicros - start) / 100_000) / 10)
    }
}
