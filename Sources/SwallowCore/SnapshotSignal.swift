import Foundation

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
