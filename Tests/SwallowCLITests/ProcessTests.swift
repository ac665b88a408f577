import Foundation
import Logging
import PGOutput
import Testing
@testable import Pipeline
@testable import SwallowCLI

@Suite struct JSONLogHandlerTests {
    @Test func aLineIsOneJSONObjectWithTimestampLevelLabelMessageAndSortedMetadata() throws {
        let line = JSONLogHandler.line(
            timestampMillis: 1_738_326_896_789, level: .warning, label: "swallow",
            message: "stream interrupted", metadata: ["retry_in_ms": "500", "error": "connection \"lost\"\n\tagain"])
        let text = String(decoding: line, as: UTF8.self)
        #expect(text == #"{"timestamp":"2025-01-31T12:34:56.789Z","level":"warning","label":"swallow","message":"stream interrupted","metadata":{"error":"connection \"lost\"\n\tagain","retry_in_ms":"500"}}"#)
        #expect(!text.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect((object["metadata"] as? [String: Any])?["error"] as? String == "connection \"lost\"\n\tagain")
    }

    @Test func controlCharactersNestedValuesAndUnicodeStayValidJSON() throws {
        let line = JSONLogHandler.line(
            timestampMillis: 0, level: .info, label: "l", message: "bell \u{07} é ✓",
            metadata: ["list": ["a", "b"], "map": ["z": "1", "a": .stringConvertible(42)]])
        let text = String(decoding: line, as: UTF8.self)
        #expect(text.contains(#""message":"bell \u0007 é ✓""#))
        #expect(text.contains(#""metadata":{"list":["a","b"],"map":{"a":"42","z":"1"}}"#))
        #expect(text.hasPrefix(#"{"timestamp":"1970-01-01T00:00:00.000Z""#))
        _ = try JSONSerialization.jsonObject(with: Data(line))
    }

    @Test func theHandlerWritesOneLinePerEventWithTheLoggersMetadata() throws {
        var pipe: [Int32] = [0, 0]
        #expect(Glibc.pipe(&pipe) == 0)
        defer { close(pipe[0]) }
        var handler = JSONLogHandler(label: "swallow.test", fileDescriptor: pipe[1], clock: { 1000 })
        handler.logLevel = .debug
        var logger = Logger(label: "swallow.test") { _ in handler }
        logger[metadataKey: "slot"] = "s1"
        logger.info("streaming", metadata: ["from": "0/16B3748"])
        logger.trace("below the level: not written")
        close(pipe[1])
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(pipe[0], &buffer, buffer.count)
        let text = String(decoding: buffer[0..<max(0, count)], as: UTF8.self)
        #expect(text == #"{"timestamp":"1970-01-01T00:00:01.000Z","level":"info","label":"swallow.test","message":"streaming","metadata":{"from":"0/16B3748","slot":"s1"}}"# + "\n")
    }
}

@Suite struct ServiceNotifierTests {
    @Test func messagesAreNewlineSeparatedAssignmentsInOrderAndValuesStayOnOneLine() {
        let bytes = ServiceNotifier.message(["READY": "1", "STATUS": "reconnecting after: line one\nline two"])
        #expect(String(decoding: bytes, as: UTF8.self) == "READY=1\nSTATUS=reconnecting after: line one line two")
        #expect(String(decoding: ServiceNotifier.message(["WATCHDOG": "1"]), as: UTF8.self) == "WATCHDOG=1")
    }

    @Test func noNotifySocketMeansNoNotifierAndARelativeOneIsAnError() throws {
        #expect(try ServiceNotifier(environment: [:]) == nil)
        #expect(try ServiceNotifier(environment: ["NOTIFY_SOCKET": ""]) == nil)
        #expect(throws: PipelineError.self) { try ServiceNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]) }
    }

    @Test func theWatchdogIsDueEveryHalfOfWatchdogUsecAndOnlyForItsOwnPid() {
        #expect(ServiceNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "3000000"], pid: 7) == .milliseconds(1500))
        #expect(ServiceNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "7"], pid: 7) == .milliseconds(1500))
        #expect(ServiceNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "8"], pid: 7) == nil)
        #expect(ServiceNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "0"], pid: 7) == nil)
        #expect(ServiceNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "soon"], pid: 7) == nil)
        #expect(ServiceNotifier.watchdogInterval(environment: [:], pid: 7) == nil)
    }

    @Test func datagramsReachASocketBoundAtAPath() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString)").path
        defer { unlink(path) }
        let receiver = try DatagramReceiver(name: Array(path.utf8) + [0])
        let notifier = try #require(try ServiceNotifier(environment: ["NOTIFY_SOCKET": path]))
        #expect(notifier.send(["READY": "1", "STATUS": "streaming from slot s"]))
        #expect(receiver.receive() == "READY=1\nSTATUS=streaming from slot s")
    }

    @Test func datagramsReachAnAbstractSocketNamedWithAnAt() throws {
        let name = "swallow-test-\(UUID().uuidString)"
        let receiver = try DatagramReceiver(name: [0] + Array(name.utf8))
        let notifier = try #require(try ServiceNotifier(environment: ["NOTIFY_SOCKET": "@\(name)"]))
        #expect(notifier.send(["WATCHDOG": "1"]))
        #expect(receiver.receive() == "WATCHDOG=1")
    }

    @Test func theMonitorSendsReadyOnceThenStatusAndStoppingOnStateChanges() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString)").path
        defer { unlink(path) }
        let receiver = try DatagramReceiver(name: Array(path.utf8) + [0])
        let monitor = PipelineMonitor(slot: "s", notifier: try ServiceNotifier(environment: ["NOTIFY_SOCKET": path]))
        monitor.transition(to: .snapshotting)
        #expect(receiver.receive() == "READY=1\nSTATUS=snapshotting the captured tables")
        monitor.transition(to: .streaming)
        #expect(receiver.receive() == "STATUS=streaming from slot s")
        monitor.transition(to: .reconnecting, error: "connection lost")
        #expect(receiver.receive() == "STATUS=reconnecting after: connection lost")
        monitor.beginStopping()
        #expect(receiver.receive() == "STOPPING=1\nSTATUS=stopping")
        monitor.transition(to: .streaming)   // a stream opening while stopping does not count
        monitor.transition(to: .stopped)
        #expect(receiver.receive() == "STATUS=stopped")
        #expect(monitor.status.state == .stopped)
        #expect(monitor.status.lastError == "connection lost")
    }
}

/// A datagram socket bound to `name` (a path with its NUL, or NUL + an abstract name).
final class DatagramReceiver {
    let descriptor: Int32

    init(name: [UInt8]) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: name) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + name.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw PipelineError(code: .serviceNotification, message: "bind failed: \(errno)", isRetriable: false) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// The next datagram, or nil after 5 s.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
    }
}
