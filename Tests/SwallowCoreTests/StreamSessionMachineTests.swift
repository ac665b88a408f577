import PGOutput
import SwallowConfig
import Testing
@testable import SwallowCore

/// The stream session's decisions, frame by frame and tick by tick, with no connection or producer.
/// (Bad input a server cannot be made to send is `StreamStopTests`, driven through the same machine.)
@Suite struct StreamSessionMachineTests {
    typealias W = StreamStopTests
    static let start = ContinuousClock.now
    static let ordersID = StreamStopTests.ordersID

    static func machine(signalTable: QualifiedTableName? = nil, heartbeat: HeartbeatMessages? = nil,
                        statusMillis: Int = 10_000, confirmMillis: Int = 200, flushMillis: Int = 2_000) -> StreamSessionMachine {
        var captured = [QualifiedTableName(schema: "public", table: "orders")]
        if let signalTable { captured.append(signalTable) }
        let translator = StreamTranslator(topicPrefix: "app", database: "shop", capturedTables: captured,
                                          connectorVersion: "test", options: .init(),
                                          heartbeat: heartbeat ?? HeartbeatMessages(slotName: "s1", records: nil))
        return StreamSessionMachine(translator: translator, signalTable: signalTable, statusIntervalMilliseconds: statusMillis,
                                    confirmIntervalMilliseconds: confirmMillis, flushTimeoutMilliseconds: flushMillis, statusRefreshInterval: .seconds(1), now: start)
    }

    static func receive(_ frame: [UInt8], _ machine: inout StreamSessionMachine) throws -> [StreamSessionMachine.Action] {
        var actions: [StreamSessionMachine.Action] = []
        try machine.receive(frame[...], arrivalMillis: 1_700_000_000_000, into: &actions)
        return actions
    }

    /// A non-transactional logical decoding message: 'M', flags, LSN, prefix, length, content.
    static func message(_ lsn: UInt64, prefix: String, content: String, transactional: Bool = false) -> [UInt8] {
        var w = StreamStopTests.Bytes()
        w.ascii("M"); w.u8(transactional ? 1 : 0); w.u64(lsn); w.cString(prefix)
        w.u32(UInt32(content.utf8.count)); w.bytes += Array(content.utf8)
        return W.xLogData(lsn, w.bytes)
    }

    @Test func aKeepaliveReportsTheServerPositionAndAsksForStatusWhenRequested() throws {
        var machine = Self.machine()
        var w = StreamStopTests.Bytes()
        w.ascii("k"); w.u64(0x5000); w.u64(0); w.u8(1)
        #expect(try Self.receive(w.bytes, &machine) == [.reportServerPosition(LSN(0x5000)), .sendStatus])
        #expect(try Self.receive(W.keepalive(0x6000), &machine) == [.reportServerPosition(LSN(0x6000))])
        #expect(machine.receivedLSN == LSN(0x6000) && machine.serverLSN == LSN(0x6000))
    }

    @Test func anUnaskedStreamAbortIsPassedOverWithWhereItWasForTheLog() throws {
        var machine = Self.machine()
        let actions = try Self.receive(W.xLogData(0x2F00, W.streamAbort(xid: 690, subtransaction: 691)), &machine)
        guard case .ignored(let reason, let source) = actions.first, actions.count == 1 else {
            Issue.record("expected the abort to be passed over, got \(actions)")
            return
        }
        #expect(source == LSN(0x2F00))
        #expect(reason.contains("Stream Abort of transaction 690 (subtransaction 691)"))
        #expect(machine.receivedLSN == LSN(0x2F00))
        #expect(!machine.translator.isInTransaction)
    }

    @Test func aCapturedRelationWaitsForItsCatalogBeforeAnythingIsTranslated() throws {
        var machine = Self.machine()
        let actions = try Self.receive(W.xLogData(0x2000, W.relation()), &machine)
        guard case .describe(let relation) = actions.first, actions.count == 1 else {
            Issue.record("expected a catalog request, got \(actions)")
            return
        }
        #expect(relation.relationID == Self.ordersID)
        try machine.describe(relation, catalog: RelationCatalog())
        let units = try [W.xLogData(0x2000, W.begin(final: 0x2040, xid: 7)), W.xLogData(0x2010, W.insert("1", "a")),
                         W.xLogData(0x2040, W.commit(0x2040, end: 0x2048))].flatMap { try Self.receive($0, &machine) }
        #expect(units.count == 3)
        guard case .openUnit(let commitTime) = units[0], case .produce(let record, let source) = units[1] else {
            Issue.record("unexpected \(units)")
            return
        }
        #expect(commitTime == PostgresTime.unixMicros(fromPostgresMicros: 0))
        #expect(record.topic == "app.public.orders" && source == LSN(0x2010))
        #expect(units[2] == .closeUnit(LSN(0x2048)))
    }

    @Test func anUncapturedRelationNeedsNoCatalog() throws {
        var machine = Self.machine()
        var w = StreamStopTests.Bytes()
        w.ascii("R"); w.u32(99); w.cString("public"); w.cString("elsewhere"); w.ascii("d"); w.u16(1)
        w.u8(1); w.cString("id"); w.u32(23); w.u32(UInt32(bitPattern: -1))
        #expect(try Self.receive(W.xLogData(0x2000, w.bytes), &machine).isEmpty)
    }

    @Test func heartbeatsAreUnitsOfTheirOwnWithThisSlotsRecordOnly() throws {
        let records = HeartbeatRecords(topicPrefix: "app", encoder: .init())
        var machine = Self.machine(heartbeat: HeartbeatMessages(slotName: "s1", records: records))
        let own = try Self.receive(Self.message(0x3000, prefix: HeartbeatMessages.prefix, content: "s1"), &machine)
        #expect(own.count == 3)
        guard case .produce(let record, _) = own[1] else {
            Issue.record("expected the heartbeat record, got \(own)")
            return
        }
        #expect(own[0] == .openUnit(commitTimeMicros: nil) && own[2] == .closeUnit(LSN(0x3000)))
        #expect(record.topic == "__debezium-heartbeat.app" && record.kind == .heartbeat)
        // Another instance's heartbeat is confirmed, not published.
        #expect(try Self.receive(Self.message(0x3100, prefix: HeartbeatMessages.prefix, content: "other"), &machine)
                == [.openUnit(commitTimeMicros: nil), .closeUnit(LSN(0x3100))])
        // Never a logical-message event, even with the prefix published.
        var plain = Self.machine()
        #expect(try Self.receive(Self.message(0x3200, prefix: HeartbeatMessages.prefix, content: "s1"), &plain)
                == [.openUnit(commitTimeMicros: nil), .closeUnit(LSN(0x3200))])
    }

    @Test func signalTableRowsGoToTheSnapshotterNotToKafka() throws {
        let signals = QualifiedTableName(schema: "public", table: "signals")
        var machine = Self.machine(signalTable: signals)
        var w = StreamStopTests.Bytes()
        w.ascii("R"); w.u32(500); w.cString("public"); w.cString("signals"); w.ascii("d"); w.u16(1)
        w.u8(1); w.cString("id"); w.u32(25); w.u32(UInt32(bitPattern: -1))
        let relation = try Self.receive(W.xLogData(0x2000, w.bytes), &machine)
        #expect(relation.count == 2)
        if case .describe(let described) = relation[1] { try machine.describe(described, catalog: RelationCatalog()) }
        _ = try Self.receive(W.xLogData(0x2000, W.begin(final: 0x2040, xid: 7)), &machine)
        var insert = StreamStopTests.Bytes()
        insert.ascii("I"); insert.u32(500); insert.ascii("N"); insert.u16(1)
        insert.ascii("t"); insert.u32(2); insert.bytes += Array("x1".utf8)
        let actions = try Self.receive(W.xLogData(0x2010, insert.bytes), &machine)
        guard actions.count == 1, case .signal(let row, let source, let position) = actions[0] else {
            Issue.record("expected a signal, got \(actions)")
            return
        }
        #expect(row.relationID == 500 && source == LSN(0x2010))
        // An incremental snapshot's rows emitted at this watermark take its stream position.
        #expect(position == RecordPosition(commitLSN: LSN(0x2040), changeLSN: LSN(0x2010)))
        let commit = try Self.receive(W.xLogData(0x2040, W.commit(0x2040, end: 0x2048)), &machine)
        #expect(commit == [.closeUnit(LSN(0x2048)), .transactionCommitted(LSN(0x2048))])
    }

    @Test func aStopMidTransactionReadsOnToTheCommitWithinTheFlushTimeout() throws {
        var machine = Self.machine(flushMillis: 2_000)
        #expect(machine.stopDecision(stopRequested: false, deliveryFailed: false, now: Self.start) == .carryOn)
        for frame in W.goodStart() {
            for case .describe(let relation) in try Self.receive(frame, &machine) {
                try machine.describe(relation, catalog: RelationCatalog())
            }
        }
        #expect(machine.translator.isInTransaction)
        #expect(machine.stopDecision(stopRequested: true, deliveryFailed: false, now: Self.start) == .finishTransaction)
        #expect(machine.stopDecision(stopRequested: true, deliveryFailed: false, now: Self.start + .milliseconds(1500))
                == .finishTransaction)
        // The deadline passed: stop, with nothing left of the budget.
        #expect(machine.stopDecision(stopRequested: true, deliveryFailed: false, now: Self.start + .milliseconds(2500))
                == .stop(flushBudgetMilliseconds: 0))
    }

    @Test func aStopAfterAFailedDeliveryOrBetweenTransactionsIsImmediate() throws {
        var machine = Self.machine(flushMillis: 2_000)
        #expect(machine.stopDecision(stopRequested: true, deliveryFailed: false, now: Self.start)
                == .stop(flushBudgetMilliseconds: 2_000))
        for frame in W.goodStart() {
            for case .describe(let relation) in try Self.receive(frame, &machine) {
                try machine.describe(relation, catalog: RelationCatalog())
            }
        }
        #expect(machine.stopDecision(stopRequested: true, deliveryFailed: true, now: Self.start)
                == .stop(flushBudgetMilliseconds: 2_000))
    }

    @Test func aMovedConfirmedPositionGoesOutWithinTheConfirmInterval() {
        var machine = Self.machine(statusMillis: 10_000, confirmMillis: 200)
        var confirmed = LSN(0x1000)
        var reads = 0
        func due(_ millis: Int) -> Bool {
            machine.statusUpdateDue(at: Self.start + .milliseconds(millis), waiting: false,
                                    confirmed: { reads += 1; return confirmed })
        }
        // Nothing confirmed yet: the first look sends the starting position once.
        #expect(!due(199))
        #expect(due(200))
        machine.statusSent(at: Self.start + .milliseconds(200), confirmed: confirmed)
        // Unmoved: no update, and the position is read once per interval, not per frame.
        #expect(!due(400))
        #expect(!due(450))
        #expect(!due(599))
        #expect(reads == 2)
        confirmed = LSN(0x2000)
        #expect(due(600))
        machine.statusSent(at: Self.start + .milliseconds(600), confirmed: confirmed)
        confirmed = LSN(0x3000)
        #expect(!due(799))
        #expect(due(800))
        #expect(reads == 4)
    }

    @Test func statusUpdatesFollowTheIntervalAndAtMostFiveSecondsWhileWaiting() {
        var machine = Self.machine(statusMillis: 10_000)
        let confirmed = LSN(0x1000)
        machine.statusSent(at: Self.start, confirmed: confirmed)
        func due(_ seconds: Int, waiting: Bool) -> Bool {
            machine.statusUpdateDue(at: Self.start + .seconds(seconds), waiting: waiting, confirmed: { confirmed })
        }
        #expect(!due(4, waiting: true))
        #expect(due(5, waiting: true))
        #expect(!due(9, waiting: false))
        #expect(due(10, waiting: false))
        machine.statusSent(at: Self.start + .seconds(10), confirmed: confirmed)
        #expect(!due(14, waiting: true))
        let refreshes = [Self.start, Self.start + .milliseconds(999), Self.start + .seconds(1)].map {
            machine.statusRefreshDue(at: $0)
        }
        #expect(refreshes == [true, false, true])
    }
}

@Suite struct DeliveryLedgerTests {
    @Test func reportsReachTheirOwnerByID() {
        var ledger = DeliveryLedger(confirmedLSN: LSN(0x100))
        ledger.snapshot = SnapshotProgress(chunkCount: 1)
        ledger.stream.openUnit()
        let event = DeliveryID.streamEvent(ledger.stream.registerEvent())
        ledger.stream.closeUnit(endLSN: LSN(0x200))
        let record = DeliveryID(rawValue: ledger.snapshot!.register(chunk: 0))
        ledger.snapshot!.close(chunk: 0)
        #expect(ledger.inFlightEvents == 2)
        guard case .snapshotRecord = record else {
            Issue.record("a snapshot id must route to the snapshot")
            return
        }
        ledger.settle(record, delivered: true)
        #expect(ledger.snapshot!.isComplete && ledger.stream.confirmedLSN == LSN(0x100))
        ledger.settle(DeliveryID(rawValue: event.rawValue), delivered: true)
        #expect(ledger.stream.confirmedLSN == LSN(0x200) && ledger.inFlightEvents == 0)
    }

    @Test func aFailureFreezesOnlyItsOwner() {
        var ledger = DeliveryLedger(confirmedLSN: LSN(0x100))
        ledger.snapshot = SnapshotProgress(chunkCount: 1)
        let record = DeliveryID(rawValue: ledger.snapshot!.register(chunk: 0))
        ledger.settle(record, delivered: false)
        #expect(ledger.snapshot!.failed && ledger.stream.failedEventID == nil)
        // A report for a snapshot attempt given up changes nothing.
        ledger.snapshot = nil
        ledger.settle(record, delivered: true)
        #expect(ledger.inFlightEvents == 0)
    }

    @Test func idsRoundTripThroughTheProducer() {
        for raw in [UInt64(1), 42, UInt64(Int64.max)] {
            #expect(DeliveryID(rawValue: raw) == .streamEvent(raw))
        }
        let snapshotID = (UInt64(1) << 63) | (3 << 32) | 9
        #expect(DeliveryID(rawValue: snapshotID) == .snapshotRecord(snapshotID))
        #expect(DeliveryID(rawValue: snapshotID).rawValue == snapshotID)
    }
}

@Suite struct RetryDecisionTests {
    static func error(_ code: PipelineError.Code, retriable: Bool) -> PipelineError {
        PipelineError(code: code, message: "m", isRetriable: retriable)
    }

    @Test(arguments: [PipelineError.Code.postgres, .deliveryFailed, .kafka, .snapshot])
    func retriableFailuresRetry(_ code: PipelineError.Code) {
        #expect(RetryDecision(after: Self.error(code, retriable: true), stopRequested: false, snapshotMode: .initial) == .retry)
    }

    @Test(arguments: [PipelineError.Code.configuration, .decoding, .eventEncoding, .producerFatal, .oversizedEvent,
                      .protocolViolation, .state, .publicationLost, .slotLost, .postgres, .deliveryFailed])
    func nonRetriableFailuresStopTheService(_ code: PipelineError.Code) {
        #expect(RetryDecision(after: Self.error(code, retriable: false), stopRequested: false, snapshotMode: .initial) == .fail)
    }

    @Test func aLostSlotSnapshotsAgainOnlyWhenNeeded() {
        let lost = Self.error(.slotLost, retriable: false)
        #expect(RetryDecision(after: lost, stopRequested: false, snapshotMode: .whenNeeded) == .snapshotAgain)
        #expect(RetryDecision(after: lost, stopRequested: false, snapshotMode: .always) == .fail)
        #expect(RetryDecision(after: lost, stopRequested: true, snapshotMode: .whenNeeded) == .snapshotAgain)
    }

    @Test func aRetriableFailureDuringAStopEndsQuietlyButAFatalOneStillFails() {
        #expect(RetryDecision(after: Self.error(.postgres, retriable: true), stopRequested: true, snapshotMode: .initial) == .stop)
        #expect(RetryDecision(after: Self.error(.decoding, retriable: false), stopRequested: true, snapshotMode: .initial) == .fail)
    }
}
