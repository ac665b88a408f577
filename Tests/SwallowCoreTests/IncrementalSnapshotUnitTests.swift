import ChangeEvent
import PGOutput
import Testing
@testable import SwallowCore

@Suite struct SnapshotSignalTests {
    @Test func parsesDebeziumsExecuteSnapshotShape() throws {
        let signal = try SnapshotSignal.parse(type: "execute-snapshot", data: """
            {"data-collections": ["public.orders", "inventory\\\\..*"], "type": "INCREMENTAL",
             "additional-conditions": [{"data-collection": "public.Orders", "filter": "status = 'open'"}]}
            """)
        #expect(signal == .executeSnapshot(dataCollections: ["public.orders", "inventory\\..*"],
                                           conditions: ["public.orders": "status = 'open'"]))
    }

    @Test func stopWithoutCollectionsStopsEverything() throws {
        #expect(try SnapshotSignal.parse(type: "stop-snapshot", data: nil) == .stopSnapshot(dataCollections: []))
        #expect(try SnapshotSignal.parse(type: "stop-snapshot", data: #"{"data-collections": ["a.b"]}"#)
                == .stopSnapshot(dataCollections: ["a.b"]))
    }

    @Test func watermarksAndUnknownTypes() throws {
        #expect(try SnapshotSignal.parse(type: "snapshot-window-open", data: "{}") == .windowOpen)
        #expect(try SnapshotSignal.parse(type: "snapshot-window-close", data: nil) == .windowClose)
        #expect(try SnapshotSignal.parse(type: "log", data: #"{"message": "hi"}"#) == nil)
    }

    @Test(arguments: [
        ("execute-snapshot", "not json", "not a JSON object"),
        ("execute-snapshot", #"{"type": "incremental"}"#, "needs data-collections"),
        ("execute-snapshot", #"{"data-collections": ["a.b"], "type": "blocking"}"#, "not supported"),
        ("execute-snapshot", #"{"data-collections": "a.b"}"#, "must be a list"),
        ("execute-snapshot", #"{"data-collections": ["(unclosed"]}"#, "not a valid regular expression"),
        ("execute-snapshot", #"{"data-collections": ["a.b"], "additional-conditions": [{"filter": "x"}]}"#, "data-collection"),
    ])
    func malformedSignalsSayWhy(type: String, data: String, reason: String) {
        let error = #expect(throws: SignalError.self) { try SnapshotSignal.parse(type: type, data: data) }
        #expect(error?.message.contains(reason) == true, "\(String(describing: error))")
    }
}

@Suite struct ChunkWindowTests {
    private func row(_ id: String, _ v: String) -> [ColumnValue] { [.text(Array(id.utf8)[...]), .text(Array(v.utf8)[...])] }
    private func tuple(_ id: String) -> TupleData { TupleData(columns: [.text(Array(id.utf8)[...]), .null]) }

    @Test func keysTouchedInsideTheWindowLeaveTheChunk() {
        var window = ChunkWindow(openID: "o", closeID: "c", relationID: 7, keyPositions: [0])
        for id in 1...5 { window.append(row("\(id)", "x")) }
        window.drop(key: [Array("2".utf8)])
        window.drop(key: [Array("4".utf8)])
        window.drop(key: [Array("99".utf8)])
        #expect(window.remainingRows == [row("1", "x"), row("3", "x"), row("5", "x")])
        #expect(window.droppedCount == 2)
        window.dropAll()
        #expect(window.remainingRows.isEmpty)
    }

    @Test func tupleKeysMatchRowKeysByTheirText() {
        #expect(ChunkWindow.key(of: tuple("42"), at: [0]) == ChunkWindow.key(of: row("42", "y"), at: [0]))
        #expect(ChunkWindow.key(of: tuple("42"), at: [1]) == nil, "a NULL key column identifies nothing")
        #expect(ChunkWindow.key(of: TupleData(columns: [.unchangedToast]), at: [0]) == nil)
    }
}
