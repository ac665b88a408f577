import Foundation
import Yams

/// `publication.row_filters` and `publication.columns`: what the publication Swallow creates publishes of
/// each table (PostgreSQL 15+'s `FOR TABLE t (columns) WHERE (expression)`).
extension ConfigurationReader {
    /// `row_filters: {public.orders: "status <> 'draft'"}`: per table, a SQL boolean expression.
    func readRowFilters(_ publication: Section) throws(ConfigurationError) -> [SwallowConfiguration.TableName: String] {
        var filters: [SwallowConfiguration.TableName: String] = [:]
        for (table, entry) in try tableMapping(publication, "row_filters") {
            guard let value = try scalar(entry.value, path: entry.path, expected: "a SQL boolean expression"),
                  !value.text.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: entry.path,
                                         message: "expected a SQL boolean expression over the table's columns, e.g. \"status <> 'draft'\"")
            }
            filters[table] = value.text
        }
        return filters
    }

    /// `columns: {public.customers: [id, email]}`: per table, the columns published, each an unquoted
    /// lowercase identifier or a double-quoted name.
    func readColumnLists(_ publication: Section) throws(ConfigurationError) -> [SwallowConfiguration.TableName: [String]] {
        var lists: [SwallowConfiguration.TableName: [String]] = [:]
        let expected = "a list of column names, e.g. [id, email] (double-quoted for mixed case: '\"Email\"')"
        for (table, entry) in try tableMapping(publication, "columns") {
            guard case .sequence(let sequence) = entry.value, sequence.count > 0 else {
                throw wrongType(path: entry.path, expected: "a non-empty " + expected, found: entry.value, secret: false)
            }
            var columns: [String] = []
            for (index, item) in sequence.enumerated() {
                let itemPath = "\(entry.path)[\(index)]"
                guard let value = try scalar(item, path: itemPath, expected: "a column name") else {
                    throw ConfigurationError(code: .wrongType, path: itemPath, message: "expected a column name, got null")
                }
                guard case .success(let parts) = QualifiedNameSyntax.split(value.text), parts.count == 1 else {
                    throw ConfigurationError(code: .invalidValue, path: itemPath,
                                             message: "\(value.shown) is not a column name; expected an unquoted lowercase identifier or a double-quoted name")
                }
                guard !columns.contains(parts[0]) else {
                    throw ConfigurationError(code: .invalidValue, path: itemPath, message: "duplicate column \(value.shown); list each column once")
                }
                columns.append(parts[0])
            }
            lists[table] = columns
        }
        return lists
    }

    /// A mapping whose keys are table names (as `tables:` writes them), each table once.
    private func tableMapping(_ section: Section, _ key: String) throws(ConfigurationError)
        -> [(SwallowConfiguration.TableName, Entry)] {
        guard let node = section[key], !Self.isNull(node) else { return [] }
        let entries = try mapping(node, path: section.path(key),
                                  expected: "a mapping from table names (`schema.table` or `table`) to their settings")
        var seen: [SwallowConfiguration.TableName: String] = [:]
        var result: [(SwallowConfiguration.TableName, Entry)] = []
        for entry in entries {
            let table = try Self.tableName(ScalarValue(text: entry.key, quoted: false, secret: false), path: entry.path)
            if let first = seen[table] {
                throw ConfigurationError(code: .invalidValue, path: entry.path,
                                         message: "table \(table) is already configured as \(first); configure each table once")
            }
            seen[table] = entry.path
            result.append((table, entry))
        }
        return result
    }
}

extension ConfigurationReader {
    /// A row filter or column list is part of a `FOR TABLE` publication: its table must be in `tables`
    /// (without `tables`, Swallow creates a publication `FOR ALL TABLES`, which takes neither).
    static func checkPublicationFilters(_ publication: SwallowConfiguration.Publication,
                                        tables: [SwallowConfiguration.TableName]) throws(ConfigurationError) {
        let listed = Set(tables)
        for (key, configured) in [("row_filters", Array(publication.rowFilters.keys)), ("columns", Array(publication.columnLists.keys))] {
            for table in configured.sorted(by: { $0.description < $1.description }) where !listed.contains(table) {
                throw ConfigurationError(
                    code: .invalidValue, path: "publication.\(key).\(table)",
                    message: tables.isEmpty
                        ? "a row filter or column list needs a publication FOR TABLE: list the captured tables in `tables:` (a publication FOR ALL TABLES takes neither)"
                        : "table \(table) is not in `tables:`; add it there or remove this entry")
            }
        }
    }
}
