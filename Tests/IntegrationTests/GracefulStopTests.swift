import Foundation
import Kafka
import PGOutput
import PGReplication
import Pipeline
import SwallowConfig
import Testing

/// A stop requested in the middle of a transaction reads that transaction to its commit first. The slot
/// can only be confirmed at transaction ends, so stopping half-way would send the whole transaction again
/// after the restart, its first events twice: only a crash may cause duplicates.
@Suite(.integrationTest) struct GracefulStopTests {
    @Test func aStopMidTransactionFinishesItAndTheRestartSendsNothingTwice() throws {
        let database = try TestPostgres.shared.makeDatabase("midtx_stop")
        defer { TestPostgres.shared.dropSlots(of: database) }
        let sql = try TestPostgres.shared.connect(database)
        try sql.execute("CREATE TABLE items (id int PRIMARY KEY, payload text NOT NULL)")
        let cluster = try MockKafkaCluster(brokers: 1)
        try cluster.createTopic("app.public.items", partitions: 1)
        let configuration = try SwallowConfiguration.parse(
            yaml: testConfigurationYAML(database: database, bootstrapServers: cluster.bootstrapServers,
                                        tables: ["public.items"], maxInFlightEvents: 100),
            environment: [:])
        let first = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming") { try isStreaming(sql) }

        // Acknowledgements 2 s away and 100 events in flight: the transaction's first events wait in
        // flight long enough for the status (refreshed once a second) to show them, however loaded the
        // machine. The stop is requested then; the broker answers at once from there on.
        try cluster.setBrokerRoundTripTime(1, milliseconds: 2_000)
        let rows = 3_000
        try sql.execute("INSERT INTO items SELECT g, 'row ' || g FROM generate_series(1, \(rows)) g")
        try waitUntil(timeoutSeconds: 120, "the transaction's first events in flight") {
            first.pipeline.status.inFlightEvents > 0
        }
        first.pipeline.stop()
        try cluster.setBrokerRoundTripTime(1, milliseconds: 0)
        #expect(try first.stop(timeoutSeconds: 60).isSuccess)
        let consumer = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, topics: ["app.public.items"],
                                         waitForTopicsMilliseconds: 30_000)
        defer { consumer.close() }
        var records = try consumer.readToEnd(timeoutMilliseconds: 5_000)
        #expect(records.count == rows, "the stop left the transaction after \(records.count) of its \(rows) events")

        let second = RunningPipeline(configuration: configuration, bootstrapServers: cluster.bootstrapServers)
        try waitUntil("the slot to be streaming again") { try isStreaming(sql) }
        try sql.execute("INSERT INTO items VALUES (\(rows + 1), 'after the restart')")
        // Until the row after the restart is there; any second copy of the transaction comes before it.
        let lastKey = #"{"id":\#(rows + 1)}"#
        try waitUntil(timeoutSeconds: 60, "the row after the restart in Kafka") {
            records += try consumer.readToEnd(timeoutMilliseconds: 1_000)
            return records.contains { $0.key.map { String(decoding: $0, as: UTF8.self).hasSuffix(lastKey) } ?? false }
        }
        #expect(try second.stop().isSuccess)
        let keys = records.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }
        #expect(Set(keys).count == rows + 1, "\(Set(keys).count) distinct keys")
        #expect(records.count == rows + 1, "\(records.count - Set(keys).count) events sent twice")
    }
}
