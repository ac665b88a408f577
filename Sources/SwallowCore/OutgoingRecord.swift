import Avro
import ChangeEvent
import PGOutput

/// One record header: a name and bytes; `value == nil` is a null header value, distinct from an empty
/// one. The delivery path hands it to the producer as it is (Kafka's record headers).
public struct RecordHeader: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// One Kafka record to produce.
public struct OutgoingRecord: Sendable, Equatable {
    public var topic: String
    public var key: [UInt8]?
    /// nil is a tombstone.
    public var value: [UInt8]?
    public var headers: [RecordHeader]
    /// What the record stands for; the metrics count records by it.
    public var kind: RecordKind
    /// Where the record comes from in the source's order (`delivery: exactly_once` compares it with what
    /// a partition holds); nil for records a replay never skips.
    public var position: RecordPosition?
    /// For a snapshot row: its unit and ordinal (`delivery: exactly_once` skips the rows a unit read
    /// again already delivered); nil for everything else.
    public var snapshot: SnapshotTag?
    /// The partition the record must go to (the outbox router's `partition` placement); nil lets the
    /// delivery path choose.
    public var partition: Int32? = nil
    /// The Kafka record timestamp in ms since the epoch (the outbox router's); nil: the producer's time.
    public var timestamp: Int64? = nil
    /// `events.format: avro`: the shapes of a key and a value the encoder wrote as Avro (after five bytes
    /// of room for Confluent's header, which the delivery path fills in with the registry's id). nil:
    /// the part is JSON with its Connect schema, which the delivery path transcodes.
    public var keyShape: AvroShape? = nil
    public var valueShape: AvroShape? = nil

    public init(topic: String, key: [UInt8]?, value: [UInt8]?, headers: [RecordHeader], kind: RecordKind,
                position: RecordPosition? = nil) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
        self.kind = kind
        self.position = position
    }
}

/// What an outgoing record stands for: a change of a table (by relation OID, so counting it needs no
/// string work), a tombstone, or one of Swallow's own topics.
public enum RecordKind: Sendable, Hashable {
    case change(relationID: UInt32, operation: ChangeEvent.Operation)
    case tombstone(relationID: UInt32)
    case transactionMetadata
    case logicalMessage
    /// A heartbeat record (`heartbeat.emit_record`).
    case heartbeat

    /// The `op` label of the metrics: Debezium's letter, or what the record is.
    public var operationLabel: String {
        switch self {
        case .change(_, let operation): operation.rawValue
        case .tombstone: "tombstone"
        case .transactionMetadata: "transaction"
        case .logicalMessage: "message"
        case .heartbeat: "heartbeat"
        }
    }

    public var relationID: UInt32? {
        switch self {
        case .change(let relationID, _), .tombstone(let relationID): relationID
        case .transactionMetadata, .logicalMessage, .heartbeat: nil
        }
    }
}

/// What the pipeline must do for a decoded message, in order.
public enum StreamAction: Sendable, Equatable {
    /// A transaction (or a non-transactional message) starts: its records belong together.
    case openUnit
    case produce(OutgoingRecord)
    /// The unit ends; once all its records are acknowledged the slot may be confirmed up to the LSN.
    case closeUnit(LSN)
    /// A message that asks nothing of the pipeline was passed over: why, for the debug log.
    case ignored(reason: String)
    /// A change was dropped in a way the operator should see (an update of an outbox row, as
    /// `outbox.table.op.invalid.behavior` says): logged as a warning, or an error with `isError`.
    case skipped(reason: String, isError: Bool)
}
