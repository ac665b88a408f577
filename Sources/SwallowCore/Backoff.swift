/// Exponential backoff between reconnects: 0.5 s doubling to 30 s, reset once the stream made progress.
public struct Backoff: Sendable {
    private var attempt = 0

    public init() {}

    public mutating func next() -> Int {
        defer { attempt += 1 }
        return min(500 << min(attempt, 6), 30_000)
    }
    public mutating func reset() { attempt = 0 }
}
