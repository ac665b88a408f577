import ChangeEvent
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import SwallowCore

/// What the pipeline needs to run, resolved from the configuration (and, for `embedded`, from the
/// mock cluster the executable started).
public struct PipelineSettings: Sendable {
    /// Where Swallow reads: the slot, snapshots, the catalog (`postgres`; a primary, or from PostgreSQL 16
    /// a standby).
    public var connection: ConnectionParameters
    /// `postgres.primary`: where writes go when `connection` is a standby.
    public var primaryConnection: ConnectionParameters?
    /// Where Swallow writes (heartbeats, incremental snapshot watermarks, signals): `postgres.primary`
    /// when configured, else `postgres`.
    public var writeConnection: ConnectionParameters { primaryConnection ?? connection }
    public var slotName: String
    public var createSlot: Bool
    /// `slot.failover`: the slot is a failover slot (PostgreSQL 17+).
    public var slotFailover: Bool
    public var publicationName: String
    public var createPublication: Bool
    /// The `publication` section: partition root, row filters and column lists of the one Swallow creates.
    public var publication: SwallowConfiguration.Publication
    /// Captured tables; empty means every table the publication sends.
    public var tables: [QualifiedTableName]
    public var topicPrefix: String
    public var bootstrapServers: String
    public var kafkaProperties: [String: String]
    /// Names among `kafkaProperties` whose values are secret: never quoted in errors or descriptions.
    public var kafkaSecretProperties: Set<String>
    /// The producer's `transactional.id` with `delivery: exactly_once`.
    public var transactionalID: String
    public var flushTimeoutMilliseconds: Int
    /// What happens to an event above the producer's `message.max.bytes` (`kafka.oversized_events`).
    public var oversizedEvents: SwallowConfiguration.Kafka.OversizedEvents
    /// Where `dead_letter` sends such events (`kafka.dead_letter_topic`, resolved).
    public var deadLetterTopic: String
    public var statusIntervalMilliseconds: Int
    public var confirmIntervalMilliseconds: Int
    public var delivery: SwallowConfiguration.Delivery
    public var maxInFlightEvents: Int
    /// Key, value and header bytes produced and not yet acknowledged; see `KafkaProducer.inFlightBytes`.
    public var maxInFlightBytes: Int
    public var connectorVersion: String
    public var events: SwallowConfiguration.Events
    /// `flatten`: records as ExtractNewRecordState leaves them; nil writes change event envelopes.
    public var flatten: FlattenOptions?
    public var snapshot: SwallowConfiguration.Snapshot
    /// Snapshots on demand are requested through this table (`snapshot.signal_table`).
    public var signalTable: QualifiedTableName?
    /// Where snapshot progress is kept between runs.
    public var stateDirectory: String
    /// Heartbeats and the stall warning (`heartbeat` section).
    public var heartbeat: SwallowConfiguration.Heartbeat
    /// With `events.format: avro`: the Schema Registry.
    public var schemaRegistry: SwallowConfiguration.SchemaRegistry?
    /// `topic_creation`: which topics Swallow creates, and how.
    public var topicCreation: TopicCreationPolicy
    /// With `bootstrap_servers: embedded` (and in tests): the in-process mock cluster, which answers no
    /// CreateTopics, so that topics are created through its own interface.
    public var embeddedCluster: MockKafkaCluster?
    /// `topic_routing`: Debezium's ByLogicalTableRouter.
    public var topicRouting: SwallowConfiguration.TopicRouting?
    /// The outbox router's configuration (`outbox`), nil without one.
    public var outbox: SwallowConfiguration.Outbox?
    /// This run's id in Debezium's context headers (`__debezium.context.runId`): one per pipeline, made
    /// when its settings are, as Debezium makes one when its task starts.
    public var runID: String

    public init(configuration: SwallowConfiguration, bootstrapServers: String, connectorVersion: String) {
        connection = Self.connectionParameters(configuration.postgres)
        primaryConnection = configuration.postgresPrimary.map(Self.connectionParameters)
        slotName = configuration.slot.name
        createSlot = configuration.slot.create
        slotFailover = configuration.slot.failover
        publicationName = configuration.publication.name
        createPublication = configuration.publication.create
        publication = configuration.publication
        tables = configuration.tables.map { QualifiedTableName(schema: $0.schema, table: $0.table) }
        topicPrefix = configuration.topicPrefix
        self.bootstrapServers = bootstrapServers
        kafkaProperties = configuration.kafka.properties
        kafkaSecretProperties = configuration.kafka.secretPropertyNames
        transactionalID = configuration.kafka.resolvedTransactionalID(topicPrefix: configuration.topicPrefix,
                                                                      slotName: configuration.slot.name)
        flushTimeoutMilliseconds = configuration.kafka.flushTimeoutMilliseconds
        oversizedEvents = configuration.kafka.oversizedEvents
        deadLetterTopic = configuration.kafka.resolvedDeadLetterTopic(topicPrefix: configuration.topicPrefix)
        statusIntervalMilliseconds = configuration.statusIntervalMilliseconds
        confirmIntervalMilliseconds = configuration.confirmIntervalMilliseconds
        delivery = configuration.delivery
        maxInFlightEvents = configuration.maxInFlightEvents
        maxInFlightBytes = configuration.maxInFlightBytes
        self.connectorVersion = connectorVersion
        events = configuration.events
        flatten = configuration.flatten
        snapshot = configuration.snapshot
        signalTable = configuration.snapshot.signalTable.map { QualifiedTableName(schema: $0.schema, table: $0.table) }
        stateDirectory = configuration.stateDirectory
        heartbeat = configuration.heartbeat
        schemaRegistry = configuration.schemaRegistry
        topicCreation = TopicCreationPolicy(configuration.topicCreation)
        topicRouting = configuration.topicRouting
        outbox = configuration.outbox
        var random = SystemRandomNumberGenerator()
        runID = ContextHeaders.runID(unixMillis: UInt64(WallClock.millis()), random: (random.next(), random.next()))
    }

    /// libpq's parameters for a `postgres`-shaped section.
    static func connectionParameters(_ postgres: SwallowConfiguration.Postgres) -> ConnectionParameters {
        var connection = ConnectionParameters(host: postgres.host, port: postgres.port, database: postgres.dbname,
                                              user: postgres.user, password: postgres.password,
                                              sslMode: postgres.sslmode.rawValue,
                                              connectTimeoutSeconds: postgres.connectTimeoutSeconds,
                                              sslRootCertificateFile: postgres.tls.rootCertificateFile,
                                              sslCertificateFile: postgres.tls.certificateFile,
                                              sslKeyFile: postgres.tls.keyFile, sslKeyPassword: postgres.tls.keyPassword)
        if postgres.ports.count > 1 { connection.portList = postgres.ports.map(String.init).joined(separator: ",") }
        connection.targetSessionAttributes = postgres.targetSessionAttributes
        return connection
    }
}
