import Foundation
import Kafka
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// Hot standby: instances with the same configuration share one slot; PostgreSQL lets one stream, the
/// others wait as `standby` and one takes over when it is released.
@Suite(.integrationTest) struct StandbyTests {
    static let topic = "app.public.items"

    /// A database with table `items`, a mock cluster with its topic, and the exactly_once configuration
    /// both instances of the pair share.
    private func pair(_ name: String, partitions: Int32) throws
        -> (database: String, sql: PostgresConnection, cluster: MockKafkaCluster, configuration: SwallowConfiguration) {
        let database = try TestPostgres.shared.makeDatabase(name)
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)")
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic(Self.topic, partitions: partitions)
        let configuration = try testConfiguration(database: database, bootstrapServers: cluster.bootstrapServers,
                                                  tables: ["public.items"], delivery: .exactlyOnce)
        return (database, sql, cluster, configuration)
    }

    @Test func aSecondInstanceWaitsAsStandbyAndTakesOverWithNothingTwice() throws {
        let (database, sql, cluster, configuration) = try pair("standby", partitions: 4)
        defer { TestPostgres.shared.dropSlots(of: database) }

        let first = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        var firstStopped = false
        defer { if !firstStopped { _ = try? first.stop() } }
        try waitUntil(timeoutSeconds: 60, "the first instance to stream") { first.pipeline.status.state == .streaming }
        let second = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        defer { _ = try? second.stop() }
        try waitUntil(timeoutSeconds: 30, "the second instance to wait as a standby") { second.pipeline.status.state == .standby }
        let readiness = second.pipeline.status.readiness
        #expect(!readiness.isReady)
        #expect(readiness.reason.hasPrefix("standby: another client streams from slot \(database)"), "\(readiness.reason)")
        #expect(second.pipeline.status.lastError == nil, "waiting for the slot is not an error")

        try sql.execute("INSERT INTO items SELECT g, g, 'first' FROM generate_series(1, 500) g")
        try waitUntilEverythingIsConfirmed(sql)
        // Still a standby while the first streams.
        #expect(second.pipeline.status.state == .standby)

        // Changes keep coming while the first stops and the second takes over.
        try sql.execute("UPDATE items SET v = v + 1 WHERE id <= 100")
        let stoppedAt = Date()
        #expect(try first.stop().isSuccess)
        firstStopped = true
        try sql.execute("UPDATE items SET v = v + 1 WHERE id > 400")
        try waitUntil(timeoutSeconds: 30, "the standby to take over") { second.pipeline.status.state == .streaming }
        let takeover = Date().timeIntervalSince(stoppedAt)
        print("standby: took over \(String(format: "%.2f", takeover)) s after the active instance stopped")
        #expect(takeover < 5, "the standby took \(takeover) s to take over")
        try sql.execute("INSERT INTO items SELECT g, g, 'second' FROM generate_series(501, 600) g")
        try waitUntilEverythingIsConfirmed(sql)

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [Self.topic])
        defer { consumer.close() }
        let events = try consumer.readToEnd(timeoutMilliseconds: 30_000).map(TopicEvent.init)
        // 600 inserts and 200 updates, each once (exactly_once: the takeover repeats nothing).
        #expect(events.filter { $0.op == "c" }.count == 600)
        #expect(events.filter { $0.op == "u" }.count == 200)
        try expectReplayEqualsTable(events, sql)
    }

    /// An instance that streamed, lost the slot to the other one and waited, takes the slot back at the
    /// position the other confirmed (a takeover, as at a start), rather than stopping because "another
    /// client advanced the slot" (seen once in the durability suite's takeover round).
    @Test func anInstanceThatLostTheSlotTakesItBackWhereTheOtherLeftIt() throws {
        let (database, sql, cluster, configuration) = try pair("standby_back", partitions: 2)
        defer { TestPostgres.shared.dropSlots(of: database) }

        let first = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        defer { _ = try? first.stop() }
        try waitUntil(timeoutSeconds: 60, "the first instance to stream") { first.pipeline.status.state == .streaming }
        try sql.execute("INSERT INTO items SELECT g, g FROM generate_series(1, 100) g")
        try waitUntilEverythingIsConfirmed(sql)
        let second = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        var secondStopped = false
        defer { if !secondStopped { _ = try? second.stop() } }
        try waitUntil(timeoutSeconds: 30, "the second instance to wait as a standby") { second.pipeline.status.state == .standby }

        // The first loses its walsender until the second has the slot (each reconnect is cut again).
        try waitUntil(timeoutSeconds: 60, "the second instance to take the slot") {
            if second.pipeline.status.state == .streaming { return true }
            if first.pipeline.status.state == .streaming {
                try sql.execute("""
                    SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
                    WHERE slot_name = '\(database)' AND active_pid IS NOT NULL
                    """)
            }
            return false
        }
        try waitUntil(timeoutSeconds: 30, "the first instance to wait as a standby") { first.pipeline.status.state == .standby }
        // The second moves the slot past everything the first confirmed; then it stops.
        try sql.execute("INSERT INTO items SELECT g, g FROM generate_series(101, 200) g")
        try waitUntilEverythingIsConfirmed(sql)
        #expect(try second.stop().isSuccess)
        secondStopped = true

        // The first takes the slot back where the second left it, and goes on.
        try waitUntil(timeoutSeconds: 30, "the first instance to take the slot back") { first.pipeline.status.state == .streaming }
        try sql.execute("INSERT INTO items SELECT g, g FROM generate_series(201, 300) g")
        try waitUntilEverythingIsConfirmed(sql)
        #expect(!first.hasEnded)

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [Self.topic])
        defer { consumer.close() }
        let events = try consumer.readToEnd(timeoutMilliseconds: 30_000).map(TopicEvent.init)
        #expect(events.filter { $0.op == "c" }.count == 300, "\(events.count) events")
        try expectReplayEqualsTable(events, sql)
    }
}
