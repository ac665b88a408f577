import Testing
@testable import SwallowCore

@Suite struct ReadRateTests {
    @Test func rateAndTimeLeft() {
        let rate = ReadRate(rows: 500, seconds: 2)
        #expect(rate.rowsPerSecond == 250)
        #expect(rate.wholeRowsPerSecond == 250)
        #expect(rate.secondsLeft(estimatedRows: 1500) == 4)
        #expect(rate.secondsLeft(estimatedRows: 100) == 0, "past the estimate: nothing left, not negative")
        #expect(rate.secondsLeft(estimatedRows: -1) == nil, "no estimate (reltuples -1)")
        #expect(rate.secondsText == "2.0")
    }

    @Test func beforeAnyTimeHasPassed() {
        let rate = ReadRate(rows: 7, seconds: 0)
        #expect(rate.rowsPerSecond == 0)
        #expect(rate.wholeRowsPerSecond == 7)
        #expect(rate.secondsLeft(estimatedRows: 100) == nil)
    }

    @Test func elapsedTimeFromAnInstant() {
        let start = ContinuousClock.now
        let rate = ReadRate(rows: 30, since: start, now: start + .milliseconds(1500))
        #expect(rate.seconds == 1.5)
        #expect(rate.rowsPerSecond == 20)
        #expect(rate.secondsText == "1.5")
    }
}
