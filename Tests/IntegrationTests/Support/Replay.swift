import Foundation
import Kafka
import PGOutput
import PGReplication
import Testing

// Replaying a table topic against the table: the check that snapshot and stream together deliver exactly
// the table's rows.

/// One record of a table topic, parsed (the key's `id`; a tombstone has `op == nil`).
struct TopicEvent {
    var partition: Int32
    var offset: Int64
    var id: Int
    var op: String?
    var after: [String: Any]?
    var hasNullBefore: Bool
    var snapshot: String?
    var lsn: Int?
    /// The envelope's `ts_ms`: when Swallow produced the record.
    var timestampMillis: Int

    init(_ record: KafkaRecord) throws {
        partition = record.partition
        offset = record.offset
        guard let id = try jsonObject(record.key)?["id"] as? Int else {
            throw TestFailure("a record without an integer id key at offset \(record.offset)")
        }
        self.id = id
        let value = try jsonObject(record.value)
        op = value?["op"] as? String
        after = value?["after"] as? [String: Any]
        hasNullBefore = value?["before"] is NSNull
        let source = value?["source"] as? [String: Any]
        snapshot = source?["snapshot"] as? String
        lsn = source?["lsn"] as? Int
        timestampMillis = value?["ts_ms"] as? Int ?? 0
    }

    var description: String { "partition \(partition) offset \(offset) op \(op ?? "tombstone") snapshot \(snapshot ?? "-") lsn \(lsn.map(String.init) ?? "-")" }
}

struct ItemRow: Equatable, CustomStringConvertible {
    var v: Int
    var note: String?
    var description: String { "(v \(v), note \(note ?? "NULL"))" }
}

/// Replays the topic in order (r/c/u set the row, d removes it, tombstones are skipped) and expects the
/// result to equal the table, naming the first differing rows and the last event of each.
func expectReplayEqualsTable(_ events: [TopicEvent], _ sql: PostgresConnection, context: String = "",
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
    var replayed: [Int: ItemRow] = [:]
    var lastEvent: [Int: TopicEvent] = [:]
    for event in events {
        guard let op = event.op else { continue }
        lastEvent[event.id] = event
        switch op {
        case "r", "c", "u":
            guard let after = event.after, let v = after["v"] as? Int else {
                throw TestFailure("\(op) event without after.v: \(event.description)")
            }
            replayed[event.id] = ItemRow(v: v, note: after["note"] as? String)
        case "d":
            replayed[event.id] = nil
        default:
            throw TestFailure("unexpected op \(op)")
        }
    }
    var table: [Int: ItemRow] = [:]
    for row in try sql.execute("SELECT id, v, note FROM items").rows {
        table[Int(row[0]!)!] = ItemRow(v: Int(row[1]!)!, note: row[2])
    }
    let missing = table.keys.filter { replayed[$0] == nil }.sorted()
    let extra = replayed.keys.filter { table[$0] == nil }.sorted()
    let stale = table.keys.filter { replayed[$0] != nil && replayed[$0] != table[$0] }.sorted()
    func show(_ ids: [Int]) -> String {
        ids.prefix(5).map { id in
            "\(id): table \(table[id]?.description ?? "absent"), replayed \(replayed[id]?.description ?? "absent"), last event \(lastEvent[id]?.description ?? "none")"
        }.joined(separator: "; ")
    }
    #expect(missing.isEmpty && extra.isEmpty && stale.isEmpty, """
        replaying \(events.count) records does not give the table's \(table.count) rows: \
        \(missing.count) missing [\(show(missing))], \(extra.count) extra [\(show(extra))], \(stale.count) stale [\(show(stale))]\
        \(context.isEmpty ? "" : "; \(context)")
        """, sourceLocation: sourceLocation)
}


/// Waits until the slot is confirmed up to the server's WAL position as of now: everything committed so
/// far was acknowledged by Kafka (the pipeline confirms the server's position once it has no event in
/// flight).
func waitUntilEverythingIsConfirmed(_ sql: PostgresConnection, timeoutSeconds: Double = 60) throws {
    let target = try walInsertLSN(sql)
    try waitUntil(timeoutSeconds: timeoutSeconds, "the slot to confirm \(target)") {
        try confirmedFlushLSN(sql) >= target
    }
}
