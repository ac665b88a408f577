import Foundation
import Yams

/// Walks the composed YAML node tree and builds a ``SwallowConfiguration``, reporting the first
/// problem found with its key path. Unknown keys of a mapping are reported before anything else
/// in that mapping (a misspelt key is the usual cause of a "missing" one).
struct ConfigurationReader {
    let environment: [String: String]
    /// Key paths whose value was read through `${file:...}`: secrets, never echoed (see ``SecretValue``).
    /// A reference, so that the section readers (non-mutating) can record them as they go.
    let fileValued = KeyPathSet()

    init(environment: [String: String]) {
        self.environment = environment
    }

    final class KeyPathSet {
        var paths: Set<String> = []
    }

    // MARK: - Key tables

    enum Keys {
        static let root = ["postgres", "slot", "publication", "tables", "topic_prefix", "kafka",
                           "status_interval_ms", "confirm_interval_ms", "delivery", "max_in_flight_events", "max_in_flight_bytes", "log_level", "events", "snapshot",
                           "state_dir", "heartbeat", "log_format", "http", "schema_registry",
                           "topic_creation", "topic_routing", "flatten", "outbox"]
        static let postgres = postgresPrimary + ["primary"]
        static let postgresPrimary = ["host", "port", "dbname", "user", "password", "sslmode", "connect_timeout_s",
                                      "sslrootcert", "sslcert", "sslkey", "sslpassword", "target_session_attrs"]
        /// What `postgres.primary` takes from `postgres` when not given: the database and credentials.
        static let postgresPrimaryInherited = ["dbname", "user", "password", "sslmode", "connect_timeout_s",
                                               "sslrootcert", "sslcert", "sslkey", "sslpassword"]
        static let slot = ["name", "create", "failover"]
        static let publication = ["name", "create", "publish_via_partition_root", "row_filters", "columns"]
        /// Debezium's ByLogicalTableRouter option names.
        static let topicRouting = ["topic.regex", "topic.replacement", "key.enforce.uniqueness", "key.field.name",
                                   "key.field.regex", "key.field.replacement", "schema.name.adjustment.mode",
                                   "logical.table.cache.size"]
        static let kafka = ["bootstrap_servers", "properties", "flush_timeout_ms", "oversized_events",
                            "dead_letter_topic", "transactional_id"]
        /// Debezium's own option names, so its documentation applies as it is.
        static let events = ["tombstones.on.delete", "skipped.operations", "unavailable.value.placeholder",
                             "message.prefix.include.list", "message.prefix.exclude.list",
                             "decimal.handling.mode", "time.precision.mode", "binary.handling.mode",
                             "interval.handling.mode", "hstore.handling.mode", "unknown.type.handling.mode",
                             "envelope.schemas", "provide.transaction.metadata", "message.key.columns", "extended.headers.enabled",
                             "table.include.list", "table.exclude.list", "column.include.list", "column.exclude.list",
                             "format", "field.name.adjustment.mode"]
        static let snapshot = ["mode", "max_threads", "chunk_rows", "signal_table", "incremental_chunk_rows"]
        static let heartbeat = ["interval_ms", "action_query", "emit_record", "stall_warning_s"]
        static let http = ["listen"]
        /// ExtractNewRecordState's option names (docs/transforms.md).
        static let flatten = ["delete.tombstone.handling.mode", "add.fields", "add.fields.prefix", "add.headers",
                              "add.headers.prefix", "route.by.field"]
        /// Debezium's EventRouter option names, and Swallow's `tables` and `message_prefixes`.
        static let outbox = ["tables", "message_prefixes", "route.by.field", "route.topic.regex", "route.topic.replacement",
                             "route.tombstone.on.empty.payload", "table.field.event.id", "table.field.event.key",
                             "table.field.event.type", "table.field.event.payload", "table.field.event.timestamp",
                             "table.field.event.schema.version", "table.expand.json.payload", "table.json.payload.null.behavior",
                             "table.fields.additional.placement", "table.field.additional.missing", "table.op.invalid.behavior"]
        static let schemaRegistry = ["url", "username", "password", "sslrootcert", "sslcert", "sslkey", "sslpassword",
                                     "subject_name_strategy", "auto_register", "request_timeout_ms", "retry_timeout_ms"]
        static let sections: [(name: String, keys: [String])] = [
            ("postgres", postgres), ("slot", slot), ("publication", publication), ("kafka", kafka),
            ("events", events), ("snapshot", snapshot), ("heartbeat", heartbeat), ("http", http),
            ("schema_registry", schemaRegistry), ("topic_routing", topicRouting), ("flatten", flatten),
            ("outbox", outbox),
        ]
    }

    enum Limits {
        static let port = 1...65_535
        static let connectTimeoutSeconds = 1...3_600
        static let flushTimeoutMilliseconds = 0...3_600_000
        static let statusIntervalMilliseconds = 100...600_000
        static let confirmIntervalMilliseconds = 10...600_000
        static let maxInFlightEvents = 1...100_000_000
        /// At least 64 KiB (a few events); at most 64 GiB.
        static let maxInFlightBytes = 65_536...68_719_476_736
        static let snapshotMaxThreads = 1...64
        static let snapshotChunkRows = 1_000...100_000_000
        static let incrementalSnapshotChunkRows = 1...1_000_000
        /// 0 turns heartbeats off; otherwise at least 100 ms, so heartbeats cannot flood the WAL.
        static let heartbeatIntervalMilliseconds = 0...86_400_000
        static let heartbeatMinimumIntervalMilliseconds = 100
        static let stallWarningSeconds = 0...86_400
        static let topicPrefixLength = 249
        static let identifierBytes = 63
    }

    // MARK: - Entry point

    func read(yaml: String) throws(ConfigurationError) -> SwallowConfiguration {
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: yaml)
        } catch {
            throw Self.yamlError(error, yaml: yaml)
        }
        guard let root = composed, !Self.isNull(root) else {
            throw ConfigurationError(
                code: .invalidYAML, path: "",
                message: "the configuration is empty; expected a mapping with the top-level keys \(Self.list(Keys.root)) (see Config/swallow.yaml)")
        }
        let top = try section(root, path: "", allowed: Keys.root,
                              expected: "a mapping with the top-level keys \(Self.list(Keys.root))")

        var postgres = try readPostgres(top)
        var postgresPrimary = try readPostgresPrimary(top)
        let slot = try readSlot(top)
        let publication = try readPublication(top)
        let tables = try readTables(top)
        try Self.checkPublicationFilters(publication, tables: tables)
        let topicPrefix = try readTopicPrefix(top)
        var kafka = try readKafka(top)
        let statusInterval = try integer(top, "status_interval_ms", range: Limits.statusIntervalMilliseconds,
                                         default: 10_000)
        let confirmInterval = try integer(top, "confirm_interval_ms", range: Limits.confirmIntervalMilliseconds,
                                          default: SwallowConfiguration.defaultConfirmIntervalMilliseconds)
        let delivery = try enumeration(top, "delivery", default: SwallowConfiguration.Delivery.atLeastOnce)
        let maxInFlight = try integer(top, "max_in_flight_events", range: Limits.maxInFlightEvents, default: 20_000)
        let maxInFlightBytes = try integer(top, "max_in_flight_bytes", range: Limits.maxInFlightBytes,
                                           default: SwallowConfiguration.defaultMaxInFlightBytes)
        let logLevel = try oneOf(top, "log_level", allowed: SwallowConfiguration.logLevels, default: "info")
        let events = try readEvents(top)
        let snapshot = try readSnapshot(top)
        let stateDirectory = try readStateDirectory(top)
        let heartbeat = try readHeartbeat(top)
        let logFormat = try enumeration(top, "log_format", default: SwallowConfiguration.LogFormat.text)
        let http = try readHTTP(top)
        let schemaRegistry = try readSchemaRegistry(top, events: events)

        if kafka.oversizedEvents == .deadLetter, kafka.deadLetterTopic == nil,
           kafka.resolvedDeadLetterTopic(topicPrefix: topicPrefix).utf8.count > Limits.topicPrefixLength {
            throw ConfigurationError(
                code: .invalidValue, path: "kafka.dead_letter_topic",
                message: "the default dead-letter topic `<topic_prefix>.dead-letter` would be longer than Kafka's \(Limits.topicPrefixLength) characters; set kafka.dead_letter_topic")
        }
        let fileValued = fileValuedPaths
        postgres.fileValuedKeyPaths = fileValued.filter { $0.hasPrefix("postgres.") }
        postgresPrimary?.fileValuedKeyPaths = fileValued.filter { $0.hasPrefix("postgres.primary.") }
        kafka.fileValuedKeyPaths = fileValued.filter { $0.hasPrefix("kafka.") }
        var configuration = SwallowConfiguration(
            postgres: postgres, postgresPrimary: postgresPrimary, slot: slot, publication: publication, tables: tables,
            topicPrefix: topicPrefix, kafka: kafka, statusIntervalMilliseconds: statusInterval,
            confirmIntervalMilliseconds: confirmInterval, delivery: delivery, maxInFlightEvents: maxInFlight, maxInFlightBytes: maxInFlightBytes, logLevel: logLevel, events: events, snapshot: snapshot,
            stateDirectory: stateDirectory, heartbeat: heartbeat, logFormat: logFormat, http: http,
            fileValuedKeyPaths: fileValued)
        configuration.schemaRegistry = schemaRegistry
        configuration.topicCreation = try readTopicCreation(top)
        configuration.topicRouting = try readTopicRouting(top, topicPrefix: topicPrefix)
        configuration.flatten = try readFlatten(top)
        configuration.outbox = try readOutbox(top, events: events)
        return configuration
    }

    /// Key paths whose values were read through `${file:...}`.
    var fileValuedPaths: Set<String> { fileValued.paths }
}
