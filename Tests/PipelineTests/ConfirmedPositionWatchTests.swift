import ChangeEvent
import MetricsTestKit
import PGOutput
import Testing
@testable import Pipeline
@testable import SwallowCore

@Suite struct ConfirmedPositionWatchTests {
    let start = ContinuousClock.now

    private func at(_ seconds: Int) -> ContinuousClock.Instant { start + .seconds(seconds) }

    @Test func aPositionThatStandsStillWhileTheServerMovesOnIsStalledAfterTheThreshold() {
        var watch = ConfirmedPositionWatch(threshold: .seconds(60), now: start)
        #expect(!watch.observe(confirmed: LSN(100), server: LSN(200), at: at(0)).isStalled)
        let early = watch.observe(confirmed: LSN(100), server: LSN(300), at: at(59))
        #expect(!early.isStalled && !early.warn)
        #expect(early.unchangedFor == .seconds(59))
        let stalled = watch.observe(confirmed: LSN(100), server: LSN(300), at: at(60))
        #expect(stalled.isStalled && stalled.warn)
    }

    @Test func theWarningRepeatsAtMostOncePerThreshold() {
        var watch = ConfirmedPositionWatch(threshold: .seconds(60), now: start)
        _ = watch.observe(confirmed: LSN(100), server: LSN(200), at: at(0))
        #expect(watch.observe(confirmed: LSN(100), server: LSN(200), at: at(61)).warn)
        #expect(!watch.observe(confirmed: LSN(100), server: LSN(200), at: at(90)).warn)
        #expect(watch.observe(confirmed: LSN(100), server: LSN(200), at: at(90)).isStalled)
        #expect(watch.observe(confirmed: LSN(100), server: LSN(200), at: at(121)).warn)
    }

    @Test func anIdleServerIsNotAStall() {
        var watch = ConfirmedPositionWatch(threshold: .seconds(60), now: start)
        _ = watch.observe(confirmed: LSN(100), server: LSN(100), at: at(0))
        let idle = watch.observe(confirmed: LSN(100), server: LSN(100), at: at(3600))
        #expect(!idle.isStalled && !idle.warn)
        #expect(idle.unchangedFor == .seconds(3600))
    }

    @Test func movingAgainEndsTheStallOnce() {
        var watch = ConfirmedPositionWatch(threshold: .seconds(10), now: start)
        _ = watch.observe(confirmed: LSN(100), server: LSN(200), at: at(0))
        #expect(watch.observe(confirmed: LSN(100), server: LSN(200), at: at(10)).isStalled)
        let moved = watch.observe(confirmed: LSN(150), server: LSN(200), at: at(11))
        #expect(moved.recovered && !moved.isStalled && moved.unchangedFor == .zero)
        #expect(!watch.observe(confirmed: LSN(200), server: LSN(200), at: at(12)).recovered)
    }

    @Test func withoutAThresholdNothingIsEverStalled() {
        var watch = ConfirmedPositionWatch(threshold: nil, now: start)
        _ = watch.observe(confirmed: LSN(100), server: LSN(200), at: at(0))
        let late = watch.observe(confirmed: LSN(100), server: LSN(900), at: at(86_400))
        #expect(!late.isStalled && !late.warn)
        #expect(late.unchangedFor == .seconds(86_400))
    }

    @Test func theGaugeCarriesTheStallBySlot() throws {
        let metrics = TestMetrics()
        let gauges = ConfirmedPositionGauges(slot: "orders", factory: metrics)
        gauges.record(.init(isStalled: true, unchangedFor: .milliseconds(90_500), warn: true, recovered: false))
        #expect(try metrics.expectGauge("swallow_confirmed_position_stalled", [("slot", "orders")]).lastValue == 1)
        #expect(metrics.recorders.allSatisfy { $0.label == "swallow_confirmed_position_stalled" },
                "the stand-still time is the monitor's swallow_last_confirmed_age_seconds, not a second gauge")
        gauges.record(.init(isStalled: false, unchangedFor: .zero, warn: false, recovered: true))
        #expect(try metrics.expectGauge("swallow_confirmed_position_stalled", [("slot", "orders")]).lastValue == 0)
    }
}

@Suite struct HeartbeatRecordTests {
    @Test func heartbeatRecordsAreDebeziumsOnItsHeartbeatTopic() {
        let records = HeartbeatRecords(topicPrefix: "shop", encoder: ChangeEventEncoder())
        let record = records.record(timestampMillis: 1_795_240_218_015)
        #expect(record.topic == "__debezium-heartbeat.shop")
        #expect(String(decoding: record.key ?? [], as: UTF8.self) == #"{"serverName":"shop"}"#)
        #expect(String(decoding: record.value ?? [], as: UTF8.self) == #"{"ts_ms":1795240218015}"#)
        #expect(record.headers.isEmpty)
    }

    @Test func withEnvelopeSchemasTheyCarryDebeziumsConnectSchemas() {
        let records = HeartbeatRecords(topicPrefix: "shop", encoder: ChangeEventEncoder(options: EncoderOptions(includeSchemas: true)))
        let record = records.record(timestampMillis: 5)
        #expect(String(decoding: record.key ?? [], as: UTF8.self)
                == #"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey"},"payload":{"serverName":"shop"}}"#)
        #expect(String(decoding: record.value ?? [], as: UTF8.self)
                == #"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.Heartbeat"},"payload":{"ts_ms":5}}"#)
    }
}
