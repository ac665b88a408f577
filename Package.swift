// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Swallow",
    // macOS 15: Synchronization.Mutex and Atomic.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swallow", targets: ["SwallowCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),   // LogHandler.log(event:)
        // Observability: metrics API (Pipeline), its Prometheus backend and a small HTTP server (executable only).
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox.git", from: "0.27.1"),
    ],
    targets: [
        // Thin C bridges: a module map and a shim header each, nothing else.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CRdKafka", path: "Sources/CRdKafka", pkgConfig: "rdkafka",
                       providers: [.apt(["librdkafka-dev"])]),

        // Pure pgoutput + replication-framing decoder: bytes in, values out.
        .target(name: "PGOutput"),
        // libpq replication connection (walsender protocol).
        .target(name: "PGReplication", dependencies: ["CLibPQ", "PGOutput"]),
        // librdkafka producer, consumer and mock cluster.
        .target(name: "Kafka", dependencies: ["CRdKafka"]),
        // Avro for `events.format: avro`: Connect schemas to Avro schemas as Confluent's AvroData makes them,
        // JsonConverter payloads to Avro binary, Confluent's wire framing, and a decoder. Pure.
        .target(name: "Avro"),
        // Debezium-shaped change events and their JSON encoding; with `events.format: avro` keys and row
        // changes are written as Avro here.
        .target(name: "ChangeEvent", dependencies: ["Avro"]),
        // A Confluent Schema Registry client (REST over libcurl): register/look up per subject, URLs with
        // failover, basic auth, TLS; subject name strategies.
        .target(name: "SchemaRegistry", dependencies: ["CCurl"]),
        // YAML configuration.
        .target(name: "SwallowConfig", dependencies: ["ChangeEvent", .product(name: "Yams", package: "Yams")]),
        // The pipeline's decisions, pure: pgoutput messages to records (StreamTranslator), how far the
        // slot may be confirmed (AcknowledgementTracker), snapshot chunk progress and markers, signals,
        // the stream session's state machine, delivery ids, backoff. Links neither libpq nor librdkafka,
        // so the compiler keeps I/O out of it.
        .target(name: "SwallowCore", dependencies: ["PGOutput", "ChangeEvent", "SwallowConfig", "Avro"]),
        // The I/O edges around the core: replication sessions, snapshots, the delivery path, catalog
        // reads, administration and observability.
        .target(name: "Pipeline", dependencies: [
            "SwallowCore", "PGOutput", "PGReplication", "Kafka", "ChangeEvent", "SwallowConfig", "Avro", "SchemaRegistry",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        .executableTarget(name: "SwallowCLI", dependencies: [
            "Pipeline", "SwallowConfig", "Kafka", "PGReplication",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "FlyingFox", package: "FlyingFox"),
        ]),

        .testTarget(name: "PGOutputTests", dependencies: ["PGOutput"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ChangeEventTests", dependencies: ["ChangeEvent"], resources: [.copy("Fixtures")]),
        .testTarget(name: "AvroTests", dependencies: ["Avro", "ChangeEvent"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SchemaRegistryTests", dependencies: ["SchemaRegistry"]),
        .testTarget(name: "SwallowConfigTests", dependencies: ["SwallowConfig"]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka"]),
        .testTarget(name: "PGReplicationTests", dependencies: ["PGReplication"]),
        .testTarget(name: "SwallowCoreTests", dependencies: ["SwallowCore", "PGOutput", "SwallowConfig", "ChangeEvent"]),
        .testTarget(name: "PipelineTests", dependencies: [
            "Pipeline", "SwallowCore", .product(name: "Logging", package: "swift-log"),
            .product(name: "MetricsTestKit", package: "swift-metrics"),
        ]),
        // The executable's process concerns: the JSON log handler and service-manager notifications.
        .testTarget(name: "SwallowCLITests", dependencies: [
            "SwallowCLI", "Pipeline", "PGOutput", .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)

// The integration tests need PostgreSQL 15 and the scripts that start it: scripts/test.sh installs and
// starts what they need, exports SWALLOW_INTEGRATION_TESTS=1, and only then is their target part of the
// package. A bare `swift test` builds and runs the unit targets and needs no server. (SwiftPM evaluates the
// manifest again when the variable changes, so switching between the two needs no clean build.)
if Context.environment["SWALLOW_INTEGRATION_TESTS"] == "1" {
    package.targets.append(.testTarget(name: "IntegrationTests", dependencies: [
        "Pipeline", "SwallowCore", "Kafka", "PGReplication", "PGOutput", "SwallowConfig", "ChangeEvent",
        "Avro", "SchemaRegistry",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "MetricsTestKit", package: "swift-metrics"),
    ],
    // The golden workload and expected events are read from the source tree (#filePath).
    exclude: ["Golden"]))
}
