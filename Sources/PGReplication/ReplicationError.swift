/// Everything that can go wrong talking to PostgreSQL, with the cause and the fix in `description`.
public struct ReplicationError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The server could not be reached or the connection dropped.
        case connectionFailed
        /// The server refused our credentials.
        case authenticationFailed
        /// The role lacks a privilege (REPLICATION, CREATE, SELECT...).
        case insufficientPrivilege
        /// The replication slot does not exist and we may not create it.
        case slotMissing
        /// The slot exists but cannot be used by us (other plugin, other database).
        case slotUnusable
        /// The slot was invalidated: the WAL it needs was removed (`wal_status` is `lost`).
        case slotInvalidated
        /// Another process is streaming from the slot.
        case slotInUse
        /// The publication does not exist and we may not create it, or does not cover a table.
        case publicationMissing
        /// A configured table does not exist.
        case tableMissing
        /// The server is misconfigured for logical replication (e.g. wal_level).
        case serverMisconfigured
        /// A command failed for another reason.
        case commandFailed
        /// The server sent something the replication protocol does not allow.
        case protocolViolation
        /// The server ended the replication stream.
        case streamEnded
    }

    public var code: Code
    public var message: String
    /// The SQLSTATE the server reported, when it reported one.
    public var sqlState: String?
    /// What the operator should do about it.
    public var hint: String?

    public init(code: Code, message: String, sqlState: String? = nil, hint: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.hint = hint
    }

    /// Whether reconnecting later can succeed without anybody changing anything.
    public var isRetriable: Bool {
        switch code {
        case .connectionFailed, .slotInUse, .streamEnded: return true
        case .commandFailed:
            // Class 08 (connection exception), 57P (operator intervention: shutdown, terminated backend),
            // 53 (insufficient resources), 40 (transaction rollback) clear up by themselves.
            guard let state = sqlState else { return false }
            return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53") || state.hasPrefix("40")
        default: return false
        }
    }

    public var description: String {
        var text = "postgres \(code.rawValue): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let hint { text += ". Fix: \(hint)" }
        return text
    }
}
