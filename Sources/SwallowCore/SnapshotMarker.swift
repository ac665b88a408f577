/// Debezium's `source.snapshot` value for one snapshot record (RelationalSnapshotChangeEventSource's
/// setSnapshotMarker). With more than one reader thread no table counts as first or last.
public enum SnapshotMarker {
    /// Every marker an initial snapshot writes; `index` picks one.
    public static let values = ["true", "first", "last", "first_in_data_collection", "last_in_data_collection"]
    /// `values` index of `last`, the marker of the very last record.
    public static let lastIndex = 2

    public static func value(isFirstTable: Bool, isLastTable: Bool, isFirstInTable: Bool, isLastInTable: Bool) -> String {
        values[index(isFirstTable: isFirstTable, isLastTable: isLastTable, isFirstInTable: isFirstInTable,
                     isLastInTable: isLastInTable)]
    }

    /// The marker's index in `values`: snapshot records carry `source` blocks formatted once per marker.
    public static func index(isFirstTable: Bool, isLastTable: Bool, isFirstInTable: Bool, isLastInTable: Bool) -> Int {
        if isLastInTable && isLastTable { return 2 }
        if isFirstInTable && isFirstTable { return 1 }
        if isLastInTable { return 4 }
        if isFirstInTable { return 3 }
        return 0
    }
}
