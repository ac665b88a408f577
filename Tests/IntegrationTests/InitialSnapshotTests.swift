import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import Testing

/// The initial snapshot end to end: `snapshot.mode` decides whether a start snapshots, the parallel chunked
/// readers produce `op: "r"` records with Debezium's markers, and snapshot plus stream replay to exactly
/// the table's content — under concurrent writes, across stops, and across a `kill -9` mid-snapshot.
///
/// Every check of "exactly" replays the topic the way a consumer (or a compacted topic) would: in offset
/// order, `r`/`c`/`u` set the key's row, `d` removes it, tombstones are skipped; the result must equal
/// `SELECT id, v, note FROM items`.
@Suite(.integrationTest) struct InitialSnapshotTests {
    static let markers: Set<String> = ["first", "true", "last", "first_in_data_collection", "last_in_data_collection"]

    @Test(.longRunning) func snapshotThenStreamUnderConcurrentWritesReplaysExactly() throws {
        let fixture = try SnapshotFixture("snapcw", rows: 120_000, partitions: 32)
        defer { fixture.cleanUp() }
        let writer = ItemsWriter(database: fixture.database, initialRows: 120_000)
        writer.start()
        defer { writer.stopQuietly() }
        try waitUntil("the writer to commit its first transactions") { try writer.committed() >= 20 }

        let configuration = try testConfiguration(database: fixture.database, bootstrapServers: fixture.cluster.bootstrapServers,
                                                  tables: ["public.items"],
                                                  snapshot: "{mode: initial, max_threads: 2, chunk_rows: 10000}")
        let running = RunningPipeline(configuration: configuration, bootstrapServers: fixture.cluster.bootstrapServers)
        defer { running.pipeline.stop() }   // on a failure path; a no-op once stopped
        // Proof that the writer overlaps the snapshot: commits between the planned chunks and completion.
        var committedWhilePlanned: Int?
        try waitUntil(timeoutSeconds: 120, "the snapshot to complete") {
            let state = try fixture.state()
            if committedWhilePlanned == nil, state?.status == .running, state?.chunks.isEmpty == false {
                committedWhilePlanned = try writer.committed()
            }
            if running.hasEnded { throw TestFailure("the pipeline ended: \(String(describing: try? running.stop()))") }
            return state?.status == .completed
        }
        let committedAtCompletion = try writer.committed()
        let planned = try #require(committedWhilePlanned, "the state file was never seen running with its chunks")
        #expect(committedAtCompletion > planned, "the writer committed nothing while the snapshot was read")
        let chunkCount = try fixture.state()?.chunks.count ?? 0
        #expect((12...14).contains(chunkCount), "about 120,000 rows in chunks of 10,000 planned as \(chunkCount) chunks")

        // Streaming, with the writer still going for a while.
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }
        try waitUntil(timeoutSeconds: 60, "more writes after the snapshot") { try writer.committed() >= committedAtCompletion + 150 }
        try writer.stop()
        try waitUntilEverythingIsConfirmed(fixture.sql)
        #expect(try running.stop().get() == ())

        let events = try fixture.readTopic()
        let snapshotEvents = events.filter { $0.op == "r" }
        #expect(snapshotEvents.count >= 120_000)
        #expect(Set(snapshotEvents.map(\.id)).count == snapshotEvents.count, "a row was read twice by the snapshot (overlapping chunks?)")
        let badMarkers = snapshotEvents.filter { !Self.markers.contains($0.snapshot ?? "nil") }
        #expect(badMarkers.isEmpty, "unexpected source.snapshot values: \(Set(badMarkers.map { $0.snapshot ?? "nil" }))")
        // The record marked last is the last r record produced: the last of its partition, and none was
        // produced after it (ts_ms is taken when a record is produced).
        let lastMarked = snapshotEvents.filter { $0.snapshot == "last" }
        #expect(lastMarked.count == 1, "\(lastMarked.count) records are marked last")
        if let last = lastMarked.first {
            #expect(last.offset == snapshotEvents.last { $0.partition == last.partition }?.offset,
                    "the record marked last is not the last r record of its partition")
            let later = snapshotEvents.filter { $0.timestampMillis > last.timestampMillis }
            #expect(later.isEmpty, "\(later.count) r records were produced after the one marked last, e.g. \(later.first?.description ?? "")")
        }
        #expect(Set(snapshotEvents.map { $0.lsn ?? -1 }).count == 1, "r records carry different source.lsn values")
        #expect(snapshotEvents.allSatisfy { $0.hasNullBefore }, "r records must have before: null")
        // In every partition (so for every key) the snapshot records come before the first streamed event.
        for (partition, inPartition) in Dictionary(grouping: events, by: \.partition) {
            if let firstStreamed = inPartition.firstIndex(where: { $0.op != "r" && $0.op != nil }),
               let lastSnapshot = inPartition.lastIndex(where: { $0.op == "r" }) {
                #expect(lastSnapshot < firstStreamed, "partition \(partition): a streamed event precedes a snapshot record")
            }
        }
        #expect(events.contains { $0.op == "u" } && events.contains { $0.op == "d" } && events.contains { $0.op == "c" },
                "the stream should carry the writer's inserts, updates and deletes")
        try expectReplayEqualsTable(events, fixture.sql)
        #expect(try fixture.state()?.status == .completed)
        print("snapshot+stream: \(snapshotEvents.count) r records, \(events.count) records, writer committed \(try writer.committed()) transactions (\(planned) before reading, \(committedAtCompletion) at completion)")
    }

    @Test func markersWithOneThreadFollowDebezium() throws {
        let fixture = try SnapshotFixture("snapmark", rows: 0, extraSchema: """
            CREATE TABLE a (id int PRIMARY KEY, t text);
            CREATE TABLE b (id int PRIMARY KEY, t text);
            INSERT INTO a VALUES (1, 'a1'), (2, 'a2'), (3, 'a3');
            INSERT INTO b VALUES (1, 'b1'), (2, 'b2');
            """, topics: ["app.public.a", "app.public.b"])
        defer { fixture.cleanUp() }
        let configuration = try testConfiguration(database: fixture.database, bootstrapServers: fixture.cluster.bootstrapServers,
                                                  tables: ["public.a", "public.b"],
                                                  snapshot: "{mode: initial, max_threads: 1, chunk_rows: 1000}")
        let running = RunningPipeline(configuration: configuration, bootstrapServers: fixture.cluster.bootstrapServers)
        defer { running.pipeline.stop() }   // on a failure path; a no-op once stopped
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }
        #expect(try running.stop().get() == ())

        let a = try fixture.readTopic("app.public.a")
        let b = try fixture.readTopic("app.public.b")
        #expect(a.map(\.id) == [1, 2, 3])
        #expect(b.map(\.id) == [1, 2])
        #expect(a.map { $0.snapshot ?? "nil" } == ["first", "true", "last_in_data_collection"])
        #expect(b.map { $0.snapshot ?? "nil" } == ["first_in_data_collection", "last"])
        #expect((a + b).allSatisfy { $0.op == "r" && $0.hasNullBefore })
        #expect(a.map { $0.after?["t"] as? String } == ["a1", "a2", "a3"])
        #expect(Set((a + b).map { $0.lsn ?? -1 }).count == 1)
        // One reader: table a entirely before table b.
        #expect((a.map(\.timestampMillis).max() ?? 0) <= (b.map(\.timestampMillis).min() ?? 0))
        #expect(try fixture.state()?.status == .completed)
    }

    @Test func initialOnlyExitsAfterTheSnapshotAndNoDataStreamsOnly() throws {
        // initial_only: the pipeline returns by itself once every row is in Kafka.
        let fixture = try SnapshotFixture("snaponly", rows: 2_500)
        defer { fixture.cleanUp() }
        let bootstrap = fixture.cluster.bootstrapServers
        let only = RunningPipeline(
            configuration: try testConfiguration(database: fixture.database, bootstrapServers: bootstrap, tables: ["public.items"],
                                                 snapshot: "{mode: initial_only, max_threads: 2, chunk_rows: 1000}"),
            bootstrapServers: bootstrap)
        defer { only.pipeline.stop() }
        try waitUntil(timeoutSeconds: 60, "initial_only to end by itself") { only.hasEnded }
        #expect(try only.stop().get() == ())
        #expect(try fixture.state()?.status == .completed)
        let afterSnapshot = try fixture.readTopic()
        #expect(afterSnapshot.count == 2_500 && afterSnapshot.allSatisfy { $0.op == "r" })
        #expect(Set(afterSnapshot.map(\.id)) == Set(1...2_500))

        // Nothing streams after initial_only: a later change stays in the slot.
        try fixture.sql.execute("UPDATE items SET v = -1, note = 'later' WHERE id = 7")
        try fixture.sql.execute("INSERT INTO items VALUES (900001, 1, 'later')")
        #expect(try slotRow(fixture.sql)?.active == false)
        #expect(try fixture.readTopic().count == 2_500, "something was produced after initial_only ended")

        // The same slot and state directory with mode initial: the snapshot is done, so stream only.
        let streaming = RunningPipeline(
            configuration: try testConfiguration(database: fixture.database, bootstrapServers: bootstrap, tables: ["public.items"],
                                                 snapshot: "{mode: initial, max_threads: 2, chunk_rows: 1000}"),
            bootstrapServers: bootstrap)
        defer { streaming.pipeline.stop() }
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }
        try waitUntilEverythingIsConfirmed(fixture.sql)
        #expect(try streaming.stop().get() == ())
        let all = try fixture.readTopic()
        #expect(all.filter { $0.op == "r" }.count == 2_500, "the second start snapshotted again")
        let later = all.dropFirst(2_500)
        #expect(later.map { "\($0.id) \($0.op ?? "nil")" } == ["7 u", "900001 c"])
        try expectReplayEqualsTable(all, fixture.sql)

        // no_data on a fresh database with rows: no r record at all, later changes are delivered.
        let noData = try SnapshotFixture("snapnodata", rows: 1_500)
        defer { noData.cleanUp() }
        let stream = RunningPipeline(
            configuration: try testConfiguration(database: noData.database, bootstrapServers: noData.cluster.bootstrapServers,
                                                 tables: ["public.items"], snapshot: "{mode: no_data}"),
            bootstrapServers: noData.cluster.bootstrapServers)
        defer { stream.pipeline.stop() }
        try waitUntil("the slot to be streaming") { try isStreaming(noData.sql) }
        try noData.sql.execute("UPDATE items SET v = 42 WHERE id = 3; DELETE FROM items WHERE id = 4; INSERT INTO items VALUES (5000, 5, NULL)")
        try waitUntilEverythingIsConfirmed(noData.sql)
        #expect(try stream.stop().get() == ())
        let streamed = try noData.readTopic()
        #expect(!streamed.contains { $0.op == "r" }, "no_data produced snapshot records")
        #expect(streamed.map { "\($0.id) \($0.op ?? "tombstone")" } == ["3 u", "4 d", "4 tombstone", "5000 c"])
        #expect(try noData.state() == nil, "no_data wrote a snapshot state file")
    }

    @Test func alwaysSnapshotsAgainOnEveryStart() throws {
        let fixture = try SnapshotFixture("snapalways", rows: 3_000)
        defer { fixture.cleanUp() }
        let bootstrap = fixture.cluster.bootstrapServers
        let configuration = try testConfiguration(database: fixture.database, bootstrapServers: bootstrap, tables: ["public.items"],
                                                  snapshot: "{mode: always, max_threads: 2, chunk_rows: 1000}")
        var running = RunningPipeline(configuration: configuration, bootstrapServers: bootstrap)
        defer { running.pipeline.stop() }
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }
        try waitUntilEverythingIsConfirmed(fixture.sql)
        #expect(try running.stop().get() == ())
        let first = try fixture.readTopic()
        #expect(first.count == 3_000 && first.allSatisfy { $0.op == "r" })
        let firstStartedAt = try fixture.state()?.startedAt

        // Committed while stopped: must reach Kafka after the second start, besides the second snapshot.
        try fixture.sql.execute("UPDATE items SET v = -5, note = 'while stopped' WHERE id = 10")
        try fixture.sql.execute("DELETE FROM items WHERE id = 11")
        try fixture.sql.execute("INSERT INTO items VALUES (700000, 7, 'while stopped')")
        try waitUntil(timeoutSeconds: 5, "a new second for the state file's startedAt") {
            ISO8601DateFormatter().string(from: Date()) != firstStartedAt
        }
        running = RunningPipeline(configuration: configuration, bootstrapServers: bootstrap)
        try waitUntil("the slot to be streaming again") { try isStreaming(fixture.sql) }
        try waitUntilEverythingIsConfirmed(fixture.sql)
        #expect(try running.stop().get() == ())
        let all = try fixture.readTopic()
        let second = all.dropFirst(first.count)
        let secondSnapshot = second.filter { $0.op == "r" }
        #expect(Set(secondSnapshot.map(\.id)) == Set((1...3_000).filter { $0 != 11 } + [700000]),
                "the second start's snapshot must hold the table as it is now")
        #expect(secondSnapshot.first { $0.id == 10 }?.after?["v"] as? Int == -5)
        #expect(secondSnapshot.filter { $0.snapshot == "last" }.count == 1)
        // The changes made while stopped are also streamed (duplicates by design), after the snapshot.
        let streamed = second.filter { $0.op != "r" }
        #expect(streamed.map { "\($0.id) \($0.op ?? "tombstone")" } == ["10 u", "11 d", "11 tombstone", "700000 c"])
        if let firstStreamed = second.firstIndex(where: { $0.op != "r" }), let lastRead = second.lastIndex(where: { $0.op == "r" }) {
            #expect(lastRead < firstStreamed, "a streamed event precedes a record of the second snapshot")
        }
        #expect(Set(first.map { $0.lsn ?? -1 }) != Set(secondSnapshot.map { $0.lsn ?? -1 }), "the second snapshot reuses the first's position")
        try expectReplayEqualsTable(all, fixture.sql)
        let state = try #require(try fixture.state())
        #expect(state.status == .completed)
        #expect(state.startedAt != firstStartedAt, "the state file does not describe the second snapshot")
    }

    @Test(.longRunning) func killNineMidSnapshotThenRestartReplaysExactly() throws {
        let fixture = try SnapshotFixture("snapkill", rows: 200_000, partitions: 64)
        defer { fixture.cleanUp() }
        let cluster = fixture.cluster
        // Slow acknowledgements for the first run only, so that it is caught early in its snapshot: every
        // response of the broker is delayed, and the readers pause at max_in_flight_events (two chunks)
        // unacknowledged.
        try cluster.setBrokerRoundTripTime(1, milliseconds: 100)
        let configPath = try writeConfigurationFile(database: fixture.database, bootstrapServers: cluster.bootstrapServers,
                                                    tables: ["public.items"],
                                                    snapshot: "{mode: initial, max_threads: 2, chunk_rows: 1000}",
                                                    maxInFlightEvents: 2_000)
        defer { try? FileManager.default.removeItem(atPath: configPath) }
        let logs = (1...2).map { FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(fixture.database)-\($0).log").path }
        defer { for log in logs { try? FileManager.default.removeItem(atPath: log) } }

        let writer = ItemsWriter(database: fixture.database, initialRows: 200_000)
        writer.start()
        defer { writer.stopQuietly() }
        try waitUntil("the writer to commit its first transactions") { try writer.committed() >= 20 }

        var swallow = try SwallowProcess(configPath: configPath, logPath: logs[0])
        var killed = false
        defer { if !killed { swallow.kill9() } }
        try waitUntil(timeoutSeconds: 60, "the first chunks to be acknowledged") {
            guard let state = try fixture.state() else { return false }
            return state.status == .running && !state.doneChunks.isEmpty
        }
        swallow.kill9()
        killed = true
        let atKill = try #require(try fixture.state())
        #expect(atKill.status == .running)
        #expect(atKill.doneChunks.count < atKill.chunks.count / 2, "the first run was too far along: \(atKill.doneChunks.count)/\(atKill.chunks.count) chunks")
        #expect(swallow.log.contains("snapshot planned"))

        // While Swallow is down: change rows whose r records the first run already put in Kafka.
        let partial = try fixture.readTopic()
        let published = partial.filter { $0.op == "r" }.map(\.id)
        #expect(!published.isEmpty)
        let deletedWhileDown = try #require(published.first)
        let updatedWhileDown = try #require(published.dropFirst().first)
        try fixture.sql.execute("DELETE FROM items WHERE id = \(deletedWhileDown)")
        try fixture.sql.execute("UPDATE items SET v = -7, note = 'while down' WHERE id = \(updatedWhileDown)")

        try cluster.setBrokerRoundTripTime(1, milliseconds: 0)
        swallow = try SwallowProcess(configPath: configPath, logPath: logs[1])
        killed = false
        try waitUntil(timeoutSeconds: 120, "the second snapshot to complete") {
            if let status = swallow.child.exitStatusIfEnded() { throw TestFailure("swallow exited (\(status)):\n\(swallow.log.suffix(3000))") }
            return try fixture.state()?.status == .completed
        }
        try waitUntil("the slot to be streaming") { try isStreaming(fixture.sql) }
        let committedAtStream = try writer.committed()
        try waitUntil(timeoutSeconds: 60, "more writes while streaming") { try writer.committed() >= committedAtStream + 100 }
        try writer.stop()
        try waitUntilEverythingIsConfirmed(fixture.sql)
        #expect(swallow.terminate() == 0, "swallow did not exit cleanly on SIGTERM:\n\(swallow.log.suffix(2000))")
        killed = true

        let log = swallow.log
        let pipelineLines = log.split(separator: "\n").filter { $0.contains("[Pipeline]") && !$0.contains("librdkafka") }
            .map { $0.drop { $0 != " " } }.joined(separator: "\n")
        #expect(log.contains("the previous snapshot did not finish") && log.contains("snapshotting again"),
                "the restart did not say it starts the snapshot over:\n\(pipelineLines)")
        // The slot keeps the changes since the first run's snapshot (deletes of rows it already sent
        // included): it is never dropped.
        #expect(!log.contains("dropped replication slot"), "\(pipelineLines)")
        #expect(try fixture.state()?.status == .completed)

        let events = try fixture.readTopic()
        let firstRunPositions = Set(partial.compactMap(\.lsn))
        let finalSnapshot = events.filter { $0.op == "r" && !firstRunPositions.contains($0.lsn ?? -1) }
        #expect(finalSnapshot.count >= 190_000, "the second run's snapshot has \(finalSnapshot.count) r records")
        #expect(finalSnapshot.filter { $0.snapshot == "last" }.count == 1)
        // Rows whose last event is an r record of the first run but which are no longer in the table: the
        // delete happened after the first run's snapshot point, and nothing after says so.
        let table = Set(try fixture.sql.execute("SELECT id FROM items").rows.compactMap { $0[0].flatMap { Int($0) } })
        var lastEvent: [Int: TopicEvent] = [:]
        for event in events where event.op != nil { lastEvent[event.id] = event }
        let resurrected = lastEvent.values.filter { $0.op == "r" && firstRunPositions.contains($0.lsn ?? -1) && !table.contains($0.id) }
        try expectReplayEqualsTable(events, fixture.sql, context: """
            row \(deletedWhileDown) was deleted and row \(updatedWhileDown) updated while Swallow was down, after the \
            first run had published their r records; \(resurrected.count) deleted rows live on as r records of the first \
            run (source.lsn \(firstRunPositions.sorted())), with no delete event after them. Second run:
            \(pipelineLines)
            """)
        print("kill -9 mid-snapshot: first run \(atKill.doneChunks.count)/\(atKill.chunks.count) chunks done, \(published.count) r records; \(events.count) records in all; writer committed \(try writer.committed()) transactions")
    }
}

// MARK: - Support

/// A database of its own with `items(id int PRIMARY KEY, v int NOT NULL, note text)` holding `rows` rows,
/// a mock cluster with the topics created up front, and the state directory the test configuration points
/// at. With one partition (the default) a topic's order is the production order; with more, the order of
/// each key (which is what a replay needs).
struct SnapshotFixture {
    let database: String
    let sql: PostgresConnection
    let cluster: MockKafkaCluster
    let stateDirectory: String

    /// Topics get `partitions` partitions: librdkafka's mock keeps at most 5 MiB per partition (dropping the
    /// oldest batches beyond), about 10,000 of these records, so large tests spread their records.
    init(_ name: String, rows: Int, extraSchema: String = "", topics: [String] = ["app.public.items"],
         partitions: Int32 = 1) throws {
        database = try TestPostgres.shared.makeDatabase(name)
        sql = try TestPostgres.shared.connect(database)
        try sql.execute("CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)")
        if rows > 0 {
            try sql.execute("""
                INSERT INTO items SELECT g, g % 1000, CASE WHEN g % 7 = 0 THEN NULL ELSE md5(g::text) END
                FROM generate_series(1, \(rows)) g;
                ANALYZE items
                """)
        }
        if !extraSchema.isEmpty { try sql.execute(extraSchema) }
        cluster = try MockKafkaCluster(brokers: 1)
        for topic in topics { try cluster.createTopic(topic, partitions: partitions) }
        stateDirectory = testStateDirectory(database)
    }

    /// The snapshot state file of the test's slot (named after the database), if any.
    func state() throws -> SnapshotState? {
        try SnapshotStateStore(directory: stateDirectory, slot: database).load()
    }

    func readTopic(_ topic: String = "app.public.items") throws -> [TopicEvent] {
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: [topic],
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        let records = try consumer.readToEnd(timeoutMilliseconds: 60_000)
        // Every partition must still start at offset 0 with no gap, or the mock's retention dropped records
        // and no replay can be exact.
        for (partition, inPartition) in Dictionary(grouping: records, by: \.partition) {
            let offsets = inPartition.map(\.offset)
            guard offsets.first == 0, offsets.last == Int64(offsets.count - 1) else {
                throw TestFailure("\(topic) partition \(partition) holds offsets \(offsets.first ?? -1)...\(offsets.last ?? -1) (\(offsets.count) records): the mock cluster dropped records (5 MiB per partition); use more partitions")
            }
        }
        return try records.map(TopicEvent.init)
    }

    func cleanUp() {
        TestPostgres.shared.dropSlots(of: database)
        try? FileManager.default.removeItem(atPath: stateDirectory)
        sql.close()
    }
}


/// A concurrent writer of `items` on its own connection: small transactions mixing inserts of new ids (40%),
/// updates (40%) and deletes (20%) of random ids, until stopped. Its first 50 transactions do not delete,
/// so the table has at least its initial row count when a snapshot starts shortly after.
final class ItemsWriter: @unchecked Sendable {
    let database: String
    private let lock = NSLock()
    private var nextID: Int
    private var committedCount = 0
    private var stopRequested = false
    private var failure: Error?
    private let done = DispatchSemaphore(value: 0)
    private var started = false

    init(database: String, initialRows: Int) {
        self.database = database
        nextID = initialRows + 1
    }

    /// Committed transactions so far; throws the writer's failure, if any.
    func committed() throws -> Int {
        try lock.withLock {
            if let failure { throw failure }
            return committedCount
        }
    }

    func start() {
        started = true
        Thread { [self] in
            do {
                let sql = try TestPostgres.shared.connect(database)
                defer { sql.close() }
                var generator = SystemRandomNumberGenerator()
                var number = 0
                while !lock.withLock({ stopRequested }) {
                    number += 1
                    var statements = ["BEGIN"]
                    for _ in 0..<Int.random(in: 1...3, using: &generator) {
                        let maxID = lock.withLock { nextID - 1 }
                        let target = Int.random(in: 1...maxID, using: &generator)
                        let note = Bool.random(using: &generator) ? "md5(random()::text)" : "NULL"
                        switch Int.random(in: 0..<(number <= 50 ? 8 : 10), using: &generator) {
                        case 0..<4:
                            let id = lock.withLock { defer { nextID += 1 }; return nextID }
                            statements.append("INSERT INTO items VALUES (\(id), \(Int.random(in: 0...999, using: &generator)), \(note))")
                        case 4..<8:
                            statements.append("UPDATE items SET v = v + 1, note = \(note) WHERE id = \(target)")
                        default:
                            statements.append("DELETE FROM items WHERE id = \(target)")
                        }
                    }
                    statements.append("COMMIT")
                    try sql.execute(statements.joined(separator: ";\n"))
                    lock.withLock { committedCount += 1 }
                    usleep(2000)
                }
            } catch {
                lock.withLock { failure = error }
            }
            done.signal()
        }.start()
    }

    /// Stops the writer, waits for its last transaction, and throws its failure, if any.
    func stop() throws {
        guard started else { return }
        started = false
        lock.withLock { stopRequested = true }
        done.wait()
        if let failure = lock.withLock({ failure }) { throw failure }
    }

    func stopQuietly() { try? stop() }
}
