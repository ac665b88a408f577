import Foundation
import PGReplication
import Synchronization

/// The repository root, found from this file's path, for the scripts the tests drive.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A throwaway PostgreSQL cluster (`wal_level=logical`) shared by the tests of this process.
///
/// `scripts/test.sh` runs the tests once per PostgreSQL version of its matrix (15 and 18): for each it
/// starts one cluster, passes its port in `SWALLOW_TEST_PGPORT` and the version's bin directory in
/// `SWALLOW_TEST_PGBIN`, which `scripts/pg-cluster.sh` reads, so the clusters tests start of their own
/// (`PrivatePostgres`; the TLS cluster where that build has TLS, see pg-tls-cluster.sh) are of the same
/// version (`VersionMatrixTests`). Without `SWALLOW_TEST_PGPORT` (`SWALLOW_INTEGRATION_TESTS=1 swift
/// test`, as `scripts/chaos.sh` runs) the tests start their own through the same script and stop it
/// when the process exits. A bare `swift test` has no IntegrationTests target
/// at all (see Package.swift). Each test works in a database of its own, so tests run in parallel without
/// seeing each other's slots or tables.
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
