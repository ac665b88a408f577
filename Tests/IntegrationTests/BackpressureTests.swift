import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// With the broker away, Swallow stops reading at its in-flight bounds (events, then bytes) while staying
/// connected and reporting status; once the broker is back everything arrives and the slot catches up.
@Suite(.integrationTest) struct BackpressureTests {
    static let maxEvents = 100
    static let maxBytes = 131_072
    /// Within one large event of the byte bound (2 kB of payload, the envelope and the context headers).
    static let oneLargeEvent = 4_000

    @Test(.longRunning) func aDownBrokerStopsReadingAtTheBoundsAndEverythingArrivesWhenItReturns() throws {
        let database = try TestPostgres.shared.makeDatabase("backpressure")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("CREATE TABLE items (id int PRIMARY KEY, payload text NOT NULL)")
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.items", partitions: 1)
        let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers,
                                         tables: ["public.items"], maxInFlightEvents: Self.maxEvents)
            + "\nmax_in_flight_bytes: \(Self.maxBytes)\n"
        let running = RunningPipeline(configuration: try SwallowConfiguration.parse(yaml: yaml, environment: [:]),
                                      bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }

        // Small rows (events of ~650 B with Debezium 3's context headers): the event bound is reached first.
        try cluster.setBrokerDown(1)
        try sql.execute("INSERT INTO items SELECT g, 'small' FROM generate_series(1, 2000) g")
        var stalled = try observeStall(running.pipeline, sql: sql)
        #expect(stalled.inFlightEvents == Self.maxEvents)
        try cluster.setBrokerUp(1)
        try waitUntilEverythingIsConfirmed(sql, timeoutSeconds: 120)

        // Large rows (events of ~2.8 KB): the byte bound is reached first, within one event of it.
        try cluster.setBrokerDown(1)
        try sql.execute("INSERT INTO items SELECT g, repeat('y', 2000) FROM generate_series(2001, 3000) g")
        stalled = try observeStall(running.pipeline, sql: sql)
        #expect(stalled.inFlightEvents < Self.maxEvents)
        #expect(stalled.inFlightBytes > Self.maxBytes - Self.oneLargeEvent, "in flight: \(stalled.inFlightBytes) bytes")
        try cluster.setBrokerUp(1)
        try waitUntilEverythingIsConfirmed(sql, timeoutSeconds: 120)

        #expect(!running.hasEnded)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.items"],
                                         waitForTopicsMilliseconds: 30_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 3000, timeoutMilliseconds: 60_000)
        #expect(Set(records.compactMap(\.key)).count == 3000, "\(records.count) records")
        #expect(try running.stop().isSuccess)
    }

    @Test func theInitialSnapshotStopsAtTheByteBoundWhileTheBrokerIsDown() throws {
        let database = try TestPostgres.shared.makeDatabase("backpressure_snap")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("""
            CREATE TABLE items (id int PRIMARY KEY, payload text NOT NULL);
            INSERT INTO items SELECT g, repeat('z', 2000) FROM generate_series(1, 3000) g
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        // Four partitions: the mock keeps about 5 MiB of log per partition, less than these 7 MB.
        try cluster.createTopic("app.public.items", partitions: 4)
        try cluster.setBrokerDown(1)
        let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers,
                                         tables: ["public.items"], snapshot: "{mode: initial, max_threads: 2, chunk_rows: 1000}",
                                         maxInFlightEvents: 2_000)
            + "\nmax_in_flight_bytes: \(Self.maxBytes)\n"
        let running = RunningPipeline(configuration: try SwallowConfiguration.parse(yaml: yaml, environment: [:]),
                                      bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the snapshot to wait at the byte bound") {
            let status = running.pipeline.status
            return status.state == .snapshotting && status.inFlightBytes > Self.maxBytes - Self.oneLargeEvent
        }
        for _ in 0..<20 {
            let status = running.pipeline.status
            #expect(status.inFlightBytes <= Self.maxBytes)
            #expect(status.state == .snapshotting)
            usleep(100_000)
        }
        try cluster.setBrokerUp(1)
        try waitUntil(timeoutSeconds: 120, "the slot to be streaming") { try isStreaming(sql) }
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.items"],
                                         waitForTopicsMilliseconds: 30_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 3000, timeoutMilliseconds: 60_000)
        #expect(Set(records.compactMap(\.key)).count == 3000, "\(records.count) records")
        #expect(try running.stop().isSuccess)
    }

    /// Waits for the reader to stop at a bound (events or bytes in flight at it, the received position
    /// still for longer than the status's one-second refresh), then watches it for three seconds: the bounds hold at every sample, the
    /// received position stands still short of the server's, and the walsender keeps getting status
    /// updates on the same connection. Returns the last status.
    private func observeStall(_ pipeline: ReplicationPipeline, sql: PostgresConnection) throws -> PipelineStatus {
        var previous = pipeline.status.receivedLSN
        var unchangedSince = Date()
        try waitUntil(timeoutSeconds: 60, "the reader to stop at a bound") {
            let status = pipeline.status
            if status.receivedLSN != previous || status.inFlightEvents == 0 {
                previous = status.receivedLSN
                unchangedSince = Date()
            }
            let atABound = status.inFlightEvents >= Self.maxEvents || status.inFlightBytes > Self.maxBytes - Self.oneLargeEvent
            // The status is refreshed about every second: a shorter stillness can be a stale status.
            return atABound && Date().timeIntervalSince(unchangedSince) > 1.5
        }
        let before = try walsender(sql)
        var status = pipeline.status
        for _ in 0..<30 {
            status = pipeline.status
            #expect(status.inFlightEvents <= Self.maxEvents)
            #expect(status.inFlightBytes <= Self.maxBytes)
            #expect(status.receivedLSN == previous, "the reader moved on while the broker was down")
            #expect(status.state == .streaming)
            usleep(100_000)
        }
        let serverLSN = try walInsertLSN(sql)
        #expect(status.receivedLSN < serverLSN)
        let after = try walsender(sql)
        #expect(after.pid == before.pid, "the replication connection was replaced")
        #expect(after.replyTime > before.replyTime, "no status update reached the server while waiting")
        return status
    }

    private func walsender(_ sql: PostgresConnection) throws -> (pid: String, replyTime: String) {
        let result = try sql.execute("""
            SELECT r.pid::text AS pid, to_char(r.reply_time, 'YYYYMMDDHH24MISSUS') AS reply FROM pg_stat_replication r
            JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = current_database()
            """)
        guard result.rows.count == 1, let pid = result[0, "pid"], let reply = result[0, "reply"] else {
            throw TestFailure("no walsender for the test's slot")
        }
        return (pid, reply)
    }
}
