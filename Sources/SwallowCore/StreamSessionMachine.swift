import PGOutput

/// The decisions of one replication session, without its connection, producer or clock: CopyData frames
/// and the passing of time go in, actions come out, in the order the session must carry them out.
///
/// Frames are the walsender's CopyData payloads (PostgreSQL's streaming replication protocol):
///
///     'k' Int64 walEnd, Int64 sendTime, Byte1 replyRequested          primary keepalive
///     'w' Int64 walStart, Int64 walEnd, Int64 sendTime, Byte(n) data   XLogData: one pgoutput message
///
/// A Relation message of a captured table needs the catalog before it can be translated: the machine
/// asks for it (`Action.describe`) and translates nothing more until `describe(_:catalog:into:)` brings
/// the answer, so the order cannot be got wrong.
///
/// Stopping: the slot is confirmed only at transaction ends, so a stop requested mid-transaction reads on
/// to its commit (within the flush timeout) instead of leaving it half produced: after a restart it would
/// be sent again whole, and its first events twice. The rest of it is already decoded on the server
/// (pgoutput protocol 1 sends a transaction after its commit), so that reading is bounded. Not after a
/// failed delivery: that transaction is read again anyway.
public struct StreamSessionMachine: Sendable {
    public enum Action: Sendable, Equatable {
        /// The server reported its WAL end (a keepalive): confirmable once everything before it is acknowledged.
        case reportServerPosition(LSN)
        /// Send a standby status update now (the server asked for one).
        case sendStatus
        /// Look up what the catalog says about this captured table, then call `describe(_:catalog:into:)`.
        case describe(RelationMessage)
        /// A transaction (or a standalone message) starts; `commitTimeMicros` is the transaction's commit time.
        case openUnit(commitTimeMicros: Int64?)
        /// Produce the record into the open unit; `sourceLSN` is the WAL position it came from.
        case produce(OutgoingRecord, sourceLSN: LSN)
        /// The unit ends; the slot may be confirmed to the position once its records are acknowledged.
        case closeUnit(LSN)
        /// A row was inserted into the signal table (an incremental-snapshot signal or watermark).
        /// `position`: the insert's own stream position, which the records it makes (an incremental
        /// snapshot's rows, at its close watermark) take in turn (`index` 0, 1, ...).
        case signal(InsertMessage, sourceLSN: LSN, position: RecordPosition)
        /// A change the incremental snapshot's open window must see (its keys leave the chunk), or a
        /// Relation message it must know.
        case observe(PGOutputMessage)
        /// A transaction committed at the position: incremental-snapshot state may move on.
        case transactionCommitted(LSN)
        /// A message that asks nothing of the session was passed over (`StreamAction.ignored`): log why,
        /// at debug level; `sourceLSN`: where it was in the WAL.
        case ignored(reason: String, sourceLSN: LSN)
        /// A change was dropped on purpose (`StreamAction.skipped`): log why as a warning (or an error).
        case skipped(reason: String, isError: Bool, sourceLSN: LSN)
    }

    /// What the session does on a stop request.
    public enum StopDecision: Sendable, Equatable {
        /// No stop requested: carry on.
        case carryOn
        /// A stop was requested mid-transaction: read on to its commit.
        case finishTransaction
        /// Stop now: flush within the budget (milliseconds), confirm, end the stream.
        case stop(flushBudgetMilliseconds: Int)
    }

    public var translator: StreamTranslator
    /// The table whose inserts are incremental-snapshot signals, when one is configured.
    public let signalTable: QualifiedTableName?
    private var signalRelationID: UInt32?
    /// The highest WAL position received, reported as `write` in status updates.
    public private(set) var receivedLSN = LSN.invalid
    /// The server's WAL end, from keepalives and XLogData headers: the lag is measured against it.
    public private(set) var serverLSN = LSN.invalid
    /// The WAL position of the message being handled, for dead-letter headers and errors.
    public private(set) var messageLSN: LSN?
    /// The commit time of the transaction whose Begin is being handled, for its unit.
    private var beginCommitMicros: Int64?
    /// A Relation message waiting for its catalog details.
    private var awaitingCatalog: RelationMessage?
    private var translated: [StreamAction] = []
    /// Each record's place in the source's order.
    private var positions = StreamPositions()

    /// Status intervals and the stop budget, in milliseconds.
    let statusIntervalMilliseconds: Int
    let confirmIntervalMilliseconds: Int
    let flushTimeoutMilliseconds: Int
    private var lastStatusSentAt: ContinuousClock.Instant
    /// The position the last status update confirmed, and when the confirmed position is next looked at.
    private var lastConfirmedSent: LSN?
    private var nextConfirmCheckAt: ContinuousClock.Instant
    private var nextStatusRefreshAt: ContinuousClock.Instant
    private let statusRefreshInterval: Duration
    /// Set at a stop request that came mid-transaction: until when the transaction may still be read.
    public private(set) var stopDeadline: ContinuousClock.Instant?

    public init(translator: StreamTranslator, signalTable: QualifiedTableName?, statusIntervalMilliseconds: Int,
                confirmIntervalMilliseconds: Int, flushTimeoutMilliseconds: Int, statusRefreshInterval: Duration,
                now: ContinuousClock.Instant) {
        self.translator = translator
        self.signalTable = signalTable
        self.statusIntervalMilliseconds = statusIntervalMilliseconds
        self.confirmIntervalMilliseconds = confirmIntervalMilliseconds
        nextConfirmCheckAt = now + .milliseconds(confirmIntervalMilliseconds)
        self.flushTimeoutMilliseconds = flushTimeoutMilliseconds
        self.statusRefreshInterval = statusRefreshInterval
        lastStatusSentAt = now
        nextStatusRefreshAt = now
    }

    // MARK: Frames

    /// Handles one CopyData frame that arrived at `arrivalMillis` (Unix ms: the events' `ts_ms`),
    /// appending what to do to `actions`. Throws, naming the cause, on anything the protocol does not
    /// allow; the confirmable position then stays at the last complete transaction.
    public mutating func receive(_ frame: ArraySlice<UInt8>, arrivalMillis: Int64,
                                 into actions: inout [Action]) throws(PipelineError) {
        precondition(awaitingCatalog == nil, "a Relation message is waiting for describe(_:catalog:into:)")
        let message: ReplicationMessage
        do { message = try ReplicationMessage.decode(frame) } catch { throw .decoding(error) }
        switch message {
        case .primaryKeepalive(let keepalive):
            if keepalive.walEnd > receivedLSN { receivedLSN = keepalive.walEnd }
            if keepalive.walEnd > serverLSN { serverLSN = keepalive.walEnd }
            // Everything the server decoded before this keepalive has reached us.
            actions.append(.reportServerPosition(keepalive.walEnd))
            if keepalive.replyRequested { actions.append(.sendStatus) }
        case .xLogData(let data):
            if data.walStart > receivedLSN { receivedLSN = data.walStart }
            if data.walEnd > serverLSN { serverLSN = data.walEnd }
            messageLSN = data.walStart
            let decoded: PGOutputMessage
            do { decoded = try PGOutputMessage.decode(data.data) } catch { throw .decoding(error) }
            try handle(decoded, walStart: data.walStart, arrivalMillis: arrivalMillis, into: &actions)
        }
    }

    private mutating func handle(_ message: PGOutputMessage, walStart: LSN, arrivalMillis: Int64,
                                 into actions: inout [Action]) throws(PipelineError) {
        switch message {
        case .relation(let relation):
            if let signalTable, relation.namespace == signalTable.schema, relation.name == signalTable.table {
                signalRelationID = relation.relationID
            }
            if signalTable != nil { actions.append(.observe(message)) }
            if translator.captures(relation) {
                awaitingCatalog = relation
                actions.append(.describe(relation))
            } else {
                try translator.describe(relation, catalog: RelationCatalog())
            }
            return
        // Signals and watermarks are Swallow's own bookkeeping: never emitted as events.
        case .insert(let insert) where signalRelationID == insert.relationID:
            positions.message(message, walStart: walStart)
            actions.append(.signal(insert, sourceLSN: walStart, position: positions.next()))
            return
        case .update(let update) where signalRelationID == update.relationID:
            return
        case .delete(let delete) where signalRelationID == delete.relationID:
            return
        case .begin(let begin):
            beginCommitMicros = PostgresTime.unixMicros(fromPostgresMicros: begin.commitTime)
            // The incremental snapshot needs each change's transaction (see `TransactionSnapshot`).
            if signalTable != nil { actions.append(.observe(message)) }
        case .insert, .update, .delete, .truncate:
            if signalTable != nil { actions.append(.observe(message)) }
        default:
            break
        }
        translated.removeAll(keepingCapacity: true)
        try translator.translate(message, walStart: walStart, eventTimeMillis: arrivalMillis, into: &translated)
        positions.message(message, walStart: walStart)
        // Moved out of `translated` one by one: each record keeps a single owner (see StreamSession).
        translated.reverse()
        while let action = translated.popLast() {
            switch consume action {
            case .openUnit:
                actions.append(.openUnit(commitTimeMicros: beginCommitMicros))
                beginCommitMicros = nil
            case .produce(var record):
                record.position = positions.next()
                actions.append(.produce(record, sourceLSN: walStart))
            case .closeUnit(let end): actions.append(.closeUnit(end))
            case .ignored(let reason): actions.append(.ignored(reason: reason, sourceLSN: walStart))
            case .skipped(let reason, let isError): actions.append(.skipped(reason: reason, isError: isError, sourceLSN: walStart))
            }
        }
        if case .commit(let commit) = message, signalTable != nil {
            actions.append(.transactionCommitted(commit.endLSN))
        }
    }

    /// The catalog's answer to `Action.describe`.
    public mutating func describe(_ relation: RelationMessage, catalog: RelationCatalog) throws(PipelineError) {
        precondition(awaitingCatalog?.relationID == relation.relationID, "no Relation message is waiting for this catalog")
        awaitingCatalog = nil
        try translator.describe(relation, catalog: catalog)
    }

    // MARK: Time and stopping

    /// Whether the status (figures and watchdog) is due for a refresh; if so, the next one is scheduled.
    public mutating func statusRefreshDue(at now: ContinuousClock.Instant) -> Bool {
        guard now >= nextStatusRefreshAt else { return false }
        nextStatusRefreshAt = now + statusRefreshInterval
        return true
    }

    /// Whether a standby status update is due: every `statusIntervalMilliseconds` (the keepalive), and
    /// whenever the confirmed position moved, at most every `confirmIntervalMilliseconds`. A prompt
    /// confirmation is what bounds the repeats after a crash: the server resends everything after the
    /// position it was last told. `confirmed` reads the confirmed position (a lock): it is called at most
    /// once per confirm interval. While the reader waits for acknowledgements (`waiting`), the keepalive
    /// goes out at least every 5 s whatever the configured interval, so the server's wal_sender_timeout
    /// (60 s by default) never fires on a live connection.
    public mutating func statusUpdateDue(at now: ContinuousClock.Instant, waiting: Bool, confirmed: () -> LSN) -> Bool {
        let interval = waiting ? min(statusIntervalMilliseconds, 5000) : statusIntervalMilliseconds
        if now - lastStatusSentAt >= .milliseconds(interval) { return true }
        guard now >= nextConfirmCheckAt else { return false }
        nextConfirmCheckAt = now + .milliseconds(confirmIntervalMilliseconds)
        return confirmed() != lastConfirmedSent
    }

    /// A standby status update confirming `confirmed` went out at `now`.
    public mutating func statusSent(at now: ContinuousClock.Instant, confirmed: LSN) {
        lastStatusSentAt = now
        lastConfirmedSent = confirmed
        nextConfirmCheckAt = now + .milliseconds(confirmIntervalMilliseconds)
    }

    /// What to do about a stop request (`stopRequested`) at `now`; `deliveryFailed`: a delivery failed
    /// since the stream started, so the transaction being read will be read again anyway.
    public mutating func stopDecision(stopRequested: Bool, deliveryFailed: Bool, now: ContinuousClock.Instant) -> StopDecision {
        guard stopRequested else { return .carryOn }
        if translator.isInTransaction, !deliveryFailed {
            if stopDeadline == nil { stopDeadline = now + .milliseconds(flushTimeoutMilliseconds) }
            if now < stopDeadline! { return .finishTransaction }
        }
        // One budget for the whole stop: what reading the last transaction to its end left of it.
        let budget = stopDeadline.map { max(0, ($0 - now).wholeMilliseconds) } ?? flushTimeoutMilliseconds
        return .stop(flushBudgetMilliseconds: budget)
    }
}

extension Duration {
    /// The duration in whole milliseconds, truncated toward zero.
    public var wholeMilliseconds: Int {
        Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}

/// Gives each record of the stream its `RecordPosition`, from WAL positions alone, so that a replay of
/// the same WAL gives every record the same position whatever the configuration filters out: the
/// transaction's commit LSN (pgoutput's Begin `final_lsn`); the change's own WAL position (the XLogData
/// start PostgreSQL sends each change at: `change->lsn`), `0/0` for the BEGIN record and all ones for END;
/// the change's ordinal among changes at the same WAL position (a multi-row insert logs one record);
/// the record's ordinal among those of one message. A non-transactional message is its own transaction.
struct StreamPositions {
    private var commitLSN: LSN?
    private var lastChangeLSN: LSN?
    private var index: UInt32 = 0
    private var base = RecordPosition(commitLSN: LSN(0), changeLSN: LSN(0), index: 0, part: 0)
    private var part: UInt16 = 0

    /// `message` arrived at `walStart`: the records it produces share its position but for `part`.
    mutating func message(_ message: PGOutputMessage, walStart: LSN) {
        part = 0
        switch message {
        case .begin(let begin):
            commitLSN = begin.finalLSN
            lastChangeLSN = nil
            base = RecordPosition(commitLSN: begin.finalLSN, changeLSN: LSN(0), index: 0, part: 0)
        case .commit(let commit):
            base = RecordPosition(commitLSN: commitLSN ?? commit.commitLSN, changeLSN: LSN(UInt64.max), index: 0, part: 0)
            commitLSN = nil
        case .message(let logical) where commitLSN == nil:
            base = RecordPosition(commitLSN: logical.lsn, changeLSN: logical.lsn, index: 0, part: 0)
        case .insert, .update, .delete, .truncate, .message:
            if walStart == lastChangeLSN {
                index &+= 1
            } else {
                index = 0
                lastChangeLSN = walStart
            }
            base = RecordPosition(commitLSN: commitLSN ?? walStart, changeLSN: walStart, index: index, part: 0)
        default:
            // Relation, Type and Origin messages produce no record, and a new session sends Relation and
            // Type messages before other changes than the last one did: they must not count.
            break
        }
    }

    /// The next record's position.
    mutating func next() -> RecordPosition {
        var position = base
        position.part = part
        part &+= 1
        return position
    }
}
