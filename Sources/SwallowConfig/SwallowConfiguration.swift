import ChangeEvent
import Foundation

/// The complete, validated configuration of the Swallow daemon.
///
/// Obtain one with ``load(path:environment:)`` or ``parse(yaml:environment:)``; both validate
/// every key and throw a ``ConfigurationError`` naming the offending key path.
///
/// `description` (and therefore string interpolation) is the redacted form, so a configuration
/// can be logged without leaking the database password or Kafka credentials.
public struct SwallowConfiguration: Sendable, Equatable {

    /// libpq `sslmode`.
    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable
        case allow
        case prefer
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    /// Where the Kafka producer connects.
    public enum KafkaBootstrap: Sendable, Hashable {
        /// The literal `embedded`: an in-process librdkafka mock cluster.
        case embedded
        /// A comma-separated `host:port` list, passed to librdkafka as `bootstrap.servers`.
        case servers(String)
    }

    /// `postgres:` section.
    public struct Postgres: Sendable, Equatable {
        /// One host, or libpq's comma-separated list (tried in order, e.g. a primary and its standbys).
        public var host: String
        /// The first of `ports`.
        public var port: Int
        /// One port for every host, or one per host (libpq's `port` list).
        public var ports: [Int]
        /// libpq's `target_session_attrs`: with several hosts `read-write` by default, so that Swallow
        /// connects to whichever is the primary (after a promotion, the promoted one).
        public var targetSessionAttributes: String?
        public var dbname: String
        public var user: String
        /// `nil` when not configured (or configured as an empty string).
        public var password: String?
        public var sslmode: SSLMode
        public var connectTimeoutSeconds: Int
        /// Certificates and key for TLS (`sslrootcert`, `sslcert`, `sslkey`, `sslpassword`).
        public var tls: TLS
        /// Key paths of this section (`postgres.host`...) whose values were read through `${file:...}`;
        /// descriptions show them as `***`.
        public var fileValuedKeyPaths: Set<String>

        /// libpq's TLS files, under libpq's names. Files are checked to be readable when the
        /// configuration is loaded; libpq reads them at every connection.
        public struct TLS: Sendable, Equatable {
            /// `sslrootcert`: CA certificate(s) (PEM) the server's certificate must chain to
            /// (sslmode verify-ca / verify-full).
            public var rootCertificateFile: String?
            /// `sslcert`: the client certificate (PEM), for `cert` authentication or `clientcert=verify-*`.
            public var certificateFile: String?
            /// `sslkey`: the client certificate's private key (PEM); libpq wants it mode 0600 (or 0640
            /// owned by root).
            public var keyFile: String?
            /// `sslpassword`: the passphrase of an encrypted `sslkey`. Secret.
            public var keyPassword: String?

            public init(rootCertificateFile: String? = nil, certificateFile: String? = nil,
                        keyFile: String? = nil, keyPassword: String? = nil) {
                self.rootCertificateFile = rootCertificateFile
                self.certificateFile = certificateFile
                self.keyFile = keyFile
                self.keyPassword = keyPassword
            }
        }

        public init(
            host: String,
            port: Int = 5432,
            dbname: String,
            user: String,
            password: String? = nil,
            sslmode: SSLMode = .prefer,
            connectTimeoutSeconds: Int = 10,
            tls: TLS = TLS(),
            fileValuedKeyPaths: Set<String> = [],
            ports: [Int]? = nil,
            targetSessionAttributes: String? = nil
        ) {
            self.host = host
            self.port = ports?.first ?? port
            self.ports = ports ?? [port]
            self.targetSessionAttributes = targetSessionAttributes
            self.dbname = dbname
            self.user = user
            self.password = password
            self.sslmode = sslmode
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.tls = tls
            self.fileValuedKeyPaths = fileValuedKeyPaths
        }
    }

    /// `slot:` section (logical replication slot).
    public struct Slot: Sendable, Equatable {
        public var name: String
        public var create: Bool
        /// A failover slot (PostgreSQL 17+, Debezium's `slot.failover`): created (or altered) so that
        /// standbys synchronize it and a promoted one has it.
        public var failover: Bool

        public init(name: String, create: Bool = true, failover: Bool = false) {
            self.name = name
            self.create = create
            self.failover = failover
        }
    }

    /// `publication:` section.
    public struct Publication: Sendable, Equatable {
        public var name: String
        public var create: Bool
        /// `publish_via_partition_root`: the publication Swallow creates publishes a partitioned table's
        /// changes as its root's (one topic, the root's name), not as each partition's.
        public var publishViaPartitionRoot: Bool
        /// `row_filters`: per table, the `WHERE` expression of the publication Swallow creates
        /// (PostgreSQL 15+); snapshots read the same rows.
        public var rowFilters: [TableName: String]
        /// `columns`: per table, the column list of the publication Swallow creates (PostgreSQL 15+);
        /// snapshots read the same columns.
        public var columnLists: [TableName: [String]]

        public init(name: String, create: Bool = true, publishViaPartitionRoot: Bool = false,
                    rowFilters: [TableName: String] = [:], columnLists: [TableName: [String]] = [:]) {
            self.name = name
            self.create = create
            self.publishViaPartitionRoot = publishViaPartitionRoot
            self.rowFilters = rowFilters
            self.columnLists = columnLists
        }
    }

    /// A table selected for capture: its schema and name exactly as PostgreSQL stores them. `description`
    /// is `schema.table` as the configuration writes it (a part in double quotes where SQL needs them).
    public struct TableName: Sendable, Hashable, CustomStringConvertible {
        public var schema: String
        public var table: String

        public init(schema: String = "public", table: String) {
            self.schema = schema
            self.table = table
        }

        public var description: String { "\(QualifiedNameSyntax.quoted(schema)).\(QualifiedNameSyntax.quoted(table))" }
    }

    /// `kafka:` section.
    public struct Kafka: Sendable, Equatable {
        /// What happens to an event larger than the producer's `message.max.bytes` (`oversized_events`).
        public enum OversizedEvents: String, Sendable, Hashable, CaseIterable {
            /// Stop with an error naming the table, operation and key; nothing is confirmed past it.
            case fail
            /// Produce a record with the event's key, a null value and `swallow.error.*` headers to
            /// the dead-letter topic instead, and go on.
            case deadLetter = "dead_letter"
        }

        public var bootstrapServers: KafkaBootstrap
        /// librdkafka properties, verbatim; YAML scalars are stringified as written (`true` -> "true", `5` -> "5").
        public var properties: [String: String]
        public var flushTimeoutMilliseconds: Int
        public var oversizedEvents: OversizedEvents
        /// Where `dead_letter` sends oversized events; nil means `<topic_prefix>.dead-letter`.
        public var deadLetterTopic: String?
        /// `transactional_id` (with `delivery: exactly_once`); nil means `swallow.<topic_prefix>.<slot.name>`.
        public var transactionalID: String?
        /// Key paths of this section (`kafka.properties.sasl.username`...) whose values were read through
        /// `${file:...}`; descriptions show them as `***`.
        public var fileValuedKeyPaths: Set<String>

        public init(
            bootstrapServers: KafkaBootstrap,
            properties: [String: String] = [:],
            flushTimeoutMilliseconds: Int = 30_000,
            oversizedEvents: OversizedEvents = .fail,
            deadLetterTopic: String? = nil,
            transactionalID: String? = nil,
            fileValuedKeyPaths: Set<String> = []
        ) {
            self.transactionalID = transactionalID
            self.bootstrapServers = bootstrapServers
            self.properties = properties
            self.flushTimeoutMilliseconds = flushTimeoutMilliseconds
            self.oversizedEvents = oversizedEvents
            self.deadLetterTopic = deadLetterTopic
            self.fileValuedKeyPaths = fileValuedKeyPaths
        }

        /// The transactional id of a slot's producer: the configured one, or `swallow.<topic_prefix>.<slot>`.
        /// The same for every instance of one configuration, so a new one fences the old; different for two
        /// deployments that share a cluster.
        public func resolvedTransactionalID(topicPrefix: String, slotName: String) -> String {
            transactionalID ?? "swallow.\(topicPrefix).\(slotName)"
        }

        /// The dead-letter topic for `topicPrefix`: the configured one, or `<topic_prefix>.dead-letter`.
        public func resolvedDeadLetterTopic(topicPrefix: String) -> String {
            deadLetterTopic ?? "\(topicPrefix).dead-letter"
        }

        /// The properties whose values must never appear in logs or errors: secret by name
        /// (``SwallowConfiguration/isSecretPropertyKey(_:)``) or read from a file.
        public var secretPropertyNames: Set<String> {
            Set(properties.keys.filter {
                SwallowConfiguration.isSecret(path: SwallowConfiguration.kafkaPropertyPathPrefix + $0,
                                              fileValued: fileValuedKeyPaths)
            })
        }
    }

    /// Debezium's event options, under Debezium's own names (section `events`).
    public struct Events: Sendable, Equatable {
        /// An operation letter of `skipped.operations`.
        public enum Operation: String, Sendable, Hashable, CaseIterable { case create = "c", update = "u", delete = "d", truncate = "t" }
        // The value-conversion modes are the encoder's own types: their raw values are Debezium's names.
        public typealias DecimalHandling = EncoderOptions.DecimalHandling
        public typealias TimePrecision = EncoderOptions.TimePrecision
        public typealias BinaryHandling = EncoderOptions.BinaryHandling
        public typealias IntervalHandling = EncoderOptions.IntervalHandling
        public typealias HstoreHandling = EncoderOptions.HstoreHandling
        public typealias UnknownTypeHandling = EncoderOptions.UnknownTypeHandling

        /// One entry of `message.key.columns`: tables whose `schema.table` matches `table` are keyed by `columns`.
        public struct KeyColumns: Sendable, Equatable {
            public var table: String
            public var columns: [String]
            public init(table: String, columns: [String]) {
                self.table = table
                self.columns = columns
            }
        }

        /// `tombstones.on.delete`: a delete is followed by a null-valued record with the same key.
        public var tombstonesOnDelete: Bool
        /// `skipped.operations`: changes of these kinds are not emitted. Debezium's default skips truncates.
        public var skippedOperations: Set<Operation>
        /// `unavailable.value.placeholder`: stands for unchanged TOASTed values PostgreSQL did not send.
        public var unavailableValuePlaceholder: String
        /// `message.prefix.include.list` / `message.prefix.exclude.list`: regular expressions matched
        /// against the whole prefix of logical decoding messages; at most one of the two is set.
        public var messagePrefixIncludeList: [String]?
        public var messagePrefixExcludeList: [String]?
        public var decimalHandling: DecimalHandling
        public var timePrecision: TimePrecision
        public var binaryHandling: BinaryHandling
        public var intervalHandling: IntervalHandling
        public var hstoreHandling: HstoreHandling
        /// `unknown.type.handling.mode` (Swallow's own): fail on a type without a mapping, or pass its text.
        public var unknownTypeHandling: UnknownTypeHandling
        /// `envelope.schemas`: `{"schema":…,"payload":…}` records, as JsonConverter with schemas.enable=true.
        public var includeSchemas: Bool
        /// `format`: how keys and values are serialized.
        public enum Format: String, Sendable, CaseIterable {
            /// Kafka Connect's JsonConverter.
            case json
            /// Confluent's AvroConverter: Confluent wire format, schemas in a Schema Registry
            /// (`schema_registry`).
            case avro
        }
        public var format: Format = .json
        /// `field.name.adjustment.mode`: `none`, or `avro` (column names made valid Avro names).
        public typealias FieldNameAdjustment = ChangeEvent.FieldNameAdjustment
        public var fieldNameAdjustment: FieldNameAdjustment = .none
        /// `provide.transaction.metadata`: BEGIN/END records on `<prefix>.transaction` and a
        /// `transaction` block on each event.
        public var provideTransactionMetadata: Bool
        /// `message.key.columns`, in the order given (the first matching entry wins).
        public var messageKeyColumns: [KeyColumns]
        /// `table.include.list` / `table.exclude.list`: regular expressions matched against `schema.table`.
        public var tableIncludeList: [String]?
        public var tableExcludeList: [String]?
        /// `column.include.list` / `column.exclude.list`: regular expressions matched against `schema.table.column`.
        public var columnIncludeList: [String]?
        public var columnExcludeList: [String]?
        /// `extended.headers.enabled` (Debezium 3.x, default on): every row change, tombstone, truncate
        /// and snapshot record carries Debezium's context headers `__debezium.context.connectorLogicalName`,
        /// `.taskId`, `.connectorName` and `.runId`; off, records have Debezium 2.x's headers only.
        public var extendedHeadersEnabled: Bool
        /// `column.truncate.to.<N>.chars`, `column.mask.with.<N>.chars`,
        /// `column.mask.hash[.v2].<algorithm>.with.salt.<salt>`: in Debezium's order (the first rule that
        /// matches a column wins). See docs/transforms.md.
        public var columnMasks: [ColumnMaskRule] = []

        public init(tombstonesOnDelete: Bool = true, skippedOperations: Set<Operation> = [.truncate],
                    unavailableValuePlaceholder: String = "__debezium_unavailable_value",
                    messagePrefixIncludeList: [String]? = nil, messagePrefixExcludeList: [String]? = nil,
                    decimalHandling: DecimalHandling = .precise, timePrecision: TimePrecision = .adaptive,
                    binaryHandling: BinaryHandling = .bytes, intervalHandling: IntervalHandling = .numeric,
                    hstoreHandling: HstoreHandling = .json, unknownTypeHandling: UnknownTypeHandling = .fail,
                    includeSchemas: Bool = false, provideTransactionMetadata: Bool = false,
                    messageKeyColumns: [KeyColumns] = [],
                    tableIncludeList: [String]? = nil, tableExcludeList: [String]? = nil,
                    columnIncludeList: [String]? = nil, columnExcludeList: [String]? = nil,
                    extendedHeadersEnabled: Bool = true) {
            self.extendedHeadersEnabled = extendedHeadersEnabled
            self.tombstonesOnDelete = tombstonesOnDelete
            self.skippedOperations = skippedOperations
            self.unavailableValuePlaceholder = unavailableValuePlaceholder
            self.messagePrefixIncludeList = messagePrefixIncludeList
            self.messagePrefixExcludeList = messagePrefixExcludeList
            self.decimalHandling = decimalHandling
            self.timePrecision = timePrecision
            self.binaryHandling = binaryHandling
            self.intervalHandling = intervalHandling
            self.hstoreHandling = hstoreHandling
            self.unknownTypeHandling = unknownTypeHandling
            self.includeSchemas = includeSchemas
            self.provideTransactionMetadata = provideTransactionMetadata
            self.messageKeyColumns = messageKeyColumns
            self.tableIncludeList = tableIncludeList
            self.tableExcludeList = tableExcludeList
            self.columnIncludeList = columnIncludeList
            self.columnExcludeList = columnExcludeList
        }
    }

    /// Snapshots of the captured tables' existing rows, under Debezium's option names where it has
    /// one (section `snapshot`).
    public struct Snapshot: Sendable, Equatable {
        /// `mode` (Debezium's `snapshot.mode`): when the existing rows are read.
        public enum Mode: String, Sendable, Hashable, CaseIterable {
            /// Snapshot when the slot is created (or an earlier snapshot did not finish), then stream.
            case initial
            /// Never snapshot: stream only.
            case noData = "no_data"
            /// Snapshot as `initial` does, then exit without streaming.
            case initialOnly = "initial_only"
            /// As `initial`, and snapshot again when the slot is missing or was invalidated (its WAL is gone).
            case whenNeeded = "when_needed"
            /// Snapshot at every start, then stream.
            case always
        }

        public var mode: Mode
        /// `max_threads` (Debezium's `snapshot.max.threads`): how many chunks of the initial snapshot are read
        /// in parallel.
        public var maxThreads: Int
        /// `chunk_rows`: rows per chunk of the initial snapshot, the unit of parallel reading and of
        /// resumable progress.
        public var chunkRows: Int
        /// `signal_table` (Debezium's `signal.data.collection`): the table
        /// `(id varchar(42) PRIMARY KEY, type varchar(32), data varchar(2048))` through which snapshots
        /// on demand are requested; `nil` when not configured.
        public var signalTable: TableName?
        /// `incremental_chunk_rows` (Debezium's `incremental.snapshot.chunk.size`): rows per chunk of an
        /// incremental (on demand) snapshot.
        public var incrementalChunkRows: Int

        public init(mode: Mode = .initial, maxThreads: Int = 1, chunkRows: Int = 100_000,
                    signalTable: TableName? = nil, incrementalChunkRows: Int = 1024) {
            self.mode = mode
            self.maxThreads = maxThreads
            self.chunkRows = chunkRows
            self.signalTable = signalTable
            self.incrementalChunkRows = incrementalChunkRows
        }
    }

    /// Keeping the slot moving and noticing when it does not (section `heartbeat`).
    public struct Heartbeat: Sendable, Equatable {
        /// `interval_ms` (Debezium's `heartbeat.interval.ms`): how often a heartbeat is written to the
        /// captured database as a non-transactional logical decoding message; 0 turns heartbeats off.
        public var intervalMilliseconds: Int
        /// `action_query` (Debezium's `heartbeat.action.query`): a statement run with each heartbeat.
        public var actionQuery: String?
        /// `emit_record`: each heartbeat that comes back through the stream is produced to
        /// `__debezium-heartbeat.<topic_prefix>` as Debezium's heartbeat record.
        public var emitRecord: Bool
        /// `stall_warning_s`: warn when the confirmed position has not moved for this long while the
        /// server's has; 0 turns the warning off.
        public var stallWarningSeconds: Int

        public init(intervalMilliseconds: Int = 0, actionQuery: String? = nil, emitRecord: Bool = true,
                    stallWarningSeconds: Int = 300) {
            self.intervalMilliseconds = intervalMilliseconds
            self.actionQuery = actionQuery
            self.emitRecord = emitRecord
            self.stallWarningSeconds = stallWarningSeconds
        }
    }

    /// How log lines are written (`log_format`).
    /// `delivery`: what a consumer may see after a crash, a restart or a fault.
    public enum Delivery: String, Sendable, Hashable, CaseIterable {
        /// Every change reaches Kafka; after a crash or a failed delivery, the changes after the last
        /// confirmed position are sent again (see `confirm_interval_ms`).
        case atLeastOnce = "at_least_once"
        /// Every change reaches its topic once: a transactional producer fences earlier instances, and a
        /// resume skips what the topics already hold (docs/exactly-once.md).
        case exactlyOnce = "exactly_once"
    }

    public enum LogFormat: String, Sendable, Hashable, CaseIterable {
        /// One human-readable line per message (swift-log's stream format).
        case text
        /// One JSON object per line: timestamp, level, label, message, metadata.
        case json
    }

    /// The HTTP listener for metrics, health and status (section `http`).
    public struct HTTP: Sendable, Equatable {
        /// `listen`: where to listen, `host:port` (IPv4 address or `[IPv6]`, port 0 for any free port);
        /// nil (the default) means no listener.
        public var listen: Listen?

        public struct Listen: Sendable, Equatable, CustomStringConvertible {
            /// An IPv4 address, or an IPv6 address without brackets.
            public var host: String
            public var port: Int
            public var isIPv6: Bool { host.contains(":") }

            public init(host: String, port: Int) {
                self.host = host
                self.port = port
            }

            public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
        }

        public init(listen: Listen? = nil) {
            self.listen = listen
        }
    }

    public var postgres: Postgres
    /// `postgres.primary`: the primary that Swallow writes to (heartbeats, incremental snapshot
    /// watermarks, signals) when `postgres` is a standby; the database and credentials default to
    /// `postgres`'s. Nil when not configured: writes go to `postgres`.
    public var postgresPrimary: Postgres?
    public var slot: Slot
    public var publication: Publication
    /// Tables to capture; empty means all tables (of the publication).
    public var tables: [TableName]
    public var topicPrefix: String
    public var kafka: Kafka
    /// `status_interval_ms`: the longest time between two standby status updates (the keepalive).
    public var statusIntervalMilliseconds: Int
    /// `confirm_interval_ms`: how soon an acknowledged position is confirmed to PostgreSQL (at most one
    /// status update per interval while it moves). What a crash repeats in `at_least_once`.
    public var confirmIntervalMilliseconds: Int
    public var delivery: Delivery
    public var maxInFlightEvents: Int
    /// `max_in_flight_bytes`: bound on the key, value and header bytes produced and not yet acknowledged.
    public var maxInFlightBytes: Int
    /// One of ``logLevels`` (the raw values of swift-log's `Logger.Level`).
    public var logLevel: String
    public var events: Events
    public var snapshot: Snapshot
    public var logFormat: LogFormat
    public var http: HTTP
    /// `schema_registry`: where `events.format: avro` registers its schemas; nil with JSON.
    public var schemaRegistry: SchemaRegistry?
    /// `topic_creation`: the topics Swallow creates before their first record (Kafka Connect's
    /// `topic.creation.*`); nil when the section is absent (the brokers create topics, if anything does).
    public var topicCreation: TopicCreation? = nil
    /// `topic_routing`: Debezium's ByLogicalTableRouter; nil: every table has its own topic.
    public var topicRouting: TopicRouting?
    /// `flatten`: records as Debezium's ExtractNewRecordState leaves them (docs/transforms.md); nil writes
    /// change event envelopes.
    public var flatten: FlattenOptions?
    /// `outbox`: Debezium's outbox event router for the outbox tables and messages; nil when absent.
    public var outbox: Outbox?
    /// `state_dir`: where Swallow keeps durable local state (snapshot progress); absolute, or relative
    /// to the working directory. Never empty.
    public var stateDirectory: String
    public var heartbeat: Heartbeat
    /// Every key path whose value was read through `${file:...}` (including those of ``Postgres`` and
    /// ``Kafka``): secrets, shown as `***` by ``redactedDescription`` and never quoted in errors.
    public var fileValuedKeyPaths: Set<String>

    /// The default `max_in_flight_bytes`: 16 MiB. librdkafka holds a copy of each in-flight message plus
    /// its own per-message overhead, so this keeps a default process well under 64 MB at steady state.
    public static let defaultMaxInFlightBytes = 16 * 1024 * 1024

    /// The default `confirm_interval_ms`.
    public static let defaultConfirmIntervalMilliseconds = 200

    /// The default `state_dir`.
    public static let defaultStateDirectory = "/var/lib/swallow"

    /// The accepted `log_level` values, most verbose first.
    public static let logLevels: [String] = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public init(
        postgres: Postgres,
        postgresPrimary: Postgres? = nil,
        slot: Slot,
        publication: Publication,
        tables: [TableName] = [],
        topicPrefix: String,
        kafka: Kafka,
        statusIntervalMilliseconds: Int = 10_000,
        confirmIntervalMilliseconds: Int = defaultConfirmIntervalMilliseconds,
        delivery: Delivery = .atLeastOnce,
        maxInFlightEvents: Int = 20_000,
        maxInFlightBytes: Int = defaultMaxInFlightBytes,
        logLevel: String = "info",
        events: Events = Events(),
        snapshot: Snapshot = Snapshot(),
        stateDirectory: String = defaultStateDirectory,
        heartbeat: Heartbeat = Heartbeat(),
        logFormat: LogFormat = .text,
        http: HTTP = HTTP(),
        fileValuedKeyPaths: Set<String> = []
    ) {
        self.logFormat = logFormat
        self.http = http
        self.postgres = postgres
        self.postgresPrimary = postgresPrimary
        self.slot = slot
        self.publication = publication
        self.tables = tables
        self.topicPrefix = topicPrefix
        self.kafka = kafka
        self.statusIntervalMilliseconds = statusIntervalMilliseconds
        self.confirmIntervalMilliseconds = confirmIntervalMilliseconds
        self.delivery = delivery
        self.maxInFlightEvents = maxInFlightEvents
        self.maxInFlightBytes = maxInFlightBytes
        self.logLevel = logLevel
        self.events = events
        self.snapshot = snapshot
        self.stateDirectory = stateDirectory
        self.heartbeat = heartbeat
        self.fileValuedKeyPaths = fileValuedKeyPaths
    }

    /// Reads and validates the YAML configuration file at `path`.
    ///
    /// `${NAME}` references in values are resolved from `environment`, `${file:/path}` references from
    /// the files they name; the TLS files of the `postgres` section must be readable.
    public static func load(
        path: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> SwallowConfiguration {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigurationError(
                code: .fileUnreadable, path: "",
                message: "cannot read configuration file \(path): no such file; pass the path of a YAML file (see Config/swallow.yaml)")
        }
        guard !isDirectory.boolValue else {
            throw ConfigurationError(
                code: .fileUnreadable, path: "",
                message: "cannot read configuration file \(path): it is a directory; pass the path of a YAML file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                code: .fileUnreadable, path: "",
                message: "cannot read configuration file \(path): permission denied or I/O error; check the file's permissions")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(
                code: .fileUnreadable, path: "",
                message: "cannot read configuration file \(path): it is not valid UTF-8 text")
        }
        return try parse(yaml: text, environment: environment)
    }

    /// Parses and validates a YAML configuration document.
    public static func parse(yaml: String, environment: [String: String]) throws(ConfigurationError) -> SwallowConfiguration {
        try ConfigurationReader(environment: environment).read(yaml: yaml)
    }
}
