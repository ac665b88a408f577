/// The outcome of one `KafkaProducer.produce` call, identified by the id the caller passed in.
public struct DeliveryReport: Sendable {
    /// Where a successfully delivered message was written.
    public struct Position: Sendable, Equatable {
        /// The topic name. Always filled in by `KafkaProducer` (it is cheap: names are cached per topic).
        public var topic: String?
        public var partition: Int32
        public var offset: Int64

        public init(topic: String?, partition: Int32, offset: Int64) {
            self.topic = topic
            self.partition = partition
            self.offset = offset
        }
    }

    /// The id given to `produce(…, id:)`.
    public var id: UInt64
    /// `.success` once the broker acknowledged the message with acks=all; `.failure` if librdkafka gave
    /// up on it (e.g. `_MSG_TIMED_OUT` after `message.timeout.ms`, or `_PURGE_QUEUE`/`_PURGE_INFLIGHT`
    /// when the producer was closed with the message still outstanding).
    public var result: Result<Position, KafkaError>
    /// Microseconds from `produce` to this report, as librdkafka measured it (`rd_kafka_message_latency`);
    /// nil when librdkafka did not time the message.
    public var latencyMicroseconds: Int64?

    public init(id: UInt64, result: Result<Position, KafkaError>, latencyMicroseconds: Int64? = nil) {
        self.id = id
        self.result = result
        self.latencyMicroseconds = latencyMicroseconds
    }
}

/// One Kafka record header. `value == nil` is a null header value, distinct from an empty one.
public struct KafkaHeader: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// A header whose value the caller lends to one `KafkaProducer.produce` call, which copies it into
/// librdkafka: for a header written with every record, from a buffer the caller reuses or keeps on the
/// stack, so that producing it allocates nothing on the Swift side (no `KafkaHeader`, no array).
/// `value` must stay valid for the duration of the call only; it is never null (an empty buffer is an
/// empty value).
public struct KafkaBorrowedHeader {
    public var key: String
    public var value: UnsafeRawBufferPointer

    public init(key: String, value: UnsafeRawBufferPointer) {
        self.key = key
        self.value = value
    }
}

/// A record read by `KafkaConsumer` or `KafkaLogReader`. `key`/`value` are nil for null (a nil value is a tombstone),
/// which is distinct from empty.
public struct KafkaRecord: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// Milliseconds since the Unix epoch (create or log-append time), nil if the broker sent none.
    public var timestamp: Int64?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8]?,
                headers: [KafkaHeader], timestamp: Int64?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }
}
