import Foundation
import Kafka
import Logging
import PGOutput
import SwallowCore

/// The one way a record reaches Kafka, for the stream, both snapshots and heartbeats alike: produce with
/// backpressure (the in-flight byte bound), oversized-record handling (`kafka.oversized_events`) and
/// retry when librdkafka's queue is full; delivery reports routed to their owner by `DeliveryID`
/// (`DeliveryState` settles them in its `DeliveryLedger`); flushing, and the mapping of failed
/// deliveries to the pipeline's errors.
///
/// Owns the producer: made in `init`, closed by `close()` (and by the producer's own `deinit`).
final class DeliveryPath: Sendable {
    let state: DeliveryState
    private let producer: KafkaProducer
    private let oversized: OversizedEventHandling
    private let maxInFlightBytes: Int
    private let flushTimeoutMilliseconds: Int
    private let logger: Logger
    private let monitor: PipelineMonitor
    /// With `delivery: exactly_once`: the transactions, partitions and resume skips.
    let exactlyOnce: ExactlyOnceDelivery?
    /// With `events.format: avro`: keys and values to Avro, schemas registered before their first record.
    private let avro: AvroSerialization?
    /// With `topic_creation`: each topic created before its first record.
    private let topicCreator: TopicCreator?

    init(settings: PipelineSettings, state: DeliveryState, monitor: PipelineMonitor, logger: Logger) throws(PipelineError) {
        self.state = state
        self.logger = logger
        self.monitor = monitor
        oversized = OversizedEventHandling(settings: settings)
        avro = settings.events.format == .avro ? settings.schemaRegistry.map { AvroSerialization(settings: $0, logger: logger) } : nil
        maxInFlightBytes = settings.maxInFlightBytes
        flushTimeoutMilliseconds = settings.flushTimeoutMilliseconds
        let scratch = ReportScratch()
        do {
            producer = try KafkaProducer(
                bootstrapServers: settings.bootstrapServers, properties: settings.kafkaProperties,
                secretProperties: settings.kafkaSecretProperties,
                transactionalID: settings.delivery == .exactlyOnce ? settings.transactionalID : nil,
                onDeliveryReports: { reports in
                    scratch.latencies.removeAll(keepingCapacity: true)
                    for report in reports {
                        if let latency = report.latencyMicroseconds { scratch.latencies.append(latency) }
                    }
                    let (firstFailure, failures) = state.settle(reports, completedCommitTimes: &scratch.commitTimes)
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
                onFatalError: { error in state.producerFailed(error) },
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
        topicCreator = try TopicCreator(settings: settings, logger: logger)
        exactlyOnce = settings.delivery == .exactlyOnce
            ? try ExactlyOnceDelivery(producer: producer, streamID: settings.transactionalID, settings: settings, logger: logger)
            : nil
    }

    /// Buffers the delivery thread reuses from one batch of reports to the next.
    private final class ReportScratch: @unchecked Sendable {
        // @unchecked: only the producer's single poll thread touches these.
        var latencies: [Int64] = []
        var commitTimes: [Int64] = []
    }

    func close() {
        exactlyOnce?.close()
        topicCreator?.close()
        producer.close()
    }

    /// Bytes handed to the producer and not yet reported on.
    var inFlightBytes: Int { producer.inFlightBytes }

    // MARK: Producing

    /// Where a record came from, for dead-letter headers and error messages (never its contents).
    struct Origin {
        /// `schema.table`; nil for Swallow's own records.
        var table: String?
        /// The WAL position of the change; nil for initial-snapshot rows.
        var sourceLSN: LSN?
    }

    /// Produces `record` under `id` (registered with its owner). While there is no room — the in-flight
    /// byte bound (unless the caller applied it before registering: `byteBoundApplied`), or librdkafka's
    /// queue — calls `wait`, which waits a little for reports and returns
    /// false to give up (the record is then abandoned and false returned); an error `wait` throws is
    /// passed on with the record still registered (a restart forgets it). A record the producer refuses
    /// as too large is replaced as `kafka.oversized_events` says, under the same id: `origin` names it in
    /// the dead letter and the error (asked only then). Returns true once the record (or its
    /// replacement) is queued.
    func produce(_ record: consuming OutgoingRecord, id: DeliveryID, origin: () -> Origin, byteBoundApplied: Bool = false,
                 wait: () throws(PipelineError) -> Bool) throws(PipelineError) -> Bool {
        var record = consume record
        if let topicCreator {
            // Before anything names the topic to the cluster (exactly_once reads its tail; a broker or the
            // mock may auto-create a topic a metadata request names).
            do {
                try topicCreator.ensure(record.topic)
            } catch {
                state.abandon(id)
                throw error
            }
        }
        if let avro {
            // Before anything else: the partition (exactly_once), the size and the dead letter all
            // concern the bytes Kafka gets.
            do {
                guard try avro.serialize(&record, table: { origin().table }, shouldStop: { state.stopRequested }) else {
                    state.abandon(id)
                    return false
                }
            } catch {
                state.abandon(id)
                throw error
            }
        }
        var headers = record.kafkaHeaders
        var partition: Int32?
        // exactly_once: produced after `headers`, its value written only while the producer copies it.
        var positionHeader: RecordPosition.Header?
        if let exactlyOnce {
            let placement: ExactlyOnceDelivery.Placement?
            do {
                placement = try exactlyOnce.place(record)
            } catch {
                state.abandon(id)
                throw error
            }
            switch placement {
            case nil:
                break
            case .alreadyDelivered:
                // The partition it goes to holds it (a replay after a restart): its owner settles it now.
                state.settleWithoutDelivery(id)
                return true
            case .produce(let chosen, let position, let snapshotTag):
                partition = chosen
                positionHeader = position
                if let snapshotTag { headers.append(snapshotTag) }
            }
        }
        // The producer checks the byte bound atomically (`inFlightByteLimit`: the snapshot's readers
        // produce at once). With exactly_once it is checked here first too, to wait before a transaction
        // is begun for the record.
        let byteLimit = byteBoundApplied ? nil : maxInFlightBytes
        while byteLimit != nil, exactlyOnce != nil, !hasRoom(for: record, headers: headers, positionHeader: positionHeader) {
            guard try wait() else {
                state.abandon(id)
                return false
            }
        }
        while true {
            do {
                if let exactlyOnce {
                    try exactlyOnce.inTransaction(position: record.position) { () throws(KafkaError) in
                        try produceWithoutBlocking(record, headers: headers, positionHeader: positionHeader, partition: partition, id: id,
                                                   byteLimit: byteLimit)
                    }
                } else {
                    try producer.produce(topic: record.topic, key: record.key, value: record.value, headers: headers,
                                         partition: record.partition, timestamp: record.timestamp, id: id.rawValue,
                                         blockWhenQueueFull: false, inFlightByteLimit: byteLimit)
                }
                return true
            } catch where error.code == .queueFull {
                // The byte bound (another reader's record came first) or librdkafka's own queue bound:
                // wait for acknowledgements.
                guard try wait() else {
                    state.abandon(id)
                    return false
                }
            } catch where OversizedEventHandling.isOversized(error) {
                do throws(PipelineError) {
                    let origin = origin()
                    record = try oversized.replacement(for: record, refusal: error, table: origin.table,
                                                       sourceLSN: origin.sourceLSN, logger: logger)
                    // The dead letter takes the event's place on another topic; librdkafka partitions it. It
                    // carries no position, so a replay never skips it: a dead letter may repeat, an event
                    // may not be lost.
                    record.position = nil
                    record.snapshot = nil
                    partition = nil
                    headers = record.kafkaHeaders
                    positionHeader = nil
                    try topicCreator?.ensure(record.topic)
                } catch {
                    state.abandon(id)
                    throw error
                }
            } catch {
                state.abandon(id)
                if error.isFatal { throw Self.producerFatal(error) }
                throw PipelineError(code: .kafka, message: "producing to topic \(record.topic) failed: \(error)",
                                    isRetriable: error.isRetriable, underlying: error)
            }
        }
    }

    /// `producer.produce` without waiting for queue space, with the position header (if any) lent to it
    /// from a stack buffer.
    private func produceWithoutBlocking(_ record: OutgoingRecord, headers: [KafkaHeader], positionHeader: RecordPosition.Header?,
                                        partition: Int32?, id: DeliveryID, byteLimit: Int?) throws(KafkaError) {
        guard let positionHeader else {
            try producer.produce(topic: record.topic, key: record.key, value: record.value, headers: headers,
                                 partition: partition ?? record.partition, timestamp: record.timestamp, id: id.rawValue,
                                 blockWhenQueueFull: false, inFlightByteLimit: byteLimit)
            return
        }
        try positionHeader.withValue { (value: UnsafeRawBufferPointer) throws(KafkaError) in
            try producer.produce(topic: record.topic, key: record.key, value: record.value, headers: headers,
                                 borrowedHeader: KafkaBorrowedHeader(key: positionHeader.key, value: value),
                                 partition: partition, timestamp: record.timestamp, id: id.rawValue, blockWhenQueueFull: false,
                                 inFlightByteLimit: byteLimit)
        }
    }

    /// Whether `record` fits under the in-flight byte bound now (`hasByteRoom`).
    func hasRoom(for record: OutgoingRecord) -> Bool { hasRoom(for: record, headers: record.kafkaHeaders) }

    private func hasRoom(for record: OutgoingRecord, headers: [KafkaHeader], positionHeader: RecordPosition.Header? = nil) -> Bool {
        var bytes = KafkaProducer.messageBytes(key: record.key, value: record.value, headers: headers)
        if let positionHeader { bytes += KafkaProducer.headerBytes(key: positionHeader.key, valueCount: positionHeader.valueCount) }
        return Self.hasByteRoom(inFlight: producer.inFlightBytes, adding: bytes, limit: maxInFlightBytes)
    }

    /// Whether an event of `adding` bytes may be produced with `inFlight` bytes awaiting acknowledgement:
    /// within `limit`, or alone (an event larger than the limit goes once nothing else is in flight,
    /// rather than never).
    static func hasByteRoom(inFlight: Int, adding: Int, limit: Int) -> Bool {
        inFlight == 0 || inFlight + adding <= limit
    }

    /// Fetches `topic`'s partitions now rather than at librdkafka's next once-a-second scan (commit-to-ack
    /// p99 was 1 s from this alone in the steady benchmark's first second).
    func prepareTopic(_ topic: String) {
        _ = producer.prepareTopic(topic, timeoutMilliseconds: 1000)
    }

    // MARK: Failures

    /// Throws the error a failed delivery or a fatal producer error stands for: a restart from the
    /// confirmed position when the failure is retriable, a stop naming the cause when it is not.
    func checkHealth(snapshot: Bool) throws(PipelineError) {
        let (fatal, failure) = state.failures
        if let error = error(fatal: fatal, failure: failure, snapshot: snapshot) { throw error }
    }

    /// The error a fatal producer error or a failed delivery (as read from `state.failures`) stands for;
    /// nil when there is neither.
    func error(fatal: KafkaError?, failure: KafkaError?, snapshot: Bool) -> PipelineError? {
        if let fatal { return Self.producerFatal(fatal) }
        guard let failure else { return nil }
        if OversizedEventHandling.isOversized(failure) { return oversized.brokerRefusal(failure, snapshot: snapshot) }
        if snapshot {
            guard failure.isRetriable else {
                return PipelineError(code: .deliveryFailed,
                                     message: "Kafka refused a snapshot record (\(failure)). Fix the cause (topic permissions, message.max.bytes...) and restart; the snapshot continues or starts over",
                                     isRetriable: false, underlying: failure)
            }
            return PipelineError(code: .deliveryFailed, message: "\(failure)", isRetriable: true, underlying: failure)
        }
        return PipelineError(code: .deliveryFailed,
                             message: failure.isRetriable
                                 ? "a delivery to Kafka failed (\(failure)); resuming from the confirmed position"
                                 : "Kafka refused an event (\(failure)); nothing past the confirmed position is lost. Fix the cause (topic permissions, message.max.bytes...) and restart",
                             isRetriable: failure.isRetriable, underlying: failure)
    }

    static func producerFatal(_ error: KafkaError) -> PipelineError {
        if error.code == .fenced || error.code == .producerFenced {
            return PipelineError(code: .producerFatal,
                                 message: "another producer with this transactional id took over (fenced: \(error)): another Swallow instance with the same configuration streams now. This one stops; nothing it sent after that counts, and nothing past the confirmed position is lost. If no other instance should run, find it (the slot's active_pid in pg_replication_slots) and stop it, or give each deployment its own kafka.transactional_id",
                                 isRetriable: false, underlying: error)
        }
        return PipelineError(code: .producerFatal,
                      message: "Kafka producer failed fatally: \(error). Nothing past the confirmed position is lost; fix the cause and restart.",
                      isRetriable: false, underlying: error)
    }

    // MARK: Transactions

    /// With `delivery: exactly_once`, commits the open Kafka transaction once it is due (`urgency`);
    /// nothing otherwise. Whoever produces calls it while producing and while waiting.
    func commitIfDue(_ urgency: ExactlyOnceDelivery.CommitUrgency = .busy) throws(PipelineError) {
        try exactlyOnce?.commitIfDue(urgency, state: state, monitor: monitor)
    }

    /// After a failed delivery, before the stream replays from the confirmed position: what is still
    /// queued fails at once. The producing thread may have queued records after the failure's own purge
    /// (`purgeUnsentAfterFailure`), and librdkafka puts records in flight to a broker that went away back
    /// in the queue; a broker back before the replay would otherwise take them ahead of the failed
    /// record's second copy, out of key order.
    func purgeUnsentAfterFailure() {
        if state.failures.delivery != nil { producer.purgeUnsent() }
    }

    /// Before a stream replays from the confirmed position: the open transaction aborted, and what the
    /// topics hold read again before the first record to each.
    func prepareForReplay() {
        exactlyOnce?.abort(state: state, monitor: monitor)
        exactlyOnce?.forgetTopics()
    }

    // MARK: Flushing

    /// `producer.flush` in slices of at most a second, calling `refresh` between them (status and
    /// watchdog); returns what is still in flight after `timeoutMilliseconds`. With `delivery:
    /// exactly_once` the open transaction is committed instead (which flushes it); a failed commit
    /// leaves its records unsettled, so they count as in flight.
    func flush(timeoutMilliseconds: Int, refresh: () -> Void) -> Int {
        if let exactlyOnce {
            do {
                try exactlyOnce.commitIfDue(.now, state: state, monitor: monitor)
            } catch {
                logger.warning("the last Kafka transaction did not commit; its records are sent again on restart",
                               metadata: ["error": "\(error)"])
                return max(1, state.inFlightEvents)
            }
            refresh()
            return 0
        }
        let deadline = ContinuousClock.now + .milliseconds(timeoutMilliseconds)
        while true {
            let left = deadline - ContinuousClock.now
            let slice = min(1000, max(0, left.wholeMilliseconds))
            let remaining = producer.flush(timeoutMilliseconds: Int32(slice))
            refresh()
            if remaining == 0 || ContinuousClock.now >= deadline { return remaining }
        }
    }

    /// Waits for in-flight deliveries: within the flush timeout on shutdown, or (`untilEmpty`) until
    /// nothing is in flight, unless a stop is requested, before a restart, so that no late report of the
    /// old stream is mistaken for a new one and the restart point accounts for every record sent.
    func drain(untilEmpty: Bool = false, refresh: () -> Void) {
        var remaining = flush(timeoutMilliseconds: flushTimeoutMilliseconds, refresh: refresh)
        if untilEmpty, remaining > 0 {
            logger.warning("waiting for in-flight deliveries before restarting", metadata: ["in_flight": "\(remaining)"])
            while remaining > 0, !state.stopRequested {
                remaining = flush(timeoutMilliseconds: max(flushTimeoutMilliseconds, 1000), refresh: refresh)
            }
        }
        if remaining > 0 {
            logger.warning("stopping with deliveries still in flight; they will be sent again on restart",
                           metadata: ["in_flight": "\(remaining)"])
        }
    }
}

extension OutgoingRecord {
    /// The headers as the producer takes them (no allocation for the usual none).
    var kafkaHeaders: [KafkaHeader] {
        headers.isEmpty ? [] : headers.map { KafkaHeader(key: $0.key, value: $0.value) }
    }
}
