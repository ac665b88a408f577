import Foundation
import Kafka
import PGReplication
import Testing

/// Tables named with quoted identifiers, as EF Core and many other tools create them (mixed case, spaces,
/// non-ASCII): named in `tables:` and `snapshot.signal_table` in double quotes, snapshotted, streamed,
/// snapshotted again on a signal, each to the topic Debezium's default naming gives it.
@Suite(.integrationTest) struct QuotedIdentifierTests {
    @Test func mixedCaseSpacedAndNonASCIITablesAreCapturedToDebeziumsTopicNames() throws {
        let scenario = try StreamingScenario("quoted", schema: #"""
            CREATE SCHEMA "Odd";
            CREATE TABLE "Odd"."Order Lines" ("Id" int PRIMARY KEY, "Line Note" text, qty int);
            CREATE TABLE public."Zürich ""Kunden""" (id int PRIMARY KEY, name text);
            CREATE TABLE "Odd"."Swallow Signals" (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
            INSERT INTO "Odd"."Order Lines" VALUES (1, 'before start', 1);
            """#,
            tables: [#"'"Odd"."Order Lines"'"#, #"'public."Zürich ""Kunden"""'"#],
            snapshot: #"{signal_table: '"Odd"."Swallow Signals"'}"#)
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        try sql.execute(#"INSERT INTO "Odd"."Order Lines" VALUES (2, 'streamed', 2)"#)
        try sql.execute(#"UPDATE "Odd"."Order Lines" SET qty = 3 WHERE "Id" = 2"#)
        try sql.execute(#"INSERT INTO public."Zürich ""Kunden""" VALUES (7, 'Grüezi')"#)
        try sql.execute(#"DELETE FROM public."Zürich ""Kunden""" WHERE id = 7"#)
        // An incremental snapshot of the odd table on a signal (data-collections are regular
        // expressions over the raw `schema.table`, as in Debezium).
        try sql.execute(#"""
            INSERT INTO "Odd"."Swallow Signals" VALUES ('resnap-1', 'execute-snapshot',
              '{"data-collections": ["Odd.Order Lines"], "type": "incremental"}')
            """#)
        try waitUntilEverythingIsConfirmed(sql)

        let lines = "app.Odd.Order_Lines", kunden = "app.public.Z_rich__Kunden_"
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers, topics: [lines, kunden],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        var records: [KafkaRecord] = []
        try waitUntil(timeoutSeconds: 60, "the snapshot, the changes and the incremental snapshot") {
            records += try consumer.read(atLeast: 1_000, timeoutMilliseconds: 200)
            // lines: r(1), c(2), u(2), then the incremental snapshot's r(1), r(2); kunden: c, d, tombstone.
            return records.filter { $0.topic == lines }.count >= 5 && records.filter { $0.topic == kunden }.count >= 3
        }
        #expect(try scenario.running.stop().isSuccess)
        #expect(Set(records.map(\.topic)) == [lines, kunden])

        let lineEvents = try records.filter { $0.topic == lines }.map { record in
            let value = try #require(try jsonObject(record.value))
            let source = try #require(value["source"] as? [String: Any])
            #expect(source["schema"] as? String == "Odd")
            #expect(source["table"] as? String == "Order Lines")
            let key = try #require(try jsonObject(record.key))
            return (key["Id"] as? Int, value["op"] as? String, (value["after"] as? [String: Any])?["Line Note"] as? String)
        }
        #expect(lineEvents.map(\.0) == [1, 2, 2, 1, 2])
        #expect(lineEvents.map(\.1) == ["r", "c", "u", "r", "r"])
        #expect(lineEvents.map(\.2) == ["before start", "streamed", "streamed", "before start", "streamed"])

        let kundenRecords = records.filter { $0.topic == kunden }
        #expect(try kundenRecords.map { try jsonObject($0.value)?["op"] as? String } == ["c", "d", nil])
        let created = try #require(try jsonObject(kundenRecords[0].value))
        #expect((created["source"] as? [String: Any])?["table"] as? String == "Zürich \"Kunden\"")
        #expect((created["after"] as? [String: Any])?["name"] as? String == "Grüezi")
        #expect(kundenRecords[2].value == nil, "the delete's tombstone")
    }
}
