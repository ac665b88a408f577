import ChangeEvent
import PGOutput
import SwallowConfig
import Testing
@testable import SwallowCore

/// The outbox router inside the translator: what rows of an outbox table become. (Byte-for-byte
/// agreement with Debezium's EventRouter is the golden tests'; these check the decisions.)
@Suite struct OutboxRouterTests {
    private let outboxID: UInt32 = 16_500
    private let ordersID: UInt32 = 16_501

    private func make(_ outbox: SwallowConfiguration.Outbox, schemas: Bool = false) -> StreamTranslator {
        var events = SwallowConfiguration.Events()
        events.includeSchemas = schemas
        return StreamTranslator(topicPrefix: "app", database: "shop", capturedTables: [], connectorVersion: "test",
                                options: events, outbox: outbox)
    }

    private static let defaults = SwallowConfiguration.Outbox(tables: [.init(schema: "public", table: "outboxevent")])

    /// id uuid, aggregatetype varchar, aggregateid varchar, type varchar, payload jsonb, shard int4, at timestamp(6).
    private func outboxRelation(payloadType: UInt32 = 3802, shardType: UInt32 = 23) -> RelationMessage {
        RelationMessage(relationID: outboxID, namespace: "public", name: "outboxevent", replicaIdentity: .default, columns: [
            .init(flags: 1, name: "id", typeOID: 2950, typeModifier: -1),
            .init(flags: 0, name: "aggregatetype", typeOID: 1043, typeModifier: 259),
            .init(flags: 0, name: "aggregateid", typeOID: 1043, typeModifier: 259),
            .init(flags: 0, name: "type", typeOID: 1043, typeModifier: 259),
            .init(flags: 0, name: "payload", typeOID: payloadType, typeModifier: -1),
            .init(flags: 0, name: "shard", typeOID: shardType, typeModifier: -1),
            .init(flags: 0, name: "at", typeOID: 1114, typeModifier: 6),
        ])
    }

    private func row(_ id: String, _ type: String, _ key: String, payload: String?, shard: String = "0") -> TupleData {
        TupleData(columns: [id, type, key, "Created"].map { .text(Array($0.utf8)[...]) }
                  + [payload.map { .text(Array($0.utf8)[...]) } ?? .null, .text(Array(shard.utf8)[...]),
                     .text(Array("2026-11-21 05:50:18.013806".utf8)[...])])
    }

    private let begin = PGOutputMessage.begin(BeginMessage(finalLSN: LSN(2000), commitTime: 0, xid: 77))
    private let commit = PGOutputMessage.commit(CommitMessage(commitLSN: LSN(2000), endLSN: LSN(2048), commitTime: 0))

    private func run(_ messages: [PGOutputMessage], on translator: inout StreamTranslator) throws -> [StreamAction] {
        var actions: [StreamAction] = []
        for message in messages {
            try translator.translate(message, walStart: LSN(1000), eventTimeMillis: 1_700_000_000_000, into: &actions)
        }
        return actions
    }

    private func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    @Test func insertsAreRoutedDeletesAndUpdatesAreNot() throws {
        var translator = make(Self.defaults)
        try translator.describe(outboxRelation(), catalog: RelationCatalog())
        let id = "8f0c1d2e-0000-4000-8000-000000000001"
        let actions = try run([begin, .insert(InsertMessage(relationID: outboxID, newTuple: row(id, "order", "1001", payload: #"{"a": 1}"#))),
                               .update(UpdateMessage(relationID: outboxID, oldTuple: nil, newTuple: row(id, "order", "1001", payload: "{}"))),
                               .delete(DeleteMessage(relationID: outboxID, oldTupleKind: .key, oldTuple: row(id, "order", "1001", payload: nil))),
                               commit], on: &translator)
        let records = actions.compactMap { if case .produce(let record) = $0 { record } else { nil } }
        #expect(records.count == 1)
        let record = try #require(records.first)
        #expect(record.topic == "outbox.event.order")
        #expect(text(record.key) == #""1001""#)
        #expect(text(record.value) == #""{\"a\": 1}""#)
        #expect(record.headers.last == RecordHeader(key: "id", value: Array("\"\(id)\"".utf8)))
        #expect(record.timestamp == 1_700_000_000_000)
        #expect(record.partition == nil)
        #expect(actions.contains { if case .skipped(_, false) = $0 { true } else { false } })
    }

    @Test func placementsTimestampsAndTombstones() throws {
        var settings = Self.defaults
        settings.additionalFields = [.init(column: "type", placement: .envelope, alias: "eventType"),
                                     .init(column: "shard", placement: .partition), .init(column: "type", placement: .header)]
        settings.timestampField = "at"
        settings.tombstoneOnEmptyPayload = true
        var translator = make(settings)
        try translator.describe(outboxRelation(), catalog: RelationCatalog())
        let actions = try run([begin, .insert(InsertMessage(relationID: outboxID, newTuple: row("8f0c1d2e-0000-4000-8000-000000000002", "customer", "7", payload: #"{"p": 2}"#, shard: "3"))),
                               .insert(InsertMessage(relationID: outboxID, newTuple: row("8f0c1d2e-0000-4000-8000-000000000003", "customer", "7", payload: nil))),
                               commit], on: &translator)
        let records = actions.compactMap { if case .produce(let record) = $0 { record } else { nil } }
        #expect(records.count == 2)
        #expect(text(records[0].value) == #"{"payload":"{\"p\": 2}","eventType":"Created"}"#)
        #expect(records[0].partition == 3)
        #expect(records[0].timestamp == 1_795_240_218_013)
        #expect(records[0].headers.map(\.key).suffix(2) == ["id", "type"])
        #expect(records[1].value == nil)
        #expect(records[1].kind == .tombstone(relationID: outboxID))
    }

    @Test func schemasNameTheEnvelopeAfterTheFirstRoutedValue() throws {
        var settings = Self.defaults
        settings.additionalFields = [.init(column: "type", placement: .envelope)]
        var translator = make(settings, schemas: true)
        try translator.describe(outboxRelation(), catalog: RelationCatalog())
        let actions = try run([begin, .insert(InsertMessage(relationID: outboxID, newTuple: row("8f0c1d2e-0000-4000-8000-000000000002", "order", "7", payload: "{}"))),
                               .insert(InsertMessage(relationID: outboxID, newTuple: row("8f0c1d2e-0000-4000-8000-000000000003", "customer", "7", payload: "{}"))),
                               commit], on: &translator)
        let values = actions.compactMap { if case .produce(let record) = $0 { text(record.value) } else { nil } }
        #expect(values.count == 2)
        #expect(values.allSatisfy { $0.contains(#""name":"app.public.outboxevent.order.Value""#) })
    }

    @Test func anUpdateWithFatalBehaviourStops() throws {
        var settings = Self.defaults
        settings.invalidOperationBehavior = .fatal
        var translator = make(settings)
        try translator.describe(outboxRelation(), catalog: RelationCatalog())
        #expect(throws: PipelineError.self) {
            _ = try run([begin, .update(UpdateMessage(relationID: outboxID, oldTuple: nil,
                                                      newTuple: row("8f0c1d2e-0000-4000-8000-000000000002", "order", "7", payload: "{}")))],
                        on: &translator)
        }
    }

    /// The error describing `relation` gives; nil when it is accepted.
    private func describeError(_ translator: inout StreamTranslator, _ relation: RelationMessage) -> PipelineError? {
        do {
            try translator.describe(relation, catalog: RelationCatalog())
            return nil
        } catch {
            return error
        }
    }

    @Test func columnsAreCheckedWhenTheTableIsDescribed() throws {
        var missing = Self.defaults
        missing.payloadField = "body"
        var translator = make(missing)
        let error = try #require(describeError(&translator, outboxRelation()))
        #expect(error.code == .configuration)
        #expect(error.message.contains("outbox.table.field.event.payload"))
        #expect(error.message.contains("body"))

        var partition = Self.defaults
        partition.additionalFields = [.init(column: "shard", placement: .partition)]
        var textShard = make(partition)
        let placement = try #require(describeError(&textShard, outboxRelation(shardType: 25)))
        #expect(placement.message.contains("outbox.table.fields.additional.placement"))
        #expect(placement.message.contains("shard"))
        var intShard = make(partition)
        #expect(describeError(&intShard, outboxRelation()) == nil)

        var route = Self.defaults
        route.routeByField = "shard"
        var intRoute = make(route)
        #expect(describeError(&intRoute, outboxRelation())?.message.contains("outbox.route.by.field") == true)
    }

    @Test func otherTablesKeepTheirChangeEvents() throws {
        var translator = make(Self.defaults)
        try translator.describe(RelationMessage(relationID: ordersID, namespace: "public", name: "orders", replicaIdentity: .default,
                                                columns: [.init(flags: 1, name: "id", typeOID: 23, typeModifier: -1)]),
                                catalog: RelationCatalog())
        let actions = try run([begin, .insert(InsertMessage(relationID: ordersID, newTuple: TupleData(columns: [.text(Array("5".utf8)[...])]))),
                               commit], on: &translator)
        let record = try #require(actions.compactMap { if case .produce(let record) = $0 { record } else { nil } }.first)
        #expect(record.topic == "app.public.orders")
        #expect(text(record.value)?.contains(#""op":"c""#) == true)
    }
}
