import ChangeEvent

/// Debezium 3.x's context headers (`events.extended.headers.enabled`, on by default): on every row change,
/// tombstone, truncate and snapshot record, after the record's own headers,
/// `__debezium.context.connectorLogicalName` (the topic prefix), `.taskId` ("0": Swallow is one task),
/// `.connectorName` ("postgresql") and `.runId` (a UUID of this run). Logical decoding messages,
/// transaction metadata and heartbeats carry none, as in Debezium.
public struct ContextHeaders: Sendable {
    /// The headers, encoded (empty when the option is off).
    public let headers: [RecordHeader]

    public init(enabled: Bool, topicPrefix: String, runID: String, encoder: ChangeEventEncoder) {
        guard enabled else {
            headers = []
            return
        }
        headers = [("__debezium.context.connectorLogicalName", topicPrefix), ("__debezium.context.taskId", "0"),
                   ("__debezium.context.connectorName", "postgresql"), ("__debezium.context.runId", runID)]
            .map { RecordHeader(key: $0.0, value: encoder.encodeStringHeader($0.1)) }
    }

    /// A run id as Debezium makes one when its task starts (UUIDUtils.generateNewUUID): a version 7 UUID,
    /// the Unix time in milliseconds in its first 48 bits, then random bits.
    public static func runID(unixMillis: UInt64, random: (UInt64, UInt64)) -> String {
        let high = (unixMillis << 16) | (random.0 & 0x0fff) | 0x7000
        let low = (random.1 & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
        func hex(_ value: UInt64, _ digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: digits - text.count) + text
        }
        return "\(hex(high >> 32, 8))-\(hex((high >> 16) & 0xffff, 4))-\(hex(high & 0xffff, 4))-"
            + "\(hex(low >> 48, 4))-\(hex(low & 0xffff_ffff_ffff, 12))"
    }
}
