import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// The outbox router against real PostgreSQL and the mock cluster: the order service of docs/outbox.md
/// writes an order and its outbox events in one transaction and deletes the events at once; shipping
/// reads `outbox.event.order`, loyalty `outbox.event.customer`. (What each record holds, byte for byte,
/// is GoldenTests' outbox runs, against Debezium 3.6.3.)
@Suite(.integrationTest) struct OutboxTests {
    static let schema = """
        CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, total numeric(10,2) NOT NULL);
        CREATE TABLE outboxevent (id uuid PRIMARY KEY, aggregatetype varchar(255) NOT NULL, aggregateid varchar(255) NOT NULL,
                                  type varchar(255) NOT NULL, payload jsonb, shard int NOT NULL DEFAULT 0);
        """
    static let topics = ["app.public.orders", "outbox.event.order", "outbox.event.customer"]
    static let tables = ["public.orders", "public.outboxevent"]

    /// One order: the order row and two events (shipping's, loyalty's), deleted in the same transaction.
    static func placeOrder(_ id: Int, shard: Int = 0) -> String {
        """
        BEGIN;
        INSERT INTO orders VALUES (\(id), \(id % 97), \(id).50);
        INSERT INTO outboxevent VALUES ('00000000-0000-4000-8000-\(String(format: "%012d", id))', 'order', '\(id)', 'OrderPlaced', '{"orderId": \(id)}', \(shard));
        INSERT INTO outboxevent VALUES ('00000000-0000-4000-9000-\(String(format: "%012d", id))', 'customer', '\(id % 97)', 'PointsEarned', '{"points": \(id)}', \(shard));
        DELETE FROM outboxevent;
        COMMIT;
        """
    }

    static func header(_ record: KafkaRecord, _ name: String) -> String? {
        record.headers.first { $0.key == name }?.value.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func ordersFlowAsChangeEventsAndOutboxRowsAsRoutedEvents() throws {
        let database = try TestPostgres.shared.makeDatabase("outbox_flow")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute(Self.schema)
        // A row present before Swallow starts is read by the snapshot (op r) and routed too.
        try sql.execute("INSERT INTO outboxevent VALUES ('00000000-0000-4000-8000-999999999999', 'order', '0', 'Backfilled', '{}', 0)")
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in Self.topics { try cluster.createTopic(topic, partitions: 3) }
        let configuration = try testConfiguration(
            database: database, bootstrapServers: cluster.bootstrapServers, tables: Self.tables, snapshot: "{mode: initial}",
            sections: #"outbox: {tables: [public.outboxevent], "table.fields.additional.placement": "type:header:eventType,shard:partition"}"#)
        let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "Swallow to stream") { try isStreaming(sql) }
        for id in 1...20 { try sql.execute(Self.placeOrder(id, shard: id % 3)) }
        try sql.execute("UPDATE outboxevent SET type = 'x'")   // no rows: nothing
        try sql.execute("INSERT INTO outboxevent VALUES ('00000000-0000-4000-8000-000000000777', 'order', '777', 'Kept', '{}', 2)")
        try sql.execute("UPDATE outboxevent SET type = 'Changed'")   // an update: skipped with a warning
        let end = try walInsertLSN(sql)
        try waitUntil(timeoutSeconds: 60, "the slot to confirm the workload") { try slotConfirmedLSN(sql, database) >= end }
        #expect(try running.stop().isSuccess)

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: Self.topics)
        defer { consumer.close() }
        let records = try consumer.readToEnd(timeoutMilliseconds: 30_000)
        let orders = records.filter { $0.topic == "app.public.orders" }
        #expect(orders.count == 20)
        #expect(orders.allSatisfy { String(decoding: $0.value ?? [], as: UTF8.self).contains(#""op":"c""#) })
        let shipping = records.filter { $0.topic == "outbox.event.order" }
        let loyalty = records.filter { $0.topic == "outbox.event.customer" }
        #expect(shipping.count == 1 + 20 + 1)   // the snapshot row, 20 orders, the kept one; no update, no delete
        #expect(loyalty.count == 20)
        for record in shipping + loyalty {
            #expect(Self.header(record, "eventType") != nil)
            let id = try #require(Self.header(record, "id"))
            #expect(id.hasPrefix("\"00000000-0000-4000-"))
        }
        // Keys are the aggregate ids; partitions the shard column.
        let order7 = try #require(shipping.first { Self.header($0, "id") == "\"00000000-0000-4000-8000-000000000007\"" })
        #expect(order7.key == Array(#""7""#.utf8))
        #expect(order7.value == Array(#""{\"orderId\": 7}""#.utf8))
        #expect(order7.partition == 1)
        let kept = try #require(shipping.first { $0.key == Array(#""777""#.utf8) })
        #expect(kept.partition == 2)
        #expect(Self.header(kept, "eventType") == #""Kept""#)
        let backfilled = try #require(shipping.first { $0.key == Array(#""0""#.utf8) })
        #expect(Self.header(backfilled, "eventType") == #""Backfilled""#)
    }

    @Test func anOutboxTableWithoutTheConfiguredColumnStopsNamingTheKey() throws {
        let database = try TestPostgres.shared.makeDatabase("outbox_bad")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute(Self.schema)
        let cluster = try MockKafkaCluster(brokers: 1)
        let configuration = try testConfiguration(
            database: database, bootstrapServers: cluster.bootstrapServers, tables: Self.tables, snapshot: "{mode: no_data}",
            sections: #"outbox: {tables: [public.outboxevent], "table.field.event.payload": body}"#)
        let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "Swallow to stream") { try isStreaming(sql) }
        try sql.execute(Self.placeOrder(1))
        try waitUntil(timeoutSeconds: 60, "the pipeline to stop") { !(try isStreaming(sql)) }
        let outcome = try running.stop()
        guard case .failure(let error) = outcome else {
            Issue.record("the pipeline went on with an outbox table that has no payload column")
            return
        }
        #expect(error.code == .configuration)
        #expect(error.message.contains("outbox.table.field.event.payload"))
        #expect(error.message.contains("body"))
    }

    /// `exactly_once` with topics chosen per row: Swallow is killed with -9 three times while orders and
    /// their events flow; every event reaches its routed topic once. (The resume reads a topic's tails
    /// before its first record of the stream, whatever chose the topic.)
    @Test func exactlyOnceHoldsForRoutedTopicsAcrossKills() throws {
        let database = try TestPostgres.shared.makeDatabase("outbox_eos")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute(Self.schema)
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in Self.topics { try cluster.createTopic(topic, partitions: 3) }
        let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers, tables: Self.tables,
                                         snapshot: "{mode: no_data}", delivery: .exactlyOnce,
                                         sections: "outbox: {tables: [public.outboxevent]}")
        _ = try SwallowConfiguration.parse(yaml: yaml, environment: [:])
        let configPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database).yaml").path
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(database).log").path
        let supervisor = SwallowSupervisor(configPath: configPath, logPath: logPath)
        supervisor.start()
        var stopped = false
        defer { if !stopped { _ = supervisor.stop() } }
        try waitUntil(timeoutSeconds: 60, "Swallow to stream") { try isStreaming(sql) }

        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        var written: Int64 = 0
        let orders = 300
        var kills = 0
        for id in 1...orders {
            try sql.execute(Self.placeOrder(id))
            if id % 75 == 0 {
                // Killed once the stream has written some of this round's events (offsets move with
                // every committed record), while it is busy with the rest.
                let before = written
                try waitUntil(timeoutSeconds: 60, "events of order \(id) to reach the topics") {
                    try admin.recordCount(topic: "outbox.event.order", partitions: 3) > before
                }
                written = try admin.recordCount(topic: "outbox.event.order", partitions: 3)
                try waitUntil(timeoutSeconds: 30, "a Swallow process to kill") { supervisor.currentPID != nil }
                if supervisor.signal(SIGKILL) != nil { kills += 1 }
                // Back and streaming (replaying what it had not confirmed) before the next orders.
                try waitUntil(timeoutSeconds: 60, "Swallow to stream again after kill \(kills)") {
                    try supervisor.starts > kills && isStreaming(sql)
                }
            }
        }
        #expect(kills >= 3)
        let end = try walInsertLSN(sql)
        try waitUntil(timeoutSeconds: 120, "the slot to confirm every order") { try slotConfirmedLSN(sql, database) >= end }
        #expect(supervisor.stop() == 0)
        stopped = true

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: Self.topics)
        defer { consumer.close() }
        let records = try consumer.readToEnd(timeoutMilliseconds: 30_000)
        for topic in Self.topics {
            let ofTopic = records.filter { $0.topic == topic }
            let identities = ofTopic.map { record in
                topic == "app.public.orders" ? String(decoding: record.key ?? [], as: UTF8.self) : (Self.header(record, "id") ?? "")
            }
            #expect(ofTopic.count == orders, "\(topic): \(ofTopic.count) records for \(orders) orders")
            #expect(Set(identities).count == orders, "\(topic): duplicates or missing")
        }
    }
}
