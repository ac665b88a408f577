import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import Testing

/// End to end: a real Postgres, the pipeline, and librdkafka's mock cluster speaking Kafka over TCP;
/// what was produced is read back with a Kafka consumer.
@Suite(.integrationTest) struct StreamingTests {
    @Test func changesAcrossTwoTablesArriveWithKeysTopicsEnvelopesAndOrder() throws {
        let scenario = try StreamingScenario("stream", schema: """
            CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, total numeric(10,2),
                                 created_at timestamptz, paid bool, note jsonb);
            CREATE TABLE order_items (order_id int, line int, sku text, qty int, PRIMARY KEY (order_id, line));
            CREATE TABLE ignored (id int PRIMARY KEY);
            """,
                                             tables: ["public.orders", "order_items"])
        defer { scenario.cleanUp() }
        let database = scenario.database
        let sql = scenario.sql
        let cluster = scenario.cluster
        let running = scenario.running

        try sql.execute("""
            BEGIN;
            INSERT INTO orders VALUES (1, 'ada', 12.50, '2024-02-29 23:30:00+00', false, '{"gift": true}');
            INSERT INTO orders VALUES (2, 'bob', 99.99, '2024-03-01 08:00:00.123456+00', false, NULL);
            INSERT INTO order_items VALUES (1, 1, 'sku-1', 1), (1, 2, 'sku-2', 3), (2, 1, 'sku-3', 2);
            COMMIT;
            """)
        try sql.execute("INSERT INTO ignored VALUES (1)")
        try sql.execute("UPDATE orders SET paid = true WHERE id = 1")
        try sql.execute("DELETE FROM order_items WHERE order_id = 1 AND line = 2")
        try sql.execute("UPDATE order_items SET qty = 5 WHERE order_id = 2 AND line = 1")
        try sql.execute("DELETE FROM orders WHERE id = 2")
        let lastPosition = try walInsertLSN(sql)

        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers,
                                         topics: ["app.public.orders", "app.public.order_items"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        // orders: 2 creates, 1 update, 1 delete + tombstone; items: 3 creates, delete + tombstone, update.
        let records = try consumer.read(atLeast: 11, timeoutMilliseconds: 30_000)
        #expect(records.count == 11)
        #expect(!records.contains { $0.topic == "app.public.ignored" })

        let orders = records.filter { $0.topic == "app.public.orders" }
        let ordersByKey = Dictionary(grouping: orders) { String(decoding: $0.key ?? [], as: UTF8.self) }
        #expect(Set(ordersByKey.keys) == [#"{"id":1}"#, #"{"id":2}"#])

        let firstOrder = try #require(ordersByKey[#"{"id":1}"#])
        #expect(try firstOrder.map { try jsonObject($0.value)?["op"] as? String } == ["c", "u"])
        let created = try #require(try jsonObject(firstOrder[0].value))
        let after = try #require(created["after"] as? [String: Any])
        #expect(created["before"] is NSNull)
        #expect(after["id"] as? Int == 1)
        #expect(after["customer"] as? String == "ada")
        #expect(after["total"] as? String == "BOI=")           // Decimal 12.50, scale 2: unscaled 1250 = 0x04E2
        #expect(after["created_at"] as? String == "2024-02-29T23:30:00.000000Z")
        #expect(after["paid"] as? Bool == false)
        #expect(after["note"] as? String == #"{"gift": true}"#)
        let source = try #require(created["source"] as? [String: Any])
        #expect(source["connector"] as? String == "postgresql")
        #expect(source["name"] as? String == "app")
        #expect(source["db"] as? String == database)
        #expect(source["schema"] as? String == "public")
        #expect(source["table"] as? String == "orders")
        #expect(source["snapshot"] as? String == "false")
        #expect((source["txId"] as? Int ?? 0) > 0)
        #expect((source["lsn"] as? Int ?? 0) > 0)
        #expect((source["ts_ms"] as? Int ?? 0) > 1_700_000_000_000)
        #expect(created["ts_ms"] is Int)
        let updated = try #require(try jsonObject(firstOrder[1].value))
        #expect((updated["after"] as? [String: Any])?["paid"] as? Bool == true)
        #expect(updated["before"] is NSNull)      // REPLICA IDENTITY DEFAULT and an unchanged key: no old row

        let secondOrder = try #require(ordersByKey[#"{"id":2}"#])
        #expect(secondOrder.count == 3)
        let deleted = try #require(try jsonObject(secondOrder[1].value))
        #expect(deleted["op"] as? String == "d")
        #expect(deleted["after"] is NSNull)
        let deletedBefore = try #require(deleted["before"] as? [String: Any])
        #expect(deletedBefore["id"] as? Int == 2)
        // Identity DEFAULT sends only the key; `customer` is NOT NULL, so Debezium's fallback "" (Golden strict_row).
        #expect(deletedBefore["customer"] as? String == "")
        #expect(secondOrder[2].value == nil)            // tombstone

        let items = records.filter { $0.topic == "app.public.order_items" }
        let itemOps = try items.map { record -> String in
            let key = String(decoding: record.key ?? [], as: UTF8.self)
            let op = try jsonObject(record.value)?["op"] as? String ?? "tombstone"
            return "\(key) \(op)"
        }
        #expect(itemOps.filter { $0.hasPrefix(#"{"order_id":1,"line":2}"#) }
                == [#"{"order_id":1,"line":2} c"#, #"{"order_id":1,"line":2} d"#, #"{"order_id":1,"line":2} tombstone"#])
        #expect(itemOps.filter { $0.hasPrefix(#"{"order_id":2,"line":1}"#) }
                == [#"{"order_id":2,"line":1} c"#, #"{"order_id":2,"line":1} u"#])

        // Every event acknowledged: the slot is confirmed through the last change.
        try waitUntil("the slot to confirm the last change") { try confirmedFlushLSN(sql) >= lastPosition }
        #expect(try running.stop().get() == ())
        try waitUntil("the walsender to exit") { try slotRow(sql)?.active == false }
    }

    @Test func aRestartResumesFromTheConfirmedPositionWithoutLosingChanges() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("resume")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        try sql.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
        let cluster = try MockKafkaCluster(brokers: 1)
        let configuration = try testConfiguration(database: database, bootstrapServers: cluster.bootstrapServers,
                                                  tables: ["public.t"])
        var running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }
        try sql.execute("INSERT INTO t SELECT g, 0 FROM generate_series(1, 100) g")
        #expect(try running.stop().get() == ())
        // Changes while Swallow is down wait in the slot.
        try sql.execute("UPDATE t SET v = 1 WHERE id <= 50")
        running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.t"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 150, timeoutMilliseconds: 30_000)
        #expect(try running.stop().get() == ())
        let ops = try records.map { try jsonObject($0.value)?["op"] as? String ?? "" }
        #expect(ops.filter { $0 == "c" }.count >= 100, "read \(records.count) records: \(Dictionary(grouping: ops, by: { $0 }).mapValues(\.count))")
        #expect(ops.filter { $0 == "u" }.count >= 50)
    }

    @Test func anIdleSlotIsConfirmedUpToTheServerPositionWhileOnlyUncapturedTablesChange() throws {
        let scenario = try StreamingScenario("idle", schema: "CREATE TABLE captured (id int PRIMARY KEY); CREATE TABLE busy (id serial PRIMARY KEY, v text)",
                                             tables: ["public.captured"])
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        let running = scenario.running
        // pgoutput sends nothing for tables outside the publication: only keepalives move the position.
        // Publication: created for `captured` only, so `busy` is not even decoded into messages.
        for _ in 0..<20 { try sql.execute("INSERT INTO busy (v) SELECT md5(g::text) FROM generate_series(1, 500) g") }
        let target = try walInsertLSN(sql)
        try waitUntil("the idle slot to be confirmed past the uncaptured writes") { try confirmedFlushLSN(sql) >= target }
        #expect(try running.stop().get() == ())
    }

    @Test func aTerminatedWalsenderIsReconnectedAndStreamingResumes() throws {
        let scenario = try StreamingScenario("reconnect", schema: "CREATE TABLE t (id int PRIMARY KEY, v int)",
                                             tables: ["public.t"])
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        let cluster = scenario.cluster
        let running = scenario.running
        try sql.execute("INSERT INTO t SELECT g, 0 FROM generate_series(1, 10) g")
        let terminated = try sql.execute("""
            SELECT pg_terminate_backend(active_pid) AS done FROM pg_replication_slots
            WHERE slot_name = current_database()
            """)
        #expect(terminated[0, "done"] == "t")
        try sql.execute("INSERT INTO t SELECT g, 0 FROM generate_series(11, 20) g")
        try waitUntil("the slot to be streaming again") { try isStreaming(sql) }
        try sql.execute("UPDATE t SET v = 1")
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.t"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 40, timeoutMilliseconds: 30_000)
        #expect(!running.hasEnded)
        #expect(try running.stop().get() == ())
        let keys = Set(try records.compactMap { try jsonObject($0.key)?["id"] as? Int })
        #expect(keys == Set(1...20))
        #expect(try records.filter { try jsonObject($0.value)?["op"] as? String == "u" }.count >= 20)
    }

    @Test func aSlotDroppedWhileStreamingStopsTheServiceInsteadOfRecreatingIt() throws {
        let scenario = try StreamingScenario("dropped", schema: "CREATE TABLE t (id int PRIMARY KEY)",
                                             tables: ["public.t"])
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        let running = scenario.running
        try sql.execute("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = current_database()")
        // Drop it in the backoff window, before the pipeline reconnects.
        try waitUntil("the slot to be dropped") {
            (try? sql.execute("SELECT pg_drop_replication_slot(current_database())")) != nil
        }
        try waitUntil("the pipeline to give up") { running.hasEnded }
        let outcome = try running.stop()
        guard case .failure(let error) = outcome else {
            Issue.record("the pipeline kept running without its slot")
            return
        }
        #expect(!error.isRetriable)
        #expect(error.code == .slotLost)
        #expect(error.message.contains("is missing on 127.0.0.1:\(TestPostgres.shared.port), although Swallow streamed from it"), "\(error)")
        #expect(error.message.contains("swallow slot drop --yes"), "\(error)")
        #expect(try slotRow(sql) == nil)   // and it was not re-created
    }

    @Test func aTypeWithoutMappingStopsTheServiceNamingTableColumnAndTypeAndConfirmsNothingPastIt() throws {
        // no_data: the type must be caught in the stream (a snapshot would catch it first; see below).
        let scenario = try StreamingScenario("unmapped", schema: "CREATE TABLE t (id int PRIMARY KEY, spot point)",
                                             tables: ["public.t"], snapshot: "{mode: no_data}")
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        let xid = try #require(try sql.execute("WITH i AS (INSERT INTO t VALUES (1, '(1,2)') RETURNING xmin) SELECT xmin::text AS xid FROM i")[0, "xid"])
        try waitUntil("the pipeline to stop") { scenario.running.hasEnded }
        guard case .failure(let error) = try scenario.running.stop() else {
            Issue.record("a point column was streamed without a mapping")
            return
        }
        #expect(!error.isRetriable)
        #expect(error.message.contains("public.t.spot of type point"))
        #expect(error.message.contains("unknown.type.handling.mode"))
        // While idle the pipeline may confirm the server's position, which other databases' WAL moves on:
        // what matters is that the insert's transaction is still in the slot, to be decoded again.
        try waitUntil("the slot to be released") { try slotRow(sql)?.active == false }
        let pending = try sql.execute("""
            SELECT count(*)::text AS n FROM pg_logical_slot_peek_binary_changes(current_database(), NULL, NULL,
                'proto_version', '1', 'publication_names', 'swallow') WHERE xid::text = '\(xid)'
            """)[0, "n"]
        #expect(Int(pending ?? "0") ?? 0 >= 3, "BEGIN, INSERT and COMMIT of the insert are still in the slot")
    }

    @Test func aTypeWithoutMappingStopsTheSnapshotBeforeAnyRecord() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("unmappedsnap")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE t (id int PRIMARY KEY, spot point); INSERT INTO t VALUES (1, '(1,2)')")
        let configuration = try testConfiguration(database: database, bootstrapServers: "127.0.0.1:1", tables: ["public.t"])
        let pipeline = ReplicationPipeline(settings: PipelineSettings(configuration: configuration, bootstrapServers: "127.0.0.1:1",
                                                                      connectorVersion: "test"),
                                           logger: .init(label: "test"))
        let error = #expect(throws: PipelineError.self) { try pipeline.run() }
        #expect(error?.isRetriable == false)
        #expect(error?.message.contains("public.t.spot of type point") == true)
        #expect(error?.message.contains("unknown.type.handling.mode") == true)
    }

    @Test func unknownTypesPassAsTextWhenConfigured() throws {
        let scenario = try StreamingScenario("unmappedtext", schema: "CREATE TABLE t (id int PRIMARY KEY, spot point)",
                                             tables: ["public.t"], topics: ["app.public.t"],
                                             events: "{unknown.type.handling.mode: string}")
        defer { scenario.cleanUp() }
        try scenario.sql.execute("INSERT INTO t VALUES (1, '(1,2)')")
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers, topics: ["app.public.t"],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 1, timeoutMilliseconds: 30_000)
        #expect(try scenario.running.stop().get() == ())
        #expect((try jsonObject(records.first?.value)?["after"] as? [String: Any])?["spot"] as? String == "(1,2)")
    }

    @Test func replicaIdentityFullSendsTheWholeOldRowKeyedByThePrimaryKey() throws {
        let scenario = try StreamingScenario("full", schema: "CREATE TABLE t (id int PRIMARY KEY, v text, n int); ALTER TABLE t REPLICA IDENTITY FULL",
                                             tables: ["public.t"])
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        let cluster = scenario.cluster
        let running = scenario.running
        try sql.execute("INSERT INTO t VALUES (1, 'a', 1)")
        try sql.execute("UPDATE t SET v = 'b' WHERE id = 1")
        try sql.execute("DELETE FROM t WHERE id = 1")
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.t"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 4, timeoutMilliseconds: 30_000)
        #expect(try running.stop().get() == ())
        #expect(records.count == 4)
        #expect(records.allSatisfy { $0.key == Array(#"{"id":1}"#.utf8) })
        let values = try records.map { try jsonObject($0.value) }
        #expect(values.map { $0?["op"] as? String } == ["c", "u", "d", nil])
        #expect((values[1]?["before"] as? [String: Any])?["v"] as? String == "a")
        #expect((values[2]?["before"] as? [String: Any])?["n"] as? Int == 1)
    }

    @Test func aBrokerThatRefusesEventsStopsTheServiceWithoutConfirmingThem() throws {
        let scenario = try StreamingScenario("refused", schema: "CREATE TABLE t (id int PRIMARY KEY)",
                                             tables: ["public.t"], topics: ["app.public.t"])
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        let cluster = scenario.cluster
        let running = scenario.running
        try createAuditSlot(sql)
        cluster.pushRequestErrors(apiKey: MockKafkaCluster.produceAPIKey,
                                  errors: Array(repeating: .topicAuthorizationFailed, count: 50))
        try sql.execute("INSERT INTO t VALUES (1)")
        try waitUntil("the pipeline to give up") { running.hasEnded }
        guard case .failure(let error) = try running.stop() else {
            Issue.record("the pipeline went on although Kafka refused the event")
            return
        }
        #expect(!error.isRetriable)
        #expect(error.message.contains("TOPIC_AUTHORIZATION_FAILED"))
        // The refused transaction is not confirmed (the slot may have moved up to just before it).
        let refused = try #require(try committedTransactions(sql).first)
        #expect(try confirmedFlushLSN(sql) < refused.endLSN)
    }

    @Test func truncatesAndLogicalMessagesFollowTheEventsOptions() throws {
        let scenario = try StreamingScenario(
            "truncmsg", schema: "CREATE TABLE t (id int PRIMARY KEY)", tables: ["public.t"],
            events: #"{skipped.operations: none, message.prefix.include.list: "audit\\..*"}"#)
        defer { scenario.cleanUp() }
        let sql = scenario.sql
        try sql.execute("INSERT INTO t VALUES (1)")
        try sql.execute("TRUNCATE t")
        try sql.execute("SELECT pg_logical_emit_message(true, 'audit.login', 'user 7')")
        try sql.execute("SELECT pg_logical_emit_message(false, 'debug', 'ignored')")
        try sql.execute("SELECT pg_logical_emit_message(false, 'audit.logout', 'user 7')")
        let consumer = try KafkaConsumer(bootstrapServers: scenario.cluster.bootstrapServers,
                                         topics: ["app.public.t", "app.message"], waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.read(atLeast: 4, timeoutMilliseconds: 30_000)
        #expect(try scenario.running.stop().get() == ())
        let table = try records.filter { $0.topic == "app.public.t" }.map { try jsonObject($0.value)?["op"] as? String }
        #expect(table.compactMap { $0 }.sorted() == ["c", "t"])   // null-keyed truncate: any partition
        let truncate = try #require(try records.first { try jsonObject($0.value)?["op"] as? String == "t" })
        #expect(truncate.key == nil)
        let messages = try records.filter { $0.topic == "app.message" }.map { try jsonObject($0.value) }
        #expect(messages.count == 2)
        #expect(messages.compactMap { ($0?["message"] as? [String: Any])?["prefix"] as? String }.sorted()
                == ["audit.login", "audit.logout"])
        #expect(messages.allSatisfy { $0?["op"] as? String == "m" })
    }

    @Test func missingPublicationWithCreateFalseIsAClearError() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("nopub")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        try sql.execute("CREATE TABLE t (id int PRIMARY KEY)")
        let connection = try PostgresConnection(postgres.parameters(database: database), replication: true)
        defer { connection.close() }
        #expect {
            try connection.preparePublication(named: "nothere", tables: [QualifiedTableName(schema: "public", table: "t")],
                                              create: false)
        } throws: { error in
            let error = error as? ReplicationError
            return error?.code == .publicationMissing && error?.description.contains("CREATE PUBLICATION") == true
        }
        #expect {
            try connection.prepareSlot(named: "nothere", create: false)
        } throws: { error in
            let error = error as? ReplicationError
            return error?.code == .slotMissing && error?.description.contains("slot.create") == true
        }
    }
}
