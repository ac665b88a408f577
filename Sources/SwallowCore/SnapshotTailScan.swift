import PGOutput

/// Finds which rows of some snapshot units one partition already holds, reading its log backwards from
/// the end: the plan only, without a consumer, like ``TailScan``. `delivery: exactly_once` runs one per
/// partition of a topic before it produces a snapshot row of a unit that may have been read before (see
/// ``SnapshotTag``), and skips the rows found.
///
/// What it collects: the identity (``SnapshotRowIdentity``) of every record of this stream whose
/// `swallow.snapshot` header names one of `units`, in the windows read. A record a read_committed reader
/// sees is delivered: on a real broker a committed one, on librdkafka's mock cluster any (it keeps
/// aborted records visible), so what is found is exactly what a consumer has.
///
/// Each unit comes with a floor: its rows that matter carry a position (`swallow.position`) whose commit
/// position is at or above it, and were written after every stream record of this stream at or below
/// it. For an initial snapshot's chunk, the position its rows carry (just below the slot's position when
/// the snapshot began: every stream record written before the snapshot commits below it). For a table of
/// an incremental snapshot, the later of the request's position and the position its saved progress
/// belongs to (rows read after that progress are produced at later stream positions; rows before it are
/// below the key the reading continues from). A row of a unit below its floor is passed over.
///
/// Where it stops: at the first window holding a stream record of this stream (`swallow.position`
/// without `swallow.snapshot`) whose commit position is at or below the lowest floor, or at the log
/// start. It cannot stop at the first record of a unit: rows of one unit are spread over the partitions
/// and, with several readers, interleaved with other units.
///
/// A `swallow.snapshot` header that does not parse ends the scan with `malformedTag`: it may be a row of
/// a unit that cannot be told apart, and producing it again would repeat it.
public struct SnapshotTailScan: Sendable {
    public struct Record: Sendable, Equatable {
        public var offset: Int64
        public var key: [UInt8]?
        public var headers: [RecordHeader]

        public init(offset: Int64, key: [UInt8]?, headers: [RecordHeader]) {
            self.offset = offset
            self.key = key
            self.headers = headers
        }
    }

    public enum Step: Sendable, Equatable {
        /// Read the records at these offsets, feed them with `receive`, then call `endWindow`.
        case read(Range<Int64>)
        /// Every window that can hold rows of the units was read: `delivered` is complete.
        case finished
        /// The record at `offset` has a `swallow.snapshot` header that does not parse (nil: a null value,
        /// or more than one such header).
        case malformedTag(offset: Int64, value: [UInt8]?)
    }

    public let stream: String
    /// The units looked for, with their floors.
    public let units: [String: LSN]
    /// The lowest floor: where the scan stops.
    public let floor: LSN
    public private(set) var step: Step
    /// The rows found, by unit.
    public private(set) var delivered: [String: Set<SnapshotRowIdentity>] = [:]
    public private(set) var recordsExamined = 0
    private var windows: BackwardWindows
    private var windowReachedFloor = false
    private var windowMalformed: (offset: Int64, value: [UInt8]?)?

    public init(stream: String, units: [String: LSN], low: Int64, end: Int64, firstWindow: Int64 = 1000) {
        self.stream = stream
        self.units = units
        self.floor = units.values.min() ?? LSN(0)
        windows = BackwardWindows(low: low, end: end, firstSize: firstWindow)
        step = units.isEmpty ? .finished : windows.current.map { .read($0) } ?? .finished
    }

    public var isFinished: Bool {
        if case .read = step { false } else { true }
    }

    public mutating func receive(_ record: Record) {
        guard case .read(let window) = step else { preconditionFailure("the scan is not reading a window") }
        guard window.contains(record.offset) else { return }
        recordsExamined += 1
        var tagHeaders = 0
        var tagValue: [UInt8]?
        var position: RecordPosition?
        for header in record.headers {
            if header.key == SnapshotTag.headerName {
                tagHeaders += 1
                tagValue = header.value
            } else if header.key == RecordPosition.headerName, let value = header.value,
                      let (found, _, stream) = RecordPosition.decode(value), stream == self.stream {
                position = found
            }
        }
        guard tagHeaders > 0 else {
            if let position, position.commitLSN <= floor { windowReachedFloor = true }
            return
        }
        guard tagHeaders == 1, let value = tagValue, let (tag, stream) = SnapshotTag.decode(value) else {
            if record.offset >= windowMalformed?.offset ?? Int64.min {
                windowMalformed = (record.offset, tagHeaders == 1 ? tagValue : nil)
            }
            return
        }
        guard stream == self.stream, let unitFloor = units[tag.unit],
              (position?.commitLSN ?? LSN(UInt64.max)) >= unitFloor else { return }
        delivered[tag.unit, default: []].insert(SnapshotRowIdentity(key: record.key, tag: tag))
    }

    public mutating func endWindow() {
        guard case .read = step else { preconditionFailure("the scan is not reading a window") }
        defer {
            windowReachedFloor = false
            windowMalformed = nil
        }
        if let malformed = windowMalformed {
            step = .malformedTag(offset: malformed.offset, value: malformed.value)
        } else if windowReachedFloor {
            step = .finished
        } else {
            step = windows.advance().map { .read($0) } ?? .finished
        }
    }

    public mutating func receive(window records: some Sequence<Record>) {
        for record in records { receive(record) }
        endWindow()
    }
}
