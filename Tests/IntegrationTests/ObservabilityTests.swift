import Foundation
import Kafka
import Testing

/// `swallow run` as a supervised service sees it: the HTTP listener scraped while streaming, JSON log
/// lines, and the systemd notification protocol over a real datagram socket.
@Suite(.integrationTest) struct ObservabilityTests {
    @Test func metricsStatusAndProbesDescribeAStreamingPipelineAndSystemdIsNotified() throws {
        let database = try TestPostgres.shared.makeDatabase("observe")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
        // The broker lives in the test process; the child connects to it over TCP.
        let cluster = try MockKafkaCluster(brokers: 1)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("observe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let notify = try NotifySocket(path: directory.appendingPathComponent("notify").path)

        let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers,
                                         tables: ["public.items"], snapshot: "{mode: no_data}")
            + "\nlog_format: json\nhttp: {listen: \"127.0.0.1:0\"}\n"
        let configPath = directory.appendingPathComponent("swallow.yaml").path
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let logPath = directory.appendingPathComponent("swallow.log").path
        let swallow = try SwallowProcess(configPath: configPath, logPath: logPath,
                                         environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"])
        var stopped = false
        defer { if !stopped { swallow.kill9() } }

        let http = try httpListenerPort(of: swallow)
        #expect(try httpGet(port: http, path: "/healthz").status == 200)

        try waitUntil("the slot to be streaming") { try isStreaming(sql) }
        try waitUntil("READY=1") { notify.messages.contains { $0.contains("READY=1") } }
        let ready = try #require(notify.messages.first { $0.contains("READY=1") })
        #expect(ready.contains("STATUS=streaming from slot \(database)"))

        try sql.execute("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')")
        try sql.execute("UPDATE items SET name = 'uno' WHERE id = 1")
        try sql.execute("UPDATE items SET name = 'dos' WHERE id = 2")
        try sql.execute("DELETE FROM items WHERE id = 3")
        let serverPosition = try #require(try sql.execute("SELECT pg_current_wal_insert_lsn()::text AS lsn")[0, "lsn"])

        // Counters move as events are produced and acknowledged; gauges at the pipeline's heartbeat
        // (at least every second).
        var metrics: [String: Double] = [:]
        try waitUntil("the metrics to show every change confirmed") {
            metrics = try prometheusSamples(try httpGet(port: http, path: "/metrics").body)
            return (metrics["swallow_confirmed_lsn"] ?? 0) >= Double(lsnValue(serverPosition))
                && metrics["swallow_commit_to_ack_latency_seconds_count"] == 4
        }
        #expect(metrics[#"swallow_events_total{table="public.items",op="c"}"#] == 3)
        #expect(metrics[#"swallow_events_total{table="public.items",op="u"}"#] == 2)
        #expect(metrics[#"swallow_events_total{table="public.items",op="d"}"#] == 1)
        #expect(metrics[#"swallow_events_total{table="public.items",op="tombstone"}"#] == 1)
        #expect((metrics[#"swallow_event_bytes_total{table="public.items",op="c"}"#] ?? 0) > 3 * 100)
        #expect(metrics["swallow_ack_latency_seconds_count"] == 7)
        // Four transactions with events, each timed from its commit to its last acknowledgement.
        #expect(metrics["swallow_commit_to_ack_latency_seconds_count"] == 4)
        #expect(metrics["swallow_delivery_failures_total"] == 0)
        #expect(metrics[#"swallow_state{state="streaming"}"#] == 1)
        #expect(metrics[#"swallow_state{state="starting"}"#] == 0)
        #expect((metrics["swallow_slot_lag_bytes"] ?? -1) >= 0)
        #expect((metrics["swallow_last_event_age_seconds"] ?? -1) >= 0)

        let status = try #require(try JSONSerialization.jsonObject(with: Data(try httpGet(port: http, path: "/status").body)) as? [String: Any])
        #expect(status["state"] as? String == "streaming")
        #expect(status["ready"] as? Bool == true)
        #expect(status["slot"] as? String == database)
        let confirmed = try #require(status["confirmed_lsn"] as? String)
        #expect(lsnValue(confirmed) >= lsnValue(serverPosition))
        #expect(status["received_lsn"] is String)
        #expect(status["in_flight_events"] as? Int == 0)
        #expect(status["last_event_time"] is String)
        #expect(status["last_error"] is NSNull)
        let statusText = String(decoding: try httpGet(port: http, path: "/status").body, as: UTF8.self)
        #expect(!statusText.contains("uno") && !statusText.contains("three"))   // never row contents

        let readiness = try httpGet(port: http, path: "/readyz")
        #expect(readiness.status == 200)
        #expect(String(decoding: readiness.body, as: UTF8.self).contains("streaming"))
        #expect(try httpGet(port: http, path: "/nothing").status == 404)

        // WATCHDOG_USEC=1 s: pings every half second from the stream loop, so two more within 1.6 s.
        let pingsBefore = notify.messages.filter { $0 == "WATCHDOG=1" }.count
        #expect(holdsWithin(seconds: 1.6) { notify.messages.filter { $0 == "WATCHDOG=1" }.count >= pingsBefore + 2 },
                "fewer than two WATCHDOG=1 pings in 1.6 s")

        #expect(swallow.terminate() == 0)
        stopped = true
        try waitUntil("STOPPING=1") { notify.messages.contains { $0.hasPrefix("STOPPING=1") } }
        let lines = try jsonLogLines(swallow.log)
        #expect(lines.contains { $0["message"] as? String == "streaming" })
        #expect(lines.allSatisfy { $0["timestamp"] is String && $0["level"] is String && $0["label"] is String })
        #expect(!swallow.log.contains("uno"))
        notify.stop()
    }

    @Test func readyzAnswers503WithTheReasonWhilePostgresIsUnreachable() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("observe-down-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let configPath = directory.appendingPathComponent("swallow.yaml").path
        // Port 1 on loopback refuses connections: a server that is down.
        try """
            postgres: {host: 127.0.0.1, port: 1, dbname: app, user: swallow, password: hunter2-secret, sslmode: disable}
            slot: {name: swallow}
            publication: {name: swallow}
            topic_prefix: app
            kafka: {bootstrap_servers: embedded}
            http: {listen: "127.0.0.1:0"}
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let swallow = try SwallowProcess(configPath: configPath, logPath: directory.appendingPathComponent("log").path)
        var port: Int?
        try waitUntil("the HTTP listener and a retry") {
            guard swallow.log.contains("retry_in_ms"),
                  let line = swallow.log.split(separator: "\n").first(where: { $0.contains("HTTP listener") }),
                  let address = line.split(separator: " ").last(where: { $0.hasPrefix("address=") }) else { return false }
            port = address.split(separator: ":").last.flatMap { Int($0) }
            return port != nil
        }
        let http = try #require(port)
        let readiness = try httpGet(port: http, path: "/readyz")
        #expect(readiness.status == 503)
        #expect(String(decoding: readiness.body, as: UTF8.self).contains("Connection refused"))
        #expect(try httpGet(port: http, path: "/healthz").status == 200)
        let status = String(decoding: try httpGet(port: http, path: "/status").body, as: UTF8.self)
        #expect(status.contains(#""state":"reconnecting""#))
        #expect(!status.contains("hunter2-secret"))
        #expect(swallow.terminate() == 0)
    }
}

/// A bound AF_UNIX datagram socket collecting what the child sends, as systemd's notify socket would.
final class NotifySocket: @unchecked Sendable {
    let path: String
    private let descriptor: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private var stopped = false

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TestFailure("bind \(path): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !lock.withLock({ stopped }) {
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count > 0 {
                    let message = String(decoding: buffer[0..<count], as: UTF8.self)
                    lock.withLock { received.append(message) }
                } else if count < 0 && errno != EAGAIN && errno != EINTR {
                    break
                }
            }
            close(descriptor)
        }
        thread.start()
    }

    var messages: [String] { lock.withLock { received } }

    /// Ends the receiving thread, which closes the socket.
    func stop() { lock.withLock { stopped = true } }
}

/// One HTTP/1.1 GET over a plain TCP socket to 127.0.0.1 (no client library in the test's way).
func httpGet(port: Int, path: String) throws -> (status: Int, body: [UInt8]) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestFailure("socket failed") }
    defer { close(descriptor) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw TestFailure("connect to port \(port): \(String(cString: strerror(errno)))") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
    guard send(descriptor, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { throw TestFailure("send failed") }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = recv(descriptor, &buffer, buffer.count, 0)
        if count <= 0 { break }
        response += buffer[0..<count]
    }
    let separator = Array("\r\n\r\n".utf8)
    guard let headerEnd = (0...(max(0, response.count - 4))).first(where: { Array(response[$0..<min($0 + 4, response.count)]) == separator }) else {
        throw TestFailure("no HTTP response from \(path): \(String(decoding: response, as: UTF8.self))")
    }
    let head = String(decoding: response[..<headerEnd], as: UTF8.self)
    guard let status = head.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
        throw TestFailure("bad status line: \(head)")
    }
    return (status, Array(response[(headerEnd + 4)...]))
}

/// `name{labels} value` lines of the Prometheus text format, keyed by `name{labels}` as written.
func prometheusSamples(_ body: [UInt8]) throws -> [String: Double] {
    var samples: [String: Double] = [:]
    for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            throw TestFailure("not a sample line: \(line)")
        }
        samples[String(line[..<space])] = value
    }
    return samples
}

/// Each log line parsed as a JSON object (throws on a line that is not one).
/// The port `http.listen: 127.0.0.1:0` became, from the listener's JSON log line (`log_format: json`).
func httpListenerPort(of swallow: SwallowProcess) throws -> Int {
    var port: Int?
    try waitUntil("the HTTP listener to be logged") {
        port = try jsonLogLines(swallow.log).first { $0["message"] as? String == "HTTP listener serving /metrics, /healthz, /readyz, /status" }
            .flatMap { ($0["metadata"] as? [String: Any])?["address"] as? String }
            .flatMap { $0.split(separator: ":").last.flatMap { Int($0) } }
        return port != nil
    }
    return try #require(port)
}

func jsonLogLines(_ log: String) throws -> [[String: Any]] {
    try log.split(separator: "\n").map { line in
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw TestFailure("not a JSON log line: \(line)")
        }
        return object
    }
}

/// `X/Y` as a number.
func lsnValue(_ text: String) -> UInt64 {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16) else { return 0 }
    return high << 32 | low
}
