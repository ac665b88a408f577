import SwallowConfig

/// What the pipeline does after a stream or snapshot failed: the retry-or-exit decision, apart from the
/// loop that carries it out so it can be tested case by case.
public enum RetryDecision: Sendable, Equatable {
    /// A stop was requested: end quietly (a retriable failure during a stop is the stop's doing).
    case stop
    /// Not retriable: stop the service with the error.
    case fail
    /// The slot was lost and `snapshot.mode: when_needed`: a new slot and a new snapshot.
    case snapshotAgain
    /// Start the next stream from the confirmed position after a backoff.
    case retry

    public init(after error: PipelineError, stopRequested: Bool, snapshotMode: SwallowConfiguration.Snapshot.Mode) {
        if stopRequested, error.isRetriable {
            self = .stop
        } else if error.code == .slotLost, snapshotMode == .whenNeeded {
            self = .snapshotAgain
        } else {
            self = error.isRetriable ? .retry : .fail
        }
    }
}
