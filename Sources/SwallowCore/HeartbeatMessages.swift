import ChangeEvent
import PGOutput

/// What the stream makes of heartbeat messages (`HeartbeatEmitter` writes them with
/// `pg_logical_emit_message(false, 'swallow.heartbeat', '<slot name>')`): never change events, whatever
/// `events.message.prefix.include.list` says. Standing alone, each is a unit of its own, confirmed at its
/// position, with this slot's heartbeat record when `heartbeat.emit_record` is on; other instances'
/// heartbeats (other content) are only confirmed. One written inside a transaction (by hand) belongs to
/// that transaction and is dropped.
public struct HeartbeatMessages: Sendable {
    /// The prefix of heartbeat messages.
    public static let prefix = "swallow.heartbeat"

    /// The content of this slot's heartbeat messages: the slot name.
    let content: [UInt8]
    /// This slot's heartbeat records; nil when `heartbeat.emit_record` is off.
    let records: HeartbeatRecords?

    public init(slotName: String, records: HeartbeatRecords?) {
        content = Array(slotName.utf8)
        self.records = records
    }
}

/// Debezium's heartbeat records: topic `__debezium-heartbeat.<topic_prefix>`, key
/// `{"serverName":"<topic_prefix>"}`, value `{"ts_ms":<when it was emitted>}` (with their Connect schemas
/// under `envelope.schemas`).
public struct HeartbeatRecords: Sendable {
    public let topic: String
    private let key: [UInt8]
    private let encoder: ChangeEventEncoder

    public init(topicPrefix: String, encoder: ChangeEventEncoder) {
        topic = "__debezium-heartbeat.\(topicPrefix)"
        key = encoder.encodeHeartbeatKey(serverName: topicPrefix)
        self.encoder = encoder
    }

    public func record(timestampMillis: Int64) -> OutgoingRecord {
        OutgoingRecord(topic: topic, key: key, value: encoder.encodeHeartbeatValue(timestampMillis: timestampMillis),
                       headers: [], kind: .heartbeat)
    }
}
