import Foundation
import Kafka
import PGReplication
import Testing

/// `swallow check` with `slot.failover` and a list of hosts: a primary and its physical standby of the
/// version under test (own clusters), plus a host where nothing listens. On 15 it must say that failover
/// slots need 17; on 17+ a well-configured pair passes and each missing setting is named with its fix.
@Suite(.integrationTest) struct FailoverCheckTests {
    @Test func checkReportsEachServerAndWhatSlotSynchronizationLacks() throws {
        let matrix = try TestPostgres.shared.connect("postgres")
        let versionNumber = try #require(Int(try matrix.execute("SHOW server_version_num")[0, "server_version_num"] ?? ""))
        let version = String((try matrix.execute("SHOW server_version")[0, "server_version"] ?? "").split(separator: " ")[0])
        matrix.close()
        let failoverSlots = versionNumber >= 170000

        let primary = try PrivatePostgres("fo-check-primary")
        defer { primary.stop() }
        // Settings through ALTER SYSTEM, not the command line, which would override the changes below.
        let standby = try PrivatePostgres("fo-check-standby", standbyOf: primary)
        defer { standby.stop() }
        try setAndWait(standby, "hot_standby_feedback", to: "on")
        if failoverSlots { try setAndWait(standby, "sync_replication_slots", to: "on") }
        let database = "fo_check_\(UInt32.random(in: 0...UInt32.max))"
        let primaryAdmin = try PostgresConnection(primary.parameters(database: "postgres"), replication: false)
        defer { primaryAdmin.close() }
        try primaryAdmin.execute("CREATE DATABASE \(database)")
        let sql = try PostgresConnection(primary.parameters(database: database), replication: false)
        defer { sql.close() }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY, total numeric)")
        try waitUntil(timeoutSeconds: 60, "the standby to replay the new database") {
            guard let copy = try? PostgresConnection(standby.parameters(database: database), replication: false) else { return false }
            defer { copy.close() }
            return try copy.execute("SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'orders'").rows.count == 1
        }
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.orders", partitions: 1)

        let primaryName = "primary 127.0.0.1:\(primary.port)"
        let standbyName = "standby 127.0.0.1:\(standby.port)"
        func check(slot: String) throws -> (status: Int32, lines: [String], text: String) {
            let config = try adminConfigurationFile(
                database: database, bootstrapServers: cluster.bootstrapServers, tables: ["public.orders"],
                hosts: "host: \"127.0.0.1,127.0.0.1,127.0.0.1\", port: \"\(primary.port),\(standby.port),1\"",
                slotName: slot, slot: "create: true, failover: true")
            let result = try runSwallow(["check", "--config", config])
            return (result.status, outputLines(result), result.text)
        }
        func expectLines(_ result: (status: Int32, lines: [String], text: String), _ expected: [String],
                         sourceLocation: SourceLocation = #_sourceLocation) {
            for line in expected {
                #expect(result.lines.contains(line), "missing line \(line) in:\n\(result.text)", sourceLocation: sourceLocation)
            }
        }
        let unreachable = "WARN host 127.0.0.1:1: cannot connect: "

        guard failoverSlots else {
            let result = try check(slot: database)
            #expect(result.status == 1, "\(result.text)")
            let needs17 = "slot.failover: failover slots need PostgreSQL 17 or later; this server is \(version). Fix: upgrade the servers to PostgreSQL 17 or later, or remove slot.failover"
            expectLines(result, ["ok   \(primaryName): PostgreSQL \(version)", "FAIL \(primaryName) \(needs17)",
                                 "ok   \(standbyName): PostgreSQL \(version), in recovery", "FAIL \(standbyName) \(needs17)"])
            #expect(result.lines.contains { $0.hasPrefix(unreachable) }, "\(result.text)")
            return
        }

        // Well configured: the primary waits for the standby's slot, and the standby holds a synchronized
        // copy of the failover slot.
        let standbySlot = standby.standbySlotName
        try setAndWait(primary, "synchronized_standby_slots", to: standbySlot)
        try sql.execute("SELECT pg_catalog.pg_create_logical_replication_slot('\(database)', 'pgoutput', false, false, true)")
        let standbyAdmin = try PostgresConnection(standby.parameters(database: "postgres"), replication: false)
        defer { standbyAdmin.close() }
        // The copy stays temporary until the primary's slot has moved past the position the standby
        // reserved for it (Swallow's confirmations do that; here the slot is advanced by hand).
        try waitUntil(timeoutSeconds: 120, "the standby to hold a persistent synchronized copy of the slot") {
            try sql.execute("SELECT pg_catalog.pg_log_standby_snapshot()")
            try sql.execute("SELECT pg_catalog.pg_replication_slot_advance('\(database)', pg_catalog.pg_current_wal_lsn())")
            return try standbyAdmin.execute("""
                SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = '\(database)' AND synced AND NOT temporary
                """).rows.count == 1
        }
        var result = try check(slot: database)
        #expect(result.status == 0, "\(result.text)")
        expectLines(result, [
            "ok   \(primaryName): PostgreSQL \(version)",
            "ok   \(primaryName) synchronized_standby_slots: \(standbySlot) (active)",
            "ok   \(primaryName) slot: \(database) is a failover slot",
            "ok   \(standbyName): PostgreSQL \(version), in recovery",
            "ok   \(standbyName) sync_replication_slots: on",
            "ok   \(standbyName) hot_standby_feedback: on",
            "ok   \(standbyName) primary_slot_name: \(standbySlot), named in the primary's synchronized_standby_slots",
            "ok   \(standbyName) primary_conninfo: names database postgres",
            "ok   \(standbyName) slot: \(database) is synchronized here (synced = true)",
        ])
        #expect(result.lines.contains { $0.hasPrefix(unreachable) && $0.hasSuffix("its settings were not checked. Fix: start it, or remove it from postgres.host") },
                "\(result.text)")
        #expect(!result.text.contains("FAIL"), "\(result.text)")

        // A slot that is not a failover slot is never copied.
        let plain = "\(database)_plain"
        try sql.execute("SELECT pg_catalog.pg_create_logical_replication_slot('\(plain)', 'pgoutput')")
        result = try check(slot: plain)
        expectLines(result, [
            "ok   \(primaryName) slot: \(plain) is not a failover slot yet; Swallow makes it one when it starts",
            "WARN \(standbyName) slot: \(plain) has never been synchronized here: on the primary it is not a failover slot yet. Fix: start Swallow with slot.failover: true; it makes the slot a failover slot",
        ])

        // The primary does not wait for the standby.
        try setAndWait(primary, "synchronized_standby_slots", to: nil)
        result = try check(slot: database)
        #expect(result.status == 1, "\(result.text)")
        expectLines(result, [
            "FAIL \(primaryName) synchronized_standby_slots: empty: Swallow may receive and confirm changes no standby has yet, and a standby promoted then lacks changes Kafka holds. Fix: ALTER SYSTEM SET synchronized_standby_slots = '\(standbySlot)'; SELECT pg_reload_conf()",
            "FAIL \(standbyName) primary_slot_name: \(standbySlot), which the primary's synchronized_standby_slots does not name: Swallow may confirm changes this standby has not received, and after its promotion Kafka holds changes it lacks. Fix: on the primary: ALTER SYSTEM SET synchronized_standby_slots = '\(standbySlot)'; SELECT pg_reload_conf()",
        ])

        // A standby that synchronizes nothing: a failover slot created since is never copied there.
        try setAndWait(standby, "sync_replication_slots", to: "off")
        try setAndWait(standby, "hot_standby_feedback", to: "off")
        try waitUntil(timeoutSeconds: 60, "the slot sync worker to stop") {
            try standbyAdmin.execute("SELECT 1 FROM pg_catalog.pg_stat_activity WHERE backend_type = 'slotsync worker'").rows.isEmpty
        }
        let late = "\(database)_late"
        try sql.execute("SELECT pg_catalog.pg_create_logical_replication_slot('\(late)', 'pgoutput', false, false, true)")
        result = try check(slot: late)
        #expect(result.status == 1, "\(result.text)")
        expectLines(result, [
            "FAIL \(standbyName) sync_replication_slots: off; the slot sync worker copies failover slots only when it is on. Fix: ALTER SYSTEM SET sync_replication_slots = on; SELECT pg_reload_conf() (on this standby)",
            "FAIL \(standbyName) hot_standby_feedback: off; slot synchronization needs it, so that the primary keeps the catalog rows the slot's copy needs. Fix: ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf() (on this standby)",
            "FAIL \(standbyName) slot: \(late) has never been synchronized here: sync_replication_slots, hot_standby_feedback (above) keep it from being copied. Fix: fix sync_replication_slots, hot_standby_feedback above",
        ])
    }

    /// `ALTER SYSTEM SET name = value` (RESET for nil) and a reload, then waits until new sessions see it.
    private func setAndWait(_ server: PrivatePostgres, _ name: String, to value: String?) throws {
        let admin = try PostgresConnection(server.parameters(database: "postgres"), replication: false)
        defer { admin.close() }
        try admin.execute(value.map { "ALTER SYSTEM SET \(name) = '\($0)'" } ?? "ALTER SYSTEM RESET \(name)")
        try admin.execute("SELECT pg_catalog.pg_reload_conf()")
        try waitUntil(timeoutSeconds: 30, "\(name) to be \(value ?? "reset")") {
            let session = try PostgresConnection(server.parameters(database: "postgres"), replication: false)
            defer { session.close() }
            return try session.execute("SHOW \(name)")[0, name] == (value ?? "")
        }
    }
}
