import Foundation
import Kafka

/// A Tansu broker of a test's own (Tansu 0.6, an Apache Kafka compatible broker in Rust; memory storage,
/// one broker, node id 111), on a free port of 127.0.0.1: an independent implementation of the Kafka
/// protocol for the interoperability tests (`TansuInteropTests`).
///
/// The binary is `$SWALLOW_TEST_TANSU`, set by scripts/interop-tansu.sh, which also runs the tests with a
/// librdkafka new enough for Tansu (Debian 12's 2.0.2 fails its ApiVersionRequest). Without it this
/// throws: these tests run through that script (scripts/test.sh calls it), never silently skipped.
final class TestTansu {
    let bootstrapServers: String
    let logPath: String
    private let child: ChildProcess

    init() throws {
        guard let binary = ProcessInfo.processInfo.environment["SWALLOW_TEST_TANSU"], !binary.isEmpty else {
            throw TestFailure("SWALLOW_TEST_TANSU (the tansu binary) is not set: run these tests through scripts/interop-tansu.sh")
        }
        // The port is found free, then bound by Tansu: another process may take it in between, so a
        // broker that exits at once is started again on another port.
        var attempt = 0
        while true {
            attempt += 1
            let port = try Self.freeLoopbackPort()
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("tansu-\(port)-\(UInt32.random(in: 0 ... .max)).log").path
            let url = "tcp://127.0.0.1:\(port)"
            let child = try ChildProcess(executable: binary,
                                         arguments: ["broker", "--listener-url", url, "--advertised-listener-url", url,
                                                     "--storage-engine", "memory://tansu/"],
                                         outputPath: log)
            var exited: Int32?
            let ready = holdsWithin(seconds: 30) {
                exited = child.exitStatusIfEnded()
                return exited != nil || Self.read(log).contains("ready in")
            }
            if ready, exited == nil {
                (bootstrapServers, logPath, self.child) = ("127.0.0.1:\(port)", log, child)
                break
            }
            child.signal(SIGKILL)
            child.wait()
            guard attempt < 3 else {
                throw TestFailure("tansu did not start (\(exited.map { "exit \($0)" } ?? "not ready within 30 s")): \(Self.read(log))")
            }
        }
        // librdkafka must talk to it: a whole-cluster Metadata request.
        let admin = try KafkaAdmin(bootstrapServers: bootstrapServers)
        defer { admin.close() }
        do {
            _ = try admin.metadata(timeoutMilliseconds: 20_000)
        } catch {
            // (/proc files report no size: read to the end rather than by String(contentsOfFile:).)
            let maps = FileHandle(forReadingAtPath: "/proc/self/maps").map { String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) } ?? ""
            let loaded = maps.split(separator: "\n").first { $0.contains("librdkafka") }.map { String($0.split(separator: " ").last ?? "") } ?? "unknown"
            stop()
            throw TestFailure("librdkafka (\(loaded)) cannot talk to tansu at \(bootstrapServers): \(error); Tansu needs a newer librdkafka than Debian 12's 2.0.2, run through scripts/interop-tansu.sh")
        }
    }

    deinit { stop() }

    /// Ends the broker and with it its memory storage (SIGKILL: there is nothing to keep, and Tansu
    /// takes seconds over SIGTERM). Idempotent.
    func stop() {
        child.signal(SIGKILL)
        child.wait()
    }

    private static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    private static func freeLoopbackPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw TestFailure("no free port on 127.0.0.1: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
