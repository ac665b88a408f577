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
        public var name: String { "\(schema).\(table)" }

        public init(schema: String, table: String, filter: String? = nil) {
            self.schema = schema
            self.table = table
            self.filter = filter
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

    public init() {}
}
