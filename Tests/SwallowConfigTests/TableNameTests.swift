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

    @Test(arguments: ["public.", ".orders", "Public.orders", "public.Orders", "public.\"Orders\"", "my-schema.t",
                      "1abc", "public . orders"])
    func invalidIdentifiersRejected(name: String) throws {
        let error = try tableError("['\(name)']")
        #expect(error.code == .invalidValue)
        #expect(error.path == "tables[0]")
        #expect(error.message.contains("[a-z_][a-z0-9_$]*"))
        #expect(error.message.contains("quoted identifiers are not supported"))
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
