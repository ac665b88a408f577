import SwallowCore
import Testing

/// Whether Swallow can read from a standby as configured: what needs the primary, and what a standby
/// cannot do at all.
@Suite struct StandbyReadingTests {
    let standby = StandbyReading.Server(versionNumber: 180001, version: "18.1", inRecovery: true, hotStandbyFeedback: true)
    let nothingWrites = StandbyReading.Features(heartbeat: false, heartbeatActionQuery: false, signalTable: false,
                                                failoverSlot: false, primaryConfigured: false)

    @Test func aPrimaryHasNoProblem() {
        var primary = standby
        primary.inRecovery = false
        let everything = StandbyReading.Features(heartbeat: true, heartbeatActionQuery: true, signalTable: true,
                                                 failoverSlot: true, primaryConfigured: false)
        #expect(StandbyReading.problems(server: primary, features: everything).isEmpty)
    }

    @Test func aStandbyThatOnlyDecodesNeedsNothingElse() {
        #expect(StandbyReading.problems(server: standby, features: nothingWrites).isEmpty)
    }

    @Test func before16AStandbyCannotDecode() {
        let old = StandbyReading.Server(versionNumber: 150012, version: "15.12", inRecovery: true, hotStandbyFeedback: false)
        let problems = StandbyReading.problems(server: old, features: nothingWrites)
        #expect(problems.count == 1)
        #expect(problems.first?.setting == "postgres.host")
        #expect(problems.first?.found == "is a standby of PostgreSQL 15.12, and logical decoding on a standby needs PostgreSQL 16 or later")
    }

    @Test func writesWithoutAPrimaryAreEachNamed() {
        var features = nothingWrites
        features.heartbeat = true
        features.heartbeatActionQuery = true
        features.signalTable = true
        let problems = StandbyReading.problems(server: standby, features: features)
        #expect(problems.map(\.setting) == ["heartbeat.action_query", "snapshot.signal_table"])
        #expect(problems[0].found == "heartbeat.action_query and the heartbeat message (pg_logical_emit_message) write, which a standby refuses")
        #expect(problems[0].fix.hasPrefix("set postgres.primary"))
        features.heartbeatActionQuery = false
        #expect(StandbyReading.problems(server: standby, features: features).first?.setting == "heartbeat.interval_ms")
        // With a primary they are written there.
        features.primaryConfigured = true
        #expect(StandbyReading.problems(server: standby, features: features).isEmpty)
        let error = StandbyReading.error(server: standby, target: "swallow@db-2:5432/app",
                                         problems: StandbyReading.problems(server: standby, features: nothingWrites.with { $0.heartbeat = true }))
        #expect(error.code == .standbySource && !error.isRetriable)
        #expect(error.message.hasPrefix("postgres.host swallow@db-2:5432/app is a standby (PostgreSQL 18.1, in recovery), and Swallow cannot read from it as configured: heartbeat.interval_ms: heartbeats write"))
    }

    @Test func hotStandbyFeedbackAndFailoverSlotsAreNamed() {
        var server = standby
        server.hotStandbyFeedback = false
        let problems = StandbyReading.problems(server: server, features: nothingWrites.with { $0.failoverSlot = true })
        #expect(problems.map(\.setting) == ["hot_standby_feedback", "slot.failover"])
        #expect(problems[0].fix.hasPrefix("ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf()"))
    }

    @Test func thePrimaryMustBeThePrimaryOfThisStandby() {
        let features = nothingWrites.with { $0.heartbeat = true; $0.primaryConfigured = true }
        let standbyToo = StandbyReading.Primary(target: "swallow@db-3:5432/app", inRecovery: true, systemID: "1", standbySystemID: "1")
        #expect(StandbyReading.problems(server: standby, features: features, primary: standbyToo).map(\.found)
                == ["swallow@db-3:5432/app is in recovery too, and writes need the primary"])
        let other = StandbyReading.Primary(target: "swallow@db-9:5432/app", inRecovery: false, systemID: "7", standbySystemID: "1")
        #expect(StandbyReading.problems(server: standby, features: features, primary: other).first?.found.contains("is another cluster (system identifier 7, the standby's 1)") == true)
        let unknown = StandbyReading.Primary(target: "swallow@db-1:5432/app", inRecovery: false, systemID: nil, standbySystemID: "1")
        #expect(StandbyReading.problems(server: standby, features: features, primary: unknown).isEmpty)
    }
}

extension StandbyReading.Features {
    func with(_ change: (inout Self) -> Void) -> Self {
        var copy = self
        change(&copy)
        return copy
    }
}
