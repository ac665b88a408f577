import Kafka
import PGOutput
import PGReplication
import SwallowCore

/// The pipeline's errors made from those of its I/O edges (libpq, librdkafka), each keeping its cause.
extension PipelineError {
    static func postgres(_ error: ReplicationError) -> PipelineError {
        PipelineError(code: .postgres, message: error.description, isRetriable: error.isRetriable, underlying: error)
    }

    /// The publication was dropped (or no longer covers a captured table) after streaming started: found
    /// at a reconnect, or reported by the walsender when it decodes the next change.
    static func publicationLost(publication: String, slot: String, confirmed: LSN, cause: ReplicationError) -> PipelineError {
        PipelineError(code: .publicationLost,
                      message: "publication \"\(publication)\" was dropped or altered while Swallow was streaming (\(cause.message)); changes after \(confirmed) cannot be read through it, and re-creating it does not help the slot (PostgreSQL decodes the changes made meanwhile with the catalog of their time). Swallow does not re-create it silently. Fix: re-create the publication (CREATE PUBLICATION \(publication) FOR TABLE ...), run `swallow slot drop --yes` (for slot \(slot): it drops the slot and Swallow's state for it) and start Swallow again to snapshot the tables",
                      isRetriable: false, underlying: cause)
    }

    static func kafka(_ error: KafkaError) -> PipelineError {
        PipelineError(code: error.code == .configuration ? .configuration : .kafka,
                      message: error.description, isRetriable: false, underlying: error)
    }
}
