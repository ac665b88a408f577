/// Finds the highest position of one stream's records in one partition, reading its log backwards from
/// the end: the plan only, without a consumer. The pipeline runs one per partition it writes before it
/// produces anything with `delivery: exactly_once`, and feeds the result to ``DeliveredPositions``.
///
/// The partition holds offsets `low ..< end` (its log start and its high watermark, or for a
/// read_committed reader its last stable offset). The scan asks for windows: first the last
/// `firstWindow` offsets, then windows twice the size of the one before, each ending where the previous
/// one began, never below `low`. For each window the caller reads every record a read_committed reader
/// sees at offsets in it, feeds them (`receive`) and says the window is done (`endWindow`). Offsets may be
/// missing inside a window (transaction markers, aborted records, compaction): only the records fed count.
/// Records fed outside the window (a consumer returns whole batches) are ignored.
///
/// The first window holding any record of the stream ends the scan with the highest position among them:
/// Swallow writes each partition in increasing position order, so no earlier window can hold a higher
/// one. Records without the position header, and records of other streams, are passed over. A record
/// whose `swallow.position` header does not parse ends the scan with `malformedPosition`, wherever it is
/// in a window read: it may be a record of this stream that cannot be told apart, and skipping by a
/// position read past it could lose or repeat records, so the pipeline stops and names it.
public struct TailScan: Sendable {
    /// One record as the consumer returned it: its offset and all its headers.
    public struct Record: Sendable, Equatable {
        public var offset: Int64
        public var headers: [RecordHeader]

        public init(offset: Int64, headers: [RecordHeader]) {
            self.offset = offset
            self.headers = headers
        }
    }

    public enum Step: Sendable, Equatable {
        /// Read the records at these offsets, feed them with `receive`, then call `endWindow`.
        case read(Range<Int64>)
        /// The stream's highest position in the partition, the offset of the record carrying it, and
        /// the topic's partition count when that record was placed.
        case found(RecordPosition, offset: Int64, partitionCount: Int32)
        /// No record of the stream between `low` and `end`: the partition has delivered nothing of it.
        case notFound
        /// The record at `offset` has a `swallow.position` header that does not parse: the value (nil for
        /// a header with a null value, or when the record has more than one such header, which Swallow
        /// never writes).
        case malformedPosition(offset: Int64, value: [UInt8]?)
    }

    /// The stream id whose records count (the transactional id written in each header).
    public let stream: String
    public let low: Int64
    public let end: Int64
    /// What to do next; the scan is over once it is anything but `read`.
    public private(set) var step: Step
    /// Records fed inside their window, over the whole scan (for the log).
    public private(set) var recordsExamined = 0
    private var windows: BackwardWindows
    /// The current window's highest position of the stream, and its malformed record with the highest
    /// offset (the first a reader going backwards would meet).
    private var windowHighest: (position: RecordPosition, offset: Int64, partitionCount: Int32)?
    private var windowMalformed: (offset: Int64, value: [UInt8]?)?

    /// `low ..< end`: the partition's offsets. `firstWindow`: how many offsets the first window covers.
    public init(stream: String, low: Int64, end: Int64, firstWindow: Int64 = 100) {
        self.stream = stream
        self.low = low
        self.end = end
        windows = BackwardWindows(low: low, end: end, firstSize: firstWindow)
        step = windows.current.map { .read($0) } ?? .notFound
    }

    public var isFinished: Bool {
        if case .read = step { false } else { true }
    }

    /// One record read from the partition while the scan asks for a window.
    public mutating func receive(_ record: Record) {
        guard case .read(let window) = step else { preconditionFailure("the scan is not reading a window") }
        guard window.contains(record.offset) else { return }
        recordsExamined += 1
        let positionHeaders = record.headers.filter { $0.key == RecordPosition.headerName }
        guard let header = positionHeaders.first else { return }
        guard positionHeaders.count == 1, let value = header.value,
              let (position, partitionCount, stream) = RecordPosition.decode(value)
        else {
            if record.offset >= windowMalformed?.offset ?? Int64.min {
                windowMalformed = (record.offset, positionHeaders.count == 1 ? header.value : nil)
            }
            return
        }
        guard stream == self.stream else { return }
        if windowHighest.map({ $0.position < position }) ?? true {
            windowHighest = (position, record.offset, partitionCount)
        }
    }

    /// Every record of the current window was fed: the scan finishes or asks for the window before it.
    public mutating func endWindow() {
        guard case .read = step else { preconditionFailure("the scan is not reading a window") }
        defer {
            windowHighest = nil
            windowMalformed = nil
        }
        if let malformed = windowMalformed {
            step = .malformedPosition(offset: malformed.offset, value: malformed.value)
        } else if let found = windowHighest {
            step = .found(found.position, offset: found.offset, partitionCount: found.partitionCount)
        } else {
            step = windows.advance().map { .read($0) } ?? .notFound
        }
    }

    /// Feeds a whole window's records and ends it.
    public mutating func receive(window records: some Sequence<Record>) {
        for record in records { receive(record) }
        endWindow()
    }
}
