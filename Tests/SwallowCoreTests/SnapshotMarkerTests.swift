import Testing
@testable import SwallowCore

@Suite struct SnapshotMarkerTests {
    /// Markers of a whole single-threaded snapshot, given each table's row count.
    private func markers(_ rowCounts: [Int]) -> [[String]] {
        rowCounts.enumerated().map { table, rows in
            (0..<rows).map { row in
                SnapshotMarker.value(isFirstTable: table == 0, isLastTable: table == rowCounts.count - 1,
                                     isFirstInTable: row == 0, isLastInTable: row == rows - 1)
            }
        }
    }

    @Test func markersFollowDebeziumsRules() {
        #expect(markers([3, 3, 3]) == [
            ["first", "true", "last_in_data_collection"],
            ["first_in_data_collection", "true", "last_in_data_collection"],
            ["first_in_data_collection", "true", "last"],
        ])
        // A one-row table: last-in-table wins over first-in-table, except in the first table.
        #expect(markers([1, 1, 1]) == [["first"], ["last_in_data_collection"], ["last"]])
        #expect(markers([1]) == [["last"]])
    }

    @Test func withSeveralThreadsNoTableIsFirstOrLast() {
        #expect(SnapshotMarker.value(isFirstTable: false, isLastTable: false, isFirstInTable: true, isLastInTable: false)
                == "first_in_data_collection")
        #expect(SnapshotMarker.value(isFirstTable: false, isLastTable: false, isFirstInTable: false, isLastInTable: true)
                == "last_in_data_collection")
    }
}
