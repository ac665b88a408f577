import Foundation

/// The `events` section: Debezium's event options, under Debezium's names.
extension ConfigurationReader {
    func readEvents(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Events {
        let defaults = SwallowConfiguration.Events()
        let maskKeys = try columnMaskKeys(top)
        guard let events = try optionalSection(top, "events", allowed: Keys.events + maskKeys) else { return defaults }
        let tombstones = try boolean(events, "tombstones.on.delete", default: defaults.tombstonesOnDelete)

        var skipped = defaults.skippedOperations
        let skippedPath = events.path("skipped.operations")
        if let value = try scalar(events["skipped.operations"], path: skippedPath,
                                  expected: "a comma-separated list of c, u, d, t, or none") {
            skipped = []
            let letters = value.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if letters != ["none"] {
                for letter in letters {
                    guard let operation = SwallowConfiguration.Events.Operation(rawValue: letter) else {
                        throw ConfigurationError(
                            code: .invalidValue, path: skippedPath,
                            message: "expected a comma-separated list of c (create), u (update), d (delete), t (truncate), or none; got \(value.shown)")
                    }
                    skipped.insert(operation)
                }
            }
        }

        let placeholder = try scalar(events["unavailable.value.placeholder"],
                                     path: events.path("unavailable.value.placeholder"), expected: "a string")?.text
            ?? defaults.unavailableValuePlaceholder

        func regexList(_ key: String) throws(ConfigurationError) -> [String]? {
            let path = events.path(key)
            guard let value = try scalar(events[key], path: path, expected: "a comma-separated list of regular expressions") else {
                return nil
            }
            let patterns = value.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for pattern in patterns { try Self.requireRegex(pattern, path: path, secret: value.secret) }
            return patterns
        }
        func exclusive(_ includeKey: String, _ excludeKey: String) throws(ConfigurationError) -> ([String]?, [String]?) {
            let include = try regexList(includeKey)
            let exclude = try regexList(excludeKey)
            if include != nil && exclude != nil {
                throw ConfigurationError(code: .invalidValue, path: events.path(excludeKey),
                                         message: "set either \(includeKey) or \(excludeKey), not both (as in Debezium)")
            }
            return (include, exclude)
        }
        let (include, exclude) = try exclusive("message.prefix.include.list", "message.prefix.exclude.list")
        let (tableInclude, tableExclude) = try exclusive("table.include.list", "table.exclude.list")
        let (columnInclude, columnExclude) = try exclusive("column.include.list", "column.exclude.list")

        var result = SwallowConfiguration.Events(
            tombstonesOnDelete: tombstones, skippedOperations: skipped,
            unavailableValuePlaceholder: placeholder,
            messagePrefixIncludeList: include, messagePrefixExcludeList: exclude,
            decimalHandling: try enumeration(events, "decimal.handling.mode", default: defaults.decimalHandling),
            timePrecision: try enumeration(events, "time.precision.mode", default: defaults.timePrecision),
            binaryHandling: try enumeration(events, "binary.handling.mode", default: defaults.binaryHandling),
            intervalHandling: try enumeration(events, "interval.handling.mode", default: defaults.intervalHandling),
            hstoreHandling: try enumeration(events, "hstore.handling.mode", default: defaults.hstoreHandling),
            unknownTypeHandling: try enumeration(events, "unknown.type.handling.mode", default: defaults.unknownTypeHandling),
            includeSchemas: try boolean(events, "envelope.schemas", default: defaults.includeSchemas),
            provideTransactionMetadata: try boolean(events, "provide.transaction.metadata",
                                                    default: defaults.provideTransactionMetadata),
            messageKeyColumns: try readMessageKeyColumns(events),
            tableIncludeList: tableInclude, tableExcludeList: tableExclude,
            columnIncludeList: columnInclude, columnExcludeList: columnExclude,
            extendedHeadersEnabled: try boolean(events, "extended.headers.enabled", default: defaults.extendedHeadersEnabled))
        result.format = try enumeration(events, "format", default: defaults.format)
        result.columnMasks = try readColumnMasks(events, keys: maskKeys)
        result.fieldNameAdjustment = try enumeration(events, "field.name.adjustment.mode", default: defaults.fieldNameAdjustment)
        if result.format == .avro, result.includeSchemas {
            throw ConfigurationError(
                code: .invalidValue, path: events.path("envelope.schemas"),
                message: "envelope.schemas writes Connect schemas into JSON records; with events.format: avro the schemas go to the Schema Registry instead. Remove envelope.schemas")
        }
        return result
    }

    /// Debezium's `message.key.columns`: `<table regex>:<column>,<column>;<table regex>:<column>...`,
    /// where the table expression is matched against `schema.table`.
    func readMessageKeyColumns(_ events: Section) throws(ConfigurationError) -> [SwallowConfiguration.Events.KeyColumns] {
        let path = events.path("message.key.columns")
        let expected = "entries like `public.orders:id,region;inventory.(.*):code` (table regular expression, colon, columns; entries separated by semicolons)"
        guard let value = try scalar(events["message.key.columns"], path: path, expected: expected) else { return [] }
        var entries: [SwallowConfiguration.Events.KeyColumns] = []
        for entry in value.text.split(separator: ";") {
            let text = entry.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            let shownEntry = SecretValue.quoted(text, secret: value.secret, placeholder: "an entry")
            // The table expression may itself contain colons only inside a regex class, which Debezium
            // does not support either: split at the last colon.
            guard let colon = text.lastIndex(of: ":") else {
                throw ConfigurationError(code: .invalidValue, path: path,
                                         message: "\(shownEntry) has no `:`; expected \(expected)")
            }
            let table = text[..<colon].trimmingCharacters(in: .whitespaces)
            let columns = text[text.index(after: colon)...].split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !table.isEmpty, !columns.isEmpty else {
                throw ConfigurationError(code: .invalidValue, path: path,
                                         message: "\(shownEntry) needs a table expression and at least one column; expected \(expected)")
            }
            try Self.requireRegex(table, path: path, secret: value.secret)
            entries.append(.init(table: table, columns: columns))
        }
        return entries
    }

    static func requireRegex(_ pattern: String, path: String, secret: Bool) throws(ConfigurationError) {
        guard (try? Regex(pattern)) != nil else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "\(SecretValue.quoted(pattern, secret: secret, placeholder: "a pattern")) is not a valid regular expression")
        }
    }
}
