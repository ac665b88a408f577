import ChangeEvent
import Yams

/// What Kafka Connect users configure as transforms: column masking (Debezium connector options in
/// `events`: `column.truncate.to.<N>.chars`, `column.mask.with.<N>.chars`,
/// `column.mask.hash[.v2].<algorithm>.with.salt.<salt>`) and flattened records (the `flatten` section,
/// ExtractNewRecordState's options). See docs/transforms.md.
extension ConfigurationReader {
    /// The `events` keys that are masking options, in document order (their names carry N, the algorithm
    /// and the salt, so they are not in `Keys.events`). Only their prefix is looked at here:
    /// `readColumnMasks` rejects one that is not a valid option, naming it.
    func columnMaskKeys(_ top: Section) throws(ConfigurationError) -> [String] {
        guard let node = top["events"], !Self.isNull(node), case .mapping = node else { return [] }
        return try mapping(node, path: top.path("events"), expected: "a mapping").map(\.key)
            .filter { $0.hasPrefix("column.truncate.") || $0.hasPrefix("column.mask.") }
    }

    /// The masking rules of `events`, in Debezium's order: truncations, masks with characters, v1 hashes,
    /// v2 hashes (the first rule that matches a column wins), each kind in document order.
    func readColumnMasks(_ events: Section, keys: [String]) throws(ConfigurationError) -> [ColumnMaskRule] {
        var rules: [ColumnMaskRule] = []
        for key in keys {
            let path = events.path(key)
            let mask: ColumnMask
            do throws(ColumnMask.OptionError) {
                guard let parsed = try ColumnMask.parse(option: key) else { continue }
                mask = parsed
            } catch {
                throw ConfigurationError(code: .invalidValue, path: path, message: error.message)
            }
            guard let value = try scalar(events[key], path: path,
                                         expected: "a comma-separated list of regular expressions matched against schema.table.column") else {
                continue
            }
            let patterns = value.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !patterns.isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: path,
                                         message: "expected a comma-separated list of regular expressions matched against schema.table.column, e.g. public.customers.email")
            }
            for pattern in patterns { try Self.requireRegex(pattern, path: path, secret: value.secret) }
            rules.append(ColumnMaskRule(option: key, mask: mask, columns: patterns))
        }
        return rules.enumerated().sorted { ($0.element.mask.kindOrder, $0.offset) < ($1.element.mask.kindOrder, $1.offset) }
            .map(\.element)
    }

    /// The `flatten` section; nil when absent (records are change event envelopes).
    func readFlatten(_ top: Section) throws(ConfigurationError) -> FlattenOptions? {
        // `flatten: {}` asks for flattened records with every default.
        guard let flatten = try optionalSection(top, "flatten", allowed: Keys.flatten) else { return nil }
        func text(_ key: String, default value: String) throws(ConfigurationError) -> String {
            try scalar(flatten[key], path: flatten.path(key), expected: "a string")?.text ?? value
        }
        func fields(_ key: String, prefix: String) throws(ConfigurationError) -> [FlattenField] {
            let list = try text(key, default: "")
            var result: [FlattenField] = []
            for entry in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
                do throws(FlattenField.ParseError) {
                    result.append(try FlattenField.parse(entry, prefix: prefix))
                } catch {
                    throw ConfigurationError(code: .invalidValue, path: flatten.path(key), message: error.message)
                }
            }
            return result
        }
        let route = try text("route.by.field", default: "").trimmingCharacters(in: .whitespaces)
        return FlattenOptions(
            deleteTombstoneHandling: try enumeration(flatten, "delete.tombstone.handling.mode", default: .tombstone),
            addFields: try fields("add.fields", prefix: try text("add.fields.prefix", default: "__")),
            addHeaders: try fields("add.headers", prefix: try text("add.headers.prefix", default: "__")),
            routeByField: route.isEmpty ? nil : route)
    }
}
