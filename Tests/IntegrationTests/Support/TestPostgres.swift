import Foundation
import PGReplication
import Synchronization

/// The repository root, found from this file's path, for the scripts the tests drive.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A throwaway PostgreSQL 15 cluster (`wal_level=logical`) shared by the tests of this process.
///
/// `scripts/test.sh` starts one and passes its port in `SWALLOW_TEST_PGPORT`; without that variable
/// (`SWALLOW_INTEGRATION_TESTS=1 swift test`) the tests start their own through the same script and stop it
/// when the process exits. A bare `swift test` has no IntegrationTests target at all (see Package.swift). Each test works in a database
/// of its own, so tests run in parallel without seeing each other's slots or tables.
final class TestPostgres: Sendable {
    let port: Int
    private let ownedDirectory: String?

    static let shared: TestPostgres = {
        do { return try TestPostgres() } catch { fatalError("cannot start the test PostgreSQL cluster: \(error)") }
    }()

    private init() throws {
        if let value = ProcessInfo.processInfo.environment["SWALLOW_TEST_PGPORT"], let port = Int(value) {
            self.port = port
            ownedDirectory = nil
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-tests-\(getpid())").path
        let output = try runScript("scripts/pg-cluster.sh", ["start", directory])
        guard let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "") else {
            throw TestFailure("pg-cluster.sh printed no port: \(output)")
        }
        self.port = port
        ownedDirectory = directory
        clusterToStop.withLock { $0 = directory }
        atexit {
            if let directory = clusterToStop.withLock({ $0 }) {
                _ = try? runScript("scripts/pg-cluster.sh", ["stop", directory])
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    func parameters(database: String, user: String = "postgres") -> ConnectionParameters {
        ConnectionParameters(host: "127.0.0.1", port: port, database: database, user: user, password: nil,
                             sslMode: "disable")
    }

    /// Creates a fresh database for one test and returns its name.
    func makeDatabase(_ prefix: String) throws -> String {
        let name = "\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PostgresConnection(parameters(database: "postgres"), replication: false)
        defer { admin.close() }
        try admin.execute("CREATE DATABASE \(name)")
        return name
    }

    /// Drops the slots a test left in its database: slots are cluster-wide and limited in number.
    func dropSlots(of database: String) {
        guard let admin = try? PostgresConnection(parameters(database: "postgres"), replication: false) else { return }
        defer { admin.close() }
        _ = try? admin.execute("""
            SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
            WHERE database = '\(database)' AND NOT active
            """)
    }

    func connect(_ database: String) throws -> PostgresConnection {
        try PostgresConnection(parameters(database: database), replication: false)
    }
}

private let clusterToStop = Mutex<String?>(nil)

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a repository script and returns its standard output; throws with its output on failure.
/// Uses posix_spawn and waitpid: Foundation's Process.waitUntilExit can hang on Linux when called off the
/// main thread.
@discardableResult
func runScript(_ script: String, _ arguments: [String]) throws -> String {
    let (status, text) = try runToCompletion(repositoryRoot.appendingPathComponent(script).path, arguments)
    guard status == 0 else {
        throw TestFailure("\(script) \(arguments.joined(separator: " ")) failed (\(status)): \(text)")
    }
    return text
}

/// Runs a program to completion; returns its exit status and its combined stdout and stderr.
func runToCompletion(_ executable: String, _ arguments: [String]) throws -> (status: Int32, text: String) {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-run-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: output) }
    let status = try ChildProcess(executable: executable, arguments: arguments, outputPath: output).wait()
    return (status, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
}

/// Runs the `swallow` executable to completion.
func runSwallow(_ arguments: [String]) throws -> (status: Int32, text: String) {
    try runToCompletion(try swallowExecutable(), arguments)
}

/// A child process with stdout and stderr appended to a file.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private var exitStatus: Int32?

    /// `environment`: variables to set (or override) in the child, on top of this process's.
    init(executable: String, arguments: [String], outputPath: String, environment: [String: String] = [:]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { _, new in new }
        let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw TestFailure("cannot start \(executable): \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    /// Waits for the child and returns its exit status (128 + signal when killed).
    @discardableResult
    func wait() -> Int32 {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return finish(status)
    }

    /// The exit status if the child has ended (reaping it), else nil; never blocks.
    func exitStatusIfEnded() -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        return finish(status)
    }

    /// Decodes and remembers a wait status: the exit code, or 128 + the signal that killed the child.
    private func finish(_ status: Int32) -> Int32 {
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        exitStatus = code
        return code
    }

    func signal(_ number: Int32) { kill(pid, number) }
}
