extension PostgresConnection {
    /// The history file of `timeline` (`pg_wal/<timeline>.history`) as `TIMELINE_HISTORY` sends it
    /// (walsender connections only): one line per timeline it descends from, with the position where
    /// that timeline ended. Timeline 1 has none: "" without asking.
    public func timelineHistoryFile(of timeline: Int) throws(ReplicationError) -> String {
        guard timeline > 1 else { return "" }
        let result = try execute("TIMELINE_HISTORY \(timeline)")
        // The walsender sends the file's bytes as they are, in a column declared bytea.
        guard result.rows.count == 1, let content = result[0, "content"] else {
            throw ReplicationError(code: .protocolViolation, message: "TIMELINE_HISTORY \(timeline) returned no content")
        }
        return content
    }
}
