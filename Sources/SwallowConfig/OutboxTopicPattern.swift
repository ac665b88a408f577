/// The topic of a routed outbox event: Kafka Connect's `RegexRouter` as Debezium's EventRouter configures
/// it (`route.topic.regex`, `route.topic.replacement`): when the regex matches the whole routed value,
/// its first match is replaced by the replacement, in `java.util.regex.Matcher.appendReplacement`'s
/// syntax (`$1`, `${name}`, `\$` for a literal dollar); a value it does not match is the topic as it is.
///
///     regex (?<routedByValue>.*)   replacement outbox.event.${routedByValue}   "order" -> "outbox.event.order"
public struct OutboxTopicPattern: @unchecked Sendable {
    // Regex is not Sendable; the pattern is built once and only read afterwards.
    private let regex: Regex<AnyRegexOutput>
    private let replacement: [Piece]

    /// The capturing groups of a pattern: how many, and the names of the named ones.
    public struct Groups: Sendable, Equatable {
        public var count: Int
        public var names: [String]

        public init(count: Int, names: [String]) {
            self.count = count
            self.names = names
        }
    }

    public struct Problem: Error, Sendable, Equatable {
        public var reason: String
    }

    enum Piece: Equatable {
        case literal(String)
        case group(Int)
        case named(String)
    }

    /// nil when the regex does not compile or the replacement names a group the regex does not have
    /// (the configuration reader reports both, naming the key).
    public init?(regex pattern: String, replacement: String) {
        guard let regex = try? Regex(pattern), case .success(let groups) = Self.groups(of: pattern),
              case .success(let pieces) = Self.pieces(of: replacement, groups: groups) else { return nil }
        self.regex = regex
        self.replacement = pieces
    }

    /// The topic for `value`.
    public func topic(for value: String) -> String {
        guard (try? regex.wholeMatch(in: value)) != nil, let match = try? regex.firstMatch(in: value) else { return value }
        var result = String(value[..<match.range.lowerBound])
        for piece in replacement {
            switch piece {
            case .literal(let text): result += text
            case .group(let index):
                if index < match.output.count, let text = match.output[index].substring { result += text }
            case .named(let name):
                if let text = match.output[name]?.substring { result += text }
            }
        }
        result += value[match.range.upperBound...]
        return result
    }

    /// The capturing groups of `pattern` (which must compile), counted as Java numbers them: every `(`
    /// that is not escaped, not in a character class, and not a `(?` construct other than `(?<name>`.
    public static func groups(of pattern: String) -> Result<Groups, Problem> {
        do { _ = try Regex(pattern) } catch { return .failure(Problem(reason: "\(error)")) }
        let characters = Array(pattern)
        var groups = Groups(count: 0, names: [])
        var index = 0
        var inClass = false
        while index < characters.count {
            let character = characters[index]
            if character == "\\" { index += 2; continue }
            if inClass {
                if character == "]" { inClass = false }
            } else if character == "[" {
                inClass = true
            } else if character == "(" {
                if index + 1 < characters.count, characters[index + 1] == "?" {
                    if index + 3 < characters.count, characters[index + 2] == "<",
                       characters[index + 3] != "=", characters[index + 3] != "!" {
                        var end = index + 3
                        while end < characters.count, characters[end] != ">" { end += 1 }
                        groups.count += 1
                        groups.names.append(String(characters[(index + 3)..<end]))
                    }
                } else {
                    groups.count += 1
                }
            }
            index += 1
        }
        return .success(groups)
    }

    /// What is wrong with `replacement` for a regex with `groups`, as Java would refuse it; nil if fine.
    public static func replacementProblem(_ replacement: String, groups: Groups) -> String? {
        if case .failure(let problem) = pieces(of: replacement, groups: groups) { return problem.reason }
        return nil
    }

    /// `Matcher.appendReplacement`'s reading of a replacement: `\x` is `x`; `${name}` a named group; `$`
    /// and digits a group number, taking further digits while the number stays a group.
    static func pieces(of replacement: String, groups: Groups) -> Result<[Piece], Problem> {
        var pieces: [Piece] = []
        var literal = ""
        let characters = Array(replacement)
        var index = 0
        func flush() {
            if !literal.isEmpty { pieces.append(.literal(literal)); literal = "" }
        }
        while index < characters.count {
            let character = characters[index]
            if character == "\\" {
                guard index + 1 < characters.count else { return .failure(Problem(reason: "a `\\` at the end escapes nothing")) }
                literal.append(characters[index + 1])
                index += 2
            } else if character == "$" {
                guard index + 1 < characters.count else { return .failure(Problem(reason: "a `$` at the end names no group")) }
                if characters[index + 1] == "{" {
                    guard let close = characters[(index + 2)...].firstIndex(of: "}") else {
                        return .failure(Problem(reason: "`${` without its `}`"))
                    }
                    let name = String(characters[(index + 2)..<close])
                    guard groups.names.contains(name) else {
                        return .failure(Problem(reason: "the regex has no group named `\(name)`"))
                    }
                    flush()
                    pieces.append(.named(name))
                    index = close + 1
                } else if let first = characters[index + 1].wholeNumberValue {
                    guard first <= groups.count else {
                        return .failure(Problem(reason: "the regex has no group \(first)"))
                    }
                    var number = first
                    index += 2
                    while index < characters.count, let digit = characters[index].wholeNumberValue, number * 10 + digit <= groups.count {
                        number = number * 10 + digit
                        index += 1
                    }
                    flush()
                    pieces.append(.group(number))
                } else {
                    return .failure(Problem(reason: "`$` must be followed by a group number or `{name}` (write `\\$` for a dollar)"))
                }
            } else {
                literal.append(character)
                index += 1
            }
        }
        flush()
        return .success(pieces)
    }
}
