import Foundation
import Testing

/// The executable as an operator meets it: exit codes and messages.
@Suite(.integrationTest) struct CommandLineTests {
    @Test func aBadConfigurationExitsWithTwoNamingTheKeyAndTheFix() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
            postgres: {hostname: 127.0.0.1, dbname: app, user: swallow}
            slot: {name: swallow}
            publication: {name: swallow}
            topic_prefix: app
            kafka: {bootstrap_servers: embedded}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let result = try runSwallow(["run", "--config", path])
        #expect(result.status == 2)
        #expect(result.text.contains("postgres.hostname"))
        #expect(result.text.contains("host"))
    }

    @Test func anUnreachableServerIsRetriedAndSIGTERMStillStopsCleanly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("down-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Port 1 on loopback refuses connections: a server that is down.
        try """
            postgres: {host: 127.0.0.1, port: 1, dbname: app, user: swallow, password: hunter2-secret, sslmode: disable}
            slot: {name: swallow}
            publication: {name: swallow}
            topic_prefix: app
            kafka: {bootstrap_servers: embedded}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("down-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let swallow = try SwallowProcess(configPath: path, logPath: log)
        try waitUntil("a retry to be logged") { swallow.log.contains("retry_in_ms") }
        #expect(swallow.terminate() == 0)
        #expect(swallow.log.contains("Connection refused"))
        #expect(swallow.log.contains("check that PostgreSQL runs"))
        #expect(!swallow.log.contains("hunter2-secret"))   // secrets never reach the log
    }
}
