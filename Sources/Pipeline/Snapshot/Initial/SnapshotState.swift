#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SwallowCore

/// What Swallow remembers about a slot's snapshot between runs, in `<state_dir>/snapshot-<slot>.json`.
///
/// The slot is Swallow's position once streaming; this file only matters while a snapshot is under way.
/// It is written *before* the slot is created, so that a crash at any point after leaves a record saying
/// "this slot's snapshot has not finished": the next start snapshots again (and then streams from the
/// slot, which still holds every change since the first attempt), instead of streaming from a slot whose
/// earlier rows were never delivered.
public struct SnapshotState: Codable, Equatable, Sendable {
    public enum Status: String, Codable, Sendable {
        /// A snapshot began (the slot may or may not exist yet); `doneChunks` are acknowledged.
        case running
        /// Every snapshot record was acknowledged; streaming goes on from the slot.
        case completed
    }

    /// One unit of reading and of resumable progress: a primary-key range or a block range of a table.
    public struct Chunk: Codable, Equatable, Sendable {
        /// Index into `tables`.
        public var table: Int
        /// Position within the table, from 0.
        public var index: Int
        public var isLastOfTable: Bool
        /// Primary-key range `(lower, upper]` as the key columns' text; nil ends are open.
        public var lowerKey: [String]?
        public var upperKey: [String]?
        /// Block range `[lowerBlock, upperBlock)` for tables without a primary key; nil ends are open.
        public var lowerBlock: UInt32?
        public var upperBlock: UInt32?

        public init(table: Int, index: Int, isLastOfTable: Bool, lowerKey: [String]? = nil, upperKey: [String]? = nil,
                    lowerBlock: UInt32? = nil, upperBlock: UInt32? = nil) {
            self.table = table
            self.index = index
            self.isLastOfTable = isLastOfTable
            self.lowerKey = lowerKey
            self.upperKey = upperKey
            self.lowerBlock = lowerBlock
            self.upperBlock = upperBlock
        }
    }

    public struct Table: Codable, Equatable, Sendable {
        public var schema: String
        public var name: String
        /// Primary-key columns the chunks are ranges of; empty for block ranges.
        public var keyColumns: [String]
        /// `pg_class.reltuples` when planned, for progress estimates (-1: never analyzed).
        public var estimatedRows: Double
        /// A partitioned table is read with its partitions (no `ONLY`): it holds no rows itself.
        public var isPartitioned: Bool? = nil

        /// `ONLY <table>`, or the table with its partitions.
        var fromPrefix: String { isPartitioned == true ? "" : "ONLY " }
    }

    public var version = 1
    public var slot: String
    public var systemID: String
    public var database: String
    public var status: Status
    /// Swallow created the slot for this snapshot (for the record: an unfinished snapshot keeps its slot).
    public var slotCreatedForSnapshot: Bool
    /// The slot's consistent point (new slot) or the WAL position when the snapshot was taken.
    public var consistentPoint: String?
    /// The exported snapshot the readers import; a resumed run can continue only while it is still held.
    public var snapshotName: String?
    /// The slot's position when the snapshot began (its consistent point for a new slot): the stream
    /// records Swallow wrote before the snapshot's rows all commit at or below it. With `delivery:
    /// exactly_once` the rows carry a position just below it, and a read of what a topic holds of them
    /// goes back to it. nil in files of earlier versions (the consistent point is used).
    public var streamFloor: String?
    public var tables: [Table] = []
    public var chunks: [Chunk] = []
    public var doneChunks: [Int] = []
    public var startedAt: String
    public var completedAt: String?
    /// The snapshot's exported snapshot was lost before it finished and its unfinished chunks went to
    /// the incremental snapshot (`delivery: exactly_once`).
    public var continuedIncrementally: Bool?

    public init(slot: String, systemID: String, database: String, slotCreatedForSnapshot: Bool, startedAt: Date) {
        self.slot = slot
        self.systemID = systemID
        self.database = database
        self.status = .running
        self.slotCreatedForSnapshot = slotCreatedForSnapshot
        self.startedAt = ISO8601DateFormatter().string(from: startedAt)
    }
}

/// Reads and durably replaces a JSON state file: write a temporary file, fsync it, rename it over the old
/// one, fsync the directory. A crash leaves either the old or the new content, never a mix; of two
/// writers at once, the last rename wins whole.
public struct StateFile<Value: Codable & Sendable>: Sendable {
    public let directory: String
    public let path: String

    public init(directory: String, fileName: String) {
        self.directory = directory
        self.path = (directory as NSString).appendingPathComponent(fileName)
    }

    public func load() throws(PipelineError) -> Value? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw failure("cannot read \(path)", fix: "make it readable by Swallow's user")
        }
        do {
            return try JSONDecoder().decode(Value.self, from: data)
        } catch {
            throw failure("\(path) is not a state file Swallow can read (\(error))",
                          fix: "restore it, or remove it (for a snapshot state file, also drop the slot so that the snapshot starts over)")
        }
    }

    public func save(_ value: Value) throws(PipelineError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(value) } catch {
            throw failure("cannot encode the state (\(error))", fix: "report this")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw failure("cannot create the state directory \(directory) (\(error.localizedDescription))",
                          fix: "create it and make it writable by Swallow's user, or set state_dir to such a directory")
        }
        // A name of its own: two writers of one file (the instances of a hot standby pair sharing
        // state_dir) must not write into each other's temporary file and rename it half-written.
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw failure("cannot write \(temporary) (\(String(cString: strerror(errno))))",
                          fix: "make \(directory) writable by Swallow's user, or set state_dir to a writable directory")
        }
        let written = data.withUnsafeBytes { buffer -> Bool in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        let synced = written && fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw failure("cannot write \(path) (\(reason))", fix: "check free space and permissions of \(directory)")
        }
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }

    public func remove() {
        unlink(path)
    }

    private func failure(_ message: String, fix: String) -> PipelineError {
        PipelineError(code: .state, message: "state file: \(message); \(fix)", isRetriable: false)
    }
}

/// The initial snapshot's state file of a slot.
public typealias SnapshotStateStore = StateFile<SnapshotState>

extension StateFile where Value == SnapshotState {
    public init(directory: String, slot: String) {
        self.init(directory: directory, fileName: "snapshot-\(slot).json")
    }
}

extension StateFile where Value == IncrementalSnapshotState {
    public init(directory: String, slot: String) {
        self.init(directory: directory, fileName: "incremental-\(slot).json")
    }
}
