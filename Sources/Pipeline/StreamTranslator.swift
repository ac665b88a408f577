import ChangeEvent
import Kafka
import PGOutput
import PGReplication
import SwallowConfig

/// One Kafka record to produce.
public struct OutgoingRecord: Sendable, Equatable {
    public var topic: String
    public var key: [UInt8]?
    /// nil is a tombstone.
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
}

/// What the pipeline must do for a decoded message, in order.
public enum StreamAction: Sendable, Equatable {
    /// A transaction (or a non-transactional message) starts: its records belong together.
    case openUnit
    case produce(OutgoingRecord)
    /// The unit ends; once all its records are acknowledged the slot may be confirmed up to the LSN.
    case closeUnit(LSN)
}

/// Turns pgoutput messages into Kafka records: pure apart from the caller-visible relation cache, so the
/// translation of a whole stream is testable without Postgres or Kafka.
public struct StreamTranslator: Sendable {
    struct CapturedRelation: Sendable {
        var schema: TableSchema
        var topic: String
        var isCaptured: Bool
    }

    struct OpenTransaction {
        var xid: UInt32
        var commitTimeMicros: Int64
    }

    public let topicPrefix: String
    public let database: String
    public let connectorVersion: String
    private let capturedTables: Set<QualifiedTableName>
    private let encoder: ChangeEventEncoder
    /// Relation messages by OID, as the server last described them. The server sends a Relation before
    /// the first change of a table in each session and again whenever the table's shape changes.
    private var relations: [UInt32: CapturedRelation] = [:]
    private var transaction: OpenTransaction?
    /// Primary-key columns of REPLICA IDENTITY FULL tables, by relation OID, supplied by the caller
    /// from the catalog (the decoder itself does no I/O).
    private var keyColumnsForFullIdentity: [UInt32: Set<String>] = [:]
    /// Debezium's `sequence` pairs the previous commit's LSN with the event's own.
    private var lastCommitLSN: LSN?
    public let messageTopic: String

    private let options: SwallowConfiguration.Events
    /// Whether a logical decoding message prefix passes the include/exclude lists, by prefix: the
    /// patterns are compiled once per distinct prefix (there are few).
    private var prefixDecisions: [String: Bool] = [:]

    public init(topicPrefix: String, database: String, capturedTables: [QualifiedTableName], connectorVersion: String,
                options: SwallowConfiguration.Events = .init()) {
        self.topicPrefix = topicPrefix
        self.database = database
        self.capturedTables = Set(capturedTables)
        self.connectorVersion = connectorVersion
        self.options = options
        self.encoder = ChangeEventEncoder(options: EncoderOptions(toastPlaceholder: options.unavailableValuePlaceholder))
        self.messageTopic = "\(topicPrefix).message"
    }

    private func skips(_ operation: SwallowConfiguration.Events.Operation) -> Bool {
        options.skippedOperations.contains(operation)
    }

    /// Debezium's message.prefix.include.list / exclude.list: whole-prefix regular expression matches.
    private mutating func publishesMessages(withPrefix prefix: String) -> Bool {
        if let known = prefixDecisions[prefix] { return known }
        func matchesAny(_ patterns: [String]) -> Bool {
            patterns.contains { pattern in (try? Regex(pattern).wholeMatch(in: prefix)) != nil }
        }
        var decision = true
        if let include = options.messagePrefixIncludeList { decision = matchesAny(include) }
        if let exclude = options.messagePrefixExcludeList { decision = !matchesAny(exclude) }
        prefixDecisions[prefix] = decision
        return decision
    }

    /// Supplies the primary-key columns of a REPLICA IDENTITY FULL table; call before translating its
    /// Relation message.
    public mutating func setKeyColumnsForFullIdentity(relationID: UInt32, columns: Set<String>) {
        keyColumnsForFullIdentity[relationID] = columns
    }

    /// Whether a transaction is open (between Begin and Commit).
    public var isInTransaction: Bool { transaction != nil }

    /// Appends the actions for `message`, which the server sent at `walStart`, to `actions`.
    public mutating func translate(_ message: PGOutputMessage, walStart: LSN, eventTimeMillis: Int64,
                                   into actions: inout [StreamAction]) throws(PipelineError) {
        switch message {
        case .begin(let begin):
            guard transaction == nil else { throw protocolViolation("Begin inside an open transaction") }
            transaction = OpenTransaction(xid: begin.xid,
                                          commitTimeMicros: PostgresTime.unixMicros(fromPostgresMicros: begin.commitTime))
            actions.append(.openUnit)

        case .commit(let commit):
            guard transaction != nil else { throw protocolViolation("Commit without Begin") }
            transaction = nil
            lastCommitLSN = commit.commitLSN
            actions.append(.closeUnit(commit.endLSN))

        case .origin, .type:
            // Origins name where a replicated change came from; Type messages name non-built-in types,
            // which the encoder passes through as text until full type support arrives.
            break

        case .relation(let relation):
            let table = QualifiedTableName(schema: relation.namespace, table: relation.name)
            // With REPLICA IDENTITY FULL pgoutput flags every column as identity; the Kafka key is the
            // primary key, as in Debezium, which the caller looked up in the catalog (none: null key).
            let fullIdentityKey = relation.replicaIdentity == .full ? (keyColumnsForFullIdentity[relation.relationID] ?? []) : nil
            let columns = relation.columns.map {
                ColumnSchema(name: $0.name, typeOID: $0.typeOID, typeModifier: $0.typeModifier,
                             isKey: fullIdentityKey.map { [name = $0.name] in $0.contains(name) } ?? $0.isKey)
            }
            relations[relation.relationID] = CapturedRelation(
                schema: TableSchema(schema: relation.namespace, table: relation.name, columns: columns),
                topic: "\(topicPrefix).\(relation.namespace).\(relation.name)",
                isCaptured: capturedTables.isEmpty || capturedTables.contains(table))

        case .insert(let insert):
            guard let relation = try capturedRelation(insert.relationID, "Insert"), !skips(.create) else { return }
            let after = try rowImage(insert.newTuple, relation, "Insert")
            let source = try sourceInfo(walStart)
            let key = try encodeKey(relation, after)
            let value = try encodeRowChange(.create, relation, before: nil, after: after, source, eventTimeMillis)
            actions.append(.produce(OutgoingRecord(topic: relation.topic, key: key, value: value, headers: [])))

        case .update(let update):
            guard let relation = try capturedRelation(update.relationID, "Update"), !skips(.update) else { return }
            let before = try update.oldTuple.map { tuple throws(PipelineError) in try rowImage(tuple, relation, "Update") }
            let after = try rowImage(update.newTuple, relation, "Update")
            let source = try sourceInfo(walStart)
            let newKey = try encodeKey(relation, after)
            // The server sends the old key only when it changed (or the full old row for REPLICA
            // IDENTITY FULL). A changed key moves the row to another Kafka key: like Debezium, delete the
            // old key (with its tombstone) and create the new one, so per-key consumers stay correct.
            if let before, let oldKey = try encodeKey(relation, before), let newKey, oldKey != newKey {
                let delete = try encodeRowChange(.delete, relation, before: before, after: nil, source, eventTimeMillis)
                let moved = [KafkaHeader(key: "__debezium.newkey", value: newKey)]
                actions.append(.produce(OutgoingRecord(topic: relation.topic, key: oldKey, value: delete, headers: moved)))
                if options.tombstonesOnDelete {
                    actions.append(.produce(OutgoingRecord(topic: relation.topic, key: oldKey, value: nil, headers: moved)))
                }
                let create = try encodeRowChange(.create, relation, before: nil, after: after, source, eventTimeMillis)
                actions.append(.produce(OutgoingRecord(topic: relation.topic, key: newKey, value: create,
                                                       headers: [KafkaHeader(key: "__debezium.oldkey", value: oldKey)])))
            } else {
                let value = try encodeRowChange(.update, relation, before: before, after: after, source, eventTimeMillis)
                actions.append(.produce(OutgoingRecord(topic: relation.topic, key: newKey, value: value, headers: [])))
            }

        case .delete(let delete):
            guard let relation = try capturedRelation(delete.relationID, "Delete"), !skips(.delete) else { return }
            let before = try rowImage(delete.oldTuple, relation, "Delete")
            let source = try sourceInfo(walStart)
            let key = try encodeKey(relation, before)
            let value = try encodeRowChange(.delete, relation, before: before, after: nil, source, eventTimeMillis)
            actions.append(.produce(OutgoingRecord(topic: relation.topic, key: key, value: value, headers: [])))
            // tombstones.on.delete: a null value lets log compaction drop the key.
            if key != nil, options.tombstonesOnDelete {
                actions.append(.produce(OutgoingRecord(topic: relation.topic, key: key, value: nil, headers: [])))
            }

        case .truncate(let truncate):
            // Debezium skips truncates unless skipped.operations leaves them out.
            guard !skips(.truncate) else { return }
            let source = try sourceInfo(walStart)
            for relationID in truncate.relationIDs {
                guard let relation = try capturedRelation(relationID, "Truncate") else { continue }
                let value = encoder.encodeTruncate(table: relation.schema, source: source,
                                                   eventTimeMillis: eventTimeMillis)
                actions.append(.produce(OutgoingRecord(topic: relation.topic, key: nil, value: value, headers: [])))
            }

        case .message(let message):
            if message.isTransactional && transaction == nil {
                throw protocolViolation("a transactional logical decoding message outside a transaction")
            }
            guard publishesMessages(withPrefix: message.prefix) else { return }
            // A non-transactional message stands alone: it is its own unit, confirmed at its LSN.
            let standalone = !message.isTransactional && transaction == nil
            if standalone { actions.append(.openUnit) }
            let source = SourceInfo(connectorVersion: connectorVersion, serverName: topicPrefix, database: database,
                                    commitTimeMicros: transaction?.commitTimeMicros ?? eventTimeMillis * 1000,
                                    transactionID: message.isTransactional ? transaction?.xid : nil,
                                    lsn: message.lsn.value, lastCommitLSN: lastCommitLSN?.value)
            let value = encoder.encodeLogicalMessage(prefix: message.prefix, content: message.content,
                                                     isTransactional: message.isTransactional, source: source,
                                                     eventTimeMillis: eventTimeMillis)
            actions.append(.produce(OutgoingRecord(topic: messageTopic, key: encoder.encodeLogicalMessageKey(prefix: message.prefix),
                                                   value: value, headers: [])))
            if standalone { actions.append(.closeUnit(message.lsn)) }
        }
    }

    // MARK: Helpers

    private func capturedRelation(_ id: UInt32, _ messageName: String) throws(PipelineError) -> CapturedRelation? {
        guard let relation = relations[id] else {
            throw protocolViolation("\(messageName) for relation OID \(id), which no Relation message described")
        }
        return relation.isCaptured ? relation : nil
    }

    private func rowImage(_ tuple: TupleData, _ relation: CapturedRelation, _ messageName: String) throws(PipelineError) -> [ColumnValue] {
        guard tuple.columns.count == relation.schema.columns.count else {
            throw protocolViolation("\(messageName) for \(relation.schema.schema).\(relation.schema.table) has \(tuple.columns.count) columns, its Relation message \(relation.schema.columns.count)")
        }
        var values: [ColumnValue] = []
        values.reserveCapacity(tuple.columns.count)
        for (index, column) in tuple.columns.enumerated() {
            switch column {
            case .null: values.append(.null)
            case .unchangedToast: values.append(.unchangedToast)
            case .text(let bytes): values.append(.text(bytes))
            case .binary:
                // We never ask for binary (proto_version 1 has no `binary` option), so this is a protocol error.
                throw protocolViolation("\(messageName) column \(relation.schema.columns[index].name) of \(relation.schema.schema).\(relation.schema.table) arrived in binary format")
            }
        }
        return values
    }

    private func sourceInfo(_ walStart: LSN) throws(PipelineError) -> SourceInfo {
        guard let transaction else { throw protocolViolation("a row change outside a transaction") }
        return SourceInfo(connectorVersion: connectorVersion, serverName: topicPrefix, database: database,
                          commitTimeMicros: transaction.commitTimeMicros, transactionID: transaction.xid,
                          lsn: walStart.value, lastCommitLSN: lastCommitLSN?.value)
    }

    private func encodeKey(_ relation: CapturedRelation, _ row: [ColumnValue]) throws(PipelineError) -> [UInt8]? {
        do { return try encoder.encodeKey(table: relation.schema, row: row) } catch { throw .encoding(error) }
    }

    private func encodeRowChange(_ op: Operation, _ relation: CapturedRelation, before: [ColumnValue]?, after: [ColumnValue]?,
                                 _ source: SourceInfo, _ eventTimeMillis: Int64) throws(PipelineError) -> [UInt8] {
        do {
            return try encoder.encodeRowChange(op: op, table: relation.schema, before: before, after: after,
                                               source: source, eventTimeMillis: eventTimeMillis)
        } catch { throw .encoding(error) }
    }

    private func protocolViolation(_ what: String) -> PipelineError {
        PipelineError(code: .protocolViolation,
                      message: "replication stream out of order: \(what); Swallow stops rather than guess (nothing after the last confirmed position is lost). Report this with the PostgreSQL version.",
                      isRetriable: false)
    }
}
