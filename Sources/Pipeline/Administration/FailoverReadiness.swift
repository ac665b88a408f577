import Foundation

/// Whether the servers of `postgres.host` are ready to carry Swallow's slot across a promotion
/// (PostgreSQL 17 failover slots): what `swallow check` reports per server, decided from what it read
/// there (``FailoverServer``), with no I/O. `FailoverPreflight` gathers the observations.
///
/// What slot synchronization needs (PostgreSQL 17, "Logical Replication Failover"): on the primary, the
/// slot is a failover slot and `synchronized_standby_slots` names the physical slot of each standby that
/// may be promoted (so no change reaches Swallow before those standbys have it); on each standby,
/// `sync_replication_slots = on`, `hot_standby_feedback = on`, a `primary_slot_name` (a physical slot on
/// the primary) and a `dbname` in `primary_conninfo`. The standby's copy of the slot has `synced = true`.
public enum FailoverReadiness {
    /// Every line for the servers, in the order given (the order of `postgres.host`).
    /// `failover`: `slot.failover`; without it the servers' roles are reported with one warning.
    public static func evaluate(_ servers: [FailoverServer], slotName: String, failover: Bool) -> [PreflightCheck] {
        var checks: [PreflightCheck] = []
        let reachable = servers.compactMap { server in server.observation.map { (server.address, $0) } }
        let primaries = reachable.filter { !$0.1.inRecovery }.map(\.1)
        let standbys = reachable.filter { $0.1.inRecovery }

        for server in servers {
            guard let observed = server.observation else {
                checks.append(PreflightCheck(name: "host \(server.address)", outcome: .warn,
                                             found: "\(server.unreachableReason ?? "?"); its settings were not checked",
                                             fix: "start it, or remove it from postgres.host"))
                continue
            }
            let role = observed.inRecovery ? "standby" : "primary"
            checks.append(PreflightCheck(name: "\(role) \(server.address)", outcome: .pass,
                                         found: "PostgreSQL \(observed.version)\(observed.inRecovery ? ", in recovery" : "")"))
            guard failover else { continue }
            let lines = FailoverLines(name: "\(role) \(server.address)", slotName: slotName)
            guard observed.versionNumber >= 170000 else {
                checks.append(lines.check("slot.failover", .fail,
                                          "failover slots need PostgreSQL 17 or later; this server is \(observed.version)",
                                          fix: "upgrade the servers to PostgreSQL 17 or later, or remove slot.failover"))
                continue
            }
            if observed.inRecovery {
                checks += lines.standby(observed, primaries: primaries)
            } else {
                checks += lines.primary(observed, standbySlots: standbys.compactMap { $0.1.primarySlotName })
            }
        }

        if !failover {
            if !standbys.isEmpty || servers.count > 1 {
                checks.append(PreflightCheck(
                    name: "slot.failover", outcome: .warn,
                    found: "false: a standby promoted in a failover has no copy of slot \(slotName), so Swallow would create a new slot there and snapshot again (or stop, with slot.create: false)",
                    fix: "set slot.failover: true (PostgreSQL 17 or later) and set up slot synchronization (docs/high-availability.md)"))
            }
        } else if standbys.isEmpty && reachable.count == servers.count {
            checks.append(PreflightCheck(
                name: "standbys", outcome: .warn,
                found: "postgres.host names no standby, so no standby's settings were checked",
                fix: "list the standbys after the primary in postgres.host (with target_session_attrs read-write Swallow still connects to the primary only)"))
        }
        return checks
    }

    /// The list in `synchronized_standby_slots` (names, commas, optional double quotes).
    public static func slotList(_ setting: String) -> [String] {
        setting.split(separator: ",").map { item in
            var name = item.trimmingCharacters(in: .whitespaces)
            if name.count >= 2, name.hasPrefix("\""), name.hasSuffix("\"") { name = String(name.dropFirst().dropLast()) }
            return name
        }.filter { !$0.isEmpty }
    }
}

/// One server of `postgres.host`, as `swallow check` found it.
public struct FailoverServer: Sendable, Equatable {
    /// `host:port`, as listed.
    public var address: String
    /// What was read there; nil when it could not be reached.
    public var observation: Observation?
    /// Why it could not be checked: "cannot connect: <libpq's message>", or a query that failed.
    public var unreachableReason: String?

    public init(address: String, observation: Observation) {
        self.address = address
        self.observation = observation
    }

    public init(address: String, unreachableReason: String) {
        self.address = address
        self.unreachableReason = unreachableReason
    }

    /// The settings and slots that slot synchronization depends on.
    public struct Observation: Sendable, Equatable {
        /// `server_version_num`, e.g. 180001, and `server_version`'s number, e.g. 18.1.
        public var versionNumber: Int
        public var version: String
        /// `pg_is_in_recovery()`: a standby.
        public var inRecovery: Bool
        /// The primary's `synchronized_standby_slots` (empty when unset, and before 17).
        public var synchronizedStandbySlots: [String] = []
        /// This server's physical slots: name → active (a standby streams from it).
        public var physicalSlots: [String: Bool] = [:]
        /// A standby's `sync_replication_slots` (false before 17).
        public var syncReplicationSlots = false
        public var hotStandbyFeedback = false
        /// A standby's `primary_slot_name`; nil when empty.
        public var primarySlotName: String?
        /// The `dbname` of a standby's `primary_conninfo`.
        public var primaryConninfoDatabase: ConninfoDatabase = .missing
        /// Swallow's slot on this server; nil when it has none.
        public var slot: Slot?

        public init(versionNumber: Int, version: String, inRecovery: Bool) {
            self.versionNumber = versionNumber
            self.version = version
            self.inRecovery = inRecovery
        }
    }

    public enum ConninfoDatabase: Sendable, Equatable {
        case named(String)
        case missing
        /// `primary_conninfo` may hold a password: only superusers and pg_read_all_settings read it.
        case unreadable
    }

    /// Swallow's slot as `pg_replication_slots` shows it.
    public struct Slot: Sendable, Equatable {
        public var failover: Bool
        public var synced: Bool
        public var temporary: Bool
        public var invalidationReason: String?

        public init(failover: Bool, synced: Bool = false, temporary: Bool = false, invalidationReason: String? = nil) {
            self.failover = failover
            self.synced = synced
            self.temporary = temporary
            self.invalidationReason = invalidationReason
        }
    }
}

/// The lines of one server, each named `<role> <address> <setting>`.
private struct FailoverLines {
    let name: String
    let slotName: String

    func check(_ setting: String, _ outcome: PreflightCheck.Outcome, _ found: String, fix: String? = nil) -> PreflightCheck {
        PreflightCheck(name: "\(name) \(setting)", outcome: outcome, found: found, fix: fix)
    }

    static let reload = "SELECT pg_reload_conf()"

    func primary(_ server: FailoverServer.Observation, standbySlots: [String]) -> [PreflightCheck] {
        var checks: [PreflightCheck] = []
        let listed = server.synchronizedStandbySlots
        if listed.isEmpty {
            let names = standbySlots.isEmpty ? server.physicalSlots.keys.sorted() : standbySlots
            let value = names.isEmpty ? "<standby's physical slot>" : names.joined(separator: ",")
            checks.append(check("synchronized_standby_slots", .fail,
                                "empty: Swallow may receive and confirm changes no standby has yet, and a standby promoted then lacks changes Kafka holds",
                                fix: "ALTER SYSTEM SET synchronized_standby_slots = '\(value)'; \(Self.reload)"))
        } else {
            var problems: [String] = []
            var fixes: [String] = []
            for slot in listed {
                switch server.physicalSlots[slot] {
                case nil:
                    problems.append("\(slot) is not a physical slot of this server, and Swallow's stream waits for it")
                    fixes.append("SELECT pg_create_physical_replication_slot('\(slot)') for the standby that uses it, or remove \(slot) from synchronized_standby_slots")
                case false?:
                    problems.append("\(slot) is inactive (its standby does not stream), and Swallow's stream waits until it does")
                    fixes.append("start the standby whose primary_slot_name is \(slot), or remove \(slot) from synchronized_standby_slots")
                case true?:
                    break
                }
            }
            if problems.isEmpty {
                checks.append(check("synchronized_standby_slots", .pass, "\(listed.joined(separator: ", ")) (active)"))
            } else {
                checks.append(check("synchronized_standby_slots", .fail, problems.joined(separator: "; "),
                                    fix: fixes.joined(separator: "; ")))
            }
        }
        switch server.slot {
        case nil:
            checks.append(check("slot", .pass, "\(slotName) does not exist yet; Swallow creates it as a failover slot"))
        case let slot? where slot.failover:
            checks.append(check("slot", .pass, "\(slotName) is a failover slot"))
        case .some:
            checks.append(check("slot", .pass, "\(slotName) is not a failover slot yet; Swallow makes it one when it starts"))
        }
        return checks
    }

    func standby(_ server: FailoverServer.Observation, primaries: [FailoverServer.Observation]) -> [PreflightCheck] {
        var checks: [PreflightCheck] = []
        /// The settings that keep the slot from being synchronized, for the slot's line.
        var blockers: [String] = []
        func setting(_ name: String, isOn: Bool, why: String) {
            if isOn {
                checks.append(check(name, .pass, "on"))
            } else {
                blockers.append(name)
                checks.append(check(name, .fail, "off; \(why)",
                                    fix: "ALTER SYSTEM SET \(name) = on; \(Self.reload) (on this standby)"))
            }
        }
        setting("sync_replication_slots", isOn: server.syncReplicationSlots,
                why: "the slot sync worker copies failover slots only when it is on")
        setting("hot_standby_feedback", isOn: server.hotStandbyFeedback,
                why: "slot synchronization needs it, so that the primary keeps the catalog rows the slot's copy needs")

        let primary = primaries.first
        if let slot = server.primarySlotName {
            if let primary, primary.physicalSlots[slot] == nil {
                blockers.append("primary_slot_name")
                checks.append(check("primary_slot_name", .fail, "\(slot), which is not a physical slot of the primary",
                                    fix: "SELECT pg_create_physical_replication_slot('\(slot)') on the primary"))
            } else if let primary, !primary.synchronizedStandbySlots.contains(slot) {
                let list = (primary.synchronizedStandbySlots + [slot]).joined(separator: ",")
                checks.append(check("primary_slot_name", .fail,
                                    "\(slot), which the primary's synchronized_standby_slots does not name: Swallow may confirm changes this standby has not received, and after its promotion Kafka holds changes it lacks",
                                    fix: "on the primary: ALTER SYSTEM SET synchronized_standby_slots = '\(list)'; \(Self.reload)"))
            } else if primary == nil {
                checks.append(check("primary_slot_name", .warn,
                                    "\(slot); not compared with the primary's synchronized_standby_slots (no primary reached)"))
            } else {
                checks.append(check("primary_slot_name", .pass, "\(slot), named in the primary's synchronized_standby_slots"))
            }
        } else {
            blockers.append("primary_slot_name")
            checks.append(check("primary_slot_name", .fail, "not set; slot synchronization needs a physical slot on the primary",
                                fix: "on the primary: SELECT pg_create_physical_replication_slot('<name>') and add it to synchronized_standby_slots; on this standby: ALTER SYSTEM SET primary_slot_name = '<name>'; \(Self.reload)"))
        }

        switch server.primaryConninfoDatabase {
        case .named(let database):
            checks.append(check("primary_conninfo", .pass, "names database \(database)"))
        case .missing:
            blockers.append("primary_conninfo")
            checks.append(check("primary_conninfo", .fail, "has no dbname; the slot sync worker connects to a database of the primary (streaming ignores it)",
                                fix: "add dbname=postgres (any database of the primary) to it: ALTER SYSTEM SET primary_conninfo = '... dbname=postgres'; \(Self.reload)"))
        case .unreadable:
            checks.append(check("primary_conninfo", .warn, "could not be read: it may hold a password, so only a superuser or a member of pg_read_all_settings may read it",
                                fix: "GRANT pg_read_all_settings TO the role of postgres.user, or check by hand that it names a dbname"))
        }

        checks.append(slotLine(server.slot, primarySlot: primary.map { $0.slot }, blockers: blockers))
        return checks
    }

    /// Swallow's slot on a standby. `primarySlot`: nil when no primary was reached, `.some(nil)` when the
    /// primary has no such slot.
    private func slotLine(_ slot: FailoverServer.Slot?, primarySlot: FailoverServer.Slot??,
                          blockers: [String]) -> PreflightCheck {
        if let slot {
            guard slot.synced else {
                return check("slot", .fail, "\(slotName) exists here but is not a synchronized copy (created on the standby itself); the slot sync worker does not replace it",
                             fix: "SELECT pg_drop_replication_slot('\(slotName)') on this standby")
            }
            if let reason = slot.invalidationReason {
                return check("slot", .fail, "\(slotName) is synchronized but its copy was invalidated (\(reason)); after a promotion it could not be streamed from",
                             fix: "check hot_standby_feedback and primary_slot_name above, then SELECT pg_drop_replication_slot('\(slotName)') on this standby so that it is copied again")
            }
            if slot.temporary {
                return check("slot", .warn, "\(slotName) is being synchronized: the copy stays temporary until the primary's slot passes this standby's oldest needed position, and a temporary copy does not survive a promotion",
                             fix: "let Swallow stream on the primary: its confirmations move the slot on")
            }
            return check("slot", .pass, "\(slotName) is synchronized here (synced = true)")
        }
        guard let primarySlot else {
            return check("slot", .warn, "\(slotName) has not been synchronized here; no primary was reached to tell why")
        }
        guard let original = primarySlot else {
            return check("slot", blockers.isEmpty ? .pass : .fail,
                         "\(slotName) does not exist on the primary yet\(blockers.isEmpty ? "; once Swallow creates it, it is synchronized here" : ", and it could not be synchronized here: see \(blockers.joined(separator: ", ")) above")",
                         fix: blockers.isEmpty ? nil : "fix \(blockers.joined(separator: ", ")) above")
        }
        if !blockers.isEmpty {
            return check("slot", .fail, "\(slotName) has never been synchronized here: \(blockers.joined(separator: ", ")) (above) keep it from being copied",
                         fix: "fix \(blockers.joined(separator: ", ")) above")
        }
        if !original.failover {
            return check("slot", .warn, "\(slotName) has never been synchronized here: on the primary it is not a failover slot yet",
                         fix: "start Swallow with slot.failover: true; it makes the slot a failover slot")
        }
        return check("slot", .fail, "\(slotName) has never been synchronized here although the settings above allow it: the slot sync worker has not copied it yet (it retries every few seconds, up to 30 s when idle) or fails",
                     fix: "see the standby's log for what the slot sync worker waits for")
    }
}
