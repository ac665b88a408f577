import Foundation
import PGOutput
import SwallowConfig

/// Where a server's WAL came from: for each timeline its current one descends from, the position at
/// which that timeline ended and the next began (the server's `pg_wal/<timeline>.history`, which the
/// `TIMELINE_HISTORY` replication command sends). A promoted standby keeps the primary's system
/// identifier but starts a new timeline at the end of the WAL it had received: what the old primary
/// wrote past that point never existed on it.
public struct TimelineHistory: Sendable, Equatable {
    /// A timeline that ended, and where.
    public struct Ancestor: Sendable, Equatable {
        public var timeline: Int
        /// The first position that is not on `timeline` (the next timeline starts here).
        public var end: LSN

        public init(timeline: Int, end: LSN) {
            self.timeline = timeline
            self.end = end
        }
    }

    /// The timeline this is the history of.
    public var timeline: Int
    /// Its ancestors, oldest first; empty for timeline 1.
    public var ancestors: [Ancestor]

    public init(timeline: Int, ancestors: [Ancestor] = []) {
        self.timeline = timeline
        self.ancestors = ancestors
    }

    /// Reads a history file: one line per ancestor, `<timeline> <tab> <end position> <tab> <reason>`,
    /// blank lines and `#` comments allowed (as PostgreSQL's `readTimeLineHistory` reads it).
    public init(timeline: Int, parsing text: String) throws(PipelineError) {
        var ancestors: [Ancestor] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" })
            let previous = ancestors.last?.timeline ?? 0
            guard fields.count >= 2, let parent = Int(fields[0]), let end = LSN(string: String(fields[1])),
                  (previous + 1..<timeline).contains(parent) else {
                throw PipelineError(code: .protocolViolation,
                                    message: "the server's history of timeline \(timeline) has a line that is not `<timeline> <position> <reason>` in ascending timeline order: \(line)",
                                    isRetriable: false)
            }
            ancestors.append(Ancestor(timeline: parent, end: end))
        }
        self.init(timeline: timeline, ancestors: ancestors)
    }

    /// Where this timeline began: the end of its parent; nil for a first timeline.
    public var start: LSN? { ancestors.last?.end }
}

/// What Swallow knows of the stream it delivered from its slot: the cluster and database, the timeline
/// of the server it last streamed from (and where that timeline began), and how far into the WAL the
/// records it handed to Kafka reach. A run keeps it in memory; `<state_dir>/stream-<slot>.json` keeps it
/// across runs. It is the evidence that the slot existed: without it, a slot missing after a promotion
/// looks like a first start, and creating the slot anew would leave a gap.
public struct StreamLineage: Codable, Equatable, Sendable {
    public var version = 1
    public var slot: String
    public var systemID: String
    public var database: String
    /// The timeline of the server Swallow last streamed from (or created the slot on).
    public var timeline: Int
    /// Where `timeline` began on that server (its history's last switch); nil for a first timeline.
    public var timelineStart: LSN?
    /// The highest commit position (of a transaction, or of a message outside one) of which Swallow
    /// handed a record to Kafka; 0/0 before any. The file holds at least that much: it is saved when a
    /// stream starts and stops, and every few seconds in between.
    public var producedThrough: LSN
    public var updatedAt: String

    public init(slot: String, systemID: String, database: String, timeline: Int, timelineStart: LSN?,
                producedThrough: LSN = .invalid, updatedAt: Date = Date()) {
        self.slot = slot
        self.systemID = systemID
        self.database = database
        self.timeline = timeline
        self.timelineStart = timelineStart
        self.producedThrough = producedThrough
        self.updatedAt = ISO8601DateFormatter().string(from: updatedAt)
    }

    enum CodingKeys: String, CodingKey {
        case version, slot, database, timeline
        case systemID = "system_id"
        case timelineStart = "timeline_start"
        case producedThrough = "produced_through"
        case updatedAt = "updated_at"
    }

    // Positions in PostgreSQL's text form, as people read them in logs and `pg_replication_slots`.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func position(_ key: CodingKeys) throws -> LSN? {
            guard let text = try container.decodeIfPresent(String.self, forKey: key) else { return nil }
            guard let lsn = LSN(string: text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "\(text) is not a WAL position")
            }
            return lsn
        }
        version = try container.decode(Int.self, forKey: .version)
        slot = try container.decode(String.self, forKey: .slot)
        systemID = try container.decode(String.self, forKey: .systemID)
        database = try container.decode(String.self, forKey: .database)
        timeline = try container.decode(Int.self, forKey: .timeline)
        timelineStart = try position(.timelineStart)
        guard let produced = try position(.producedThrough) else {
            throw DecodingError.keyNotFound(CodingKeys.producedThrough, .init(codingPath: [], debugDescription: "no produced_through"))
        }
        producedThrough = produced
        updatedAt = try container.decode(String.self, forKey: .updatedAt)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(slot, forKey: .slot)
        try container.encode(systemID, forKey: .systemID)
        try container.encode(database, forKey: .database)
        try container.encode(timeline, forKey: .timeline)
        try container.encode(timelineStart?.description, forKey: .timelineStart)
        try container.encode(producedThrough.description, forKey: .producedThrough)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// Whether the slot on the server Swallow connects to continues the stream it delivered, judged from the
/// lineage (`StreamLineage`: where it delivered from, how far), the server's identity and timeline
/// history, and the slot the server has. Decided before a slot is used or created, at every start and
/// reconnect.
///
/// A server on the lineage's timeline (that began at the same point) is the one Swallow streamed from, or
/// its crash-restarted self. A server on a later timeline that descends from it was promoted (or
/// restored): its WAL agrees with the old timeline up to the switch point and differs after. So:
/// - records Swallow produced from a commit at or past the switch point describe transactions the server
///   does not have (the standby had not received them): `diverged`;
/// - a slot missing on it, or one whose position lies past the switch point (created there afterwards),
///   no longer holds the changes Swallow had not confirmed: `lost`;
/// - otherwise its slot is the synchronized copy (a failover slot) and continues the stream, repeating at
///   most what the synchronization lagged: `continues`.
public enum SlotContinuity: Sendable, Equatable {
    /// A promotion (or restore) between the stream Swallow delivered and this server.
    public struct Promotion: Sendable, Equatable {
        /// The timeline Swallow streamed from, and the server's.
        public var fromTimeline: Int
        public var toTimeline: Int
        /// Where the server's history left `fromTimeline`: what the old timeline holds from here on
        /// never existed on this server. nil when the server would not say (`TIMELINE_HISTORY` failed).
        public var switchPoint: LSN?

        public init(fromTimeline: Int, toTimeline: Int, switchPoint: LSN?) {
            self.fromTimeline = fromTimeline
            self.toTimeline = toTimeline
            self.switchPoint = switchPoint
        }
    }

    /// How the slot went missing.
    public enum Loss: Sendable, Equatable {
        /// Same server history: the slot was dropped.
        case dropped
        /// The server was promoted and has no copy of the slot.
        case notOnPromotedServer(Promotion)
        /// The server was promoted, and its slot of that name is at `position`, past the switch point:
        /// it was created (or advanced) there afterwards, it is not a copy of Swallow's.
        case replacedAfterPromotion(Promotion, position: LSN)
    }

    /// What Swallow knows of the server it connects to.
    public struct Server: Sendable, Equatable {
        public var systemID: String
        public var database: String
        public var timeline: Int
        /// Where the timeline came from; nil when the server would not say (a service without
        /// `TIMELINE_HISTORY`): then only the timeline numbers are compared.
        public var history: TimelineHistory?
        /// The slot's confirmed position when the slot exists (0/0 if it has none); nil when it does not.
        public var slotPosition: LSN?

        public init(systemID: String, database: String, timeline: Int, history: TimelineHistory?, slotPosition: LSN?) {
            self.systemID = systemID
            self.database = database
            self.timeline = timeline
            self.history = history
            self.slotPosition = slotPosition
        }
    }

    /// Nothing is known of a stream from this slot on this cluster and database: a first start, or one
    /// after `swallow slot drop`. The slot is prepared as configured.
    case firstUse
    /// The slot continues the stream; `promotion` when the server was promoted since Swallow streamed
    /// (the slot is the synchronized copy).
    case continues(promotion: Promotion?)
    /// The slot Swallow streamed from is gone: changes after the position it had confirmed are not in
    /// Kafka and cannot be read any more.
    case lost(Loss)
    /// Kafka holds records of changes the server does not have: Swallow delivered up to commit position
    /// `producedThrough` on `fromTimeline`, and the server left that timeline at `switchPoint` (nil: the
    /// server's history does not contain that timeline as Swallow knew it).
    case diverged(fromTimeline: Int, toTimeline: Int, switchPoint: LSN?, producedThrough: LSN)

    public init(lineage: StreamLineage?, server: Server) {
        guard let lineage, lineage.systemID == server.systemID, lineage.database == server.database else {
            self = .firstUse
            return
        }
        let produced = lineage.producedThrough
        let timeline = server.timeline
        // Where the lineage's timeline began on this server, when the server says and the lineage knows
        // (a lineage saved where the history was unknown has none past timeline 1).
        func sameStart(_ start: LSN?) -> Bool { lineage.timelineStart == nil && lineage.timeline > 1 || lineage.timelineStart == start }
        var promotion: Promotion?
        if lineage.timeline == timeline {
            // Two standbys promoted apart both reach the next timeline number: where it began tells them apart.
            if let history = server.history, !sameStart(history.start) {
                self = .diverged(fromTimeline: lineage.timeline, toTimeline: timeline, switchPoint: nil, producedThrough: produced)
                return
            }
        } else if let history = server.history {
            guard let index = history.ancestors.firstIndex(where: { $0.timeline == lineage.timeline }),
                  sameStart(index == 0 ? nil : history.ancestors[index - 1].end) else {
                self = .diverged(fromTimeline: lineage.timeline, toTimeline: timeline, switchPoint: nil, producedThrough: produced)
                return
            }
            let switchPoint = history.ancestors[index].end
            promotion = Promotion(fromTimeline: lineage.timeline, toTimeline: timeline, switchPoint: switchPoint)
            // A commit record that starts before the switch point ends at or before it (the switch
            // point is the end of the last record the standby had): one at or past it never existed here.
            if produced >= switchPoint {
                self = .diverged(fromTimeline: lineage.timeline, toTimeline: timeline, switchPoint: switchPoint,
                                 producedThrough: produced)
                return
            }
        } else {
            // Another timeline, and no history to tell how: a promotion, whose switch point is unknown.
            promotion = Promotion(fromTimeline: lineage.timeline, toTimeline: timeline, switchPoint: nil)
        }
        guard let position = server.slotPosition else {
            self = .lost(promotion.map { .notOnPromotedServer($0) } ?? .dropped)
            return
        }
        // A synchronized copy is never ahead of the WAL the standby had, which ends at the switch point.
        if let promotion, let switchPoint = promotion.switchPoint, position > switchPoint {
            self = .lost(.replacedAfterPromotion(promotion, position: position))
            return
        }
        self = .continues(promotion: promotion)
    }

    /// What Swallow does about it.
    public enum Response: Sendable, Equatable {
        /// Use (or, on a first use, prepare) the slot.
        case proceed
        /// Create the slot anew and snapshot the tables (`snapshot.mode: when_needed`).
        case snapshotAgain
        /// Stop with `failure(...)`.
        case stop
    }

    /// A lost slot is snapshotted again only with `snapshot.mode: when_needed`, as when it is lost while
    /// streaming (`RetryDecision`); diverged history always stops: a new snapshot would not take the
    /// records of changes the server does not have out of Kafka.
    public func response(snapshotMode: SwallowConfiguration.Snapshot.Mode) -> Response {
        switch self {
        case .firstUse, .continues: .proceed
        case .lost: snapshotMode == .whenNeeded ? .snapshotAgain : .stop
        case .diverged: .stop
        }
    }

    /// Where a stream continues, given the position this run confirmed (`confirmed`) and the slot's
    /// (`slotPosition`). After a promotion, a position Swallow confirmed on the old primary may lie past
    /// the switch point (confirmed from the server's WAL end while no change was in flight, with nothing
    /// produced past it): asking the promoted server for it would skip the new timeline's changes up to
    /// there, so the stream starts from the slot's copy instead, repeating what the copy lagged.
    /// Without the switch point, any position past the slot's goes back to it.
    public func streamStart(confirmed: LSN, slotPosition: LSN) -> LSN {
        guard case .continues(let promotion?) = self, confirmed > promotion.switchPoint ?? slotPosition else { return confirmed }
        return slotPosition
    }

    /// The error for a lost slot or diverged history, naming the cause and the fix; nil when the slot
    /// continues the stream (or is used for the first time). Swallow stops with it when `response` says
    /// so; a lost slot found while streaming ends the stream with it, which `RetryDecision` turns into a
    /// new snapshot under `snapshot.mode: when_needed`. `server`: where Swallow connected; `stateFile`:
    /// the lineage's file.
    public func failure(slot: String, server: String, stateFile: String) -> PipelineError? {
        switch self {
        case .firstUse, .continues:
            return nil
        case .lost(let loss):
            let cause: String
            switch loss {
            case .dropped:
                cause = "replication slot \"\(slot)\" is missing on \(server), although Swallow streamed from it on this cluster: it was dropped"
            case .notOnPromotedServer(let promotion):
                cause = "replication slot \"\(slot)\" is missing on the promoted server \(server) (timeline \(promotion.toTimeline), which left timeline \(promotion.fromTimeline)\(promotion.switchPoint.map { " at \($0)" } ?? "")): it was not synchronized to this standby before the promotion. Failover slots need PostgreSQL 17 or later with slot.failover: true, and on the standby sync_replication_slots = on, hot_standby_feedback = on, primary_slot_name and a dbname in primary_conninfo"
            case .replacedAfterPromotion(let promotion, let position):
                cause = "replication slot \"\(slot)\" on the promoted server \(server) is at \(position), past the point \(promotion.switchPoint.map { "\($0)" } ?? "?") where its timeline \(promotion.toTimeline) left timeline \(promotion.fromTimeline): it was created there after the promotion, not synchronized from the old primary"
            }
            return PipelineError(
                code: .slotLost,
                message: "\(cause). The changes after the position Swallow had confirmed are not in Kafka and the server no longer keeps them for Swallow; Swallow does not create the slot anew at the current position, which would skip them. Fix: set snapshot.mode: when_needed to have Swallow create the slot and snapshot the tables again, or run `swallow slot drop --yes` (it drops a slot left by that name and forgets Swallow's record of the old one, \(stateFile)) and start Swallow again (snapshot.mode initial snapshots the tables; no_data streams from the new slot, leaving the gap) (docs/high-availability.md)",
                isRetriable: false)
        case .diverged(let from, let to, let switchPoint, let produced):
            let cause: String
            if let switchPoint {
                cause = "Kafka holds changes the server \(server) does not have: Swallow sent Kafka changes committed up to \(produced) on timeline \(from), but this server's timeline \(to) left timeline \(from) at \(switchPoint). The standby was promoted without the changes from \(switchPoint) on; Swallow had them from the old primary before the standby did (on PostgreSQL 17 and later, synchronized_standby_slots on the primary, naming the standby's slot, holds changes back from failover slots until the standby has them)"
            } else {
                cause = "the server \(server) is on timeline \(to), whose history does not contain timeline \(from) as Swallow streamed from it (the server forked from it elsewhere, e.g. an old primary brought back, or another standby promoted): the changes Swallow delivered up to \(produced) may not exist on it"
            }
            return PipelineError(
                code: .historyDiverged,
                message: "\(cause). Swallow stops: the records of those changes describe transactions the database no longer has, a new snapshot would not remove them, and with delivery: exactly_once their positions would make Swallow skip new changes at the same positions. Fix: decide what the consumers do with the records past the switch point (their source.lsn is at or after it); with delivery: exactly_once re-create the topics; then run `swallow slot drop --yes` (it forgets Swallow's record of the old stream, \(stateFile)) and start Swallow again to snapshot the tables (docs/high-availability.md)",
                isRetriable: false)
        }
    }
}
