import CoreMetrics
import Kafka
import Logging
import PGOutput
import SwallowConfig
import Synchronization

/// What to do with a record the producer refused as larger than its `message.max.bytes`
/// (`kafka.oversized_events`): the one rule every produce path applies — the stream, the incremental
/// snapshot's windows (both through the stream's produce) and the initial snapshot.
///
/// `fail` stops with an error naming the table, operation, key, size and limit; the record's id is never
/// acknowledged, so the slot is not confirmed past it and a restart meets the same event again.
/// `dead_letter` puts a record with the same key, a null value (the event itself is what does not fit)
/// and `swallow.error.*` headers on the dead-letter topic in its place; it is produced under the same
/// delivery id, so the slot moves past the event only once the broker acknowledged the dead letter.
final class OversizedEventHandling: Sendable {
    /// Header names, in the spirit of Kafka Connect's `__connect.errors.*`.
    enum Header {
        static let reason = "swallow.error.reason"
        static let topic = "swallow.error.topic"
        static let size = "swallow.error.size"
        static let maxBytes = "swallow.error.max.bytes"
        static let table = "swallow.error.table"
        static let operation = "swallow.error.op"
        static let sourceLSN = "swallow.source.lsn"
    }

    /// librdkafka's default `message.max.bytes`.
    static let defaultMaxBytes = 1_000_000
    /// The most of an event's key an error message quotes.
    static let quotedKeyBytes = 1024

    let mode: SwallowConfiguration.Kafka.OversizedEvents
    let deadLetterTopic: String
    /// The producer's `message.max.bytes`, as configured (the limit librdkafka applied).
    let maxBytes: Int

    init(mode: SwallowConfiguration.Kafka.OversizedEvents, deadLetterTopic: String, kafkaProperties: [String: String]) {
        self.mode = mode
        self.deadLetterTopic = deadLetterTopic
        maxBytes = kafkaProperties["message.max.bytes"].flatMap { Int($0) } ?? Self.defaultMaxBytes
    }

    /// `swallow_dead_letter_events_total` by table, made once per table (swift-metrics looks labels up
    /// only at creation).
    private let deadLetterCounters = Mutex<[String: Counter]>([:])

    convenience init(settings: PipelineSettings) {
        self.init(mode: settings.oversizedEvents, deadLetterTopic: settings.deadLetterTopic,
                  kafkaProperties: settings.kafkaProperties)
    }

    /// Whether `error`, thrown by `produce`, is the producer refusing a record for its size.
    static func isOversized(_ error: KafkaError) -> Bool { error.code == .messageSizeTooLarge }

    /// The record to produce in place of `record`, which the producer refused for its size (`refusal`),
    /// or the `fail` error. `table` is `schema.table` (nil for Swallow's own records); `sourceLSN` the
    /// WAL position of the change (nil for initial snapshot rows). Logs a warning (no row contents) and
    /// counts the event when it is dead-lettered.
    func replacement(for record: OutgoingRecord, refusal: KafkaError, table: String?, sourceLSN: LSN?,
                     logger: Logger) throws(PipelineError) -> OutgoingRecord {
        let size = KafkaProducer.messageBytes(key: record.key, value: record.value, headers: record.kafkaHeaders)
        let alreadyDeadLetter = record.headers.contains { $0.key == Header.reason }
        guard mode == .deadLetter, !alreadyDeadLetter else {
            throw failure(record, size: size, table: table, sourceLSN: sourceLSN, deadLetterTooLarge: alreadyDeadLetter)
        }
        let operation = record.kind.operationLabel
        var headers = [
            RecordHeader(key: Header.reason, value: Array("event of \(size) bytes is above message.max.bytes (\(maxBytes)): \(refusal.code.name)".utf8)),
            RecordHeader(key: Header.topic, value: Array(record.topic.utf8)),
            RecordHeader(key: Header.size, value: Array(String(size).utf8)),
            RecordHeader(key: Header.maxBytes, value: Array(String(maxBytes).utf8)),
            RecordHeader(key: Header.operation, value: Array(operation.utf8)),
        ]
        if let table { headers.append(RecordHeader(key: Header.table, value: Array(table.utf8))) }
        if let sourceLSN { headers.append(RecordHeader(key: Header.sourceLSN, value: Array(sourceLSN.description.utf8))) }
        logger.warning("an event is larger than message.max.bytes; sent to the dead-letter topic instead (kafka.oversized_events: dead_letter)",
                       metadata: ["table": "\(table ?? "-")", "op": "\(operation)", "topic": "\(record.topic)",
                                  "dead_letter_topic": "\(deadLetterTopic)", "bytes": "\(size)", "max_bytes": "\(maxBytes)",
                                  "lsn": "\(sourceLSN.map(\.description) ?? "-")"])
        deadLetterCounters.withLock { counters in
            let name = table ?? ""
            if let counter = counters[name] { return counter }
            let counter = Counter(label: "swallow_dead_letter_events_total", dimensions: [("table", name)])
            counters[name] = counter
            return counter
        }.increment()
        return OutgoingRecord(topic: deadLetterTopic, key: record.key, value: nil, headers: headers, kind: record.kind)
    }

    /// The `fail` outcome: names what was refused and how to get past it.
    func failure(_ record: OutgoingRecord, size: Int, table: String?, sourceLSN: LSN?,
                 deadLetterTooLarge: Bool = false) -> PipelineError {
        let what = table.map { "the \(record.kind.operationLabel) event of table \($0)" } ?? "a \(record.kind.operationLabel) record"
        let position = sourceLSN.map { ", source LSN \($0)" } ?? ""
        let fix = deadLetterTooLarge
            ? "Even its dead-letter record (the key and the swallow.error.* headers) is too large: raise kafka.properties.message.max.bytes together with the topics' max.message.bytes (and the broker's message.max.bytes)"
            : "Fix: raise kafka.properties.message.max.bytes together with the topic's max.message.bytes (and the broker's message.max.bytes), or set kafka.oversized_events: dead_letter to send such events to \(deadLetterTopic) and go on"
        return PipelineError(
            code: .oversizedEvent,
            message: "\(what) (topic \(record.topic)\(position), key \(Self.quotedKey(record.key))) is \(size) bytes (key, value and headers, before Kafka's per-record overhead), above the Kafka producer's message.max.bytes of \(maxBytes); Swallow stops rather than skip it, and nothing past it is confirmed. \(fix), then restart",
            isRetriable: false)
    }

    /// The key as error messages quote it: its JSON, cut at `quotedKeyBytes`.
    static func quotedKey(_ key: [UInt8]?) -> String {
        guard let key else { return "null" }
        guard key.count > quotedKeyBytes else { return String(decoding: key, as: UTF8.self) }
        return String(decoding: key.prefix(quotedKeyBytes), as: UTF8.self) + "... (\(key.count) bytes)"
    }

    /// A delivery the broker refused as too large (`MSG_SIZE_TOO_LARGE` in a delivery report): the
    /// producer's limit let it through, the topic's or broker's is lower. Reported asynchronously, after
    /// later events may already be in flight, so it stops the service (nothing past it is confirmed).
    func brokerRefusal(_ failure: KafkaError, snapshot: Bool) -> PipelineError {
        PipelineError(
            code: .oversizedEvent,
            message: "the broker refused \(snapshot ? "a snapshot record" : "an event") as too large (\(failure)): the topic's max.message.bytes (or the broker's message.max.bytes) is below the producer's message.max.bytes of \(maxBytes). Nothing past the confirmed position is lost. Fix: raise the topic's max.message.bytes to at least the producer's limit, or lower kafka.properties.message.max.bytes to the broker's so that kafka.oversized_events decides about such events, then restart",
            isRetriable: false)
    }
}
