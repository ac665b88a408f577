import ChangeEvent
import Foundation
import PGOutput
import SwallowConfig
import Testing
@testable import SwallowCore

/// The translator's part of the transforms (docs/transforms.md): which masking rule a column takes
/// (Debezium's column-regex semantics: the whole `schema.table.column`, ignoring case; the first rule in
/// Debezium's order), and which records flattening leaves (tombstones, truncates, routing).
@Suite struct TransformsTranslatorTests {
    private let ordersID: UInt32 = 16_384

    private func translator(_ options: SwallowConfiguration.Events = .init(), flatten: FlattenOptions? = nil) -> StreamTranslator {
        StreamTranslator(topicPrefix: "app", database: "shop",
                         capturedTables: [QualifiedTableName(schema: "public", table: "orders")],
                         connectorVersion: "test", options: options, flatten: flatten)
    }

    private var relation: RelationMessage {
        RelationMessage(relationID: ordersID, namespace: "public", name: "orders", replicaIdentity: .default, columns: [
            RelationMessage.Column(flags: 1, name: "id", typeOID: 23, typeModifier: -1),
            RelationMessage.Column(flags: 0, name: "note", typeOID: 25, typeModifier: -1),
            RelationMessage.Column(flags: 0, name: "Region", typeOID: 25, typeModifier: -1),
        ])
    }

    private func row(_ id: String, _ note: String, _ region: String) -> TupleData {
        TupleData(columns: [.text(Array(id.utf8)[...]), .text(Array(note.utf8)[...]), .text(Array(region.utf8)[...])])
    }

    private func run(_ messages: [PGOutputMessage], on translator: inout StreamTranslator) throws -> [OutgoingRecord] {
        try translator.describe(relation, catalog: RelationCatalog())
        var actions: [StreamAction] = []
        for (index, message) in messages.enumerated() {
            try translator.translate(message, walStart: LSN(UInt64(1000 + index * 10)), eventTimeMillis: 1_700_000_000_000,
                                     into: &actions)
        }
        return actions.compactMap { if case .produce(let record) = $0 { return record } else { return nil } }
    }

    private let begin = PGOutputMessage.begin(BeginMessage(finalLSN: LSN(2000), commitTime: 0, xid: 77))
    private let commit = PGOutputMessage.commit(CommitMessage(commitLSN: LSN(2000), endLSN: LSN(2048), commitTime: 0))

    private func rule(_ option: String, _ columns: [String]) throws -> ColumnMaskRule {
        ColumnMaskRule(option: option, mask: try #require(try ColumnMask.parse(option: option)), columns: columns)
    }

    @Test func aColumnTakesTheFirstRuleWhoseExpressionMatchesItsWholeNameIgnoringCase() throws {
        var options = SwallowConfiguration.Events()
        options.columnMasks = [
            // "orders.note" does not match the whole name; the second expression does, in another case.
            try rule("column.truncate.to.2.chars", ["orders.note", #"PUBLIC\.ORDERS\.NOTE"#]),
            try rule("column.mask.with.3.chars", [#"public\.orders\.(note|region)"#]),
        ]
        var translator = translator(options)
        let records = try run([begin, .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "first", "eu"))), commit],
                              on: &translator)
        let record = try #require(records.first)
        #expect(record.key == Array(#"{"id":1}"#.utf8))
        #expect(String(decoding: try #require(record.value), as: UTF8.self)
                    .hasPrefix(#"{"before":null,"after":{"id":1,"note":"fi","Region":"***"},"#))
    }

    @Test func aMaskMatchingANonTextColumnStopsTheTablesDescriptionNamingTheKey() throws {
        var options = SwallowConfiguration.Events()
        options.columnMasks = [try rule("column.mask.with.3.chars", [#"public\.orders\..*"#])]
        var translator = translator(options)
        #expect {
            try translator.describe(relation, catalog: RelationCatalog())
        } throws: { error in
            guard let error = error as? PipelineError else { return false }
            return error.code == .eventEncoding && error.message.contains("events.column.mask.with.3.chars")
                && error.message.contains("public.orders.id")
        }
    }

    @Test func flattenLeavesOneRecordPerDeleteInTombstoneModeAndDropsTruncates() throws {
        var options = SwallowConfiguration.Events()
        options.skippedOperations = []
        var translator = translator(options, flatten: FlattenOptions())
        let records = try run([begin,
                               .insert(InsertMessage(relationID: ordersID, newTuple: row("1", "first", "eu"))),
                               .delete(DeleteMessage(relationID: ordersID, oldTupleKind: .key,
                                                     oldTuple: TupleData(columns: [.text(Array("1".utf8)[...]), .null, .null]))),
                               .truncate(TruncateMessage(options: 0, relationIDs: [ordersID])),
                               commit], on: &translator)
        #expect(records.count == 2)
        #expect(records.map(\.kind) == [.change(relationID: ordersID, operation: .create), .change(relationID: ordersID, operation: .delete)])
        #expect(records[0].value == Array(#"{"id":1,"note":"first","Region":"eu"}"#.utf8))
        #expect(records[1].value == nil && records[1].key == Array(#"{"id":1}"#.utf8))
    }

    @Test func rewriteWithTombstoneKeepsTheTombstoneAndRoutesByTheColumn() throws {
        let flatten = FlattenOptions(deleteTombstoneHandling: .rewriteWithTombstone,
                                     addHeaders: [try FlattenField.parse("op", prefix: "__")], routeByField: "Region")
        var translator = translator(flatten: flatten)
        let records = try run([begin,
                               .delete(DeleteMessage(relationID: ordersID, oldTupleKind: .old, oldTuple: row("1", "gone", "orders.eu"))),
                               commit], on: &translator)
        #expect(records.count == 2)
        #expect(records[0].topic == "orders.eu")
        #expect(records[0].value == Array(#"{"id":1,"note":"gone","Region":"orders.eu","__deleted":"true"}"#.utf8))
        #expect(records[0].headers.last == RecordHeader(key: "__op", value: Array(#""d""#.utf8)))
        // The tombstone stays on the table's topic (the SMT routes only what it rewrites).
        #expect(records[1].topic == "app.public.orders" && records[1].value == nil)
        #expect(records[1].headers.last == RecordHeader(key: "__op", value: Array(#""d""#.utf8)))
    }
}
