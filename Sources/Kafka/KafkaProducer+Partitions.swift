import CRdKafka
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension KafkaProducer {
    /// The number of partitions of `topic`, from a Metadata request for that topic sent now through the
    /// producer's own connections, for callers that choose partitions themselves
    /// (`KafkaPartitioner.murmur2` + `produce(…, partition:)`). nil when the topic does not exist.
    ///
    /// Like producing to it, the request may create the topic: librdkafka sends it with
    /// AllowAutoTopicCreation = `allow.auto.create.topics` (true by default for a producer), and a broker
    /// with `auto.create.topics.enable=true` then creates it (librdkafka's mock does too, with 4
    /// partitions). A broker answers `LEADER_NOT_AVAILABLE` (no partitions yet) for a topic it is
    /// creating; that is asked again every 100 ms until the timeout.
    ///
    /// - Throws: `TOPIC_AUTHORIZATION_FAILED` (the principal may not describe the topic), `_TRANSPORT` or
    ///   `_TIMED_OUT` (no broker answered in time), a retriable topic error (e.g. `LEADER_NOT_AVAILABLE`)
    ///   still present at the timeout, other broker errors (e.g. `INVALID_TOPIC_EXCEPTION`), `.closed`.
    public func partitionCount(topic: String, timeoutMilliseconds: Int32) throws(KafkaError) -> Int32? {
        guard let handle = shared.acquire() else { throw .closed("KafkaProducer") }
        defer { shared.release() }
        return try topicPartitions(handle.rk, topic: topic, wholeCluster: false, timeoutMilliseconds: timeoutMilliseconds)
            .map { Int32($0.count) }
    }
}

/// The partition ids of `topic` (sorted), from Metadata requests sent through `rk` until the broker knows
/// the topic's partitions or the timeout passes; nil if the topic does not exist. `TOPIC_AUTHORIZATION_FAILED`
/// for the topic is thrown.
///
/// - Parameter wholeCluster: false: requests naming the topic, which a broker with
///   `auto.create.topics.enable=true` answers by creating it if the request allows that (librdkafka's
///   `rd_kafka_metadata` sends the client's `allow.auto.create.topics` as AllowAutoTopicCreation, a field
///   of Metadata v4+: brokers before Kafka 0.11, and librdkafka 2.0.2's mock cluster, whose Metadata stops
///   at v2, create the topic regardless); an absent topic is one the broker answers
///   `UNKNOWN_TOPIC_OR_PART` for. true: requests for every topic, which never create one; an absent topic
///   is one the answer does not list. Brokers list only the topics the principal may describe, but Write
///   and Read each imply Describe, so a topic that is absent from the list cannot have been written by
///   this principal either.
func topicPartitions(_ rk: OpaquePointer, topic: String, wholeCluster: Bool,
                     timeoutMilliseconds: Int32) throws(KafkaError) -> [Int32]? {
    var rkt: OpaquePointer?
    if !wholeCluster {
        rkt = rd_kafka_topic_new(rk, topic, nil)
        guard rkt != nil else {
            let err = rd_kafka_last_error()
            throw KafkaError.fromResponse(err, message: "topic '\(topic)': \(String(cString: rd_kafka_err2str(err)))")
        }
    }
    defer { if let rkt { rd_kafka_topic_destroy(rkt) } }
    let deadline = monotonicMilliseconds() + Int64(max(0, timeoutMilliseconds))
    while true {
        var pointer: UnsafePointer<rd_kafka_metadata>?
        let remaining = Int32(clamping: max(1, deadline - monotonicMilliseconds()))
        let err = rd_kafka_metadata(rk, wholeCluster ? 1 : 0, rkt, &pointer, remaining)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let pointer else {
            let request = wholeCluster ? "a metadata request (all topics, for '\(topic)')" : "a metadata request for topic '\(topic)'"
            throw KafkaError.fromResponse(err, message: "no broker answered \(request) "
                + "within \(timeoutMilliseconds) ms (\(String(cString: rd_kafka_err2str(err)))): check "
                + "bootstrap.servers and that the brokers are reachable")
        }
        let md = pointer.pointee
        let entry = (0 ..< Int(md.topic_cnt)).map { md.topics[$0] }.first { String(cString: $0.topic) == topic }
        let topicError = entry?.err ?? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
        let partitions = entry.map { t in (0 ..< Int(t.partition_cnt)).map { t.partitions[$0].id }.sorted() } ?? []
        rd_kafka_metadata_destroy(pointer)

        switch topicError {
        case RD_KAFKA_RESP_ERR_NO_ERROR where !partitions.isEmpty:
            return partitions
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
            return nil
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
            throw KafkaError.fromResponse(topicError, message: "not authorized to describe topic '\(topic)': "
                + "grant the principal Describe on it (and Write to produce, Read to read)")
        default:
            let retry = topicError == RD_KAFKA_RESP_ERR_NO_ERROR || KafkaError.isRetriable(code: topicError.rawValue)
            guard retry, monotonicMilliseconds() + 100 < deadline else {
                let answer = topicError == RD_KAFKA_RESP_ERR_NO_ERROR
                    ? "no partitions" : String(cString: rd_kafka_err2str(topicError))
                let code = topicError == RD_KAFKA_RESP_ERR_NO_ERROR ? RD_KAFKA_RESP_ERR__TIMED_OUT : topicError
                throw KafkaError(code: .librdkafka(code.rawValue),
                                 message: "the partitions of topic '\(topic)' are unknown: the broker answered \(answer)"
                                    + (retry ? " until the timeout of \(timeoutMilliseconds) ms; the topic may still "
                                               + "be being created: ask again" : ""),
                                 isRetriable: retry, isFatal: false)
            }
            usleep(100_000)
        }
    }
}
