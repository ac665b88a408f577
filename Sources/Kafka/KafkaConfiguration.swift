import CRdKafka

/// Sole owner of an `rd_kafka_conf_t` until it is handed to `rd_kafka_new`, which takes ownership only on
/// success: until then (and if anything throws) `deinit` destroys it, so no path leaks it.
///
/// Errors never quote the value of a secret property: librdkafka's own messages do (`Invalid value
/// "..." for configuration property "..."`), so every secret value set so far is masked in them.
final class KafkaConfiguration {
    private var conf: OpaquePointer?
    /// Names of the properties whose values are secret (passwords, keys, values read from files).
    private let secretProperties: Set<String>
    /// The values given to `secretProperties` so far.
    private var secretValues: [String] = []

    init(secretProperties: Set<String> = []) {
        conf = rd_kafka_conf_new()
        self.secretProperties = secretProperties
    }

    deinit {
        if let conf { rd_kafka_conf_destroy(conf) }
    }

    /// `rd_kafka_conf_set`; failures name the property and quote librdkafka, e.g.
    /// `Kafka property 'compresion.type': No such configuration property: "compresion.type"`.
    func set(_ name: String, _ value: String) throws(KafkaError) {
        guard let conf else { preconditionFailure("configuration already consumed") }
        if secretProperties.contains(name), !value.isEmpty { secretValues.append(value) }
        var errstr = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(conf, name, value, &errstr, errstr.count)
        guard result == RD_KAFKA_CONF_OK else {
            let reason = mask(string(fromBuffer: errstr))
            let hint = Self.allowedValues[name].map { "; expected one of \($0)" } ?? ""
            throw .configuration("Kafka property '\(name)': \(reason)\(hint)")
        }
    }

    /// The values of the security properties, which librdkafka's message does not list.
    static let allowedValues = [
        "security.protocol": "plaintext, ssl, sasl_plaintext, sasl_ssl",
        "sasl.mechanisms": "GSSAPI, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER",
    ]

    /// Whether `name`'s value must not be quoted in messages.
    func isSecret(_ name: String) -> Bool { secretProperties.contains(name) }

    /// Masks the secret values set so far, for text librdkafka writes later (error events, log lines).
    var mask: SecretMask { SecretMask(values: secretValues) }

    func set(_ properties: [(String, String)]) throws(KafkaError) {
        for (name, value) in properties { try set(name, value) }
    }

    /// The caller's properties, in name order so that, with several bad ones, the same one is reported
    /// every time.
    func set(_ properties: [String: String]) throws(KafkaError) {
        try set(properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// `rd_kafka_conf_get`; nil if the property is unknown or unset without a default. Topic-level
    /// properties set on the global configuration (e.g. `acks`) live in the default topic configuration,
    /// which `rd_kafka_conf_get` does not search, so fall back to it.
    func get(_ name: String) -> String? {
        guard let conf else { return nil }
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        if rd_kafka_conf_get(conf, name, &buffer, &size) == RD_KAFKA_CONF_OK {
            return string(fromBuffer: buffer)
        }
        if let topicConf = rd_kafka_conf_get_default_topic_conf(conf) {
            size = buffer.count
            if rd_kafka_topic_conf_get(topicConf, name, &buffer, &size) == RD_KAFKA_CONF_OK {
                return string(fromBuffer: buffer)
            }
        }
        return nil
    }

    /// Enables event-API delivery of the given `RD_KAFKA_EVENT_*` types on the main queue.
    func setEvents(_ mask: Int32) {
        guard let conf else { preconditionFailure("configuration already consumed") }
        rd_kafka_conf_set_events(conf, mask)
    }

    /// `rd_kafka_new`: on success librdkafka owns the configuration, so this object forgets it.
    /// A producer-type client whose `events` and log lines (librdkafka's `log.queue`, forwarded to the
    /// main queue) arrive on its main queue, for the owner's own loop to serve: nothing is printed to
    /// stderr from librdkafka's threads. Consumes the configuration.
    func makeProducerHandle(events: Int32) throws(KafkaError) -> ClientHandle {
        try makeQueuedHandle(RD_KAFKA_PRODUCER, events: events)
    }

    /// As `makeProducerHandle`, for a client of either type. For a consumer, fetched records and
    /// partition-level errors still go to the consumer queue (`rd_kafka_consumer_poll`); the main queue gets
    /// the client-wide events and the log lines.
    func makeQueuedHandle(_ type: rd_kafka_type_t, events: Int32) throws(KafkaError) -> ClientHandle {
        try set("log.queue", "true")
        setEvents(events | RD_KAFKA_EVENT_LOG)
        let rk = try makeClient(type)
        guard let mainQueue = rd_kafka_queue_get_main(rk) else {
            rd_kafka_destroy(rk)
            throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__FAIL, message: "librdkafka returned no main queue")
        }
        // NULL = forward logs to the main queue.
        _ = rd_kafka_set_log_queue(rk, nil)
        return ClientHandle(rk: rk, mainQueue: mainQueue, mask: mask)
    }

    func makeClient(_ type: rd_kafka_type_t) throws(KafkaError) -> OpaquePointer {
        guard let conf else { preconditionFailure("configuration already consumed") }
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            let reason = mask(string(fromBuffer: errstr))
            throw .configuration("Could not create the Kafka client: \(reason)")
        }
        self.conf = nil
        return rk
    }
}

/// Masks the values of secret properties in text that librdkafka wrote, which may quote them whole or
/// in part: e.g. `Failed to acquire SASL OAUTHBEARER token: Unrecognized sasl.oauthbearer.config
/// beginning at: <the rest of the value>`.
struct SecretMask: Sendable {
    let values: [String]
    /// Shorter words are too common to be a telling part of a secret.
    static let shortestMaskedPart = 4

    /// `text` with each secret value, and each word of it that is part of a secret value, replaced by `***`.
    func callAsFunction(_ text: String) -> String {
        guard !values.isEmpty else { return text }
        let whole = values.reduce(text) { $0.replacing($1, with: "***") }
        var result = ""
        var word = ""
        func flush() {
            if word.count >= Self.shortestMaskedPart, values.contains(where: { $0.contains(word) }) {
                result += "***"
            } else {
                result += word
            }
            word = ""
        }
        for character in whole {
            if character.isWhitespace || "\"'`,;()[]{}<>".contains(character) {
                flush()
                result.append(character)
            } else {
                word.append(character)
            }
        }
        flush()
        return result
    }
}

/// The NUL-terminated string in a C character buffer (e.g. an `errstr` filled in by librdkafka).
func string(fromBuffer buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
