import Foundation
import PGOutput

/// What an incremental snapshot still has to do; persisted in `<state_dir>/incremental-<slot>.json` once
/// the stream position it belongs to is confirmed, so a restart continues from the last delivered chunk.
public struct IncrementalSnapshotState: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var schema: String
        public var table: String
        /// An additional condition (SQL) rows must meet.
        public var filter: String?
        /// The snapshot unit its rows are tagged with (`SnapshotTag`): a new one per requested table,
        /// or the initial snapshot's chunk this entry reads the rest of. nil in files of earlier versions.
        public var unit: String?
        /// For the rest of an initial snapshot's chunk, that snapshot's stream floor (`SnapshotState`);
        /// for a requested table, the request's position (the signal's commit LSN). What a read of the
        /// topics for rows already delivered goes back to (see `repeatedUnitFloor(savedAt:)`).
        public var floor: String?
        public var name: String { "\(schema).\(table)" }
        /// The rest of an interrupted initial snapshot's chunk, not a requested table.
        public var continuesInitialSnapshot: Bool { unit?.hasPrefix("initial:") == true }

        /// The floor of its unit (`SnapshotTailScan`) when the state was saved at `savedAt`: an initial
        /// snapshot's rows carry a position just below its stream floor; a requested table's rows that
        /// matter were read after both the request and the saved progress.
        public func repeatedUnitFloor(savedAt: LSN?) -> LSN {
            let own = floor.flatMap { LSN(string: $0) } ?? LSN(0)
            if continuesInitialSnapshot { return RecordPosition.belowCommits(at: own).commitLSN }
            return max(own, savedAt ?? LSN(0))
        }

        public init(schema: String, table: String, filter: String? = nil, unit: String? = nil, floor: String? = nil) {
            self.schema = schema
            self.table = table
            self.filter = filter
            self.unit = unit
            self.floor = floor
        }
    }
    /// Tables still to read; the first is being read.
    public var queue: [Entry] = []
    /// The last key read of the first table (exclusive lower bound of the next chunk).
    public var lastKey: [String]?
    /// The first table's greatest key when its reading began: rows inserted later arrive by the stream.
    public var maximumKey: [String]?
    /// Ids of signals already acted on, so a signal the stream repeats after a restart is not run twice.
    public var handledSignals: [String] = []
    /// The stream position this state belongs to (the end of the transaction after which it held), once
    /// saved: rows read after it were produced at later positions.
    public var position: String?

    public init() {}
}
