import ChangeEvent
import PGOutput

/// Why the pipeline stopped or restarted its stream: a code to branch on, a message naming the cause and
/// the fix, whether trying again later can help, and the error it came from (as postgres-nio's
/// `PSQLError.underlying`), so a caller can still ask the original what it was.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A setting is wrong (e.g. a librdkafka property): restarting cannot help.
        case configuration
        case postgres
        case kafka
        case decoding
        case eventEncoding
        case deliveryFailed
        case producerFatal
        /// An event is larger than the producer's `message.max.bytes` and `kafka.oversized_events` is
        /// `fail` (or even its dead-letter record is too large).
        case oversizedEvent
        case protocolViolation
        /// The state directory (snapshot progress) cannot be read or written.
        case state
        /// A snapshot cannot be taken or continued as configured.
        case snapshot
        /// The slot disappeared or was invalidated after streaming started, or is missing at a start
        /// although Swallow streamed from it (`SlotContinuity`): changes after the confirmed position
        /// cannot be read any more (`snapshot.mode: when_needed` snapshots again instead).
        case slotLost
        /// The server's history left the timeline Swallow streamed from before a change Swallow had
        /// already sent to Kafka (a standby promoted without it): Kafka holds changes the database does
        /// not. Stops whatever `snapshot.mode` says.
        case historyDiverged
        /// The publication was dropped after streaming started.
        case publicationLost
        /// The service manager's notification socket (`$NOTIFY_SOCKET`) cannot be used.
        case serviceNotification
        /// `postgres.host` is a standby, and what is configured needs what a standby cannot give (writes
        /// without `postgres.primary`, a failover slot, `hot_standby_feedback`, PostgreSQL 16).
        case standbySource
        /// The Schema Registry refused a schema (`events.format: avro`), or could not be reached in time.
        case schemaRegistry
    }

    public var code: Code
    public var message: String
    public var isRetriable: Bool
    /// The error this one was made from (a `ReplicationError`, `KafkaError`, `PGOutputError`,
    /// `ChangeEventError`...), when there was one.
    public var underlying: (any Error & Sendable)?

    public init(code: Code, message: String, isRetriable: Bool, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
        self.underlying = underlying
    }

    /// The same failure with `context` put before its message (what was being done when it happened).
    public func prefixed(_ context: String) -> PipelineError {
        PipelineError(code: code, message: "\(context): \(message)", isRetriable: isRetriable, underlying: underlying)
    }

    public static func decoding(_ error: PGOutputError) -> PipelineError {
        PipelineError(code: .decoding,
                      message: "\(error); the replication stream is not what pgoutput protocol 1 allows, so Swallow stops rather than skip data. Report this with the server version.",
                      isRetriable: false, underlying: error)
    }

    public static func encoding(_ error: ChangeEventError) -> PipelineError {
        PipelineError(code: .eventEncoding, message: error.description, isRetriable: false, underlying: error)
    }

    public var description: String { message }
}
