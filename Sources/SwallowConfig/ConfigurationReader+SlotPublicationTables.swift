/// The `slot` and `publication` sections and the `tables` list, with PostgreSQL's identifier rules.
extension ConfigurationReader {
    func readSlot(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Slot {
        let slot = try requiredSection(top, "slot", allowed: Keys.slot, required: ["name"])
        let value = try requiredString(slot, "name", expected: "a replication slot name ([a-z0-9_]{1,63})",
                                       example: "name: swallow")
        let name = value.text
        guard !name.isEmpty, name.utf8.count <= Limits.identifierBytes,
              name.unicodeScalars.allSatisfy({ Self.isLowerAlnumOrUnderscore($0) }) else {
            throw ConfigurationError(
                code: .invalidValue, path: slot.path("name"),
                message: "expected a replication slot name of 1 to 63 lowercase letters, digits or underscores ([a-z0-9_]{1,63}, PostgreSQL's rule), got \(value.shown)")
        }
        let create = try boolean(slot, "create", default: true)
        let failover = try boolean(slot, "failover", default: false)
        return SwallowConfiguration.Slot(name: name, create: create, failover: failover)
    }

    func readPublication(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Publication {
        let publication = try requiredSection(top, "publication", allowed: Keys.publication, required: ["name"])
        let value = try requiredString(publication, "name",
                                       expected: "a publication name (a lowercase identifier, [a-z_][a-z0-9_$]*)",
                                       example: "name: swallow")
        let name = value.text
        guard Self.isIdentifier(name) else {
            throw ConfigurationError(
                code: .invalidValue, path: publication.path("name"),
                message: "expected a publication name that is an unquoted lowercase PostgreSQL identifier ([a-z_][a-z0-9_$]*, at most 63 bytes), got \(value.shown)")
        }
        let create = try boolean(publication, "create", default: true)
        return SwallowConfiguration.Publication(
            name: name, create: create,
            publishViaPartitionRoot: try boolean(publication, "publish_via_partition_root", default: false),
            rowFilters: try readRowFilters(publication), columnLists: try readColumnLists(publication))
    }

    func readTables(_ top: Section) throws(ConfigurationError) -> [SwallowConfiguration.TableName] {
        let path = top.path("tables")
        let expected = "a sequence of table names (`schema.table` or `table`), e.g. `tables: [public.orders, order_items]`"
        guard let node = top["tables"], !Self.isNull(node) else { return [] }
        guard case .sequence(let sequence) = node else {
            throw wrongType(path: path, expected: expected, found: node, secret: false)
        }
        try Self.rejectTag(sequence.tag, isPlain: true, path: path)
        var tables: [SwallowConfiguration.TableName] = []
        var firstIndex: [SwallowConfiguration.TableName: Int] = [:]
        for (index, item) in sequence.enumerated() {
            let itemPath = "\(path)[\(index)]"
            guard let value = try scalar(item, path: itemPath, expected: "a table name (`schema.table` or `table`)") else {
                throw ConfigurationError(
                    code: .wrongType, path: itemPath,
                    message: "expected a table name (`schema.table` or `table`), got null")
            }
            let table = try Self.tableName(value, path: itemPath)
            if let first = firstIndex[table] {
                throw ConfigurationError(
                    code: .invalidValue, path: itemPath,
                    message: "duplicate table \(table) (already listed as \(path)[\(first)]); list each table once")
            }
            firstIndex[table] = index
            tables.append(table)
        }
        return tables
    }

    /// `schema.table` or `table` (meaning `public.table`), each part written as PostgreSQL reads it: an
    /// unquoted lowercase identifier, or a double-quoted one (`"Order Lines"`, `""` for a quote inside)
    /// for mixed case, spaces and other characters, as EF Core and many tools name tables. An unquoted
    /// part with upper-case letters is refused rather than folded to lower case as PostgreSQL would:
    /// `Orders` most likely means the table `"Orders"`, and capturing `orders` instead would be silent.
    static func tableName(_ value: ScalarValue, path: String) throws(ConfigurationError) -> SwallowConfiguration.TableName {
        let text = value.text, shown = value.shown
        let form = "expected `schema.table` or `table` (meaning public.table), each part an unquoted lowercase PostgreSQL identifier ([a-z_][a-z0-9_$]*) or a double-quoted one (\"Order Lines\"), at most 63 bytes"
        guard !text.isEmpty else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "empty table name; expected `schema.table` or `table` (meaning public.table)")
        }
        let parts: [String]
        switch QualifiedNameSyntax.split(text) {
        case .success(let split):
            parts = split
        case .failure(let problem):
            throw ConfigurationError(code: .invalidValue, path: path, message: "\(form); \(shown): \(problem.description)")
        }
        guard parts.count <= 2 else {
            throw ConfigurationError(
                code: .invalidValue, path: path,
                message: "expected `schema.table` or `table` (meaning public.table), got \(shown) with \(parts.count) dot-separated parts (a dot inside a name needs double quotes)")
        }
        return parts.count == 2
            ? SwallowConfiguration.TableName(schema: parts[0], table: parts[1])
            : SwallowConfiguration.TableName(schema: "public", table: parts[0])
    }

    /// Unquoted lowercase PostgreSQL identifier: `[a-z_][a-z0-9_$]*`, 1...63 bytes.
    static func isIdentifier(_ text: String) -> Bool {
        text.utf8.count <= Limits.identifierBytes && QualifiedNameSyntax.isUnquotedIdentifier(text)
    }

    static func isLowerAlnumOrUnderscore(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_"
    }
}
