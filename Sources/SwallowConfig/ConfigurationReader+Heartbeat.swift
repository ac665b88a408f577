import Foundation

/// The `heartbeat` section: keeping the slot moving, and noticing when it does not.
extension ConfigurationReader {
    func readHeartbeat(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Heartbeat {
        let defaults = SwallowConfiguration.Heartbeat()
        guard let heartbeat = try optionalSection(top, "heartbeat", allowed: Keys.heartbeat) else { return defaults }
        let interval = try integer(heartbeat, "interval_ms", range: Limits.heartbeatIntervalMilliseconds,
                                   default: defaults.intervalMilliseconds)
        if interval > 0 && interval < Limits.heartbeatMinimumIntervalMilliseconds {
            throw ConfigurationError(
                code: .invalidValue, path: heartbeat.path("interval_ms"),
                message: "expected 0 (off) or an integer \(Limits.heartbeatMinimumIntervalMilliseconds)..\(Limits.heartbeatIntervalMilliseconds.upperBound), got \(interval); every heartbeat writes WAL, so e.g. `interval_ms: 10000`")
        }
        let queryPath = heartbeat.path("action_query")
        var actionQuery: String?
        if let value = try scalar(heartbeat["action_query"], path: queryPath, expected: "an SQL statement") {
            guard !value.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: queryPath,
                                         message: "must not be empty; expected an SQL statement, e.g. `action_query: \"UPDATE ops.heartbeat SET ts = now()\"`, or remove the key")
            }
            actionQuery = value.text
        }
        if actionQuery != nil && interval == 0 {
            throw ConfigurationError(code: .invalidValue, path: queryPath,
                                     message: "runs with each heartbeat, but heartbeat.interval_ms is 0 (off); set interval_ms, e.g. `interval_ms: 10000`")
        }
        let emitRecord = try boolean(heartbeat, "emit_record", default: defaults.emitRecord)
        let stallWarning = try integer(heartbeat, "stall_warning_s", range: Limits.stallWarningSeconds,
                                       default: defaults.stallWarningSeconds)
        return SwallowConfiguration.Heartbeat(intervalMilliseconds: interval, actionQuery: actionQuery,
                                              emitRecord: emitRecord, stallWarningSeconds: stallWarning)
    }
}
