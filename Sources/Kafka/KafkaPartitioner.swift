/// The Java client's partitioner for keyed records, in Swift, so that a caller can compute where a record
/// goes (and where it went before a restart) and pass that partition to `KafkaProducer.produce` itself.
///
/// Kafka's default partitioner (`BuiltInPartitioner.partitionForKey`, formerly `DefaultPartitioner`)
/// places a record with a non-null key on `Utils.toPositive(Utils.murmur2(keyBytes)) % numPartitions`,
/// where `toPositive(n) = n & 0x7fffffff` and `numPartitions` counts all of the topic's partitions,
/// available or not. librdkafka's `murmur2_random` partitioner (the producer's default in this module)
/// does the same for a non-null key: `(rd_murmur2(key) & 0x7fffffff) % partition_cnt` (rdkafka_msg.c) —
/// an empty key is hashed like any other; only a null key is placed at random. Pure Swift: no librdkafka
/// call, so it can be used wherever the partition must be known without a producer.
public enum KafkaPartitioner {
    /// The partition of a record with key `key` in a topic of `partitionCount` partitions (> 0), as the
    /// Java producer and librdkafka's `murmur2`/`murmur2_random` partitioners choose it.
    public static func murmur2(key: [UInt8], partitionCount: Int32) -> Int32 {
        precondition(partitionCount > 0, "a topic has at least one partition")
        return (murmur2Hash(key) & 0x7fff_ffff) % partitionCount
    }

    /// Kafka's `Utils.murmur2` (MurmurHash2, 32 bits, seed 0x9747b28c, the key read as little-endian
    /// 32-bit words), returned as Java's signed `int`. Kafka's `UtilsTest.testMurmur2` pins it, e.g.
    /// "21" → -973932308, "abc" → 479470107.
    public static func murmur2Hash(_ data: [UInt8]) -> Int32 {
        let seed: UInt32 = 0x9747_b28c
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        let length = data.count
        var h = seed ^ UInt32(truncatingIfNeeded: length)
        var index = 0
        while index + 4 <= length {
            var k = UInt32(data[index]) | UInt32(data[index + 1]) << 8
                | UInt32(data[index + 2]) << 16 | UInt32(data[index + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
            index += 4
        }
        // The 0-3 trailing bytes, as Java's fall-through switch on length % 4 mixes them.
        let remaining = length - index
        if remaining >= 3 { h ^= UInt32(data[index + 2]) << 16 }
        if remaining >= 2 { h ^= UInt32(data[index + 1]) << 8 }
        if remaining >= 1 {
            h ^= UInt32(data[index])
            h = h &* m
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }
}
