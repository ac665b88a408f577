import ArgumentParser
import Dispatch
import Foundation
import Kafka
import Logging
import Metrics
import Pipeline
import Prometheus
import SwallowConfig

/// Swallow's version, reported in `source.version` and by `swallow version`.
let swallowVersion = "0.1.0"

@main
struct Swallow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swallow",
        abstract: "Stream committed PostgreSQL changes to Kafka as Debezium-format change events.",
        version: swallowVersion,
        subcommands: [Run.self, Check.self, Status.self, SlotCommand.self, SnapshotCommand.self, Consume.self,
                      MockKafka.self, Version.self],
        defaultSubcommand: nil)
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print Swallow's version.")
    func run() { print("swallow \(swallowVersion)") }
}

/// Exit codes: 0 clean stop, 1 runtime failure, 2 bad configuration.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stream changes until SIGTERM or SIGINT.")

    @Option(name: .shortAndLong, help: "Path to the YAML configuration.")
    var config: String = "Config/swallow.yaml"

    func run() throws {
        MallocArenas.limit()  // before any thread starts
        let configuration = try loadConfiguration(path: config)
        let logger = makeLogger(level: configuration.logLevel, format: configuration.logFormat)
        logger.info("starting swallow \(swallowVersion)", metadata: ["config": "\(configuration.redactedDescription)"])
        // Metrics cost nothing (swift-metrics' no-op backend) unless something serves them.
        let registry = configuration.http.listen == nil ? nil : bootstrapMetrics()
        let notifier: ServiceNotifier?
        do {
            notifier = try ServiceNotifier()
        } catch {
            logger.warning("service manager notifications are off: \(error)")
            notifier = nil
        }
        if let notifier {
            logger.info("notifying the service manager", metadata: [
                "notify_socket": "\(notifier.address)",
                "watchdog_interval_ms": "\(notifier.watchdogInterval.map { "\($0.wholeMilliseconds)" } ?? "off")"])
        }
        let monitor = PipelineMonitor(slot: configuration.slot.name, delivery: configuration.delivery, notifier: notifier)

        // The embedded cluster lives as long as this process and keeps nothing: for trying Swallow out.
        var embedded: MockKafkaCluster?
        let bootstrapServers: String
        switch configuration.kafka.bootstrapServers {
        case .servers(let servers):
            bootstrapServers = servers
        case .embedded:
            do {
                let cluster = try MockKafkaCluster(brokers: 1)
                embedded = cluster
                bootstrapServers = cluster.bootstrapServers
                logger.notice("embedded Kafka (librdkafka mock cluster, in memory only) is listening",
                              metadata: ["bootstrap_servers": "\(bootstrapServers)"])
            } catch {
                logger.critical("could not start the embedded Kafka cluster: \(error)")
                throw ExitCode(1)
            }
        }

        var settings = PipelineSettings(configuration: configuration, bootstrapServers: bootstrapServers,
                                        connectorVersion: swallowVersion)
        settings.embeddedCluster = embedded
        let pipeline = ReplicationPipeline(settings: settings, logger: logger, monitor: monitor)
        var statusServer: StatusServer?
        if let listen = configuration.http.listen, let registry {
            do {
                let server = try StatusServer.start(listen: listen, monitor: monitor, registry: registry, logger: logger)
                statusServer = server
                let bound = SwallowConfiguration.HTTP.Listen(host: listen.host, port: Int(server.port ?? UInt16(listen.port)))
                logger.info("HTTP listener serving /metrics, /healthz, /readyz, /status", metadata: ["address": "\(bound)"])
            } catch {
                logger.critical("\(error)")
                throw ExitCode(1)
            }
        }
        defer { statusServer?.stop() }
        let signals = SignalHandlers(logger: logger) { pipeline.stop() }
        defer { withExtendedLifetime(signals) {} }
        do {
            try pipeline.run()
        } catch {
            logger.critical("stopping: \(error)")
            withExtendedLifetime(embedded) {}
            // 2 tells systemd (RestartPreventExitStatus=2) that restarting cannot help.
            throw ExitCode(error.code == .configuration ? 2 : 1)
        }
        withExtendedLifetime(embedded) {}
    }
}

/// Asks a running Swallow for an incremental snapshot of some tables, through the signal table.
struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Ask the running Swallow to snapshot tables again while it streams (incremental snapshot).",
        discussion: """
            Writes an execute-snapshot signal into snapshot.signal_table; the running service reads the tables in \
            primary-key chunks between watermarks and emits their rows as op "r" events with \
            source.snapshot "incremental", while streaming goes on. --stop cancels.
            """)

    @Option(name: .shortAndLong, help: "Path to the YAML configuration.")
    var config: String = "Config/swallow.yaml"

    @Option(name: .long, help: "Comma-separated tables (schema.table; a bare name means public.name).")
    var tables: String = ""

    @Option(name: .long, help: "An SQL condition the snapshotted rows must meet, e.g. \"created_at > now() - interval '1 day'\".")
    var filter: String?

    @Flag(name: .long, help: "Stop the incremental snapshot of these tables (of all tables without --tables).")
    var stop = false

    func run() throws {
        let (configuration, settings) = try loadPostgresSettings(path: config)
        let names = tables.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        do {
            let id = try SnapshotRequest.send(settings: settings, tables: names, filter: filter, stop: stop)
            print("signal \(id) written to \(configuration.snapshot.signalTable.map(\.description) ?? "?"): \(stop ? "stop-snapshot" : "execute-snapshot") \(names.isEmpty ? "all" : names.joined(separator: ","))")
        } catch {
            throw exitFailure(error, status: error.code == .configuration ? 2 : 1)
        }
    }
}

/// Reads records back from Kafka and prints them, one JSON line each: the quick start's window onto the
/// stream, and a debugging aid.
struct Consume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print records of Kafka topics, from the beginning.")

    @Option(name: .long, help: "Kafka bootstrap servers, e.g. 127.0.0.1:9092.")
    var bootstrapServers: String

    @Option(name: .long, parsing: .upToNextOption, help: "Topics to read.")
    var topic: [String]

    @Flag(name: .long, help: "Keep waiting for new records instead of stopping at the end.")
    var follow = false

    @Option(name: .long, help: "Milliseconds to wait for the topics to appear.")
    var waitMs: Int32 = 30_000

    func run() throws {
        let consumer = try KafkaConsumer(bootstrapServers: bootstrapServers, topics: topic,
                                         waitForTopicsMilliseconds: waitMs)
        defer { consumer.close() }
        if follow {
            while true {
                if let record = try consumer.poll(timeoutMilliseconds: 1000) { printRecord(record) }
            }
        } else {
            for record in try consumer.readToEnd(timeoutMilliseconds: waitMs) { printRecord(record) }
        }
    }

    private func printRecord(_ record: KafkaRecord) {
        let key = record.key.map { String(decoding: $0, as: UTF8.self) } ?? "null"
        let value = record.value.map { String(decoding: $0, as: UTF8.self) } ?? "null"
        print("\(record.topic)[\(record.partition)]@\(record.offset) key=\(key) value=\(value)")
        fflush(nil)
    }
}

/// Runs librdkafka's mock cluster on its own, for tests and benchmarks that must keep the broker's
/// memory out of Swallow's process.
struct MockKafka: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-kafka",
        abstract: "Run an in-memory mock Kafka cluster until SIGTERM (tests and benchmarks).",
        shouldDisplay: false)

    @Option(help: "Number of brokers.")
    var brokers: Int = 1

    func run() throws {
        let cluster = try MockKafkaCluster(brokers: brokers)
        print(cluster.bootstrapServers)
        fflush(nil)
        let done = DispatchSemaphore(value: 0)
        let signals = SignalHandlers(logger: Logger(label: "swallow.mock-kafka")) { done.signal() }
        done.wait()
        withExtendedLifetime((cluster, signals)) {}
    }
}

/// SIGTERM/SIGINT start a clean stop; a second one exits at once. `@unchecked Sendable`: the dispatch
/// sources are immutable after `init` and thread-safe.
final class SignalHandlers: @unchecked Sendable {
    private let sources: [DispatchSourceSignal]

    init(logger: Logger, onStop: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "swallow.signals")
        let received = ManagedAtomicFlag()
        sources = [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if received.setAndGetPrevious() {
                    logger.warning("second signal, exiting now")
                    // _exit: no atexit handlers while libpq and librdkafka threads are still running.
                    _exit(1)
                }
                logger.info("signal \(number) received, stopping")
                onStop()
            }
            source.resume()
            return source
        }
    }
}

import Synchronization

/// A flag set once, read from any thread (signal handling, the HTTP listener's stop).
final class ManagedAtomicFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func setAndGetPrevious() -> Bool { flag.exchange(true, ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// The configuration and the pipeline settings of a command that talks to PostgreSQL only (the
/// settings carry no Kafka address).
func loadPostgresSettings(path: String) throws -> (SwallowConfiguration, PipelineSettings) {
    let configuration = try loadConfiguration(path: path)
    return (configuration, PipelineSettings(configuration: configuration, bootstrapServers: "", connectorVersion: swallowVersion))
}

/// Loads the configuration, or prints why not and exits 2 (a bad configuration: restarting cannot help).
func loadConfiguration(path: String) throws -> SwallowConfiguration {
    do {
        return try SwallowConfiguration.load(path: path)
    } catch {
        throw exitFailure(error, status: 2)
    }
}

func makeLogger(level: String, format: SwallowConfiguration.LogFormat = .text) -> Logger {
    let logLevel = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        switch format {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        case .json:
            var handler = JSONLogHandler(label: label)
            handler.logLevel = logLevel
            return handler
        }
    }
    return Logger(label: "swallow")
}

/// Makes the Prometheus registry the metrics backend; histogram buckets fit what they measure.
func bootstrapMetrics() -> PrometheusCollectorRegistry {
    let registry = PrometheusCollectorRegistry()
    var factory = PrometheusMetricsFactory(registry: registry)
    // A broker acknowledges in milliseconds; a slow one or a retrying producer takes seconds.
    factory.durationHistogramBuckets["swallow_ack_latency_seconds"] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]
    // From the commit in PostgreSQL to Kafka's acknowledgement: includes decoding, a backlog, outages.
    factory.durationHistogramBuckets["swallow_commit_to_ack_latency_seconds"] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
    ]
    MetricsSystem.bootstrap(factory)
    return registry
}

/// Prints `swallow: <error>` on stderr and gives the exit status to throw.
func exitFailure(_ error: any Error, status: Int32) -> ExitCode {
    FileHandle.standardError.write(Data("swallow: \(error)\n".utf8))
    return ExitCode(status)
}
