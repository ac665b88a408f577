import Foundation
import Kafka
import PGOutput
import PGReplication
import Testing

/// A configuration for the admin commands, written to a temporary file: the test database's own slot
/// (named after the database) and publication `swallow`.
/// `swallow check` against a mock cluster holding `topics` (the tables' topics by default), with the
/// configuration `adminConfigurationFile` writes: its exit status and text, and its output lines.
private func runCheck(database: String, tables: [String], topics: [String]? = nil,
                      port: Int = TestPostgres.shared.port, user: String = "postgres",
                      publicationCreate: Bool = true, moreYAML: String = "") throws -> (result: (status: Int32, text: String), lines: [String]) {
    let cluster = try MockKafkaCluster(brokers: 1)
    for topic in topics ?? tables.map({ "app.\($0)" }) { try cluster.createTopic(topic, partitions: 1) }
    let config = try adminConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                            tables: tables, port: port, user: user, publicationCreate: publicationCreate,
                                            moreYAML: moreYAML)
    let result = try runSwallow(["check", "--config", config])
    return (result, outputLines(result))
}

/// `hosts`: `postgres.host` and `postgres.port` as YAML (a list of servers), instead of `port`'s one.
/// `slot`: the `slot` mapping's entries after the name.
func adminConfigurationFile(database: String, bootstrapServers: String, tables: [String],
                            port: Int = TestPostgres.shared.port, user: String = "postgres",
                            password: String? = nil, publicationCreate: Bool = true,
                            hosts: String? = nil, slotName: String? = nil, slot: String = "create: true",
                            moreYAML: String = "") throws -> String {
    let yaml = """
        postgres: {\(hosts ?? "host: 127.0.0.1, port: \(port)"), dbname: \(database), user: \(user), sslmode: disable\(password.map { ", password: \($0)" } ?? "")}
        slot: {name: \(slotName ?? database), \(slot)}
        publication: {name: swallow, create: \(publicationCreate)}
        tables: [\(tables.joined(separator: ", "))]
        topic_prefix: app
        kafka: {bootstrap_servers: "\(bootstrapServers)"}
        state_dir: \(testStateDirectory(database))
        \(moreYAML)
        """
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-admin-\(database).yaml").path
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// The output of a `swallow` run, line by line.
func outputLines(_ result: (status: Int32, text: String)) -> [String] {
    result.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

/// A login role of the test cluster (trust authentication: no password needed), dropped by `drop`.
private struct TestRole {
    let name: String

    init(_ prefix: String, attributes: String) throws {
        name = "\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try TestPostgres.shared.connect("postgres")
        defer { admin.close() }
        try admin.execute("CREATE ROLE \(name) LOGIN \(attributes)")
    }

    /// Revokes what the role was granted in `database`, then drops it (roles are cluster-wide).
    func drop(grantedIn database: String) {
        if let sql = try? TestPostgres.shared.connect(database) {
            _ = try? sql.execute("DROP OWNED BY \(name)")
            sql.close()
        }
        if let admin = try? TestPostgres.shared.connect("postgres") {
            _ = try? admin.execute("DROP ROLE IF EXISTS \(name)")
            admin.close()
        }
    }
}

/// `swallow check` against the real PostgreSQL, with each prerequisite broken in turn.
@Suite(.integrationTest) struct CheckCommandTests {
    @Test func aReadySetupPassesEveryCheckAndChangesNothing() throws {
        let database = try TestPostgres.shared.makeDatabase("check_ready")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric)")
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.orders", partitions: 1)
        let config = try adminConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                                tables: ["public.orders"])

        let result = try runSwallow(["check", "--config", config])
        let output = outputLines(result)
        #expect(result.status == 0, "\(result.text)")
        for expected in [
            "ok   wal_level: logical",
            "ok   replication role: role postgres is a superuser; a replication connection was accepted",
            "ok   table public.orders: key: primary key (id); SELECT granted",
            "ok   publication: swallow does not exist; Swallow will create it FOR TABLE public.orders",
            "ok   slot: \(database) does not exist; Swallow will create it and snapshot the captured tables (snapshot.mode initial)",
            "ok   kafka: \(cluster.bootstrapServers) answered: 1 broker (1 at \(cluster.bootstrapServers))",
            "ok   kafka topics: present: app.public.orders",
            "ready: 10 checks passed",
        ] {
            #expect(output.contains(expected), "missing line \(expected) in:\n\(result.text)")
        }
        #expect(!result.text.contains("FAIL") && !result.text.contains("WARN"), "\(result.text)")
        // A check creates nothing: no publication, no slot.
        #expect(try sql.execute("SELECT 1 FROM pg_publication").rows.isEmpty)
        #expect(try slotRow(sql) == nil)
    }

    @Test func exactlyOnceChecksTheTransactionalID() throws {
        let database = try TestPostgres.shared.makeDatabase("check_eos")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric)")
        let (result, lines) = try runCheck(database: database, tables: ["public.orders"], moreYAML: "delivery: exactly_once")
        #expect(result.status == 0, "\(result.text)")
        let expected = "ok   kafka transactions: the broker supports transactions and accepted transactional id swallow.app.\(database)"
        #expect(lines.contains(expected), "missing line \(expected) in:\n\(result.text)")
        // No signal table: an interrupted initial snapshot would be taken again.
        #expect(lines.contains { $0.hasPrefix("WARN exactly-once snapshots: no snapshot.signal_table") }, "\(result.text)")

        // A broker refusing the id: InitProducerId (22) answered with TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53).
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.orders", partitions: 1)
        cluster.pushRequestErrors(apiKey: 22, errors: Array(repeating: .librdkafka(53), count: 10))
        let config = try adminConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                                tables: ["public.orders"], moreYAML: "delivery: exactly_once")
        let refused = try runSwallow(["check", "--config", config])
        #expect(refused.status != 0)
        let line = outputLines(refused).first { $0.hasPrefix("FAIL kafka transactions:") } ?? ""
        #expect(line.contains("swallow.app.\(database)") && line.contains("--transactional-id"), "\(refused.text)")
    }

    @Test func walLevelReplicaFailsTheWalLevelAndSlotChecks() throws {
        // A throwaway cluster of its own: wal_level needs a restart, and the shared one must stay logical.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-replica-\(UUID().uuidString)").path
        let output = try runScript("scripts/pg-cluster.sh", ["start", directory, "wal_level=replica"])
        defer {
            _ = try? runScript("scripts/pg-cluster.sh", ["stop", directory])
            try? FileManager.default.removeItem(atPath: directory)
        }
        let port = try #require(Int(output.split(separator: "\n").last ?? ""))
        let admin = try PostgresConnection(ConnectionParameters(host: "127.0.0.1", port: port, database: "postgres",
                                                                user: "postgres", password: nil, sslMode: "disable"),
                                           replication: false)
        try admin.execute("CREATE DATABASE replica_only")
        admin.close()
        let sql = try PostgresConnection(ConnectionParameters(host: "127.0.0.1", port: port, database: "replica_only",
                                                              user: "postgres", password: nil, sslMode: "disable"),
                                         replication: false)
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        sql.close()
        let (result, lines) = try runCheck(database: "replica_only", tables: ["public.orders"], port: port)
        #expect(result.status == 1, "\(result.text)")
        #expect(lines.contains("FAIL wal_level: replica; logical decoding needs logical. Fix: ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf), then restart PostgreSQL"),
                "\(result.text)")
        #expect(lines.contains("FAIL slot: replica_only does not exist and cannot be created while wal_level is not logical. Fix: see wal_level above"),
                "\(result.text)")
        #expect(lines.contains("not ready: 2 of 10 checks failed"), "\(result.text)")
    }

    @Test func aRoleWithoutReplicationFailsTheRoleCheck() throws {
        let database = try TestPostgres.shared.makeDatabase("check_norep")
        let role = try TestRole("norep", attributes: "")
        defer { role.drop(grantedIn: database) }
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        try sql.execute("GRANT SELECT ON orders TO \(role.name)")
        try sql.execute("CREATE PUBLICATION swallow FOR TABLE orders")
        let (result, lines) = try runCheck(database: database, tables: ["public.orders"], user: role.name)
        #expect(result.status == 1, "\(result.text)")
        #expect(lines.contains("FAIL replication role: role \(role.name) has neither REPLICATION nor SUPERUSER. Fix: ALTER ROLE \(role.name) WITH REPLICATION"),
                "\(result.text)")
        #expect(lines.contains("ok   table public.orders: key: primary key (id); SELECT granted"), "\(result.text)")
        #expect(lines.contains("ok   publication: swallow exists (1 table) and covers the captured tables"), "\(result.text)")
        #expect(lines.contains("FAIL slot: \(database) does not exist and cannot be created while the role cannot open a replication connection. Fix: see replication role above"),
                "\(result.text)")
    }

    @Test func aRoleWithoutSelectFailsTheTableCheck() throws {
        let database = try TestPostgres.shared.makeDatabase("check_nosel")
        let role = try TestRole("nosel", attributes: "REPLICATION")
        defer { role.drop(grantedIn: database) }
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        try sql.execute("CREATE PUBLICATION swallow FOR TABLE orders")
        let (result, lines) = try runCheck(database: database, tables: ["public.orders"], user: role.name)
        #expect(result.status == 1, "\(result.text)")
        #expect(lines.contains("ok   replication role: role \(role.name) has REPLICATION; a replication connection was accepted"),
                "\(result.text)")
        #expect(lines.contains("FAIL table public.orders: role \(role.name) may not SELECT it (snapshots read it). Fix: GRANT SELECT ON public.orders TO \(role.name)"),
                "\(result.text)")
        #expect(lines.contains("not ready: 1 of 10 checks failed"), "\(result.text)")
    }

    @Test func aTableWithoutKeyFailsNamingTheFixes() throws {
        let database = try TestPostgres.shared.makeDatabase("check_nokey")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("""
            CREATE TABLE orders (id int PRIMARY KEY);
            CREATE TABLE audit_log (at timestamptz, line text);
            CREATE TABLE wide (a int, b int);
            ALTER TABLE wide REPLICA IDENTITY FULL;
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in ["app.public.orders", "app.public.audit_log", "app.public.wide"] {
            try cluster.createTopic(topic, partitions: 1)
        }
        let config = try adminConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                                tables: ["public.orders", "public.audit_log", "public.wide"])

        let result = try runSwallow(["check", "--config", config])
        let lines = outputLines(result)
        #expect(result.status == 1, "\(result.text)")
        #expect(lines.contains("FAIL table public.audit_log: no primary key and REPLICA IDENTITY DEFAULT, so PostgreSQL will refuse UPDATE and DELETE on it once it is published. Fix: add a primary key, or ALTER TABLE public.audit_log REPLICA IDENTITY FULL (events.message.key.columns then chooses the Kafka key)"),
                "\(result.text)")
        // FULL without any unique key is usable, but its events have no key.
        #expect(lines.contains("WARN table public.wide: key: none, REPLICA IDENTITY FULL; no primary key or unique NOT NULL index, so its events have a null key. Fix: set events.message.key.columns for it, or add a primary key"),
                "\(result.text)")
        #expect(lines.contains("not ready: 1 of 12 checks failed (1 warning)"), "\(result.text)")
    }

    @Test func aMissingPublicationThatMayNotBeCreatedFails() throws {
        let database = try TestPostgres.shared.makeDatabase("check_nopub")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY); CREATE TABLE customers (id int PRIMARY KEY)")
        let cluster = try MockKafkaCluster(brokers: 1)
        let config = try adminConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                                tables: ["public.orders", "public.customers"], publicationCreate: false)

        let result = try runSwallow(["check", "--config", config])
        let lines = outputLines(result)
        #expect(result.status == 1, "\(result.text)")
        #expect(lines.contains("FAIL publication: swallow does not exist and publication.create is false. Fix: CREATE PUBLICATION swallow FOR TABLE public.orders, public.customers (as the tables' owner), or set publication.create: true"),
                "\(result.text)")
        // The mock cluster answers no DescribeConfigs: whether the missing topics will be created is
        // reported as not verified, a warning.
        #expect(lines.contains("WARN kafka topics: missing: app.public.orders, app.public.customers; not verified that they will be created: reading broker 1's auto.create.topics.enable failed (_UNSUPPORTED_FEATURE: DescribeConfigs (KIP-133) not supported by broker, requires broker version >= 0.11.0). Fix: create them (kafka-topics.sh --create --topic NAME, with the partitions and retention you want), or set auto.create.topics.enable=true on the brokers"),
                "\(result.text)")
    }

    @Test func anUnreachableKafkaFailsQuicklyAndNoSecretIsPrinted() throws {
        let database = try TestPostgres.shared.makeDatabase("check_nokafka")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        // Port 1 on loopback refuses connections. (Trust authentication ignores the password.)
        let config = try adminConfigurationFile(database: database, bootstrapServers: "127.0.0.1:1",
                                                tables: ["public.orders"], password: "hunter2-secret")

        let start = Date()
        let result = try runSwallow(["check", "--config", config, "--kafka-timeout-ms", "2000"])
        #expect(Date().timeIntervalSince(start) < 10)
        let lines = outputLines(result)
        #expect(result.status == 1, "\(result.text)")
        #expect(lines.contains("FAIL kafka: no broker at 127.0.0.1:1 answered within 2000 ms: 127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused. Fix: check kafka.bootstrap_servers, that the brokers run and are reachable from here, and the security settings in kafka.properties"),
                "\(result.text)")
        #expect(lines.contains("not ready: 1 of 9 checks failed"), "\(result.text)")
        #expect(!result.text.contains("hunter2-secret"))
    }

    @Test func anUnreachablePostgresFailsOneLineAndStillChecksKafka() throws {
        let cluster = try MockKafkaCluster(brokers: 1)
        let config = try adminConfigurationFile(database: "check_nopg", bootstrapServers: cluster.bootstrapServers,
                                                tables: ["public.orders"], port: 1, password: "hunter2-secret")
        let result = try runSwallow(["check", "--config", config])
        let lines = outputLines(result)
        #expect(result.status == 1, "\(result.text)")
        let first = try #require(lines.first)
        #expect(first.hasPrefix("FAIL postgres: cannot connect to postgres@127.0.0.1:1/check_nopg: "), "\(result.text)")
        #expect(first.hasSuffix("; the other PostgreSQL checks were skipped. Fix: check that PostgreSQL runs and postgres.host/port are right"),
                "\(result.text)")
        #expect(lines.contains("ok   kafka: \(cluster.bootstrapServers) answered: 1 broker (1 at \(cluster.bootstrapServers))"), "\(result.text)")
        #expect(!result.text.contains("hunter2-secret"))
    }

    @Test func withoutTablesThePublicationsTablesAreCheckedAndTheSignalTableMustBePublished() throws {
        let database = try TestPostgres.shared.makeDatabase("check_pubtables")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("""
            CREATE TABLE orders (id int PRIMARY KEY);
            CREATE TABLE wide (region text NOT NULL, id int NOT NULL, note text);
            ALTER TABLE wide REPLICA IDENTITY FULL;
            CREATE TABLE unpublished (a int);
            CREATE TABLE swallow_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048));
            CREATE PUBLICATION swallow FOR TABLE orders, wide;
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in ["app.public.orders", "app.public.wide"] { try cluster.createTopic(topic, partitions: 1) }
        let config = try adminConfigurationFile(
            database: database, bootstrapServers: cluster.bootstrapServers, tables: [], publicationCreate: false,
            moreYAML: """
                events: {message.key.columns: "public.wide:region,id"}
                snapshot: {signal_table: public.swallow_signal}
                """)

        let result = try runSwallow(["check", "--config", config])
        let lines = outputLines(result)
        #expect(result.status == 1, "\(result.text)")
        for expected in [
            // tables: [] means the publication's tables, and only those.
            "ok   table public.orders: key: primary key (id); SELECT granted",
            "ok   table public.wide: key: message.key.columns (region, id), REPLICA IDENTITY FULL; SELECT granted",
            "ok   publication: swallow exists (2 tables) and covers the captured tables",
            "FAIL signal table public.swallow_signal: publication swallow does not include it, so signals never reach Swallow. Fix: ALTER PUBLICATION swallow ADD TABLE public.swallow_signal",
            "ok   kafka topics: present: app.public.orders, app.public.wide",
        ] {
            #expect(lines.contains(expected), "missing line \(expected) in:\n\(result.text)")
        }
        #expect(!result.text.contains("unpublished"), "\(result.text)")

        try sql.execute("ALTER PUBLICATION swallow ADD TABLE swallow_signal")
        let fixed = try runSwallow(["check", "--config", config])
        #expect(fixed.status == 0, "\(fixed.text)")
        #expect(outputLines(fixed).contains("ok   signal table public.swallow_signal: exists, is published and writable"), "\(fixed.text)")
    }

    @Test func messageKeyColumnsMustNameExistingColumns() throws {
        let database = try TestPostgres.shared.makeDatabase("check_keycols")
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY, region text)")
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.orders", partitions: 1)
        let config = try adminConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                                tables: ["public.orders"],
                                                moreYAML: #"events: {message.key.columns: "public.orders:region,shop_id"}"#)
        let result = try runSwallow(["check", "--config", config])
        #expect(result.status == 1, "\(result.text)")
        #expect(outputLines(result).contains("FAIL table public.orders: events.message.key.columns names columns it lacks: shop_id. Fix: correct events.message.key.columns"),
                "\(result.text)")
    }

    @Test func aPublicationTheRoleCannotCreateFailsNamingTheTablesItDoesNotOwn() throws {
        let database = try TestPostgres.shared.makeDatabase("check_pubowner")
        let role = try TestRole("owner", attributes: "REPLICATION")
        defer { role.drop(grantedIn: database) }
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("""
            CREATE TABLE orders (id int PRIMARY KEY);
            ALTER TABLE orders OWNER TO \(role.name);
            CREATE TABLE customers (id int PRIMARY KEY);
            GRANT SELECT ON customers TO \(role.name);
            GRANT CREATE ON DATABASE \(database) TO \(role.name);
            """)
        let cluster = try MockKafkaCluster(brokers: 1)
        for topic in ["app.public.orders", "app.public.customers"] { try cluster.createTopic(topic, partitions: 1) }
        func check(_ tables: [String]) throws -> (status: Int32, text: String) {
            try runSwallow(["check", "--config", try adminConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                                                           tables: tables, user: role.name)])
        }

        let owned = try check(["public.orders"])
        #expect(owned.status == 0, "\(owned.text)")
        #expect(outputLines(owned).contains("ok   publication: swallow does not exist; Swallow will create it FOR TABLE public.orders"), "\(owned.text)")

        let notOwned = try check(["public.orders", "public.customers"])
        #expect(notOwned.status == 1, "\(notOwned.text)")
        #expect(outputLines(notOwned).contains("FAIL publication: swallow does not exist and Swallow cannot create it: role \(role.name) does not own public.customers. Fix: CREATE PUBLICATION swallow FOR TABLE public.orders, public.customers as the tables' owner (or a superuser)"),
                "\(notOwned.text)")

        // FOR ALL TABLES (tables: []) needs a superuser.
        let all = try check([])
        #expect(all.status == 1, "\(all.text)")
        #expect(outputLines(all).contains("FAIL publication: swallow does not exist, and creating it FOR ALL TABLES needs a superuser. Fix: CREATE PUBLICATION swallow FOR ALL TABLES as a superuser, or list the tables in `tables`"),
                "\(all.text)")
    }

    @Test func anExistingSlotIsReportedWithItsLag() throws {
        let database = try TestPostgres.shared.makeDatabase("check_slot")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        try sql.execute("SELECT pg_create_logical_replication_slot('\(database)', 'pgoutput')")
        try sql.execute("INSERT INTO orders SELECT generate_series(1, 100)")
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.orders", partitions: 1)
        let config = try adminConfigurationFile(database: database, bootstrapServers: cluster.bootstrapServers,
                                                tables: ["public.orders"])

        let result = try runSwallow(["check", "--config", config])
        #expect(result.status == 0, "\(result.text)")
        let slotLine = try #require(outputLines(result).first { $0.hasPrefix("ok   slot: ") }, "\(result.text)")
        #expect(slotLine.hasPrefix("ok   slot: \(database) exists, inactive, wal_status reserved, "), "\(slotLine)")
        let beforeLag = try #require(slotLine.components(separatedBy: " bytes behind the server").first)
        let lag = try #require(Int(beforeLag.split(separator: " ").last ?? ""), "\(slotLine)")
        #expect(lag > 0)
    }
}

/// `swallow status` and `swallow slot drop` against the real PostgreSQL.
@Suite(.integrationTest) struct SlotCommandTests {
    @Test func statusReportsAnInactiveSlotsPositionsAndLag() throws {
        let database = try TestPostgres.shared.makeDatabase("status_slot")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY, note text)")
        try sql.execute("SELECT pg_create_logical_replication_slot('\(database)', 'pgoutput')")
        try sql.execute("INSERT INTO orders SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g")
        let config = try adminConfigurationFile(database: database, bootstrapServers: "127.0.0.1:1", tables: ["public.orders"])

        let json = try runSwallow(["status", "--config", config, "--json"])
        #expect(json.status == 0, "\(json.text)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.text.utf8)) as? [String: Any])
        #expect(object["exists"] as? Bool == true)
        #expect(object["slot"] as? String == database)
        #expect(object["database"] as? String == database)
        #expect(object["plugin"] as? String == "pgoutput")
        #expect(object["active"] as? Bool == false)
        #expect(object["active_pid"] is NSNull)
        #expect(object["wal_status"] as? String == "reserved")
        #expect(object["lag_seconds"] is NSNull)   // nothing streams: unknown, not invented
        #expect((object["lag_bytes"] as? Int ?? 0) > 100_000)
        #expect((object["retained_wal_bytes"] as? Int ?? 0) >= (object["lag_bytes"] as? Int ?? 0))
        let confirmed = try #require(object["confirmed_flush_lsn"] as? String)
        let server = try #require(object["server_lsn"] as? String)
        #expect(LSN(string: confirmed)! < LSN(string: server)!)
        #expect(object["restart_lsn"] is String)

        let text = try runSwallow(["status", "--config", config])
        let lines = outputLines(text)
        #expect(text.status == 0, "\(text.text)")
        #expect(lines.contains("slot                \(database) (logical, plugin pgoutput, database \(database))"), "\(text.text)")
        #expect(lines.contains("state               inactive"), "\(text.text)")
        #expect(lines.contains("confirmed_flush_lsn \(confirmed)"), "\(text.text)")
        #expect(lines.contains("lag time            unknown (nothing streams from the slot)"), "\(text.text)")
        #expect(lines.contains("wal_status          reserved"), "\(text.text)")
    }

    @Test func statusOfAMissingSlotSaysSoAndExitsOne() throws {
        let database = try TestPostgres.shared.makeDatabase("status_none")
        let config = try adminConfigurationFile(database: database, bootstrapServers: "127.0.0.1:1", tables: ["public.orders"])
        let text = try runSwallow(["status", "--config", config])
        #expect(text.status == 1)
        #expect(outputLines(text).contains("slot \(database) does not exist on postgres@127.0.0.1:\(TestPostgres.shared.port)/\(database)"),
                "\(text.text)")
        let json = try runSwallow(["status", "--config", config, "--json"])
        #expect(json.status == 1)
        #expect(outputLines(json).first == #"{"exists":false,"slot":"\#(database)"}"#, "\(json.text)")
        let drop = try runSwallow(["slot", "drop", "--config", config, "--yes"])
        #expect(drop.status == 1)
        #expect(drop.text.contains("replication slot \"\(database)\" does not exist on postgres@127.0.0.1:\(TestPostgres.shared.port)/\(database); nothing was dropped"),
                "\(drop.text)")
    }

    @Test func slotDropAsksForYesThenDropsTheSlotAndItsStateFiles() throws {
        let database = try TestPostgres.shared.makeDatabase("drop_slot")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        defer { sql.close() }
        try sql.execute("SELECT pg_create_logical_replication_slot('\(database)', 'pgoutput')")
        let stateDirectory = testStateDirectory(database)
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
        let snapshotFile = "\(stateDirectory)/snapshot-\(database).json"
        let incrementalFile = "\(stateDirectory)/incremental-\(database).json"
        let otherFile = "\(stateDirectory)/snapshot-other_slot.json"
        for file in [snapshotFile, incrementalFile, otherFile] { try "{}".write(toFile: file, atomically: true, encoding: .utf8) }
        let config = try adminConfigurationFile(database: database, bootstrapServers: "127.0.0.1:1", tables: ["public.orders"])

        let dryRun = try runSwallow(["slot", "drop", "--config", config])
        #expect(dryRun.status == 1, "\(dryRun.text)")
        let dryLines = outputLines(dryRun)
        #expect(dryLines.first?.hasPrefix("would drop replication slot \(database) (database \(database), confirmed_flush_lsn ") == true,
                "\(dryRun.text)")
        #expect(dryLines.contains("would remove its state files (they record this slot's stream and snapshots): \(snapshotFile), \(incrementalFile)"),
                "\(dryRun.text)")
        #expect(dryLines.contains("nothing was dropped: run again with --yes to drop it"), "\(dryRun.text)")
        #expect(try slotRow(sql) != nil)
        #expect(FileManager.default.fileExists(atPath: snapshotFile) && FileManager.default.fileExists(atPath: incrementalFile))

        let drop = try runSwallow(["slot", "drop", "--config", config, "--yes"])
        #expect(drop.status == 0, "\(drop.text)")
        let dropLines = outputLines(drop)
        #expect(dropLines.first?.hasPrefix("dropped replication slot \(database) (database \(database), confirmed_flush_lsn ") == true,
                "\(drop.text)")
        #expect(dropLines.contains("removed its state files (they recorded this slot's stream and snapshots): \(snapshotFile), \(incrementalFile)"),
                "\(drop.text)")
        #expect(dropLines.contains("the next `swallow run` creates a new slot and snapshots the tables again (snapshot.mode initial)"),
                "\(drop.text)")
        #expect(try slotRow(sql) == nil)
        #expect(!FileManager.default.fileExists(atPath: snapshotFile) && !FileManager.default.fileExists(atPath: incrementalFile))
        #expect(FileManager.default.fileExists(atPath: otherFile))   // another slot's state is not touched
    }

    /// A slot lost in a failover leaves Swallow's record of it (which stops the next `swallow run`):
    /// `slot drop --yes` is how Swallow is told to forget it.
    @Test func slotDropForgetsASlotThatIsAlreadyGone() throws {
        let database = try TestPostgres.shared.makeDatabase("drop_gone")
        let stateDirectory = testStateDirectory(database)
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: stateDirectory) }
        let streamFile = "\(stateDirectory)/stream-\(database).json"
        let snapshotFile = "\(stateDirectory)/snapshot-\(database).json"
        for file in [streamFile, snapshotFile] { try "{}".write(toFile: file, atomically: true, encoding: .utf8) }
        let config = try adminConfigurationFile(database: database, bootstrapServers: "127.0.0.1:1", tables: ["public.orders"])
        let gone = "replication slot \(database) does not exist on postgres@127.0.0.1:\(TestPostgres.shared.port)/\(database): nothing to drop there"

        let dryRun = try runSwallow(["slot", "drop", "--config", config])
        #expect(dryRun.status == 1, "\(dryRun.text)")
        #expect(outputLines(dryRun).starts(with: [
            gone, "would remove its state files (they record this slot's stream and snapshots): \(streamFile), \(snapshotFile)",
            "nothing was dropped: run again with --yes to drop it"]), "\(dryRun.text)")
        #expect(FileManager.default.fileExists(atPath: streamFile))

        let drop = try runSwallow(["slot", "drop", "--config", config, "--yes"])
        #expect(drop.status == 0, "\(drop.text)")
        #expect(outputLines(drop).starts(with: [
            gone, "removed its state files (they recorded this slot's stream and snapshots): \(streamFile), \(snapshotFile)",
            "the next `swallow run` creates a new slot and snapshots the tables again (snapshot.mode initial)"]), "\(drop.text)")
        #expect(!FileManager.default.fileExists(atPath: streamFile) && !FileManager.default.fileExists(atPath: snapshotFile))

        // Nothing left: as before, nothing to do.
        let again = try runSwallow(["slot", "drop", "--config", config, "--yes"])
        #expect(again.status == 1, "\(again.text)")
        #expect(again.text.contains("does not exist on postgres@127.0.0.1:\(TestPostgres.shared.port)/\(database); nothing was dropped"), "\(again.text)")
    }

    @Test func anActiveSlotIsReportedByStatusAndNeverDropped() throws {
        let scenario = try StreamingScenario("drop_active", schema: "CREATE TABLE orders (id int PRIMARY KEY)",
                                             tables: ["public.orders"])
        defer { scenario.cleanUp() }
        let config = try adminConfigurationFile(database: scenario.database, bootstrapServers: scenario.cluster.bootstrapServers,
                                                tables: ["public.orders"])
        let pid = try #require(try scenario.sql.execute(
            "SELECT active_pid FROM pg_replication_slots WHERE slot_name = current_database()")[0, "active_pid"])

        let status = try runSwallow(["status", "--config", config, "--json"])
        #expect(status.status == 0, "\(status.text)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.text.utf8)) as? [String: Any])
        #expect(object["active"] as? Bool == true)
        #expect(object["active_pid"] as? Int == Int(pid))
        #expect(object["application_name"] as? String == "swallow")
        #expect(object["client_addr"] as? String == "127.0.0.1")

        let drop = try runSwallow(["slot", "drop", "--config", config, "--yes"])
        #expect(drop.status == 1, "\(drop.text)")
        #expect(drop.text.contains("replication slot \"\(scenario.database)\" is active: process \(pid) (application swallow from 127.0.0.1) streams from it; it was not dropped"),
                "\(drop.text)")
        #expect(try slotRow(scenario.sql) != nil)
        #expect(try scenario.running.stop().isSuccess)
    }
}
