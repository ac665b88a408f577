/// Debezium's `source.snapshot` value for one snapshot record (RelationalSnapshotChangeEventSource's
/// setSnapshotMarker). With more than one reader thread no table counts as first or last.
public enum SnapshotMarker {
    public static func value(isFirstTable: Bool, isLastTable: Bool, isFirstInTable: Bool, isLastInTable: Bool) -> String {
        if isLastInTable && isLastTable { return "last" }
        if isFirstInTable && isFirstTable { return "first" }
        if isLastInTable { return "last_in_data_collection" }
        if isFirstInTable { return "first_in_data_collection" }
        return "true"
    }
}
