import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import SwallowCore

/// The Kafka half of the checks: a metadata request answered in time, and the events' topics.
struct KafkaPreflight {
    let settings: PipelineSettings
    let bootstrap: SwallowConfiguration.KafkaBootstrap
    let topics: [String]
    /// A client streams from the slot now: its transactional id must not be initialised from here.
    let slotInUse: Bool
    let timeoutMilliseconds: Int32

    func run() -> [PreflightCheck] {
        guard case .servers(let servers) = bootstrap else {
            return [PreflightCheck(name: "kafka", outcome: .pass,
                                   found: "embedded (an in-memory mock cluster started by `swallow run`, which creates topics on first use; nothing is kept)")]
        }
        let admin: KafkaAdmin
        do {
            admin = try KafkaAdmin(bootstrapServers: servers, properties: settings.kafkaProperties,
                                   secretProperties: settings.kafkaSecretProperties)
        } catch {
            return [PreflightCheck(name: "kafka", outcome: .fail, found: "the client rejected the configuration: \(error.message)",
                                   fix: "correct kafka.properties")]
        }
        defer { admin.close() }
        let metadata: KafkaClusterMetadata
        do {
            metadata = try admin.metadata(timeoutMilliseconds: timeoutMilliseconds)
        } catch {
            let cause = admin.recentErrors.first.map { ": \($0)" } ?? ""
            return [PreflightCheck(name: "kafka", outcome: .fail,
                                   found: "no broker at \(servers) answered within \(timeoutMilliseconds) ms\(cause)",
                                   fix: "check kafka.bootstrap_servers, that the brokers run and are reachable from here, and the security settings in kafka.properties")]
        }
        let brokers = metadata.brokers.map { "\($0.id) at \($0.host):\($0.port)" }
        var checks = [PreflightCheck(name: "kafka", outcome: .pass,
                                     found: "\(servers) answered: \(brokers.count) broker\(brokers.count == 1 ? "" : "s") (\(Preflight.list(brokers)))")]
        if settings.topicCreation.createsTopics {
            checks += checkTopicCreation(admin, metadata)
        } else {
            checks.append(checkTopics(admin, metadata))
        }
        if settings.delivery == .exactlyOnce {
            checks.append(checkTransactions(servers))
            if let snapshots = Self.exactlyOnceSnapshotCheck(settings) { checks.append(snapshots) }
        }
        return checks
    }

    /// `delivery: exactly_once` with initial snapshots: an initial snapshot interrupted by a crash
    /// continues without repeating rows only through an incremental snapshot, which needs the signal
    /// table (docs/exactly-once.md#snapshots). Without it Swallow runs, but such a snapshot is taken again.
    static func exactlyOnceSnapshotCheck(_ settings: PipelineSettings) -> PreflightCheck? {
        guard settings.delivery == .exactlyOnce, settings.snapshot.mode != .noData else { return nil }
        let name = "exactly-once snapshots"
        if settings.signalTable != nil || settings.snapshot.mode == .initialOnly {
            let how = settings.snapshot.mode == .initialOnly
                ? "snapshot.mode is initial_only: an interrupted snapshot is taken again, repeating its rows (continuing it needs streaming)"
                : "an initial snapshot interrupted by a crash continues through the signal table without repeating rows"
            return PreflightCheck(name: name, outcome: settings.snapshot.mode == .initialOnly ? .warn : .pass, found: how,
                                  fix: settings.snapshot.mode == .initialOnly ? "use snapshot.mode: initial if the snapshot must not repeat rows after a crash" : nil)
        }
        return PreflightCheck(name: name, outcome: .warn,
                              found: "no snapshot.signal_table: an initial snapshot interrupted by a crash is taken again, repeating its rows",
                              fix: "create a signal table and set snapshot.signal_table (docs/snapshots.md), so that it continues as an incremental snapshot")
    }

    /// `delivery: exactly_once`: the broker supports transactions and lets this principal use the
    /// transactional id (`initTransactions`). Not while the slot is in use: initialising the id would
    /// fence the instance streaming from it.
    private func checkTransactions(_ servers: String) -> PreflightCheck {
        let name = "kafka transactions"
        let id = settings.transactionalID
        guard !slotInUse else {
            return PreflightCheck(name: name, outcome: .warn,
                                  found: "not checked: slot \(settings.slotName) is in use, and initialising transactional id \(id) from here would fence the instance streaming from it",
                                  fix: "run swallow check while Swallow is stopped, or see the running instance's /status (delivery, kafka_committed_lsn)")
        }
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(bootstrapServers: servers, properties: settings.kafkaProperties,
                                         secretProperties: settings.kafkaSecretProperties, transactionalID: id,
                                         onDeliveryReports: { _ in }, onFatalError: { _ in })
        } catch {
            return PreflightCheck(name: name, outcome: .fail, found: "the client rejected the configuration: \(error.message)",
                                  fix: "correct kafka.properties")
        }
        defer { producer.close() }
        do {
            try producer.initTransactions(timeoutMilliseconds: max(timeoutMilliseconds, 10_000))
            return PreflightCheck(name: name, outcome: .pass, found: "the broker supports transactions and accepted transactional id \(id)")
        } catch {
            return PreflightCheck(name: name, outcome: .fail, found: "initialising transactional id \(id) failed: \(error.message)",
                                  fix: Self.transactionFix(error, id: id))
        }
    }

    /// What to do about a failed `initTransactions`, by its cause.
    static func transactionFix(_ error: KafkaError, id: String) -> String {
        let text = "\(error.code.name) \(error.message)".uppercased()
        if text.contains("AUTHORIZATION") {
            return "grant the principal Write and Describe on TransactionalId \(id) (kafka-acls.sh --add --allow-principal User:... --operation Write --operation Describe --transactional-id \(id)), and IdempotentWrite on the cluster for brokers before 3.0"
        }
        if text.contains("UNSUPPORTED") {
            return "use a broker with transactions (Kafka 0.11 or later), or set delivery: at_least_once"
        }
        return "the transaction coordinator did not answer: check that the brokers' transaction.state.log.replication.factor and transaction.state.log.min.isr can be met by the running brokers (a single broker needs both at 1), or set delivery: at_least_once"
    }

    /// Which topics exist; for the missing ones, whether the broker will create them when Swallow first
    /// produces to them (`auto.create.topics.enable`) and would allow it (CreateTopics, validate only).
    private func checkTopics(_ admin: KafkaAdmin, _ metadata: KafkaClusterMetadata) -> PreflightCheck {
        let name = "kafka topics"
        guard !topics.isEmpty else {
            return PreflightCheck(name: name, outcome: .pass, found: "no tables to check topics for")
        }
        let existing = Set(metadata.topics.filter { $0.partitionCount > 0 }.map(\.name))
        let present = topics.filter { existing.contains($0) }
        let missing = topics.filter { !existing.contains($0) }
        let presentText = present.isEmpty ? "" : "present: \(Preflight.list(present))"
        guard !missing.isEmpty else {
            return PreflightCheck(name: name, outcome: .pass, found: presentText)
        }
        let missingText = (present.isEmpty ? "" : presentText + "; ") + "missing: \(Preflight.list(missing))"
        let createFix = "create them (kafka-topics.sh --create --topic NAME, with the partitions and retention you want), or set auto.create.topics.enable=true on the brokers"

        // auto.create.topics.enable, from the broker that answered.
        var autoCreate: Bool?
        var unknownBecause: String?
        var describeUnsupported = false
        do {
            let config = try admin.brokerConfiguration(brokerID: metadata.configBrokerID,
                                                       timeoutMilliseconds: timeoutMilliseconds)
            if let value = config["auto.create.topics.enable"] ?? nil {
                autoCreate = value == "true"
            } else {
                unknownBecause = "broker \(metadata.configBrokerID) did not report auto.create.topics.enable"
            }
        } catch {
            describeUnsupported = error.code == .unsupportedFeature
            unknownBecause = "reading broker \(metadata.configBrokerID)'s auto.create.topics.enable failed (\(error.code.name): \(error.message))"
        }
        if autoCreate == false {
            return PreflightCheck(name: name, outcome: .fail,
                                  found: "\(missingText); the brokers do not create topics (auto.create.topics.enable=false)",
                                  fix: createFix)
        }

        // Whether creating them would be allowed (authorization, name, defaults): the broker validates
        // without creating. A broker too old for DescribeConfigs has no CreateTopics with defaults either.
        var refused: [String] = []
        var validated = false
        if !describeUnsupported {
            do {
                let results = try admin.validateTopicCreation(missing, timeoutMilliseconds: timeoutMilliseconds)
                refused = results.compactMap { result in
                    result.error.map { "\(result.topic) (\($0.code.name): \($0.message))" }
                }
                validated = true
            } catch {
                let reason = "validating their creation failed (\(error.code.name): \(error.message))"
                unknownBecause = unknownBecause.map { "\($0); \(reason)" } ?? reason
            }
        }
        if !refused.isEmpty {
            return PreflightCheck(name: name, outcome: .fail,
                                  found: "\(missingText); the cluster would refuse to create \(Preflight.list(refused))",
                                  fix: "create them as an administrator, or grant Swallow's principal CREATE on them")
        }
        if autoCreate == true && validated {
            return PreflightCheck(name: name, outcome: .pass,
                                  found: "\(missingText); the brokers create topics on first use (auto.create.topics.enable=true) and validated creating these")
        }
        var verified: [String] = []
        if autoCreate == true { verified.append("the brokers create topics on first use (auto.create.topics.enable=true)") }
        if validated { verified.append("the cluster validated creating them") }
        let verifiedText = verified.isEmpty ? "" : "; \(verified.joined(separator: " and "))"
        return PreflightCheck(name: name, outcome: .warn,
                              found: "\(missingText)\(verifiedText); not verified that they will be created: \(unknownBecause ?? "unknown")",
                              fix: createFix)
    }
}
