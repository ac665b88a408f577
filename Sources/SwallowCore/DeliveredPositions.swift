/// What a stream already delivered, per (topic, partition): the highest position of its own records a
/// read_committed reader sees there (found by ``TailScan``). When the slot replays the transactions after
/// its confirmed position, a record whose position is at or below its partition's highest is skipped.
///
/// Why per partition, and never one maximum for the stream: Swallow writes each partition in increasing
/// position order, so what a reader sees of a partition is a prefix of what was written to it, and its
/// highest position bounds exactly that prefix. Across partitions there is no such bound. On a real
/// broker an aborted Kafka transaction is invisible to read_committed readers, but on librdkafka's mock
/// broker its records stay visible: an aborted transaction may have reached partition p with position 90
/// and not partition q with position 80, and a single maximum of 90 would skip the record of q that no
/// reader ever saw.
///
/// A pure value, like ``AcknowledgementTracker``. It does not count skips: `isDelivered` is a question,
/// and the caller, which produces or skips, counts what it skipped.
public struct DeliveredPositions: Sendable, Equatable {
    /// One partition of one topic.
    public struct Partition: Sendable, Hashable, CustomStringConvertible {
        public var topic: String
        public var partition: Int32

        public init(topic: String, partition: Int32) {
            self.topic = topic
            self.partition = partition
        }

        /// `topic [partition]`, as librdkafka names a partition in its messages.
        public var description: String { "\(topic) [\(partition)]" }
    }

    public private(set) var highestByPartition: [Partition: RecordPosition] = [:]
    /// The highest position across every partition: for the "last position committed in Kafka" metric,
    /// never for deciding what to skip (see above).
    public private(set) var highest: RecordPosition?

    public init() {}

    /// A record of this stream at `position` is in `topic`'s `partition` (found by a tail scan, or
    /// written there in a committed transaction). Positions below the partition's highest change nothing.
    public mutating func observe(topic: String, partition: Int32, position: RecordPosition) {
        let key = Partition(topic: topic, partition: partition)
        if let known = highestByPartition[key], known >= position { return }
        highestByPartition[key] = position
        if highest.map({ $0 < position }) ?? true { highest = position }
    }

    /// Whether a record at `position` for `topic`'s `partition` is already there: at or below the
    /// highest position of the stream seen in that partition. A partition with none delivered nothing.
    public func isDelivered(topic: String, partition: Int32, position: RecordPosition) -> Bool {
        guard let known = highestByPartition[Partition(topic: topic, partition: partition)] else { return false }
        return position <= known
    }

    /// The highest position of the stream seen in `topic`'s `partition`, if any.
    public func highest(topic: String, partition: Int32) -> RecordPosition? {
        highestByPartition[Partition(topic: topic, partition: partition)]
    }
}
