import Foundation
import PGOutput
import Testing

/// Messages captured from PostgreSQL 15.18 by Fixtures/capture.sh running
/// Fixtures/capture.sql; see those files for what each message comes from.
enum Fixture {
    static func lines(_ name: String) throws -> [[UInt8]] {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "hex", subdirectory: "Fixtures"))
        return try String(contentsOf: url, encoding: .utf8)
            .split(whereSeparator: \.isNewline)
            .map { line in try #require(hexBytes(line), "bad hex line in \(name).hex") }
    }

    static func messages(_ name: String) throws -> [PGOutputMessage] {
        try lines(name).map { try PGOutputMessage.decode($0[...]) }
    }

    private static func hexBytes(_ line: Substring) -> [UInt8]? {
        let digits = Array(line.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}

extension PGOutputMessage {
    var tag: Character {
        switch self {
        case .begin: "B"
        case .commit: "C"
        case .origin: "O"
        case .relation: "R"
        case .type: "Y"
        case .insert: "I"
        case .update: "U"
        case .delete: "D"
        case .truncate: "T"
        case .message: "M"
        case .streamAbort: "A"
        }
    }

    var begin: BeginMessage? { if case .begin(let m) = self { m } else { nil } }
    var commit: CommitMessage? { if case .commit(let m) = self { m } else { nil } }
    var origin: OriginMessage? { if case .origin(let m) = self { m } else { nil } }
    var relation: RelationMessage? { if case .relation(let m) = self { m } else { nil } }
    var type: TypeMessage? { if case .type(let m) = self { m } else { nil } }
    var insert: InsertMessage? { if case .insert(let m) = self { m } else { nil } }
    var update: UpdateMessage? { if case .update(let m) = self { m } else { nil } }
    var delete: DeleteMessage? { if case .delete(let m) = self { m } else { nil } }
    var truncate: TruncateMessage? { if case .truncate(let m) = self { m } else { nil } }
    var logicalMessage: LogicalDecodingMessage? { if case .message(let m) = self { m } else { nil } }
}

private func t(_ s: String) -> TupleColumn { .text(ArraySlice(s.utf8)) }

/// 2024-01-01 and 2100-01-01 in Postgres microseconds: the capture happened in between.
private let plausibleTimes: ClosedRange<Int64> =
    PostgresTime.postgresMicros(fromUnixMillis: 1_704_067_200_000)...PostgresTime.postgresMicros(fromUnixMillis: 4_102_444_800_000)

@Suite struct FixtureTests {
    @Test func capturedMessageSequence() throws {
        let messages = try Fixture.messages("changes")
        #expect(String(messages.map(\.tag)) ==
            "BYRIIC" + "BUC" + "BUC" + "BDC"          // users
            + "BRIC" + "BUC" + "BDC"                   // audit (FULL)
            + "BRIC" + "BUC"                           // docs (TOAST)
            + "BRIC" + "BUC" + "BDC"                   // app.keyed (USING INDEX)
            + "BRIIC"                                  // nokey (NOTHING)
            + "BRRTC" + "BRTC"                         // truncates
            + "BMIC" + "M"                             // logical decoding messages
            + "BOIC")                                  // replayed from origin 'upstream'
    }

    /// What a consumer does: keep the Relation messages, check every change against them.
    @Test func transactionsAndRelationCacheAreConsistent() throws {
        let messages = try Fixture.messages("changes")
        var relations: [UInt32: RelationMessage] = [:]
        var open: BeginMessage?
        var lastCommit: CommitMessage?
        var transactions = 0
        for message in messages {
            switch message {
            case .begin(let begin):
                #expect(open == nil)
                #expect(begin.xid != 0)
                #expect(plausibleTimes.contains(begin.commitTime))
                if let lastCommit { #expect(begin.finalLSN > lastCommit.commitLSN) }
                open = begin
            case .commit(let commit):
                let begin = try #require(open)
                #expect(commit.flags == 0)
                #expect(commit.commitLSN == begin.finalLSN)
                #expect(commit.endLSN > commit.commitLSN)
                #expect(commit.commitTime == begin.commitTime)
                open = nil
                lastCommit = commit
                transactions += 1
            case .relation(let relation):
                relations[relation.relationID] = relation
            case .insert(let insert):
                #expect(insert.newTuple.columns.count == relations[insert.relationID]?.columns.count)
            case .update(let update):
                #expect(update.newTuple.columns.count == relations[update.relationID]?.columns.count)
            case .delete(let delete):
                #expect(delete.oldTuple.columns.count == relations[delete.relationID]?.columns.count)
            case .truncate(let truncate):
                #expect(truncate.relationIDs.allSatisfy { relations[$0] != nil })
            case .message(let logical):
                #expect(logical.isTransactional == (open != nil))
            case .origin, .type:
                #expect(open != nil)
            case .streamAbort:
                Issue.record("the fixture was recorded without streaming: no Stream Abort belongs in it")
            }
        }
        #expect(open == nil)
        #expect(transactions == 17)
        #expect(Set(relations.values.map(\.name)) == ["users", "audit", "docs", "keyed", "nokey"])
        let xids = messages.compactMap(\.begin?.xid)
        #expect(xids == xids.sorted() && Set(xids).count == xids.count)
    }

    @Test func usersTableWithPrimaryKeyAndEnum() throws {
        let m = try Fixture.messages("changes")
        let mood = try #require(m[1].type)
        #expect(mood.namespace == "public" && mood.name == "mood")
        #expect(mood.typeOID >= 16_384) // user-defined OIDs start at FirstNormalObjectId

        let users = try #require(m[2].relation)
        #expect(users.namespace == "public" && users.name == "users")
        #expect(users.replicaIdentity == .default)
        #expect(users.columns.map(\.name) == ["id", "name", "email", "mood", "score"])
        #expect(users.columns.map(\.typeOID) == [23, 25, 1043, mood.typeOID, 1700]) // int4 text varchar mood numeric
        let varchar64: Int32 = 64 + 4, numeric10_2: Int32 = (10 << 16 | 2) + 4 // atttypmod encodings
        #expect(users.columns.map(\.typeModifier) == [-1, -1, varchar64, -1, numeric10_2])
        #expect(users.columns.map(\.isKey) == [true, false, false, false, false])

        let alice = try #require(m[3].insert)
        #expect(alice.relationID == users.relationID)
        #expect(alice.newTuple.columns == [t("1"), t("alice"), t("alice@example.com"), t("happy"), t("12.50")])
        #expect(try #require(m[4].insert).newTuple.columns == [t("2"), t("bob"), .null, .null, .null])

        let rename = try #require(m[7].update)
        #expect(rename.oldTupleKind == nil && rename.oldTuple == nil)
        #expect(rename.newTuple.columns == [t("1"), t("Alice"), t("alice@example.com"), t("ok"), t("12.50")])

        let rekey = try #require(m[10].update)
        #expect(rekey.oldTupleKind == .key)
        #expect(rekey.oldTuple?.columns == [t("2"), .null, .null, .null, .null])
        #expect(rekey.newTuple.columns == [t("3"), t("bob"), .null, .null, .null])

        let delete = try #require(m[13].delete)
        #expect(delete.oldTupleKind == .key)
        #expect(delete.oldTuple.columns == [t("3"), .null, .null, .null, .null])
    }

    @Test func replicaIdentityFull() throws {
        let m = try Fixture.messages("changes")
        let audit = try #require(m[16].relation)
        #expect(audit.name == "audit" && audit.replicaIdentity == .full)
        // With FULL every column is part of the identity.
        #expect(audit.columns.map(\.isKey) == [true, true])
        #expect(try #require(m[17].insert).newTuple.columns == [t("10"), t("created")])
        let update = try #require(m[20].update)
        #expect(update.oldTupleKind == .old)
        #expect(update.oldTuple?.columns == [t("10"), t("created")])
        #expect(update.newTuple.columns == [t("10"), t("edited")])
        let delete = try #require(m[23].delete)
        #expect(delete.oldTupleKind == .old)
        #expect(delete.oldTuple.columns == [t("10"), t("edited")])
    }

    @Test func unchangedToastColumn() throws {
        let m = try Fixture.messages("changes")
        let docs = try #require(m[26].relation)
        #expect(docs.name == "docs" && docs.columns.map(\.name) == ["id", "title", "body"])
        let insert = try #require(m[27].insert)
        guard case .text(let body) = insert.newTuple.columns[2] else {
            Issue.record("body not text: \(insert.newTuple.columns[2])"); return
        }
        #expect(body.count == 12_000 && body.starts(with: "lorem ipsum ".utf8))
        let update = try #require(m[30].update)
        #expect(update.oldTuple == nil)
        #expect(update.newTuple.columns == [t("1"), t("final"), .unchangedToast])
    }

    @Test func replicaIdentityIndexInOtherSchema() throws {
        let m = try Fixture.messages("changes")
        let keyed = try #require(m[33].relation)
        #expect(keyed.namespace == "app" && keyed.name == "keyed")
        #expect(keyed.replicaIdentity == .index)
        #expect(keyed.columns.map(\.isKey) == [false, true, false])
        let update = try #require(m[37].update)
        #expect(update.oldTupleKind == .key)
        #expect(update.oldTuple?.columns == [.null, t("a"), .null])
        #expect(update.newTuple.columns == [t("1"), t("b"), t("x")])
        let delete = try #require(m[40].delete)
        #expect(delete.oldTupleKind == .key && delete.oldTuple.columns == [.null, t("b"), .null])
    }

    @Test func replicaIdentityNothingAndUnicode() throws {
        let m = try Fixture.messages("changes")
        let nokey = try #require(m[43].relation)
        #expect(nokey.name == "nokey" && nokey.replicaIdentity == .nothing)
        #expect(nokey.columns.allSatisfy { !$0.isKey })
        #expect(try #require(m[45].insert).newTuple.columns == [t("2"), t("ünïcödé ✓")])
    }

    @Test func truncates() throws {
        let m = try Fixture.messages("changes")
        let ids = Dictionary(m.compactMap(\.relation).map { ($0.name, $0.relationID) }, uniquingKeysWith: { a, _ in a })
        let both = try #require(m[50].truncate)
        #expect(both.options == 3 && both.cascade && both.restartIdentity)
        #expect(Set(both.relationIDs) == [ids["audit"], ids["nokey"]])
        let docs = try #require(m[54].truncate)
        #expect(docs.options == 0 && !docs.cascade && !docs.restartIdentity)
        #expect(docs.relationIDs == [ids["docs"]])
    }

    @Test func logicalDecodingMessagesAndOrigin() throws {
        let m = try Fixture.messages("changes")
        let transactional = try #require(m[57].logicalMessage)
        #expect(transactional.isTransactional && transactional.prefix == "swallow")
        #expect(Array(transactional.content) == Array("transactional payload".utf8))
        #expect(transactional.lsn < m[56].begin!.finalLSN)
        let loose = try #require(m[60].logicalMessage)
        #expect(!loose.isTransactional && loose.flags == 0 && loose.prefix == "swallow")
        #expect(Array(loose.content) == Array("non-transactional payload".utf8))
        #expect(loose.lsn > m[59].commit!.endLSN)

        let origin = try #require(m[62].origin)
        #expect(origin.name == "upstream")
        #expect(origin.commitLSN == LSN(string: "0/DEADBEEF"))
        #expect(try #require(m[63].insert).newTuple.columns == [t("5"), t("eve"), .null, .null, .null])
    }

    /// The same slot peeked with `binary 'true'`: identical stream except tuple formats.
    @Test func binaryTupleFormat() throws {
        let text = try Fixture.messages("changes")
        let binary = try Fixture.messages("binary")
        #expect(binary.count == text.count)
        var relations: [UInt32: RelationMessage] = [:]
        for (textMessage, binaryMessage) in zip(text, binary) {
            let pairs: [(TupleData, TupleData)]
            let relationID: UInt32
            switch (textMessage, binaryMessage) {
            case (.insert(let a), .insert(let b)):
                pairs = [(a.newTuple, b.newTuple)]; relationID = a.relationID
            case (.update(let a), .update(let b)):
                pairs = [(a.newTuple, b.newTuple)] + zip([a.oldTuple].compactMap { $0 }, [b.oldTuple].compactMap { $0 })
                relationID = a.relationID
            case (.delete(let a), .delete(let b)):
                pairs = [(a.oldTuple, b.oldTuple)]; relationID = a.relationID
            default:
                if case .relation(let r) = textMessage { relations[r.relationID] = r }
                #expect(textMessage == binaryMessage)
                continue
            }
            let columns = try #require(relations[relationID]).columns
            for (textTuple, binaryTuple) in pairs {
                for (column, (a, b)) in zip(columns, zip(textTuple.columns, binaryTuple.columns)) {
                    switch (a, b) {
                    case (.text(let value), .binary(let raw)) where column.typeOID == 25:
                        #expect(raw == value) // text's send format is its UTF-8 bytes
                    case (.text(let value), .binary(let raw)) where column.typeOID == 23:
                        let int = try #require(Int32(String(decoding: value, as: UTF8.self)))
                        #expect(Array(raw) == withUnsafeBytes(of: int.bigEndian, Array.init))
                    case (.text, .binary):
                        break
                    default:
                        #expect(a == b) // null / unchanged TOAST are format-independent
                    }
                }
            }
        }
    }

    /// Raw CopyData payloads from START_REPLICATION on the same slot.
    @Test func replicationStreamFraming() throws {
        let frames = try Fixture.lines("stream").map { try ReplicationMessage.decode($0[...]) }
        let changes = try Fixture.lines("changes")
        var data: [[UInt8]] = []
        var keepalives: [PrimaryKeepalive] = []
        var lastPosition = LSN.invalid
        for frame in frames {
            switch frame {
            case .xLogData(let x):
                // A logical walsender stamps each message with one LSN as both start and
                // end, and some (Relation, Type, the Begin before an Origin) with 0/0:
                // positions for feedback must come from Commit.endLSN, not the frame.
                #expect(x.walStart == x.walEnd)
                switch try PGOutputMessage.decode(x.data) {
                case .relation, .type:
                    #expect(x.walStart == .invalid)
                default:
                    #expect(x.walStart == .invalid || x.walStart >= lastPosition)
                    lastPosition = max(lastPosition, x.walStart)
                }
                #expect(plausibleTimes.contains(x.serverTime))
                data.append(Array(x.data))
            case .primaryKeepalive(let k):
                #expect(plausibleTimes.contains(k.serverTime))
                keepalives.append(k)
            }
        }
        #expect(data == changes)
        #expect(keepalives.count >= 2)
        #expect(keepalives.map(\.walEnd) == keepalives.map(\.walEnd).sorted())
        // capture_stream.py stops at the first keepalive demanding a reply.
        #expect(keepalives.last?.replyRequested == true)
        #expect(keepalives.dropLast().allSatisfy { !$0.replyRequested })
    }
}
