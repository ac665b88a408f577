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
/// The two meet only in `Shared`, under one lock.
public final class ReplicationPipeline: Sendable {
    /// State touched by both the reader and the producer's poll thread.
    final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var tracker = AcknowledgementTracker(confirmedLSN: .invalid)
        var fatalProducerError: KafkaError?
        var stopRequested = false

        func withLock<R>(_ body: (Shared) throws -> R) rethrows -> R {
            condition.lock()
            defer { condition.unlock() }
            return try body(self)
        }
    }

    public let settings: PipelineSettings
    private let logger: Logger
    private let shared = Shared()

    public init(settings: PipelineSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// Asks `run()` to finish: stop reading, wait (bounded) for in-flight deliveries, confirm, return.
    /// Safe to call from any thread, e.g. a signal handler's queue.
    public func stop() {
        shared.withLock {
            $0.stopRequested = true
            $0.condition.broadcast()
        }
    }

    private var stopRequested: Bool { shared.withLock { $0.stopRequested } }

    /// The position the slot may be confirmed to; for tests and status.
    public var confirmedLSN: LSN { shared.withLock { $0.tracker.confirmedLSN } }

    /// Runs until `stop()` (returns normally) or a non-retriable error (throws). Retriable failures —
    /// Postgres going away, deliveries failing during a broker outage — restart the stream from the
    /// confirmed position after a backoff.
    public func run() throws(PipelineError) {
        let shared = self.shared
        let logger = self.logger
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(
                bootstrapServers: settings.bootstrapServers, properties: settings.kafkaProperties,
                onDeliveryReports: { reports in
                    shared.withLock { state in
                        for report in reports {
                            switch report.result {
                            case .success: state.tracker.acknowledge(report.id)
                            case .failure: state.tracker.fail(report.id)
                            }
                        }
                        state.condition.broadcast()
                    }
                    for report in reports {
                        if case .failure(let error) = report.result {
                            logger.warning("delivery failed; the stream will restart from the confirmed position",
                                           metadata: ["error": "\(error)"])
                            break
                        }
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
                })
        } catch {
            throw .kafka(error)
        }
        defer { producer.close() }

        var backoff = Backoff()
        var firstSession = true
        while !stopRequested {
            do {
                try streamSession(producer: producer, firstSession: firstSession, backoff: &backoff)
                firstSession = false
                if stopRequested { break }
            } catch {
                firstSession = false
                guard error.isRetriable, !stopRequested else {
                    drain(producer)
                    throw error
                }
                let delay = backoff.next()
                logger.warning("stream interrupted, resuming from the confirmed position",
                               metadata: ["error": "\(error)", "retry_in_ms": "\(delay)",
                                          "confirmed_lsn": "\(confirmedLSN)"])
                drain(producer, untilEmpty: true)
                if let fatal = shared.withLock({ $0.fatalProducerError }) {
                    throw PipelineError(code: .producerFatal, message: "Kafka producer failed fatally: \(fatal)", isRetriable: false)
                }
                shared.withLock { $0.tracker.restart() }
                sleep(milliseconds: delay)
            }
        }
        drain(producer)
        logger.info("stopped", metadata: ["confirmed_lsn": "\(confirmedLSN)"])
    }

    /// Waits for in-flight deliveries: bounded by the flush timeout on shutdown, or until nothing is in
    /// flight before a restart (so the restart point accounts for every event sent).
    private func drain(_ producer: KafkaProducer, untilEmpty: Bool = false) {
        var remaining = producer.flush(timeoutMilliseconds: Int32(clamping: settings.flushTimeoutMilliseconds))
        while untilEmpty, remaining > 0, !stopRequested {
            logger.warning("waiting for in-flight deliveries before restarting", metadata: ["in_flight": "\(remaining)"])
            remaining = producer.flush(timeoutMilliseconds: Int32(clamping: settings.flushTimeoutMilliseconds))
        }
        if remaining > 0 {
            logger.warning("stopping with deliveries still in flight; they will be sent again on restart",
                           metadata: ["in_flight": "\(remaining)"])
        }
    }

    /// One replication connection, from connect to stop or failure.
    private func streamSession(producer: KafkaProducer, firstSession: Bool, backoff: inout Backoff) throws(PipelineError) {
        let connection: PostgresConnection
        let startPosition: LSN
        do {
            logger.info("connecting to PostgreSQL", metadata: ["target": "\(settings.connection.redactedDescription)"])
            connection = try PostgresConnection(settings.connection, replication: true)
            let system = try connection.identifySystem()
            if try connection.preparePublication(named: settings.publicationName, tables: settings.tables,
                                                 create: settings.createPublication) {
                logger.info("created publication", metadata: ["publication": "\(settings.publicationName)",
                    "tables": "\(settings.tables.isEmpty ? "all" : settings.tables.map(\.description).joined(separator: ","))"])
            }
            let slot = try connection.prepareSlot(named: settings.slotName, create: settings.createSlot)
            logger.info(slot.created ? "created replication slot" : "reusing replication slot",
                        metadata: ["slot": "\(settings.slotName)", "position": "\(slot.position)",
                                   "server_position": "\(system.walPosition)", "timeline": "\(system.timeline)"])
            startPosition = shared.withLock { state in
                if firstSession || slot.position > state.tracker.confirmedLSN {
                    state.tracker = AcknowledgementTracker(confirmedLSN: slot.position)
                }
                return state.tracker.confirmedLSN
            }
            try connection.startLogicalReplication(slot: settings.slotName, from: startPosition,
                                                   publication: settings.publicationName)
        } catch {
            throw .postgres(error)
        }
        defer { connection.close() }
        logger.info("streaming", metadata: ["slot": "\(settings.slotName)", "from": "\(startPosition)"])

        var session = StreamSession(pipeline: self, connection: connection, producer: producer,
                                    translator: StreamTranslator(topicPrefix: settings.topicPrefix,
                                                                 database: settings.connection.database,
                                                                 capturedTables: settings.tables,
                                                                 connectorVersion: settings.connectorVersion))
        try session.run(onFirstData: { backoff.reset() })
    }

    fileprivate var sharedState: Shared { shared }
    fileprivate var log: Logger { logger }

    private func sleep(milliseconds: Int) {
        let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
        shared.withLock { state in
            while !state.stopRequested, state.condition.wait(until: deadline) {}
        }
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

    init(pipeline: ReplicationPipeline, connection: PostgresConnection, producer: KafkaProducer, translator: StreamTranslator) {
        self.pipeline = pipeline
        self.connection = connection
        self.producer = producer
        self.translator = translator
    }

    var settings: PipelineSettings { pipeline.settings }
    var shared: ReplicationPipeline.Shared { pipeline.sharedState }

    mutating func run(onFirstData: () -> Void) throws(PipelineError) {
        var sawData = false
        let statusInterval = Duration.milliseconds(settings.statusIntervalMilliseconds)
        while true {
            try checkHealth()
            if shared.withLock({ $0.stopRequested }) {
                finish()
                return
            }
            if ContinuousClock.now - lastStatusSent >= statusInterval {
                try sendStatus(replyRequested: false)
            }
            let result: PostgresConnection.CopyDataResult
            do { result = try connection.readCopyData(timeoutMilliseconds: 100) } catch { throw .postgres(error) }
            guard case .data(let bytes) = result else { continue }
            let message: ReplicationMessage
            do { message = try ReplicationMessage.decode(bytes[...]) } catch { throw .decoding(error) }
            switch message {
            case .primaryKeepalive(let keepalive):
                if keepalive.walEnd > receivedLSN { receivedLSN = keepalive.walEnd }
                // Everything the server decoded before this keepalive has reached us; if it is all
                // acknowledged, the server's position is safe to confirm.
                if !translator.isInTransaction {
                    shared.withLock { $0.tracker.serverPositionWhileIdle(keepalive.walEnd) }
                }
                if keepalive.replyRequested { try sendStatus(replyRequested: false) }
            case .xLogData(let data):
                if !sawData {
                    sawData = true
                    onFirstData()
                }
                if data.walStart > receivedLSN { receivedLSN = data.walStart }
                let decoded: PGOutputMessage
                do { decoded = try PGOutputMessage.decode(data.data) } catch { throw .decoding(error) }
                actions.removeAll(keepingCapacity: true)
                try translator.translate(decoded, walStart: data.walStart, eventTimeMillis: Self.nowMillis(),
                                         into: &actions)
                for action in actions { try perform(action) }
            }
        }
    }

    private func checkHealth() throws(PipelineError) {
        let (fatal, failed) = shared.withLock { ($0.fatalProducerError, $0.tracker.failedEventID) }
        if let fatal {
            throw PipelineError(code: .producerFatal,
                                message: "Kafka producer failed fatally: \(fatal). Nothing past the confirmed position is lost; fix the cause and restart.",
                                isRetriable: false)
        }
        if failed != nil {
            throw PipelineError(code: .deliveryFailed,
                                message: "a delivery to Kafka failed (broker unavailable or rejecting writes)",
                                isRetriable: true)
        }
    }

    private mutating func perform(_ action: StreamAction) throws(PipelineError) {
        switch action {
        case .openUnit:
            shared.withLock { $0.tracker.openUnit() }
        case .closeUnit(let end):
            shared.withLock { $0.tracker.closeUnit(endLSN: end) }
        case .produce(let record):
            try waitForCapacity()
            let id = shared.withLock { $0.tracker.registerEvent() }
            do {
                try producer.produce(topic: record.topic, key: record.key, value: record.value,
                                     headers: record.headers, id: id)
            } catch {
                shared.withLock { $0.tracker.fail(id) }
                throw PipelineError(code: .kafka,
                                    message: "producing to topic \(record.topic) failed: \(error)",
                                    isRetriable: error.isRetriable)
            }
        }
    }

    /// Backpressure: while too many events await acknowledgement, stop reading (the server buffers in
    /// its WAL) but keep reporting status so the server does not time the connection out.
    private mutating func waitForCapacity() throws(PipelineError) {
        let limit = settings.maxInFlightEvents
        while true {
            let full: Bool = shared.withLock { state in
                if state.tracker.inFlightEvents < limit || state.stopRequested || state.fatalProducerError != nil
                    || state.tracker.failedEventID != nil {
                    return false
                }
                _ = state.condition.wait(until: Date().addingTimeInterval(0.5))
                return state.tracker.inFlightEvents >= limit
            }
            try checkHealth()
            guard full else { return }
            if ContinuousClock.now - lastStatusSent >= .milliseconds(settings.statusIntervalMilliseconds) {
                try sendStatus(replyRequested: false)
            }
        }
    }

    private mutating func sendStatus(replyRequested: Bool) throws(PipelineError) {
        let confirmed = shared.withLock { $0.tracker.confirmedLSN }
        let update = StandbyStatusUpdate(written: max(receivedLSN, confirmed), flushed: confirmed, applied: confirmed,
                                         clientTime: PostgresTime.postgresMicros(fromUnixMicros: Self.nowMicros()),
                                         replyRequested: replyRequested)
        do { try connection.sendCopyData(update.encode()) } catch { throw .postgres(error) }
        lastStatusSent = .now
        if confirmed != lastConfirmedSent {
            pipeline.log.debug("confirmed position", metadata: ["lsn": "\(confirmed)"])
            lastConfirmedSent = confirmed
        }
    }

    /// Clean stop: wait (bounded) for what is in flight, confirm what was acknowledged, end the stream.
    private mutating func finish() {
        let remaining = producer.flush(timeoutMilliseconds: Int32(clamping: settings.flushTimeoutMilliseconds))
        if remaining > 0 {
            pipeline.log.warning("deliveries still in flight at shutdown; they will be re-read on restart",
                                 metadata: ["in_flight": "\(remaining)"])
        }
        do {
            try sendStatus(replyRequested: false)
            connection.endCopy()
        } catch {
            pipeline.log.warning("could not send the final status", metadata: ["error": "\(error)"])
        }
    }

    static func nowMicros() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
    }

    static func nowMillis() -> Int64 { nowMicros() / 1000 }
}

/// Exponential backoff between reconnects: 0.5 s doubling to 30 s, reset once data flows again.
struct Backoff {
    private var attempt = 0
    mutating func next() -> Int {
        defer { attempt += 1 }
        return min(500 << min(attempt, 6), 30_000)
    }
    mutating func reset() { attempt = 0 }
}
