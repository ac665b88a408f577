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
        case protocolViolation
        /// The state directory (snapshot progress) cannot be read or written.
        case state
        /// A snapshot cannot be taken or continued as configured.
        case snapshot
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
