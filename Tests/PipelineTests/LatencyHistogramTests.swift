import Foundation
import Testing
@testable import Pipeline

@Suite struct LatencyHistogramTests {
    @Test func smallValuesAreExactAndQuantilesFollowTheRanks() {
        var histogram = LatencyHistogram()
        for value in 1...100 { histogram.record(Int64(value)) }
        #expect(histogram.count == 100)
        #expect(histogram.value(atQuantile: 0.5) == 50)
        #expect(histogram.value(atQuantile: 0.99) == 99)
        #expect(histogram.value(atQuantile: 0.999) == 100)
        #expect(histogram.value(atQuantile: 1) == 100)
        #expect(histogram.max == 100)
    }

    @Test func largeValuesAreWithinOneSixtyFourthAndNeverAboveTheExactMaximum() {
        var histogram = LatencyHistogram()
        // 1 ms ... 10 s in µs, uniformly: p50 ≈ 5 s, p99 ≈ 9.9 s.
        for value in stride(from: Int64(1_000), through: 10_000_000, by: 1_000) { histogram.record(value) }
        let p50 = Double(histogram.value(atQuantile: 0.5))
        let p99 = Double(histogram.value(atQuantile: 0.99))
        #expect(p50 >= 5_000_000 && p50 <= 5_000_000 * (1 + 1.0 / 64))
        #expect(p99 >= 9_900_000 && p99 <= 9_900_000 * (1 + 1.0 / 64))
        #expect(histogram.value(atQuantile: 1) == 10_000_000)
        #expect(histogram.max == 10_000_000)
    }

    @Test func everyBucketIndexIsInRangeAndBucketsAreContiguous() {
        for value: Int64 in [0, 1, 127, 128, 129, 255, 256, 1 << 20, (1 << 20) + 12_345, Int64.max - 1, Int64.max] {
            let index = LatencyHistogram.index(of: value)
            #expect(index >= 0 && index < LatencyHistogram.bucketCount)
            #expect(LatencyHistogram.highestValue(inBucket: index) >= value)
            if index > 0 { #expect(LatencyHistogram.highestValue(inBucket: index - 1) < value) }
        }
        var histogram = LatencyHistogram()
        histogram.record(-5)   // a commit timestamp from a clock ahead of ours
        #expect(histogram.max == 0 && histogram.count == 1)
    }

    @Test func mergingAddsCountsAndKeepsTheLargerMaximum() {
        var a = LatencyHistogram(), b = LatencyHistogram()
        for _ in 0..<90 { a.record(10) }
        for _ in 0..<10 { b.record(2_000) }
        a.merge(b)
        #expect(a.count == 100)
        #expect(a.value(atQuantile: 0.5) == 10)
        #expect(a.value(atQuantile: 0.95) >= 2_000)
        #expect(a.max == 2_000)
    }

    @Test func theWindowCoversTheCurrentAndPreviousPeriodAndForgetsOlderValues() {
        let second: Int64 = 1_000_000
        var window = RotatingLatencyWindow(periodSeconds: 60, nowMicros: 0)
        window.record(5_000, nowMicros: 10 * second)        // 5 ms in the first period
        window.record(900_000, nowMicros: 50 * second)      // 900 ms in the first period
        var summary = window.summary(nowMicros: 59 * second)
        #expect(summary.count == 2)
        #expect(summary.max == 900)
        #expect(summary.windowSeconds == 59)

        window.record(20_000, nowMicros: 70 * second)       // second period: the first is still counted
        summary = window.summary(nowMicros: 100 * second)
        #expect(summary.count == 3)
        #expect(summary.max == 900)
        #expect(summary.p50 >= 20 && summary.p50 <= 20 * (1 + 1.0 / 64))

        summary = window.summary(nowMicros: 140 * second)   // third period: the first is gone
        #expect(summary.count == 1)
        #expect(summary.max == 20)

        summary = window.summary(nowMicros: 400 * second)   // idle for more than two periods: empty
        #expect(summary.count == 0)
        #expect(summary.max == 0 && summary.p99 == 0)
    }

    @Test func theMonitorPublishesTheWindowAndInFlightBytesInTheStatusDocument() throws {
        let monitor = PipelineMonitor(slot: "s")
        let now = WallClock.micros()
        monitor.recordCommitsAcknowledged([now - 3_000, now - 7_000, now - 40_000], nowMicros: now)
        monitor.refresh(confirmed: .invalid, inFlight: 4, inFlightBytes: 1234, stream: nil, snapshot: nil)
        let status = monitor.status
        #expect(status.commitToAck.count == 3)
        #expect(status.commitToAck.p50 >= 7 && status.commitToAck.p50 < 7.2)
        #expect(status.commitToAck.max == 40)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.json())) as? [String: Any])
        #expect(object["in_flight_bytes"] as? Int == 1234)
        let latency = try #require(object["commit_to_ack_ms"] as? [String: Any])
        #expect(latency["count"] as? Int == 3)
        #expect(latency["max"] as? Double == 40)
        #expect(latency["p99"] as? Double == 40)
        #expect(latency["window_s"] as? Double != nil)
    }

    @Test func anEventLargerThanTheByteLimitGoesAloneButNotBesideOthers() {
        #expect(DeliveryPath.hasByteRoom(inFlight: 0, adding: 10_000, limit: 100))
        #expect(!DeliveryPath.hasByteRoom(inFlight: 1, adding: 10_000, limit: 100))
        #expect(DeliveryPath.hasByteRoom(inFlight: 60, adding: 40, limit: 100))
        #expect(!DeliveryPath.hasByteRoom(inFlight: 61, adding: 40, limit: 100))
    }
}
