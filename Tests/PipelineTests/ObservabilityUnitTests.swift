import Foundation
import Logging
import PGOutput
import Testing
@testable import Pipeline

@Suite struct PipelineStatusTests {
    @Test func readyOnlyWhileStreamingOrSnapshottingWithTheReasonOtherwise() {
        var status = PipelineStatus(slot: "s")
        #expect(status.readiness.isReady == false)
        #expect(status.readiness.reason.contains("starting"))
        status.state = .snapshotting
        #expect(status.readiness.isReady)
        status.state = .streaming
        #expect(status.readiness == (true, "streaming from slot s"))
        status.state = .reconnecting
        status.lastError = "could not connect: Connection refused"
        #expect(status.readiness == (false, "reconnecting after: could not connect: Connection refused"))
        status.state = .failed
        #expect(status.readiness.isReady == false)
    }

    @Test func lagIsTheServerPositionMinusTheConfirmedOneAndNeverNegative() {
        var status = PipelineStatus(slot: "s")
        status.serverLSN = LSN(5000)
        #expect(status.lagBytes == 0)   // nothing confirmed yet: unknown, not 5000
        status.confirmedLSN = LSN(1000)
        #expect(status.lagBytes == 4000)
        status.confirmedLSN = LSN(6000)
        #expect(status.lagBytes == 0)
    }

    @Test func theStatusDocumentHasPositionsAsLSNTextAndSnapshotProgress() throws {
        var status = PipelineStatus(slot: "s", state: .snapshotting, since: Date(timeIntervalSince1970: 0))
        status.confirmedLSN = LSN(0x1_0000_0010)
        status.serverLSN = LSN(0x1_0000_0020)
        status.snapshot = .init(chunksDone: 1, chunkCount: 3, tables: [
            .init(name: "public.t", rowsRead: 10, estimatedRows: 30, rowsPerSecond: 5, etaSeconds: 4, isDone: false),
        ])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.json())) as? [String: Any])
        #expect(object["state"] as? String == "snapshotting")
        #expect(object["state_since"] as? String == "1970-01-01T00:00:00.000Z")
        #expect(object["confirmed_lsn"] as? String == "1/10")
        #expect(object["received_lsn"] is NSNull)
        #expect(object["lag_bytes"] as? Int == 16)
        let snapshot = try #require(object["snapshot"] as? [String: Any])
        #expect(snapshot["chunks_done"] as? Int == 1)
        let table = try #require((snapshot["tables"] as? [[String: Any]])?.first)
        #expect(table["table"] as? String == "public.t")
        #expect(table["estimated_rows"] as? Int == 30)
        #expect(table["eta_seconds"] as? Double == 4)
    }
}

@Suite struct CommitTimeTrackingTests {
    @Test func transactionsWithEventsReportTheirCommitTimesOnceFullyAcknowledged() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(10))
        tracker.openUnit(commitTimeMicros: 111)
        let first = tracker.registerEvent()
        tracker.closeUnit(endLSN: LSN(20))
        tracker.openUnit(commitTimeMicros: 222)   // an empty transaction: nothing to time
        tracker.closeUnit(endLSN: LSN(30))
        tracker.openUnit(commitTimeMicros: 333)
        let third = tracker.registerEvent()
        tracker.closeUnit(endLSN: LSN(40))
        tracker.acknowledge(third)
        var times: [Int64] = []
        tracker.takeCompletedCommitTimes(into: &times)
        #expect(times.isEmpty)   // the first unit still waits
        tracker.acknowledge(first)
        tracker.takeCompletedCommitTimes(into: &times)
        #expect(times == [111, 333])
        #expect(tracker.confirmedLSN == LSN(40))
        tracker.takeCompletedCommitTimes(into: &times)
        #expect(times == [111, 333])
    }

    @Test func theCollectedCommitTimesAreBounded() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(1))
        for index in 0..<(AcknowledgementTracker.maxCompletedCommitTimes + 10) {
            tracker.openUnit(commitTimeMicros: Int64(index))
            tracker.acknowledge(tracker.registerEvent())
            tracker.closeUnit(endLSN: LSN(UInt64(index + 2)))
        }
        #expect(tracker.completedCommitTimes.count == AcknowledgementTracker.maxCompletedCommitTimes)
    }
}
