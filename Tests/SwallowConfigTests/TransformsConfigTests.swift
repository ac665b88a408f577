import ChangeEvent
import SwallowConfig
import Testing

/// Column masking options in `events` and the `flatten` section (docs/transforms.md): what is read, and
/// every bad configuration stops naming its key.
@Suite struct TransformsConfigTests {
    private func configuration(events: String? = nil, flatten: String? = nil) throws -> Config {
        var document = ConfigDocument()
        if let events { document.top["events"] = events }
        if let flatten { document.top["flatten"] = flatten }
        return try Config.parse(yaml: document.yaml, environment: [:])
    }

    private func error(events: String? = nil, flatten: String? = nil) throws -> ConfigurationError {
        var document = ConfigDocument()
        if let events { document.top["events"] = events }
        if let flatten { document.top["flatten"] = flatten }
        return try #require(parseError(document))
    }

    @Test func maskingOptionsAreReadInDebeziumsOrder() throws {
        let events = try configuration(events: #"{column.mask.hash.v2.SHA-256.with.salt.pepper: "public.users.name", column.mask.with.3.chars: "public.users.email, public.people.mail", column.truncate.to.10.chars: "public\\.users\\..*", column.mask.hash.MD5.with.salt.x: "public.a.b", column.mask.with.1.chars: "public.c.d", decimal.handling.mode: string}"#).events
        #expect(events.columnMasks.map(\.option) == ["column.truncate.to.10.chars", "column.mask.with.3.chars",
                                                     "column.mask.with.1.chars", "column.mask.hash.MD5.with.salt.x",
                                                     "column.mask.hash.v2.SHA-256.with.salt.pepper"])
        #expect(events.columnMasks[1].columns == ["public.users.email", "public.people.mail"])
        #expect(events.columnMasks[1].mask == .maskWith("***"))
        #expect(events.columnMasks[4].mask == .hash(.sha256, salt: Array("pepper".utf8), version: .v2))
        #expect(events.decimalHandling == .string)
    }

    @Test func aBadNumberOfCharactersNamesTheKey() throws {
        let error = try error(events: #"{column.mask.with.five.chars: "public.t.c"}"#)
        #expect(error.path == "events.column.mask.with.five.chars")
        #expect(error.message.contains("not a number"))
    }

    @Test func anUnknownHashAlgorithmNamesTheKey() throws {
        let error = try error(events: #"{column.mask.hash.v2.SHA3-256.with.salt.s: "public.t.c"}"#)
        #expect(error.path == "events.column.mask.hash.v2.SHA3-256.with.salt.s")
        #expect(error.message.contains("SHA3-256"))
        #expect(error.message.contains("SHA-256"))
    }

    @Test func aColumnExpressionThatDoesNotCompileNamesTheKey() throws {
        let error = try error(events: #"{column.truncate.to.4.chars: "public.t.(c"}"#)
        #expect(error.path == "events.column.truncate.to.4.chars")
        #expect(error.message.contains("not a valid regular expression"))
    }

    @Test func anEmptyColumnListIsRefused() throws {
        #expect(try error(events: #"{column.mask.with.2.chars: " , "}"#).path == "events.column.mask.with.2.chars")
    }

    @Test func otherUnknownEventsKeysAreStillRefused() throws {
        let error = try error(events: #"{column.masks: "x"}"#)
        #expect(error.path == "events.column.masks")
    }

    @Test func flattenIsAbsentByDefaultAndEmptyMeansTheSMTsDefaults() throws {
        #expect(try configuration().flatten == nil)
        let flatten = try #require(try configuration(flatten: "{}").flatten)
        #expect(flatten == FlattenOptions())
        #expect(flatten.deleteTombstoneHandling == .tombstone)
    }

    @Test func everyFlattenOptionIsRead() throws {
        let flatten = try #require(try configuration(flatten: #"{delete.tombstone.handling.mode: rewrite-with-tombstone, add.fields: "op, source.ts_ms, table:t", add.fields.prefix: "meta_", add.headers: "db", route.by.field: region}"#).flatten)
        #expect(flatten.deleteTombstoneHandling == .rewriteWithTombstone)
        #expect(flatten.addFields.map(\.name) == ["meta_op", "meta_source_ts_ms", "meta_t"])
        #expect(flatten.addHeaders == [FlattenField(origin: .source(.db), name: "__db")])
        #expect(flatten.routeByField == "region")
    }

    @Test func anUnknownFlattenKeyNamesIt() throws {
        let error = try error(flatten: "{delete.handling.mode: rewrite}")
        #expect(error.path == "flatten.delete.handling.mode")
    }

    @Test func aBadDeleteModeNamesTheChoices() throws {
        let error = try error(flatten: "{delete.tombstone.handling.mode: none}")
        #expect(error.path == "flatten.delete.tombstone.handling.mode")
        #expect(error.message.contains("rewrite-with-tombstone"))
    }

    @Test func anUnknownAddedFieldNamesTheKey() throws {
        let error = try error(flatten: #"{add.headers: "op, source.nope"}"#)
        #expect(error.path == "flatten.add.headers")
        #expect(error.message.contains("source.nope"))
    }
}
