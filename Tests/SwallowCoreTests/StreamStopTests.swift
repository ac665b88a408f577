import Foundation
import PGOutput
import SwallowConfig
import Testing
@testable import SwallowCore

/// Bad input a real server cannot be made to send — truncated or corrupt frames and pgoutput bodies,
/// unknown message types, values that do not parse, an unknown column type — driven through what the
/// stream session does with each CopyData frame: decode the frame, decode the pgoutput body, translate,
/// and apply the actions to the acknowledgement tracker (every produced record acknowledged at once, as
/// if the broker were instant). Each must end in a non-retriable error naming the message or the column
/// and the cause, with the slot's confirmable position still at the end of the last good transaction.
/// (The real-server counterpart, an unmapped column type, is `BadInputTests` in IntegrationTests.)
@Suite struct StreamStopTests {
    static let ordersID: UInt32 = 16_384
    static let goodEnd = LSN(0x2048)

    /// The stream session's machine, fed frame by frame, its actions applied to an acknowledgement
    /// tracker (every produced record acknowledged at once, as if the broker were instant) and its catalog
    /// requests answered with an empty catalog.
    struct Session {
        var machine = StreamSessionMachine(
            translator: StreamTranslator(topicPrefix: "app", database: "shop",
                                         capturedTables: [QualifiedTableName(schema: "public", table: "orders")],
                                         connectorVersion: "test", options: .init()),
            signalTable: nil, statusIntervalMilliseconds: 1000, confirmIntervalMilliseconds: 200, flushTimeoutMilliseconds: 1000,
            statusRefreshInterval: .seconds(1), now: .now)
        var tracker = AcknowledgementTracker(confirmedLSN: LSN(0x1000))
        var produced = 0

        mutating func handle(_ frame: [UInt8]) throws(PipelineError) {
            var actions: [StreamSessionMachine.Action] = []
            try machine.receive(frame[...], arrivalMillis: 0, into: &actions)
            for action in actions {
                switch action {
                case .reportServerPosition(let position): tracker.serverPositionReported(position)
                case .describe(let relation): try machine.describe(relation, catalog: RelationCatalog())
                case .openUnit: tracker.openUnit()
                case .produce:
                    tracker.acknowledge(tracker.registerEvent())
                    produced += 1
                case .closeUnit(let end): tracker.closeUnit(endLSN: end)
                case .sendStatus, .signal, .observe, .transactionCommitted, .ignored, .skipped: break
                }
            }
        }
    }

    // MARK: Wire encoding (big-endian, as the server sends it)

    struct Bytes {
        var bytes: [UInt8] = []
        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xFF)] }
        mutating func u32(_ v: UInt32) { for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8((v >> UInt32(shift)) & 0xFF)) } }
        mutating func u64(_ v: UInt64) { for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8((v >> UInt64(shift)) & 0xFF)) } }
        mutating func cString(_ s: String) { bytes += Array(s.utf8) + [0] }
        mutating func ascii(_ c: Character) { bytes.append(c.asciiValue!) }
    }

    static func xLogData(_ lsn: UInt64, _ body: [UInt8]) -> [UInt8] {
        var w = Bytes()
        w.ascii("w"); w.u64(lsn); w.u64(lsn); w.u64(0)
        return w.bytes + body
    }

    static func keepalive(_ walEnd: UInt64) -> [UInt8] {
        var w = Bytes()
        w.ascii("k"); w.u64(walEnd); w.u64(0); w.u8(0)
        return w.bytes
    }

    static func begin(final: UInt64, xid: UInt32) -> [UInt8] {
        var w = Bytes()
        w.ascii("B"); w.u64(final); w.u64(0); w.u32(xid)
        return w.bytes
    }

    static func commit(_ lsn: UInt64, end: UInt64) -> [UInt8] {
        var w = Bytes()
        w.ascii("C"); w.u8(0); w.u64(lsn); w.u64(end); w.u64(0)
        return w.bytes
    }

    /// Stream Abort in its protocol-1 form: 'A', xid, subtransaction xid.
    static func streamAbort(xid: UInt32, subtransaction: UInt32) -> [UInt8] {
        var w = Bytes()
        w.ascii("A"); w.u32(xid); w.u32(subtransaction)
        return w.bytes
    }

    /// `orders (id int4 key, <column> <type>)`.
    static func relation(_ column: String = "note", type: UInt32 = 25) -> [UInt8] {
        var w = Bytes()
        w.ascii("R"); w.u32(ordersID); w.cString("public"); w.cString("orders"); w.ascii("d"); w.u16(2)
        w.u8(1); w.cString("id"); w.u32(23); w.u32(UInt32(bitPattern: -1))
        w.u8(0); w.cString(column); w.u32(type); w.u32(UInt32(bitPattern: -1))
        return w.bytes
    }

    static func insert(_ id: String, _ value: String) -> [UInt8] {
        var w = Bytes()
        w.ascii("I"); w.u32(ordersID); w.ascii("N"); w.u16(2)
        for text in [id, value] {
            w.ascii("t"); w.u32(UInt32(text.utf8.count)); w.bytes += Array(text.utf8)
        }
        return w.bytes
    }

    /// A good transaction (confirmable up to `goodEnd`), then the start of a second one.
    static func goodStart(relation: [UInt8] = relation()) -> [[UInt8]] {
        [xLogData(0x2000, begin(final: 0x2040, xid: 700)), xLogData(0x2000, relation), xLogData(0x2010, insert("1", "ok")),
         xLogData(0x2040, commit(0x2040, end: goodEnd.value)), keepalive(goodEnd.value),
         xLogData(0x3000, begin(final: 0x3040, xid: 701))]
    }

    /// Runs the frames; returns the error and the session at that point.
    static func stop(_ frames: [[UInt8]]) throws -> (PipelineError, Session) {
        var session = Session()
        for frame in frames {
            do throws(PipelineError) {
                try session.handle(frame)
            } catch {
                return (error, session)
            }
        }
        throw TestFailure("the frames were all accepted")
    }

    struct TestFailure: Error { let description: String; init(_ d: String) { description = d } }

    private func expectStop(_ frames: [[UInt8]], code: PipelineError.Code, naming parts: [String], notQuoting secret: String? = nil,
                            sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (error, session) = try Self.stop(frames)
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(!error.isRetriable, sourceLocation: sourceLocation)
        for part in parts {
            #expect(error.message.contains(part), "missing \(part) in: \(error.message)", sourceLocation: sourceLocation)
        }
        if let secret { #expect(!error.message.contains(secret), "quotes the value: \(error.message)", sourceLocation: sourceLocation) }
        // Everything produced was acknowledged, yet the position stays at the last good transaction.
        #expect(session.produced >= 1, sourceLocation: sourceLocation)
        #expect(session.tracker.inFlightEvents == 0, sourceLocation: sourceLocation)
        #expect(session.tracker.confirmedLSN == Self.goodEnd, sourceLocation: sourceLocation)
    }

    @Test func theGoodStreamIsAcceptedAndConfirmedToItsLastCommit() throws {
        var session = Session()
        for frame in Self.goodStart() { try session.handle(frame) }
        try session.handle(Self.xLogData(0x3010, Self.insert("2", "fine")))
        try session.handle(Self.xLogData(0x3040, Self.commit(0x3040, end: 0x3048)))
        #expect(session.produced == 2)
        #expect(session.tracker.confirmedLSN == LSN(0x3048))
    }

    @Test func aTruncatedPgoutputBodyStops() throws {
        let cut = Array(Self.insert("2", "fine").dropLast(3))
        try expectStop(Self.goodStart() + [Self.xLogData(0x3010, cut)], code: .decoding,
                       naming: ["pgoutput Insert ('I') message truncated", "stops rather than skip data"])
    }

    @Test func aCorruptPgoutputBodyStops() throws {
        var corrupt = Self.insert("2", "fine")
        corrupt[5] = UInt8(ascii: "Q")   // neither 'N' nor 'K'/'O' before the tuple
        try expectStop(Self.goodStart() + [Self.xLogData(0x3010, corrupt)], code: .decoding,
                       naming: ["pgoutput Insert ('I') message"])
        try expectStop(Self.goodStart() + [Self.xLogData(0x3010, Self.insert("2", "fine") + [0])], code: .decoding,
                       naming: ["trailing bytes"])
    }

    @Test func anUnknownPgoutputMessageTypeStops() throws {
        try expectStop(Self.goodStart() + [Self.xLogData(0x3010, [UInt8(ascii: "Z"), 0, 0, 0, 1])], code: .decoding,
                       naming: ["unknown message type 'Z'"])
        // Protocol 2's streamed-transaction messages are not accepted either.
        try expectStop(Self.goodStart() + [Self.xLogData(0x3010, [UInt8(ascii: "S"), 0, 0, 0, 1, 0])], code: .decoding,
                       naming: ["unknown message type 'S'"])
    }

    // PostgreSQL 18 has been seen sending a Stream Abort unasked, between transactions, for a
    // subtransaction it wrongly took for streamed (see StreamTranslator): nothing of it reached Swallow,
    // so it is passed over, and the stream goes on and is confirmed as if it had not come.
    @Test func anUnaskedStreamAbortBetweenTransactionsIsPassedOver() throws {
        var session = Session()
        var frames = Self.goodStart()
        frames.insert(Self.xLogData(0x2F00, Self.streamAbort(xid: 690, subtransaction: 691)), at: frames.count - 1)
        for frame in frames { try session.handle(frame) }
        try session.handle(Self.xLogData(0x3010, Self.insert("2", "fine")))
        try session.handle(Self.xLogData(0x3040, Self.commit(0x3040, end: 0x3048)))
        // Another one before anything else of the session (the first message after a restart).
        var restarted = Session()
        try restarted.handle(Self.xLogData(0x1F00, Self.streamAbort(xid: 600, subtransaction: 600)))
        #expect(session.produced == 2)
        #expect(session.tracker.confirmedLSN == LSN(0x3048))
        #expect(restarted.produced == 0)
    }

    // Inside a transaction it contradicts what the server said: that transaction was not streamed, and
    // another transaction's abort cannot come in the middle of one sent whole.
    @Test func aStreamAbortInsideATransactionStops() throws {
        try expectStop(Self.goodStart() + [Self.xLogData(0x3010, Self.streamAbort(xid: 701, subtransaction: 702))],
                       code: .protocolViolation, naming: ["Stream Abort of transaction 701 (subtransaction 702) inside transaction 701"])
        try expectStop(Self.goodStart() + [Self.xLogData(0x3010, Self.streamAbort(xid: 650, subtransaction: 650))],
                       code: .protocolViolation, naming: ["Stream Abort of transaction 650", "inside transaction 701"])
        // A Stream Abort with the fields of `streaming parallel`, which Swallow never asks for: not protocol 1.
        try expectStop(Self.goodStart() + [Self.xLogData(0x3010, Self.streamAbort(xid: 650, subtransaction: 650) + Array(repeating: 0, count: 16))],
                       code: .decoding, naming: ["pgoutput Stream Abort ('A') message has trailing bytes"])
    }

    @Test func aTruncatedOrUnknownFrameStops() throws {
        try expectStop(Self.goodStart() + [Array(Self.xLogData(0x3010, []).prefix(12))], code: .decoding,
                       naming: ["replication XLogData ('w') message truncated"])
        try expectStop(Self.goodStart() + [Array(Self.keepalive(0x9000).prefix(5))], code: .decoding,
                       naming: ["replication primary keepalive ('k') message truncated"])
        try expectStop(Self.goodStart() + [[UInt8(ascii: "x"), 1, 2, 3]], code: .decoding, naming: ["unknown message type 'x'"])
        try expectStop(Self.goodStart() + [[]], code: .decoding, naming: ["empty message"])
    }

    @Test func aKeepaliveInsideTheBrokenTransactionConfirmsNothing() throws {
        // The server's position may already be past the transaction being read; it is not confirmable
        // until that transaction is complete.
        var frames = Self.goodStart()
        frames.append(Self.keepalive(0x9000))
        frames.append(Self.xLogData(0x3010, [UInt8(ascii: "Z")]))
        try expectStop(frames, code: .decoding, naming: ["unknown message type 'Z'"])
    }

    @Test func valuesThatDoNotParseStopNamingTableColumnAndTypeButNotTheValue() throws {
        try expectStop(Self.goodStart() + [Self.xLogData(0x3010, Self.insert("12x-secret", "fine"))], code: .eventEncoding,
                       naming: ["public.orders.id", "int"], notQuoting: "12x-secret")
        let numeric = Self.goodStart(relation: Self.relation("amount", type: 1700))
        try expectStop(numeric.replacingInsert(with: "1") + [Self.xLogData(0x3010, Self.insert("2", "1.2.3e--secret"))],
                       code: .eventEncoding, naming: ["public.orders.amount", "numeric"], notQuoting: "1.2.3e--secret")
        let timestamp = Self.goodStart(relation: Self.relation("at", type: 1184))
        try expectStop(timestamp.replacingInsert(with: "2024-01-02 03:04:05+00")
                       + [Self.xLogData(0x3010, Self.insert("2", "2024-13-45 99:00:00+00"))],
                       code: .eventEncoding, naming: ["public.orders.at", "timestamp"], notQuoting: "2024-13-45")
    }

    @Test func aRelationWithAColumnTypeUnknownToTheCatalogStops() throws {
        var frames = Self.goodStart()
        frames.append(Self.xLogData(0x3008, Self.relation("shape", type: 4_000_000)))
        try expectStop(frames, code: .eventEncoding, naming: ["public.orders.shape", "unknown.type.handling.mode"])
    }
}

private extension [[UInt8]] {
    /// The good transaction's insert with `value` as its second column (for relations of other types).
    func replacingInsert(with value: String) -> [[UInt8]] {
        var frames = self
        frames[2] = StreamStopTests.xLogData(0x2010, StreamStopTests.insert("1", value))
        return frames
    }
}
