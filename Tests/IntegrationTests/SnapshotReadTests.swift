import ChangeEvent
import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import Testing
@testable import Pipeline

/// Snapshot rows read on the exported snapshot become `op: "r"` records shaped exactly like the
/// streamed records of the same rows (key, topic, every value), with Debezium's markers.
@Suite(.integrationTest) struct SnapshotReadTests {
    @Test func snapshotRecordsMatchStreamedRecordsOfTheSameRows() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("snapread")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        let values = """
            (1, 'plain', 12.50, '2024-02-29 13:45:01.5+00', '{1,NULL}', 'ok', E'tab\\there', '\\x00ff'),
            (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
            (3, '', -0.01, 'infinity', '{}', 'sad', E'back\\\\slash', '\\x')
            """
        try sql.execute("""
            CREATE TYPE mood AS ENUM ('sad', 'ok');
            CREATE TABLE a (id int PRIMARY KEY, t text, n numeric(6,2), ts timestamptz, arr int[], m mood, e text, b bytea);
            CREATE TABLE b (LIKE a INCLUDING ALL);
            CREATE TABLE empty (id int PRIMARY KEY);
            INSERT INTO a VALUES \(values);
            """)
        // The snapshot: a new slot's exported snapshot, read table by table.
        let walsender = try PostgresConnection(postgres.parameters(database: database), replication: true)
        defer { walsender.close() }
        let (point, snapshotName) = try walsender.createLogicalSlotExportingSnapshot(named: database)
        let reader = try postgres.connect(database)
        defer { reader.close() }
        try reader.beginTransaction(importingSnapshot: snapshotName)

        var translator = StreamTranslator(topicPrefix: "app", database: database, capturedTables: [], connectorVersion: "t")
        let catalog = CatalogReader(parameters: postgres.parameters(database: database))
        defer { catalog.close() }
        var relations: [RelationMessage] = []
        for table in ["a", "empty"] {
            let oid = try #require(try catalog.relationID(schema: "public", table: table))
            let details = try catalog.details(of: oid)
            let relation = try #require(try catalog.relationMessage(relationID: oid, details: details))
            try translator.describe(relation, catalog: try catalog.catalog(of: relation, details: details))
            relations.append(relation)
        }
        let source = SourceInfo(connectorVersion: "t", serverName: "app", database: database, commitTimeMicros: 0,
                                transactionID: 1, lsn: point.value, snapshot: "true")
        let snapshotReader = SnapshotTableReader(translator: translator, connection: reader, source: source)
        var snapshot: [OutgoingRecord] = []
        for (index, relation) in relations.enumerated() {
            _ = try snapshotReader.read(relation, isFirstTable: index == 0, isLastTable: index == relations.count - 1,
                                        now: { 0 }) { snapshot.append($0) }
        }
        try reader.execute("COMMIT")
        #expect(snapshot.count == 3)
        #expect(try snapshot.map { try jsonObject($0.value)?["op"] as? String } == ["r", "r", "r"])
        #expect(try snapshot.map { ((try jsonObject($0.value)?["source"]) as? [String: Any])?["snapshot"] as? String }
                == ["first", "true", "last_in_data_collection"])

        // The same rows streamed (into table b, same shape) give the same keys and `after` images.
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.b", partitions: 1)
        try walsender.execute("SELECT 1")   // the exported snapshot is no longer needed
        let running = RunningPipeline(
            configuration: try testConfiguration(database: database, bootstrapServers: cluster.bootstrapServers,
                                                 tables: ["public.b"]),
            bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }
        try sql.execute("INSERT INTO b VALUES \(values)")
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.b"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let streamed = try consumer.read(atLeast: 3, timeoutMilliseconds: 30_000)
        #expect(try running.stop().get() == ())
        #expect(streamed.map(\.key) == snapshot.map(\.key))
        for (s, r) in zip(snapshot, streamed) {
            let snapshotAfter = try #require(try jsonObject(s.value)?["after"] as? [String: Any])
            let streamedAfter = try #require(try jsonObject(r.value)?["after"] as? [String: Any])
            #expect(NSDictionary(dictionary: snapshotAfter) == NSDictionary(dictionary: streamedAfter))
        }
    }
}
