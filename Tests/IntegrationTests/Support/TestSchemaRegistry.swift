import Avro
import Foundation
import SchemaRegistry

/// scripts/schema-registry/test_registry.py as a child of the test process (through `ChildProcess`, like
/// every child of the integration tests): a Confluent-compatible registry, since no real one can be
/// installed on the build machines. `client` is Swallow's own registry client.
final class TestSchemaRegistry {
    private let child: ChildProcess
    let port: Int
    let client: SchemaRegistryClient

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/schema-registry/test_registry.py").path

    /// `arguments`: the script's options (`--user NAME:PASSWORD`...).
    init(name: String, arguments: [String] = []) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-registry-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let portFile = directory + "/port"
        child = try ChildProcess(executable: "/usr/bin/env", arguments: ["python3", Self.script, "--port-file", portFile] + arguments,
                                 outputPath: directory + "/registry.log")
        try waitUntil(timeoutSeconds: 60, "the test Schema Registry to listen") {
            FileManager.default.fileExists(atPath: portFile)
        }
        guard let port = Int(try String(contentsOfFile: portFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestFailure("the test Schema Registry wrote no port")
        }
        self.port = port
        client = SchemaRegistryClient(settings: SchemaRegistrySettings(urls: ["http://127.0.0.1:\(port)"]))
    }

    deinit {
        child.signal(SIGKILL)
        child.wait()
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// A test control of the registry (POST /_test/<path>; see the script).
    func control(_ path: String, _ body: String) throws {
        try HTTPRaw.post(port: port, path: "/_test/\(path)", body: body)
    }

    func subjects() throws -> [String] {
        (try JSONSerialization.jsonObject(with: Data(try client.get("/subjects"))) as? [String]) ?? []
    }

    func versions(_ subject: String) throws -> [Int] {
        (try JSONSerialization.jsonObject(with: Data(try client.get("/subjects/\(subject)/versions"))) as? [Int]) ?? []
    }

    func setCompatibility(_ subject: String, _ level: String) throws {
        try HTTPRaw.put(port: port, path: "/config/\(subject)", body: #"{"compatibility":"\#(level)"}"#)
    }

    /// The record's key or value decoded with the schema its id names, in JsonConverter's payload shape.
    func decode(_ message: [UInt8]?) throws -> (id: Int32, value: JSONValue)? {
        guard let message else { return nil }
        let (id, body) = try ConfluentWireFormat.split(message)
        let schema = try AvroSchema.parse(try client.schema(id: id))
        return (id, try AvroDecoder.decode(body, schema: schema))
    }
}

/// A minimal HTTP/1.1 request over a loopback socket, for the test registry's controls.
enum HTTPRaw {
    static func post(port: Int, path: String, body: String) throws { try send("POST", port: port, path: path, body: body) }
    static func put(port: Int, path: String, body: String) throws { try send("PUT", port: port, path: path, body: body) }

    private static func send(_ method: String, port: Int, path: String, body: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestFailure("cannot connect to the test registry") }
        let request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        let bytes = Array(request.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw TestFailure("cannot write to the test registry") }
        var answer = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &answer, answer.count)
        guard n > 0, String(decoding: answer[0..<n], as: UTF8.self).hasPrefix("HTTP/1.1 200") else {
            throw TestFailure("the test registry refused \(method) \(path)")
        }
    }
}
