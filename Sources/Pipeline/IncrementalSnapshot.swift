import ChangeEvent
import Foundation
import Logging
import PGOutput
import PGReplication
import SwallowConfig

/// A row of the signal table (`snapshot.signal_table`, Debezium's `signal.data.collection`):
/// `id varchar(42) PRIMARY KEY, type varchar(32), data varchar(2048)`.
public enum SnapshotSignal: Equatable, Sendable {
    /// `execute-snapshot`, data `{"data-collections": ["schema.table", ...], "type": "incremental",
    /// "additional-conditions": [{"data-collection": "schema.table", "filter": "<SQL condition>"}]}`.
    /// Data collections are regular expressions matched against whole `schema.table` names.
    case executeSnapshot(dataCollections: [String], conditions: [String: String])
    /// `stop-snapshot`, data `{"data-collections": [...], "type": "incremental"}`; no collections stops all.
    case stopSnapshot(dataCollections: [String])
    /// Watermarks Swallow writes around each chunk read.
    case windowOpen
    case windowClose

    public static let executeType = "execute-snapshot"
    public static let stopType = "stop-snapshot"
    public static let openType = "snapshot-window-open"
    public static let closeType = "snapshot-window-close"

    /// Parses a signal; nil for a type Swallow does not act on. Throws a message for a malformed one.
    public static func parse(type: String, data: String?) throws(SignalError) -> SnapshotSignal? {
        switch type {
        case openType: return .windowOpen
        case closeType: return .windowClose
        case executeType, stopType: break
        default: return nil
        }
        let object: [String: Any]
        if let data, !data.isEmpty {
            guard let parsed = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] else {
                throw SignalError(message: "its data is not a JSON object")
            }
            object = parsed
        } else {
            object = [:]
        }
        if let kind = object["type"] {
            guard let text = kind as? String, text.lowercased() == "incremental" else {
                throw SignalError(message: "snapshot type \(kind) is not supported; use \"incremental\"")
            }
        }
        var collections: [String] = []
        if let raw = object["data-collections"] {
            guard let list = raw as? [String] else {
                throw SignalError(message: "data-collections must be a list of table names")
            }
            collections = list.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        for pattern in collections where (try? Regex(pattern)) == nil {
            throw SignalError(message: "data collection \"\(pattern)\" is not a valid regular expression")
        }
        if type == stopType { return .stopSnapshot(dataCollections: collections) }
        guard !collections.isEmpty else {
            throw SignalError(message: "execute-snapshot needs data-collections, e.g. {\"data-collections\": [\"public.orders\"]}")
        }
        var conditions: [String: String] = [:]
        if let raw = object["additional-conditions"] {
            guard let list = raw as? [[String: Any]] else {
                throw SignalError(message: "additional-conditions must be a list of {\"data-collection\": ..., \"filter\": ...}")
            }
            for entry in list {
                guard let table = entry["data-collection"] as? String, let filter = entry["filter"] as? String else {
                    throw SignalError(message: "each additional condition needs \"data-collection\" and \"filter\" strings")
                }
                conditions[table.lowercased()] = filter
            }
        }
        return .executeSnapshot(dataCollections: collections, conditions: conditions)
    }
}

public struct SignalError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// What an incremental snapshot still has to do; persisted in `<state_dir>/incremental-<slot>.json` once
/// the stream position it belongs to is confirmed, so a restart continues from the last delivered chunk.
public struct IncrementalSnapshotState: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var schema: String
        public var table: String
        /// An additional condition (SQL) rows must meet.
        public var filter: String?
        public var name: String { "\(schema).\(table)" }
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

/// A chunk read between two watermarks, waiting for the close watermark to come through the stream.
///
/// DBLog: the chunk was selected after the open watermark was committed and before the close one. Any
/// streamed change between the two watermarks may or may not be in the selected rows, so its key is
/// dropped from the chunk; the streamed change itself carries the newer state. What remains is emitted
/// at the close watermark, in stream order.
struct ChunkWindow {
    let openID: String
    let closeID: String
    let relationID: UInt32
    /// Positions of the key columns in the relation's columns.
    let keyPositions: [Int]
    var isOpen = false
    private(set) var rows: [[ColumnValue]] = []
    private var rowByKey: [[[UInt8]]: Int] = [:]
    private var dropped = Set<Int>()

    init(openID: String, closeID: String, relationID: UInt32, keyPositions: [Int]) {
        self.openID = openID
        self.closeID = closeID
        self.relationID = relationID
        self.keyPositions = keyPositions
    }

    mutating func append(_ row: [ColumnValue]) {
        if let key = Self.key(of: row, at: keyPositions) { rowByKey[key] = rows.count }
        rows.append(row)
    }

    /// A streamed change of the chunk's table touched `key`.
    mutating func drop(key: [[UInt8]]) {
        if let index = rowByKey[key] { dropped.insert(index) }
    }

    /// A truncate inside the window: nothing read is current any more.
    mutating func dropAll() {
        dropped = Set(rows.indices)
    }

    var remainingRows: [[ColumnValue]] {
        rows.indices.filter { !dropped.contains($0) }.map { rows[$0] }
    }

    var droppedCount: Int { dropped.count }

    static func key(of row: [ColumnValue], at positions: [Int]) -> [[UInt8]]? {
        var key: [[UInt8]] = []
        for position in positions {
            guard position < row.count, case .text(let bytes) = row[position] else { return nil }
            key.append(Array(bytes))
        }
        return key
    }

    static func key(of tuple: TupleData, at positions: [Int]) -> [[UInt8]]? {
        var key: [[UInt8]] = []
        for position in positions {
            guard position < tuple.columns.count, case .text(let bytes) = tuple.columns[position] else { return nil }
            key.append(Array(bytes))
        }
        return key
    }
}

/// Writes a signal for a running Swallow: what `swallow snapshot` does.
public enum SnapshotRequest {
    /// Inserts an `execute-snapshot` (or `stop-snapshot`) signal for `tables` (`schema.table`, or a bare
    /// name in `public`; regular expressions are allowed, as in Debezium) and returns its id. `filter`, an
    /// SQL condition, applies to every table of the request.
    public static func send(settings: PipelineSettings, tables: [String], filter: String?, stop: Bool) throws(PipelineError) -> String {
        guard let signal = settings.signalTable else {
            throw PipelineError(code: .configuration,
                                message: "snapshot.signal_table is not set; add it to the configuration (and create the table: CREATE TABLE public.swallow_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))), then restart Swallow",
                                isRetriable: false)
        }
        let names = tables.map { $0.contains(".") ? $0 : "public.\($0)" }
        if !stop && names.isEmpty {
            throw PipelineError(code: .configuration, message: "name at least one table, e.g. --tables public.orders",
                                isRetriable: false)
        }
        var data: [String: Any] = ["data-collections": names, "type": "incremental"]
        if let filter, !stop {
            data["additional-conditions"] = names.map { ["data-collection": $0, "filter": filter] }
        }
        let json: String
        do {
            json = String(decoding: try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys]), as: UTF8.self)
        } catch {
            throw PipelineError(code: .configuration, message: "cannot encode the signal: \(error)", isRetriable: false)
        }
        guard json.utf8.count <= 2048 else {
            throw PipelineError(code: .configuration, message: "the signal's data is \(json.utf8.count) bytes, over the signal table's 2048; request fewer tables at a time",
                                isRetriable: false)
        }
        let id = UUID().uuidString.lowercased()
        do {
            let connection = try PostgresConnection(settings.connection, replication: false)
            defer { connection.close() }
            let table = try connection.qualifiedName(signal)
            try connection.execute("""
                INSERT INTO \(table) (id, type, data) VALUES (\(try connection.literal(id)), \
                \(try connection.literal(stop ? SnapshotSignal.stopType : SnapshotSignal.executeType)), \(try connection.literal(json)))
                """)
        } catch {
            throw .postgres(error)
        }
        return id
    }
}
