import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// scripts/schema-registry/test_registry.py, started for one test (a Confluent-compatible registry:
/// no real one can be installed on the build machines).
final class TestRegistry {
    let process = Process()
    let port: Int
    let directory: URL

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/schema-registry/test_registry.py").path

    init(arguments: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let portFile = directory.appendingPathComponent("port").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "--port-file", portFile] + arguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: portFile) {
            guard process.isRunning, Date() < deadline else {
                throw RegistryStartFailure(message: "the test registry did not start within 60 s")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        port = Int(try String(contentsOfFile: portFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// A test control of the registry (POST /_test/...).
    func control(_ path: String, _ body: String) throws {
        var request = URLRequest(url: URL(string: "\(url)/_test/\(path)")!)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        _ = try syncRequest(request)
    }

    func requests() throws -> [String] {
        let data = try syncRequest(URLRequest(url: URL(string: "\(url)/_test/requests")!))
        return try JSONSerialization.jsonObject(with: data) as? [String] ?? []
    }

    private func syncRequest(_ request: URLRequest) throws -> Data {
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox()
        URLSession.shared.dataTask(with: request) { data, _, error in
            result.data = data
            result.error = error
            done.signal()
        }.resume()
        done.wait()
        if let error = result.error { throw error }
        return result.data ?? Data()
    }

    private final class ResultBox: @unchecked Sendable {
        var data: Data?
        var error: (any Error)?
    }

    deinit {
        if process.isRunning {
            // SIGKILL: a test registry keeps nothing worth a clean stop.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

struct RegistryStartFailure: Error { var message: String }
