import CoreMetrics
import Foundation
import Kafka
import Logging
import PGReplication
import Pipeline
import SwallowConfig
import Synchronization
import Testing

/// The YAML of a test configuration: a test database, its own slot, and a Kafka bootstrap address.
/// The state directory of a test database's configuration.
func testStateDirectory(_ database: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("swallow-state-\(database)").path
}

/// `postgresPort`: the shared test cluster's unless a test runs a cluster of its own. `sections`: more
/// top-level YAML lines (other sections, such as a transform's), appended as they are.
func testConfigurationYAML(database: String, bootstrapServers: String, tables: [String],
                           extraKafkaProperties: [String: String] = [:],
                           events: String = "{}", snapshot: String = "{}", maxInFlightEvents: Int? = nil,
                           postgresPort: Int? = nil, delivery: SwallowConfiguration.Delivery = .atLeastOnce,
                           sections: String = "") -> String {
    let properties = "{" + extraKafkaProperties.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ") + "}"
    return """
        postgres: {host: 127.0.0.1, port: \(postgresPort ?? TestPostgres.shared.port), dbname: \(database), user: postgres, sslmode: disable}
        slot: {name: \(database), create: true}
        publication: {name: swallow, create: true}
        tables: [\(tables.joined(separator: ", "))]
        topic_prefix: app
        kafka: {bootstrap_servers: "\(bootstrapServers)", properties: \(properties), flush_timeout_ms: 10000}
        status_interval_ms: 200
        delivery: \(delivery.rawValue)
        \(maxInFlightEvents.map { "max_in_flight_events: \($0)" } ?? "")
        log_level: info
        events: \(events)
        snapshot: \(snapshot)
        state_dir: \(testStateDirectory(database))
        \(sections)
        """
}

/// A test configuration, through the same YAML path users take.
func testConfiguration(database: String, bootstrapServers: String, tables: [String],
                       events: String = "{}", snapshot: String = "{}",
                       delivery: SwallowConfiguration.Delivery = .atLeastOnce, sections: String = "") throws -> SwallowConfiguration {
    try SwallowConfiguration.parse(
        yaml: testConfigurationYAML(database: database, bootstrapServers: bootstrapServers, tables: tables,
                                    events: events, snapshot: snapshot, delivery: delivery, sections: sections),
        environment: [:])
}

/// Writes a test configuration to a temporary file, for the `swallow` executable.
func writeConfigurationFile(database: String, bootstrapServers: String, tables: [String],
                            extraKafkaProperties: [String: String] = [:], snapshot: String = "{}",
                            maxInFlightEvents: Int? = nil, postgresPort: Int? = nil,
                            delivery: SwallowConfiguration.Delivery = .atLeastOnce) throws -> String {
    let yaml = testConfigurationYAML(database: database, bootstrapServers: bootstrapServers, tables: tables,
                                     extraKafkaProperties: extraKafkaProperties, snapshot: snapshot,
                                     maxInFlightEvents: maxInFlightEvents, postgresPort: postgresPort,
                                     delivery: delivery)
    _ = try SwallowConfiguration.parse(yaml: yaml, environment: [:])   // fail here, not in the child
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database).yaml").path
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Runs a pipeline on a thread of its own, as the executable does on its main thread.
final class RunningPipeline: Sendable {
    let pipeline: ReplicationPipeline
    private let outcome = Mutex<Result<Void, PipelineError>?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    /// `embeddedCluster`: the test's mock cluster, where `topic_creation` creates topics (it answers no
    /// CreateTopics), as with `bootstrap_servers: embedded`.
    init(configuration: SwallowConfiguration, bootstrapServers: String, metricsFactory: MetricsFactory? = nil,
         embeddedCluster: MockKafkaCluster? = nil) {
        var logger = Logger(label: "swallow.test.\(configuration.postgres.dbname)")
        logger.logLevel = .info
        var settings = PipelineSettings(configuration: configuration, bootstrapServers: bootstrapServers,
                                        connectorVersion: "test")
        settings.embeddedCluster = embeddedCluster
        pipeline = metricsFactory.map { ReplicationPipeline(settings: settings, logger: logger, metricsFactory: $0) }
            ?? ReplicationPipeline(settings: settings, logger: logger)
        let thread = Thread { [self] in
            let result: Result<Void, PipelineError>
            do throws(PipelineError) {
                try self.pipeline.run()
                result = .success(())
            } catch {
                print("pipeline ended with an error: \(error)")
                result = .failure(error)
            }
            self.outcome.withLock { $0 = result }
            self.finished.signal()
        }
        thread.start()
        StartedPipelines.current?.add(self)
    }

    /// Stops the pipeline and returns how `run()` ended.
    func stop(timeoutSeconds: Double = 30) throws -> Result<Void, PipelineError> {
        pipeline.stop()
        guard finished.wait(timeout: .now() + timeoutSeconds) == .success else {
            throw TestFailure("the pipeline did not stop within \(timeoutSeconds) s")
        }
        return outcome.withLock { $0! }
    }

    var hasEnded: Bool { outcome.withLock { $0 != nil } }
}

/// Polls until `condition` holds or the timeout passes.
func waitUntil(timeoutSeconds: Double = 30, _ what: String, _ condition: () throws -> Bool) throws {
    guard try holdsWithin(seconds: timeoutSeconds, condition) else { throw TestFailure("timed out waiting for \(what)") }
}

/// Polls `condition` until it holds (true) or `seconds` pass (false, after a last look). The first polls
/// come quickly, since most conditions hold within milliseconds; later ones every 50 ms, so that a long
/// wait does not load PostgreSQL or the broker with queries.
func holdsWithin(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    var pause: useconds_t = 2_000
    while Date() < deadline {
        if try condition() { return true }
        usleep(pause)
        pause = min(pause * 2, 50_000)
    }
    return try condition()
}

/// The state of Swallow's slot, as Postgres reports it. Slots are cluster-wide, so each test database
/// gets a slot named after it (and the audit slot of the durability tests is left out).
func slotRow(_ sql: PostgresConnection) throws -> (active: Bool, confirmed: String?)? {
    let result = try sql.execute("""
        SELECT active, confirmed_flush_lsn FROM pg_replication_slots
        WHERE slot_name = current_database()
        """)
    guard result.rows.count == 1 else { return nil }
    return (result[0, "active"] == "t", result[0, "confirmed_flush_lsn"])
}

/// Whether a walsender streams from the test's slot. (The slot is already `active` while it is being
/// created, before its consistent point: changes committed then are not in the stream.)
func isStreaming(_ sql: PostgresConnection) throws -> Bool {
    let result = try sql.execute("""
        SELECT count(*) AS n FROM pg_catalog.pg_stat_replication r
        JOIN pg_catalog.pg_replication_slots s ON s.active_pid = r.pid
        WHERE s.slot_name = current_database() AND r.state IN ('catchup', 'streaming')
        """)
    return result[0, "n"] == "1"
}

/// Parses a record's value or key as a JSON object.
func jsonObject(_ bytes: [UInt8]?) throws -> [String: Any]? {
    guard let bytes else { return nil }
    guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
        throw TestFailure("not a JSON object: \(String(decoding: bytes, as: UTF8.self))")
    }
    return object
}

/// The `swallow` executable built next to the test bundle (`swift build` builds both).
func swallowExecutable() throws -> String {
    if let explicit = ProcessInfo.processInfo.environment["SWALLOW_BINARY"] { return explicit }
    let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var directory = testBinary.deletingLastPathComponent()
    // The test runner may live inside SwallowPackageTests.xctest/...; walk up to the build directory.
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("swallow").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    throw TestFailure("the swallow executable was not found next to \(testBinary.path); run `swift build` first (scripts/test.sh does)")
}

/// A `swallow run` child process, as systemd would run it.
final class SwallowProcess {
    let child: ChildProcess
    let logPath: String

    init(configPath: String, logPath: String, environment: [String: String] = [:]) throws {
        self.logPath = logPath
        child = try ChildProcess(executable: try swallowExecutable(), arguments: ["run", "--config", configPath],
                                 outputPath: logPath, environment: environment)
    }

    func kill9() {
        child.signal(SIGKILL)
        child.wait()
    }

    func terminate() -> Int32 {
        child.signal(SIGTERM)
        return child.wait()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// How often the log says the stream resumes from the confirmed position (after a failed delivery,
    /// a lost connection...), counting every process that wrote to `logPath`.
    var resumptions: Int { log.split(separator: "\n").filter { $0.contains(Self.resuming) }.count }

    /// How many streams started after such a resumption: each starts once what was in flight when the
    /// previous one failed has been delivered or has failed.
    var streamsResumed: Int {
        var resuming = false
        var count = 0
        for line in log.split(separator: "\n") {
            if line.contains(Self.resuming) {
                resuming = true
            } else if resuming && line.contains("[Pipeline] streaming") {
                count += 1
                resuming = false
            }
        }
        return count
    }

    private static let resuming = "resuming from the confirmed position"
}

/// The usual set-up of a streaming test: a database of its own with `schema`, a mock Kafka cluster, and
/// a pipeline streaming `tables` from a new slot.
struct StreamingScenario {
    let database: String
    let sql: PostgresConnection
    let cluster: MockKafkaCluster
    let running: RunningPipeline

    init(_ name: String, schema: String, tables: [String], topics: [String] = [], events: String = "{}",
         snapshot: String = "{}", sections: String = "") throws {
        database = try TestPostgres.shared.makeDatabase(name)
        sql = try TestPostgres.shared.connect(database)
        try sql.execute(schema)
        cluster = try MockKafkaCluster(brokers: 1)
        for topic in topics { try cluster.createTopic(topic, partitions: 1) }
        running = RunningPipeline(
            configuration: try testConfiguration(database: database, bootstrapServers: cluster.bootstrapServers,
                                                 tables: tables, events: events, snapshot: snapshot,
                                                 sections: sections),
            bootstrapServers: cluster.bootstrapServers)
        do {
            // 90 s: creating the slot waits for every transaction running in the cluster, which other
            // tests' snapshots may hold open for a while under a loaded run.
            try waitUntil(timeoutSeconds: 90, "the slot to be streaming") { [sql] in try isStreaming(sql) }
        } catch {
            // Stopped here, or it would go on without its cluster: a pipeline that then takes an
            // initial snapshot holds its exported snapshot open, and every other test's slot waits.
            _ = try? running.stop()
            throw error
        }
    }

    /// Drops the test's slots (they are cluster-wide and limited in number).
    func cleanUp() { TestPostgres.shared.dropSlots(of: database) }
}

extension Result {
    var isSuccess: Bool { if case .success = self { true } else { false } }
}

/// Stops `running`, which must have ended with a non-retriable `code` error whose message mentions every
/// one of `parts`; returns that error (nil, with an issue recorded as `otherwise`, when it ended well).
func expectNonRetriableStop(_ running: RunningPipeline, code: PipelineError.Code, mentioning parts: [String],
                            otherwise: String) throws -> PipelineError? {
    guard case .failure(let error) = try running.stop() else {
        Issue.record(Comment(rawValue: otherwise))
        return nil
    }
    #expect(error.code == code)
    #expect(!error.isRetriable)
    for part in parts {
        #expect(error.message.contains(part), "missing \(part) in: \(error.message)")
    }
    return error
}


extension KafkaAdmin {
    /// The records `topic`'s first `partitions` partitions hold: the sum of their high watermarks.
    func recordCount(topic: String, partitions: Int32) throws -> Int64 {
        try (0..<partitions).reduce(Int64(0)) { $0 + (try watermarks(topic: topic, partition: $1, timeoutMilliseconds: 5000).high) }
    }
}
