import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import Testing

/// One injection of a fault in the durability suites (`ChaosTests`, `SnapshotChaosTests`).
struct ChaosRound {
    /// The fault's name in the report.
    var fault: String
    var injectedAt: Date
    var healedAt: Date
    /// From the heal until the suite's recovery condition held; nil for a round that was not left to
    /// recover (the next round's fault came first).
    var recoverySeconds: Double?
}

/// The checks, over everything read from Kafka and everything the audit slot says was committed.
///
/// Stream events (`c`/`u`/`d`) are identified by transaction id and `source.lsn`, checked against the
/// audit and counted as duplicates when seen again. Snapshot records (`r`) carry no change of their own:
/// they are replayed, and one is a duplicate when its table and key were already read by the same
/// snapshot — the initial snapshot (`source.snapshot` `true`, `first`, `last`, `first_in_data_collection`,
/// `last_in_data_collection`; retaken after a crash, it is still the one initial snapshot), or the
/// incremental snapshot (`incremental`) requested last before the record was produced.
struct ChaosAnalysis {
    struct Bucket {
        var rounds = 0
        var events = 0
        var lost = 0
        var duplicates = 0
        var maxRecoverySeconds: Double = 0
    }

    /// Per fault (by its report name), plus `warm-up`.
    var buckets: [String: Bucket] = [:]
    var lost: [String] = []
    var contentMismatches: [String] = []
    var uncommitted: [String] = []
    var orderViolations: [String] = []
    var replayMismatches: [String] = []
    var confirmedTooFar: [String] = []
    var totalEvents = 0
    var totalDuplicates = 0
    /// Snapshot records (`op: r`) read, and how many of them were duplicates (included in the totals).
    var snapshotRecords = 0
    var snapshotDuplicates = 0
    /// Rows of the tables whose final state the replay does not reproduce and that no lost change
    /// explains (counted as lost only with `countUnreproducedRowsAsLost`).
    var unreproducedRows = 0
    /// Where the first duplicates are (both copies), for the report of a failure.
    var duplicateExamples: [String] = []

    static let warmUp = "warm-up"

    /// - Parameters:
    ///   - keyColumns: each table's key columns, for replaying its topic.
    ///   - incrementalSnapshotRequests: when each incremental snapshot was requested (its signal written).
    ///   - countUnreproducedRowsAsLost: a row of the tables whose final state the replay does not give,
    ///     and that no lost change explains, counts as lost too (attributed to the round its key's last
    ///     record was produced in, or to the first round when the topic has none): what a snapshot that
    ///     skipped rows would cause.
    init(records: [KafkaRecord], committed: [CommittedTransaction], tables: [String: [[String: Any]]],
         samples: [ConfirmedPositionSampler.Sample], rounds: [ChaosRound],
         keyColumns: [String: [String]] = ChaosWorkload.keyColumns, incrementalSnapshotRequests: [Date] = [],
         countUnreproducedRowsAsLost: Bool = false) throws {
        struct EventID: Hashable { var xid: UInt32; var lsn: UInt64 }
        struct AuditEntry { var change: AuditedChange; var endLSN: LSN; var commitTimeMicros: Int64 }

        var audit: [EventID: AuditEntry] = [:]
        for transaction in committed {
            for change in transaction.changes {
                audit[EventID(xid: transaction.xid, lsn: change.lsn.value)] =
                    AuditEntry(change: change, endLSN: transaction.endLSN, commitTimeMicros: transaction.commitTimeMicros)
            }
        }
        for round in rounds {
            buckets[round.fault, default: Bucket()].rounds += 1
            buckets[round.fault, default: Bucket()].maxRecoverySeconds =
                max(buckets[round.fault]?.maxRecoverySeconds ?? 0, round.recoverySeconds ?? 0)
        }
        // The round a moment belongs to: the last one injected at or before it.
        let starts = rounds.map { $0.injectedAt.timeIntervalSince1970 }
        func bucketName(atEpochSeconds time: Double) -> String {
            var low = 0, high = starts.count
            while low < high {
                let middle = (low + high) / 2
                if starts[middle] <= time { low = middle + 1 } else { high = middle }
            }
            return low == 0 ? Self.warmUp : rounds[low - 1].fault
        }
        // The incremental snapshot a record belongs to: the last one requested before it was produced.
        let requests = incrementalSnapshotRequests.map(\.timeIntervalSince1970).sorted()
        func incrementalSnapshot(atEpochSeconds time: Double) -> Int {
            requests.lastIndex { $0 <= time } ?? -1
        }
        struct SnapshotRowID: Hashable { var snapshot: String; var table: String; var key: String }
        var snapshotCopy: [SnapshotRowID: (tp: TopicPartition, offset: Int64)] = [:]
        var lastRecordBucket: [String: String] = [:]   // "table/key" -> bucket of its last record

        // Pass over the records, partition by partition in offset order (as the consumer returned them).
        var firstCopy: [EventID: (tp: TopicPartition, offset: Int64)] = [:]
        var lastOrderPerKey: [String: (endLSN: LSN, lsn: UInt64)] = [:]
        for record in records {
            let tp = TopicPartition(topic: record.topic, partition: record.partition)
            let text = String(decoding: record.value ?? [], as: UTF8.self)
            if text.contains(ChaosWorkload.rolledBackMarker) {
                uncommitted.append("\(record.topic) [\(record.partition)] @\(record.offset) carries a rolled-back value")
            }
            guard let value = try jsonObject(record.value) else { continue }   // tombstone
            let table = String(record.topic.dropFirst("app.".count))
            let op = value["op"] as? String ?? "?"
            let source = value["source"] as? [String: Any] ?? [:]
            let producedAt = Double(record.timestamp ?? Int64(value["ts_ms"] as? Int ?? 0)) / 1000
            let bucket = bucketName(atEpochSeconds: producedAt)
            let row = (op == "d" ? value["before"] : value["after"]) as? [String: Any] ?? [:]
            let key = (keyColumns[table] ?? []).map { normalized(row[$0]) ?? "NULL" }.joined(separator: ",")
            lastRecordBucket["\(table)/\(key)"] = bucket

            if op == "r" {
                // A snapshot record: a duplicate if its snapshot already read the key.
                let marker = source["snapshot"] as? String ?? "?"
                // With exactly_once, an interrupted initial snapshot's rows read incrementally are marked
                // `incremental` but still belong to it: their `swallow.snapshot` unit says so.
                let unit = record.headers.first { $0.key == "swallow.snapshot" }?.value
                    .map { String(decoding: $0.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self) }
                let snapshot = marker == "incremental" && unit?.hasPrefix("initial:") != true
                    ? "incremental #\(incrementalSnapshot(atEpochSeconds: producedAt))" : "initial"
                let id = SnapshotRowID(snapshot: snapshot, table: table, key: key)
                snapshotRecords += 1
                if let first = snapshotCopy[id] {
                    buckets[bucket, default: Bucket()].duplicates += 1
                    totalDuplicates += 1
                    snapshotDuplicates += 1
                    if duplicateExamples.count < 20 {
                        duplicateExamples.append("\(snapshot) snapshot record of \(table) key (\(key)): \(first.tp) @\(first.offset) and \(tp) @\(record.offset)")
                    }
                } else {
                    snapshotCopy[id] = (tp, record.offset)
                    buckets[bucket, default: Bucket()].events += 1
                    totalEvents += 1
                }
                continue
            }
            guard let xid = source["txId"] as? Int, let lsn = source["lsn"] as? Int else {
                uncommitted.append("\(record.topic) [\(record.partition)] @\(record.offset) has no txId/lsn")
                continue
            }
            let id = EventID(xid: UInt32(xid), lsn: UInt64(lsn))

            if let first = firstCopy[id] {
                buckets[bucket, default: Bucket()].duplicates += 1
                totalDuplicates += 1
                if duplicateExamples.count < 20 {
                    duplicateExamples.append("xid \(xid) lsn \(lsn): \(first.tp) @\(first.offset) and \(record.topic) [\(record.partition)] @\(record.offset)")
                }
                continue
            }
            firstCopy[id] = (tp, record.offset)
            buckets[bucket, default: Bucket()].events += 1
            totalEvents += 1
            guard let entry = audit[id] else {
                uncommitted.append("\(record.topic) @\(record.offset): txId \(xid) lsn \(LSN(UInt64(lsn))) was not committed")
                continue
            }
            // Content: the event is the change the audit slot decoded.
            let change = entry.change
            if change.table != table || change.op != op {
                contentMismatches.append("txId \(xid) lsn \(change.lsn): expected \(change.op) on \(change.table), got \(op) on \(table)")
            } else {
                for (column, expected) in change.values where op != "d" || expected != nil {
                    let actual = normalized(row[column])
                    if actual != expected {
                        contentMismatches.append("txId \(xid) lsn \(change.lsn) \(table).\(column): committed \(expected ?? "NULL"), event \(actual ?? "NULL")")
                    }
                }
            }
            // Per-key order is commit order (and WAL order within a transaction).
            let orderKey = "\(table)/\(key)"
            if let last = lastOrderPerKey[orderKey], (last.endLSN, last.lsn) >= (entry.endLSN, UInt64(lsn)) {
                orderViolations.append("\(orderKey): txId \(xid) (commit end \(entry.endLSN)) after commit end \(last.endLSN) at \(record.topic) [\(record.partition)] @\(record.offset)")
            }
            lastOrderPerKey[orderKey] = (entry.endLSN, UInt64(lsn))
        }

        // Every committed change is present.
        var keysOfLostChanges = Set<String>()
        for (id, entry) in audit where firstCopy[id] == nil {
            let bucket = bucketName(atEpochSeconds: Double(entry.commitTimeMicros) / 1_000_000)
            buckets[bucket, default: Bucket()].lost += 1
            lost.append("txId \(id.xid) lsn \(entry.change.lsn) \(entry.change.op) on \(entry.change.table) (commit end \(entry.endLSN), during \(bucket))")
            let key = (keyColumns[entry.change.table] ?? []).map { (entry.change.values[$0] ?? nil) ?? "NULL" }.joined(separator: ",")
            keysOfLostChanges.insert("\(entry.change.table)/\(key)")
        }

        // Replaying each topic gives its table.
        let replay = try TopicReplay(records: records, tables: tables, keyColumns: keyColumns)
        replayMismatches = replay.mismatches
        for (table, differing) in replay.differing {
            // A row of the table the replay does not give, which no lost change explains: lost too.
            for key in differing where replay.tableHas(table, key) && !keysOfLostChanges.contains("\(table)/\(key)") {
                unreproducedRows += 1
                guard countUnreproducedRowsAsLost else { continue }
                let bucket = lastRecordBucket["\(table)/\(key)"] ?? rounds.first?.fault ?? Self.warmUp
                buckets[bucket, default: Bucket()].lost += 1
                if lost.count < 1000 {
                    lost.append("\(table) key (\(key)): the replay does not give the row's final state (last record during \(bucket))")
                }
            }
        }

        // confirmed_flush_lsn never passed an unacknowledged event: sweep the transactions in end-LSN
        // order and the samples in confirmed order, tracking each partition's highest first-copy offset.
        let changesByEnd = audit.compactMap { id, entry -> (end: LSN, tp: TopicPartition, offset: Int64)? in
            guard let copy = firstCopy[id] else { return nil }   // lost, reported above
            return (entry.endLSN, copy.tp, copy.offset)
        }.sorted { $0.end < $1.end }
        var highest: [TopicPartition: (offset: Int64, end: LSN)] = [:]
        var next = 0
        for sample in samples.sorted(by: { $0.confirmed < $1.confirmed }) {
            while next < changesByEnd.count && changesByEnd[next].end <= sample.confirmed {
                let change = changesByEnd[next]
                if change.offset >= highest[change.tp]?.offset ?? -1 { highest[change.tp] = (change.offset, change.end) }
                next += 1
            }
            for (tp, watermark) in sample.highWatermarks {
                if let top = highest[tp], top.offset >= watermark {
                    confirmedTooFar.append("at \(sample.time) confirmed \(sample.confirmed) covers commit end \(top.end) whose event sits at \(tp) @\(top.offset), but the high watermark was \(watermark)")
                }
            }
        }
    }

    var isClean: Bool {
        lost.isEmpty && contentMismatches.isEmpty && uncommitted.isEmpty && orderViolations.isEmpty
            && replayMismatches.isEmpty && confirmedTooFar.isEmpty
    }

    /// The table: one row per fault (by name, in this order), after the warm-up's, and the totals.
    func report(faults: [String]) -> String {
        var lines = ["| fault | rounds | events | lost | duplicates | recovery time (max) |",
                     "|---|---:|---:|---:|---:|---:|"]
        let names = [Self.warmUp] + faults
        var totalRounds = 0, totalLost = 0
        var maxRecovery: Double = 0
        for name in names {
            let bucket = buckets[name] ?? Bucket()
            totalRounds += bucket.rounds
            totalLost += bucket.lost
            maxRecovery = max(maxRecovery, bucket.maxRecoverySeconds)
            let recovery = name == Self.warmUp ? "-" : String(format: "%.1f s", bucket.maxRecoverySeconds)
            lines.append("| \(name) | \(bucket.rounds) | \(bucket.events) | \(bucket.lost) | \(bucket.duplicates) | \(recovery) |")
        }
        lines.append("| **total** | \(totalRounds) | \(totalEvents) | \(totalLost) | \(totalDuplicates) | \(String(format: "%.1f s", maxRecovery)) |")
        return lines.joined(separator: "\n")
    }
}

/// The workload's topics replayed as a consumer replays them, every record as it comes (redelivered
/// copies included): a snapshot read, a create or an update sets its key's row, a delete removes it, a
/// tombstone changes nothing. Then compared with the tables.
struct TopicReplay {
    /// Per table (`schema.table`), the keys whose replayed row differs from the table's, sorted.
    private(set) var differing: [String: [String]] = [:]
    /// Up to five differing keys per table, with both rows, and the count of the rest.
    private(set) var mismatches: [String] = []
    private var tableKeys: [String: Set<String>] = [:]

    /// `records`: as read from topics `app.<table>`; `tables`: each table's rows (`tableRows`).
    init(records: [KafkaRecord], tables: [String: [[String: Any]]], keyColumns: [String: [String]] = ChaosWorkload.keyColumns) throws {
        var replayed: [String: [String: [String: Any]]] = [:]   // table -> key -> row
        // Each key's records as the replay met them, to say in a mismatch how the row came back.
        var history: [String: [String]] = [:]   // "table/key" -> records
        for record in records {
            guard let value = try jsonObject(record.value) else { continue }   // tombstone
            let table = String(record.topic.dropFirst("app.".count))
            let op = value["op"] as? String ?? "?"
            let row = (op == "d" ? value["before"] : value["after"]) as? [String: Any] ?? [:]
            let key = (keyColumns[table] ?? []).map { normalized(row[$0]) ?? "NULL" }.joined(separator: ",")
            if op == "d" { replayed[table, default: [:]][key] = nil } else { replayed[table, default: [:]][key] = row }
            let source = value["source"] as? [String: Any] ?? [:]
            let position = record.headers.first { $0.key.hasPrefix("swallow.position") }?.value
                .map { String(decoding: $0, as: UTF8.self) } ?? "-"
            history["\(table)/\(key)", default: []].append(
                "[\(record.partition)] @\(record.offset) op \(op) txId \(source["txId"].map { "\($0)" } ?? "-") lsn \(source["lsn"].map { "\($0)" } ?? "-") position \(position)")
        }
        for (table, rows) in tables {
            let tableKeyColumns = keyColumns[table] ?? []
            var expected: [String: [String: String?]] = [:]
            for row in rows {
                expected[tableKeyColumns.map { normalized(row[$0]) ?? "NULL" }.joined(separator: ",")] = row.mapValues { normalized($0) }
            }
            tableKeys[table] = Set(expected.keys)
            let actual = (replayed[table] ?? [:]).mapValues { $0.mapValues { normalized($0) } }
            let keys = Set(expected.keys).union(actual.keys).filter { expected[$0] != actual[$0] }.sorted()
            differing[table] = keys
            for key in keys.prefix(5) {
                mismatches.append("\(table) key (\(key)): table \(expected[key].map { "\($0)" } ?? "absent"), replayed \(actual[key].map { "\($0)" } ?? "absent"); its records: \((history["\(table)/\(key)"] ?? []).joined(separator: " | "))")
            }
            if keys.count > 5 { mismatches.append("\(table): \(keys.count) keys differ in all") }
        }
    }

    /// Whether `table` has a row with `key`.
    func tableHas(_ table: String, _ key: String) -> Bool { tableKeys[table]?.contains(key) == true }
}

/// A JSON or text value as Postgres prints it, for comparing events with the audit and the tables
/// (the workload has int, bigint and text columns only).
func normalized(_ value: Any?) -> String? {
    guard let value, !(value is NSNull) else { return nil }
    if let string = value as? String { return string }
    if let number = value as? Int { return String(number) }
    return "\(value)"
}

/// Every row of `table`, as `row_to_json` renders it (the same JSON types as Swallow's events for the
/// workload's int, bigint and text columns).
func tableRows(_ sql: PostgresConnection, _ table: String) throws -> [[String: Any]] {
    try sql.execute("SELECT row_to_json(t)::text AS row FROM \(table) t").rows.map { row in
        guard let object = try jsonObject(Array((row[0] ?? "").utf8)) else { throw TestFailure("no row JSON") }
        return object
    }
}

/// Everything the chaos suites' topics hold, read from the beginning, and the check that makes the
/// analysis honest: the mock keeps ~5 MiB per partition, so no partition may have dropped records and
/// every record of each partition must have been read.
func readChaosTopics(bootstrapServers: String, topics: [String], partitionsPerTopic: Int32,
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> [KafkaRecord] {
    let consumer = try KafkaConsumer(bootstrapServers: bootstrapServers, topics: topics, waitForTopicsMilliseconds: 30_000)
    defer { consumer.close() }
    let records = try consumer.readToEnd(timeoutMilliseconds: 120_000)
    var recordsPerPartition: [TopicPartition: Int64] = [:]
    for record in records { recordsPerPartition[TopicPartition(topic: record.topic, partition: record.partition), default: 0] += 1 }
    // A client of its own, created now: one that lived through the faults can wait long past its
    // timeout (see KafkaAdmin.watermarks).
    let admin = try KafkaAdmin(bootstrapServers: bootstrapServers)
    defer { admin.close() }
    for topic in topics {
        for partition in 0..<partitionsPerTopic {
            let tp = TopicPartition(topic: topic, partition: partition)
            let marks = try admin.watermarks(topic: topic, partition: partition, timeoutMilliseconds: 10_000)
            #expect(marks.low == 0, "\(tp) dropped records (earliest offset \(marks.low)): use more partitions or a smaller workload",
                    sourceLocation: sourceLocation)
            #expect(marks.high == recordsPerPartition[tp, default: 0], "\(tp): read \(recordsPerPartition[tp, default: 0]) records of \(marks.high)",
                    sourceLocation: sourceLocation)
        }
    }
    return records
}

/// Prints a suite's report and appends it to `SWALLOW_CHAOS_REPORT` when set: every suite and mode of
/// `scripts/chaos.sh` writes to the same file, one after the other.
func publishChaosReport(_ details: String) throws {
    print(details)
    guard let path = ProcessInfo.processInfo.environment["SWALLOW_CHAOS_REPORT"], !path.isEmpty else { return }
    if let handle = FileHandle(forWritingAtPath: path) {
        handle.seekToEndOfFile()
        handle.write(Data((details + "\n\n").utf8))
        handle.closeFile()
    } else {
        try (details + "\n\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}

extension ChaosAnalysis {
    /// The checks every chaos suite makes of what it read: nothing lost, nothing repeated with
    /// exactly_once, values as committed, nothing uncommitted, per-key commit order, and a replay that
    /// gives the tables.
    func expectNothingLostOrWrong(delivery: SwallowConfiguration.Delivery, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(lost.isEmpty, "committed changes or rows missing from Kafka (\(lost.count)): \(lost.prefix(5).joined(separator: "; "))",
                sourceLocation: sourceLocation)
        if delivery == .exactlyOnce {
            #expect(totalDuplicates == 0, "exactly_once delivered \(totalDuplicates) duplicates (\(snapshotDuplicates) snapshot records): \(duplicateExamples.prefix(5).joined(separator: "; "))",
                    sourceLocation: sourceLocation)
        }
        #expect(contentMismatches.isEmpty, "events whose values differ from what was committed (\(contentMismatches.count)): \(contentMismatches.prefix(5).joined(separator: "; "))",
                sourceLocation: sourceLocation)
        #expect(uncommitted.isEmpty, "events of transactions that did not commit (\(uncommitted.count)): \(uncommitted.prefix(5).joined(separator: "; "))",
                sourceLocation: sourceLocation)
        #expect(orderViolations.isEmpty, "per-key order differs from commit order (\(orderViolations.count)): \(orderViolations.prefix(5).joined(separator: "; "))",
                sourceLocation: sourceLocation)
        #expect(replayMismatches.isEmpty, "replaying the topics does not give the tables: \(replayMismatches.prefix(5).joined(separator: "; "))",
                sourceLocation: sourceLocation)
    }
}
