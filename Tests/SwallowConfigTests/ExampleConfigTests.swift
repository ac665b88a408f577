import Foundation
import SwallowConfig
import Testing

@Suite struct ExampleConfigTests {
    @Test func exampleFileParsesToExpectedValues() throws {
        let path = try #require(exampleConfigPath(), "swallow.yaml not found next to the package")
        let config = try Config.load(path: path, environment: ["PGPASSWORD": "s3cret"])
        let expected = Config(
            postgres: .init(host: "127.0.0.1", port: 5432, dbname: "app", user: "swallow", password: "s3cret",
                            sslmode: .prefer, connectTimeoutSeconds: 10),
            slot: .init(name: "swallow", create: true),
            publication: .init(name: "swallow", create: true),
            tables: [.init(schema: "public", table: "orders"), .init(schema: "public", table: "order_items")],
            topicPrefix: "app",
            kafka: .init(bootstrapServers: .servers("127.0.0.1:9092"), properties: [:], flushTimeoutMilliseconds: 30_000,
                         deadLetterTopic: "app.dead-letter"),
            statusIntervalMilliseconds: 10_000,
            maxInFlightEvents: 20_000,
            maxInFlightBytes: 16_777_216,
            logLevel: "info",
            snapshot: .init(mode: .initial, maxThreads: 1, chunkRows: 100_000, signalTable: nil,
                            incrementalChunkRows: 1024),
            stateDirectory: "/var/lib/swallow",
            logFormat: .text,
            http: .init(listen: .init(host: "127.0.0.1", port: 9187)))
        #expect(config == expected)
        #expect(config.postgres.password == "s3cret")
    }

    @Test func exampleFileWithoutPasswordVariableNamesTheVariable() throws {
        let path = try #require(exampleConfigPath())
        let error = #expect(throws: ConfigurationError.self) {
            try Config.load(path: path, environment: [:])
        }
        #expect(error?.code == .undefinedEnvironmentVariable)
        #expect(error?.path == "postgres.password")
        #expect(error?.message.contains("PGPASSWORD") == true)
    }

    @Test func exampleFileDocumentsEveryKey() throws {
        let path = try #require(exampleConfigPath())
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let allKeys = ["postgres", "slot", "publication", "tables", "topic_prefix", "kafka", "status_interval_ms",
                       "max_in_flight_events", "max_in_flight_bytes", "log_level", "host", "port", "dbname", "user", "password", "sslmode",
                       "connect_timeout_s", "name", "create", "bootstrap_servers", "properties", "flush_timeout_ms",
                       "snapshot", "mode", "max_threads", "chunk_rows", "incremental_chunk_rows", "state_dir",
                       "heartbeat", "interval_ms", "emit_record", "stall_warning_s", "oversized_events", "dead_letter_topic"]
        for key in Set(allKeys) {
            let keyLines = lines.indices.filter {
                lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix("\(key):")
            }
            #expect(!keyLines.isEmpty, "key \(key) missing from swallow.yaml")
            for index in keyLines {
                #expect(index > 0 && lines[index - 1].trimmingCharacters(in: .whitespaces).hasPrefix("#"),
                        "key \(key) at line \(index + 1) has no comment above it")
            }
        }
    }

    @Test func minimalConfigurationGetsDefaults() throws {
        let config = try Config.parse(yaml: ConfigDocument().yaml, environment: [:])
        #expect(config.postgres.port == 5432)
        #expect(config.postgres.password == nil)
        #expect(config.postgres.sslmode == .prefer)
        #expect(config.postgres.connectTimeoutSeconds == 10)
        #expect(config.slot.create)
        #expect(config.publication.create)
        #expect(config.tables.isEmpty)
        #expect(config.kafka.bootstrapServers == .embedded)
        #expect(config.kafka.properties.isEmpty)
        #expect(config.kafka.flushTimeoutMilliseconds == 30_000)
        #expect(config.statusIntervalMilliseconds == 10_000)
        #expect(config.maxInFlightEvents == 20_000)
        #expect(config.maxInFlightBytes == 16_777_216)
        #expect(config.logLevel == "info")
    }

    @Test func nullValuesMeanDefault() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "~", "password": "", "sslmode": "null"]
        document.top = ["tables": "", "log_level": "~"]
        document.kafka = ["properties": "~"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.postgres.port == 5432)
        #expect(config.postgres.password == nil)
        #expect(config.postgres.sslmode == .prefer)
        #expect(config.tables.isEmpty)
        #expect(config.kafka.properties.isEmpty)
        #expect(config.logLevel == "info")
    }

    @Test func allValuesCanBeSet() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "6543", "password": "'p w'", "sslmode": "verify-full", "connect_timeout_s": "3"]
        document.slot = ["create": "false"]
        document.publication = ["create": "false"]
        document.kafka = ["bootstrap_servers": "'k1:9092, k2:9093'", "flush_timeout_ms": "0"]
        document.top = ["status_interval_ms": "500", "max_in_flight_events": "1", "max_in_flight_bytes": "65536",
                        "log_level": "trace",
                        "tables": "[orders, sales.invoices]", "topic_prefix": "my-app.cdc_1"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.postgres.port == 6543)
        #expect(config.postgres.password == "p w")
        #expect(config.postgres.sslmode == .verifyFull)
        #expect(config.postgres.connectTimeoutSeconds == 3)
        #expect(!config.slot.create)
        #expect(!config.publication.create)
        #expect(config.kafka.bootstrapServers == .servers("k1:9092,k2:9093"))
        #expect(config.kafka.flushTimeoutMilliseconds == 0)
        #expect(config.statusIntervalMilliseconds == 500)
        #expect(config.maxInFlightEvents == 1)
        #expect(config.maxInFlightBytes == 65_536)
        #expect(config.logLevel == "trace")
        #expect(config.tables.map(\.description) == ["public.orders", "sales.invoices"])
        #expect(config.topicPrefix == "my-app.cdc_1")
    }

    @Test func anchorsAndAliasesAreResolved() throws {
        let yaml = ConfigDocument().yaml.replacingOccurrences(of: "user: swallow", with: "user: &u swallow")
            + "log_level: info\n"
        var config = try Config.parse(yaml: yaml, environment: [:])
        #expect(config.postgres.user == "swallow")
        let aliased = yaml.replacingOccurrences(of: "slot:\n  name: swallow", with: "slot:\n  name: *u")
        config = try Config.parse(yaml: aliased, environment: [:])
        #expect(config.slot.name == "swallow")
    }
}
