import Foundation
import Kafka
import PGOutput
import PGReplication
import SwallowConfig
import SwallowCore

/// One line of `swallow check`: what was looked at, what was found, and what to do about it.
public struct PreflightCheck: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable {
        /// Ready.
        case pass
        /// Swallow can run, but something deserves a look (e.g. a topic that may not be created).
        case warn
        /// `swallow run` would fail, or PostgreSQL would refuse the application's writes.
        case fail
    }

    /// What was checked, e.g. `wal_level` or `table public.orders`.
    public var name: String
    public var outcome: Outcome
    /// What was found, as a sentence fragment. Never contains a secret.
    public var found: String
    /// How to fix it; nil when there is nothing to do.
    public var fix: String?

    public init(name: String, outcome: Outcome, found: String, fix: String? = nil) {
        self.name = name
        self.outcome = outcome
        self.found = found
        self.fix = fix
    }

    /// `FAIL wal_level: replica, ... Fix: ...`: the line `swallow check` prints.
    public var line: String {
        let label: String
        switch outcome {
        case .pass: label = "ok  "
        case .warn: label = "WARN"
        case .fail: label = "FAIL"
        }
        return "\(label) \(name): \(found)\(fix.map { ". Fix: \($0)" } ?? "")"
    }
}

/// The prerequisites of `swallow run`, checked against the configured PostgreSQL server and Kafka
/// cluster without changing either: nothing is created, altered or dropped, and no replication slot is
/// consumed. The order of the results is the order an operator fixes things in: server settings, the
/// role, the publication and tables, the slot, then Kafka.
public enum Preflight {
    /// Runs every check. Blocks for at most a few seconds per unreachable server (PostgreSQL's
    /// `connect_timeout_s`; `kafkaTimeoutMilliseconds` for Kafka).
    public static func run(settings: PipelineSettings, kafka: SwallowConfiguration.KafkaBootstrap,
                           kafkaTimeoutMilliseconds: Int32 = 5_000) -> [PreflightCheck] {
        var postgres = PostgresPreflight(settings: settings)
        var checks = postgres.run()
        if FailoverPreflight.applies(to: settings) { checks += FailoverPreflight(settings: settings).run() }
        checks += KafkaPreflight(settings: settings, bootstrap: kafka, topics: postgres.topics,
                                 slotInUse: postgres.slotInUse, timeoutMilliseconds: kafkaTimeoutMilliseconds).run()
        return checks
    }

    /// `name` as SQL would need it written: bare when it is a plain lowercase identifier, quoted otherwise.
    static func sqlName(_ name: String) -> String {
        let plain = name.first.map { $0 == "_" || ("a"..."z").contains($0) } ?? false
            && name.allSatisfy { $0 == "_" || $0 == "$" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
        return plain ? name : "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func sqlName(_ table: QualifiedTableName) -> String {
        "\(sqlName(table.schema)).\(sqlName(table.table))"
    }

    static func list(_ names: [String]) -> String { names.joined(separator: ", ") }

    /// Why a connection to `target` failed, on one line and without the target libpq's message starts
    /// with (its text spans lines: "...: Connection refused\n\tIs the server running on that host...").
    static func connectFailureReason(_ error: ReplicationError, target: String) -> String {
        let reason = error.message.hasPrefix("\(target): ") ? String(error.message.dropFirst(target.count + 2)) : error.message
        return reason.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: ". ")
    }
}
