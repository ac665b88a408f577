import Foundation
import PGReplication

/// The failover half of `swallow check`: with `slot.failover` (or a list of hosts), each server of
/// `postgres.host` is asked on its own connection (`target_session_attrs=any`) what slot
/// synchronization depends on; ``FailoverReadiness`` decides what that means. Reads only.
struct FailoverPreflight {
    let settings: PipelineSettings

    /// Whether the check applies: a failover slot, or more than one host to fail over between.
    static func applies(to settings: PipelineSettings) -> Bool {
        settings.slotFailover || hostParameters(settings.connection).count > 1
    }

    func run() -> [PreflightCheck] {
        var servers: [FailoverServer] = []
        for parameters in Self.hostParameters(settings.connection) {
            let address = "\(parameters.host):\(parameters.port)"
            let sql: PostgresConnection
            do {
                sql = try PostgresConnection(parameters, replication: false)
            } catch {
                servers.append(FailoverServer(address: address, unreachableReason: "cannot connect: " + Preflight.connectFailureReason(
                    error, target: parameters.redactedDescription)))
                continue
            }
            defer { sql.close() }
            do {
                servers.append(FailoverServer(address: address, observation: try observe(sql)))
            } catch {
                servers.append(FailoverServer(address: address, unreachableReason: "connected, but reading its settings failed: \(error.message)"))
            }
        }
        return FailoverReadiness.evaluate(servers, slotName: settings.slotName, failover: settings.slotFailover)
    }

    /// One connection per listed host (libpq's host and port lists, one port for all or one each), each
    /// taking whatever server is there.
    static func hostParameters(_ connection: ConnectionParameters) -> [ConnectionParameters] {
        let hosts = connection.host.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let ports = connection.portList.map { $0.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
            ?? [connection.port]
        return hosts.enumerated().map { index, host in
            var parameters = connection
            parameters.host = host
            parameters.port = ports.count == hosts.count ? ports[index] : ports[0]
            parameters.portList = nil
            parameters.targetSessionAttributes = "any"
            parameters.applicationName = "swallow check"
            return parameters
        }
    }

    private func observe(_ sql: PostgresConnection) throws(ReplicationError) -> FailoverServer.Observation {
        // current_setting(name, true): NULL for a setting this version lacks (the 17 ones on 15 and 16).
        let row = try sql.execute("""
            SELECT current_setting('server_version_num')::int AS version_number, current_setting('server_version') AS version,
                   pg_catalog.pg_is_in_recovery() AS standby,
                   current_setting('hot_standby_feedback') AS hot_standby_feedback,
                   current_setting('primary_slot_name') AS primary_slot_name,
                   current_setting('sync_replication_slots', true) AS sync_replication_slots,
                   current_setting('synchronized_standby_slots', true) AS synchronized_standby_slots,
                   (SELECT pg_catalog.json_object_agg(slot_name, active) FROM pg_catalog.pg_replication_slots
                    WHERE slot_type = 'physical')::text AS physical_slots
            """)
        let version = (row[0, "version"] ?? "?").split(separator: " ").first.map(String.init) ?? "?"
        var observed = FailoverServer.Observation(versionNumber: Int(row[0, "version_number"] ?? "") ?? 0,
                                                  version: version, inRecovery: row[0, "standby"] == "t")
        observed.hotStandbyFeedback = row[0, "hot_standby_feedback"] == "on"
        observed.syncReplicationSlots = row[0, "sync_replication_slots"] == "on"
        observed.primarySlotName = row[0, "primary_slot_name"].flatMap { $0.isEmpty ? nil : $0 }
        observed.synchronizedStandbySlots = FailoverReadiness.slotList(row[0, "synchronized_standby_slots"] ?? "")
        if let json = row[0, "physical_slots"],
           let slots = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Bool] {
            observed.physicalSlots = slots
        }
        if observed.inRecovery {
            // Readable by superusers and pg_read_all_settings only (it may hold a password): its text is
            // parsed here and dropped, never shown.
            if let conninfo = try? sql.execute("SELECT current_setting('primary_conninfo') AS conninfo")[0, "conninfo"] {
                observed.primaryConninfoDatabase = ConnectionString.databaseName(in: conninfo)
                    .map { .named($0) } ?? .missing
            } else {
                observed.primaryConninfoDatabase = .unreadable
            }
        }
        if let slot = try sql.slotStatus(named: settings.slotName) {
            observed.slot = FailoverServer.Slot(failover: slot.failover == true, synced: slot.synced == true,
                                                temporary: slot.temporary, invalidationReason: slot.invalidationReason)
        }
        return observed
    }
}
