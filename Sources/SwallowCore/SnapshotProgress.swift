/// Which chunks of an initial snapshot the broker has fully acknowledged.
///
/// A pure state machine like ``AcknowledgementTracker``, owned by the pipeline under its lock. Readers
/// register each record of a chunk before producing it and close the chunk once every row was read;
/// delivery reports acknowledge or fail records by id, in any order. A chunk is *done* when it is
/// closed and every record it registered was acknowledged: only then may it be written to the state
/// file as needing no re-read.
///
/// Record ids carry their chunk, so a delivery report finds its chunk without a table of in-flight ids:
///
///     bit 63      1 (a snapshot record; streamed events count up from 1 and never reach it)
///     bits 56-62  generation (bumped by `restart`, so a stale report cannot touch a re-read chunk)
///     bits 32-55  chunk number
///     bits 0-31   record number within the chunk
public struct SnapshotProgress: Sendable {
    static let snapshotFlag = DeliveryID.snapshotFlag
    public static let maxChunks = 1 << 24
    static let maxRecordsPerChunk = UInt64(UInt32.max)

    struct ChunkState {
        var registered: UInt64 = 0
        var pending = 0
        var closed = false
        var failed = false
    }

    /// Chunks being read or awaiting acknowledgements.
    private var open: [Int: ChunkState] = [:]
    public private(set) var done: Set<Int>
    /// Done chunks not yet taken by `takeNewlyDone()` (to be persisted).
    private var newlyDone: [Int] = []
    public private(set) var inFlightEvents = 0
    /// Set by the first failed delivery: the chunk must be read again, after `restart`.
    public private(set) var failed = false
    private var generation: UInt64 = 0
    public let chunkCount: Int

    /// `done`: chunks a previous attempt at the same snapshot already completed.
    public init(chunkCount: Int, done: Set<Int> = []) {
        precondition(chunkCount <= Self.maxChunks, "too many chunks")
        self.chunkCount = chunkCount
        self.done = done
    }

    /// Whether a delivery report's id belongs to a snapshot record.
    public static func owns(_ id: UInt64) -> Bool {
        if case .snapshotRecord = DeliveryID(rawValue: id) { true } else { false }
    }

    public var isComplete: Bool { done.count == chunkCount }

    /// Registers the next record of `chunk` and returns the id to produce it with.
    public mutating func register(chunk: Int) -> UInt64 {
        var state = open[chunk] ?? ChunkState()
        precondition(!state.closed, "chunk \(chunk) is closed")
        precondition(state.registered < Self.maxRecordsPerChunk, "chunk \(chunk) has too many records")
        let id = Self.snapshotFlag | (generation & 0x7f) << 56 | UInt64(chunk) << 32 | state.registered
        state.registered += 1
        state.pending += 1
        open[chunk] = state
        inFlightEvents += 1
        return id
    }

    /// Every row of `chunk` was read (and every record registered).
    public mutating func close(chunk: Int) {
        var state = open[chunk] ?? ChunkState()
        state.closed = true
        open[chunk] = state
        finishIfDone(chunk, state)
    }

    public mutating func acknowledge(_ id: UInt64) { settle(id, failed: false) }

    public mutating func fail(_ id: UInt64) { settle(id, failed: true) }

    /// One record of a live chunk is no longer in flight: acknowledged (the chunk may be done) or failed
    /// (the chunk, and the snapshot, are not).
    private mutating func settle(_ id: UInt64, failed recordFailed: Bool) {
        guard let (chunk, state) = liveChunk(of: id) else { return }
        var updated = state
        updated.pending -= 1
        inFlightEvents -= 1
        if recordFailed {
            updated.failed = true
            failed = true
        }
        open[chunk] = updated
        if !recordFailed { finishIfDone(chunk, updated) }
    }

    /// Chunks that became done since the last call, in completion order.
    public mutating func takeNewlyDone() -> [Int] {
        defer { newlyDone.removeAll() }
        return newlyDone
    }

    /// Forgets every chunk that is not done, for another attempt: those chunks are read again from the
    /// start, and reports still arriving for their old records are ignored.
    public mutating func restart() {
        open.removeAll()
        inFlightEvents = 0
        failed = false
        generation += 1
    }

    private func liveChunk(of id: UInt64) -> (Int, ChunkState)? {
        guard Self.owns(id), (id >> 56) & 0x7f == generation & 0x7f else { return nil }
        let chunk = Int((id >> 32) & 0xff_ffff)
        guard let state = open[chunk], id & 0xffff_ffff < state.registered else { return nil }
        return (chunk, state)
    }

    private mutating func finishIfDone(_ chunk: Int, _ state: ChunkState) {
        guard !state.failed, state.closed, state.pending == 0 else { return }
        open[chunk] = nil
        if done.insert(chunk).inserted { newlyDone.append(chunk) }
    }
}
