import ArgumentParser
import Foundation
import PGReplication
import Pipeline
import SwallowConfig

/// `swallow check`: every prerequisite of `swallow run`, one line each with the fix.
/// Exit codes: 0 ready (warnings allowed), 1 a check failed, 2 bad configuration.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that PostgreSQL and Kafka are ready for `swallow run`, one line per prerequisite.",
        discussion: """
            Connects to PostgreSQL and Kafka without changing anything and reports wal_level, free replication \
            slots and WAL senders, the role's REPLICATION and SELECT rights, each table's key, the publication, \
            the slot (and its lag), Kafka and the topics; with slot.failover or several hosts in postgres.host, \
            each server's slot synchronization settings. Exits 0 when ready, 1 when a check failed, 2 on a bad \
            configuration.
            """)

    @Option(name: .shortAndLong, help: "Path to the YAML configuration.")
    var config: String = "Config/swallow.yaml"

    @Option(name: .long, help: "Milliseconds to wait for a Kafka broker to answer.")
    var kafkaTimeoutMs: Int32 = 5_000

    func run() throws {
        let (configuration, settings) = try loadPostgresSettings(path: config)
        let checks = Preflight.run(settings: settings, kafka: configuration.kafka.bootstrapServers,
                                   kafkaTimeoutMilliseconds: max(kafkaTimeoutMs, 100))
        for check in checks { print(check.line) }
        let failed = checks.filter { $0.outcome == .fail }.count
        let warned = checks.filter { $0.outcome == .warn }.count
        let warnings = warned == 0 ? "" : " (\(warned) warning\(warned == 1 ? "" : "s"))"
        if failed > 0 {
            print("not ready: \(failed) of \(checks.count) checks failed\(warnings)")
            fflush(nil)
            throw ExitCode(1)
        }
        print("ready: \(checks.count) checks passed\(warnings)")
    }
}

/// `swallow status`: the slot as PostgreSQL reports it. Exit codes: 0 the slot exists, 1 it does not
/// (or PostgreSQL could not be asked), 2 bad configuration.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the replication slot's position, lag and activity, as PostgreSQL reports them.")

    @Option(name: .shortAndLong, help: "Path to the YAML configuration.")
    var config: String = "Config/swallow.yaml"

    @Flag(name: .long, help: "Print one JSON object (unknown values are null).")
    var json = false

    func run() throws {
        let (_, settings) = try loadPostgresSettings(path: config)
        let status: SlotStatus?
        do {
            status = try SlotAdministration.status(settings: settings)
        } catch {
            throw exitFailure(error, status: 1)
        }
        guard let status else {
            if json {
                print(#"{"exists":false,"slot":"\#(settings.slotName)"}"#)
            } else {
                print("slot \(settings.slotName) does not exist on \(settings.connection.redactedDescription)")
            }
            fflush(nil)
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
        } else {
            print(statusText(status))
        }
    }

    private func statusText(_ status: SlotStatus) -> String {
        var activity = "inactive"
        if status.active {
            let client = [status.applicationName.map { "application \($0)" },
                          status.clientAddress.map { "from \($0)" } ?? "over a local socket"].compactMap { $0 }
            activity = "active: pid \(status.activePID.map(String.init) ?? "?") (\(client.joined(separator: ", ")))"
        }
        let lagTime: String
        if let seconds = status.lagSeconds {
            lagTime = String(format: "%.3f s (pg_stat_replication.flush_lag)", seconds)
        } else if status.active {
            lagTime = "unknown (PostgreSQL has no recent measurement; it clears flush_lag while the stream is idle)"
        } else {
            lagTime = "unknown (nothing streams from the slot)"
        }
        let rows: [(String, String)] = [
            ("slot", "\(status.slot) (\(status.slotType), plugin \(status.plugin ?? "none"), database \(status.database ?? "none"))"),
            ("state", activity),
            ("confirmed_flush_lsn", status.confirmedFlushLSN ?? "none"),
            ("restart_lsn", status.restartLSN ?? "none"),
            ("server lsn", status.serverLSN),
            ("lag", status.lagBytes.map { "\($0) bytes (\(byteText($0)))" } ?? "unknown"),
            ("lag time", lagTime),
            ("retained WAL", status.retainedWALBytes.map { "\($0) bytes (\(byteText($0)))" } ?? "unknown"),
            ("wal_status", (status.walStatus ?? "unknown") + (status.walStatus == "lost" ? " (invalidated: the WAL it needs is gone)" : "")),
            ("safe_wal_size", status.safeWALSizeBytes.map { "\($0) bytes (\(byteText($0)))" } ?? "unlimited (max_slot_wal_keep_size = -1)"),
        ]
        return rows.map { $0.0.padding(toLength: 20, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
    }
}

/// `swallow slot ...`: operations on the configured replication slot.
struct SlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slot",
        abstract: "Operate on the configured replication slot.",
        subcommands: [SlotDrop.self])
}

/// `swallow slot drop`: drops the slot and Swallow's state files for it. Without `--yes` it only says
/// what it would drop, and exits 1. A slot that no longer exists (lost in a failover) leaves Swallow's
/// record of it, which this removes: the override a lost slot's error names. Exit codes: 0 dropped, 1
/// not dropped, 2 bad configuration.
struct SlotDrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop",
        abstract: "Drop the replication slot (with --yes) and Swallow's state files for it.",
        discussion: """
            The slot keeps the WAL that Swallow has not confirmed yet; dropping it releases that WAL and forgets \
            Swallow's position: the next `swallow run` creates a new slot and, with snapshot.mode initial, snapshots \
            the tables again. An active slot (a running Swallow) is never dropped. When the slot is already gone \
            (a failover to a server without it), only Swallow's state files for it are removed: with them, the next \
            `swallow run` would stop rather than create the slot anew.
            """)

    @Option(name: .shortAndLong, help: "Path to the YAML configuration.")
    var config: String = "Config/swallow.yaml"

    @Flag(name: .long, help: "Really drop it.")
    var yes = false

    func run() throws {
        let (_, settings) = try loadPostgresSettings(path: config)
        let outcome: SlotDropOutcome
        do {
            outcome = try SlotAdministration.drop(settings: settings, confirmed: yes)
        } catch {
            throw exitFailure(error, status: 1)
        }
        let files = outcome.stateFiles.joined(separator: ", ")
        let description = outcome.slot.map { slot in
            let lag = slot.lagBytes.map { ", \($0) bytes not confirmed" } ?? ""
            return "replication slot \(slot.slot) (database \(slot.database ?? "none"), confirmed_flush_lsn \(slot.confirmedFlushLSN ?? "none")\(lag))"
        }
        if outcome.dropped {
            print(description.map { "dropped \($0)" }
                  ?? "replication slot \(settings.slotName) does not exist on \(settings.connection.redactedDescription): nothing to drop there")
            print(outcome.stateFiles.isEmpty ? "no state files for it under \(settings.stateDirectory)"
                  : "removed its state files (they recorded this slot's stream and snapshots): \(files)")
            if settings.createSlot {
                let snapshot = settings.snapshot.mode == .noData ? "" : " and snapshots the tables again (snapshot.mode \(settings.snapshot.mode.rawValue))"
                print("the next `swallow run` creates a new slot\(snapshot)")
            } else {
                print("slot.create is false: create the slot again before the next `swallow run`")
            }
        } else {
            print(description.map { "would drop \($0)" }
                  ?? "replication slot \(settings.slotName) does not exist on \(settings.connection.redactedDescription): nothing to drop there")
            print(outcome.stateFiles.isEmpty ? "no state files for it under \(settings.stateDirectory)"
                  : "would remove its state files (they record this slot's stream and snapshots): \(files)")
            print("nothing was dropped: run again with --yes to drop it")
            fflush(nil)
            throw ExitCode(1)
        }
    }
}

/// "1.5 MiB": a byte count for people.
func byteText(_ bytes: Int64) -> String {
    let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while abs(value) >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) bytes" : String(format: "%.1f %@", value, units[unit])
}
