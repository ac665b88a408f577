import Foundation
import Kafka
import PGOutput
import PGReplication

/// The ground truth of what was committed, read from a second slot (`audit`) that nobody consumes:
/// every transaction's xid, end LSN and number of captured row changes, decoded with our own decoder.
struct CommittedTransaction {
    var xid: UInt32
    var endLSN: LSN
    var rowChanges: Int
    /// The commit timestamp, in microseconds since the Unix epoch.
    var commitTimeMicros: Int64 = 0
    /// Each captured row change, in WAL order.
    var changes: [AuditedChange] = []
}

/// One row change as the audit slot decoded it. `lsn` is the change's own WAL position, which Swallow
/// reports as `source.lsn`, so (transaction id, lsn) identifies an event.
struct AuditedChange {
    /// `schema.table`.
    var table: String
    var lsn: LSN
    /// Debezium's op: `c`, `u` or `d`.
    var op: String
    /// Column values as text (nil for NULL): the new row for `c`/`u`, the old key (or old row, with
    /// REPLICA IDENTITY FULL) for `d`. Unchanged TOAST values are left out.
    var values: [String: String?]
}

/// The audit slot is named after the database too (slots are cluster-wide).
func createAuditSlot(_ sql: PostgresConnection) throws {
    try sql.execute("SELECT pg_create_logical_replication_slot(current_database() || '_audit', 'pgoutput')")
}

func committedTransactions(_ sql: PostgresConnection, publication: String = "swallow") throws -> [CommittedTransaction] {
    let result = try sql.execute("""
        SELECT lsn::text AS lsn, encode(data, 'hex') AS data FROM pg_logical_slot_peek_binary_changes(
            current_database() || '_audit', NULL, NULL, 'proto_version', '1', 'publication_names', '\(publication)')
        """)
    var transactions: [CommittedTransaction] = []
    var open: CommittedTransaction?
    var relations: [UInt32: RelationMessage] = [:]
    func record(_ relationID: UInt32, _ lsnText: String?, _ op: String, _ tuple: TupleData) throws {
        guard let relation = relations[relationID], let lsn = LSN(string: lsnText ?? "") else {
            throw TestFailure("audit: a change of unknown relation \(relationID) or with a bad LSN")
        }
        var values: [String: String?] = [:]
        for (column, value) in zip(relation.columns, tuple.columns) {
            switch value {
            case .null: values[column.name] = .some(nil)
            case .text(let bytes), .binary(let bytes): values[column.name] = String(decoding: bytes, as: UTF8.self)
            case .unchangedToast: break
            }
        }
        open?.rowChanges += 1
        open?.changes.append(AuditedChange(table: "\(relation.namespace).\(relation.name)", lsn: lsn, op: op, values: values))
    }
    for row in result.rows {
        let bytes = try hexBytes(row[1] ?? "")
        switch try PGOutputMessage.decode(bytes[...]) {
        case .begin(let begin):
            // pgoutput's timestamps count microseconds from 2000-01-01.
            open = CommittedTransaction(xid: begin.xid, endLSN: .invalid, rowChanges: 0,
                                        commitTimeMicros: begin.commitTime + 946_684_800_000_000)
        case .relation(let relation): relations[relation.relationID] = relation
        case .insert(let insert): try record(insert.relationID, row[0], "c", insert.newTuple)
        case .update(let update): try record(update.relationID, row[0], "u", update.newTuple)
        case .delete(let delete): try record(delete.relationID, row[0], "d", delete.oldTuple)
        case .commit(let commit):
            if var transaction = open {
                transaction.endLSN = commit.endLSN
                transactions.append(transaction)
            }
            open = nil
        default: break
        }
    }
    return transactions
}

func hexBytes(_ text: String) throws -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(text.utf8.count / 2)
    var iterator = text.utf8.makeIterator()
    while let high = iterator.next(), let low = iterator.next() {
        guard let h = hexValue(high), let l = hexValue(low) else { throw TestFailure("bad hex") }
        bytes.append(h << 4 | l)
    }
    return bytes
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    default: return nil
    }
}

/// Row-change events (not tombstones) in Kafka, grouped by transaction id.
func rowEventsByTransaction(_ records: [KafkaRecord]) throws -> [UInt32: Int] {
    var counts: [UInt32: Int] = [:]
    for record in records {
        guard let value = try jsonObject(record.value), let source = value["source"] as? [String: Any],
              let txId = source["txId"] as? Int else { continue }
        counts[UInt32(txId), default: 0] += 1
    }
    return counts
}

/// Transactions at or below `confirmed` whose events are not all in `records`: must be empty, or the
/// slot was confirmed past an event the broker never acknowledged.
func transactionsLostBelow(_ confirmed: LSN, committed: [CommittedTransaction], records: [KafkaRecord]) throws -> [UInt32] {
    let present = try rowEventsByTransaction(records)
    return committed.filter { $0.endLSN <= confirmed && $0.rowChanges > 0 && present[$0.xid, default: 0] < $0.rowChanges }
        .map(\.xid)
}

/// The server's WAL insert position. Not `pg_current_wal_lsn()`, the write position: with
/// synchronous_commit=off (the test clusters' setting) that can still be short of a transaction that
/// just committed, and a slot confirmed "past" it may not have received that transaction yet.
func walInsertLSN(_ sql: PostgresConnection) throws -> LSN {
    let text = try sql.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn")[0, "lsn"] ?? ""
    guard let lsn = LSN(string: text) else { throw TestFailure("bad LSN \(text)") }
    return lsn
}

/// Inserts with `statement` (an INSERT) in a transaction of its own; the transaction's id.
func insertReturningXID(_ sql: PostgresConnection, _ statement: String) throws -> String {
    let rows = try sql.execute("WITH i AS (\(statement) RETURNING xmin) SELECT xmin::text AS xid FROM i")
    guard let xid = rows[0, "xid"] else { throw TestFailure("no xid from \(statement)") }
    return xid
}

/// Whether transaction `xid` is still in the database's slot (its BEGIN, changes and COMMIT), to be
/// decoded again: nothing past it was confirmed. Asked once the slot is released. (Its confirmed position
/// alone says less: while idle, Swallow may confirm the server's position, which other databases' WAL
/// moves on, past where a change of this one was written but before its commit.)
func transactionIsStillInSlot(_ sql: PostgresConnection, xid: String, slot: String? = nil) throws -> Bool {
    let slotName = slot.map { "'\($0)'" } ?? "current_database()"
    try waitUntil("the slot to be released") {
        try sql.execute("SELECT active::text AS active FROM pg_replication_slots WHERE slot_name = \(slotName)")[0, "active"] == "false"
    }
    let pending = try sql.execute("""
        SELECT count(*)::text AS n FROM pg_logical_slot_peek_binary_changes(\(slotName), NULL, NULL,
            'proto_version', '1', 'publication_names', 'swallow') WHERE xid::text = '\(xid)'
        """)[0, "n"]
    return Int(pending ?? "0") ?? 0 >= 3
}

func confirmedFlushLSN(_ sql: PostgresConnection) throws -> LSN {
    let text = try slotRow(sql)?.confirmed ?? "0/0"
    guard let lsn = LSN(string: text) else { throw TestFailure("bad LSN \(text)") }
    return lsn
}

/// A concurrent workload of small transactions over hot keys: upserts with a global, increasing version
/// (so per-key order is checkable across deletes), a log table, and occasional deletes.
final class Workload: @unchecked Sendable {
    let database: String
    let transactions: Int
    private let lock = NSLock()
    private var committedCount = 0
    private var failure: Error?
    private let done = DispatchSemaphore(value: 0)

    static let schema = """
        CREATE SEQUENCE version_seq;
        CREATE TABLE accounts (id int PRIMARY KEY, version bigint NOT NULL, payload text);
        CREATE TABLE ledger (id bigserial PRIMARY KEY, account int NOT NULL, amount int NOT NULL);
        """

    init(database: String, transactions: Int) {
        self.database = database
        self.transactions = transactions
    }

    var committed: Int { lock.withLock { committedCount } }

    func start() {
        Thread { [self] in
            do {
                let sql = try TestPostgres.shared.connect(database)
                defer { sql.close() }
                // The test cluster runs with synchronous_commit=off for speed; the workload's commits must
                // be flushed when it reports them, or the audit slot (which reads flushed WAL) lags behind.
                try sql.execute("SET synchronous_commit = on")
                var generator = SystemRandomNumberGenerator()
                for number in 0..<transactions {
                    var statements = ["BEGIN"]
                    for _ in 0..<Int.random(in: 1...3, using: &generator) {
                        let account = Int.random(in: 1...50, using: &generator)
                        statements.append("""
                            INSERT INTO accounts VALUES (\(account), nextval('version_seq'), md5(random()::text))
                            ON CONFLICT (id) DO UPDATE SET version = excluded.version, payload = excluded.payload
                            """)
                        statements.append("INSERT INTO ledger (account, amount) VALUES (\(account), \(number))")
                    }
                    if number % 40 == 39 {
                        statements.append("DELETE FROM accounts WHERE id = \(Int.random(in: 1...50, using: &generator))")
                    }
                    statements.append(number % 97 == 0 ? "ROLLBACK" : "COMMIT")
                    try sql.execute(statements.joined(separator: ";\n"))
                    lock.withLock { committedCount += 1 }
                    // Paced, so that the faults land while changes are still flowing.
                    usleep(1000)
                }
            } catch {
                lock.withLock { failure = error }
            }
            done.signal()
        }.start()
    }

    func wait() throws {
        done.wait()
        if let failure = lock.withLock({ failure }) { throw failure }
    }
}

/// Checks what a consumer of the topics would conclude: every account's events, deduplicated by
/// (version, op), appear in increasing version order, and replaying them gives the table's final state.
func verifyPerKeyOrderAndFinalState(records: [KafkaRecord], sql: PostgresConnection) throws -> (duplicates: Int, problems: [String]) {
    var problems: [String] = []
    var seen = Set<String>()
    var duplicates = 0
    var lastVersion: [Int: Int] = [:]
    var state: [Int: Int] = [:]   // account -> version, replayed
    for record in records where record.topic == "app.public.accounts" {
        guard let value = try jsonObject(record.value) else { continue }   // tombstone
        let op = value["op"] as? String ?? ""
        let row = (op == "d" ? value["before"] : value["after"]) as? [String: Any] ?? [:]
        guard let id = row["id"] as? Int else { problems.append("event without id"); continue }
        let version = (row["version"] as? Int) ?? -1
        let identity = "\(id)/\(version)/\(op)/\((value["source"] as? [String: Any])?["lsn"] as? Int ?? 0)"
        if !seen.insert(identity).inserted {
            duplicates += 1
        } else if op != "d" {
            if let last = lastVersion[id], version <= last {
                problems.append("account \(id): version \(version) after \(last)")
            }
            lastVersion[id] = version
        }
        if op == "d" { state[id] = nil } else { state[id] = version }
    }
    let table = try sql.execute("SELECT id, version FROM accounts")
    var expected: [Int: Int] = [:]
    for row in table.rows { expected[Int(row[0]!)!] = Int(row[1]!)! }
    if expected != state {
        let differing = Set(expected.keys).union(state.keys).filter { expected[$0] != state[$0] }.sorted().prefix(5)
        let detail = differing.map { "\($0): table \(expected[$0].map(String.init) ?? "absent"), replayed \(state[$0].map(String.init) ?? "absent")" }
        problems.append("replayed state differs from the table: \(detail.joined(separator: "; "))")
    }
    return (duplicates, problems)
}
