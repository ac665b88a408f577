import CRdKafka

/// A topic to create: `CreateTopics`' CreatableTopic (name, partitions, replication factor, configs).
public struct NewTopicSpecification: Sendable, Equatable {
    public var name: String
    /// -1: the broker's `num.partitions` (CreateTopics v4+, Kafka 2.4+).
    public var partitions: Int32
    /// -1: the broker's `default.replication.factor` (CreateTopics v4+, Kafka 2.4+).
    public var replicationFactor: Int32
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    public var configs: [String: String]

    public init(name: String, partitions: Int32 = -1, replicationFactor: Int32 = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// Creating topics and reading their configs: `topic_creation` at run time and in `swallow check`.
extension KafkaAdmin {
    /// Asks the cluster's controller to create `topics` (`CreateTopics`; with `validateOnly`, to say
    /// whether it would, creating nothing), waiting up to the timeout for the creation to complete.
    /// Throws if the request as a whole failed (timed out, unsupported, no controller); each topic's
    /// refusal (`TOPIC_ALREADY_EXISTS`, `INVALID_REPLICATION_FACTOR`, `POLICY_VIOLATION`,
    /// `TOPIC_AUTHORIZATION_FAILED`, `INVALID_CONFIG`, ...) is in its result, with the broker's message.
    public func createTopics(_ topics: [NewTopicSpecification], validateOnly: Bool = false,
                             timeoutMilliseconds: Int32) throws(KafkaError) -> [TopicCreationCheck] {
        guard !topics.isEmpty else { return [] }
        return try withHandle { handle throws(KafkaError) in
            var newTopics: [OpaquePointer?] = []
            defer { for topic in newTopics { rd_kafka_NewTopic_destroy(topic) } }
            for topic in topics {
                var errstr = [CChar](repeating: 0, count: 512)
                guard let newTopic = rd_kafka_NewTopic_new(topic.name, topic.partitions, topic.replicationFactor,
                                                           &errstr, errstr.count) else {
                    throw KafkaError(code: .invalidArgument,
                                     message: "topic '\(topic.name)': \(string(fromBuffer: errstr))",
                                     isRetriable: false, isFatal: false)
                }
                newTopics.append(newTopic)
                for (name, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                    let err = rd_kafka_NewTopic_set_config(newTopic, name, value)
                    guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        throw KafkaError.fromResponse(err, message: "topic '\(topic.name)': config \(name) not accepted")
                    }
                }
            }
            let event = try adminRequest(handle, .createTopics, timeoutMilliseconds: timeoutMilliseconds,
                                         validateOnly: validateOnly,
                                         operationTimeoutMilliseconds: validateOnly ? nil : timeoutMilliseconds) { options, queue in
                rd_kafka_CreateTopics(handle.rk, &newTopics, newTopics.count, options, queue)
            }
            defer { rd_kafka_event_destroy(event) }
            guard let result = rd_kafka_event_CreateTopics_result(event) else {
                throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "CreateTopics returned no result")
            }
            var count = 0
            var checks: [TopicCreationCheck] = []
            if let results = rd_kafka_CreateTopics_result_topics(result, &count) {
                for i in 0 ..< count {
                    guard let topicResult = results[i] else { continue }
                    let name = String(cString: rd_kafka_topic_result_name(topicResult))
                    let err = rd_kafka_topic_result_error(topicResult)
                    var error: KafkaError?
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                        let text = rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) }
                            ?? String(cString: rd_kafka_err2str(err))
                        error = KafkaError.fromResponse(err, message: text)
                    }
                    checks.append(TopicCreationCheck(topic: name, error: error))
                }
            }
            return checks
        }
    }

    /// The configs of `topics` (`DescribeConfigs` for TOPIC resources): each topic's entries with a
    /// value (defaults included, sensitive ones left out), or the broker's error for it. Throws if the
    /// request as a whole failed (e.g. `UNSUPPORTED_FEATURE` from a cluster without DescribeConfigs,
    /// such as librdkafka's mock).
    public func topicConfigurations(_ topics: [String], timeoutMilliseconds: Int32) throws(KafkaError) -> [String: Result<[String: String], KafkaError>] {
        var configurations: [String: Result<[String: String], KafkaError>] = [:]
        for resource in try describeConfigs(RD_KAFKA_RESOURCE_TOPIC, names: topics, what: "topic",
                                            timeoutMilliseconds: timeoutMilliseconds) {
            configurations[resource.name] = resource.entries.map { $0.compactMapValues { $0 } }
        }
        return configurations
    }
}
