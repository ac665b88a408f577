import CRdKafka
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Kafka transactions (librdkafka's transactional producer API, rdkafka.h "Transactional producer API"),
/// for a producer created with a `transactionalID`.
///
/// Every method blocks the calling thread until librdkafka's call returns, and none may be called from
/// the producer's poll thread (that is, from `onDeliveryReports`, `onFatalError` or `logHandler`):
/// commit and abort wait for delivery reports, which that thread serves (librdkafka: "If the application
/// has enabled RD_KAFKA_EVENT_DR it must serve the event queue in a separate thread since rd_kafka_flush()
/// will not serve delivery reports in this mode"). librdkafka allows one transactional call at a time
/// (a concurrent one fails with `_CONFLICT` or `_PREV_IN_PROGRESS`, both retriable).
///
/// Errors keep librdkafka's classification (`rd_kafka_error_t`):
/// - `isRetriable`: call the same method again; after a `_TIMED_OUT` the operation went on in the
///   background and the new call resumes it ("This call is resumable when a retriable timeout error is
///   returned");
/// - `requiresAbort`: the transaction failed but the producer is fine: `abortTransaction`, then
///   `beginTransaction` and produce the transaction's records again;
/// - `isFatal`: the producer is unusable (`onFatalError` has been or is about to be called): close it
///   and create a new one with the same transactional id. librdkafka: errors with none of the three
///   flags should be treated as fatal too ("The general recommendation is to treat these errors, that
///   have neither the retriable or abortable flags set, as fatal").
///
/// Fencing. `initTransactions` on a real broker bumps the producer epoch of the transactional id, aborts
/// the transaction an earlier instance left open and fences that instance: its next request to the
/// transaction coordinator (AddPartitionsToTxn when it writes to a partition new to its transaction,
/// EndTxn on commit/abort) is refused with `PRODUCER_FENCED` (newer brokers) or `INVALID_PRODUCER_EPOCH`,
/// and a Produce to a partition whose leader learnt the new epoch with `INVALID_PRODUCER_EPOCH`.
/// librdkafka 2.0.2 turns each of these into the fatal error `_FENCED` (`rd_kafka_txn_normalize_err` in
/// rd_kafka_txn_handle_AddPartitionsToTxn/EndTxn, `rd_kafka_idemp_check_error`, and for Produce
/// `rd_kafka_handle_Produce_error`): `onFatalError` is called with code `_FENCED`, the pending or next
/// `commitTransaction` throws it with `isFatal`, and `produce` throws it too. librdkafka 2.0.2's mock
/// cluster does not fence: its InitProducerId hands every caller a new producer id without touching the
/// earlier one, which goes on producing and committing (see TransactionTests); there, fencing can only
/// be simulated by injecting `PRODUCER_FENCED` or `INVALID_PRODUCER_EPOCH` into requests.
extension KafkaProducer {
    /// `rd_kafka_init_transactions`: once, before the first transaction. Finds the transaction
    /// coordinator and gets a producer id and epoch for `transactionalID`, which (on a real broker) fences
    /// earlier producer instances with the same id, aborts the transaction such an instance left open, and
    /// waits for one it was committing to complete.
    ///
    /// - Parameter timeoutMilliseconds: how long to block; -1 means 2 × `transaction.timeout.ms`
    ///   (librdkafka caps the infinite wait, as there is no coordinator yet to time the call out).
    /// - Throws: `_TIMED_OUT` or `COORDINATOR_NOT_AVAILABLE` (retriable: call again, which resumes),
    ///   `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`/`CLUSTER_AUTHORIZATION_FAILED` (fatal: the principal lacks
    ///   the ACLs), `_UNSUPPORTED_FEATURE` (fatal: brokers older than Kafka 0.11), `INVALID_TRANSACTION_TIMEOUT`
    ///   (fatal: `transaction.timeout.ms` above the broker's `transaction.max.timeout.ms`), `_STATE` (already
    ///   initialized, or after a fatal error), `_NOT_CONFIGURED` (no `transactionalID`).
    public func initTransactions(timeoutMilliseconds: Int32) throws(KafkaError) {
        try transactionCall("initTransactions") { rd_kafka_init_transactions($0, timeoutMilliseconds) }
    }

    /// `rd_kafka_begin_transaction`: starts a transaction; every record produced until the commit or abort
    /// belongs to it. Local and immediate (no broker request). One transaction at a time: throws `_STATE`
    /// while one is open or an abort is required. librdkafka: within `transaction.timeout.ms` of this the
    /// transaction must be committed or aborted, or the coordinator aborts it; a real coordinator then
    /// also bumps the epoch, so this producer's next transactional request is likely refused as fenced
    /// (fatal `_FENCED`). librdkafka 2.0.2's mock ignores the transaction timeout.
    public func beginTransaction() throws(KafkaError) {
        try transactionCall("beginTransaction") { rd_kafka_begin_transaction($0) }
    }

    /// `rd_kafka_commit_transaction`. librdkafka first stops accepting records for the transaction, then
    /// flushes: it waits until every record produced in it has been acknowledged or has failed — their
    /// delivery reports all reach `onDeliveryReports` through the poll thread, and have been handed over
    /// when this returns (as with `flush`). If any of them failed (e.g. `_MSG_TIMED_OUT`, a broker
    /// refusal, a purge), the commit is not attempted: this throws an error with `requiresAbort`
    /// (librdkafka: "If any of the outstanding messages fail permanently the current transaction will
    /// enter the abortable error state and this function will return an abortable error"). Otherwise it
    /// sends EndTxn(commit) to the coordinator and returns once the coordinator accepted it: from then on
    /// the records are visible to read_committed consumers (once the commit markers are written, which
    /// the coordinator does asynchronously but before it completes the next InitProducerId for this id).
    /// A transaction without records commits locally, without a request.
    ///
    /// - Parameter timeoutMilliseconds: -1 waits as long as it takes (in librdkafka 2.0.2 this is not
    ///   bounded by the transaction timeout, despite the header's wording; the flush is bounded by
    ///   `message.timeout.ms`). On `_TIMED_OUT` (retriable) the commit goes on in the background: call
    ///   again to resume it; do not abort instead unless giving up on the transaction.
    /// - Throws: retriable (`_TIMED_OUT`, coordinator moved), `requiresAbort` (a record failed, or another
    ///   permanent error: abort and redo the transaction), fatal (`_FENCED`: another instance took over;
    ///   authorization; `INVALID_TXN_STATE`). librdkafka 2.0.2 also throws a fatal error when the
    ///   transaction had failed locally but the broker nevertheless committed it.
    public func commitTransaction(timeoutMilliseconds: Int32) throws(KafkaError) {
        try transactionCall("commitTransaction") { rd_kafka_commit_transaction($0, timeoutMilliseconds) }
    }

    /// `rd_kafka_abort_transaction`: purges the transaction's records that are still queued (not yet sent
    /// to a broker; each is reported failed with `_PURGE_QUEUE`), waits for those in flight (librdkafka does
    /// not purge them: "purging these messages may lead to gaps in the idempotent producer sequences"), so
    /// their reports arrive as usual, possibly as successes, then sends EndTxn(abort). When this returns
    /// every record of the transaction has had its report. A successful report of a record in an aborted
    /// transaction says where it was written, not that it is visible: on a real broker read_committed
    /// consumers skip it (librdkafka 2.0.2's mock keeps aborted records visible: it writes no markers).
    ///
    /// - Parameter timeoutMilliseconds: -1 waits as long as it takes; on `_TIMED_OUT` (retriable) the abort
    ///   goes on in the background: call again to resume it.
    /// - Throws: retriable (`_TIMED_OUT`), fatal (`_FENCED`, authorization), `_STATE` (no transaction).
    public func abortTransaction(timeoutMilliseconds: Int32) throws(KafkaError) {
        try transactionCall("abortTransaction") { rd_kafka_abort_transaction($0, timeoutMilliseconds) }
    }

    // MARK: - Internals

    /// Runs one transactional call on the caller's thread and maps its `rd_kafka_error_t` (destroyed
    /// here) to a KafkaError that names the call and the transactional id and says what to do.
    private func transactionCall(_ name: String, _ call: (OpaquePointer) -> OpaquePointer?) throws(KafkaError) {
        let onPollThread = shared.state.withLock { state in
            state.pollThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        }
        guard !onPollThread else {
            throw KafkaError(code: .invalidArgument,
                             message: "KafkaProducer.\(name) was called from the producer's poll thread (a delivery-report, "
                                + "fatal-error or log callback); it would wait for delivery reports only that thread "
                                + "serves: call it from another thread",
                             isRetriable: false, isFatal: false)
        }
        guard let handle = shared.acquire() else { throw .closed("KafkaProducer") }
        defer { shared.release() }
        guard let cError = call(handle.rk) else { return }
        var error = KafkaError.consuming(cError, transactional: true)
        let id = transactionalID.map { "transactional.id '\($0)'" } ?? "no transactional.id"
        error.message = "\(name) (\(id)): \(handle.mask(error.message)); \(Self.advice(for: error))"
        throw error
    }

    /// What to do about a failed transactional call: the cause where the code tells it, else what the
    /// error's flags call for.
    private static func advice(for error: KafkaError) -> String {
        switch error.code.rawValue {
        case RD_KAFKA_RESP_ERR__FENCED.rawValue, RD_KAFKA_RESP_ERR_PRODUCER_FENCED.rawValue,
             RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH.rawValue:
            return "another producer with the same transactional.id has initialized transactions since "
                + "(a newer instance took over), so this one was fenced: close it and leave the work to the "
                + "newer instance, or start a new producer if none is running"
        case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED.rawValue:
            return "the principal may not use this transactional id: grant it Write and Describe on "
                + "TransactionalId (kafka-acls --transactional-id)"
        case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED.rawValue:
            return "the principal may not produce idempotently: grant it IdempotentWrite on the Cluster "
                + "(required by brokers before Kafka 3.0)"
        case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE.rawValue, RD_KAFKA_RESP_ERR_NOT_COORDINATOR.rawValue,
             RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS.rawValue:
            return "the transaction coordinator is not available yet; the brokers create the "
                + "__transaction_state topic on first use and need transaction.state.log.replication.factor "
                + "(default 3) brokers, transaction.state.log.min.isr of them in sync: call again, and check "
                + "the brokers if it persists"
        case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE.rawValue:
            return "the brokers do not support transactions (Kafka 0.11 or later is needed)"
        case RD_KAFKA_RESP_ERR_INVALID_TRANSACTION_TIMEOUT.rawValue:
            return "transaction.timeout.ms is above the brokers' transaction.max.timeout.ms (default 900000): "
                + "lower it"
        case RD_KAFKA_RESP_ERR__NOT_CONFIGURED.rawValue:
            return "create the producer with a transactionalID to use transactions"
        case RD_KAFKA_RESP_ERR__STATE.rawValue where !error.isFatal && !error.requiresAbort:
            return "the call does not fit the producer's transaction state (initTransactions once, then "
                + "beginTransaction, produce, commitTransaction or abortTransaction, in that order)"
        default:
            break
        }
        if error.isFatal { return "the producer is unusable: close it and create a new one" }
        if error.requiresAbort {
            return "the transaction failed: abortTransaction, then begin a new one and produce its records again"
        }
        if error.isRetriable { return "call \(error.code == .timedOut ? "it again to resume" : "it again")" }
        return "librdkafka recommends treating this as fatal: close the producer and create a new one"
    }
}
