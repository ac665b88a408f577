import PGReplication
import SwallowConfig
import Testing
@testable import Pipeline

/// `swallow check`'s failover lines, decided from what was read on each server of `postgres.host`.
@Suite struct FailoverReadinessTests {
    let slot = "swallow"

    /// A primary of PostgreSQL 18 whose standby streams from physical slot `standby_1`, listed in
    /// `synchronized_standby_slots`, with Swallow's failover slot.
    func primary(listing listed: [String] = ["standby_1"], physical: [String: Bool] = ["standby_1": true],
                 slot: FailoverServer.Slot? = .init(failover: true)) -> FailoverServer {
        var observed = FailoverServer.Observation(versionNumber: 180001, version: "18.1", inRecovery: false)
        observed.synchronizedStandbySlots = listed
        observed.physicalSlots = physical
        observed.slot = slot
        return FailoverServer(address: "db-1:5432", observation: observed)
    }

    /// A well-configured standby of PostgreSQL 18 holding a synchronized copy of the slot.
    func standby(_ change: (inout FailoverServer.Observation) -> Void = { _ in }) -> FailoverServer {
        var observed = FailoverServer.Observation(versionNumber: 180001, version: "18.1", inRecovery: true)
        observed.syncReplicationSlots = true
        observed.hotStandbyFeedback = true
        observed.primarySlotName = "standby_1"
        observed.primaryConninfoDatabase = .named("postgres")
        observed.slot = .init(failover: true, synced: true)
        change(&observed)
        return FailoverServer(address: "db-2:5432", observation: observed)
    }

    func line(_ checks: [PreflightCheck], _ name: String) throws -> PreflightCheck {
        try #require(checks.first { $0.name == name }, "no line \(name) in \(checks.map(\.line))")
    }

    @Test func aWellConfiguredPairPassesEveryLine() throws {
        let checks = FailoverReadiness.evaluate([primary(), standby()], slotName: slot, failover: true)
        #expect(checks.allSatisfy { $0.outcome == .pass }, "\(checks.map(\.line))")
        #expect(checks.map(\.line) == [
            "ok   primary db-1:5432: PostgreSQL 18.1",
            "ok   primary db-1:5432 synchronized_standby_slots: standby_1 (active)",
            "ok   primary db-1:5432 slot: swallow is a failover slot",
            "ok   standby db-2:5432: PostgreSQL 18.1, in recovery",
            "ok   standby db-2:5432 sync_replication_slots: on",
            "ok   standby db-2:5432 hot_standby_feedback: on",
            "ok   standby db-2:5432 primary_slot_name: standby_1, named in the primary's synchronized_standby_slots",
            "ok   standby db-2:5432 primary_conninfo: names database postgres",
            "ok   standby db-2:5432 slot: swallow is synchronized here (synced = true)",
        ])
    }

    @Test func aStandbyWithoutSyncReplicationSlotsOrHotStandbyFeedbackNamesBothAndTheSlotWaits() throws {
        let checks = FailoverReadiness.evaluate([primary(), standby {
            $0.syncReplicationSlots = false
            $0.hotStandbyFeedback = false
            $0.slot = nil
        }], slotName: slot, failover: true)
        let sync = try line(checks, "standby db-2:5432 sync_replication_slots")
        #expect(sync.outcome == .fail)
        #expect(sync.fix == "ALTER SYSTEM SET sync_replication_slots = on; SELECT pg_reload_conf() (on this standby)")
        let feedback = try line(checks, "standby db-2:5432 hot_standby_feedback")
        #expect(feedback.outcome == .fail)
        #expect(feedback.fix == "ALTER SYSTEM SET hot_standby_feedback = on; SELECT pg_reload_conf() (on this standby)")
        let copy = try line(checks, "standby db-2:5432 slot")
        #expect(copy.outcome == .fail)
        #expect(copy.found == "swallow has never been synchronized here: sync_replication_slots, hot_standby_feedback (above) keep it from being copied")
    }

    @Test func aPrimaryWithoutSynchronizedStandbySlotsIsToldWhichSlotToList() throws {
        let checks = FailoverReadiness.evaluate([primary(listing: []), standby()], slotName: slot, failover: true)
        let listed = try line(checks, "primary db-1:5432 synchronized_standby_slots")
        #expect(listed.outcome == .fail)
        #expect(listed.found.hasPrefix("empty: "))
        #expect(listed.fix == "ALTER SYSTEM SET synchronized_standby_slots = 'standby_1'; SELECT pg_reload_conf()")
        // The standby's slot is not among them either.
        let standbySlot = try line(checks, "standby db-2:5432 primary_slot_name")
        #expect(standbySlot.outcome == .fail)
        #expect(standbySlot.fix == "on the primary: ALTER SYSTEM SET synchronized_standby_slots = 'standby_1'; SELECT pg_reload_conf()")
    }

    @Test func synchronizedStandbySlotsNamingAMissingOrInactiveSlotStallsTheStream() throws {
        let checks = FailoverReadiness.evaluate([primary(listing: ["standby_1", "gone"], physical: ["standby_1": false])],
                                                slotName: slot, failover: true)
        let listed = try line(checks, "primary db-1:5432 synchronized_standby_slots")
        #expect(listed.outcome == .fail)
        #expect(listed.found == "standby_1 is inactive (its standby does not stream), and Swallow's stream waits until it does; gone is not a physical slot of this server, and Swallow's stream waits for it")
        // A primary alone: the standbys were not checked.
        #expect(try line(checks, "standbys").outcome == .warn)
    }

    @Test func aSlotNeverSynchronizedSaysWhy() throws {
        // Everything is set, the primary has the failover slot, the standby has no copy.
        var checks = FailoverReadiness.evaluate([primary(), standby { $0.slot = nil }], slotName: slot, failover: true)
        var copy = try line(checks, "standby db-2:5432 slot")
        #expect(copy.outcome == .fail)
        #expect(copy.found.hasPrefix("swallow has never been synchronized here although the settings above allow it"))
        // The primary's slot is not a failover slot yet.
        checks = FailoverReadiness.evaluate([primary(slot: .init(failover: false)), standby { $0.slot = nil }],
                                            slotName: slot, failover: true)
        copy = try line(checks, "standby db-2:5432 slot")
        #expect(copy.outcome == .warn)
        #expect(copy.found == "swallow has never been synchronized here: on the primary it is not a failover slot yet")
        // No slot anywhere yet: nothing to synchronize, the settings allow it.
        checks = FailoverReadiness.evaluate([primary(slot: nil), standby { $0.slot = nil }], slotName: slot, failover: true)
        #expect(checks.allSatisfy { $0.outcome == .pass }, "\(checks.map(\.line))")
        // A copy that is still temporary, one invalidated, one made on the standby itself.
        copy = try line(FailoverReadiness.evaluate([primary(), standby { $0.slot?.temporary = true }], slotName: slot, failover: true),
                        "standby db-2:5432 slot")
        #expect(copy.outcome == .warn)
        copy = try line(FailoverReadiness.evaluate([primary(), standby { $0.slot?.invalidationReason = "rows_removed" }], slotName: slot, failover: true),
                        "standby db-2:5432 slot")
        #expect(copy.outcome == .fail && copy.found.contains("(rows_removed)"))
        copy = try line(FailoverReadiness.evaluate([primary(), standby { $0.slot = .init(failover: false, synced: false) }], slotName: slot, failover: true),
                        "standby db-2:5432 slot")
        #expect(copy.outcome == .fail && copy.fix == "SELECT pg_drop_replication_slot('swallow') on this standby")
    }

    @Test func primarySlotNameAndPrimaryConninfo() throws {
        var checks = FailoverReadiness.evaluate([primary(), standby {
            $0.primarySlotName = nil
            $0.primaryConninfoDatabase = .missing
            $0.slot = nil
        }], slotName: slot, failover: true)
        #expect(try line(checks, "standby db-2:5432 primary_slot_name").outcome == .fail)
        let conninfo = try line(checks, "standby db-2:5432 primary_conninfo")
        #expect(conninfo.outcome == .fail)
        #expect(conninfo.found.hasPrefix("has no dbname"))
        #expect(try line(checks, "standby db-2:5432 slot").found.contains("primary_slot_name, primary_conninfo (above)"))
        // A primary_slot_name that is no physical slot of the primary; a primary_conninfo the role may not read.
        checks = FailoverReadiness.evaluate([primary(), standby {
            $0.primarySlotName = "standby_9"
            $0.primaryConninfoDatabase = .unreadable
        }], slotName: slot, failover: true)
        let named = try line(checks, "standby db-2:5432 primary_slot_name")
        #expect(named.outcome == .fail && named.found == "standby_9, which is not a physical slot of the primary")
        #expect(try line(checks, "standby db-2:5432 primary_conninfo").outcome == .warn)
    }

    @Test func before17FailoverSlotsAreNamedAsNeeding17() throws {
        var old = FailoverServer.Observation(versionNumber: 150012, version: "15.12", inRecovery: false)
        old.slot = .init(failover: false)
        var oldStandby = FailoverServer.Observation(versionNumber: 150012, version: "15.12", inRecovery: true)
        oldStandby.hotStandbyFeedback = true
        let checks = FailoverReadiness.evaluate([FailoverServer(address: "db-1:5432", observation: old),
                                                 FailoverServer(address: "db-2:5432", observation: oldStandby)],
                                                slotName: slot, failover: true)
        #expect(checks.map(\.line) == [
            "ok   primary db-1:5432: PostgreSQL 15.12",
            "FAIL primary db-1:5432 slot.failover: failover slots need PostgreSQL 17 or later; this server is 15.12. Fix: upgrade the servers to PostgreSQL 17 or later, or remove slot.failover",
            "ok   standby db-2:5432: PostgreSQL 15.12, in recovery",
            "FAIL standby db-2:5432 slot.failover: failover slots need PostgreSQL 17 or later; this server is 15.12. Fix: upgrade the servers to PostgreSQL 17 or later, or remove slot.failover",
        ])
    }

    @Test func anUnreachableHostIsReportedAndAHostListWithoutFailoverWarns() throws {
        let checks = FailoverReadiness.evaluate([FailoverServer(address: "db-0:1", unreachableReason: "cannot connect: connection refused"),
                                                 primary(), standby()], slotName: slot, failover: false)
        #expect(checks.map(\.line) == [
            "WARN host db-0:1: cannot connect: connection refused; its settings were not checked. Fix: start it, or remove it from postgres.host",
            "ok   primary db-1:5432: PostgreSQL 18.1",
            "ok   standby db-2:5432: PostgreSQL 18.1, in recovery",
            "WARN slot.failover: false: a standby promoted in a failover has no copy of slot swallow, so Swallow would create a new slot there and snapshot again (or stop, with slot.create: false). Fix: set slot.failover: true (PostgreSQL 17 or later) and set up slot synchronization (docs/high-availability.md)",
        ])
    }

    @Test func synchronizedStandbySlotsIsReadAsAList() {
        #expect(FailoverReadiness.slotList("") == [])
        #expect(FailoverReadiness.slotList("a, \"B c\" ,d") == ["a", "B c", "d"])
    }

    @Test func theDatabaseOfAConnectionStringIsRead() {
        // As pg_basebackup -R of PostgreSQL 18 writes it: keywords older libpq versions do not know.
        #expect(ConnectionString.databaseName(in: "user=postgres passfile='/var/lib/postgresql/.pgpass' channel_binding=disable host=127.0.0.1 port=31506 sslmode=disable sslnegotiation=postgres sslcertmode=disable target_session_attrs=any load_balance_hosts=disable dbname=postgres") == "postgres")
        #expect(ConnectionString.databaseName(in: "host = db-1 password='\\'secret' dbname = 'my app'") == "my app")
        #expect(ConnectionString.databaseName(in: "user=postgres host=db-1 port=5432") == nil)
        #expect(ConnectionString.databaseName(in: "host='unterminated dbname=x") == nil)
        #expect(ConnectionString.databaseName(in: "postgresql://u:secret@db-1:5432/my%20app?sslmode=disable") == "my app")
        #expect(ConnectionString.databaseName(in: "postgres://db-1?dbname=other") == "other")
        #expect(ConnectionString.databaseName(in: "postgresql://db-1:5432") == nil)
    }

    @Test func eachListedHostIsProbedOnItsOwn() throws {
        let configuration = try SwallowConfiguration.parse(yaml: """
            postgres: {host: "db-1,db-2", port: "5432,5433", dbname: app, user: swallow}
            slot: {name: swallow, failover: true}
            publication: {name: swallow}
            topic_prefix: app
            kafka: {bootstrap_servers: "k1:9092"}
            """, environment: [:])
        let settings = PipelineSettings(configuration: configuration, bootstrapServers: "k1:9092", connectorVersion: "test")
        let hosts = FailoverPreflight.hostParameters(settings.connection)
        #expect(hosts.map { "\($0.host):\($0.port)" } == ["db-1:5432", "db-2:5433"])
        #expect(hosts.allSatisfy { $0.targetSessionAttributes == "any" && $0.portList == nil })
        #expect(FailoverPreflight.applies(to: settings))
    }
}
