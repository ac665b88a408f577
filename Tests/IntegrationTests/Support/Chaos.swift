import Foundation
import Kafka
import PGOutput
import PGReplication
import Synchronization

// The moving parts of the durability (chaos) suite: a PostgreSQL cluster of its own (the suite restarts
// it), a connection that survives those restarts, a continuous mixed workload, a supervisor that restarts
// `swallow run` as systemd would, and a sampler of the slot's confirmed position and the partitions'
// high watermarks.

/// A throwaway cluster owned by one test (`scripts/pg-cluster.sh`), which the test may restart.
final class PrivatePostgres: Sendable {
    let directory: String
    let port: Int

    /// A new cluster; `settings` (NAME=VALUE) as `pg-cluster.sh start` takes them.
    init(_ name: String, settings: [String] = []) throws {
        directory = Self.newDirectory(name)
        port = try Self.start(directory, ["start", directory] + settings)
    }

    /// A physical standby of `primary` (`pg-cluster.sh standby`: pg_basebackup, a physical slot
    /// `standby_<name>` on the primary, `primary_conninfo` with a dbname), e.g. with
    /// `sync_replication_slots=on` and `hot_standby_feedback=on` for slot synchronization.
    init(_ name: String, standbyOf primary: PrivatePostgres, settings: [String] = []) throws {
        directory = Self.newDirectory(name)
        port = try Self.start(directory, ["standby", primary.directory, directory] + settings)
    }

    /// The physical slot on the primary that `init(_:standbyOf:settings:)` made for this standby.
    var standbySlotName: String {
        // As the script makes it: every character but a-z, 0-9 and _ becomes _.
        "standby_" + String(URL(fileURLWithPath: directory).lastPathComponent.map {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" ? $0 : "_"
        })
    }

    private static func newDirectory(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
    }

    private static func start(_ directory: String, _ arguments: [String]) throws -> Int {
        let output: String
        do { output = try runScript("scripts/pg-cluster.sh", arguments) } catch {
            _ = try? runScript("scripts/pg-cluster.sh", ["stop", directory])
            throw error
        }
        guard let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "") else {
            _ = try? runScript("scripts/pg-cluster.sh", ["stop", directory])
            throw TestFailure("pg-cluster.sh printed no port: \(output)")
        }
        return port
    }

    /// Promotes a standby (`pg_ctl promote`, waiting until it accepts writes).
    func promote() throws {
        try runScript("scripts/pg-cluster.sh", ["promote", directory])
    }

    /// Stops the server (`pg_ctl stop -m MODE`) and keeps its files, as a crashed primary would.
    func halt(mode: String) throws {
        try runScript("scripts/pg-cluster.sh", ["stop", directory, mode])
    }

    /// Starts a server halted with `halt(mode:)` again, with the settings it ran with (`pg_ctl restart`
    /// reads them from `postmaster.opts`); returns once it accepts connections.
    func resume() throws {
        try runScript("scripts/pg-cluster.sh", ["restart", directory])
    }

    /// `pg_ctl restart -m MODE` (fast or immediate); returns once the server accepts connections again.
    func restart(mode: String) throws {
        try runScript("scripts/pg-cluster.sh", ["restart", directory, mode])
    }

    func stop() {
        _ = try? runScript("scripts/pg-cluster.sh", ["stop", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    func parameters(database: String) -> ConnectionParameters {
        ConnectionParameters(host: "127.0.0.1", port: port, database: database, user: "postgres", password: nil,
                             sslMode: "disable")
    }
}

/// A connection that reconnects when the server went away (restarted, or our backend was terminated).
/// One per thread: not thread-safe.
final class ReconnectingConnection {
    let parameters: ConnectionParameters
    private var connection: PostgresConnection?

    init(_ parameters: ConnectionParameters) { self.parameters = parameters }

    /// Runs `body` on a live connection; on an error drops the connection and tries again every 100 ms
    /// until `timeoutSeconds` pass, then rethrows the last error.
    @discardableResult
    func attempt<T>(timeoutSeconds: Double = 90, _ body: (PostgresConnection) throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while true {
            do {
                if connection == nil { connection = try PostgresConnection(parameters, replication: false) }
                return try body(connection!)
            } catch {
                connection?.close()
                connection = nil
                if Date() >= deadline { throw error }
                usleep(100_000)
            }
        }
    }

    /// Tries once; nil (and a dropped connection) on any error.
    func once<T>(_ body: (PostgresConnection) throws -> T) -> T? {
        try? attempt(timeoutSeconds: 0, body)
    }

    func close() {
        connection?.close()
        connection = nil
    }
}

/// A continuous mixed workload on three tables, until stopped:
/// - `orders` (bigint key): new orders with their lines, updates, deletes with their lines;
/// - `order_lines` (composite key `(order_id, line_no)`): multi-row inserts, updates, and now and then a
///   large transaction of `bulkRows` lines;
/// - `counters`: ten hot keys upserted constantly;
/// and explicit ROLLBACKs whose values contain `rolled-back`, which must never reach Kafka. Connection
/// errors (the suite restarts the server) are survived by reconnecting; whether the interrupted
/// transaction committed is for the audit slot to say, not the workload.
final class ChaosWorkload: @unchecked Sendable {
    static let schema = """
        CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, status text NOT NULL, amount int NOT NULL, note text);
        CREATE TABLE order_lines (order_id bigint, line_no int, sku text NOT NULL, quantity int NOT NULL,
                                  PRIMARY KEY (order_id, line_no));
        CREATE TABLE counters (id int PRIMARY KEY, hits bigint NOT NULL, payload text);
        CREATE PUBLICATION swallow FOR TABLE orders, order_lines, counters;
        """
    static let tables = ["public.orders", "public.order_lines", "public.counters"]
    /// Each table's key columns, for replaying its topic.
    static let keyColumns = ["public.orders": ["id"], "public.order_lines": ["order_id", "line_no"],
                             "public.counters": ["id"]]
    static let rolledBackMarker = "rolled-back"

    private struct State {
        var stopRequested = false
        var transactions = 0
        var rollbacks = 0
        var bulkTransactions = 0
        var connectionErrors = 0
    }

    let parameters: ConnectionParameters
    let bulkRows: Int
    let bulkIntervalSeconds: Double
    /// The first order id the workload inserts; the orders below it (rows already there) are updated and
    /// deleted like its own.
    let firstOrder: Int64
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)

    init(parameters: ConnectionParameters, bulkRows: Int = 1000, bulkIntervalSeconds: Double = 8, firstOrder: Int64 = 1) {
        self.parameters = parameters
        self.bulkRows = bulkRows
        self.bulkIntervalSeconds = bulkIntervalSeconds
        self.firstOrder = firstOrder
    }

    var summary: String {
        state.withLock {
            "\($0.transactions) transactions attempted (\($0.bulkTransactions) of \(bulkRows) rows, \($0.rollbacks) rolled back), \($0.connectionErrors) interrupted by the faults"
        }
    }

    /// Transactions that ran to their COMMIT or ROLLBACK (not interrupted by a fault).
    var transactionsCompleted: Int { state.withLock { $0.transactions - $0.connectionErrors } }

    func start() {
        Thread { [self] in
            run()
            finished.signal()
        }.start()
    }

    /// Stops after the current transaction and waits for the thread.
    func stop() {
        state.withLock { $0.stopRequested = true }
        finished.wait()
    }

    private func run() {
        let sql = ReconnectingConnection(parameters)
        defer { sql.close() }
        var nextOrder = firstOrder
        var lastBulk = Date()
        var number = 0
        while !state.withLock({ $0.stopRequested }) {
            number += 1
            var statements: [String]
            var kind = Int.random(in: 0..<100)
            if Date().timeIntervalSince(lastBulk) >= bulkIntervalSeconds { kind = -1; lastBulk = Date() }
            switch kind {
            case -1:
                // A large transaction: one order with `bulkRows` lines.
                let order = nextOrder
                nextOrder += 1
                statements = [
                    "INSERT INTO orders VALUES (\(order), \(number % 500), 'bulk', \(bulkRows), 'bulk \(number)')",
                    "INSERT INTO order_lines SELECT \(order), g, 'bulk-' || g, g % 7 + 1 FROM generate_series(1, \(bulkRows)) g",
                ]
                state.withLock { $0.bulkTransactions += 1 }
            case 0..<40:
                // A new order with one to four lines.
                let order = nextOrder
                nextOrder += 1
                statements = ["INSERT INTO orders VALUES (\(order), \(number % 500), 'new', \(number % 1000), md5(random()::text))"]
                for line in 1...Int.random(in: 1...4) {
                    statements.append("INSERT INTO order_lines VALUES (\(order), \(line), 'sku-\(number % 97)', \(line))")
                }
            case 40..<65:
                // The hot keys.
                statements = (0..<Int.random(in: 1...3)).map { _ in
                    """
                    INSERT INTO counters VALUES (\(Int.random(in: 1...10)), 1, md5(random()::text))
                    ON CONFLICT (id) DO UPDATE SET hits = counters.hits + 1, payload = excluded.payload
                    """
                }
            case 65..<87:
                let order = Int64.random(in: 1...max(1, nextOrder - 1))
                statements = [
                    "UPDATE orders SET status = 'shipped \(number)', amount = amount + 1 WHERE id = \(order)",
                    "UPDATE order_lines SET quantity = quantity + 1 WHERE order_id = \(order) AND line_no = 1",
                ]
            case 87..<95:
                let order = Int64.random(in: 1...max(1, nextOrder - 1))
                statements = ["DELETE FROM order_lines WHERE order_id = \(order)", "DELETE FROM orders WHERE id = \(order)"]
            default:
                // Rolled back: recognisable values that must never reach Kafka.
                let order = nextOrder
                nextOrder += 1
                statements = [
                    "INSERT INTO orders VALUES (\(order), 0, '\(Self.rolledBackMarker)', 0, '\(Self.rolledBackMarker) \(number)')",
                    "UPDATE counters SET payload = '\(Self.rolledBackMarker) \(number)' WHERE id = \(Int.random(in: 1...10))",
                ]
                state.withLock { $0.rollbacks += 1 }
            }
            let end = kind >= 95 ? "ROLLBACK" : "COMMIT"
            let script = (["BEGIN"] + statements + [end]).joined(separator: ";\n")
            state.withLock { $0.transactions += 1 }
            do {
                // The cluster runs with synchronous_commit=off; commits must be flushed before they are
                // reported, or a `-m immediate` restart could lose transactions the audit slot saw.
                _ = try sql.attempt(timeoutSeconds: 0) { try $0.execute("SET synchronous_commit = on; \(script)") }
            } catch {
                state.withLock { $0.connectionErrors += 1 }
                usleep(200_000)
            }
            // Paced, so that the faults land while changes are flowing and the mock's log stays small.
            usleep(8_000)
        }
    }
}

/// Runs `swallow run` as systemd would with `Restart=always` and `RestartSec=0.5`: whenever the process
/// exits, for whatever reason, it is started again, until `stop`. Exit statuses are recorded per pid.
final class SwallowSupervisor: @unchecked Sendable {
    private struct State {
        var current: SwallowProcess?
        var stopRequested = false
        var starts = 0
        var startedAt: [Date] = []
        var exits: [(pid: pid_t, status: Int32)] = []
        var startFailures: [String] = []
    }

    let configPath: String
    let logPath: String
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)

    init(configPath: String, logPath: String) {
        self.configPath = configPath
        self.logPath = logPath
    }

    func start() {
        Thread { [self] in
            run()
            finished.signal()
        }.start()
    }

    private func run() {
        while true {
            let process: SwallowProcess? = state.withLock { state in
                guard !state.stopRequested else { return nil }
                do {
                    let process = try SwallowProcess(configPath: configPath, logPath: logPath)
                    state.current = process
                    state.starts += 1
                    state.startedAt.append(Date())
                    return process
                } catch {
                    state.startFailures.append("\(error)")
                    return nil
                }
            }
            if let process {
                var status: Int32?
                while status == nil {
                    usleep(20_000)
                    status = process.child.exitStatusIfEnded()
                }
                state.withLock { state in
                    state.exits.append((process.child.pid, status!))
                    state.current = nil
                }
            }
            if state.withLock({ $0.stopRequested }) { return }
            usleep(500_000)   // RestartSec
        }
    }

    /// Sends `signal` to the running process; returns its pid, or nil if none is running right now.
    /// The process running now, if any.
    var currentPID: pid_t? { state.withLock { $0.current?.child.pid } }

    @discardableResult
    func signal(_ signal: Int32) -> pid_t? {
        state.withLock { state in
            guard let process = state.current else { return nil }
            process.child.signal(signal)
            return process.child.pid
        }
    }

    /// Stops restarting, sends SIGTERM to the running process and waits for it; returns its exit status
    /// (nil if none was running). SIGKILL after `timeoutSeconds`.
    func stop(timeoutSeconds: Double = 60) -> Int32? {
        let pid: pid_t? = state.withLock { state in
            state.stopRequested = true
            state.current?.child.signal(SIGTERM)
            return state.current?.child.pid
        }
        if finished.wait(timeout: .now() + timeoutSeconds) != .success {
            signal(SIGKILL)
            finished.wait()
        }
        return pid.flatMap(exitStatus(of:))
    }

    func exitStatus(of pid: pid_t) -> Int32? { state.withLock { $0.exits.last { $0.pid == pid }?.status } }
    var starts: Int { state.withLock { $0.starts } }
    /// When each process was started, in order.
    var startedAt: [Date] { state.withLock { $0.startedAt } }
    var exits: [(pid: pid_t, status: Int32)] { state.withLock { $0.exits } }
    var startFailures: [String] { state.withLock { $0.startFailures } }
}

/// A partition of a topic.
struct TopicPartition: Hashable, CustomStringConvertible {
    var topic: String
    var partition: Int32
    var description: String { "\(topic) [\(partition)]" }
}

/// Samples, every `intervalMilliseconds`, the slot's `confirmed_flush_lsn` and then (in that order) each
/// partition's high watermark. Every event of a transaction whose end LSN is at or below a sample's
/// confirmed position must then sit below the watermark recorded with it: the watermark was read after
/// the confirmation, so an event above it had not been acknowledged when the slot was confirmed past it.
/// A partition whose leader does not answer within 200 ms (slowed by the suite) is left out of that
/// sample, and a sample ends once its watermarks come later than `maximumSampleSeconds` after its
/// confirmed position (a down leader makes the query wait for it), rather than be checked against a
/// later, more lenient, watermark.
final class ConfirmedPositionSampler: @unchecked Sendable {
    struct Sample {
        var time: Date
        var confirmed: LSN
        var highWatermarks: [TopicPartition: Int64]
    }

    /// How long after reading the confirmed position a watermark still counts for the sample.
    static let maximumSampleSeconds = 1.0

    let parameters: ConnectionParameters
    /// The partitions, in groups each queried by a client of its own.
    let groups: [(KafkaAdmin, [TopicPartition])]
    let intervalMilliseconds: Int
    private let samples = Mutex<[Sample]>([])
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter groups: partitions grouped (e.g. by topic), each group with a client of its own.
    init(parameters: ConnectionParameters, groups: [(KafkaAdmin, [TopicPartition])], intervalMilliseconds: Int = 150) {
        self.parameters = parameters
        self.groups = groups
        self.intervalMilliseconds = intervalMilliseconds
    }

    func start() {
        Thread { [self] in
            let sql = ReconnectingConnection(parameters)
            defer { sql.close() }
            let queue = DispatchQueue(label: "chaos.watermarks", attributes: .concurrent)
            // A client whose query is stuck (librdkafka can wait far past the timeout after a fault) is
            // skipped until it answers, rather than piling up blocked threads behind its lock.
            let busy = Mutex<Set<Int>>([])
            while !stopRequested.load(ordering: .relaxed) {
                if let confirmed = sql.once({ try confirmedFlushLSN($0) }), confirmed > .invalid {
                    let confirmedAt = Date()
                    let marks = Mutex<[TopicPartition: Int64]>([:])
                    let group = DispatchGroup()
                    for (index, (admin, partitions)) in groups.enumerated() {
                        guard busy.withLock({ $0.insert(index).inserted }) else { continue }
                        queue.async(group: group) {
                            defer { _ = busy.withLock { $0.remove(index) } }
                            for tp in partitions {
                                guard let high = try? admin.watermarks(topic: tp.topic, partition: tp.partition,
                                                                       timeoutMilliseconds: 200).high else { continue }
                                // A watermark read long after the confirmed position is more lenient than
                                // the check intends: end this client's part of the sample.
                                guard Date().timeIntervalSince(confirmedAt) < Self.maximumSampleSeconds else { break }
                                marks.withLock { $0[tp] = high }
                            }
                        }
                    }
                    _ = group.wait(timeout: .now() + Self.maximumSampleSeconds)
                    let highWatermarks = marks.withLock { $0 }
                    samples.withLock { $0.append(Sample(time: Date(), confirmed: confirmed, highWatermarks: highWatermarks)) }
                }
                usleep(useconds_t(intervalMilliseconds * 1000))
            }
            finished.signal()
        }.start()
    }

    /// Stops sampling and returns the samples taken (without waiting for a query that is stuck).
    func stop() -> [Sample] {
        stopRequested.store(true, ordering: .relaxed)
        _ = finished.wait(timeout: .now() + 2 * Self.maximumSampleSeconds + 1)
        return samples.withLock { $0 }
    }
}
