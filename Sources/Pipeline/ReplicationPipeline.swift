import ChangeEvent
import CoreMetrics
import Foundation
import Kafka
import Logging
import PGOutput
import PGReplication

/// Streams committed changes from the slot to Kafka until stopped, confirming the slot only up to what
/// the broker acknowledged.
///
/// Threads: `run()` blocks its caller, which becomes the replication reader (libpq calls block, so they
/// stay off Swift's shared executor); the producer owns a poll thread that delivers acknowledgements.
/// The two meet only in `Shared`, under one lock. The delivery thread never blocks while holding it.
public final class ReplicationPipeline: Sendable {
    /// State touched by both the reader and the producer's poll thread.
    final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var tracker = AcknowledgementTracker(confirmedLSN: .invalid)
        /// Chunk accounting while an initial snapshot runs; snapshot record ids are told apart by
        /// `SnapshotProgress.owns`.
        var snapshot: SnapshotProgress?
        /// The first failed delivery since the stream (re)started: decides whether a restart can help.
        var deliveryFailure: KafkaError?
        var fatalProducerError: KafkaError?
        var stopRequested = false
        /// Whether the confirmed position keeps up with the server's; fed by the reader.
        var positionWatch = ConfirmedPositionWatch(threshold: nil, now: .now)
        /// The producer while the pipeline runs: its in-flight bytes go into the status.
        var producer: KafkaProducer?

        func withLock<R>(_ body: (Shared) throws -> R) rethrows -> R {
            condition.lock()
            defer { condition.unlock() }
            return try body(self)
        }

        /// Waits `milliseconds` unless a stop is requested, calling `refresh` about every second so the
        /// status (and the watchdog) stays alive during backoffs. Returns true when a stop was requested.
        func waitUnlessStopped(milliseconds: Int, refresh: () -> Void) -> Bool {
            let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
            while Date() < deadline {
                let slice = min(deadline, Date().addingTimeInterval(1))
                let stopping = withLock { state in
                    while !state.stopRequested, state.condition.wait(until: slice) {}
                    return state.stopRequested
                }
                if stopping { return true }
                refresh()
            }
            return false
        }
    }

    public let settings: PipelineSettings
    let logger: Logger
    let shared = Shared()
    /// Status, metrics and service-manager notifications.
    public let monitor: PipelineMonitor
    /// Writes heartbeats while streaming, when `heartbeat.interval_ms` is set.
    let heartbeat: HeartbeatEmitter?
    let positionGauges: ConfirmedPositionGauges

    /// `monitor`: pass one with a ``ServiceNotifier`` to notify a service manager; by default the
    /// pipeline keeps its status and metrics only. `metricsFactory`: where the stall gauges go; the
    /// process's bootstrapped backend by default.
    public init(settings: PipelineSettings, logger: Logger, monitor: PipelineMonitor? = nil,
                metricsFactory: MetricsFactory = MetricsSystem.factory) {
        self.settings = settings
        self.logger = logger
        self.monitor = monitor ?? PipelineMonitor(slot: settings.slotName)
        heartbeat = settings.heartbeat.intervalMilliseconds > 0 ? HeartbeatEmitter(settings: settings, logger: logger) : nil
        positionGauges = ConfirmedPositionGauges(slot: settings.slotName, factory: metricsFactory)
        let threshold = settings.heartbeat.stallWarningSeconds
        shared.positionWatch = ConfirmedPositionWatch(threshold: threshold > 0 ? .seconds(threshold) : nil, now: .now)
    }

    /// Asks `run()` to finish: stop reading, wait (bounded) for in-flight deliveries, confirm, return.
    /// Safe to call from any thread, e.g. a signal handler's queue.
    public func stop() {
        let first = shared.withLock { state -> Bool in
            defer { state.stopRequested = true }
            state.condition.broadcast()
            return !state.stopRequested
        }
        if first { monitor.beginStopping() }
    }

    /// What the pipeline is doing now (for `/status`, `/readyz`).
    public var status: PipelineStatus { monitor.status }

    /// Refreshes the monitor from the shared state (and the stream loop's own figures), pinging the
    /// watchdog when due. Only the pipeline's own loops call this, about once a second: if they hang,
    /// the figures freeze and the watchdog pings stop.
    func refreshStatus(stream: PipelineMonitor.StreamFigures? = nil, snapshot: PipelineStatus.Snapshot?? = nil) {
        Self.refreshStatus(shared: shared, monitor: monitor, stream: stream, snapshot: snapshot)
    }

    static func refreshStatus(shared: Shared, monitor: PipelineMonitor, stream: PipelineMonitor.StreamFigures? = nil,
                              snapshot: PipelineStatus.Snapshot?? = nil) {
        var commitTimes: [Int64] = []
        let (confirmed, inFlight, inFlightBytes) = shared.withLock { state in
            state.tracker.takeCompletedCommitTimes(into: &commitTimes)
            return (state.tracker.confirmedLSN, state.tracker.inFlightEvents + (state.snapshot?.inFlightEvents ?? 0),
                    state.producer?.inFlightBytes ?? 0)
        }
        if !commitTimes.isEmpty { monitor.recordCommitsAcknowledged(commitTimes, nowMicros: WallClock.micros()) }
        monitor.refresh(confirmed: confirmed, inFlight: inFlight, inFlightBytes: inFlightBytes, stream: stream,
                        snapshot: snapshot)
    }

    private var stopRequested: Bool { shared.withLock { $0.stopRequested } }

    /// The position the slot may be confirmed to; for tests and status.
    public var confirmedLSN: LSN { shared.withLock { $0.tracker.confirmedLSN } }

    /// The WAL position after the newest heartbeat written; nil before the first (or without heartbeats).
    public var lastHeartbeatPosition: LSN? { heartbeat?.lastHeartbeatPosition }

    /// Runs until `stop()` (returns normally) or a non-retriable error (throws). Retriable failures —
    /// Postgres going away, deliveries failing during a broker outage — restart the stream from the
    /// confirmed position after a backoff.
    public func run() throws(PipelineError) {
        do {
            try runPipeline()
            monitor.transition(to: .stopped)
        } catch {
            monitor.transition(to: .failed, error: error.message)
            throw error
        }
    }

    private func runPipeline() throws(PipelineError) {
        let producer = try makeProducer()
        shared.withLock { $0.producer = producer }
        defer {
            shared.withLock { $0.producer = nil }
            producer.close()
        }
        defer { heartbeat?.stop() }

        var backoff = Backoff()
        /// Whether this run has found or created its slot; until then it may create it, afterwards a
        /// missing slot means data loss.
        var slotEstablished = false
        /// Whether the confirmed position was taken from the slot; the first stream does that.
        var positionAdopted = false
        var snapshotPhaseDone = false
        var systemID: String?
        while !stopRequested {
            let confirmedAtStart = confirmedLSN
            do {
                if !snapshotPhaseDone {
                    switch try prepareSlotAndSnapshot(producer: producer, systemID: &systemID) {
                    case .streamFromSlot:
                        slotEstablished = true
                    case .noSnapshotMode:
                        break
                    case .finished:
                        drain(producer)
                        if stopRequested {
                            logger.info("stopped")
                        } else {
                            logger.notice("snapshot finished; not streaming (snapshot.mode: initial_only). The slot keeps the WAL written since the snapshot: stream from it with snapshot.mode initial, or drop it (SELECT pg_drop_replication_slot('\(settings.slotName)')) if nothing will",
                                          metadata: ["slot": "\(settings.slotName)"])
                        }
                        return
                    }
                    snapshotPhaseDone = true
                }
                try streamSession(producer: producer, slotEstablished: &slotEstablished,
                                  positionAdopted: &positionAdopted, systemID: &systemID)
                return   // stopped: the session already flushed and confirmed
            } catch {
                if stopRequested, error.isRetriable { break }
                if error.code == .slotLost && settings.snapshot.mode == .whenNeeded {
                    // The changes after the confirmed position are gone: a new slot and a new snapshot
                    // bring Kafka back to the tables (Debezium's when_needed).
                    logger.warning("the replication slot was lost while streaming; snapshot.mode is when_needed, so taking a new snapshot",
                                   metadata: ["slot": "\(settings.slotName)", "cause": "\(error)"])
                    try resetForNewStream(producer)
                    snapshotPhaseDone = false
                    slotEstablished = false
                    positionAdopted = false
                    continue
                }
                guard error.isRetriable else {
                    drain(producer)
                    throw error
                }
                // Only progress proves the cause went away; a failure that repeats before anything was
                // confirmed keeps backing off.
                if confirmedLSN > confirmedAtStart { backoff.reset() }
                let delay = backoff.next()
                monitor.transition(to: .reconnecting, error: error.message)
                monitor.streamRetries.increment()
                logger.warning("stream interrupted, resuming from the confirmed position",
                               metadata: ["error": "\(error)", "retry_in_ms": "\(delay)",
                                          "confirmed_lsn": "\(confirmedLSN)"])
                try resetForNewStream(producer)
                _ = shared.waitUnlessStopped(milliseconds: delay) { refreshStatus() }
            }
        }
        drain(producer)
        logger.info("stopped", metadata: ["confirmed_lsn": "\(confirmedLSN)"])
    }

    /// Before a new stream: every delivery of the old one reported (so none is mistaken for a new one),
    /// and the tracker emptied, since the new stream sends everything after the confirmed position again.
    private func resetForNewStream(_ producer: KafkaProducer) throws(PipelineError) {
        drain(producer, untilEmpty: true)
        if let fatal = shared.withLock({ $0.fatalProducerError }) { throw Self.producerFatal(fatal) }
        shared.withLock {
            $0.tracker.restart()
            $0.deliveryFailure = nil
        }
    }

    /// Buffers the delivery thread reuses from one batch of reports to the next.
    final class DeliveryScratch: @unchecked Sendable {
        var latencies: [Int64] = []
        var commitTimes: [Int64] = []
    }

    private func makeProducer() throws(PipelineError) -> KafkaProducer {
        let shared = self.shared
        let logger = self.logger
        let monitor = self.monitor
        let scratch = DeliveryScratch()
        do {
            return try KafkaProducer(
                bootstrapServers: settings.bootstrapServers, properties: settings.kafkaProperties,
                secretProperties: settings.kafkaSecretProperties,
                onDeliveryReports: { reports in
                    var firstFailure: KafkaError?
                    var failures = 0
                    scratch.latencies.removeAll(keepingCapacity: true)
                    for report in reports {
                        if let latency = report.latencyMicroseconds { scratch.latencies.append(latency) }
                    }
                    shared.withLock { state in
                        for report in reports {
                            let isSnapshotRecord = SnapshotProgress.owns(report.id)
                            switch report.result {
                            case .success:
                                if isSnapshotRecord { state.snapshot?.acknowledge(report.id) } else { state.tracker.acknowledge(report.id) }
                            case .failure(let error):
                                failures += 1
                                if isSnapshotRecord { state.snapshot?.fail(report.id) } else { state.tracker.fail(report.id) }
                                if state.deliveryFailure == nil {
                                    state.deliveryFailure = error
                                    firstFailure = error
                                }
                            }
                        }
                        state.tracker.takeCompletedCommitTimes(into: &scratch.commitTimes)
                        state.condition.broadcast()
                    }
                    monitor.recordDeliveries(failures: failures, latenciesMicros: scratch.latencies)
                    if !scratch.commitTimes.isEmpty {
                        monitor.recordCommitsAcknowledged(scratch.commitTimes, nowMicros: WallClock.micros())
                        scratch.commitTimes.removeAll(keepingCapacity: true)
                    }
                    if let firstFailure {
                        monitor.recordError("\(firstFailure)")
                        logger.warning("delivery to Kafka failed; nothing past the confirmed position will be confirmed",
                                       metadata: ["error": "\(firstFailure)"])
                    }
                },
                onFatalError: { error in
                    shared.withLock { state in
                        state.fatalProducerError = error
                        state.condition.broadcast()
                    }
                },
                logHandler: { level, facility, message in
                    let text: Logger.Message = "librdkafka \(facility): \(message)"
                    switch level {
                    case ...3: logger.error(text)
                    case 4: logger.warning(text)
                    case 5...6: logger.info(text)
                    default: logger.debug(text)
                    }
                },
                // Everything after a failed delivery is sent again from the confirmed position: nothing
                // queued behind it may reach Kafka first, or a key's events would arrive out of order.
                purgeUnsentAfterFailure: true)
        } catch {
            throw .kafka(error)
        }
    }

    static func producerFatal(_ error: KafkaError) -> PipelineError {
        PipelineError(code: .producerFatal,
                      message: "Kafka producer failed fatally: \(error). Nothing past the confirmed position is lost; fix the cause and restart.",
                      isRetriable: false)
    }

    /// Waits for in-flight deliveries: bounded by the flush timeout on shutdown, or until nothing is in
    /// flight before a restart (so the restart point accounts for every event sent).
    private func drain(_ producer: KafkaProducer, untilEmpty: Bool = false) {
        var remaining = flush(producer, timeoutMilliseconds: settings.flushTimeoutMilliseconds)
        if untilEmpty, remaining > 0 {
            logger.warning("waiting for in-flight deliveries before restarting", metadata: ["in_flight": "\(remaining)"])
            while remaining > 0, !stopRequested {
                remaining = flush(producer, timeoutMilliseconds: max(settings.flushTimeoutMilliseconds, 1000))
            }
        }
        if remaining > 0 {
            logger.warning("stopping with deliveries still in flight; they will be sent again on restart",
                           metadata: ["in_flight": "\(remaining)"])
        }
    }

    /// `producer.flush` in slices of at most a second, with a status refresh between them; returns what is
    /// still in flight.
    func flush(_ producer: KafkaProducer, timeoutMilliseconds: Int) -> Int {
        let deadline = ContinuousClock.now + .milliseconds(timeoutMilliseconds)
        while true {
            let left = deadline - ContinuousClock.now
            let slice = min(1000, max(0, left.wholeMilliseconds))
            let remaining = Int(producer.flush(timeoutMilliseconds: Int32(slice)))
            refreshStatus()
            if remaining == 0 || ContinuousClock.now >= deadline { return remaining }
        }
    }

    /// One replication connection, from connect to stop or failure.
    private func streamSession(producer: KafkaProducer, slotEstablished: inout Bool, positionAdopted: inout Bool,
                               systemID: inout String?) throws(PipelineError) {
        let (connection, startPosition) = try openStream(slotEstablished: &slotEstablished, positionAdopted: &positionAdopted,
                                                         systemID: &systemID)
        defer { connection.close() }
        monitor.transition(to: .streaming)
        logger.info("streaming", metadata: ["slot": "\(settings.slotName)", "from": "\(startPosition)"])
        heartbeat?.start()
        // Each stream reloads the incremental snapshot's progress as of the confirmed position, which is
        // where the new stream starts.
        let incremental = try settings.signalTable.map { table throws(PipelineError) in
            try IncrementalSnapshotter(signalTable: table, settings: settings, logger: logger)
        }
        defer { incremental?.close() }
        var session = StreamSession(pipeline: self, connection: connection, producer: producer,
                                    translator: StreamTranslator(topicPrefix: settings.topicPrefix,
                                                                 database: settings.connection.database,
                                                                 capturedTables: settings.tables,
                                                                 connectorVersion: settings.connectorVersion,
                                                                 options: settings.events),
                                    incremental: incremental)
        try session.run()
    }

    /// Connects, checks the server, publication and slot, and starts replication from the confirmed
    /// position. (The connection closes itself when dropped on an error path.)
    private func openStream(slotEstablished: inout Bool, positionAdopted: inout Bool,
                            systemID: inout String?) throws(PipelineError) -> (PostgresConnection, LSN) {
        let firstSession = !slotEstablished
        let (connection, system) = try connectWalsender(systemID: &systemID)

        // Like the slot, the publication may be created only when Swallow starts: decoding the changes
        // made while it was missing fails even after it is re-created (PostgreSQL reads each change with
        // the catalog of its time), and one re-created with other tables would silently skip changes.
        do {
            try preparePublication(connection, mayCreate: firstSession)
        } catch {
            if error.code == .publicationMissing && !firstSession {
                throw .publicationLost(publication: settings.publicationName, slot: settings.slotName,
                                       confirmed: confirmedLSN, cause: error)
            }
            throw .postgres(error)
        }
        let slot: (position: LSN, created: Bool)
        do {
            // A slot may be created only when Swallow starts: one that disappears while it runs would
            // otherwise be re-created at the current position, silently skipping everything in between.
            let mayCreate = settings.createSlot && firstSession
            if mayCreate {
                logger.info("checking replication slot (creating one waits for transactions in progress to end)",
                            metadata: ["slot": "\(settings.slotName)"])
            }
            slot = try connection.prepareSlot(named: settings.slotName, create: mayCreate)
        } catch {
            if error.code == .slotMissing && !firstSession {
                throw PipelineError(code: .slotLost,
                                    message: "replication slot \"\(settings.slotName)\" disappeared while Swallow was streaming (dropped, or a failover to a server without it); changes after \(confirmedLSN) may not be in Kafka. Swallow does not re-create it silently: restart Swallow to create the slot and snapshot the tables again (or set snapshot.mode: when_needed to have it do so)",
                                    isRetriable: false)
            }
            if error.code == .slotInvalidated && !firstSession {
                throw PipelineError(code: .slotLost,
                                    message: "replication slot \"\(settings.slotName)\" was invalidated while Swallow was streaming: the server removed WAL it still needed (max_slot_wal_keep_size), so changes after \(confirmedLSN) are gone. Drop the slot (SELECT pg_drop_replication_slot('\(settings.slotName)')) and restart Swallow to snapshot the tables again, or set snapshot.mode: when_needed; raise max_slot_wal_keep_size to avoid this",
                                    isRetriable: false)
            }
            throw .postgres(error)
        }
        logger.info(slot.created ? "created replication slot" : "reusing replication slot",
                    metadata: ["slot": "\(settings.slotName)", "position": "\(slot.position)",
                               "server_position": "\(system.walPosition)", "timeline": "\(system.timeline)"])

        let adopt = !positionAdopted
        let confirmed = shared.withLock { state -> LSN in
            if adopt { state.tracker.restart(from: slot.position) }
            return state.tracker.confirmedLSN
        }
        slotEstablished = true
        positionAdopted = true
        if slot.position > confirmed {
            // We never confirm past our own position, so somebody else advanced the slot.
            throw PipelineError(code: .postgres,
                                message: "replication slot \"\(settings.slotName)\" was advanced to \(slot.position) by another client while Swallow had confirmed only \(confirmed); the changes in between were not delivered. Give Swallow a slot of its own, then re-snapshot",
                                isRetriable: false)
        }
        do {
            try connection.startLogicalReplication(slot: settings.slotName, from: confirmed,
                                                   publication: settings.publicationName)
        } catch {
            throw .postgres(error)
        }
        return (connection, confirmed)
    }

    /// A walsender connection to the configured server, checked to be the same cluster as before.
    func connectWalsender(systemID: inout String?) throws(PipelineError) -> (PostgresConnection, SystemIdentification) {
        logger.info("connecting to PostgreSQL", metadata: ["target": "\(settings.connection.redactedDescription)"])
        let connection: PostgresConnection
        let system: SystemIdentification
        do {
            connection = try PostgresConnection(settings.connection, replication: true)
            system = try connection.identifySystem()
        } catch {
            throw .postgres(error)
        }
        if let known = systemID, known != system.systemID {
            throw PipelineError(code: .postgres,
                                message: "the server's system identifier changed from \(known) to \(system.systemID) (a different cluster, e.g. after a failover); its slot does not continue this stream. Check what happened, then restart Swallow (a new snapshot may be needed)",
                                isRetriable: false)
        }
        systemID = system.systemID
        return (connection, system)
    }

    /// Checks the publication, and creates it when `publication.create` and `mayCreate` allow.
    func preparePublication(_ connection: PostgresConnection, mayCreate: Bool = true) throws(ReplicationError) {
        var tables = settings.tables
        if let signal = settings.signalTable {
            if try !connection.tableExists(signal) {
                throw ReplicationError(
                    code: .tableMissing, message: "the signal table \(signal) (snapshot.signal_table) does not exist",
                    hint: "CREATE TABLE \(signal) (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)), or remove snapshot.signal_table")
            }
            // Signals arrive through the stream, so the publication must carry the signal table.
            if !tables.isEmpty && !tables.contains(signal) { tables.append(signal) }
        }
        if try connection.preparePublication(named: settings.publicationName, tables: tables,
                                             create: settings.createPublication && mayCreate) {
            logger.info("created publication", metadata: ["publication": "\(settings.publicationName)",
                "tables": "\(settings.tables.isEmpty ? "all" : settings.tables.map(\.description).joined(separator: ","))"])
        }
    }

    /// Whether an event of `adding` bytes may be produced with `inFlight` bytes awaiting acknowledgement:
    /// within `limit`, or alone (an event larger than the limit goes once nothing else is in flight,
    /// rather than never).
    static func hasByteRoom(inFlight: Int, adding: Int, limit: Int) -> Bool {
        inFlight == 0 || inFlight + adding <= limit
    }
}

/// The reader loop of one replication connection.
private struct StreamSession {
    let pipeline: ReplicationPipeline
    let connection: PostgresConnection
    let producer: KafkaProducer
    var translator: StreamTranslator
    var actions: [StreamAction] = []
    /// The highest WAL position received, reported as `write` in status updates.
    var receivedLSN = LSN.invalid
    var lastStatusSent = ContinuousClock.now
    var lastConfirmedSent = LSN.invalid
    /// Catalog lookups the decoder must not do go through a plain SQL connection: the replication
    /// connection is busy streaming.
    let catalog: CatalogReader
    /// Snapshots on demand through the signal table, when one is configured.
    let incremental: IncrementalSnapshotter?
    /// Heartbeat records for Kafka, when heartbeats are on and `heartbeat.emit_record` is set.
    let heartbeatRecords: HeartbeatRecords?
    /// The content of this slot's heartbeat messages (the slot name); other instances' are only skipped.
    let heartbeatContent: [UInt8]
    /// The server's WAL end, from keepalives and XLogData headers: the lag is measured against it.
    var serverLSN = LSN.invalid
    /// When the message being handled arrived (Unix ms): events' `ts_ms`, and the last event's time.
    var messageMillis: Int64 = 0
    var lastEventMillis: Int64 = 0
    /// The commit time of the transaction whose Begin is being handled, for its unit.
    var beginCommitMicros: Int64?
    var nextStatusRefresh = ContinuousClock.now
    var counters = EventCounters()
    /// The WAL position of the message being handled, for dead-letter headers and errors.
    var messageLSN: LSN?
    /// Set at a stop request that came mid-transaction: until when the transaction may still be read.
    var stopDeadline: ContinuousClock.Instant?
    let oversized: OversizedEventHandling
    /// Topics whose metadata this session fetched ahead of librdkafka (`KafkaProducer.prepareTopic`).
    var preparedTopics: Set<String> = []

    init(pipeline: ReplicationPipeline, connection: PostgresConnection, producer: KafkaProducer, translator: StreamTranslator,
         incremental: IncrementalSnapshotter?) {
        self.pipeline = pipeline
        self.connection = connection
        self.producer = producer
        self.translator = translator
        self.catalog = CatalogReader(parameters: pipeline.settings.connection)
        self.incremental = incremental
        oversized = OversizedEventHandling(settings: pipeline.settings)
        let heartbeat = pipeline.settings.heartbeat
        heartbeatRecords = heartbeat.intervalMilliseconds > 0 && heartbeat.emitRecord
            ? HeartbeatRecords(topicPrefix: pipeline.settings.topicPrefix,
                               encoder: ChangeEventEncoder(options: EncoderOptions(events: pipeline.settings.events,
                                                                                   topicPrefix: pipeline.settings.topicPrefix)))
            : nil
        heartbeatContent = Array(pipeline.settings.slotName.utf8)
    }

    var settings: PipelineSettings { pipeline.settings }
    var shared: ReplicationPipeline.Shared { pipeline.shared }
    /// Status goes out at least every 5 s while the reader waits, whatever the configured interval, so
    /// the server's wal_sender_timeout (60 s by default) never fires on a live connection.
    var statusInterval: Duration { .milliseconds(settings.statusIntervalMilliseconds) }
    var waitingStatusInterval: Duration { .milliseconds(min(settings.statusIntervalMilliseconds, 5000)) }

    mutating func run() throws(PipelineError) {
        defer { catalog.close() }
        // An incremental snapshot in progress continues from its last delivered chunk.
        if let incremental, incremental.wantsChunkRead {
            try incremental.readNextChunk(translator: &translator, catalog: catalog)
        }
        while true {
            try checkHealth()
            if shared.withLock({ $0.stopRequested }), !keepsReadingToFinishTheTransaction() {
                finish()
                return
            }
            let now = ContinuousClock.now
            if now >= nextStatusRefresh { refreshStatus(now) }
            if now - lastStatusSent >= statusInterval {
                try sendStatus()
            }
            let result: PostgresConnection.CopyDataResult
            do {
                result = try connection.readCopyData(timeoutMilliseconds: 100)
            } catch {
                // The walsender reports a dropped publication when it decodes the next change.
                if error.code == .publicationMissing {
                    throw .publicationLost(publication: settings.publicationName, slot: settings.slotName,
                                           confirmed: shared.withLock { $0.tracker.confirmedLSN }, cause: error)
                }
                throw .postgres(error)
            }
            guard case .data(let bytes) = result else { continue }
            let message: ReplicationMessage
            do { message = try ReplicationMessage.decode(bytes[...]) } catch { throw .decoding(error) }
            switch message {
            case .primaryKeepalive(let keepalive):
                if keepalive.walEnd > receivedLSN { receivedLSN = keepalive.walEnd }
                if keepalive.walEnd > serverLSN { serverLSN = keepalive.walEnd }
                // Everything the server decoded before this keepalive has reached us: its position is
                // confirmed once all of that is acknowledged (at once when nothing is outstanding).
                shared.withLock { $0.tracker.serverPositionReported(keepalive.walEnd) }
                if keepalive.replyRequested { try sendStatus() }
            case .xLogData(let data):
                if data.walStart > receivedLSN { receivedLSN = data.walStart }
                if data.walEnd > serverLSN { serverLSN = data.walEnd }
                messageMillis = Self.nowMillis()
                messageLSN = data.walStart
                let decoded: PGOutputMessage
                do { decoded = try PGOutputMessage.decode(data.data) } catch { throw .decoding(error) }
                if case .message(let message) = decoded, message.prefix == HeartbeatEmitter.messagePrefix {
                    try heartbeatArrived(message)
                    continue
                }
                if let incremental {
                    switch decoded {
                    case .relation(let relation):
                        incremental.observe(relation)
                    case .insert(let insert) where incremental.isSignal(insert.relationID):
                        // Signals and watermarks are Swallow's own bookkeeping: never emitted as events.
                        for record in try incremental.handleSignal(insert, translator: translator) {
                            try perform(.produce(record))
                        }
                        continue
                    case .update(let update) where incremental.isSignal(update.relationID):
                        continue
                    case .delete(let delete) where incremental.isSignal(delete.relationID):
                        continue
                    default:
                        incremental.observe(decoded)
                    }
                }
                if case .begin(let begin) = decoded {
                    beginCommitMicros = PostgresTime.unixMicros(fromPostgresMicros: begin.commitTime)
                }
                if case .relation(let relation) = decoded {
                    counters.forget(relationID: relation.relationID)
                    pipeline.logger.debug("relation described", metadata: [
                        "table": "\(relation.namespace).\(relation.name)", "oid": "\(relation.relationID)",
                        "replica_identity": "\(relation.replicaIdentity)", "columns": "\(relation.columns.count)"])
                    // The decoder does no I/O: what the Relation message cannot say (key order, keys of
                    // FULL tables, arrays, enums, domains, extension types) comes from the catalog here.
                    if translator.captures(relation) {
                        try catalog.describe(relation, details: try catalog.details(of: relation.relationID), to: &translator)
                    }
                }
                actions.removeAll(keepingCapacity: true)
                try translator.translate(decoded, walStart: data.walStart, eventTimeMillis: messageMillis,
                                         into: &actions)
                for action in actions { try perform(action) }
                if let incremental, case .commit(let commit) = decoded {
                    incremental.transactionCommitted(at: commit.endLSN)
                    if incremental.wantsChunkRead { try incremental.readNextChunk(translator: &translator, catalog: catalog) }
                }
            }
        }
    }

    /// On a stop request in the middle of a transaction, reading goes on to its commit (within
    /// `kafka.flush_timeout_ms`, which then also bounds the final wait for deliveries): the slot can only be confirmed at transaction ends, so a transaction
    /// left half produced would be sent again whole after the restart, and its first events twice. The
    /// rest of it is already decoded on the server (pgoutput v1 sends a transaction after its commit).
    /// Not after a failed delivery: that transaction will be read again anyway.
    private mutating func keepsReadingToFinishTheTransaction() -> Bool {
        guard translator.isInTransaction, shared.withLock({ $0.tracker.failedEventID == nil }) else { return false }
        let now = ContinuousClock.now
        if stopDeadline == nil {
            stopDeadline = now + .milliseconds(settings.flushTimeoutMilliseconds)
            pipeline.logger.info("stopping after the transaction being read", metadata: ["timeout_ms": "\(settings.flushTimeoutMilliseconds)"])
        }
        return now < stopDeadline!
    }

    /// A heartbeat message came back through the stream: never a change event. Standing alone (as
    /// Swallow writes it) it is a unit of its own, with this slot's heartbeat record when that is on, so
    /// the slot is confirmed past it once the record is acknowledged. One written inside a transaction
    /// (by hand) belongs to that transaction and is dropped.
    private mutating func heartbeatArrived(_ message: LogicalDecodingMessage) throws(PipelineError) {
        guard !message.isTransactional, !translator.isInTransaction else { return }
        try perform(.openUnit)
        if let heartbeatRecords, message.content.elementsEqual(heartbeatContent) {
            try perform(.produce(heartbeatRecords.record(timestampMillis: Self.nowMillis())))
        }
        try perform(.closeUnit(message.lsn))
    }

    private func checkHealth() throws(PipelineError) {
        let (fatal, failure) = shared.withLock { ($0.fatalProducerError, $0.deliveryFailure) }
        if let fatal { throw ReplicationPipeline.producerFatal(fatal) }
        if let failure {
            if OversizedEventHandling.isOversized(failure) { throw oversized.brokerRefusal(failure, snapshot: false) }
            throw PipelineError(code: .deliveryFailed,
                                message: failure.isRetriable
                                    ? "a delivery to Kafka failed (\(failure)); resuming from the confirmed position"
                                    : "Kafka refused an event (\(failure)); nothing past the confirmed position is lost. Fix the cause (topic permissions, message.max.bytes...) and restart",
                                isRetriable: failure.isRetriable)
        }
    }

    private mutating func perform(_ action: StreamAction) throws(PipelineError) {
        switch action {
        case .openUnit:
            let commitTime = beginCommitMicros
            beginCommitMicros = nil
            shared.withLock { $0.tracker.openUnit(commitTimeMicros: commitTime) }
        case .closeUnit(let end):
            shared.withLock { $0.tracker.closeUnit(endLSN: end) }
        case .produce(var record):
            try waitForCapacity(bytes: KafkaProducer.messageBytes(key: record.key, value: record.value, headers: record.headers))
            let id = shared.withLock { $0.tracker.registerEvent() }
            while true {
                do {
                    try producer.produce(topic: record.topic, key: record.key, value: record.value,
                                         headers: record.headers, id: id, blockWhenQueueFull: false)
                    lastEventMillis = messageMillis
                    let bytes = (record.key?.count ?? 0) + (record.value?.count ?? 0)
                    if !counters.count(record.kind, bytes: bytes) {
                        counters.register(record.kind, table: record.kind.relationID.flatMap { translator.tableName(of: $0) })
                        _ = counters.count(record.kind, bytes: bytes)
                        // The first record to a topic in this session: have its partitions now rather than
                        // at librdkafka's next once-a-second scan (commit-to-ack p99 was 1 s from this alone
                        // in the steady benchmark's first second). Waits at most once per topic per session.
                        if preparedTopics.insert(record.topic).inserted {
                            producer.prepareTopic(record.topic, timeoutMilliseconds: 1000)
                        }
                    }
                    return
                } catch where error.code == .queueFull {
                    // librdkafka's byte bound is reached before ours: wait for acknowledgements here,
                    // where status updates and stop requests are still served.
                    if try !waitForAcknowledgements() {
                        shared.withLock { $0.tracker.fail(id) }   // stopping: this event was never sent
                        return
                    }
                } catch where OversizedEventHandling.isOversized(error) {
                    do throws(PipelineError) {
                        record = try oversized.replacement(
                            for: record, refusal: error, table: record.kind.relationID.flatMap { translator.tableName(of: $0) },
                            sourceLSN: messageLSN, logger: pipeline.logger)
                    } catch {
                        shared.withLock { $0.tracker.fail(id) }
                        throw error
                    }
                } catch {
                    shared.withLock { $0.tracker.fail(id) }
                    throw PipelineError(code: .kafka,
                                        message: "producing to topic \(record.topic) failed: \(error)",
                                        isRetriable: error.isRetriable)
                }
            }
        }
    }

    /// Backpressure: while too many events, or too many bytes for one more of `bytes`, await
    /// acknowledgement, stop reading (the server buffers in its WAL) but keep reporting status so the
    /// server does not time the connection out.
    private mutating func waitForCapacity(bytes: Int) throws(PipelineError) {
        let limit = settings.maxInFlightEvents
        let byteLimit = settings.maxInFlightBytes
        while shared.withLock({ $0.tracker.inFlightEvents >= limit })
                || !ReplicationPipeline.hasByteRoom(inFlight: producer.inFlightBytes, adding: bytes, limit: byteLimit) {
            guard try waitForAcknowledgements() else { return }
        }
    }

    /// Waits a little for delivery reports, sending status when due. Returns false when a stop was
    /// requested (and no transaction is being read to its end); throws on producer failure.
    private mutating func waitForAcknowledgements() throws(PipelineError) -> Bool {
        let finishingTransaction = stopDeadline != nil
        let stopping = shared.withLock { state in
            if !state.stopRequested || finishingTransaction {
                _ = state.condition.wait(until: Date().addingTimeInterval(0.1))
            }
            return state.stopRequested
        }
        try checkHealth()
        if stopping, !keepsReadingToFinishTheTransaction() { return false }
        let now = ContinuousClock.now
        if now >= nextStatusRefresh { refreshStatus(now) }
        if now - lastStatusSent >= waitingStatusInterval { try sendStatus() }
        return true
    }

    private mutating func refreshStatus(_ now: ContinuousClock.Instant) {
        nextStatusRefresh = now + pipeline.monitor.statusRefreshInterval
        pipeline.refreshStatus(stream: .init(receivedLSN: receivedLSN, serverLSN: serverLSN, lastEventMillis: lastEventMillis))
    }

    private mutating func sendStatus() throws(PipelineError) {
        let confirmed = shared.withLock { $0.tracker.confirmedLSN }
        let update = StandbyStatusUpdate(written: max(receivedLSN, confirmed), flushed: confirmed, applied: confirmed,
                                         clientTime: PostgresTime.postgresMicros(fromUnixMicros: Self.nowMicros()),
                                         replyRequested: false)
        do { try connection.sendCopyData(update.encode()) } catch { throw .postgres(error) }
        lastStatusSent = .now
        try incremental?.confirmed(confirmed)
        if confirmed != lastConfirmedSent {
            pipeline.logger.debug("confirmed position", metadata: ["lsn": "\(confirmed)"])
            lastConfirmedSent = confirmed
        }
        watchConfirmedPosition(confirmed)
    }

    /// Warns (and says so in the metrics) when the confirmed position stands still while the server's
    /// moves on: the slot then holds WAL without bound.
    private func watchConfirmedPosition(_ confirmed: LSN) {
        let server = receivedLSN
        let observation = shared.withLock { $0.positionWatch.observe(confirmed: confirmed, server: server, at: .now) }
        pipeline.positionGauges.record(observation)
        let seconds = observation.unchangedFor.components.seconds
        if observation.warn {
            pipeline.logger.warning("the confirmed position has not moved while the server's has; the slot retains WAL until it does (check the broker, in-flight deliveries and long transactions)",
                                 metadata: ["confirmed_lsn": "\(confirmed)", "server_lsn": "\(server)",
                                            "unchanged_s": "\(seconds)", "slot": "\(settings.slotName)"])
        } else if observation.recovered {
            pipeline.logger.notice("the confirmed position moves again", metadata: ["confirmed_lsn": "\(confirmed)",
                                                                                "slot": "\(settings.slotName)"])
        }
    }

    /// Clean stop: wait (bounded) for what is in flight, confirm what was acknowledged, end the stream.
    private mutating func finish() {
        // One budget for the whole stop: what reading the last transaction to its end left of it.
        var budget = settings.flushTimeoutMilliseconds
        if let stopDeadline {
            budget = max(0, (stopDeadline - ContinuousClock.now).wholeMilliseconds)
        }
        let remaining = producer.flush(timeoutMilliseconds: Int32(clamping: budget))
        if remaining > 0 {
            pipeline.logger.warning("deliveries still in flight at shutdown; they will be sent again on restart",
                                 metadata: ["in_flight": "\(remaining)"])
        }
        do {
            try sendStatus()
            connection.endCopy()
        } catch {
            pipeline.logger.warning("could not send the final status", metadata: ["error": "\(error)"])
        }
        pipeline.logger.info("stopped", metadata: ["confirmed_lsn": "\(lastConfirmedSent)"])
    }

    static func nowMicros() -> Int64 { WallClock.micros() }
    static func nowMillis() -> Int64 { WallClock.millis() }
}

/// Wall-clock time for event timestamps (`ts_ms`) and status updates.
enum WallClock {
    static func micros() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
    }

    static func millis() -> Int64 { micros() / 1000 }
}

/// Exponential backoff between reconnects: 0.5 s doubling to 30 s, reset once the stream made progress.
struct Backoff {
    private var attempt = 0
    mutating func next() -> Int {
        defer { attempt += 1 }
        return min(500 << min(attempt, 6), 30_000)
    }
    mutating func reset() { attempt = 0 }
}

extension Duration {
    /// The duration in whole milliseconds, truncated toward zero.
    public var wholeMilliseconds: Int {
        Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
