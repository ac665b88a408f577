import ChangeEvent
import Foundation
import PGOutput
import SwallowConfig
import Testing
@testable import SwallowCore

@Suite struct StreamTranslatorTests {
    private let ordersID: UInt32 = 16_384
    private let otherID: UInt32 = 16_390

    private func translator(_ options: SwallowConfiguration.Events = .init()) -> StreamTranslator {
        StreamTranslator(topicPrefix: "app", database: "shop",
                         capturedTables: [QualifiedTableName(schema: "public", table: "orders")],
                         connectorVersion: "test", options: options)
    }

    private func relation(_ id: UInt32, _ name: String) -> PGOutputMessage {
        .relation(RelationMessage(relationID: id, namespace: "public", name: name, replicaIdentity: .default, columns: [
            RelationMessage.Column(flags: 1, name: "id", typeOID: 23, typeModifier: -1),
            RelationMessage.Column(flags: 0, name: "note", typeOID: 25, typeModifier: -1),
        ]))
    }

    private func row(_ id: String, _ note: String?) -> TupleData {
        TupleData(columns: [.text(Array(id.utf8)[...]), note.map { .text(Array($0.utf8)[...]) } ?? .null])
    }

    /// Translates `messages` in order; Relation messages go in with `catalog`, as the stream session
    /// gives them what the catalog says.
    private func run(_ messages: [PGOutputMessage], on translator: inout StreamTranslator,
                     catalog: RelationCatalog = RelationCatalog()) throws -> [StreamAction] {
        var actions: [StreamAction] = []
        for (index, message) in messages.enumerated() {
            if case .relation(let relation) = message {
                try translator.describe(relation, catalog: catalog)
                continue
            }
            try translator.translate(message, walStart: LSN(UInt64(1000 + index * 10)), eventTimeMillis: 1_700_000_000_000,
                                     into: &actions)
        }
        return actions
    }

    private func records(_ actions: [StreamAction]) -> [OutgoingRecord] {
        actions.compactMap { if case .produce(let record) = $0 { return record } else { return nil } }
    }

    private func json(_ bytes: [UInt8]?) throws -> [String: Any] {
        let present = try #require(bytes)
        let object = try JSONSerialization.jsonObject(with: Data(present))
        return try #require(object as? [String: Any])
    }

    private let begin = PGOutputMessage.begin(BeginMessage(finalLSN: LSN(2000), commitTime: 0, xid: 77))
    private let commit = PGOutputMessage.commit(CommitMessage(commitLSN: LSN(2000), endLSN: LSN(2048), commitTime: 0))

    @Test func aTransactionBecomesOneUnitWithItsRecordsAndItsEndPosition() throws {
        var translator = translator()
        let actions = try run([relation(ordersID, "orders"), begin,
                               .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "first"))), commit],
                              on: &translator)
        #expect(actions.count == 3)
        #expect(actions.first == .openUnit)
        #expect(actions.last == .closeUnit(LSN(2048)))
        let record = try #require(records(actions).first)
        #expect(record.topic == "app.public.orders")
        #expect(record.key == Array(#"{"id":1}"#.utf8))
        let value = try json(record.value)
        #expect(value["op"] as? String == "c")
        let source = try #require(value["source"] as? [String: Any])
        #expect(source["txId"] as? Int == 77)
        #expect(source["lsn"] as? Int == 1020)
        #expect(source["ts_ms"] as? Int == 946_684_800_000)   // commit time 0 = 2000-01-01
    }

    @Test func aStreamAbortOfATransactionNeverStreamedIsPassedOverOutsideTransactionsOnly() throws {
        var translator = translator()
        let abort = PGOutputMessage.streamAbort(StreamAbortMessage(xid: 76, subtransactionXid: 80))
        // Between transactions: nothing to undo, nothing to produce or confirm.
        let actions = try run([relation(ordersID, "orders"), abort, begin,
                               .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "first"))), commit, abort],
                              on: &translator)
        #expect(actions.count == 5)
        guard case .ignored(let reason) = actions.first, actions.last == actions.first else {
            Issue.record("expected the aborts to be passed over, got \(actions)")
            return
        }
        #expect(reason.contains("Stream Abort of transaction 76 (subtransaction 80)"))
        #expect(Array(actions[1...3]).count == 3 && actions[1] == .openUnit && actions[3] == .closeUnit(LSN(2048)))
        // Inside one: the stream is not what Swallow takes it for.
        var inside = self.translator()
        let error = #expect(throws: PipelineError.self) {
            _ = try run([relation(ordersID, "orders"), begin, abort], on: &inside)
        }
        #expect(error?.code == .protocolViolation)
        #expect(error?.message.contains("Stream Abort of transaction 76 (subtransaction 80) inside transaction 77") == true)
    }

    @Test func aDeleteIsFollowedByATombstone() throws {
        var translator = translator()
        let actions = try run([relation(ordersID, "orders"), begin,
                               .delete(DeleteMessage(relationID: ordersID, oldTupleKind: .key, oldTuple: row("5", nil))),
                               commit], on: &translator)
        let produced = records(actions)
        #expect(produced.count == 2)
        #expect(try json(produced[0].value)["op"] as? String == "d")
        #expect(produced[1].value == nil)
        #expect(produced[1].key == produced[0].key)
    }

    @Test func aPrimaryKeyChangeMovesTheRowAsDeleteTombstoneAndCreate() throws {
        var translator = translator()
        let update = UpdateMessage(relationID: ordersID, oldTupleKind: .key, oldTuple: row("1", nil), newTuple: row("2", "moved"))
        let produced = records(try run([relation(ordersID, "orders"), begin, .update(update), commit], on: &translator))
        #expect(produced.count == 3)
        #expect(produced[0].key == Array(#"{"id":1}"#.utf8))
        #expect(try json(produced[0].value)["op"] as? String == "d")
        let context = ContextHeaders(enabled: true, topicPrefix: "app", runID: ContextHeaders.runID(unixMillis: 0, random: (0, 0)),
                                     encoder: ChangeEventEncoder()).headers
        #expect(produced[0].headers == [RecordHeader(key: "__debezium.newkey", value: Array(#"{"id":2}"#.utf8))] + context)
        #expect(produced[1].key == Array(#"{"id":1}"#.utf8) && produced[1].value == nil)
        #expect(produced[2].key == Array(#"{"id":2}"#.utf8))
        #expect(try json(produced[2].value)["op"] as? String == "c")
        #expect(produced[2].headers == [RecordHeader(key: "__debezium.oldkey", value: Array(#"{"id":1}"#.utf8))] + context)
    }

    @Test func replicaIdentityFullKeysByThePrimaryKeyAndKeepsUpdatesAsUpdates() throws {
        var translator = translator()
        let catalog = RelationCatalog(details: RelationDetails(primaryKey: ["id"]))
        // With FULL, pgoutput flags every column as part of the identity.
        let full = PGOutputMessage.relation(RelationMessage(relationID: ordersID, namespace: "public", name: "orders",
                                                            replicaIdentity: .full, columns: [
            RelationMessage.Column(flags: 1, name: "id", typeOID: 23, typeModifier: -1),
            RelationMessage.Column(flags: 1, name: "note", typeOID: 25, typeModifier: -1),
        ]))
        let update = UpdateMessage(relationID: ordersID, oldTupleKind: .old, oldTuple: row("1", "a"), newTuple: row("1", "b"))
        let produced = records(try run([full, begin, .update(update), commit], on: &translator, catalog: catalog))
        #expect(produced.count == 1)
        #expect(produced[0].key == Array(#"{"id":1}"#.utf8))
        let value = try json(produced[0].value)
        #expect(value["op"] as? String == "u")
        #expect((value["before"] as? [String: Any])?["note"] as? String == "a")
        #expect((value["after"] as? [String: Any])?["note"] as? String == "b")
    }

    @Test func uncapturedTablesProduceNothingButTheirTransactionsStillCount() throws {
        var translator = translator()
        let actions = try run([relation(otherID, "audit_log"), begin,
                               .insert(InsertMessage(relationID: otherID, newTuple: row("1", "x"))), commit],
                              on: &translator)
        #expect(actions == [.openUnit, .closeUnit(LSN(2048))])
    }

    @Test func aNonTransactionalMessageIsAUnitOfItsOwn() throws {
        var translator = translator()
        let message = LogicalDecodingMessage(flags: 0, lsn: LSN(3000), prefix: "audit", content: Array("hi".utf8)[...])
        let actions = try run([.message(message)], on: &translator)
        #expect(actions.count == 3)
        #expect(actions.first == .openUnit)
        #expect(actions.last == .closeUnit(LSN(3000)))
        let record = try #require(records(actions).first)
        #expect(record.topic == "app.message")
        #expect(record.key == Array(#"{"prefix":"audit"}"#.utf8))
        #expect(try json(record.value)["op"] as? String == "m")
    }

    @Test func truncatesAreSkippedByDefaultAsInDebezium() throws {
        var translator = translator()
        let actions = try run([relation(ordersID, "orders"), begin,
                               .truncate(TruncateMessage(options: 0, relationIDs: [ordersID])), commit], on: &translator)
        #expect(records(actions).isEmpty)
    }

    @Test func skippedOperationsAndTombstonesFollowTheirOptions() throws {
        var translator = translator(.init(tombstonesOnDelete: false, skippedOperations: [.update]))
        let produced = records(try run([
            relation(ordersID, "orders"), begin,
            .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "a"))),
            .update(UpdateMessage(relationID: ordersID, newTuple: row("1", "b"))),
            .delete(DeleteMessage(relationID: ordersID, oldTupleKind: .key, oldTuple: row("1", nil))),
            commit,
        ], on: &translator))
        #expect(try produced.map { try json($0.value)["op"] as? String } == ["c", "d"])   // no update, no tombstone
    }

    @Test func theUnavailableValuePlaceholderIsConfigurable() throws {
        var translator = translator(.init(unavailableValuePlaceholder: "<toast>"))
        let update = UpdateMessage(relationID: ordersID, newTuple: TupleData(columns: [.text(Array("1".utf8)[...]), .unchangedToast]))
        let produced = records(try run([relation(ordersID, "orders"), begin, .update(update), commit], on: &translator))
        #expect((try json(produced[0].value)["after"] as? [String: Any])?["note"] as? String == "<toast>")
    }

    @Test func logicalMessagesAreFilteredByPrefixLists() throws {
        func published(_ prefix: String, _ options: SwallowConfiguration.Events) throws -> Bool {
            var translator = translator(options)
            let message = LogicalDecodingMessage(flags: 0, lsn: LSN(3000), prefix: prefix, content: [])
            return !records(try run([.message(message)], on: &translator)).isEmpty
        }
        #expect(try published("audit", .init()))
        #expect(try published("audit.v1", .init(messagePrefixIncludeList: ["audit\\..*"])))
        #expect(try !published("audit", .init(messagePrefixIncludeList: ["audit\\..*"])))   // whole-prefix match
        #expect(try !published("debug", .init(messagePrefixExcludeList: ["deb.*", "trace"])))
        #expect(try published("audit", .init(messagePrefixExcludeList: ["deb.*", "trace"])))
    }

    @Test func aTruncateEmitsOneNullKeyedEventPerCapturedTable() throws {
        var translator = translator(.init(skippedOperations: []))
        let produced = records(try run([relation(ordersID, "orders"), relation(otherID, "audit_log"), begin,
                                        .truncate(TruncateMessage(options: 0, relationIDs: [ordersID, otherID])), commit],
                                       on: &translator))
        #expect(produced.count == 1)
        #expect(produced[0].key == nil)
        #expect(try json(produced[0].value)["op"] as? String == "t")
    }

    @Test func outOfOrderStreamsAreErrorsNotGuesses() throws {
        var translator = translator()
        #expect(throws: PipelineError.self) {
            try run([begin, .insert(InsertMessage(relationID: ordersID, newTuple: row("1", nil)))], on: &translator)
        }
        translator = self.translator()
        #expect(throws: PipelineError.self) { try run([commit], on: &translator) }
        translator = self.translator()
        let transactional = LogicalDecodingMessage(flags: 1, lsn: LSN(3000), prefix: "p", content: []) 
        #expect(throws: PipelineError.self) { try run([.message(transactional)], on: &translator) }
        translator = self.translator()
        #expect(throws: PipelineError.self) {
            try run([relation(ordersID, "orders"), begin,
                     .insert(InsertMessage(relationID: ordersID, newTuple: TupleData(columns: [.text(Array("1".utf8)[...])])))],
                    on: &translator)
        }
    }

    @Test func aValueThatDoesNotParseStopsWithTheTableColumnAndTypeButNotTheValue() throws {
        var translator = translator()
        do {
            _ = try run([relation(ordersID, "orders"), begin,
                         .insert(InsertMessage(relationID: ordersID, newTuple: row("secret-not-an-int", nil)))],
                        on: &translator)
            Issue.record("expected an error")
        } catch let error as PipelineError {
            #expect(error.code == .eventEncoding)
            #expect(error.message.contains("orders"))
            #expect(error.message.contains("id"))
            #expect(!error.message.contains("secret-not-an-int"))
        }
    }

    // MARK: keys, filters and types from the catalog

    private func relation(_ identity: ReplicaIdentity, _ columns: [(String, UInt32, Bool)],
                          name: String = "orders") -> PGOutputMessage {
        .relation(RelationMessage(relationID: ordersID, namespace: "public", name: name, replicaIdentity: identity,
                                  columns: columns.map {
            RelationMessage.Column(flags: $0.2 ? 1 : 0, name: $0.0, typeOID: $0.1, typeModifier: -1)
        }))
    }

    private func insert(_ values: [String?]) -> PGOutputMessage {
        .insert(InsertMessage(relationID: ordersID, newTuple: TupleData(columns: values.map {
            $0.map { .text(Array($0.utf8)[...]) } ?? .null
        })))
    }

    private func firstKey(_ messages: [PGOutputMessage], _ translator: inout StreamTranslator,
                          catalog: RelationCatalog = RelationCatalog()) throws -> String? {
        try records(run(messages, on: &translator, catalog: catalog)).first?.key.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func compositeKeysFollowThePrimaryKeyOrderNotTheColumnOrder() throws {
        var translator = translator()
        let catalog = RelationCatalog(details: RelationDetails(primaryKey: ["region", "id"]))
        let key = try firstKey([relation(.default, [("id", 23, true), ("region", 25, true), ("note", 25, false)]),
                                begin, insert(["7", "eu", "x"]), commit], &translator, catalog: catalog)
        #expect(key == #"{"region":"eu","id":7}"#)
    }

    @Test func aCatalogThatDisagreesWithTheFlagsLosesToTheFlags() throws {
        // The catalog is read after the WAL was written; a key changed since then must not win.
        var translator = translator()
        let catalog = RelationCatalog(details: RelationDetails(primaryKey: ["note"]))
        let key = try firstKey([relation(.default, [("id", 23, true), ("note", 25, false)]),
                                begin, insert(["7", "x"]), commit], &translator, catalog: catalog)
        #expect(key == #"{"id":7}"#)
    }

    @Test func replicaIdentityFullWithoutPrimaryKeyUsesAUniqueIndexElseNoKey() throws {
        var translator = translator()
        let catalog = RelationCatalog(details: RelationDetails(uniqueIndex: ["code"]))
        let columns = [("id", UInt32(23), true), ("code", UInt32(25), true)]
        #expect(try firstKey([relation(.full, columns), begin, insert(["1", "A-1"]), commit], &translator, catalog: catalog) == #"{"code":"A-1"}"#)

        translator = self.translator()
        let produced = records(try run([relation(.full, columns), begin, insert(["1", "A-1"]), commit], on: &translator))
        #expect(produced.count == 1 && produced[0].key == nil)
    }

    @Test func messageKeyColumnsOverrideTheKey() throws {
        var translator = translator(.init(messageKeyColumns: [.init(table: "public\\.ord.*", columns: ["note", "id"])]))
        let catalog = RelationCatalog(details: RelationDetails(primaryKey: ["id"]))
        let key = try firstKey([relation(.default, [("id", 23, true), ("note", 25, false)]),
                                begin, insert(["7", "x"]), commit], &translator, catalog: catalog)
        #expect(key == #"{"note":"x","id":7}"#)
    }

    @Test func columnListsShapeTheValueButKeepTheKey() throws {
        var translator = translator(.init(columnExcludeList: ["public\\.orders\\.(secret|id)"]))
        let messages = [relation(.default, [("id", 23, true), ("secret", 25, false), ("note", 25, false)]),
                        begin, insert(["7", "hush", "x"]), commit]
        let produced = records(try run(messages, on: &translator))
        #expect(produced[0].key == Array(#"{"id":7}"#.utf8))
        let after = try #require(try json(produced[0].value)["after"] as? [String: Any])
        #expect(Set(after.keys) == ["id", "note"])

        translator = self.translator(.init(columnIncludeList: ["public\\.orders\\.note"]))
        let included = try #require(try json(records(run(messages, on: &translator))[0].value)["after"] as? [String: Any])
        #expect(Set(included.keys) == ["id", "note"])
    }

    @Test func tableListsSelectTablesByWholeName() throws {
        var translator = StreamTranslator(topicPrefix: "app", database: "shop", capturedTables: [], connectorVersion: "t",
                                          options: .init(tableExcludeList: ["public\\.orders"]))
        let excluded = try run([relation(.default, [("id", 23, true)]), begin, insert(["1"]), commit], on: &translator)
        #expect(records(excluded).isEmpty)
        translator = StreamTranslator(topicPrefix: "app", database: "shop", capturedTables: [], connectorVersion: "t",
                                      options: .init(tableIncludeList: ["public\\.ord"]))
        let notWhole = try run([relation(.default, [("id", 23, true)]), begin, insert(["1"]), commit], on: &translator)
        #expect(records(notWhole).isEmpty)
        translator = StreamTranslator(topicPrefix: "app", database: "shop", capturedTables: [], connectorVersion: "t",
                                      options: .init(tableIncludeList: ["public\\.ord.*"]))
        let included = try run([relation(.default, [("id", 23, true)]), begin, insert(["1"]), commit], on: &translator)
        #expect(records(included).count == 1)
    }

    @Test func aTypeWithoutMappingStopsAtTheRelationNamingTableColumnAndType() throws {
        var translator = translator()
        let point = RelationCatalog(types: [PostgresTypeInfo(oid: 600, schema: "pg_catalog", name: "point", kind: .base)])
        do {
            _ = try run([relation(.default, [("id", 23, true), ("spot", 600, false)])], on: &translator, catalog: point)
            Issue.record("expected an error")
        } catch let error as PipelineError {
            #expect(error.code == .eventEncoding)
            #expect(error.message.contains("public.orders.spot"))
            #expect(error.message.contains("point"))
            #expect(error.message.contains("unknown.type.handling.mode"))
        }
        translator = self.translator(.init(unknownTypeHandling: .string))
        let produced = records(try run([relation(.default, [("id", 23, true), ("spot", 600, false)]), begin,
                                        insert(["1", "(1,2)"]), commit], on: &translator, catalog: point))
        #expect((try json(produced[0].value)["after"] as? [String: Any])?["spot"] as? String == "(1,2)")
    }

    @Test func enumsAndDomainsResolveThroughTheCatalog() throws {
        var translator = translator()
        let catalog = RelationCatalog(types: [
            PostgresTypeInfo(oid: 70_001, schema: "public", name: "mood", kind: .enumeration(labels: ["sad", "ok"])),
            PostgresTypeInfo(oid: 70_002, schema: "public", name: "positive", kind: .domain(baseOID: 23, baseTypeModifier: -1)),
        ])
        let produced = records(try run([relation(.default, [("id", 23, true), ("m", 70_001, false), ("p", 70_002, false)]),
                                        begin, insert(["1", "ok", "42"]), commit], on: &translator, catalog: catalog))
        let after = try #require(try json(produced[0].value)["after"] as? [String: Any])
        #expect(after["m"] as? String == "ok")
        #expect(after["p"] as? Int == 42)
    }

    // MARK: transaction metadata

    @Test func transactionMetadataWrapsEachTransactionAndNumbersItsEvents() throws {
        var translator = translator(.init(tombstonesOnDelete: true, provideTransactionMetadata: true))
        let produced = records(try run([
            relation(ordersID, "orders"), relation(otherID, "audit_log"), begin,
            .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "a"))),
            .insert(InsertMessage(relationID: otherID, newTuple: row("9", "uncaptured"))),
            .delete(DeleteMessage(relationID: ordersID, oldTupleKind: .key, oldTuple: row("1", nil))),
            commit,
        ], on: &translator))
        #expect(produced.map(\.topic) == ["app.transaction", "app.public.orders", "app.public.orders", "app.public.orders",
                                          "app.transaction"])
        // Debezium 3.x's ids: the xid and the LSN of each record's own message (run() puts message i at 1000 + 10 i).
        #expect(produced[0].key == Array(#"{"id":"77:1020"}"#.utf8))
        let beginValue = try json(produced[0].value)
        #expect(beginValue["status"] as? String == "BEGIN")
        #expect(beginValue["id"] as? String == "77:1020")
        let first = try #require(try json(produced[1].value)["transaction"] as? [String: Any])
        #expect(first["id"] as? String == "77:1030" && first["total_order"] as? Int == 1 && first["data_collection_order"] as? Int == 1)
        let second = try #require(try json(produced[2].value)["transaction"] as? [String: Any])
        #expect(second["id"] as? String == "77:1050")
        #expect(second["total_order"] as? Int == 2 && second["data_collection_order"] as? Int == 2)
        #expect(produced[3].value == nil)   // the tombstone is not an event of the transaction
        let end = try json(produced[4].value)
        #expect(produced[4].key == Array(#"{"id":"77:1060"}"#.utf8))
        #expect(end["status"] as? String == "END")
        #expect(end["event_count"] as? Int == 2)
        let collections = try #require(end["data_collections"] as? [[String: Any]])
        #expect(collections.count == 1)
        #expect(collections[0]["data_collection"] as? String == "public.orders")
        #expect(collections[0]["event_count"] as? Int == 2)
        #expect(end["ts_ms"] as? Int == beginValue["ts_ms"] as? Int)
    }

    @Test func withoutTransactionMetadataTheBlockIsNull() throws {
        var translator = translator()
        let produced = records(try run([relation(ordersID, "orders"), begin,
                                        .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "a"))), commit],
                                       on: &translator))
        #expect(produced.count == 1)
        #expect(try json(produced[0].value)["transaction"] is NSNull)
    }

    @Test func envelopeSchemasWrapKeysAndValues() throws {
        var translator = translator(.init(includeSchemas: true))
        let catalog = RelationCatalog(details: RelationDetails(primaryKey: ["id"], notNullColumns: ["id"]))
        let produced = records(try run([relation(ordersID, "orders"), begin,
                                        .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "a"))), commit],
                                       on: &translator, catalog: catalog))
        let key = try json(produced[0].key)
        #expect((key["schema"] as? [String: Any])?["name"] as? String == "app.public.orders.Key")
        #expect((key["payload"] as? [String: Any])?["id"] as? Int == 1)
        let value = try json(produced[0].value)
        let schema = try #require(value["schema"] as? [String: Any])
        #expect(schema["name"] as? String == "app.public.orders.Envelope")
        let after = try #require((schema["fields"] as? [[String: Any]])?[1]["fields"] as? [[String: Any]])
        #expect(after.map { $0["optional"] as? Bool } == [false, true])   // NOT NULL from the catalog
        #expect(((value["payload"] as? [String: Any])?["after"] as? [String: Any])?["note"] as? String == "a")
    }

    // MARK: Debezium 3.x

    @Test func aKeylessDeleteIsFollowedByANullKeyedTombstoneAsInDebezium3() throws {
        var translator = translator()
        // REPLICA IDENTITY FULL without any key: the whole old row, and no key columns.
        let full = PGOutputMessage.relation(RelationMessage(relationID: ordersID, namespace: "public", name: "orders",
                                                            replicaIdentity: .full, columns: [
            RelationMessage.Column(flags: 1, name: "id", typeOID: 23, typeModifier: -1),
            RelationMessage.Column(flags: 1, name: "note", typeOID: 25, typeModifier: -1),
        ]))
        let produced = records(try run([full, begin,
                                        .delete(DeleteMessage(relationID: ordersID, oldTupleKind: .old, oldTuple: row("5", "x"))),
                                        commit], on: &translator))
        #expect(produced.count == 2)
        #expect(produced[0].key == nil)
        #expect(try json(produced[0].value)["op"] as? String == "d")
        #expect(produced[1].key == nil && produced[1].value == nil)
        var off = self.translator(.init(tombstonesOnDelete: false))
        #expect(records(try run([full, begin,
                                 .delete(DeleteMessage(relationID: ordersID, oldTupleKind: .old, oldTuple: row("5", "x"))),
                                 commit], on: &off)).count == 1)
    }

    @Test func aReplicationOriginIsInTheSourceOfItsTransactionsEventsUntilTheNextBegin() throws {
        var translator = translator()
        let origin = PGOutputMessage.origin(OriginMessage(commitLSN: LSN(0x1234_ABCD), name: "sub_a"))
        let actions = try run([
            relation(ordersID, "orders"),
            begin, origin, .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "replicated"))),
            .message(LogicalDecodingMessage(flags: 1, lsn: LSN(1040), prefix: "p", content: [1])), commit,
            // Debezium keeps the origin in its offset until the next Begin.
            .message(LogicalDecodingMessage(flags: 0, lsn: LSN(1070), prefix: "p", content: [2])),
            begin, .insert(InsertMessage(relationID: ordersID, newTuple: row("2", "local"))), commit,
        ], on: &translator)
        let sources = try records(actions).map { try #require(try json($0.value)["source"] as? [String: Any]) }
        #expect(sources.count == 4)
        for source in sources.prefix(3) {
            #expect(source["origin"] as? String == "sub_a")
            #expect(source["origin_lsn"] as? Int == 0x1234_ABCD)
        }
        #expect(sources[3]["origin"] is NSNull && sources[3]["origin_lsn"] is NSNull)
        var outside = self.translator()
        #expect(throws: PipelineError.self) { _ = try run([relation(ordersID, "orders"), origin], on: &outside) }
    }

    @Test func contextHeadersFollowEveryRowRecordsOwnHeadersButNotMessagesAndCanBeTurnedOff() throws {
        let runID = ContextHeaders.runID(unixMillis: 1_700_000_000_000, random: (0xabc, 0x1234))
        func produced(_ options: SwallowConfiguration.Events) throws -> [OutgoingRecord] {
            var translator = StreamTranslator(topicPrefix: "app", database: "shop", capturedTables: [],
                                              connectorVersion: "t", options: options, runID: runID)
            return records(try run([relation(ordersID, "orders"), begin,
                                    .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "a"))),
                                    .message(LogicalDecodingMessage(flags: 1, lsn: LSN(1040), prefix: "p", content: [1])),
                                    .delete(DeleteMessage(relationID: ordersID, oldTupleKind: .key, oldTuple: row("1", nil))),
                                    commit], on: &translator))
        }
        let on = try produced(.init(provideTransactionMetadata: true))
        #expect(on.map(\.topic) == ["app.transaction", "app.public.orders", "app.message", "app.public.orders",
                                     "app.public.orders", "app.transaction"])
        let expected = [("__debezium.context.connectorLogicalName", #""app""#), ("__debezium.context.taskId", #""0""#),
                        ("__debezium.context.connectorName", #""postgresql""#),
                        ("__debezium.context.runId", "\"\(runID)\"")].map { RecordHeader(key: $0.0, value: Array($0.1.utf8)) }
        for index in [1, 3, 4] { #expect(on[index].headers == expected) }   // insert, delete, tombstone
        for index in [0, 2, 5] { #expect(on[index].headers.isEmpty) }       // transaction records, message
        // With schemas, each header is a JsonConverter record of a required string.
        let withSchemas = try produced(.init(includeSchemas: true))
        #expect(withSchemas[0].headers[0].value == Array(#"{"schema":{"type":"string","optional":false},"payload":"app"}"#.utf8))
        #expect(try produced(.init(extendedHeadersEnabled: false)).allSatisfy { $0.headers.isEmpty })
    }

    @Test func dataCollectionsComeInJavaHashMapOrderWithEachMessageAnEntryOfItsOwn() throws {
        var translator = StreamTranslator(topicPrefix: "app", database: "shop", capturedTables: [], connectorVersion: "t",
                                          options: .init(provideTransactionMetadata: true))
        func insert(_ relationID: UInt32) -> PGOutputMessage { .insert(InsertMessage(relationID: relationID, newTuple: row("1", nil))) }
        func message(_ lsn: UInt64) -> PGOutputMessage {
            .message(LogicalDecodingMessage(flags: 1, lsn: LSN(lsn), prefix: "m", content: []))
        }
        let produced = records(try run([
            relation(1, "a"), relation(2, "b"), relation(3, "c"), begin,
            insert(1), insert(2), message(1060), insert(3), insert(1), message(1090), commit,
        ], on: &translator))
        let end = try json(produced.last!.value)
        let collections = try #require(end["data_collections"] as? [[String: Any]])
        // Debezium 3.6.3 wrote public.c, public.a, public.b for this transaction (scripts/oracle run by hand).
        let tables = collections.compactMap { $0["data_collection"] as? String }.filter { $0.hasPrefix("public.") }
        #expect(tables == ["public.c", "public.a", "public.b"])
        #expect(collections.map { $0["event_count"] as? Int } .reduce(0) { $0 + ($1 ?? 0) } == 6)
        let messageEntries = collections.filter { ($0["data_collection"] as? String)?.hasPrefix(
            "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@") == true }
        // Each message is a new object in Debezium: two messages, two entries of one event each.
        #expect(messageEntries.count == 2 && messageEntries.allSatisfy { $0["event_count"] as? Int == 1 })
        let messageRecords = produced.filter { $0.topic == "app.message" }
        for record in messageRecords {
            let block = try #require(try json(record.value)["transaction"] as? [String: Any])
            #expect(block["data_collection_order"] as? Int == 1)
        }
    }

    @Test func aRunIDIsAVersion7UUIDOfItsTime() {
        let id = ContextHeaders.runID(unixMillis: 0x0190_1234_5678, random: (UInt64.max, 0))
        #expect(id == "01901234-5678-7fff-8000-000000000000")
        #expect(ContextHeaders.runID(unixMillis: 1, random: (0, UInt64.max)) == "00000000-0001-7000-bfff-ffffffffffff")
    }
}
