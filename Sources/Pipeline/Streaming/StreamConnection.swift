import Foundation
import Logging
import PGOutput
import PGReplication
import SwallowCore

/// Opening a replication stream: the walsender connection, the publication and the slot, each checked
/// (a slot or publication that vanished after the first stream is data loss, never re-created silently).
extension ReplicationPipeline {
    /// Connects, checks the server, publication and slot, and starts replication from the confirmed
    /// position. (The connection closes itself when dropped on an error path.)
    func openStream(progress: inout StreamProgress) throws(PipelineError) -> (PostgresConnection, LSN) {
        let firstSession = !progress.slotEstablished
        let (connection, system) = try connectWalsender(systemID: &progress.systemID)

        // Like the slot, the publication may be created only when Swallow starts: decoding the changes
        // made while it was missing fails even after it is re-created (PostgreSQL reads each change with
        // the catalog of its time), and one re-created with other tables would silently skip changes.
        do {
            try preparePublication(connection, mayCreate: firstSession)
        } catch {
            if error.code == .publicationMissing && !firstSession {
                throw .publicationLost(publication: settings.publicationName, slot: settings.slotName,
                                       confirmed: confirmedLSN, cause: error)
            }
            throw .postgres(error)
        }
        // Before the slot is used or created: is it the one Swallow streamed from (after a failover,
        // the promoted server's copy)? A lost slot is never created anew here.
        let found: SlotStatus?
        do { found = try connection.slotStatus(named: settings.slotName) } catch { throw .postgres(error) }
        let (continuity, history) = try judgeSlot(connection, system: system, slot: found, recoverable: false)
        let slot: (position: LSN, created: Bool)
        do {
            // A slot may be created only when Swallow starts: one that disappears while it runs would
            // otherwise be re-created at the current position, silently skipping everything in between.
            let mayCreate = settings.createSlot && firstSession
            if mayCreate {
                logger.info("checking replication slot (creating one waits for transactions in progress to end)",
                            metadata: ["slot": "\(settings.slotName)"])
            }
            slot = try creatingSlot(mayCreate: mayCreate) { () throws(ReplicationError) in
                try connection.prepareSlot(named: settings.slotName, create: mayCreate, failover: settings.slotFailover)
            }
        } catch {
            if error.code == .slotMissing && !firstSession,
               let lost = SlotContinuity.lost(.dropped).failure(slot: settings.slotName, server: connection.serverAddress,
                                                                  stateFile: lineageStore.path) {
                throw lost.prefixed("changes after \(confirmedLSN) may not be in Kafka")
            }
            if error.code == .slotInvalidated && !firstSession {
                throw PipelineError(code: .slotLost,
                                    message: "replication slot \"\(settings.slotName)\" was invalidated while Swallow was streaming (\(error.message)), so changes after \(confirmedLSN) are gone. Run `swallow slot drop --yes` and start Swallow again to snapshot the tables, or set snapshot.mode: when_needed",
                                    isRetriable: false)
            }
            throw .postgres(error)
        }
        logger.info(slot.created ? "created replication slot" : "reusing replication slot",
                    metadata: ["slot": "\(settings.slotName)", "position": "\(slot.position)",
                               "server_position": "\(system.walPosition)", "timeline": "\(system.timeline)"])

        if case .continues(let promotion?) = continuity {
            logger.notice("the server was promoted since Swallow last streamed, and its copy of the slot continues the stream",
                          metadata: ["slot": "\(settings.slotName)", "server": "\(connection.serverAddress)",
                                     "timeline": "\(promotion.fromTimeline) -> \(promotion.toTimeline)",
                                     "switch_point": "\(promotion.switchPoint.map { "\($0)" } ?? "unknown")", "slot_position": "\(slot.position)"])
        }
        establishLineage(system: system, history: history)

        // The first stream of a run takes the slot's position when it is later than the one confirmed;
        // after a promotion, a position confirmed past the new timeline's start goes back to the slot's.
        let adopt = !progress.positionAdopted
        let resumeFrom = adopt ? max(confirmedLSN, slot.position) : confirmedLSN
        let confirmed = continuity.streamStart(confirmed: resumeFrom, slotPosition: slot.position)
        if confirmed != resumeFrom {
            logger.notice("the position confirmed on the old primary lies past the promoted server's switch point; streaming from its copy of the slot instead (changes in between are sent again)",
                          metadata: ["slot": "\(settings.slotName)", "confirmed_lsn": "\(resumeFrom)", "from": "\(confirmed)"])
        }
        if confirmed != confirmedLSN { deliveryState.restartStream(rewindingTo: confirmed) }
        progress.slotEstablished = true
        progress.positionAdopted = true
        if slot.position > confirmed {
            // We never confirm past our own position, so somebody else advanced the slot.
            throw PipelineError(code: .postgres,
                                message: "replication slot \"\(settings.slotName)\" was advanced to \(slot.position) by another client while Swallow had confirmed only \(confirmed); the changes in between were not delivered. Give Swallow a slot of its own, then re-snapshot",
                                isRetriable: false)
        }
        do {
            try connection.startLogicalReplication(slot: settings.slotName, from: confirmed,
                                                   publication: settings.publicationName)
        } catch {
            throw .postgres(error)
        }
        return (connection, confirmed)
    }

    /// A walsender connection to the configured server, checked to be the same cluster as before.
    func connectWalsender(systemID: inout String?) throws(PipelineError) -> (PostgresConnection, SystemIdentification) {
        logger.info("connecting to PostgreSQL", metadata: ["target": "\(settings.connection.redactedDescription)"])
        let connection: PostgresConnection
        let system: SystemIdentification
        do {
            connection = try PostgresConnection(settings.connection, replication: true)
            system = try connection.identifySystem()
        } catch {
            throw .postgres(error)
        }
        if let known = systemID, known != system.systemID {
            throw PipelineError(code: .postgres,
                                message: "the server's system identifier changed from \(known) to \(system.systemID) (a different cluster, e.g. after a failover); its slot does not continue this stream. Check what happened, then restart Swallow (a new snapshot may be needed)",
                                isRetriable: false)
        }
        systemID = system.systemID
        readsFromStandby.store(try checkReadServer(connection, system: system), ordering: .relaxed)
        return (connection, system)
    }

    /// Checks the publication, and creates it when `publication.create` and `mayCreate` allow.
    func preparePublication(_ connection: PostgresConnection, mayCreate: Bool = true) throws(ReplicationError) {
        var tables = settings.tables
        if let signal = settings.signalTable {
            if try !connection.tableExists(signal) {
                throw ReplicationError(
                    code: .tableMissing, message: "the signal table \(signal) (snapshot.signal_table) does not exist",
                    hint: "CREATE TABLE \(signal) (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048)), or remove snapshot.signal_table")
            }
            // Signals arrive through the stream, so the publication must carry the signal table.
            if !tables.isEmpty && !tables.contains(signal) { tables.append(signal) }
        }
        try requirePublicationOnStandby(connection, tables: tables)
        let definition = settings.publicationDefinition
        // Partitioned tables must arrive under the names `tables` lists: checked before a publication is
        // made, with the setting it would get, or with the existing one's.
        let existing = try connection.execute("SELECT pubviaroot FROM pg_catalog.pg_publication WHERE pubname = \(try connection.literal(settings.publicationName))")
        let viaRoot = existing.rows.isEmpty ? definition.publishViaPartitionRoot : existing[0, "pubviaroot"] == "t"
        if let problem = try connection.partitionCaptureProblems(tables: settings.tables, publication: settings.publicationName,
                                                                 viaRoot: viaRoot).first {
            throw problem
        }
        if try connection.preparePublication(named: settings.publicationName, tables: tables,
                                             create: settings.createPublication && mayCreate, definition: definition) {
            logger.info("created publication", metadata: ["publication": "\(settings.publicationName)",
                "tables": "\(settings.tables.isEmpty ? "all" : settings.tables.map(\.description).joined(separator: ","))"])
        } else if !settings.tables.isEmpty {
            // Swallow never alters an existing publication; what it publishes is what the stream and the
            // snapshots send (`swallow check` reports the same). Only a warning: comparing needs a
            // rolled-back CREATE PUBLICATION, which a standby or a role without CREATE cannot run.
            do {
                let configured = try connection.checkPublicationDefinition(tables: tables, definition: definition)
                for line in try connection.publicationDifferences(named: settings.publicationName, tables: tables,
                                                                  definition: definition, configured: configured) {
                    logger.warning("the existing publication differs from the configuration; Swallow does not alter it, and sends what it publishes",
                                   metadata: ["difference": "\(line)"])
                }
            } catch where error.sqlState == "25006" || error.sqlState == "42501" {
                logger.warning("cannot compare the existing publication with publication.row_filters and publication.columns",
                               metadata: ["cause": "\(error.message)"])
            }
        }
    }
}
