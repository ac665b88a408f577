import Yams

/// The document walker: mappings and sections with their key checks (unknown keys, "did you mean"),
/// YAML syntax errors, and node helpers.
extension ConfigurationReader {
    struct Section {
        let prefix: String
        let values: [String: Node]

        func path(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }
        subscript(key: String) -> Node? { values[key] }
    }

    struct Entry {
        let key: String
        let path: String
        let value: Node
    }

    /// The entries of a mapping node, in document order, with string keys that occur once.
    func mapping(_ node: Node, path: String, expected: String) throws(ConfigurationError) -> [Entry] {
        guard case .mapping(let mapping) = node else {
            throw wrongType(path: path, expected: expected, found: node, secret: false)
        }
        try Self.rejectTag(mapping.tag, isPlain: true, path: path)
        var entries: [Entry] = []
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw ConfigurationError(
                    code: .wrongType, path: path,
                    message: "mapping keys must be plain strings, found a \(Self.kind(keyNode)) used as a key")
            }
            let key = keyScalar.string
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard seen.insert(key).inserted else {
                throw ConfigurationError(code: .invalidYAML, path: keyPath,
                                         message: "duplicate key; each key may appear only once in a mapping")
            }
            entries.append(Entry(key: key, path: keyPath, value: value))
        }
        return entries
    }

    /// A mapping whose keys must all be in `allowed`.
    func section(_ node: Node, path: String, allowed: [String], expected: String) throws(ConfigurationError) -> Section {
        let entries = try mapping(node, path: path, expected: expected)
        for entry in entries where !allowed.contains(entry.key) {
            throw unknownKey(entry, in: path, allowed: allowed)
        }
        var values: [String: Node] = [:]
        for entry in entries { values[entry.key] = entry.value }
        return Section(prefix: path, values: values)
    }

    /// The optional section `key` of `top`, checked for unknown keys; nil when absent or null.
    func optionalSection(_ top: Section, _ key: String, allowed: [String]) throws(ConfigurationError) -> Section? {
        guard let node = top[key], !Self.isNull(node) else { return nil }
        let noun = allowed.count == 1 ? "key" : "keys"
        return try section(node, path: top.path(key), allowed: allowed,
                           expected: "a mapping with the optional \(noun) \(Self.list(allowed))")
    }

    func requiredSection(_ parent: Section, _ key: String, allowed: [String],
                         required: [String]) throws(ConfigurationError) -> Section {
        let path = parent.path(key)
        let optional = allowed.filter { !required.contains($0) }
        let expected = "a mapping with the keys \(Self.list(required)) (required) and \(Self.list(optional)) (optional)"
        guard let node = parent[key], !Self.isNull(node) else {
            throw ConfigurationError(code: .missingKey, path: path,
                                     message: "missing required section; expected \(expected)")
        }
        return try section(node, path: path, allowed: allowed, expected: expected)
    }

    func unknownKey(_ entry: Entry, in path: String, allowed: [String]) -> ConfigurationError {
        var hint: String?
        if let suggestion = Self.suggestion(for: entry.key, among: allowed) {
            hint = "did you mean `\(suggestion)`?"
        } else if entry.key == "<<" {
            hint = "YAML merge keys are not supported"
        } else if path.isEmpty {
            let homes = Keys.sections.filter { $0.keys.contains(entry.key) }.map { "`\($0.name).\(entry.key)`" }
            if !homes.isEmpty {
                hint = "did you mean \(homes.joined(separator: " or "))? this key belongs inside a section"
            }
        } else if path == "kafka", entry.key.contains(".") {
            hint = "librdkafka settings go under `kafka.properties`"
        }
        let hintText = hint.map { " (\($0))" } ?? ""
        return ConfigurationError(code: .unknownKey, path: entry.path,
                                  message: "unknown key\(hintText); allowed keys: \(allowed.joined(separator: ", "))")
    }

    static func yamlError(_ error: any Error, yaml: String) -> ConfigurationError {
        func located(_ mark: Mark, _ problem: String, _ context: YamlError.Context?) -> String {
            var message = "invalid YAML at line \(mark.line), column \(mark.column): \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line), column \(context.mark.column))"
            }
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            if mark.line >= 1, mark.line <= lines.count,
               lines[mark.line - 1].prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                message += "; indent with spaces, YAML does not allow tabs for indentation"
            }
            return message
        }
        // Yams' own descriptions quote the offending source line, which may hold a secret: build our own.
        guard let yamlError = error as? YamlError else {
            return ConfigurationError(code: .invalidYAML, path: "", message: "invalid YAML")
        }
        let message: String
        switch yamlError {
        case let .composer(_, problem, mark, _) where problem.contains("another document"):
            message = "invalid YAML at line \(mark.line), column \(mark.column): found a second document; the configuration must be a single YAML document (remove the extra `---`)"
        case let .scanner(context, problem, mark, _),
             let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            message = located(mark, problem, context)
        case let .reader(problem, offset, _, _):
            message = "invalid YAML input\(offset.map { " at byte \($0)" } ?? ""): \(problem)"
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "`\($0)`" }.joined(separator: ", ")
            message = "duplicate key \(keys) (first at line \(context.mark.line), column \(context.mark.column)); each key may appear only once in a mapping"
        default:
            message = "invalid YAML"
        }
        return ConfigurationError(code: .invalidYAML, path: "", message: message)
    }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// Explicit YAML tags (`!!str`, `!!int`, `!custom`) are rejected rather than silently ignored.
    /// Untagged plain nodes have the implicit (empty) tag; untagged quoted scalars get `!!str` from libyaml.
    static func rejectTag(_ tag: Tag, isPlain: Bool, path: String) throws(ConfigurationError) {
        let name = tag.rawValue
        if name.isEmpty || (!isPlain && name == Tag.Name.str.rawValue) { return }
        throw ConfigurationError(
            code: .wrongType, path: path,
            message: "explicit YAML tags (\(name)) are not supported; remove the tag (string values may be quoted instead)")
    }

    static func kind(_ node: Node) -> String {
        switch node {
        case .scalar: "scalar"
        case .mapping: "mapping"
        case .sequence: "sequence"
        case .alias: "alias"
        }
    }

    static func list(_ keys: [String]) -> String { keys.joined(separator: ", ") }

    /// The closest candidate within edit distance 2 (ties: first in `candidates` order); failing that,
    /// a candidate of at least 3 characters that is a prefix of `word` or has `word` as a prefix
    /// (`hostname` -> `host`, `connect` -> `connect_timeout_s`).
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        let word = word.lowercased()
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let distance = editDistance(word, candidate)
            if distance <= 2, distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        if let best { return best.candidate }
        return candidates.first { candidate in
            min(candidate.count, word.count) >= 3 && (word.hasPrefix(candidate) || candidate.hasPrefix(word))
        }
    }

    /// Levenshtein distance over Characters.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
