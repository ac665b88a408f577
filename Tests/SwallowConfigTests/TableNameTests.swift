import SwallowConfig
import Testing

@Suite struct TableNameTests {
    func tables(_ flow: String) throws -> [Config.TableName] {
        var document = ConfigDocument()
        document.top = ["tables": flow]
        return try Config.parse(yaml: document.yaml, environment: [:]).tables
    }

    func tableError(_ flow: String) throws -> ConfigurationError {
        var document = ConfigDocument()
        document.top = ["tables": flow]
        return try #require(parseError(document))
    }

    @Test func bareTableMeansPublic() throws {
        let parsed = try tables("[orders]")
        #expect(parsed == [Config.TableName(schema: "public", table: "orders")])
        #expect(parsed.first?.description == "public.orders")
    }

    @Test func schemaQualified() throws {
        #expect(try tables("[sales.orders, public.order_items, _x.t$1]") == [
            .init(schema: "sales", table: "orders"),
            .init(schema: "public", table: "order_items"),
            .init(schema: "_x", table: "t$1"),
        ])
    }

    @Test func blockSequence() throws {
        let yaml = ConfigDocument().yaml + "tables:\n  - orders\n  - sales.invoices\n"
        let config = try Config.parse(yaml: yaml, environment: [:])
        #expect(config.tables.map(\.description) == ["public.orders", "sales.invoices"])
    }

    @Test func threePartsRejected() throws {
        let error = try tableError("[orders, a.b.c]")
        #expect(error.code == .invalidValue)
        #expect(error.path == "tables[1]")
        #expect(error.message.contains("expected `schema.table` or `table`"))
        #expect(error.message.contains("\"a.b.c\""))
    }

    @Test func emptyRejected() throws {
        let error = try tableError("[orders, items, '']")
        #expect(error.code == .invalidValue)
        #expect(error.path == "tables[2]")
        #expect(error.message.contains("empty table name"))
    }

    @Test(arguments: ["public.", ".orders", "my-schema.t", "1abc", "public . orders", "public.\"\"", "\"a\"b.t",
                      "\"unclosed.t"])
    func invalidNamesRejected(name: String) throws {
        let error = try tableError("['\(name)']")
        #expect(error.code == .invalidValue)
        #expect(error.path == "tables[0]")
        #expect(error.message.contains("[a-z_][a-z0-9_$]*) or a double-quoted one"), "\(error.message)")
    }

    @Test func upperCaseUnquotedPartsAreRefusedNamingBothReadings() throws {
        let error = try tableError("['public.Orders']")
        #expect(error.message.contains("write \"Orders\" in double quotes for that exact name, or orders for the lower-case one"),
                "\(error.message)")
        #expect(try tableError("['Public.orders']").message.contains("\"Public\""))
    }

    @Test func quotedIdentifiersAsEFCoreAndOtherToolsCreateThem() throws {
        // YAML single quotes around the entry keep the double quotes for the name.
        let parsed = try tables(#"['"Odd"."Order Lines"', 'public."Orders"', '"weird ""quoted"" name"', 'sales."a.b"', '"Zürich 流"']"#)
        #expect(parsed == [
            .init(schema: "Odd", table: "Order Lines"),
            .init(schema: "public", table: "Orders"),
            .init(schema: "public", table: "weird \"quoted\" name"),
            .init(schema: "sales", table: "a.b"),
            .init(schema: "public", table: "Zürich 流"),
        ])
        #expect(parsed.map(\.description) == [#""Odd"."Order Lines""#, #"public."Orders""#, #"public."weird ""quoted"" name""#,
                                               #"sales."a.b""#, #"public."Zürich 流""#])
        // A quoted lowercase name is the same table as the unquoted one.
        let error = try tableError(#"[orders, '"orders"']"#)
        #expect(error.message.contains("duplicate table"))
    }

    @Test func nulIsRefused() {
        #expect(QualifiedNameSyntax.split("public.\"t\u{0}\"") == .failure(.nul))
    }

    @Test func quotedNamesRoundTripThroughTheirDescription() throws {
        for name in ["Order Lines", "a\"b", "x.y", "UPPER", "lower", "$dollar", "ünï", " ", "a\"\"b"] {
            let written = QualifiedNameSyntax.quoted(name)
            #expect(try QualifiedNameSyntax.split("s.\(written)").get() == ["s", name], "\(written)")
        }
    }

    @Test func signalTableTakesQuotedIdentifiersToo() throws {
        var document = ConfigDocument()
        document.top = ["snapshot": #"{signal_table: '"Ops"."Debezium Signal"'}"#]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.snapshot.signalTable == .init(schema: "Ops", table: "Debezium Signal"))
    }

    @Test func identifierLengthLimit() throws {
        let ok = String(repeating: "t", count: 63)
        #expect(try tables("[\(ok)]") == [.init(schema: "public", table: ok)])
        let error = try tableError("[\(ok)t]")
        #expect(error.code == .invalidValue)
    }

    @Test func duplicateTablesRejected() throws {
        let error = try tableError("[orders, items, public.orders]")
        #expect(error.code == .invalidValue)
        #expect(error.path == "tables[2]")
        #expect(error.message.contains("tables[0]"))
    }

    @Test func nullOrNestedEntryRejected() throws {
        let null = try tableError("[orders, ~]")
        #expect(null.code == .wrongType)
        #expect(null.path == "tables[1]")
        #expect(null.message.contains("expected a table name"))
        let nested = try tableError("[{schema: public, table: orders}]")
        #expect(nested.code == .wrongType)
        #expect(nested.path == "tables[0]")
        #expect(nested.message.contains("got a mapping"))
    }
}
