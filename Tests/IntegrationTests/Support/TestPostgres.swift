import Foundation
import PGReplication
import Synchronization

/// The repository root, found from this file's path, for the scripts the tests drive.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A throwaway PostgreSQL 15 cluster (`wal_level=logical`) shared by the tests of this process.
///
/// `scripts/test.sh` starts one and passes its port in `SWALLOW_TEST_PGPORT`; a bare `swift test` starts
/// its own through the same script and stops it when the process exits. Each test works in a database
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

    func connect(_ database: String) throws -> PostgresConnection {
        try PostgresConnection(parameters(database: database), replication: false)
    }
}

private let clusterToStop = Mutex<String?>(nil)

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a repository script and returns its standard output; throws with its stderr on failure.
@discardableResult
func runScript(_ script: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = repositoryRoot.appendingPathComponent(script)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw TestFailure("\(script) \(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self)
}
