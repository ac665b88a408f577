import SwallowConfig
import Testing
@testable import Pipeline

/// `swallow check` with `delivery: exactly_once`: whether an interrupted initial snapshot can continue
/// without repeating rows (it needs the signal table and streaming).
@Suite struct ExactlyOnceSnapshotCheckTests {
    func settings(delivery: String, snapshot: String) throws -> PipelineSettings {
        let configuration = try SwallowConfiguration.parse(yaml: """
            postgres: {host: db.internal, dbname: app, user: swallow}
            slot: {name: swallow}
            publication: {name: swallow}
            topic_prefix: app
            kafka: {bootstrap_servers: "k1:9092"}
            delivery: \(delivery)
            snapshot: \(snapshot)
            """, environment: [:])
        return PipelineSettings(configuration: configuration, bootstrapServers: "k1:9092", connectorVersion: "test")
    }

    @Test func warnsWithoutASignalTableAndNamesTheFix() throws {
        let check = try #require(KafkaPreflight.exactlyOnceSnapshotCheck(try settings(delivery: "exactly_once", snapshot: "{mode: initial}")))
        #expect(check.outcome == .warn)
        #expect(check.found.contains("taken again"))
        #expect(check.fix?.contains("snapshot.signal_table") == true)
    }

    @Test func passesWithASignalTable() throws {
        let check = try #require(KafkaPreflight.exactlyOnceSnapshotCheck(
            try settings(delivery: "exactly_once", snapshot: "{mode: initial, signal_table: public.swallow_signal}")))
        #expect(check.outcome == .pass)
        #expect(check.fix == nil)
    }

    @Test func warnsForInitialOnlyWhichDoesNotStream() throws {
        let check = try #require(KafkaPreflight.exactlyOnceSnapshotCheck(
            try settings(delivery: "exactly_once", snapshot: "{mode: initial_only, signal_table: public.swallow_signal}")))
        #expect(check.outcome == .warn)
    }

    @Test func saysNothingWhereItDoesNotApply() throws {
        #expect(KafkaPreflight.exactlyOnceSnapshotCheck(try settings(delivery: "at_least_once", snapshot: "{mode: initial}")) == nil)
        #expect(KafkaPreflight.exactlyOnceSnapshotCheck(try settings(delivery: "exactly_once", snapshot: "{mode: no_data}")) == nil)
    }
}
