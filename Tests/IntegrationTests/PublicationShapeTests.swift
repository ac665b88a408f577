import Foundation
import Kafka
import PGReplication
import SwallowConfig
import SwallowCore
import Testing

/// The publication Swallow creates, shaped by the `publication` section: row filters and column lists
/// (PostgreSQL 15+) and `publish_via_partition_root`; snapshots (initial and incremental) send exactly
/// what the stream would; bad definitions stop at start-up naming the key; `swallow check` reports them.
@Suite(.integrationTest) struct PublicationShapeTests {
    static let signalDDL = "CREATE TABLE swallow_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))"

    /// The test configuration with `publication` replaced by `publication` (a YAML mapping).
    static func configuration(database: String, cluster: MockKafkaCluster, tables: [String], publication: String,
                              snapshot: String = "{}", sections: String = "") throws -> SwallowConfiguration {
        let standard = "publication: {name: swallow, create: true}"
        let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers, tables: tables,
                                         snapshot: snapshot, sections: sections)
        try #require(yaml.contains(standard))
        return try SwallowConfiguration.parse(yaml: yaml.replacingOccurrences(of: standard, with: "publication: \(publication)"),
                                              environment: [:])
    }

    static func records(_ cluster: MockKafkaCluster, _ topics: [String], atLeast count: Int) throws -> [KafkaRecord] {
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: topics,
                                         waitForTopicsMilliseconds: 60_000)
        defer { consumer.close() }
        var records: [KafkaRecord] = []
        try waitUntil(timeoutSeconds: 60, "\(count) records on \(topics)") {
            records += try consumer.read(atLeast: 1_000_000, timeoutMilliseconds: 200)
            return records.count >= count
        }
        records += try consumer.readToEnd(timeoutMilliseconds: 2_000)
        return records
    }

    static func value(_ record: KafkaRecord) throws -> [String: Any] {
        try #require(try jsonObject(record.value))
    }

    static func serverVersion(_ sql: PostgresConnection) throws -> Int {
        try sql.serverVersionNumber()
    }

    // MARK: Row filters and column lists

    @Test func rowFiltersAndColumnListsShapeSnapshotsAndStreamAlike() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("pubshape")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        try #require(try Self.serverVersion(sql) >= 150000, "row filters and column lists need PostgreSQL 15")
        try sql.execute("""
            CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, total numeric(8,2));
            ALTER TABLE orders REPLICA IDENTITY FULL;
            CREATE TABLE customers (id int PRIMARY KEY, email text, password_hash text);
            \(Self.signalDDL);
            INSERT INTO orders VALUES (1, 'draft', 1), (2, 'paid', 2), (3, 'draft', 3), (4, 'shipped', 4);
            INSERT INTO customers VALUES (1, 'a@example.com', 'secret-1'), (2, 'b@example.com', 'secret-2');
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        let topics = ["app.public.orders", "app.public.customers"]
        for topic in topics { try cluster.createTopic(topic, partitions: 1) }
        let publication = #"{name: swallow, create: true, row_filters: {public.orders: "status <> 'draft'"}, columns: {public.customers: [id, email]}}"#
        let configuration = try Self.configuration(
            database: database, cluster: cluster, tables: ["public.orders", "public.customers"], publication: publication,
            snapshot: "{signal_table: public.swallow_signal}")
        defer { try? FileManager.default.removeItem(atPath: configuration.stateDirectory) }
        let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }

        // The publication PostgreSQL has is the configured one.
        let published = try sql.execute("""
            SELECT tablename, rowfilter, array_to_string(attnames, ',') AS columns FROM pg_publication_tables
            WHERE pubname = 'swallow' ORDER BY tablename
            """)
        #expect(published[0, "tablename"] == "customers" && published[0, "columns"] == "id,email" && published[0, "rowfilter"] == nil)
        #expect(published[1, "tablename"] == "orders" && published[1, "rowfilter"]?.contains("draft") == true)

        // Streamed: a draft order is not sent, an order leaving draft arrives as PostgreSQL sends it (an
        // insert: the old row did not match), the password never.
        try sql.execute("INSERT INTO orders VALUES (5, 'draft', 5)")
        try sql.execute("INSERT INTO orders VALUES (6, 'paid', 6)")
        try sql.execute("UPDATE orders SET status = 'paid' WHERE id = 3")
        try sql.execute("UPDATE customers SET email = 'a2@example.com', password_hash = 'secret-3' WHERE id = 1")
        // And an incremental snapshot of both: the same rows and columns as the initial one (now 2, 3, 4, 6).
        try sql.execute(#"INSERT INTO swallow_signal VALUES ('shape-1', 'execute-snapshot', '{"data-collections": ["public.orders", "public.customers"]}')"#)

        // Initial snapshot 2 orders + 2 customers, stream 2 orders + 1 customer, incremental 4 orders + 2 customers.
        let records = try Self.records(cluster, topics, atLeast: 13)
        #expect(try running.stop().get() == ())
        let orders = try records.filter { $0.topic == "app.public.orders" }.map(Self.value)
        let customers = try records.filter { $0.topic == "app.public.customers" }.map(Self.value)
        func ids(_ values: [[String: Any]], op: String, snapshot: String? = nil) -> [Int] {
            values.filter { value in
                value["op"] as? String == op
                    && (snapshot == nil || ((value["source"] as? [String: Any])?["snapshot"] as? String == "incremental") == (snapshot == "incremental"))
            }.compactMap { ($0["after"] as? [String: Any])?["id"] as? Int }
        }
        #expect(ids(orders, op: "r", snapshot: "initial") == [2, 4])
        #expect(ids(orders, op: "c") == [6, 3])
        #expect(ids(orders, op: "r", snapshot: "incremental") == [2, 3, 4, 6])
        #expect(orders.allSatisfy { ($0["after"] as? [String: Any])?["status"] as? String != "draft" })
        #expect(records.count == 13, "\(records.count) records")
        // Customers: only id and email, in snapshots and in the stream.
        #expect(customers.count == 5)
        for value in customers {
            let after = try #require(value["after"] as? [String: Any])
            #expect(Set(after.keys) == ["id", "email"], "\(after.keys)")
        }
        #expect(ids(customers, op: "u") == [1])
        #expect(!records.contains { String(decoding: $0.value ?? [], as: UTF8.self).contains("secret") })
    }

    @Test func aBadRowFilterOrColumnListStopsAtStartNamingTheKey() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("pubbad")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        try #require(try Self.serverVersion(sql) >= 150000, "row filters and column lists need PostgreSQL 15")
        try sql.execute("""
            CREATE TABLE orders (id int PRIMARY KEY, status text, total numeric(8,2));
            CREATE TABLE customers (id int PRIMARY KEY, email text);
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        let cases: [(publication: String, mentions: [String])] = [
            // A column list without the key: PostgreSQL would refuse every UPDATE and DELETE of the table.
            ("{name: swallow, columns: {public.customers: [email]}}", ["publication.columns.public.customers", "id"]),
            ("{name: swallow, columns: {public.customers: [id, phone]}}", ["publication.columns.public.customers", "phone"]),
            // A row filter over a column outside the replica identity: the same.
            (#"{name: swallow, row_filters: {public.orders: "status <> 'draft'"}}"#, ["publication.row_filters.public.orders", "status"]),
            // What the server refuses: an unknown column, a syntax error.
            ("{name: swallow, row_filters: {public.orders: \"nope > 1\"}}", ["publication.row_filters", "nope"]),
            ("{name: swallow, row_filters: {public.orders: \"id >\"}}", ["publication.row_filters", "syntax"]),
        ]
        for (publication, mentions) in cases {
            let configuration = try Self.configuration(database: database, cluster: cluster,
                                                       tables: ["public.orders", "public.customers"], publication: publication)
            let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
            try waitUntil("the pipeline to stop") { running.hasEnded }
            guard case .failure(let error) = try running.stop() else {
                Issue.record("started with \(publication)")
                continue
            }
            #expect(!error.isRetriable, "\(error)")
            for part in mentions {
                #expect(error.description.contains(part), "missing \(part) in: \(error.description)")
            }
            // Nothing was created.
            #expect(try sql.execute("SELECT 1 FROM pg_publication WHERE pubname = 'swallow'").rows.isEmpty)
            #expect(try slotRow(sql) == nil)
        }
    }

    @Test func checkReportsBadFiltersAndAnExistingPublicationThatDiffers() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("pubcheck")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        try #require(try Self.serverVersion(sql) >= 150000, "row filters and column lists need PostgreSQL 15")
        try sql.execute("""
            CREATE TABLE orders (id int PRIMARY KEY, status text, total numeric(8,2));
            CREATE TABLE customers (id int PRIMARY KEY, email text, phone text);
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in ["app.public.orders", "app.public.customers"] { try cluster.createTopic(topic, partitions: 1) }
        func check(_ publication: String) throws -> (status: Int32, text: String) {
            let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers,
                                             tables: ["public.orders", "public.customers"])
                .replacingOccurrences(of: "publication: {name: swallow, create: true}", with: "publication: \(publication)")
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-pubcheck-\(database).yaml").path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            return try runSwallow(["check", "--config", path])
        }
        // Before the publication exists: a column list without the key fails the check, which changes nothing.
        let bad = try check("{name: swallow, columns: {public.customers: [email]}}")
        #expect(bad.status != 0)
        #expect(bad.text.contains("publication.columns.public.customers"), "\(bad.text)")
        #expect(try sql.execute("SELECT 1 FROM pg_publication").rows.isEmpty)
        let good = try check("{name: swallow, row_filters: {public.orders: \"id > 10\"}, columns: {public.customers: [id, email]}}")
        #expect(good.text.contains("row filters and column lists are valid"), "\(good.text)")

        // An existing publication with other filters: reported, not altered.
        try sql.execute("CREATE PUBLICATION swallow FOR TABLE orders WHERE (id > 5), customers")
        let differs = try check("{name: swallow, row_filters: {public.orders: \"id > 10\"}, columns: {public.customers: [id, email]}}")
        #expect(differs.text.contains("filters public.orders with WHERE (id > 5), publication.row_filters says WHERE (id > 10)"), "\(differs.text)")
        #expect(differs.text.contains("publishes every column of public.customers, publication.columns says id, email"), "\(differs.text)")
        #expect(try sql.execute("SELECT rowfilter FROM pg_publication_tables WHERE tablename = 'orders'")[0, "rowfilter"] == "(id > 5)")
    }

    // MARK: Partitioned tables

    static let partitionedSchema = """
        CREATE TABLE measurements (id int, at date NOT NULL, reading int, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
        CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        INSERT INTO measurements VALUES (1, '2024-03-01', 10), (2, '2025-03-01', 20), (3, '2024-07-01', 30);
        """

    /// `publish_via_partition_root`: the root's topic gets every partition's rows once (snapshots read
    /// the root with its partitions) and every change, named as the root's.
    @Test(arguments: [true, false]) func aPartitionedTableIsCapturedThroughItsRoot(listed: Bool) throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase(listed ? "partroot" : "partall")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        try sql.execute(Self.partitionedSchema + Self.signalDDL)
        let cluster = try MockKafkaCluster(brokers: 1)
        let topic = "app.public.measurements"
        try cluster.createTopic(topic, partitions: 1)
        let configuration = try Self.configuration(
            database: database, cluster: cluster, tables: listed ? ["public.measurements"] : [],
            publication: "{name: swallow, create: true, publish_via_partition_root: true}",
            snapshot: "{signal_table: public.swallow_signal}")
        defer { try? FileManager.default.removeItem(atPath: configuration.stateDirectory) }
        let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }
        #expect(try sql.execute("SELECT pubviaroot FROM pg_publication WHERE pubname = 'swallow'")[0, "pubviaroot"] == "t")
        try sql.execute("INSERT INTO measurements VALUES (4, '2025-05-01', 40)")
        try sql.execute("UPDATE measurements SET reading = 11 WHERE id = 1")
        try sql.execute(#"INSERT INTO swallow_signal VALUES ('part-1', 'execute-snapshot', '{"data-collections": ["public.measurements"]}')"#)
        // Initial 3, stream 2, incremental 4.
        let records = try Self.records(cluster, [topic], atLeast: 9)
        #expect(try running.stop().get() == ())
        let values = try records.map(Self.value)
        #expect(records.count == 9, "\(records.count) records")
        #expect(values.allSatisfy { ($0["source"] as? [String: Any])?["table"] as? String == "measurements" })
        // The key is the partitioned table's primary key (id, at), from its Relation message and catalog.
        #expect(try records.allSatisfy { try Set((jsonObject($0.key) ?? [:]).keys) == ["id", "at"] })
        func ids(_ op: String, incremental: Bool) -> [Int] {
            values.filter { $0["op"] as? String == op
                && (((($0["source"] as? [String: Any])?["snapshot"] as? String) == "incremental") == incremental) }
                .compactMap { ($0["after"] as? [String: Any])?["id"] as? Int }
        }
        #expect(ids("r", incremental: false).sorted() == [1, 2, 3])
        #expect(ids("c", incremental: false) == [4])
        #expect(ids("u", incremental: false) == [1])
        #expect(ids("r", incremental: true) == [1, 2, 3, 4])
        // No partition has a topic of its own.
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        #expect(try admin.metadata(timeoutMilliseconds: 10_000).topics.map(\.name).filter { $0.hasPrefix("app.public.measurements_") }.isEmpty)
    }

    /// Without `publish_via_partition_root` (and `tables: []`): each partition is a table of its own,
    /// snapshotted once (not again through the root) and streamed under its name.
    @Test func withoutPartitionRootEachPartitionIsATableOfItsOwn() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("partleaf")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        try sql.execute(Self.partitionedSchema)
        let cluster = try MockKafkaCluster(brokers: 1)
        let topics = ["app.public.measurements_2024", "app.public.measurements_2025"]
        for topic in topics { try cluster.createTopic(topic, partitions: 1) }
        let configuration = try Self.configuration(database: database, cluster: cluster, tables: [],
                                                   publication: "{name: swallow, create: true}")
        defer { try? FileManager.default.removeItem(atPath: configuration.stateDirectory) }
        let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }
        try sql.execute("INSERT INTO measurements VALUES (4, '2025-05-01', 40)")
        let records = try Self.records(cluster, topics, atLeast: 4)
        #expect(try running.stop().get() == ())
        #expect(records.count == 4, "\(records.count) records")
        let byTopic = Dictionary(grouping: try records.map { ($0.topic, try Self.value($0)) }, by: \.0)
        #expect(byTopic["app.public.measurements_2024"]?.compactMap { ($0.1["after"] as? [String: Any])?["id"] as? Int }.sorted() == [1, 3])
        #expect(byTopic["app.public.measurements_2025"]?.compactMap { ($0.1["after"] as? [String: Any])?["id"] as? Int } == [2, 4])
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServers)
        defer { admin.close() }
        #expect(try !admin.metadata(timeoutMilliseconds: 10_000).topics.map(\.name).contains("app.public.measurements"))
    }

    @Test func aListedPartitionedTableWithoutPartitionRootStopsAtStart() throws {
        let postgres = TestPostgres.shared
        let database = try postgres.makeDatabase("partbad")
        defer { postgres.dropSlots(of: database) }
        let sql = try postgres.connect(database)
        defer { sql.close() }
        try sql.execute(Self.partitionedSchema)
        let cluster = try MockKafkaCluster(brokers: 1)
        for (tables, publication, mention) in [
            (["public.measurements"], "{name: swallow, create: true}", "publication.publish_via_partition_root"),
            (["public.measurements", "public.measurements_2024"], "{name: swallow, create: true, publish_via_partition_root: true}",
             "list only public.measurements"),
        ] {
            let configuration = try Self.configuration(database: database, cluster: cluster, tables: tables, publication: publication)
            let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
            try waitUntil("the pipeline to stop") { running.hasEnded }
            guard case .failure(let error) = try running.stop() else {
                Issue.record("started with \(tables) and \(publication)")
                continue
            }
            #expect(!error.isRetriable)
            #expect(error.description.contains(mention), "\(error.description)")
            #expect(try slotRow(sql) == nil, "no slot before the problem is fixed")
            #expect(try sql.execute("SELECT 1 FROM pg_publication").rows.isEmpty, "nor a publication")
            // `swallow check` says the same, changing nothing.
            let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers, tables: tables)
                .replacingOccurrences(of: "publication: {name: swallow, create: true}", with: "publication: \(publication)")
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-partcheck-\(database).yaml").path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            let check = try runSwallow(["check", "--config", path])
            #expect(check.status != 0)
            #expect(check.text.contains("FAIL partitioned tables") && check.text.contains(mention), "\(check.text)")
            #expect(try sql.execute("SELECT 1 FROM pg_publication").rows.isEmpty)
        }
    }
}
