import Avro
import ChangeEvent
import PGOutput
import SwallowConfig

/// Turns pgoutput messages into Kafka records: pure apart from the caller-visible relation cache, so the
/// translation of a whole stream is testable without Postgres or Kafka.
public struct StreamTranslator: Sendable {
    /// A class, not a struct: every event looks its relation up, and copying a `TableSchema` (about
    /// twenty arrays and strings) out of the dictionary would retain and release each of them per event.
    final class CapturedRelation: Sendable {
        let relationID: UInt32
        let schema: TableSchema
        let topic: String
        let isCaptured: Bool
        /// `schema.table`, Debezium's data collection name (counted per event with transaction metadata).
        let dataCollection: String
        /// `events.format: avro`: the shape record keys are written in (nil: JSON keys, or no key).
        let avroKey: AvroShape?
        /// An outbox table (its rows go through the outbox router): checked before the router is asked.
        let isOutbox: Bool

        init(relationID: UInt32, schema: TableSchema, topic: String, isCaptured: Bool, dataCollection: String, isOutbox: Bool) {
            self.relationID = relationID
            self.schema = schema
            self.topic = topic
            self.isCaptured = isCaptured
            self.dataCollection = dataCollection
            avroKey = schema.avro?.key
            self.isOutbox = isOutbox
        }
    }

    struct OpenTransaction {
        var xid: UInt32
        var commitTimeMicros: Int64
        /// provide.transaction.metadata: events so far, and per data collection in first-seen order.
        var eventCount: Int64 = 0
        var tableEventCounts: [(name: String, eventCount: Int64)] = []
        var tableIndexes: [String: Int] = [:]

        /// Counts one more event of data collection `table`, at `lsn`, and returns its transaction block.
        mutating func count(_ table: String, lsn: LSN) -> TransactionBlock {
            eventCount += 1
            let index: Int
            if let known = tableIndexes[table] {
                index = known
            } else {
                index = tableEventCounts.count
                tableIndexes[table] = index
                tableEventCounts.append((table, 0))
            }
            tableEventCounts[index].eventCount += 1
            return TransactionBlock(id: TransactionMetadata.id(xid: xid, lsn: lsn), totalOrder: eventCount,
                                    dataCollectionOrder: tableEventCounts[index].eventCount)
        }
    }

    public let topicPrefix: String
    public let database: String
    public let connectorVersion: String
    private let capturedTables: Set<QualifiedTableName>
    private let tableFilter: NameFilter
    private let columnFilter: NameFilter
    private let messagePrefixFilter: NameFilter
    private let keyColumnOverrides: [(table: NameFilter, columns: [String])]
    /// `events` masking options, in Debezium's order, each with its compiled column expressions.
    private let columnMaskRules: [(columns: NameFilter, rule: ColumnMaskRule)]
    private let encoder: ChangeEventEncoder
    /// Types outside the encoder's built-in table, as the caller read them from the catalog.
    private var types = TypeCatalog()
    /// Key candidates by relation OID, as the caller read them from the catalog.
    private var relationDetails: [UInt32: RelationDetails] = [:]
    /// Relation messages by OID, as the server last described them. The server sends a Relation before
    /// the first change of a table in each session and again whenever the table's shape changes.
    private var relations: [UInt32: CapturedRelation] = [:]
    private var transaction: OpenTransaction?
    /// The replication origin of the last transaction that had one, until the next Begin: Debezium keeps
    /// it in its offset that long, so non-transactional messages in between carry it too.
    private var origin: ReplicationOrigin?
    /// provide.transaction.metadata: the bucket count of Debezium's per-table HashMap, which clearing it
    /// between transactions keeps (it orders `data_collections`).
    private var dataCollectionCapacity = 0
    /// Debezium's context headers (extended.headers.enabled), added to row change records.
    private let contextHeaders: [RecordHeader]
    /// Debezium's `sequence` pairs the previous commit's LSN with the event's own.
    private var lastCommitLSN: LSN?
    public let messageTopic: String
    /// provide.transaction.metadata: BEGIN/END records go here.
    public let transactionTopic: String

    private let options: SwallowConfiguration.Events
    /// Whether a logical decoding message prefix passes the include/exclude lists, by prefix: the
    /// patterns are compiled once per distinct prefix (there are few).
    private var prefixDecisions: [String: Bool] = [:]

    /// What heartbeat messages become.
    private let heartbeat: HeartbeatMessages
    /// `topic_routing`: tables whose topics it matches share another topic.
    private let router: LogicalTableRouter?
    /// The outbox router (`outbox`): rows of outbox tables become routed events instead of change events.
    private var outbox: OutboxRouter?

    public init(topicPrefix: String, database: String, capturedTables: [QualifiedTableName], connectorVersion: String,
                options: SwallowConfiguration.Events = .init(),
                heartbeat: HeartbeatMessages = HeartbeatMessages(slotName: "", records: nil),
                runID: String = ContextHeaders.runID(unixMillis: 0, random: (0, 0)),
                router: LogicalTableRouter? = nil, flatten: FlattenOptions? = nil,
                outbox: SwallowConfiguration.Outbox? = nil) {
        self.heartbeat = heartbeat
        self.router = router
        self.topicPrefix = topicPrefix
        self.database = database
        self.capturedTables = Set(capturedTables)
        self.connectorVersion = connectorVersion
        self.options = options
        self.tableFilter = NameFilter(include: options.tableIncludeList, exclude: options.tableExcludeList, ignoringCase: true)
        self.columnFilter = NameFilter(include: options.columnIncludeList, exclude: options.columnExcludeList, ignoringCase: true)
        self.messagePrefixFilter = NameFilter(include: options.messagePrefixIncludeList, exclude: options.messagePrefixExcludeList, ignoringCase: false)
        self.keyColumnOverrides = options.messageKeyColumns.map { (NameFilter(include: [$0.table], exclude: nil, ignoringCase: true), $0.columns) }
        self.columnMaskRules = options.columnMasks.map { (NameFilter(include: $0.columns, exclude: nil, ignoringCase: true), $0) }
        var encoderOptions = EncoderOptions(events: options, topicPrefix: topicPrefix)
        encoderOptions.flatten = flatten
        self.encoder = ChangeEventEncoder(options: encoderOptions)
        self.contextHeaders = ContextHeaders(enabled: options.extendedHeadersEnabled, topicPrefix: topicPrefix,
                                             runID: runID, encoder: encoder).headers
        self.messageTopic = "\(topicPrefix).message"
        self.outbox = OutboxRouter(settings: outbox, encoder: encoder)
        self.transactionTopic = "\(topicPrefix).transaction"
    }

    /// Debezium's message.prefix.include.list / exclude.list, decided once per distinct prefix (there are few).
    private mutating func publishesMessages(withPrefix prefix: String) -> Bool {
        if let known = prefixDecisions[prefix] { return known }
        let decision = messagePrefixFilter.accepts(prefix)
        prefixDecisions[prefix] = decision
        return decision
    }

    /// Takes a Relation message together with what the catalog says about its table: the only way a
    /// relation reaches the translator, so the catalog's answer cannot arrive after the message it
    /// completes. (An uncaptured table needs no catalog: pass `RelationCatalog()`.)
    public mutating func describe(_ relation: RelationMessage, catalog: RelationCatalog) throws(PipelineError) {
        relationDetails[relation.relationID] = catalog.details
        for info in catalog.types { types.insert(info) }
        try translateRelation(relation)
    }

    /// The type OIDs of a Relation message whose descriptions its `RelationCatalog` must carry (again: a
    /// changed Relation message may follow an `ALTER TYPE`).
    public static func typeOIDsToDescribe(_ relation: RelationMessage) -> [UInt32] {
        Array(Set(relation.columns.map(\.typeOID).filter(TypeCatalog.needsLookup)))
    }

    /// Whether changes of the table a Relation message describes are emitted.
    public func captures(_ relation: RelationMessage) -> Bool {
        captures(QualifiedTableName(schema: relation.namespace, table: relation.name))
    }

    /// Whether changes of `table` are emitted: it is among `tables` (or no list was given) and the
    /// table include/exclude lists let it through.
    public func captures(_ table: QualifiedTableName) -> Bool {
        (capturedTables.isEmpty || capturedTables.contains(table)) && tableFilter.accepts(table.description)
    }

    /// The topic `table`'s events go to: `<topic_prefix>.<schema>.<table>`, with the characters Kafka
    /// refuses replaced as Debezium does (`TopicName`); with `topic_routing`, the topic the router gives a
    /// table it matches.
    public func topic(of table: QualifiedTableName) -> String { route(of: table).topic }

    /// `table`'s topic and, when `topic_routing` routes it, what routing changes in its records.
    private func route(of table: QualifiedTableName) -> (topic: String, routing: TableRouting?) {
        let own = TopicName.ofTable(schema: table.schema, table: table.table, prefix: topicPrefix).name
        guard let route = router?.route(topic: own) else { return (own, nil) }
        return (route.topic, route.routing)
    }

    /// The key columns `events.message.key.columns` sets for `table`; nil when it sets none.
    public func keyColumnOverride(for table: QualifiedTableName) -> [String]? {
        keyColumnOverrides.first { $0.table.accepts(table.description) }?.columns
    }

    /// The column names of relation `relationID` as last described (by the server or, for snapshots, the
    /// catalog); nil when no Relation message described it yet.
    public func columnNames(of relationID: UInt32) -> [String]? {
        relations[relationID]?.schema.columns.map(\.name)
    }

    /// `schema.table` of relation `relationID` as last described; nil when no Relation message described it.
    public func tableName(of relationID: UInt32) -> String? {
        relations[relationID]?.dataCollection
    }

    /// Whether a transaction is open (between Begin and Commit).
    public var isInTransaction: Bool { transaction != nil }

    /// Appends the actions for `message`, which the server sent at `walStart`, to `actions`.
    public mutating func translate(_ message: PGOutputMessage, walStart: LSN, eventTimeMillis: Int64,
                                   into actions: inout [StreamAction]) throws(PipelineError) {
        switch message {
        case .begin(let begin):
            guard transaction == nil else { throw Self.protocolViolation("Begin inside an open transaction") }
            let opened = OpenTransaction(xid: begin.xid,
                                         commitTimeMicros: PostgresTime.unixMicros(fromPostgresMicros: begin.commitTime))
            transaction = opened
            origin = nil
            actions.append(.openUnit)
            // Debezium sends BEGIN as soon as the transaction starts (and END even if nothing was captured).
            if options.provideTransactionMetadata {
                let id = TransactionMetadata.id(xid: opened.xid, lsn: walStart)
                actions.append(.produce(OutgoingRecord(
                    topic: transactionTopic, key: encoder.encodeTransactionKey(id: id),
                    value: encoder.encodeTransactionBegin(id: id, timestampMillis: Self.millis(opened.commitTimeMicros)),
                    headers: [], kind: .transactionMetadata)))
            }

        case .commit(let commit):
            guard let closing = transaction else { throw Self.protocolViolation("Commit without Begin") }
            transaction = nil
            if options.provideTransactionMetadata {
                let id = TransactionMetadata.id(xid: closing.xid, lsn: walStart)
                let order = JavaHashMapKeyOrder(keys: closing.tableEventCounts.map(\.name),
                                                startingCapacity: dataCollectionCapacity)
                dataCollectionCapacity = order.capacity
                actions.append(.produce(OutgoingRecord(
                    topic: transactionTopic, key: encoder.encodeTransactionKey(id: id),
                    value: encoder.encodeTransactionEnd(id: id, eventCount: closing.eventCount,
                                                        dataCollections: order.order.map { closing.tableEventCounts[$0] },
                                                        timestampMillis: Self.millis(closing.commitTimeMicros)),
                    headers: [], kind: .transactionMetadata)))
            }
            lastCommitLSN = commit.commitLSN
            actions.append(.closeUnit(commit.endLSN))

        case .origin(let message):
            // The transaction was applied through a replication origin: its events say which.
            guard transaction != nil else { throw Self.protocolViolation("Origin outside a transaction") }
            origin = ReplicationOrigin(name: message.name, lsn: message.commitLSN.value)

        case .type:
            // Type messages name non-built-in types; the caller describes those from the catalog before
            // the Relation message that uses them.
            break

        case .relation:
            throw PipelineError(code: .protocolViolation,
                                message: "a Relation message reached the translator without its catalog details (use describe(_:catalog:))",
                                isRetriable: false)

        case .insert(let insert):
            guard let relation = try Self.capturedRelation(relations[insert.relationID], insert.relationID, "Insert"), !options.skippedOperations.contains(.create) else { return }
            let after = try Self.rowImage(insert.newTuple, relation, "Insert")
            let source = try eventSource(walStart, relation)
            if relation.isOutbox, let plan = outbox?.plan(of: relation.relationID) {
                actions.append(.produce(try outbox!.route(plan, row: after, headers: contextHeaders, relationID: relation.relationID,
                                                          operation: .create, eventTimeMillis: eventTimeMillis)))
                return
            }
            let key = try Self.encodeKey(encoder, relation, after)
            try Self.appendChange(encoder, &actions, .create, relation, key: key, before: nil, after: after, source, eventTimeMillis,
                             headers: contextHeaders)

        case .update(let update):
            guard let relation = try Self.capturedRelation(relations[update.relationID], update.relationID, "Update"), !options.skippedOperations.contains(.update) else { return }
            if relation.isOutbox, let plan = outbox?.plan(of: relation.relationID) {
                _ = try eventSource(walStart, relation)  // counted in its transaction, as Debezium counts it before the router
                actions.append(try outbox!.update(plan))
                return
            }
            let before = try update.oldTuple.map { tuple throws(PipelineError) in try Self.rowImage(tuple, relation, "Update") }
            let after = try Self.rowImage(update.newTuple, relation, "Update")
            let newKey = try Self.encodeKey(encoder, relation, after)
            // The server sends the old key only when it changed (or the full old row for REPLICA
            // IDENTITY FULL). A changed key moves the row to another Kafka key: like Debezium, delete the
            // old key (with its tombstone) and create the new one, so per-key consumers stay correct.
            if let before, let oldKey = try Self.encodeKey(encoder, relation, before), let newKey, oldKey != newKey {
                // The headers hold the keys as the connector makes them: topic routing leaves headers alone.
                let headerKeys = try movedKeyHeaders(relation, before: before, after: after, oldKey: oldKey, newKey: newKey)
                let moved = [RecordHeader(key: "__debezium.newkey", value: headerKeys.new)] + contextHeaders
                try Self.appendChange(encoder, &actions, .delete, relation, key: oldKey, before: before, after: nil,
                                 try eventSource(walStart, relation), eventTimeMillis, headers: moved)
                if options.tombstonesOnDelete { Self.appendTombstone(encoder, &actions, relation, key: oldKey, headers: moved) }
                try Self.appendChange(encoder, &actions, .create, relation, key: newKey, before: nil, after: after,
                                 try eventSource(walStart, relation), eventTimeMillis,
                                 headers: [RecordHeader(key: "__debezium.oldkey", value: headerKeys.old)] + contextHeaders)
            } else {
                try Self.appendChange(encoder, &actions, .update, relation, key: newKey, before: before, after: after,
                                 try eventSource(walStart, relation), eventTimeMillis, headers: contextHeaders)
            }

        case .delete(let delete):
            guard let relation = try Self.capturedRelation(relations[delete.relationID], delete.relationID, "Delete"), !options.skippedOperations.contains(.delete) else { return }
            if relation.isOutbox {
                _ = try eventSource(walStart, relation)  // Debezium's router drops deletes (and their tombstones)
                return
            }
            let before = try Self.rowImage(delete.oldTuple, relation, "Delete")
            let source = try eventSource(walStart, relation)
            let key = try Self.encodeKey(encoder, relation, before)
            try Self.appendChange(encoder, &actions, .delete, relation, key: key, before: before, after: nil, source, eventTimeMillis,
                             headers: contextHeaders)
            // tombstones.on.delete: a null value lets log compaction drop the key. Debezium writes one
            // after every delete, a keyless table's (null key) too.
            if options.tombstonesOnDelete { Self.appendTombstone(encoder, &actions, relation, key: key, headers: contextHeaders) }

        case .truncate(let truncate):
            // Debezium skips truncates unless skipped.operations leaves them out.
            // Flattened records have no truncates (ExtractNewRecordState drops them).
            guard !options.skippedOperations.contains(.truncate), encoder.options.flatten == nil else { return }
            for relationID in truncate.relationIDs {
                guard let relation = try Self.capturedRelation(relations[relationID], relationID, "Truncate"), !relation.isOutbox else { continue }
                let value = encoder.encodeTruncate(table: relation.schema, source: try eventSource(walStart, relation),
                                                   eventTimeMillis: eventTimeMillis)
                actions.append(.produce(OutgoingRecord(topic: relation.topic, key: nil, value: value, headers: contextHeaders,
                                                       kind: .change(relationID: relation.relationID, operation: .truncate))))
            }

        case .streamAbort(let abort):
            // Swallow asks for pgoutput protocol 1 without `streaming`, so the server sends each transaction
            // whole, after its commit, between Begin and Commit; it never opens a streamed block (the
            // decoder rejects Stream Start, Stop and Commit). A Stream Abort tells the client to discard
            // the changes of transaction `xid` (or of its subtransaction) that it received ahead of the
            // commit: Swallow received none, so there is nothing to undo, nothing to produce and no
            // position to confirm. PostgreSQL 18 has been seen sending one unasked, for a subtransaction
            // it wrongly marked as streamed, when that subtransaction rolls back; the changes Swallow
            // does get are not affected (a rolled-back subtransaction's changes are left out of its
            // transaction's Begin...Commit). Stopping on it would help no one: nothing is wrong with the
            // data, an operator could do nothing about it, and a restart that decodes the same WAL again
            // may meet it again. So it is passed over, with a line in the debug log.
            //
            // It cannot arrive inside Begin...Commit, though: the server decodes a committed transaction
            // in one go, and another transaction's abort at its own WAL record, before or after. One
            // there means the stream is not what Swallow takes it for, and Swallow stops as on any
            // message out of order.
            if let open = transaction {
                throw Self.protocolViolation("Stream Abort of transaction \(abort.xid) (subtransaction \(abort.subtransactionXid)) inside transaction \(open.xid), which was not streamed")
            }
            actions.append(.ignored(reason: "Stream Abort of transaction \(abort.xid) (subtransaction \(abort.subtransactionXid)), which was not streamed: nothing of it was received, so nothing to undo"))

        case .message(let message) where message.prefix == HeartbeatMessages.prefix:
            guard !message.isTransactional, transaction == nil else { return }
            actions.append(.openUnit)
            if let records = heartbeat.records, message.content.elementsEqual(heartbeat.content) {
                actions.append(.produce(records.record(timestampMillis: eventTimeMillis)))
            }
            actions.append(.closeUnit(message.lsn))
        case .message(let message):
            if message.isTransactional && transaction == nil {
                throw Self.protocolViolation("a transactional logical decoding message outside a transaction")
            }
            guard publishesMessages(withPrefix: message.prefix) else { return }
            // A non-transactional message stands alone: it is its own unit, confirmed at its LSN.
            let standalone = !message.isTransactional && transaction == nil
            if standalone { actions.append(.openUnit) }
            var source = SourceInfo(connectorVersion: connectorVersion, serverName: topicPrefix, database: database,
                                    commitTimeMicros: transaction?.commitTimeMicros ?? eventTimeMillis * 1000,
                                    transactionID: message.isTransactional ? transaction?.xid : nil,
                                    lsn: message.lsn.value, lastCommitLSN: lastCommitLSN?.value)
            source.origin = origin
            // Transactional messages are events of their transaction, each a data collection of its own.
            if options.provideTransactionMetadata, message.isTransactional {
                source.transaction = transaction?.count(TransactionMetadata.messageDataCollection(lsn: message.lsn),
                                                        lsn: message.lsn)
            }
            if let outbox, outbox.routesMessages(withPrefix: message.prefix) {
                // The table-less outbox: the message's content is the event (`outbox.message_prefixes`).
                actions.append(.produce(try outbox.routeMessage(prefix: message.prefix, content: message.content,
                                                                eventTimeMillis: eventTimeMillis)))
            } else {
                let value = encoder.encodeLogicalMessage(prefix: message.prefix, content: message.content,
                                                         isTransactional: message.isTransactional, source: source,
                                                         eventTimeMillis: eventTimeMillis)
                actions.append(.produce(OutgoingRecord(topic: messageTopic, key: encoder.encodeLogicalMessageKey(prefix: message.prefix),
                                                       value: value, headers: [], kind: .logicalMessage)))
            }
            if standalone { actions.append(.closeUnit(message.lsn)) }
        }
    }

    private mutating func translateRelation(_ relation: RelationMessage) throws(PipelineError) {
        let qualified = "\(relation.namespace).\(relation.name)"
        let isCaptured = captures(relation)
        let notNull = relationDetails[relation.relationID]?.notNullColumns ?? []
        var columns = relation.columns.map {
            ColumnSchema(name: $0.name, typeOID: $0.typeOID, typeModifier: $0.typeModifier, isKey: $0.isKey,
                         isOptional: !notNull.contains($0.name))
        }
        let keyNames = keyColumnNames(relation, qualified)
        if let keyNames {
            for index in columns.indices { columns[index].isKey = keyNames.contains(columns[index].name) }
        }
        // column.include/exclude.list shape the value; the key keeps its columns so that a table's
        // events stay on their partitions.
        let excluded = Set(columns.filter { !$0.isKey && !columnFilter.accepts("\(qualified).\($0.name)") }.map(\.name))
        var masks: [String: ColumnMaskRule] = [:]
        if !columnMaskRules.isEmpty {
            for column in columns {
                let name = "\(qualified).\(column.name)"
                if let match = columnMaskRules.first(where: { $0.columns.accepts(name) }) { masks[column.name] = match.rule }
            }
        }
        let route = route(of: QualifiedTableName(schema: relation.namespace, table: relation.name))
        let schema = TableSchema(schema: relation.namespace, table: relation.name, columns: columns,
                                 keyColumnNames: keyNames, types: types, options: encoder.options,
                                 excludedColumns: excluded, routing: route.routing, columnMasks: masks)
        if isCaptured, let problem = schema.unsupportedTypeError { throw .encoding(problem) }
        if isCaptured, let problem = schema.maskNotApplicableError { throw .encoding(problem) }
        if isCaptured { try outbox?.describe(relationID: relation.relationID, table: schema) }
        relations[relation.relationID] = CapturedRelation(
            relationID: relation.relationID, schema: schema, topic: route.topic, isCaptured: isCaptured, dataCollection: qualified,
            isOutbox: isCaptured && outbox?.plan(of: relation.relationID) != nil)
    }

    // MARK: Snapshots

    /// The `op: "r"` record of one snapshot row of relation `relationID`, which a Relation message (built
    /// from the catalog for snapshots) has described; nil when the table is not captured. Keys, topics,
    /// filters and conversions are those of streamed changes.
    public func snapshotRecord(relationID: UInt32, row: [ColumnValue], source: SourceInfo,
                               eventTimeMillis: Int64) throws(PipelineError) -> OutgoingRecord? {
        guard let (relation, key) = try snapshotRow(relationID, row) else { return nil }
        if relation.isOutbox, let plan = outbox?.plan(of: relationID) {
            return try outbox!.route(plan, row: row, headers: contextHeaders, relationID: relationID, operation: .read, eventTimeMillis: eventTimeMillis)
        }
        if encoder.options.flatten != nil { return try flattenedSnapshotRecord(relation, key: key, row: row, source, eventTimeMillis) }
        let value = try encodeRowChange(.read, relation, before: nil, after: row, source, eventTimeMillis)
        return snapshotRecord(relation, key: key, value: value)
    }

    /// The `source` block of relation `relationID`'s snapshot records, formatted once: in an initial
    /// snapshot it differs between records only by its marker. Nil when the table is not captured.
    public func snapshotSourceBlock(relationID: UInt32, source: SourceInfo) throws(PipelineError) -> SnapshotSourceBlock? {
        guard let relation = try capturedRelation(relationID, "Snapshot row") else { return nil }
        let avro: [UInt8]?
        do { avro = try encoder.encodeAvroSource(source, table: relation.schema) } catch { throw .encoding(error) }
        return SnapshotSourceBlock(bytes: encoder.encodeSource(source, table: relation.schema), avroBytes: avro, source: source)
    }

    /// `snapshotRecord` with a `source` block from `snapshotSourceBlock`.
    public func snapshotRecord(relationID: UInt32, row: [ColumnValue], sourceBlock: SnapshotSourceBlock,
                        eventTimeMillis: Int64) throws(PipelineError) -> OutgoingRecord? {
        guard let (relation, key) = try snapshotRow(relationID, row) else { return nil }
        if relation.isOutbox, let plan = outbox?.plan(of: relationID) {
            return try outbox!.route(plan, row: row, headers: contextHeaders, relationID: relationID, operation: .read, eventTimeMillis: eventTimeMillis)
        }
        if encoder.options.flatten != nil {
            return try flattenedSnapshotRecord(relation, key: key, row: row, sourceBlock.source, eventTimeMillis)
        }
        let value: [UInt8]
        do {
            if relation.schema.avro != nil, let avroSource = sourceBlock.avroBytes {
                value = try encoder.encodeAvroRowChange(op: .read, table: relation.schema, before: nil, after: row,
                                                        avroSource: avroSource, eventTimeMillis: eventTimeMillis)
            } else {
                value = try encoder.encodeRowChange(op: .read, table: relation.schema, before: nil, after: row,
                                                    sourceBlock: sourceBlock.bytes, eventTimeMillis: eventTimeMillis)
            }
        } catch { throw .encoding(error) }
        return snapshotRecord(relation, key: key, value: value)
    }

    /// A snapshot row's relation (nil when not captured), checked against the row's width, and its key.
    private func snapshotRow(_ relationID: UInt32, _ row: [ColumnValue]) throws(PipelineError) -> (CapturedRelation, key: [UInt8]?)? {
        guard let relation = try capturedRelation(relationID, "Snapshot row") else { return nil }
        guard row.count == relation.schema.columns.count else {
            throw Self.protocolViolation("a snapshot row of \(relation.dataCollection) has \(row.count) columns, the table \(relation.schema.columns.count)")
        }
        return (relation, try encodeKey(relation, row))
    }

    private func snapshotRecord(_ relation: CapturedRelation, key: [UInt8]?, value: [UInt8]) -> OutgoingRecord {
        var record = OutgoingRecord(topic: relation.topic, key: key, value: value, headers: contextHeaders,
                                    kind: .change(relationID: relation.relationID, operation: .read))
        record.keyShape = relation.avroKey
        record.valueShape = relation.schema.avro?.value
        return record
    }

    // MARK: Helpers

    /// The Kafka key's columns in key order; nil keeps pgoutput's identity flags in column order.
    ///
    /// `message.key.columns` wins. Otherwise the key is the replica identity as pgoutput flags it (the
    /// primary key for DEFAULT, the index for USING INDEX), ordered like the index as Debezium orders
    /// primary-key fields. FULL and NOTHING flag every column or none, so the catalog decides: the
    /// primary key, else (FULL) the narrowest unique index on NOT NULL columns, else no key.
    private func keyColumnNames(_ relation: RelationMessage, _ qualified: String) -> [String]? {
        if let override = keyColumnOverride(for: QualifiedTableName(schema: relation.namespace, table: relation.name)) {
            return override
        }
        let keys = relationDetails[relation.relationID] ?? RelationDetails()
        let flagged = relation.columns.filter(\.isKey).map(\.name)
        switch relation.replicaIdentity {
        case .full, .nothing:
            if !keys.primaryKey.isEmpty { return keys.primaryKey }
            if relation.replicaIdentity == .full, !keys.uniqueIndex.isEmpty { return keys.uniqueIndex }
            return []
        default:
            // The catalog is read later than the WAL was written: trust its order only for the same columns.
            for candidate in [keys.primaryKey, keys.replicaIdentityIndex]
            where !candidate.isEmpty && Set(candidate) == Set(flagged) {
                return candidate
            }
            return nil
        }
    }

    // The helpers `translate` calls per row are static, given what they read: a non-mutating method
    // called from a mutating one gets a copy of the whole translator (every stored reference retained
    // and released: 8% of an Avro drain's CPU in perf, 3% of a JSON one's).

    private func capturedRelation(_ id: UInt32, _ messageName: String) throws(PipelineError) -> CapturedRelation? {
        try Self.capturedRelation(relations[id], id, messageName)
    }

    /// `relation` (the one described for relation OID `id`) when it is captured; nil when it is not.
    private static func capturedRelation(_ relation: CapturedRelation?, _ id: UInt32, _ messageName: String) throws(PipelineError) -> CapturedRelation? {
        guard let relation else {
            throw protocolViolation("\(messageName) for relation OID \(id), which no Relation message described")
        }
        return relation.isCaptured ? relation : nil
    }

    private static func rowImage(_ tuple: TupleData, _ relation: CapturedRelation, _ messageName: String) throws(PipelineError) -> [ColumnValue] {
        guard tuple.columns.count == relation.schema.columns.count else {
            throw Self.protocolViolation("\(messageName) for \(relation.schema.schema).\(relation.schema.table) has \(tuple.columns.count) columns, its Relation message \(relation.schema.columns.count)")
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
                throw Self.protocolViolation("\(messageName) column \(relation.schema.columns[index].name) of \(relation.schema.schema).\(relation.schema.table) arrived in binary format")
            }
        }
        return values
    }

    /// The source block of the next event of `relation` (with its transaction block, when enabled).
    private mutating func eventSource(_ walStart: LSN, _ relation: CapturedRelation) throws(PipelineError) -> SourceInfo {
        guard transaction != nil else { throw Self.protocolViolation("a row change outside a transaction") }
        var source = SourceInfo(connectorVersion: connectorVersion, serverName: topicPrefix, database: database,
                                commitTimeMicros: transaction!.commitTimeMicros, transactionID: transaction!.xid,
                                lsn: walStart.value, lastCommitLSN: lastCommitLSN?.value)
        source.origin = origin
        if options.provideTransactionMetadata {
            source.transaction = transaction!.count(relation.dataCollection, lsn: walStart)
        }
        return source
    }

    private static func millis(_ micros: Int64) -> Int64 {
        micros >= 0 ? micros / 1000 : -((-micros + 999) / 1000)
    }

    /// The record key of `row`: Avro (`events.format: avro`, `relation.avroKey`) or JSON.
    private func encodeKey(_ relation: CapturedRelation, _ row: [ColumnValue]) throws(PipelineError) -> [UInt8]? {
        try Self.encodeKey(encoder, relation, row)
    }

    private static func encodeKey(_ encoder: ChangeEventEncoder, _ relation: CapturedRelation, _ row: [ColumnValue]) throws(PipelineError) -> [UInt8]? {
        do {
            if relation.avroKey != nil { return try encoder.encodeAvroKey(table: relation.schema, row: row) }
            return try encoder.encodeKey(table: relation.schema, row: row)
        } catch { throw .encoding(error) }
    }

    /// The keys of a key change's `__debezium.oldkey`/`newkey` headers: the record keys, or, for a table
    /// topic routing routes, the keys before routing.
    private func movedKeyHeaders(_ relation: CapturedRelation, before: [ColumnValue], after: [ColumnValue],
                                 oldKey: [UInt8], newKey: [UInt8]) throws(PipelineError) -> (old: [UInt8], new: [UInt8]) {
        // Avro record keys: the headers keep the JSON keys they always had.
        guard relation.schema.routing != nil || relation.avroKey != nil else { return (oldKey, newKey) }
        do {
            return (try encoder.encodeKey(table: relation.schema, row: before, routed: false) ?? oldKey,
                    try encoder.encodeKey(table: relation.schema, row: after, routed: false) ?? newKey)
        } catch { throw .encoding(error) }
    }

    private func encodeRowChange(_ op: Operation, _ relation: CapturedRelation, before: [ColumnValue]?, after: [ColumnValue]?,
                                 _ source: SourceInfo, _ eventTimeMillis: Int64) throws(PipelineError) -> [UInt8] {
        try Self.encodeRowChange(encoder, op, relation, before: before, after: after, source, eventTimeMillis)
    }

    private static func encodeRowChange(_ encoder: ChangeEventEncoder, _ op: Operation, _ relation: CapturedRelation, before: [ColumnValue]?, after: [ColumnValue]?,
                                 _ source: SourceInfo, _ eventTimeMillis: Int64) throws(PipelineError) -> [UInt8] {
        do {
            if relation.schema.avro != nil {
                return try encoder.encodeAvroRowChange(op: op, table: relation.schema, before: before, after: after,
                                                       source: source, eventTimeMillis: eventTimeMillis)
            }
            return try encoder.encodeRowChange(op: op, table: relation.schema, before: before, after: after,
                                               source: source, eventTimeMillis: eventTimeMillis)
        } catch { throw .encoding(error) }
    }

    // MARK: Flattened records

    /// Appends the record of one row change: its change event, or (`flatten`) what ExtractNewRecordState
    /// makes of it — possibly nothing, possibly on another topic, with more headers.
    private static func appendChange(_ encoder: ChangeEventEncoder, _ actions: inout [StreamAction], _ op: Operation,
                                     _ relation: CapturedRelation, key: [UInt8]?, before: [ColumnValue]?, after: [ColumnValue]?,
                                     _ source: SourceInfo, _ eventTimeMillis: Int64, headers: [RecordHeader]) throws(PipelineError) {
        let kind = RecordKind.change(relationID: relation.relationID, operation: op)
        guard encoder.options.flatten != nil else {
            let value = try encodeRowChange(encoder, op, relation, before: before, after: after, source, eventTimeMillis)
            var record = OutgoingRecord(topic: relation.topic, key: key, value: value, headers: headers, kind: kind)
            record.keyShape = relation.avroKey
            record.valueShape = relation.schema.avro?.value
            actions.append(.produce(record))
            return
        }
        let flattened: FlattenedRecord?
        do {
            flattened = try encoder.encodeFlattenedChange(op: op, table: relation.schema, before: before, after: after,
                                                          source: source, eventTimeMillis: eventTimeMillis)
        } catch { throw .encoding(error) }
        guard let flattened else { return }
        var record = OutgoingRecord(topic: flattened.topic ?? relation.topic, key: key, value: flattened.value,
                                    headers: headers + flattened.headers.map { RecordHeader(key: $0.key, value: $0.value) },
                                    kind: kind)
        record.keyShape = relation.avroKey
        actions.append(.produce(record))
    }

    /// Appends the tombstone after a delete (`tombstones.on.delete`), unless `flatten` drops it.
    private static func appendTombstone(_ encoder: ChangeEventEncoder, _ actions: inout [StreamAction], _ relation: CapturedRelation,
                                        key: [UInt8]?, headers: [RecordHeader]) {
        var headers = headers
        if encoder.options.flatten != nil {
            guard let added = encoder.flattenedTombstoneHeaders() else { return }
            headers += added.map { RecordHeader(key: $0.key, value: $0.value) }
        }
        var tombstone = OutgoingRecord(topic: relation.topic, key: key, value: nil, headers: headers,
                                       kind: .tombstone(relationID: relation.relationID))
        tombstone.keyShape = relation.avroKey
        actions.append(.produce(tombstone))
    }

    private func flattenedSnapshotRecord(_ relation: CapturedRelation, key: [UInt8]?, row: [ColumnValue], _ source: SourceInfo,
                                         _ eventTimeMillis: Int64) throws(PipelineError) -> OutgoingRecord? {
        var actions: [StreamAction] = []
        try Self.appendChange(encoder, &actions, .read, relation, key: key, before: nil, after: row, source, eventTimeMillis,
                         headers: contextHeaders)
        guard case .produce(let record)? = actions.first else { return nil }
        return record
    }

    private static func protocolViolation(_ what: String) -> PipelineError {
        PipelineError(code: .protocolViolation,
                      message: "replication stream out of order: \(what); Swallow stops rather than guess (nothing after the last confirmed position is lost). Report this with the PostgreSQL version.",
                      isRetriable: false)
    }
}

/// The `source` block of a table's snapshot records, formatted once (`StreamTranslator.snapshotSourceBlock`),
/// with what it was made from (flattened records take their added fields from it).
public struct SnapshotSourceBlock: Sendable {
    public let bytes: [UInt8]
    /// The same block as Avro (`events.format: avro`).
    public let avroBytes: [UInt8]?
    public let source: SourceInfo
}

/// Debezium 3.x's transaction metadata identifiers (PostgresTransactionMonitor, LogicalDecodingMessageMonitor).
public enum TransactionMetadata {
    /// A transaction id as Debezium writes it on each BEGIN, event and END record: the xid and the LSN
    /// the server sent that record's message at (so BEGIN's, each event's and END's differ; the Begin of
    /// a transaction with an Origin message comes at LSN 0, as the walsender sends every message but the
    /// last of one write).
    public static func id(xid: UInt32, lsn: LSN) -> String { "\(xid):\(lsn.value)" }

    /// The data collection a transactional logical decoding message counts under. Debezium names it by
    /// a new `LogicalDecodingMessageId` object's default `toString()`, class name and identity hash, so
    /// each message is an entry of its own in `data_collections`; its hash here is a mix of the
    /// message's LSN (Debezium's is arbitrary: nothing can depend on it).
    public static func messageDataCollection(lsn: LSN) -> String {
        var z = lsn.value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let hash = max(z >> 33, 1)
        return "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@" + String(hash, radix: 16)
    }
}
