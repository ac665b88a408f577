import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import Testing

/// Bad input a real server can send: a Relation message whose column has a type without a mapping.
/// The stream stops there with the table, column and type named, confirms nothing past it, and a restart
/// meets it again; `events.unknown.type.handling.mode: string` (the designed fallback) passes it as text.
/// (Corrupt or unknown replication messages and values that do not parse cannot come from a real server:
/// `StreamStopTests` in PipelineTests drives those through the same decoder, translator and tracker.)
@Suite(.integrationTest) struct BadInputTests {
    @Test func aColumnOfAnUnmappedTypeStopsTheStreamAndARestartInStringModeDeliversIt() throws {
        let database = try TestPostgres.shared.makeDatabase("badtype")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("""
            CREATE TABLE notes (id int PRIMARY KEY, note text);
            CREATE TABLE spots (id int PRIMARY KEY, spot point)
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in ["app.public.notes", "app.public.spots"] { try cluster.createTopic(topic, partitions: 1) }
        func read(_ topic: String) throws -> [KafkaRecord] {
            let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic],
                                             waitForTopicsMilliseconds: 30_000)
            defer { consumer.close() }
            return try consumer.readToEnd(timeoutMilliseconds: 10_000)
        }
        func start(events: String = "{}") throws -> RunningPipeline {
            RunningPipeline(configuration: try testConfiguration(database: database, bootstrapServers: cluster.bootstrapServers,
                                                                 tables: ["public.notes", "public.spots"], events: events,
                                                                 snapshot: "{mode: no_data}"),
                            bootstrapServers: cluster.bootstrapServers)
        }

        let running = try start()
        defer { running.pipeline.stop() }
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }
        try sql.execute("INSERT INTO notes VALUES (1, 'before')")
        try waitUntil("the first note in Kafka") { try read("app.public.notes").count == 1 }
        try sql.execute("INSERT INTO spots VALUES (1, '(1,2)')")
        // The bad transaction's commit record ends at or before this. The slot may be confirmed up to
        // the record's start (a keepalive reports it while Swallow is idle; a transaction whose commit
        // starts at or after the confirmed position is decoded again), never past it.
        let afterBad = try walInsertLSN(sql)
        try sql.execute("INSERT INTO notes VALUES (2, 'after')")
        try waitUntil("the pipeline to stop at the unmapped type") { running.hasEnded }
        guard let error = try expectNonRetriableStop(running, code: .eventEncoding,
                                                     mentioning: ["public.spots.spot", "point", "unknown.type.handling.mode"],
                                                     otherwise: "the pipeline went on past a column it cannot encode") else { return }
        #expect(!error.message.contains("(1,2)"), "the error quotes a value")
        #expect(try confirmedFlushLSN(sql) < afterBad)
        #expect(try read("app.public.notes").count == 1)
        #expect(running.pipeline.status.state == .failed)

        // Nothing was skipped: the same start stops at the same place again.
        let again = try start()
        try waitUntil("the restarted pipeline to stop at the same relation") { again.hasEnded }
        guard case .failure(let repeated) = try again.stop() else {
            Issue.record("the restarted pipeline skipped the change")
            return
        }
        #expect(repeated.message.contains("public.spots.spot"))
        #expect(try confirmedFlushLSN(sql) < afterBad)

        // The designed fallback: unknown types as their text.
        let lenient = try start(events: "{unknown.type.handling.mode: string}")
        try waitUntil("the spot and the second note in Kafka") {
            try read("app.public.spots").count == 1 && read("app.public.notes").count >= 2
        }
        let spot = try #require(try jsonObject(read("app.public.spots")[0].value))
        let payload = spot["payload"] as? [String: Any] ?? spot
        #expect((payload["after"] as? [String: Any])?["spot"] as? String == "(1,2)")
        try waitUntil(timeoutSeconds: 60, "the slot to move past the change") { try confirmedFlushLSN(sql) >= afterBad }
        guard case .success = try lenient.stop() else {
            Issue.record("the pipeline in string mode failed")
            return
        }
    }
}
