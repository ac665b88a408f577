import Foundation
import Kafka
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// `slot.failover` (PostgreSQL 17 failover slots) on the version under test: the matrix runs it on 15,
/// where it must stop naming the cause and the fix, and on 18, where the slot it creates, or an existing
/// one it alters, is a failover slot.
@Suite(.integrationTest) struct FailoverSlotTests {
    @Test func slotFailoverMakesAFailoverSlotFrom17AndStopsWithTheFixBefore() throws {
        let database = try TestPostgres.shared.makeDatabase("failover_slot")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)")
        let version = try #require(Int(try sql.execute("SHOW server_version_num")[0, "server_version_num"] ?? ""))
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.items", partitions: 2)
        let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers, tables: ["public.items"])
            .replacingOccurrences(of: "slot: {name: \(database), create: true}", with: "slot: {name: \(database), create: true, failover: true}")
        let configuration = try SwallowConfiguration.parse(yaml: yaml, environment: [:])
        #expect(configuration.slot.failover)
        func failoverColumn() throws -> String? {
            try sql.execute("SELECT failover::text AS failover FROM pg_catalog.pg_replication_slots WHERE slot_name = '\(database)'")[0, "failover"]
        }

        guard version >= 170000 else {
            let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
            try waitUntil(timeoutSeconds: 30, "Swallow to stop on slot.failover before PostgreSQL 17") { running.hasEnded }
            guard case .failure(let error) = try running.stop() else {
                Issue.record("slot.failover on PostgreSQL \(version) did not stop Swallow")
                return
            }
            #expect("\(error)".contains("slot.failover needs PostgreSQL 17 or later"), "\(error)")
            #expect("\(error)".contains("remove slot.failover, or upgrade"), "\(error)")
            #expect(try sql.execute("SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = '\(database)'").rows.isEmpty,
                    "no slot is created")
            return
        }

        // A new slot is created as a failover slot.
        var running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the stream to start") { try isStreaming(sql) }
        #expect(try failoverColumn() == "true")
        #expect(try running.stop().isSuccess)

        // An existing slot that is not one is altered when Swallow starts (the snapshot is done: it
        // streams from the slot it finds).
        // The stopped pipeline's walsender may hold the slot a moment longer.
        try waitUntil("the slot to be released") { try slotRow(sql)?.active == false }
        try sql.execute("SELECT pg_drop_replication_slot('\(database)')")
        try sql.execute("SELECT pg_create_logical_replication_slot('\(database)', 'pgoutput')")
        #expect(try failoverColumn() == "false")
        running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the stream to start again") { try isStreaming(sql) }
        #expect(try failoverColumn() == "true")
        try sql.execute("INSERT INTO items VALUES (1, 1, 'x')")
        try waitUntilEverythingIsConfirmed(sql)
        #expect(try running.stop().isSuccess)
    }

    /// `postgres.host` as a list: an unreachable host first (nothing listens on port 1), the server
    /// second; libpq tries them in order, and with `target_session_attrs=read-write` (the default for a
    /// list) only a server that takes writes is used.
    @Test func aHostListSkipsAnUnreachableHost() throws {
        let database = try TestPostgres.shared.makeDatabase("host_list")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)")
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.items", partitions: 1)
        let port = TestPostgres.shared.port
        let yaml = testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers, tables: ["public.items"])
            .replacingOccurrences(of: "host: 127.0.0.1, port: \(port),", with: "host: \"127.0.0.1,127.0.0.1\", port: \"1,\(port)\",")
        let configuration = try SwallowConfiguration.parse(yaml: yaml, environment: [:])
        #expect(configuration.postgres.ports == [1, port])
        #expect(configuration.postgres.targetSessionAttributes == "read-write")
        let running = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil(timeoutSeconds: 60, "the stream to start") { try isStreaming(sql) }
        try sql.execute("INSERT INTO items VALUES (1, 1, 'x')")
        try waitUntilEverythingIsConfirmed(sql)
        #expect(try running.stop().isSuccess)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.items"])
        defer { consumer.close() }
        #expect(try consumer.readToEnd(timeoutMilliseconds: 10_000).count == 1)
    }
}
