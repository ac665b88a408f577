import PGOutput
import Testing
@testable import SwallowCore

/// How the stream session gives each record its position: from WAL positions only, so a replay of the
/// same WAL gives the same records the same positions whatever a session sends besides.
@Suite struct StreamPositionsTests {
    static let insert = PGOutputMessage.insert(InsertMessage(relationID: 1, newTuple: TupleData(columns: [])))
    static let begin = PGOutputMessage.begin(BeginMessage(finalLSN: LSN(0x500), commitTime: 0, xid: 9))
    static let commit = PGOutputMessage.commit(CommitMessage(commitLSN: LSN(0x500), endLSN: LSN(0x528), commitTime: 0))

    /// Feeds `messages` (each at its WAL position, producing `records` records) and returns the positions.
    static func positions(_ messages: [(PGOutputMessage, walStart: UInt64, records: Int)]) -> [RecordPosition] {
        var positions = StreamPositions()
        var result: [RecordPosition] = []
        for (message, walStart, records) in messages {
            positions.message(message, walStart: LSN(walStart))
            for _ in 0..<records { result.append(positions.next()) }
        }
        return result
    }

    @Test func aTransactionsRecordsGoFromBeginThroughItsChangesToEnd() {
        let result = Self.positions([
            (Self.begin, 0x100, 1),                  // BEGIN record
            (Self.insert, 0x200, 1),
            (Self.insert, 0x300, 2),                 // an event and its tombstone, say
            (Self.insert, 0x300, 1),                 // a second row of one multi-insert WAL record
            (Self.commit, 0x528, 1),                 // END record
        ])
        #expect(result == [
            RecordPosition(commitLSN: LSN(0x500), changeLSN: LSN(0)),
            RecordPosition(commitLSN: LSN(0x500), changeLSN: LSN(0x200), index: 0, part: 0),
            RecordPosition(commitLSN: LSN(0x500), changeLSN: LSN(0x300), index: 0, part: 0),
            RecordPosition(commitLSN: LSN(0x500), changeLSN: LSN(0x300), index: 0, part: 1),
            RecordPosition(commitLSN: LSN(0x500), changeLSN: LSN(0x300), index: 1, part: 0),
            RecordPosition(commitLSN: LSN(0x500), changeLSN: LSN(UInt64.max)),
        ])
        #expect(result == result.sorted())
    }

    /// A new session sends Relation and Type messages before other changes than the last one did
    /// (before the first change of each relation it meets): they must not shift any position.
    @Test func relationAndTypeMessagesDoNotCount() {
        let relation = PGOutputMessage.relation(RelationMessage(relationID: 1, namespace: "public", name: "t",
                                                                replicaIdentity: .default, columns: []))
        let type = PGOutputMessage.type(TypeMessage(typeOID: 9, namespace: "public", name: "mood"))
        let plain = Self.positions([(Self.begin, 0x100, 0), (Self.insert, 0x300, 1), (Self.insert, 0x300, 1), (Self.commit, 0x528, 0)])
        let withSchema = Self.positions([(Self.begin, 0x100, 0), (relation, 0x300, 0), (type, 0x300, 0), (Self.insert, 0x300, 1),
                                         (relation, 0x300, 0), (Self.insert, 0x300, 1), (Self.commit, 0x528, 0)])
        #expect(plain == withSchema)
    }

    @Test func aNonTransactionalMessageIsItsOwnTransaction() {
        let message = PGOutputMessage.message(LogicalDecodingMessage(flags: 0, lsn: LSN(0x700), prefix: "p", content: []))
        let result = Self.positions([(Self.begin, 0x100, 0), (Self.insert, 0x200, 1), (Self.commit, 0x528, 0), (message, 0x700, 1)])
        #expect(result.last == RecordPosition(commitLSN: LSN(0x700), changeLSN: LSN(0x700)))
        #expect(result == result.sorted())
    }
}
