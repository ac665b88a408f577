import Foundation
import PGOutput
import SwallowConfig
import SwallowCore
import Testing

@Suite struct TimelineHistoryTests {
    @Test func readsTheAncestorsOfAHistoryFile() throws {
        // As PostgreSQL 18 writes it (`pg_wal/00000003.history`), with a comment and a blank line.
        let text = "# written by hand\n1\t0/3408A18\tno recovery target specified\n\n2\t0/5000000\tbefore 2026-01-01 00:00:00+00\n"
        let history = try TimelineHistory(timeline: 3, parsing: text)
        #expect(history.ancestors == [.init(timeline: 1, end: LSN(string: "0/3408A18")!),
                                      .init(timeline: 2, end: LSN(string: "0/5000000")!)])
        #expect(history.start == LSN(string: "0/5000000"))
        #expect(try TimelineHistory(timeline: 1, parsing: "").ancestors.isEmpty)
        #expect(try TimelineHistory(timeline: 1, parsing: "").start == nil)
        // A timeline may have skipped ones (abandoned branches): 4 descends from 1 and 3.
        #expect(try TimelineHistory(timeline: 4, parsing: "1 0/100 x\n3 0/200 y").ancestors.map(\.timeline) == [1, 3])
    }

    @Test(arguments: ["1", "x\t0/1\treason", "1\tnot-a-position\treason", "2\t0/1\tr", "3\t0/1\tr\n2\t0/2\tr", "1\t0/1\tr\n1\t0/2\tr"])
    func aLineThatIsNotAnAncestorInOrderIsAnError(_ text: String) {
        let error = #expect(throws: PipelineError.self) { try TimelineHistory(timeline: 2, parsing: text) }
        #expect(error?.code == .protocolViolation)
        #expect(error?.isRetriable == false)
    }
}

@Suite struct StreamLineageTests {
    @Test func positionsAreStoredInPostgreSQLsTextForm() throws {
        let lineage = StreamLineage(slot: "s", systemID: "7716611407146970389", database: "app", timeline: 2,
                                    timelineStart: LSN(string: "0/3408A18"), producedThrough: LSN(string: "16/B374D848")!)
        let json = String(decoding: try JSONEncoder().encode(lineage), as: UTF8.self)
        #expect(json.contains(#""produced_through":"16\/B374D848""#), "\(json)")
        #expect(json.contains(#""timeline_start":"0\/3408A18""#), "\(json)")
        #expect(try JSONDecoder().decode(StreamLineage.self, from: Data(json.utf8)) == lineage)
        let first = StreamLineage(slot: "s", systemID: "1", database: "app", timeline: 1, timelineStart: nil)
        #expect(try JSONDecoder().decode(StreamLineage.self, from: JSONEncoder().encode(first)) == first)
    }

    @Test func aPositionThatDoesNotParseIsAnError() {
        let json = #"{"version":1,"slot":"s","system_id":"1","database":"d","timeline":1,"produced_through":"16-B3","updated_at":"x"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(StreamLineage.self, from: Data(json.utf8)) }
    }
}

/// Every case of `SlotContinuity`: the lineage against the server and its slot.
@Suite struct SlotContinuityTests {
    static let system = "7716611407146970389"
    static let switchPoint = LSN(string: "0/5000000")!

    static func lineage(timeline: Int = 1, start: LSN? = nil, produced: String = "0/4000000",
                        system: String = system, database: String = "app") -> StreamLineage {
        StreamLineage(slot: "s", systemID: system, database: database, timeline: timeline, timelineStart: start,
                      producedThrough: LSN(string: produced)!)
    }

    /// Timeline 1, or timeline 2 promoted from 1 at `switchPoint`; `historyKnown: false`: a server that
    /// would not send its history.
    static func server(timeline: Int = 1, slot: String?, ancestors: [TimelineHistory.Ancestor]? = nil,
                       historyKnown: Bool = true) -> SlotContinuity.Server {
        let history = TimelineHistory(timeline: timeline,
                                      ancestors: ancestors ?? (timeline == 1 ? [] : [.init(timeline: 1, end: switchPoint)]))
        return .init(systemID: system, database: "app", timeline: timeline, history: historyKnown ? history : nil,
                     slotPosition: slot.map { LSN(string: $0)! })
    }

    static let promotion = SlotContinuity.Promotion(fromTimeline: 1, toTimeline: 2, switchPoint: switchPoint)

    @Test func nothingKnownIsAFirstUseWhateverTheServerHas() {
        #expect(SlotContinuity(lineage: nil, server: Self.server(slot: nil)) == .firstUse)
        #expect(SlotContinuity(lineage: nil, server: Self.server(timeline: 2, slot: "0/1")) == .firstUse)
        // A lineage of another cluster or database says nothing about this one.
        #expect(SlotContinuity(lineage: Self.lineage(system: "42"), server: Self.server(slot: nil)) == .firstUse)
        #expect(SlotContinuity(lineage: Self.lineage(database: "other"), server: Self.server(slot: nil)) == .firstUse)
    }

    @Test func theSameTimelineContinuesWithItsSlotAndHasLostAMissingOne() {
        #expect(SlotContinuity(lineage: Self.lineage(), server: Self.server(slot: "0/3000000")) == .continues(promotion: nil))
        // A slot ahead of the lineage on the same timeline is Swallow's own progress since the file was saved.
        #expect(SlotContinuity(lineage: Self.lineage(), server: Self.server(slot: "9/0")) == .continues(promotion: nil))
        #expect(SlotContinuity(lineage: Self.lineage(), server: Self.server(slot: nil)) == .lost(.dropped))
        // On a later timeline that the lineage already follows (Swallow streamed after the promotion).
        let after = Self.lineage(timeline: 2, start: Self.switchPoint, produced: "0/9000000")
        #expect(SlotContinuity(lineage: after, server: Self.server(timeline: 2, slot: "0/8000000")) == .continues(promotion: nil))
        #expect(SlotContinuity(lineage: after, server: Self.server(timeline: 2, slot: nil)) == .lost(.dropped))
    }

    @Test func aPromotedServerWithTheSynchronizedSlotContinues() {
        #expect(SlotContinuity(lineage: Self.lineage(), server: Self.server(timeline: 2, slot: "0/3800000"))
                == .continues(promotion: Self.promotion))
        // The copy may be exactly at the switch point (synchronized after the last change).
        #expect(SlotContinuity(lineage: Self.lineage(), server: Self.server(timeline: 2, slot: "0/5000000"))
                == .continues(promotion: Self.promotion))
        // Two promotions since (1 -> 2 -> 3): still a descendant, switched away from 1 at its end.
        let twice = Self.server(timeline: 3, slot: "0/3800000", ancestors: [.init(timeline: 1, end: Self.switchPoint),
                                                                               .init(timeline: 2, end: LSN(string: "0/7000000")!)])
        #expect(SlotContinuity(lineage: Self.lineage(), server: twice)
                == .continues(promotion: .init(fromTimeline: 1, toTimeline: 3, switchPoint: Self.switchPoint)))
        // Swallow last streamed on timeline 2 (begun at the switch point), the server is on 3.
        let fromTwo = Self.lineage(timeline: 2, start: Self.switchPoint, produced: "0/6000000")
        #expect(SlotContinuity(lineage: fromTwo, server: twice)
                == .continues(promotion: .init(fromTimeline: 2, toTimeline: 3, switchPoint: LSN(string: "0/7000000")!)))
    }

    @Test func aPromotedServerWithoutTheSlotHasLostIt() {
        #expect(SlotContinuity(lineage: Self.lineage(), server: Self.server(timeline: 2, slot: nil))
                == .lost(.notOnPromotedServer(Self.promotion)))
        // A slot of that name past the switch point was made on the promoted server: not Swallow's copy.
        #expect(SlotContinuity(lineage: Self.lineage(), server: Self.server(timeline: 2, slot: "0/5000001"))
                == .lost(.replacedAfterPromotion(Self.promotion, position: LSN(string: "0/5000001")!)))
    }

    @Test func changesProducedAtOrPastTheSwitchPointDivergeWhateverTheSlot() {
        for slot in [nil, "0/3000000"] as [String?] {
            #expect(SlotContinuity(lineage: Self.lineage(produced: "0/5000000"), server: Self.server(timeline: 2, slot: slot))
                    == .diverged(fromTimeline: 1, toTimeline: 2, switchPoint: Self.switchPoint, producedThrough: Self.switchPoint))
            #expect(SlotContinuity(lineage: Self.lineage(produced: "0/6000000"), server: Self.server(timeline: 2, slot: slot))
                    == .diverged(fromTimeline: 1, toTimeline: 2, switchPoint: Self.switchPoint, producedThrough: LSN(string: "0/6000000")!))
        }
        // Just below it: the commit record ends at or before the switch point, so the server has it.
        #expect(SlotContinuity(lineage: Self.lineage(produced: "0/4FFFFFF"), server: Self.server(timeline: 2, slot: "0/3000000"))
                == .continues(promotion: Self.promotion))
    }

    @Test func aServerThatDoesNotDescendFromTheTimelineDiverges() {
        let produced = LSN(string: "0/4000000")!
        // Swallow streamed from the promoted server (timeline 2); the old primary (timeline 1) came back.
        let onTwo = Self.lineage(timeline: 2, start: Self.switchPoint)
        #expect(SlotContinuity(lineage: onTwo, server: Self.server(timeline: 1, slot: "0/3000000"))
                == .diverged(fromTimeline: 2, toTimeline: 1, switchPoint: nil, producedThrough: produced))
        // Another standby promoted apart: timeline 2 too, begun elsewhere.
        let otherTwo = Self.server(timeline: 2, slot: "0/3000000", ancestors: [.init(timeline: 1, end: LSN(string: "0/4800000")!)])
        #expect(SlotContinuity(lineage: onTwo, server: otherTwo)
                == .diverged(fromTimeline: 2, toTimeline: 2, switchPoint: nil, producedThrough: produced))
        // Timeline 3 descends from a timeline 2 that began elsewhere than Swallow's.
        let otherBranch = Self.server(timeline: 3, slot: "0/3000000", ancestors: [.init(timeline: 1, end: LSN(string: "0/4800000")!),
                                                                                 .init(timeline: 2, end: LSN(string: "0/9000000")!)])
        #expect(SlotContinuity(lineage: onTwo, server: otherBranch)
                == .diverged(fromTimeline: 2, toTimeline: 3, switchPoint: nil, producedThrough: produced))
        // Timeline 3 whose history skips timeline 2.
        let skipping = Self.server(timeline: 3, slot: "0/3000000", ancestors: [.init(timeline: 1, end: Self.switchPoint)])
        #expect(SlotContinuity(lineage: onTwo, server: skipping)
                == .diverged(fromTimeline: 2, toTimeline: 3, switchPoint: nil, producedThrough: produced))
    }

    @Test func withoutTheHistoryOnlyTheTimelineNumbersAreCompared() {
        let unknown = SlotContinuity.Promotion(fromTimeline: 1, toTimeline: 2, switchPoint: nil)
        // Another timeline: a promotion, its switch point unknown, so neither divergence nor a replaced
        // slot can be told; a missing slot is still lost.
        #expect(SlotContinuity(lineage: Self.lineage(produced: "0/6000000"), server: Self.server(timeline: 2, slot: "0/7000000", historyKnown: false))
                == .continues(promotion: unknown))
        #expect(SlotContinuity(lineage: Self.lineage(), server: Self.server(timeline: 2, slot: nil, historyKnown: false))
                == .lost(.notOnPromotedServer(unknown)))
        // The same timeline: continues.
        let onTwo = Self.lineage(timeline: 2, start: Self.switchPoint)
        #expect(SlotContinuity(lineage: onTwo, server: Self.server(timeline: 2, slot: "0/3000000", historyKnown: false))
                == .continues(promotion: nil))
        // A lineage saved without the history (timeline 2, start unknown) is not told apart by its start.
        let startUnknown = Self.lineage(timeline: 2, start: nil)
        #expect(SlotContinuity(lineage: startUnknown, server: Self.server(timeline: 2, slot: "0/3000000")) == .continues(promotion: nil))
        // A position confirmed past the slot's goes back to it when the switch point is unknown.
        let slot = LSN(string: "0/4800000")!
        #expect(SlotContinuity.continues(promotion: unknown).streamStart(confirmed: LSN(string: "0/4900000")!, slotPosition: slot) == slot)
        #expect(SlotContinuity.continues(promotion: unknown).streamStart(confirmed: LSN(string: "0/4700000")!, slotPosition: slot)
                == LSN(string: "0/4700000")!)
    }

    @Test func onlyALostSlotUnderWhenNeededIsSnapshottedAgain() {
        let lost = SlotContinuity.lost(.notOnPromotedServer(Self.promotion))
        let diverged = SlotContinuity.diverged(fromTimeline: 1, toTimeline: 2, switchPoint: Self.switchPoint, producedThrough: Self.switchPoint)
        for mode in SwallowConfiguration.Snapshot.Mode.allCases {
            #expect(SlotContinuity.firstUse.response(snapshotMode: mode) == .proceed)
            #expect(SlotContinuity.continues(promotion: Self.promotion).response(snapshotMode: mode) == .proceed)
            #expect(lost.response(snapshotMode: mode) == (mode == .whenNeeded ? .snapshotAgain : .stop))
            #expect(diverged.response(snapshotMode: mode) == .stop)
        }
    }

    @Test func aPositionConfirmedPastTheSwitchPointIsNotAskedOfThePromotedServer() {
        let promoted = SlotContinuity.continues(promotion: Self.promotion)
        let slot = LSN(string: "0/4800000")!
        #expect(promoted.streamStart(confirmed: LSN(string: "0/5000100")!, slotPosition: slot) == slot)
        #expect(promoted.streamStart(confirmed: LSN(string: "0/4900000")!, slotPosition: slot) == LSN(string: "0/4900000")!)
        #expect(promoted.streamStart(confirmed: Self.switchPoint, slotPosition: slot) == Self.switchPoint)
        #expect(SlotContinuity.continues(promotion: nil).streamStart(confirmed: LSN(string: "0/9000000")!, slotPosition: slot)
                == LSN(string: "0/9000000")!)
        #expect(SlotContinuity.firstUse.streamStart(confirmed: slot, slotPosition: slot) == slot)
    }

    @Test func theErrorsNameTheCauseAndTheFix() throws {
        func failure(_ verdict: SlotContinuity) throws -> PipelineError {
            try #require(verdict.failure(slot: "shop", server: "10.0.0.2:5432", stateFile: "/var/lib/swallow/stream-shop.json"))
        }
        #expect(SlotContinuity.firstUse.failure(slot: "shop", server: "h", stateFile: "f") == nil)
        #expect(SlotContinuity.continues(promotion: Self.promotion).failure(slot: "shop", server: "h", stateFile: "f") == nil)

        let missing = try failure(.lost(.notOnPromotedServer(Self.promotion)))
        #expect(missing.code == .slotLost && !missing.isRetriable)
        for part in [#"replication slot "shop" is missing on the promoted server 10.0.0.2:5432"#, "timeline 2", "left timeline 1 at 0/5000000",
                     "not synchronized", "PostgreSQL 17", "slot.failover: true", "sync_replication_slots = on", "hot_standby_feedback = on",
                     "snapshot.mode: when_needed", "swallow slot drop --yes", "/var/lib/swallow/stream-shop.json"] {
            #expect(missing.message.contains(part), "\(part): \(missing.message)")
        }
        let dropped = try failure(.lost(.dropped))
        #expect(dropped.message.contains(#"replication slot "shop" is missing on 10.0.0.2:5432, although Swallow streamed from it"#), "\(dropped.message)")
        #expect(dropped.message.contains("swallow slot drop --yes"))
        let replaced = try failure(.lost(.replacedAfterPromotion(Self.promotion, position: LSN(string: "0/6000000")!)))
        #expect(replaced.message.contains("is at 0/6000000, past the point 0/5000000"), "\(replaced.message)")
        #expect(replaced.message.contains("created there after the promotion"))

        let diverged = try failure(.diverged(fromTimeline: 1, toTimeline: 2, switchPoint: Self.switchPoint, producedThrough: LSN(string: "0/6000000")!))
        #expect(diverged.code == .historyDiverged && !diverged.isRetriable)
        for part in ["Kafka holds changes the server 10.0.0.2:5432 does not have", "up to 0/6000000 on timeline 1", "left timeline 1 at 0/5000000",
                     "synchronized_standby_slots", "re-create the topics", "swallow slot drop --yes"] {
            #expect(diverged.message.contains(part), "\(part): \(diverged.message)")
        }
        let unrelated = try failure(.diverged(fromTimeline: 2, toTimeline: 1, switchPoint: nil, producedThrough: Self.switchPoint))
        #expect(unrelated.message.contains("does not contain timeline 2"), "\(unrelated.message)")
    }
}
