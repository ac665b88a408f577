import SwallowConfig
import Testing

/// `publication.publish_via_partition_root`, `publication.row_filters` and `publication.columns`.
@Suite struct PublicationFiltersConfigTests {
    private func document(_ publication: String, tables: String? = #"[public.orders, '"Sales"."Order Lines"', customers]"#) -> ConfigDocument {
        var document = ConfigDocument()
        document.top["publication"] = publication
        if let tables { document.top["tables"] = tables }
        return document
    }

    @Test func defaultsPublishEverythingAsThePartitions() throws {
        let publication = try Config.parse(yaml: ConfigDocument().yaml, environment: [:]).publication
        #expect(!publication.publishViaPartitionRoot)
        #expect(publication.rowFilters.isEmpty && publication.columnLists.isEmpty)
    }

    @Test func filtersAndColumnsPerTableWithQuotedNames() throws {
        let yaml = document(#"{name: swallow, publish_via_partition_root: true, row_filters: {public.orders: "status <> 'draft'", '"Sales"."Order Lines"': "qty > 0"}, columns: {customers: [id, email, '"Phone"']}}"#).yaml
        let publication = try Config.parse(yaml: yaml, environment: [:]).publication
        #expect(publication.publishViaPartitionRoot)
        #expect(publication.rowFilters == [Config.TableName(schema: "public", table: "orders"): "status <> 'draft'",
                                           Config.TableName(schema: "Sales", table: "Order Lines"): "qty > 0"])
        #expect(publication.columnLists == [Config.TableName(schema: "public", table: "customers"): ["id", "email", "Phone"]])
    }

    @Test func badEntriesNameTheirKey() {
        // A filtered table must be in `tables` (without `tables` the publication is FOR ALL TABLES).
        let unlisted = parseError(document(#"{name: swallow, row_filters: {public.invoices: "id > 1"}}"#))
        #expect(unlisted?.path == "publication.row_filters.public.invoices")
        #expect(unlisted?.message.contains("not in `tables:`") == true)
        let allTables = parseError(document("{name: swallow, columns: {public.orders: [id]}}", tables: nil))
        #expect(allTables?.message.contains("FOR ALL TABLES") == true)
        #expect(parseError(document("{name: swallow, columns: {public.orders: []}}"))?.path == "publication.columns.public.orders")
        #expect(parseError(document("{name: swallow, columns: {public.orders: id}}"))?.path == "publication.columns.public.orders")
        #expect(parseError(document("{name: swallow, columns: {public.orders: [id, Email]}}"))?.path == "publication.columns.public.orders[1]")
        #expect(parseError(document("{name: swallow, columns: {public.orders: [id, id]}}"))?.message.contains("duplicate") == true)
        #expect(parseError(document("{name: swallow, row_filters: {public.orders: ''}}"))?.path == "publication.row_filters.public.orders")
        #expect(parseError(document("{name: swallow, row_filters: {Orders: 'id > 1'}}"))?.path == "publication.row_filters.Orders")
        #expect(parseError(document("{name: swallow, row_filters: {orders: 'id > 1', public.orders: 'id > 2'}}"))?.message.contains("already configured") == true)
        #expect(parseError(document("{name: swallow, publish_via_partition_root: yes please}"))?.path == "publication.publish_via_partition_root")
        #expect(parseError(document("{name: swallow, row_filter: {}}"))?.path == "publication.row_filter")
    }
}
