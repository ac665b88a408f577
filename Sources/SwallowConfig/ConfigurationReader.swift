import Foundation
import Yams

/// Walks the composed YAML node tree and builds a ``SwallowConfiguration``, reporting the first
/// problem found with its key path. Unknown keys of a mapping are reported before anything else
/// in that mapping (a misspelt key is the usual cause of a "missing" one).
struct ConfigurationReader {
    let environment: [String: String]
    /// Key paths whose value was read through `${file:...}`: secrets, never echoed (see ``shown(_:at:)``).
    private let fileValued = KeyPathSet()

    init(environment: [String: String]) {
        self.environment = environment
    }

    final class KeyPathSet {
        var paths: Set<String> = []
    }

    // MARK: - Key tables

    enum Keys {
        static let root = ["postgres", "slot", "publication", "tables", "topic_prefix", "kafka",
                           "status_interval_ms", "max_in_flight_events", "max_in_flight_bytes", "log_level", "events", "snapshot",
                           "state_dir", "heartbeat", "log_format", "http"]
        static let postgres = ["host", "port", "dbname", "user", "password", "sslmode", "connect_timeout_s",
                               "sslrootcert", "sslcert", "sslkey", "sslpassword"]
        static let slot = ["name", "create"]
        static let publication = ["name", "create"]
        static let kafka = ["bootstrap_servers", "properties", "flush_timeout_ms", "oversized_events",
                            "dead_letter_topic"]
        /// Debezium's own option names, so its documentation applies as it is.
        static let events = ["tombstones.on.delete", "skipped.operations", "unavailable.value.placeholder",
                             "message.prefix.include.list", "message.prefix.exclude.list",
                             "decimal.handling.mode", "time.precision.mode", "binary.handling.mode",
                             "interval.handling.mode", "hstore.handling.mode", "unknown.type.handling.mode",
                             "envelope.schemas", "provide.transaction.metadata", "message.key.columns",
                             "table.include.list", "table.exclude.list", "column.include.list", "column.exclude.list"]
        static let snapshot = ["mode", "max_threads", "chunk_rows", "signal_table", "incremental_chunk_rows"]
        static let heartbeat = ["interval_ms", "action_query", "emit_record", "stall_warning_s"]
        static let http = ["listen"]
        static let sections: [(name: String, keys: [String])] = [
            ("postgres", postgres), ("slot", slot), ("publication", publication), ("kafka", kafka),
            ("events", events), ("snapshot", snapshot), ("heartbeat", heartbeat), ("http", http),
        ]
    }

    enum Limits {
        static let port = 1...65_535
        static let connectTimeoutSeconds = 1...3_600
        static let flushTimeoutMilliseconds = 0...3_600_000
        static let statusIntervalMilliseconds = 100...600_000
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

    /// librdkafka properties that Swallow sets itself.
    static let reservedKafkaProperties = ["bootstrap.servers", "metadata.broker.list"]

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
        let slot = try readSlot(top)
        let publication = try readPublication(top)
        let tables = try readTables(top)
        let topicPrefix = try readTopicPrefix(top)
        var kafka = try readKafka(top)
        let statusInterval = try integer(top, "status_interval_ms", range: Limits.statusIntervalMilliseconds,
                                         default: 10_000)
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

        if kafka.oversizedEvents == .deadLetter, kafka.deadLetterTopic == nil,
           kafka.resolvedDeadLetterTopic(topicPrefix: topicPrefix).utf8.count > Limits.topicPrefixLength {
            throw ConfigurationError(
                code: .invalidValue, path: "kafka.dead_letter_topic",
                message: "the default dead-letter topic `<topic_prefix>.dead-letter` would be longer than Kafka's \(Limits.topicPrefixLength) characters; set kafka.dead_letter_topic")
        }
        let fileValued = fileValuedPaths
        postgres.fileValuedKeyPaths = fileValued.filter { $0.hasPrefix("postgres.") }
        kafka.fileValuedKeyPaths = fileValued.filter { $0.hasPrefix("kafka.") }
        return SwallowConfiguration(
            postgres: postgres, slot: slot, publication: publication, tables: tables,
            topicPrefix: topicPrefix, kafka: kafka, statusIntervalMilliseconds: statusInterval,
            maxInFlightEvents: maxInFlight, maxInFlightBytes: maxInFlightBytes, logLevel: logLevel, events: events, snapshot: snapshot,
            stateDirectory: stateDirectory, heartbeat: heartbeat, logFormat: logFormat, http: http,
            fileValuedKeyPaths: fileValued)
    }

    // MARK: - Sections

    private func readPostgres(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Postgres {
        let pg = try requiredSection(top, "postgres", allowed: Keys.postgres, required: ["host", "dbname", "user"])
        let host = try requiredString(pg, "host", expected: "a string (the PostgreSQL server host name or IP address)",
                                      example: "host: 127.0.0.1")
        let port = try integer(pg, "port", range: Limits.port, default: 5432)
        let dbname = try requiredString(pg, "dbname", expected: "a string (the database to replicate from)",
                                        example: "dbname: app")
        let user = try requiredString(pg, "user", expected: "a string (a role with the REPLICATION attribute)",
                                      example: "user: swallow")
        let password = try scalar(pg["password"], path: pg.path("password"), expected: "a string", secret: true)
        let mode = try enumeration(pg, "sslmode", default: SwallowConfiguration.SSLMode.prefer)
        let timeout = try integer(pg, "connect_timeout_s", range: Limits.connectTimeoutSeconds, default: 10)
        return SwallowConfiguration.Postgres(
            host: host, port: port, dbname: dbname, user: user,
            password: (password?.text).flatMap { $0.isEmpty ? nil : $0 },
            sslmode: mode, connectTimeoutSeconds: timeout, tls: try readPostgresTLS(pg, sslmode: mode))
    }

    /// `sslrootcert`, `sslcert`, `sslkey`, `sslpassword`: checked here, at start-up, so that a wrong path
    /// or a setting libpq would silently ignore is reported before any connection is tried.
    private func readPostgresTLS(_ pg: Section, sslmode: SwallowConfiguration.SSLMode) throws(ConfigurationError)
        -> SwallowConfiguration.Postgres.TLS {
        func file(_ key: String, _ what: String) throws(ConfigurationError) -> String? {
            let path = pg.path(key)
            guard let value = try scalar(pg[key], path: path, expected: "the path of \(what)"),
                  !value.text.isEmpty else { return nil }
            try Self.requireReadableFile(value.text, key: path, what: what, shown: value.secret ? nil : value.text)
            return value.text
        }
        let rootCertificate = try file("sslrootcert", "a PEM file of CA certificates")
        let certificate = try file("sslcert", "a PEM client certificate")
        let key = try file("sslkey", "the PEM private key of sslcert")
        let keyPassword = try scalar(pg["sslpassword"], path: pg.path("sslpassword"), expected: "a string",
                                     secret: true).flatMap { $0.text.isEmpty ? nil : $0.text }

        if (certificate == nil) != (key == nil) {
            let (set, missing) = certificate == nil ? ("sslkey", "sslcert") : ("sslcert", "sslkey")
            throw ConfigurationError(
                code: .missingKey, path: pg.path(missing),
                message: "\(pg.path(set)) is set, so \(missing) is needed too: a client certificate (sslcert) goes with its private key (sslkey)")
        }
        if keyPassword != nil, key == nil {
            throw ConfigurationError(
                code: .invalidValue, path: pg.path("sslpassword"),
                message: "sslpassword decrypts sslkey, which is not set; set sslcert and sslkey, or remove sslpassword")
        }
        if sslmode == .disable, let used = [("sslrootcert", rootCertificate), ("sslcert", certificate)]
            .first(where: { $0.1 != nil })?.0 {
            throw ConfigurationError(
                code: .invalidValue, path: pg.path(used),
                message: "sslmode disable never uses TLS, so \(used) would be ignored; set sslmode (require, verify-ca or verify-full) or remove \(used)")
        }
        if rootCertificate != nil, sslmode == .allow || sslmode == .prefer {
            throw ConfigurationError(
                code: .invalidValue, path: pg.path("sslrootcert"),
                message: "with sslmode \(sslmode.rawValue) the server's certificate is not checked, so sslrootcert would be ignored; set sslmode: verify-full (or verify-ca)")
        }
        return SwallowConfiguration.Postgres.TLS(rootCertificateFile: rootCertificate, certificateFile: certificate,
                                                 keyFile: key, keyPassword: keyPassword)
    }

    /// A file that libpq will open later: it must exist, be a regular file and be readable by this process.
    static func requireReadableFile(_ file: String, key: String, what: String,
                                    shown: String?) throws(ConfigurationError) {
        let name = shown ?? "the file"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw ConfigurationError(code: .fileUnreadable, path: key,
                                     message: "\(name) does not exist; expected \(what)")
        }
        guard !isDirectory.boolValue else {
            throw ConfigurationError(code: .fileUnreadable, path: key,
                                     message: "\(name) is a directory; expected \(what)")
        }
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw ConfigurationError(
                code: .fileUnreadable, path: key,
                message: "\(name) is not readable (permission denied); make it readable by the user Swallow runs as")
        }
    }

    private func readSlot(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Slot {
        let slot = try requiredSection(top, "slot", allowed: Keys.slot, required: ["name"])
        let name = try requiredString(slot, "name", expected: "a replication slot name ([a-z0-9_]{1,63})",
                                      example: "name: swallow")
        guard !name.isEmpty, name.utf8.count <= Limits.identifierBytes,
              name.unicodeScalars.allSatisfy({ Self.isLowerAlnumOrUnderscore($0) }) else {
            throw ConfigurationError(
                code: .invalidValue, path: slot.path("name"),
                message: "expected a replication slot name of 1 to 63 lowercase letters, digits or underscores ([a-z0-9_]{1,63}, PostgreSQL's rule), got \(shown(name, at: slot.path("name")))")
        }
        let create = try boolean(slot, "create", default: true)
        return SwallowConfiguration.Slot(name: name, create: create)
    }

    private func readPublication(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Publication {
        let publication = try requiredSection(top, "publication", allowed: Keys.publication, required: ["name"])
        let name = try requiredString(publication, "name",
                                      expected: "a publication name (a lowercase identifier, [a-z_][a-z0-9_$]*)",
                                      example: "name: swallow")
        guard Self.isIdentifier(name) else {
            throw ConfigurationError(
                code: .invalidValue, path: publication.path("name"),
                message: "expected a publication name that is an unquoted lowercase PostgreSQL identifier ([a-z_][a-z0-9_$]*, at most 63 bytes), got \(shown(name, at: publication.path("name")))")
        }
        let create = try boolean(publication, "create", default: true)
        return SwallowConfiguration.Publication(name: name, create: create)
    }

    private func readTables(_ top: Section) throws(ConfigurationError) -> [SwallowConfiguration.TableName] {
        let path = top.path("tables")
        let expected = "a sequence of table names (`schema.table` or `table`), e.g. `tables: [public.orders, order_items]`"
        guard let node = top["tables"], !Self.isNull(node) else { return [] }
        guard case .sequence(let sequence) = node else {
            throw wrongType(path: path, expected: expected, found: node, secret: false)
        }
        try Self.rejectTag(sequence.tag, isPlain: true, path: path)
        var tables: [SwallowConfiguration.TableName] = []
        var firstIndex: [SwallowConfiguration.TableName: Int] = [:]
        for (index, item) in sequence.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let value = try scalar(item, path: itemPath, expected: "a table name (`schema.table` or `table`)") else {
                throw ConfigurationError(
                    code: .wrongType, path: itemPath,
                    message: "expected a table name (`schema.table` or `table`), got null")
            }
            let table = try Self.tableName(value.text, path: itemPath, secret: value.secret)
            if let first = firstIndex[table] {
                throw ConfigurationError(
                    code: .invalidValue, path: itemPath,
                    message: "duplicate table \(table) (already listed as \(path)[\(first)]); list each table once")
            }
            firstIndex[table] = index
            tables.append(table)
        }
        return tables
    }

    private func readTopicPrefix(_ top: Section) throws(ConfigurationError) -> String {
        let prefix = try requiredString(top, "topic_prefix",
                                        expected: "a Kafka topic prefix (characters [a-zA-Z0-9._-])",
                                        example: "topic_prefix: app")
        guard !prefix.isEmpty, prefix.utf8.count <= Limits.topicPrefixLength,
              prefix.unicodeScalars.allSatisfy({ Self.isTopicCharacter($0) }) else {
            throw ConfigurationError(
                code: .invalidValue, path: top.path("topic_prefix"),
                message: "expected a Kafka topic prefix of 1 to \(Limits.topicPrefixLength) characters from [a-zA-Z0-9._-], got \(shown(prefix, at: top.path("topic_prefix")))")
        }
        return prefix
    }

    private func readKafka(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Kafka {
        let kafka = try requiredSection(top, "kafka", allowed: Keys.kafka, required: ["bootstrap_servers"])
        let servers = try requiredString(
            kafka, "bootstrap_servers",
            expected: "a comma-separated list of Kafka brokers (host:port), or `embedded`",
            example: "bootstrap_servers: 127.0.0.1:9092")
        let bootstrap: SwallowConfiguration.KafkaBootstrap
        if servers == "embedded" {
            bootstrap = .embedded
        } else {
            let entries = servers.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard entries.allSatisfy({ !$0.isEmpty && !$0.contains(where: \.isWhitespace) }) else {
                throw ConfigurationError(
                    code: .invalidValue, path: kafka.path("bootstrap_servers"),
                    message: "expected a comma-separated list of Kafka brokers such as `host1:9092,host2:9092` (no empty entries, no spaces inside an entry), or the literal `embedded`, got \(shown(servers, at: kafka.path("bootstrap_servers")))")
            }
            bootstrap = .servers(entries.joined(separator: ","))
        }
        let properties = try readKafkaProperties(kafka)
        let flush = try integer(kafka, "flush_timeout_ms", range: Limits.flushTimeoutMilliseconds, default: 30_000)
        let oversized = try enumeration(kafka, "oversized_events", default: SwallowConfiguration.Kafka.OversizedEvents.fail)
        var deadLetterTopic: String?
        let topicPath = kafka.path("dead_letter_topic")
        if let value = try scalar(kafka["dead_letter_topic"], path: topicPath, expected: "a Kafka topic name") {
            guard !value.text.isEmpty, value.text.utf8.count <= Limits.topicPrefixLength,
                  value.text != ".", value.text != "..",
                  value.text.unicodeScalars.allSatisfy(Self.isTopicCharacter) else {
                throw ConfigurationError(
                    code: .invalidValue, path: topicPath,
                    message: "expected a Kafka topic name of 1 to \(Limits.topicPrefixLength) characters from [a-zA-Z0-9._-] (not `.` or `..`), got \(value.shown); remove the key for the default `<topic_prefix>.dead-letter`")
            }
            deadLetterTopic = value.text
        }
        return SwallowConfiguration.Kafka(bootstrapServers: bootstrap, properties: properties,
                                          flushTimeoutMilliseconds: flush, oversizedEvents: oversized,
                                          deadLetterTopic: deadLetterTopic)
    }

    private func readEvents(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Events {
        let defaults = SwallowConfiguration.Events()
        guard let events = try optionalSection(top, "events", allowed: Keys.events) else { return defaults }
        let tombstones = try boolean(events, "tombstones.on.delete", default: defaults.tombstonesOnDelete)

        var skipped = defaults.skippedOperations
        let skippedPath = events.path("skipped.operations")
        if let value = try scalar(events["skipped.operations"], path: skippedPath,
                                  expected: "a comma-separated list of c, u, d, t, or none") {
            skipped = []
            let letters = value.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if letters != ["none"] {
                for letter in letters {
                    guard let operation = SwallowConfiguration.Events.Operation(rawValue: letter) else {
                        throw ConfigurationError(
                            code: .invalidValue, path: skippedPath,
                            message: "expected a comma-separated list of c (create), u (update), d (delete), t (truncate), or none; got \(value.shown)")
                    }
                    skipped.insert(operation)
                }
            }
        }

        let placeholder = try scalar(events["unavailable.value.placeholder"],
                                     path: events.path("unavailable.value.placeholder"), expected: "a string")?.text
            ?? defaults.unavailableValuePlaceholder

        func regexList(_ key: String) throws(ConfigurationError) -> [String]? {
            let path = events.path(key)
            guard let value = try scalar(events[key], path: path, expected: "a comma-separated list of regular expressions") else {
                return nil
            }
            let patterns = value.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for pattern in patterns { try Self.requireRegex(pattern, path: path, secret: value.secret) }
            return patterns
        }
        func exclusive(_ includeKey: String, _ excludeKey: String) throws(ConfigurationError) -> ([String]?, [String]?) {
            let include = try regexList(includeKey)
            let exclude = try regexList(excludeKey)
            if include != nil && exclude != nil {
                throw ConfigurationError(code: .invalidValue, path: events.path(excludeKey),
                                         message: "set either \(includeKey) or \(excludeKey), not both (as in Debezium)")
            }
            return (include, exclude)
        }
        let (include, exclude) = try exclusive("message.prefix.include.list", "message.prefix.exclude.list")
        let (tableInclude, tableExclude) = try exclusive("table.include.list", "table.exclude.list")
        let (columnInclude, columnExclude) = try exclusive("column.include.list", "column.exclude.list")

        return SwallowConfiguration.Events(
            tombstonesOnDelete: tombstones, skippedOperations: skipped,
            unavailableValuePlaceholder: placeholder,
            messagePrefixIncludeList: include, messagePrefixExcludeList: exclude,
            decimalHandling: try enumeration(events, "decimal.handling.mode", default: defaults.decimalHandling),
            timePrecision: try enumeration(events, "time.precision.mode", default: defaults.timePrecision),
            binaryHandling: try enumeration(events, "binary.handling.mode", default: defaults.binaryHandling),
            intervalHandling: try enumeration(events, "interval.handling.mode", default: defaults.intervalHandling),
            hstoreHandling: try enumeration(events, "hstore.handling.mode", default: defaults.hstoreHandling),
            unknownTypeHandling: try enumeration(events, "unknown.type.handling.mode", default: defaults.unknownTypeHandling),
            includeSchemas: try boolean(events, "envelope.schemas", default: defaults.includeSchemas),
            provideTransactionMetadata: try boolean(events, "provide.transaction.metadata",
                                                    default: defaults.provideTransactionMetadata),
            messageKeyColumns: try readMessageKeyColumns(events),
            tableIncludeList: tableInclude, tableExcludeList: tableExclude,
            columnIncludeList: columnInclude, columnExcludeList: columnExclude)
    }

    private func readSnapshot(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Snapshot {
        let defaults = SwallowConfiguration.Snapshot()
        guard let snapshot = try optionalSection(top, "snapshot", allowed: Keys.snapshot) else { return defaults }
        let mode = try enumeration(snapshot, "mode", default: defaults.mode)
        let maxThreads = try integer(snapshot, "max_threads", range: Limits.snapshotMaxThreads,
                                     default: defaults.maxThreads)
        let chunkRows = try integer(snapshot, "chunk_rows", range: Limits.snapshotChunkRows, default: defaults.chunkRows)
        let signalPath = snapshot.path("signal_table")
        var signalTable: SwallowConfiguration.TableName?
        if let value = try scalar(snapshot["signal_table"], path: signalPath,
                                  expected: "a table name (`schema.table` or `table`)") {
            signalTable = try Self.tableName(value.text, path: signalPath, secret: value.secret)
        }
        let incrementalChunkRows = try integer(snapshot, "incremental_chunk_rows",
                                               range: Limits.incrementalSnapshotChunkRows,
                                               default: defaults.incrementalChunkRows)
        return SwallowConfiguration.Snapshot(
            mode: mode,
            maxThreads: maxThreads, chunkRows: chunkRows, signalTable: signalTable,
            incrementalChunkRows: incrementalChunkRows)
    }

    private func readHeartbeat(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Heartbeat {
        let defaults = SwallowConfiguration.Heartbeat()
        guard let heartbeat = try optionalSection(top, "heartbeat", allowed: Keys.heartbeat) else { return defaults }
        let interval = try integer(heartbeat, "interval_ms", range: Limits.heartbeatIntervalMilliseconds,
                                   default: defaults.intervalMilliseconds)
        if interval > 0 && interval < Limits.heartbeatMinimumIntervalMilliseconds {
            throw ConfigurationError(
                code: .invalidValue, path: heartbeat.path("interval_ms"),
                message: "expected 0 (off) or an integer \(Limits.heartbeatMinimumIntervalMilliseconds)..\(Limits.heartbeatIntervalMilliseconds.upperBound), got \(interval); every heartbeat writes WAL, so e.g. `interval_ms: 10000`")
        }
        let queryPath = heartbeat.path("action_query")
        var actionQuery: String?
        if let value = try scalar(heartbeat["action_query"], path: queryPath, expected: "an SQL statement") {
            guard !value.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: queryPath,
                                         message: "must not be empty; expected an SQL statement, e.g. `action_query: \"UPDATE ops.heartbeat SET ts = now()\"`, or remove the key")
            }
            actionQuery = value.text
        }
        if actionQuery != nil && interval == 0 {
            throw ConfigurationError(code: .invalidValue, path: queryPath,
                                     message: "runs with each heartbeat, but heartbeat.interval_ms is 0 (off); set interval_ms, e.g. `interval_ms: 10000`")
        }
        let emitRecord = try boolean(heartbeat, "emit_record", default: defaults.emitRecord)
        let stallWarning = try integer(heartbeat, "stall_warning_s", range: Limits.stallWarningSeconds,
                                       default: defaults.stallWarningSeconds)
        return SwallowConfiguration.Heartbeat(intervalMilliseconds: interval, actionQuery: actionQuery,
                                              emitRecord: emitRecord, stallWarningSeconds: stallWarning)
    }

    private func readHTTP(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.HTTP {
        guard let http = try optionalSection(top, "http", allowed: Keys.http) else { return .init() }
        let path = http.path("listen")
        let expected = "an address to listen on, `host:port` with an IPv4 address or a bracketed IPv6 address (e.g. `127.0.0.1:9187`, `[::1]:9187`; port 0 picks a free port), or empty for no listener"
        guard let value = try scalar(http["listen"], path: path, expected: expected), !value.text.isEmpty else {
            return .init()
        }
        guard let listen = Self.listenAddress(value.text) else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "expected \(expected), got \(value.shown)")
        }
        return .init(listen: listen)
    }

    /// `a.b.c.d:port` or `[v6]:port`, numeric addresses only (no name lookup), port 0...65535.
    static func listenAddress(_ text: String) -> SwallowConfiguration.HTTP.Listen? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(host), &address) == 1 else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            var address = in_addr()
            guard inet_pton(AF_INET, String(host), &address) == 1 else { return nil }
        }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
              let port = Int(portText), (0...65_535).contains(port) else { return nil }
        return .init(host: String(host), port: port)
    }

    private func readStateDirectory(_ top: Section) throws(ConfigurationError) -> String {
        let path = top.path("state_dir")
        let expected = "a directory path (absolute, or relative to the working directory)"
        guard let value = try scalar(top["state_dir"], path: path, expected: expected) else {
            return SwallowConfiguration.defaultStateDirectory
        }
        guard !value.text.isEmpty else {
            throw ConfigurationError(
                code: .invalidValue, path: path,
                message: "must not be empty; expected \(expected), e.g. `state_dir: \(SwallowConfiguration.defaultStateDirectory)`, or remove the key to use that default")
        }
        return value.text
    }

    /// Debezium's `message.key.columns`: `<table regex>:<column>,<column>;<table regex>:<column>...`,
    /// where the table expression is matched against `schema.table`.
    private func readMessageKeyColumns(_ events: Section) throws(ConfigurationError) -> [SwallowConfiguration.Events.KeyColumns] {
        let path = events.path("message.key.columns")
        let expected = "entries like `public.orders:id,region;inventory.(.*):code` (table regular expression, colon, columns; entries separated by semicolons)"
        guard let value = try scalar(events["message.key.columns"], path: path, expected: expected) else { return [] }
        var entries: [SwallowConfiguration.Events.KeyColumns] = []
        for entry in value.text.split(separator: ";") {
            let text = entry.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            // The table expression may itself contain colons only inside a regex class, which Debezium
            // does not support either: split at the last colon.
            guard let colon = text.lastIndex(of: ":") else {
                throw ConfigurationError(code: .invalidValue, path: path,
                                         message: "\(value.secret ? "an entry" : Echo.quoted(text)) has no `:`; expected \(expected)")
            }
            let table = text[..<colon].trimmingCharacters(in: .whitespaces)
            let columns = text[text.index(after: colon)...].split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !table.isEmpty, !columns.isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: path,
                                         message: "\(value.secret ? "an entry" : Echo.quoted(text)) needs a table expression and at least one column; expected \(expected)")
            }
            try Self.requireRegex(table, path: path, secret: value.secret)
            entries.append(.init(table: table, columns: columns))
        }
        return entries
    }

    private func readKafkaProperties(_ kafka: Section) throws(ConfigurationError) -> [String: String] {
        let path = kafka.path("properties")
        guard let node = kafka["properties"], !Self.isNull(node) else { return [:] }
        let entries = try mapping(
            node, path: path,
            expected: "a mapping of librdkafka property names to scalar values, e.g. `properties: {linger.ms: 5, acks: all}`")
        var properties: [String: String] = [:]
        for entry in entries {
            guard !entry.key.isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: entry.path,
                                         message: "empty librdkafka property name; remove it")
            }
            if Self.reservedKafkaProperties.contains(entry.key) {
                throw ConfigurationError(
                    code: .invalidValue, path: entry.path,
                    message: "`\(entry.key)` is set from kafka.bootstrap_servers; set `kafka.bootstrap_servers` instead and remove this property")
            }
            let secret = SwallowConfiguration.isSecretPropertyKey(entry.key)
            guard let value = try scalar(entry.value, path: entry.path,
                                         expected: "a scalar value (string, number or boolean)", secret: secret) else {
                throw ConfigurationError(
                    code: .wrongType, path: entry.path,
                    message: "expected a scalar value (string, number or boolean), got null; remove the property to use librdkafka's default")
            }
            properties[entry.key] = value.text
        }
        return properties
    }

    // MARK: - Mappings

    struct Section {
        let prefix: String
        let values: [String: Node]

        func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }
        subscript(key: String) -> Node? { values[key] }
    }

    struct Entry {
        let key: String
        let path: String
        let value: Node
    }

    /// The entries of a mapping node, in document order, with string keys that occur once.
    private func mapping(_ node: Node, path: String, expected: String) throws(ConfigurationError) -> [Entry] {
        guard case .mapping(let mapping) = node else {
            throw wrongType(path: path, expected: expected, found: node, secret: false)
        }
        try Self.rejectTag(mapping.tag, isPlain: true, path: path)
        var entries: [Entry] = []
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigurationError(
                    code: .wrongType, path: path,
                    message: "mapping keys must be plain strings, found a \(Self.kind(keyNode)) used as a key")
            }
            let key = keyScalar.string
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard seen.insert(key).inserted else {
                throw ConfigurationError(code: .invalidYAML, path: keyPath,
                                         message: "duplicate key; each key may appear only once in a mapping")
            }
            entries.append(Entry(key: key, path: keyPath, value: value))
        }
        return entries
    }

    /// A mapping whose keys must all be in `allowed`.
    private func section(_ node: Node, path: String, allowed: [String], expected: String) throws(ConfigurationError) -> Section {
        let entries = try mapping(node, path: path, expected: expected)
        for entry in entries where !allowed.contains(entry.key) {
            throw unknownKey(entry, in: path, allowed: allowed)
        }
        var values: [String: Node] = [:]
        for entry in entries { values[entry.key] = entry.value }
        return Section(prefix: path, values: values)
    }

    /// The optional section `key` of `top`, checked for unknown keys; nil when absent or null.
    private func optionalSection(_ top: Section, _ key: String, allowed: [String]) throws(ConfigurationError) -> Section? {
        guard let node = top[key], !Self.isNull(node) else { return nil }
        let noun = allowed.count == 1 ? "key" : "keys"
        return try section(node, path: top.path(key), allowed: allowed,
                           expected: "a mapping with the optional \(noun) \(Self.list(allowed))")
    }

    private func requiredSection(_ parent: Section, _ key: String, allowed: [String],
                                 required: [String]) throws(ConfigurationError) -> Section {
        let path = parent.path(key)
        let optional = allowed.filter { !required.contains($0) }
        let expected = "a mapping with the keys \(Self.list(required)) (required) and \(Self.list(optional)) (optional)"
        guard let node = parent[key], !Self.isNull(node) else {
            throw ConfigurationError(code: .missingKey, path: path,
                                     message: "missing required section; expected \(expected)")
        }
        return try section(node, path: path, allowed: allowed, expected: expected)
    }

    private func unknownKey(_ entry: Entry, in path: String, allowed: [String]) -> ConfigurationError {
        var hint: String?
        if let suggestion = Self.suggestion(for: entry.key, among: allowed) {
            hint = "did you mean `\(suggestion)`?"
        } else if entry.key == "<<" {
            hint = "YAML merge keys are not supported"
        } else if path.isEmpty {
            let homes = Keys.sections.filter { $0.keys.contains(entry.key) }.map { "`\($0.name).\(entry.key)`" }
            if !homes.isEmpty {
                hint = "did you mean \(homes.joined(separator: " or "))? this key belongs inside a section"
            }
        } else if path == "kafka", entry.key.contains(".") {
            hint = "librdkafka settings go under `kafka.properties`"
        }
        let hintText = hint.map { " (\($0))" } ?? ""
        return ConfigurationError(code: .unknownKey, path: entry.path,
                                  message: "unknown key\(hintText); allowed keys: \(allowed.joined(separator: ", "))")
    }

    // MARK: - Scalars

    struct ScalarValue {
        /// Text after `${...}` substitution.
        var text: String
        /// Quoted or block scalar: always a string, never a number or boolean.
        var quoted: Bool
        /// A secret by its key (the password, secret-looking Kafka properties) or because it was read
        /// from a file: error messages never quote it.
        var secret: Bool = false

        /// The value as error messages show it.
        var shown: String { secret ? ConfigurationReader.notShown : Echo.quoted(text) }
    }

    /// Stands for a secret value in error messages.
    static let notShown = "a secret value (not shown)"

    /// `text`, the value at `path`, as error messages show it: quoted, or not at all when it was read
    /// from a file.
    private func shown(_ text: String, at path: String) -> String {
        fileValued.paths.contains(path) ? Self.notShown : Echo.quoted(text)
    }

    /// Key paths whose values were read through `${file:...}`.
    var fileValuedPaths: Set<String> { fileValued.paths }

    /// The substituted text of a scalar value; `nil` when absent or null (`~`, `null`, empty).
    private func scalar(_ node: Node?, path: String, expected: String,
                        secret: Bool = false) throws(ConfigurationError) -> ScalarValue? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node else {
            throw wrongType(path: path, expected: expected, found: node, secret: secret)
        }
        if Self.isNull(node) { return nil }
        let isPlain = scalar.style == .plain || scalar.style == .any
        try Self.rejectTag(scalar.tag, isPlain: isPlain, path: path)
        let result = try EnvironmentSubstitution.apply(scalar.string, path: path, secret: secret,
                                                       environment: environment)
        if result.readFile { fileValued.paths.insert(path) }
        return ScalarValue(text: result.text, quoted: !isPlain, secret: secret || result.readFile)
    }

    private func requiredString(_ section: Section, _ key: String, expected: String,
                                example: String) throws(ConfigurationError) -> String {
        let path = section.path(key)
        guard let value = try scalar(section[key], path: path, expected: expected) else {
            throw ConfigurationError(code: .missingKey, path: path,
                                     message: "missing required key; expected \(expected), e.g. `\(example)`")
        }
        guard !value.text.isEmpty else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "must not be empty; expected \(expected), e.g. `\(example)`")
        }
        return value.text
    }

    private func integer(_ section: Section, _ key: String, range: ClosedRange<Int>,
                         default defaultValue: Int) throws(ConfigurationError) -> Int {
        let path = section.path(key)
        let expected = "an integer \(range.lowerBound)..\(range.upperBound)"
        guard let value = try scalar(section[key], path: path, expected: expected) else { return defaultValue }
        guard let number = Self.decimalInteger(value.text) else {
            throw ConfigurationError(code: .wrongType, path: path,
                                     message: "expected \(expected), got \(value.shown)")
        }
        guard !value.quoted else {
            throw ConfigurationError(
                code: .wrongType, path: path,
                message: "expected \(expected), got the quoted string \(value.shown); write the number without quotes")
        }
        guard range.contains(number) else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "expected \(expected), got \(number)")
        }
        return number
    }

    private func boolean(_ section: Section, _ key: String, default defaultValue: Bool) throws(ConfigurationError) -> Bool {
        let path = section.path(key)
        let expected = "a boolean (true or false)"
        guard let value = try scalar(section[key], path: path, expected: expected) else { return defaultValue }
        let parsed: Bool? = switch value.text {
        case "true": true
        case "false": false
        default: nil
        }
        guard let parsed, !value.quoted else {
            let quotedNote = value.quoted ? "the quoted string " : ""
            let fix = value.quoted ? "; write true or false without quotes" : ""
            throw ConfigurationError(code: .wrongType, path: path,
                                     message: "expected \(expected), got \(quotedNote)\(value.shown)\(fix)")
        }
        return parsed
    }

    /// A key whose value is one of an enumeration's raw values.
    private func enumeration<Value: RawRepresentable & CaseIterable>(_ section: Section, _ key: String,
                                                                     default defaultValue: Value) throws(ConfigurationError) -> Value
    where Value.RawValue == String {
        let text = try oneOf(section, key, allowed: Value.allCases.map(\.rawValue), default: defaultValue.rawValue)
        // oneOf only returns allowed raw values.
        return Value(rawValue: text) ?? defaultValue
    }

    private static func requireRegex(_ pattern: String, path: String, secret: Bool) throws(ConfigurationError) {
        guard (try? Regex(pattern)) != nil else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "\(secret ? "a pattern" : Echo.quoted(pattern)) is not a valid regular expression")
        }
    }

    private func oneOf(_ section: Section, _ key: String, allowed: [String],
                       default defaultValue: String) throws(ConfigurationError) -> String {
        let path = section.path(key)
        let expected = "one of \(allowed.joined(separator: ", "))"
        guard let value = try scalar(section[key], path: path, expected: expected) else { return defaultValue }
        guard allowed.contains(value.text) else {
            let hint = Self.suggestion(for: value.text, among: allowed).map { " (did you mean `\($0)`?)" } ?? ""
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "expected \(expected), got \(value.shown)\(value.secret ? "" : hint)")
        }
        return value.text
    }

    // MARK: - Errors

    private func wrongType(path: String, expected: String, found node: Node, secret: Bool) -> ConfigurationError {
        let found: String
        switch node {
        case .scalar(let scalar):
            if Self.isNull(node) {
                found = "null"
            } else if secret {
                found = "a string"
            } else {
                let isPlain = scalar.style == .plain || scalar.style == .any
                found = "\(isPlain ? "" : "the quoted string ")\(Echo.quoted(scalar.string))"
            }
        default:
            found = "a \(Self.kind(node))"
        }
        return ConfigurationError(code: .wrongType, path: path, message: "expected \(expected), got \(found)")
    }

    static func yamlError(_ error: any Error, yaml: String) -> ConfigurationError {
        func located(_ mark: Mark, _ problem: String, _ context: YamlError.Context?) -> String {
            var message = "invalid YAML at line \(mark.line), column \(mark.column): \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            if mark.line >= 1, mark.line <= lines.count,
               lines[mark.line - 1].prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                message += "; indent with spaces, YAML does not allow tabs for indentation"
            }
            return message
        }
        // Yams' own descriptions quote the offending source line, which may hold a secret: build our own.
        guard let yamlError = error as? YamlError else {
            return ConfigurationError(code: .invalidYAML, path: "", message: "invalid YAML")
        }
        let message: String
        switch yamlError {
        case let .composer(_, problem, mark, _) where problem.contains("another document"):
            message = "invalid YAML at line \(mark.line), column \(mark.column): found a second document; the configuration must be a single YAML document (remove the extra `---`)"
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            message = located(mark, problem, context)
        case let .reader(problem, offset, _, _):
            message = "invalid YAML input\(offset.map { " at byte \($0)" } ?? ""): \(problem)"
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "`\($0)`" }.joined(separator: ", ")
            message = "duplicate key \(keys) (first at line \(context.mark.line), column \(context.mark.column)); each key may appear only once in a mapping"
        default:
            message = "invalid YAML"
        }
        return ConfigurationError(code: .invalidYAML, path: "", message: message)
    }

    // MARK: - Helpers

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// Explicit YAML tags (`!!str`, `!!int`, `!custom`) are rejected rather than silently ignored.
    /// Untagged plain nodes have the implicit (empty) tag; untagged quoted scalars get `!!str` from libyaml.
    static func rejectTag(_ tag: Tag, isPlain: Bool, path: String) throws(ConfigurationError) {
        let name = tag.rawValue
        if name.isEmpty || (!isPlain && name == Tag.Name.str.rawValue) { return }
        throw ConfigurationError(
            code: .wrongType, path: path,
            message: "explicit YAML tags (\(name)) are not supported; remove the tag (string values may be quoted instead)")
    }

    static func kind(_ node: Node) -> String {
        switch node {
        case .scalar: "scalar"
        case .mapping: "mapping"
        case .sequence: "sequence"
        case .alias: "alias"
        }
    }

    /// Plain decimal integers only (`5432`, `-1`, `+7`); no `0x`, `0o`, `_`, exponents or fractions.
    static func decimalInteger(_ text: String) -> Int? {
        var digits = Substring(text)
        if digits.first == "+" || digits.first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }

    static func tableName(_ text: String, path: String, secret: Bool) throws(ConfigurationError) -> SwallowConfiguration.TableName {
        let shown = secret ? notShown : Echo.quoted(text)
        let rule = "each part an unquoted lowercase PostgreSQL identifier ([a-z_][a-z0-9_$]*, at most 63 bytes); quoted identifiers are not supported yet"
        guard !text.isEmpty else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "empty table name; expected `schema.table` or `table` (meaning public.table)")
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2 else {
            throw ConfigurationError(
                code: .invalidValue, path: path,
                message: "expected `schema.table` or `table` (meaning public.table), got \(shown) with \(parts.count) dot-separated parts")
        }
        guard parts.allSatisfy(isIdentifier) else {
            throw ConfigurationError(
                code: .invalidValue, path: path,
                message: "expected `schema.table` or `table` (meaning public.table), \(rule); got \(shown)")
        }
        return parts.count == 2
            ? SwallowConfiguration.TableName(schema: parts[0], table: parts[1])
            : SwallowConfiguration.TableName(schema: "public", table: parts[0])
    }

    /// Unquoted lowercase PostgreSQL identifier: `[a-z_][a-z0-9_$]*`, 1...63 bytes.
    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, text.utf8.count <= Limits.identifierBytes,
              ("a"..."z").contains(first) || first == "_" else { return false }
        return text.unicodeScalars.allSatisfy { isLowerAlnumOrUnderscore($0) || $0 == "$" }
    }

    static func isLowerAlnumOrUnderscore(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
    }

    static func isTopicCharacter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            || scalar == "." || scalar == "_" || scalar == "-"
    }

    static func list(_ keys: [String]) -> String { keys.joined(separator: ", ") }

    /// The closest candidate within edit distance 2 (ties: first in `candidates` order); failing that,
    /// a candidate of at least 3 characters that is a prefix of `word` or has `word` as a prefix
    /// (`hostname` -> `host`, `connect` -> `connect_timeout_s`).
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        let word = word.lowercased()
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(word, candidate)
            if distance <= 2, distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        if let best { return best.candidate }
        return candidates.first { candidate in
            min(candidate.count, word.count) >= 3 && (word.hasPrefix(candidate) || candidate.hasPrefix(word))
        }
    }

    /// Levenshtein distance over Characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
