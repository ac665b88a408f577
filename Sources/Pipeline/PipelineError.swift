import ChangeEvent
import Kafka
import PGOutput
import PGReplication

/// Why the pipeline stopped or restarted its stream.
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
        /// The slot disappeared or was invalidated after streaming started: changes after the confirmed
        /// position cannot be read any more (`snapshot.mode: when_needed` snapshots again instead).
        case slotLost
        /// The publication was dropped after streaming started.
        case publicationLost
        /// The service manager's notification socket (`$NOTIFY_SOCKET`) cannot be used.
        case serviceNotification
    }

    public var code: Code
    public var message: String
    public var isRetriable: Bool

    public init(code: Code, message: String, isRetriable: Bool) {
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
    }

    static func postgres(_ error: ReplicationError) -> PipelineError {
        PipelineError(code: .postgres, message: error.description, isRetriable: error.isRetriable)
    }

    /// The publication was dropped (or no longer covers a captured table) after streaming started: found
    /// at a reconnect, or reported by the walsender when it decodes the next change.
    static func publicationLost(publication: String, slot: String, confirmed: LSN, cause: ReplicationError) -> PipelineError {
        PipelineError(code: .publicationLost,
                      message: "publication \"\(publication)\" was dropped or altered while Swallow was streaming (\(cause.message)); changes after \(confirmed) cannot be read through it, and re-creating it does not help the slot (PostgreSQL decodes the changes made meanwhile with the catalog of their time). Swallow does not re-create it silently. Fix: re-create the publication (CREATE PUBLICATION \(publication) FOR TABLE ...), drop the slot (SELECT pg_drop_replication_slot('\(slot)')) and restart Swallow to snapshot the tables again",
                      isRetriable: false)
    }

    static func kafka(_ error: KafkaError) -> PipelineError {
        PipelineError(code: error.code == .configuration ? .configuration : .kafka,
                      message: error.description, isRetriable: false)
    }

    static func decoding(_ error: PGOutputError) -> PipelineError {
        PipelineError(code: .decoding,
                      message: "\(error); the replication stream is not what pgoutput protocol 1 allows, so Swallow stops rather than skip data. Report this with the server version.",
                      isRetriable: false)
    }

    static func encoding(_ error: ChangeEventError) -> PipelineError {
        PipelineError(code: .eventEncoding, message: error.description, isRetriable: false)
    }

    public var description: String { message }
}
