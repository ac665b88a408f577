import ChangeEvent
import Foundation
import PGOutput
import SwallowConfig
import Testing
@testable import SwallowCore

/// `topic_routing` (ByLogicalTableRouter) as the translator applies it: once per table, while encoding.
/// The records against real Debezium are GoldenTests' routing runs; these pin the decisions.
@Suite struct LogicalTableRouterTests {
    private func router(_ routing: SwallowConfiguration.TopicRouting) throws -> LogicalTableRouter {
        try #require(LogicalTableRouter(routing))
    }

    @Test func aMatchingTopicIsRoutedWithTheKeyFieldAndSchemaNames() throws {
        let route = try #require(try router(.init(topicRegex: #"app\.public\.shard_(\d+)"#, topicReplacement: "app.public.shards"))
            .route(topic: "app.public.shard_1"))
        #expect(route.topic == "app.public.shards")
        #expect(route.routing == TableRouting(keySchemaName: "app.public.shards.Key", valueSchemaName: "app.public.shards.Value",
                                              envelopeSchemaName: "app.public.shards.Envelope",
                                              keyField: .init(name: "__dbz__physicalTableIdentifier", value: "app.public.shard_1")))
    }

    @Test func noWholeMatchOrAnEmptyTopicLeavesTheTableAlone() throws {
        let router = try router(.init(topicRegex: #"app\.public\.shard_(\d*)"#, topicReplacement: "$1"))
        #expect(router.route(topic: "app.public.other") == nil)
        #expect(router.route(topic: "app.public.shard_1x") == nil)
        // An empty new topic: Debezium warns and keeps the record as it is.
        #expect(router.route(topic: "app.public.shard_") == nil)
        #expect(router.route(topic: "app.public.shard_4")?.topic == "4")
    }

    @Test func keyFieldRegexMakesTheIdentifierOrFallsBackToTheTopic() throws {
        let router = try router(.init(topicRegex: "app.public.shard_(.*)", topicReplacement: "app.public.shards",
                                      keyFieldName: "shard", keyFieldRegex: "app.public.shard_([0-9]+)", keyFieldReplacement: "s$1"))
        #expect(router.route(topic: "app.public.shard_12")?.routing.keyField == .init(name: "shard", value: "s12"))
        #expect(router.route(topic: "app.public.shard_x")?.routing.keyField == .init(name: "shard", value: "app.public.shard_x"))
        let unenforced = try self.router(.init(topicRegex: "a(.*)", topicReplacement: "b", keyEnforceUniqueness: false))
        #expect(unenforced.route(topic: "ax")?.routing.keyField == nil)
    }

    @Test func schemaNamesAreAdjustedForAvroUnlessNone() throws {
        #expect(LogicalTableRouter.avroName("app.my-topic.Key") == "app.my_topic.Key")
        #expect(LogicalTableRouter.avroName("1app.Value") == "_1app.Value")
        #expect(LogicalTableRouter.avroName("-app") == "_app")
        let none = try router(.init(topicRegex: "x", topicReplacement: "my-topic", schemaNameAdjustmentMode: .none))
        #expect(none.route(topic: "x")?.routing.keySchemaName == "my-topic.Key")
    }

    private let begin = PGOutputMessage.begin(BeginMessage(finalLSN: LSN(2000), commitTime: 0, xid: 77))
    private let commit = PGOutputMessage.commit(CommitMessage(commitLSN: LSN(2000), endLSN: LSN(2048), commitTime: 0))

    private func relation(_ id: UInt32, _ name: String) -> RelationMessage {
        RelationMessage(relationID: id, namespace: "public", name: name, replicaIdentity: .default, columns: [
            RelationMessage.Column(flags: 1, name: "id", typeOID: 23, typeModifier: -1),
            RelationMessage.Column(flags: 0, name: "note", typeOID: 25, typeModifier: -1),
        ])
    }

    private func row(_ id: String, _ note: String?) -> TupleData {
        TupleData(columns: [.text(Array(id.utf8)[...]), note.map { .text(Array($0.utf8)[...]) } ?? .null])
    }

    private func translator(schemas: Bool) throws -> StreamTranslator {
        var options = SwallowConfiguration.Events()
        options.includeSchemas = schemas
        options.extendedHeadersEnabled = false
        return StreamTranslator(topicPrefix: "app", database: "shop", capturedTables: [], connectorVersion: "test",
                                options: options,
                                router: try router(.init(topicRegex: "app.public.shard_(.*)", topicReplacement: "app.public.shards")))
    }

    @Test func twoShardsShareATopicWithKeysToldApartAndTheKeyChangeHeadersUnrouted() throws {
        var translator = try translator(schemas: false)
        try translator.describe(relation(1, "shard_1"), catalog: RelationCatalog())
        try translator.describe(relation(2, "shard_2"), catalog: RelationCatalog())
        try translator.describe(relation(3, "other"), catalog: RelationCatalog())
        #expect(translator.topic(of: QualifiedTableName(schema: "public", table: "shard_9")) == "app.public.shards")
        #expect(translator.topic(of: QualifiedTableName(schema: "public", table: "other")) == "app.public.other")
        var actions: [StreamAction] = []
        for message: PGOutputMessage in [
            begin,
            .insert(InsertMessage(relationID: 1, newTuple: row("1", "a"))),
            .insert(InsertMessage(relationID: 2, newTuple: row("1", "b"))),
            .update(UpdateMessage(relationID: 2, oldTupleKind: .key, oldTuple: row("1", nil), newTuple: row("5", "b"))),
            .insert(InsertMessage(relationID: 3, newTuple: row("1", "c"))),
            commit,
        ] {
            try translator.translate(message, walStart: LSN(1000), eventTimeMillis: 0, into: &actions)
        }
        let produced = actions.compactMap { if case .produce(let record) = $0 { return record } else { return nil } }
        #expect(produced.map(\.topic) == Array(repeating: "app.public.shards", count: 5) + ["app.public.other"])
        func text(_ bytes: [UInt8]?) -> String { bytes.map { String(decoding: $0, as: UTF8.self) } ?? "null" }
        #expect(text(produced[0].key) == #"{"id":1,"__dbz__physicalTableIdentifier":"app.public.shard_1"}"#)
        #expect(text(produced[1].key) == #"{"id":1,"__dbz__physicalTableIdentifier":"app.public.shard_2"}"#)
        // The key change: delete, tombstone, create under routed keys; headers with the connector's keys.
        #expect(text(produced[2].key) == #"{"id":1,"__dbz__physicalTableIdentifier":"app.public.shard_2"}"#)
        #expect(produced[2].headers == [RecordHeader(key: "__debezium.newkey", value: Array(#"{"id":5}"#.utf8))])
        #expect(produced[3].value == nil && produced[3].key == produced[2].key)
        #expect(text(produced[4].key) == #"{"id":5,"__dbz__physicalTableIdentifier":"app.public.shard_2"}"#)
        #expect(produced[4].headers == [RecordHeader(key: "__debezium.oldkey", value: Array(#"{"id":1}"#.utf8))])
        // `source` still names the physical table.
        #expect(text(produced[1].value).contains(#""table":"shard_2""#))
        #expect(text(produced[5].key) == #"{"id":1}"#)
    }

    @Test func withSchemasTheKeyGetsARequiredStringFieldAndTheNewTopicsNames() throws {
        var translator = try translator(schemas: true)
        try translator.describe(relation(1, "shard_1"), catalog: RelationCatalog())
        var actions: [StreamAction] = []
        for message: PGOutputMessage in [begin, .insert(InsertMessage(relationID: 1, newTuple: row("1", "a"))), commit] {
            try translator.translate(message, walStart: LSN(1000), eventTimeMillis: 0, into: &actions)
        }
        let record = try #require(actions.compactMap { if case .produce(let record) = $0 { return record } else { return nil } }.first)
        let key = String(decoding: try #require(record.key), as: UTF8.self)
        // (`id` optional: no catalog said NOT NULL.)
        #expect(key == #"{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"field":"id"},{"type":"string","optional":false,"field":"__dbz__physicalTableIdentifier"}],"optional":false,"name":"app.public.shards.Key"},"payload":{"id":1,"__dbz__physicalTableIdentifier":"app.public.shard_1"}}"#)
        let value = String(decoding: try #require(record.value), as: UTF8.self)
        #expect(value.contains(#""name":"app.public.shards.Value","field":"before""#))
        #expect(value.contains(#""name":"app.public.shards.Envelope","version":2"#))
        #expect(!value.contains("shard_1.Value"))
    }
}
