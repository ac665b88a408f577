/// The `snapshot` section and `state_dir`, where snapshot progress is kept.
extension ConfigurationReader {
    func readSnapshot(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Snapshot {
        let defaults = SwallowConfiguration.Snapshot()
        guard let snapshot = try optionalSection(top, "snapshot", allowed: Keys.snapshot) else { return defaults }
        let mode = try enumeration(snapshot, "mode", default: defaults.mode)
        let maxThreads = try integer(snapshot, "max_threads", range: Limits.snapshotMaxThreads,
                                     default: defaults.maxThreads)
        let chunkRows = try integer(snapshot, "chunk_rows", range: Limits.snapshotChunkRows, default: defaults.chunkRows)
        let signalPath = snapshot.path("signal_table")
        var signalTable: SwallowConfiguration.TableName?
        if let value = try scalar(snapshot["signal_table"], path: signalPath,
                                  expected: "a table name (`schema.table` or `table`)") {
            signalTable = try Self.tableName(value, path: signalPath)
        }
        let incrementalChunkRows = try integer(snapshot, "incremental_chunk_rows",
                                               range: Limits.incrementalSnapshotChunkRows,
                                               default: defaults.incrementalChunkRows)
        return SwallowConfiguration.Snapshot(
            mode: mode,
            maxThreads: maxThreads, chunkRows: chunkRows, signalTable: signalTable,
            incrementalChunkRows: incrementalChunkRows)
    }

    func readStateDirectory(_ top: Section) throws(ConfigurationError) -> String {
        let path = top.path("state_dir")
        let expected = "a directory path (absolute, or relative to the working directory)"
        guard let value = try scalar(top["state_dir"], path: path, expected: expected) else {
            return SwallowConfiguration.defaultStateDirectory
        }
        guard !value.text.isEmpty else {
            throw ConfigurationError(
                code: .invalidValue, path: path,
                message: "must not be empty; expected \(expected), e.g. `state_dir: \(SwallowConfiguration.defaultStateDirectory)`, or remove the key to use that default")
        }
        return value.text
    }
}
