/// `topic_routing`: Debezium's `io.debezium.transforms.ByLogicalTableRouter`, with its option names: the
/// events of several tables (shards, partitions) go to one topic, their keys told apart by a field
/// naming the table's own topic.
extension SwallowConfiguration {
    public struct TopicRouting: Sendable, Equatable {
        /// `topic.regex`: matched against a table's whole topic (Java's `Matcher.matches()`).
        public var topicRegex: String
        /// `topic.replacement`: the new topic, with `$1`, `${name}` and `\` escapes as Java's
        /// `Matcher.replaceFirst` reads them.
        public var topicReplacement: String
        /// `key.enforce.uniqueness`: whether the key gets the field `keyFieldName`.
        public var keyEnforceUniqueness: Bool
        /// `key.field.name`.
        public var keyFieldName: String
        /// `key.field.regex` and `key.field.replacement`: the key field's value made from the table's
        /// own topic; nil: the topic itself.
        public var keyFieldRegex: String?
        public var keyFieldReplacement: String?
        /// `schema.name.adjustment.mode`: how the Connect schema names made from the new topic are
        /// adjusted (`avro`: characters Avro refuses become `_`).
        public var schemaNameAdjustmentMode: SchemaNameAdjustmentMode
        /// `logical.table.cache.size`: Debezium's LRU cache size; accepted for the same properties,
        /// unused (Swallow decides once per table, when its Relation message arrives).
        public var logicalTableCacheSize: Int

        public static let defaultKeyFieldName = "__dbz__physicalTableIdentifier"

        public enum SchemaNameAdjustmentMode: String, Sendable, Equatable, CaseIterable {
            case avro
            case none
        }

        public init(topicRegex: String, topicReplacement: String, keyEnforceUniqueness: Bool = true,
                    keyFieldName: String = Self.defaultKeyFieldName, keyFieldRegex: String? = nil,
                    keyFieldReplacement: String? = nil, schemaNameAdjustmentMode: SchemaNameAdjustmentMode = .avro,
                    logicalTableCacheSize: Int = 16) {
            self.topicRegex = topicRegex
            self.topicReplacement = topicReplacement
            self.keyEnforceUniqueness = keyEnforceUniqueness
            self.keyFieldName = keyFieldName
            self.keyFieldRegex = keyFieldRegex
            self.keyFieldReplacement = keyFieldReplacement
            self.schemaNameAdjustmentMode = schemaNameAdjustmentMode
            self.logicalTableCacheSize = logicalTableCacheSize
        }
    }
}

/// A replacement string as Java's `Matcher.appendReplacement` reads it: `$n` (the longest run of digits
/// that still names a group), `${name}`, `\x` for a literal `x`, anything else as it is. Parsed once,
/// against the number of groups and the group names of its regex, so a reference to a group that does
/// not exist is a configuration error (Java throws it on the first record).
public struct JavaReplacement: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case literal(String)
        case group(Int)
        case namedGroup(String)
    }

    public let parts: [Part]

    public init(_ text: String, groupCount: Int, groupNames: Set<String>) throws(ReplacementProblem) {
        var parts: [Part] = []
        var literal = ""
        var characters = Array(text)[...]
        while let character = characters.popFirst() {
            switch character {
            case "\\":
                guard let escaped = characters.popFirst() else { throw .trailingBackslash }
                literal.append(escaped)
            case "$":
                guard let next = characters.first else { throw .danglingDollar }
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                if next == "{" {
                    characters.removeFirst()
                    var name = ""
                    var closed = false
                    while let c = characters.popFirst() {
                        if c == "}" { closed = true; break }
                        name.append(c)
                    }
                    guard closed else { throw .unclosedGroupName(name) }
                    guard !name.isEmpty, name.first!.isASCII, name.first!.isLetter,
                          name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                        throw .badGroupName(name)
                    }
                    guard groupNames.contains(name) else { throw .noSuchNamedGroup(name) }
                    parts.append(.namedGroup(name))
                } else {
                    guard let first = next.wholeNumberValue, next.isASCII else { throw .danglingDollar }
                    characters.removeFirst()
                    var number = first
                    while let c = characters.first, c.isASCII, let digit = c.wholeNumberValue,
                          number * 10 + digit <= groupCount {
                        number = number * 10 + digit
                        characters.removeFirst()
                    }
                    guard number <= groupCount else { throw .noSuchGroup(number, groupCount: groupCount) }
                    parts.append(.group(number))
                }
            default:
                literal.append(character)
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    public enum ReplacementProblem: Error, Equatable, CustomStringConvertible {
        case trailingBackslash
        case danglingDollar
        case badGroupName(String)
        case noSuchNamedGroup(String)
        case noSuchGroup(Int, groupCount: Int)
        case unclosedGroupName(String)

        public var description: String {
            switch self {
            case .unclosedGroupName(let name): "`${\(name)` has no closing `}`"
            case .trailingBackslash: "it ends with a lone `\\` (write `\\\\` for a backslash)"
            case .danglingDollar: "a `$` is followed by neither a group number nor `{name}` (write `\\$` for a dollar sign)"
            case .badGroupName(let name): "`${\(name)}` is not a group name (letters and digits, a letter first)"
            case .noSuchNamedGroup(let name): "it refers to the group `\(name)`, which the regex does not name"
            case .noSuchGroup(let number, let count): "it refers to group \(number), and the regex has \(count == 0 ? "no groups" : count == 1 ? "1 group" : "\(count) groups")"
            }
        }
    }
}

/// A regular expression compiled for `topic_routing`, with what its replacement may refer to.
public struct RoutingRegex: @unchecked Sendable {
    // Regex is not Sendable; built once, only read afterwards.
    public let regex: Regex<AnyRegexOutput>
    public let groupCount: Int
    public let groupNames: Set<String>

    /// Nil when `pattern` does not compile.
    public init?(_ pattern: String) {
        guard let regex = try? Regex(pattern) else { return nil }
        self.regex = regex
        // The number of groups: the pattern with an empty alternative matches the empty string, and the
        // match has every group of the pattern (unset).
        guard let probe = try? Regex("(?:\(pattern))|"), let match = try? probe.wholeMatch(in: "") else { return nil }
        groupCount = match.output.count - 1
        groupNames = Set(match.output.compactMap(\.name))
    }

    /// Java's `matcher.matches()` then `matcher.replaceFirst(replacement)`: nil when the pattern does
    /// not match the whole of `text`; otherwise `text` with the first match replaced.
    public func replacingIfWholeMatch(_ text: String, with replacement: JavaReplacement) -> String? {
        guard (try? regex.wholeMatch(in: text)) != nil, let match = try? regex.firstMatch(in: text) else { return nil }
        var result = String(text[..<match.range.lowerBound])
        for part in replacement.parts {
            switch part {
            case .literal(let literal): result += literal
            case .group(let number): result += match.output[number].substring.map(String.init) ?? ""
            case .namedGroup(let name): result += match.output[name]?.substring.map(String.init) ?? ""
            }
        }
        result += text[match.range.upperBound...]
        return result
    }
}
