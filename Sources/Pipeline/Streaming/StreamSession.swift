import ChangeEvent
import Foundation
import Kafka
import Logging
import PGOutput
import PGReplication
import SwallowCore

/// The I/O around one replication connection's `StreamSessionMachine`: reads CopyData frames, carries
/// out the machine's actions (catalog look-ups, produce through the delivery path, units in the ledger,
/// status updates, the incremental snapshot's hooks), and ends on a stop request or a failure.
struct StreamSession {
    let pipeline: ReplicationPipeline
    let connection: PostgresConnection
    let delivery: DeliveryPath
    var machine: StreamSessionMachine
    /// Catalog lookups the decoder must not do go through a plain SQL connection: the replication
    /// connection is busy streaming.
    let catalog: CatalogReader
    /// Snapshots on demand through the signal table, when one is configured.
    let incremental: IncrementalSnapshotter?
    var actions: [StreamSessionMachine.Action] = []
    var lastConfirmedSent = LSN.invalid
    /// When the frame being handled arrived (Unix ms): its events' `ts_ms`, and the last event's time.
    var frameMillis: Int64 = 0
    /// Unix milliseconds of the frame of the last event produced, for the status.
    var lastEventMillis: Int64 = 0
    var counters = EventCounters()
    /// Topics whose metadata this session fetched ahead of librdkafka.
    var preparedTopics: Set<String> = []
    /// Tables whose topic name had characters Kafka refuses, warned about in this session.
    var renamedTopicTables: Set<UInt32> = []
    /// The highest commit position this session handed a record of to the producer (the lineage's
    /// `producedThrough`, which the pipeline is told of once per higher position).
    var producedThrough = LSN.invalid

    init(pipeline: ReplicationPipeline, connection: PostgresConnection, delivery: DeliveryPath,
         incremental: IncrementalSnapshotter?) {
        let settings = pipeline.settings
        self.pipeline = pipeline
        self.connection = connection
        self.delivery = delivery
        self.incremental = incremental
        catalog = CatalogReader(parameters: settings.connection)
        machine = StreamSessionMachine(translator: StreamTranslator(settings: settings), signalTable: settings.signalTable,
                                       statusIntervalMilliseconds: settings.statusIntervalMilliseconds,
                                       confirmIntervalMilliseconds: settings.confirmIntervalMilliseconds,
                                       flushTimeoutMilliseconds: settings.flushTimeoutMilliseconds,
                                       statusRefreshInterval: pipeline.monitor.statusRefreshInterval, now: .now)
    }

    var settings: PipelineSettings { pipeline.settings }
    var state: DeliveryState { delivery.state }
    var logger: Logger { pipeline.logger }

    mutating func run() throws(PipelineError) {
        defer { catalog.close() }
        // An incremental snapshot in progress continues from its last delivered chunk.
        if let incremental, incremental.wantsChunkRead {
            try incremental.readNextChunk(translator: &machine.translator, catalog: catalog)
        }
        while true {
            try delivery.checkHealth(snapshot: false)
            if case .stop(let budget) = decideOnStop() {
                finish(flushBudgetMilliseconds: budget)
                return
            }
            try keepStatus(waiting: false)
            var frame = try read(timeoutMilliseconds: 0)
            if case .timedOut = frame {
                // Caught up with the server: what is in the open Kafka transaction (exactly_once) should
                // not wait for more.
                try delivery.commitIfDue(.idle)
                frame = try read(timeoutMilliseconds: 100)
            }
            guard case .data(let bytes) = frame else { continue }
            actions.removeAll(keepingCapacity: true)
            frameMillis = WallClock.millis()
            try machine.receive(bytes[...], arrivalMillis: frameMillis, into: &actions)
            // Each action is moved out of the list as it is performed, so a record's bytes have one owner
            // on their way to the producer: the Avro path writes the schema id into them in place.
            actions.reverse()
            while let action = actions.popLast() { try perform(action) }
        }
    }

    /// Debezium's warning when a table's topic name needed characters replaced (`TopicName`), once per
    /// table and session.
    private mutating func warnIfTopicRenamed(_ relation: RelationMessage) {
        let table = QualifiedTableName(schema: relation.namespace, table: relation.name)
        let topic = TopicName.ofTable(schema: table.schema, table: table.table, prefix: settings.topicPrefix)
        guard topic.changed, renamedTopicTables.insert(relation.relationID).inserted else { return }
        logger.warning("the topic name of a table is not a valid Kafka topic name; its events go to the name with each invalid character replaced by _, as Debezium names it",
                       metadata: ["table": "\(table)", "topic": "\(topic.name)"])
    }

    private mutating func perform(_ action: consuming StreamSessionMachine.Action) throws(PipelineError) {
        switch consume action {
        case .reportServerPosition(let position):
            state.serverPositionReported(position)
        case .sendStatus:
            try sendStatus()
        case .describe(let relation):
            counters.forget(relationID: relation.relationID)
            logger.debug("relation described", metadata: [
                "table": "\(relation.namespace).\(relation.name)", "oid": "\(relation.relationID)",
                "replica_identity": "\(relation.replicaIdentity)", "columns": "\(relation.columns.count)"])
            // The decoder does no I/O: what the Relation message cannot say (key order, keys of FULL
            // tables, arrays, enums, domains, extension types) comes from the catalog here.
            try machine.describe(relation, catalog: try catalog.catalog(of: relation))
            warnIfTopicRenamed(relation)
        case .openUnit(let commitTime):
            state.openUnit(commitTimeMicros: commitTime)
        case .closeUnit(let end):
            state.closeUnit(endLSN: end)
        case .produce(let record, let sourceLSN):
            try produce(record, sourceLSN: sourceLSN)
        case .signal(let insert, let sourceLSN, let position):
            guard let incremental else { return }
            for record in try incremental.handleSignal(insert, at: position, translator: machine.translator) {
                try produce(record, sourceLSN: sourceLSN)
            }
            if incremental.unitsChanged, let exactlyOnce = delivery.exactlyOnce {
                exactlyOnce.expectRepeatedSnapshotUnits(incremental.takeRepeatedUnits())
            }
        case .observe(let message):
            if case .relation(let relation) = message { incremental?.observe(relation) } else { incremental?.observe(message) }
        case .ignored(let reason, let sourceLSN):
            logger.debug("replication message ignored", metadata: ["reason": "\(reason)", "lsn": "\(sourceLSN)"])
        case .skipped(let reason, let isError, let sourceLSN):
            logger.log(level: isError ? .error : .warning, "change skipped", metadata: ["reason": "\(reason)", "lsn": "\(sourceLSN)"])
        case .transactionCommitted(let end):
            guard let incremental else { return }
            incremental.transactionCommitted(at: end)
            if incremental.wantsChunkRead { try incremental.readNextChunk(translator: &machine.translator, catalog: catalog) }
        }
    }

    /// The next CopyData frame, waiting up to `timeoutMilliseconds`.
    private func read(timeoutMilliseconds: Int32) throws(PipelineError) -> PostgresConnection.CopyDataResult {
        do {
            return try connection.readCopyData(timeoutMilliseconds: timeoutMilliseconds)
        } catch {
            // The walsender reports a dropped publication when it decodes the next change.
            if error.code == .publicationMissing {
                throw .publicationLost(publication: settings.publicationName, slot: settings.slotName,
                                       confirmed: state.confirmedLSN, cause: error)
            }
            throw .postgres(error)
        }
    }

    /// One record through the delivery path, into the open unit. Backpressure: while too many events,
    /// or too many bytes for this one more, await acknowledgement, stop reading (the server buffers in
    /// its WAL) but keep serving status updates and stop requests, so the server does not time the
    /// connection out. A stop while waiting here still produces the record (its transaction is being
    /// read to its end, or the stop ends the session right after).
    private mutating func produce(_ record: consuming OutgoingRecord, sourceLSN: LSN) throws(PipelineError) {
        let limit = settings.maxInFlightEvents
        while state.streamEventsInFlight >= limit || !delivery.hasRoom(for: record) {
            guard try waitForAcknowledgements() else { break }
        }
        // Noted before the record goes out: a record that may be in Kafka must count.
        if let commit = record.position?.commitLSN, commit > producedThrough {
            producedThrough = commit
            pipeline.noteProduced(through: commit)
        }
        let id = state.registerStreamEvent()
        let kind = record.kind
        let topic = record.topic
        let bytes = (record.key?.count ?? 0) + (record.value?.count ?? 0)
        func table() -> String? { kind.relationID.flatMap { machine.translator.tableName(of: $0) } }
        let queued = try delivery.produce(record, id: id, origin: { .init(table: table(), sourceLSN: sourceLSN) },
                                          byteBoundApplied: true) { () throws(PipelineError) -> Bool in
            try waitForAcknowledgements()
        }
        guard queued else { return }
        lastEventMillis = frameMillis
        if !counters.count(kind, bytes: bytes) {
            counters.register(kind, table: table())
            _ = counters.count(kind, bytes: bytes)
            // The first record to a topic in this session: have its partitions now. Waits at most once per
            // topic per session.
            if preparedTopics.insert(topic).inserted { delivery.prepareTopic(topic) }
        }
    }

    /// Waits a little for delivery reports, sending status when due. Returns false when a stop was
    /// requested (and no transaction is being read to its end); throws on producer failure.
    private mutating func waitForAcknowledgements() throws(PipelineError) -> Bool {
        // With exactly_once, acknowledgements come with commits: waiting for room is a reason to commit.
        try delivery.commitIfDue(.idle)
        _ = state.waitForReports(until: Date().addingTimeInterval(0.1), evenWhenStopping: machine.stopDeadline != nil)
        try delivery.checkHealth(snapshot: false)
        if case .stop = decideOnStop() { return false }
        try keepStatus(waiting: true)
        return true
    }

    /// The machine's stop decision, logged the first time it reads on to the end of a transaction.
    private mutating func decideOnStop() -> StreamSessionMachine.StopDecision {
        let wasFinishing = machine.stopDeadline != nil
        // The delivery state is asked about failures only once a stop was requested: one lock per frame.
        let stopRequested = state.stopRequested
        let decision = machine.stopDecision(stopRequested: stopRequested,
                                            deliveryFailed: stopRequested && state.streamDeliveryFailed, now: .now)
        if decision == .finishTransaction, !wasFinishing {
            logger.info("stopping after the transaction being read", metadata: ["timeout_ms": "\(settings.flushTimeoutMilliseconds)"])
        }
        return decision
    }

    /// Refreshes the status and sends a standby status update when they are due.
    private mutating func keepStatus(waiting: Bool) throws(PipelineError) {
        let now = ContinuousClock.now
        if machine.statusRefreshDue(at: now) {
            pipeline.refreshStatus(delivery: delivery, stream: .init(receivedLSN: machine.receivedLSN, serverLSN: machine.serverLSN,
                                                                     lastEventMillis: lastEventMillis))
            pipeline.saveLineage()
        }
        // With delivery: exactly_once, acknowledgements are commits: the open transaction commits when due.
        try delivery.commitIfDue()
        let state = self.state
        if machine.statusUpdateDue(at: now, waiting: waiting, confirmed: { state.confirmedLSN }) { try sendStatus() }
    }

    private mutating func sendStatus() throws(PipelineError) {
        let confirmed = state.confirmedLSN
        let update = StandbyStatusUpdate(written: max(machine.receivedLSN, confirmed), flushed: confirmed, applied: confirmed,
                                         clientTime: PostgresTime.postgresMicros(fromUnixMicros: WallClock.micros()),
                                         replyRequested: false)
        do { try connection.sendCopyData(update.encode()) } catch { throw .postgres(error) }
        machine.statusSent(at: .now, confirmed: confirmed)
        try incremental?.confirmed(confirmed)
        if confirmed != lastConfirmedSent {
            logger.debug("confirmed position", metadata: ["lsn": "\(confirmed)"])
            lastConfirmedSent = confirmed
        }
        watchConfirmedPosition(confirmed)
    }

    /// Warns (and says so in the metrics) when the confirmed position stands still while the server's
    /// moves on: the slot then holds WAL without bound.
    private func watchConfirmedPosition(_ confirmed: LSN) {
        let server = machine.receivedLSN
        let observation = pipeline.positionWatch.withLock { $0.observe(confirmed: confirmed, server: server, at: ContinuousClock.now) }
        pipeline.positionGauges.record(observation)
        let seconds = observation.unchangedFor.components.seconds
        if observation.warn {
            logger.warning("the confirmed position has not moved while the server's has; the slot retains WAL until it does (check the broker, in-flight deliveries and long transactions)",
                           metadata: ["confirmed_lsn": "\(confirmed)", "server_lsn": "\(server)",
                                      "unchanged_s": "\(seconds)", "slot": "\(settings.slotName)"])
        } else if observation.recovered {
            logger.notice("the confirmed position moves again", metadata: ["confirmed_lsn": "\(confirmed)",
                                                                           "slot": "\(settings.slotName)"])
        }
    }

    /// Clean stop: wait (within the budget) for what is in flight, confirm what was acknowledged, end the
    /// stream.
    private mutating func finish(flushBudgetMilliseconds budget: Int) {
        let remaining = delivery.flush(timeoutMilliseconds: budget) {}
        if remaining > 0 {
            logger.warning("deliveries still in flight at shutdown; they will be sent again on restart",
                           metadata: ["in_flight": "\(remaining)"])
        }
        do {
            try sendStatus()
            connection.endCopy()
        } catch {
            logger.warning("could not send the final status", metadata: ["error": "\(error)"])
        }
        logger.info("stopped", metadata: ["confirmed_lsn": "\(lastConfirmedSent)"])
    }
}

extension StreamTranslator {
    /// The translator the configuration asks for, recognising this slot's heartbeat messages.
    init(settings: PipelineSettings) {
        let heartbeat = settings.heartbeat
        let records = heartbeat.intervalMilliseconds > 0 && heartbeat.emitRecord
            ? HeartbeatRecords(topicPrefix: settings.topicPrefix,
                               encoder: ChangeEventEncoder(options: EncoderOptions(events: settings.events,
                                                                                   topicPrefix: settings.topicPrefix)))
            : nil
        self.init(topicPrefix: settings.topicPrefix, database: settings.connection.database,
                  capturedTables: settings.tables, connectorVersion: settings.connectorVersion, options: settings.events,
                  heartbeat: HeartbeatMessages(slotName: settings.slotName, records: records), runID: settings.runID,
                  router: settings.topicRouting.flatMap(LogicalTableRouter.init),
                  flatten: settings.flatten, outbox: settings.outbox)
    }
}
