import PGOutput
import Testing
@testable import SwallowCore

@Suite struct AcknowledgementTrackerTests {
    /// Opens a unit with `events` events, closes it at `end` and returns the ids.
    private func transaction(_ tracker: inout AcknowledgementTracker, events: Int, end: UInt64) -> [UInt64] {
        tracker.openUnit()
        let ids = (0..<events).map { _ in tracker.registerEvent() }
        tracker.closeUnit(endLSN: LSN(end))
        return ids
    }

    @Test func confirmsATransactionOnlyWhenAllItsEventsAreAcknowledged() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(100))
        let ids = transaction(&tracker, events: 3, end: 200)
        tracker.acknowledge(ids[0])
        tracker.acknowledge(ids[2])
        #expect(tracker.confirmedLSN == LSN(100))
        #expect(tracker.inFlightEvents == 1)
        tracker.acknowledge(ids[1])
        #expect(tracker.confirmedLSN == LSN(200))
        #expect(tracker.isIdle)
    }

    @Test func anOpenTransactionIsNeverConfirmedEvenWhenItsEventsAreAcknowledged() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(100))
        tracker.openUnit()
        let id = tracker.registerEvent()
        tracker.acknowledge(id)
        #expect(tracker.confirmedLSN == LSN(100))
        tracker.closeUnit(endLSN: LSN(150))
        #expect(tracker.confirmedLSN == LSN(150))
    }

    @Test func outOfOrderAcknowledgementsAcrossTransactionsConfirmOnlyTheCompletePrefix() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(0))
        let first = transaction(&tracker, events: 2, end: 10)
        let second = transaction(&tracker, events: 1, end: 20)
        let third = transaction(&tracker, events: 2, end: 30)
        // Later transactions complete first: nothing moves while the first is incomplete.
        tracker.acknowledge(third[1])
        tracker.acknowledge(third[0])
        tracker.acknowledge(second[0])
        #expect(tracker.confirmedLSN == LSN(0))
        tracker.acknowledge(first[1])
        #expect(tracker.confirmedLSN == LSN(0))
        tracker.acknowledge(first[0])
        // The whole window completes at once.
        #expect(tracker.confirmedLSN == LSN(30))
        #expect(tracker.inFlightEvents == 0)
    }

    @Test func emptyTransactionsConfirmOnceEverythingBeforeThemIsDone() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(0))
        let first = transaction(&tracker, events: 1, end: 10)
        _ = transaction(&tracker, events: 0, end: 20)
        #expect(tracker.confirmedLSN == LSN(0))
        tracker.acknowledge(first[0])
        #expect(tracker.confirmedLSN == LSN(20))
    }

    @Test func aFailureInTheMiddleFreezesThePositionBeforeTheFailedTransaction() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(0))
        let first = transaction(&tracker, events: 1, end: 10)
        let second = transaction(&tracker, events: 2, end: 20)
        let third = transaction(&tracker, events: 1, end: 30)
        tracker.acknowledge(first[0])
        #expect(tracker.confirmedLSN == LSN(10))
        tracker.fail(second[1])
        tracker.acknowledge(second[0])
        tracker.acknowledge(third[0])
        #expect(tracker.failedEventID == second[1])
        #expect(tracker.confirmedLSN == LSN(10))
        // Later units completing, or the server's idle position, must not move it either.
        tracker.serverPositionReported(LSN(99))
        #expect(tracker.confirmedLSN == LSN(10))
        #expect(tracker.inFlightEvents == 0)
    }

    @Test func restartForgetsOutstandingUnitsAndIgnoresStaleReports() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(0))
        let before = transaction(&tracker, events: 2, end: 10)
        tracker.fail(before[0])
        tracker.restart()
        #expect(tracker.failedEventID == nil)
        #expect(tracker.isIdle)
        let after = transaction(&tracker, events: 1, end: 40)
        #expect(after[0] > before[1])          // ids never repeat across restarts
        tracker.acknowledge(before[1])         // a late report from the old stream changes nothing
        #expect(tracker.confirmedLSN == LSN(0))
        #expect(tracker.inFlightEvents == 1)
        tracker.acknowledge(after[0])
        #expect(tracker.confirmedLSN == LSN(40))
    }

    @Test func restartingFromAnEarlierPositionMovesTheConfirmedPositionBack() {
        // Confirmed from an idle keepalive on the old primary, past where the promoted server's timeline
        // began: the stream goes back to the slot's copy, and confirms from there.
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(10))
        tracker.serverPositionReported(LSN(500))
        #expect(tracker.confirmedLSN == LSN(500))
        let old = transaction(&tracker, events: 1, end: 600)
        tracker.restart(rewindingTo: LSN(300))
        #expect(tracker.confirmedLSN == LSN(300))
        #expect(tracker.isIdle)
        tracker.acknowledge(old[0])            // a late report from the old stream changes nothing
        #expect(tracker.confirmedLSN == LSN(300))
        let new = transaction(&tracker, events: 1, end: 400)
        tracker.acknowledge(new[0])
        #expect(tracker.confirmedLSN == LSN(400))
    }

    @Test func theServerPositionIsConfirmedOnlyWithNothingOutstanding() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(10))
        tracker.serverPositionReported(LSN(50))
        #expect(tracker.confirmedLSN == LSN(50))
        let ids = transaction(&tracker, events: 1, end: 60)
        tracker.serverPositionReported(LSN(70))
        #expect(tracker.confirmedLSN == LSN(50))
        tracker.acknowledge(ids[0])
        // Everything received before the server reported 70 is now acknowledged: 70 is confirmed without
        // waiting for another keepalive (the server sends none while our write position matches its own).
        #expect(tracker.confirmedLSN == LSN(70))
        tracker.serverPositionReported(LSN(55))   // never backwards
        #expect(tracker.confirmedLSN == LSN(70))
    }

    @Test func aPositionReportedMidTransactionWaitsForThatTransactionAndLaterOnes() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(10))
        tracker.openUnit()
        let first = tracker.registerEvent()
        tracker.serverPositionReported(LSN(100))   // a keepalive while the transaction streams
        #expect(tracker.confirmedLSN == LSN(10))
        tracker.closeUnit(endLSN: LSN(90))
        let later = transaction(&tracker, events: 1, end: 120)
        tracker.acknowledge(first)
        #expect(tracker.confirmedLSN == LSN(90))   // the later transaction is still outstanding
        tracker.acknowledge(later[0])
        #expect(tracker.confirmedLSN == LSN(120))  // past the deferred 100: nothing is outstanding
        #expect(tracker.isIdle)
    }

    @Test func aDeferredPositionIsDroppedByAFailureAndARestart() {
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(10))
        let ids = transaction(&tracker, events: 2, end: 20)
        tracker.serverPositionReported(LSN(50))
        tracker.fail(ids[0])
        tracker.acknowledge(ids[1])
        #expect(tracker.confirmedLSN == LSN(10))
        tracker.restart()
        let again = transaction(&tracker, events: 1, end: 20)
        tracker.acknowledge(again[0])
        #expect(tracker.confirmedLSN == LSN(20))   // not the 50 reported before the failure
    }

    @Test func manyTransactionsWithRandomAcknowledgementOrderEndFullyConfirmed() {
        var generator = SplitMix(seed: 7)
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(0))
        var pending: [(id: UInt64, end: UInt64)] = []
        for number in 1...5_000 {
            let ids = transaction(&tracker, events: Int(generator.next() % 4), end: UInt64(number) * 10)
            pending += ids.map { ($0, UInt64(number) * 10) }
        }
        pending.shuffle(using: &generator)
        var acknowledged = Set<UInt64>()
        for (index, event) in pending.enumerated() {
            tracker.acknowledge(event.id)
            acknowledged.insert(event.id)
            if index % 997 == 0 {
                // Invariant: every event of every transaction ending at or before the confirmed
                // position has been acknowledged.
                let confirmed = tracker.confirmedLSN.value
                #expect(pending.allSatisfy { $0.end > confirmed || acknowledged.contains($0.id) })
            }
        }
        #expect(tracker.confirmedLSN == LSN(50_000))
        #expect(tracker.isIdle)
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
