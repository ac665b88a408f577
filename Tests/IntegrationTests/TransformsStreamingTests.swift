import Foundation
import Kafka
import Pipeline
import Testing

/// Transforms against real PostgreSQL (docs/transforms.md): a mask that cannot apply to its column's type
/// stops Swallow when the table is first described — here at start-up, by the initial snapshot — naming
/// the `events` key and the column, and nothing of the table is produced; a route.by.field column a
/// captured table lacks stops at that table's first change. (Outputs are compared with Debezium in
/// GoldenTests' transforms runs.)
@Suite(.integrationTest) struct TransformsStreamingTests {
    @Test func aMaskOnANonTextColumnStopsAtStartUpNamingTheKey() throws {
        let database = try TestPostgres.shared.makeDatabase("mask_refused")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("""
            CREATE TABLE accounts (id int PRIMARY KEY, email text, balance numeric(10,2));
            INSERT INTO accounts VALUES (1, 'a@example.com', 10.00)
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.accounts", partitions: 1)
        let running = RunningPipeline(
            configuration: try testConfiguration(database: database, bootstrapServers: cluster.bootstrapServers,
                                                 tables: ["public.accounts"],
                                                 events: #"{column.mask.with.4.chars: "public\\.accounts\\..*"}"#),
            bootstrapServers: cluster.bootstrapServers)
        defer { running.pipeline.stop() }
        try waitUntil(timeoutSeconds: 60, "the pipeline to stop at the mask") { running.hasEnded }
        guard let error = try expectNonRetriableStop(running, code: .eventEncoding,
                                                     mentioning: ["events.column.mask.with.4.chars", "public.accounts.id",
                                                                  "int4"],
                                                     otherwise: "a mask on a numeric column was accepted") else { return }
        #expect(!error.message.contains("a@example.com"))
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.accounts"],
                                         waitForTopicsMilliseconds: 30_000)
        defer { consumer.close() }
        #expect(try consumer.readToEnd(timeoutMilliseconds: 5_000).isEmpty)
    }

    @Test func aRouteByFieldTheTableLacksStopsAtItsFirstChange() throws {
        let scenario = try StreamingScenario("route_missing", schema: """
            CREATE TABLE orders (id int PRIMARY KEY, region text);
            CREATE TABLE notes (id int PRIMARY KEY, body text)
            """, tables: ["public.orders", "public.notes"], topics: ["orders.eu", "app.public.notes"],
            snapshot: "{mode: no_data}", sections: "flatten: {route.by.field: region}")
        defer { scenario.cleanUp() }
        try scenario.sql.execute("INSERT INTO orders VALUES (1, 'orders.eu')")
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers, topics: ["orders.eu"],
                                         waitForTopicsMilliseconds: 30_000)
        defer { consumer.close() }
        var routed: [KafkaRecord] = []
        try waitUntil("the routed order") {
            routed += try consumer.readToEnd(timeoutMilliseconds: 1000)
            return !routed.isEmpty
        }
        #expect(routed.first.map { String(decoding: $0.value ?? [], as: UTF8.self) } == #"{"id":1,"region":"orders.eu"}"#)
        try scenario.sql.execute("INSERT INTO notes VALUES (1, 'x')")
        try waitUntil("the pipeline to stop at the note") { scenario.running.hasEnded }
        _ = try expectNonRetriableStop(scenario.running, code: .eventEncoding,
                                       mentioning: ["flatten.route.by.field", "region", "public.notes"],
                                       otherwise: "a change without the routing column went through")
    }
}
