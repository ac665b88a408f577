/// Debezium's include/exclude lists: comma-separated regular expressions, each matched against the
/// whole name (Java's `Matcher.matches()`); table and column lists ignore case (Debezium compiles them
/// with CASE_INSENSITIVE). An include list admits only what it matches; an exclude list admits
/// everything it does not match; no list admits everything.
public struct NameFilter: @unchecked Sendable {
    // Regex is not Sendable; the filter is built once and only read afterwards.
    private let include: [Regex<AnyRegexOutput>]?
    private let exclude: [Regex<AnyRegexOutput>]?

    public init(include: [String]?, exclude: [String]?, ignoringCase: Bool) {
        // The configuration reader has already rejected patterns that do not compile.
        func compile(_ pattern: String) -> Regex<AnyRegexOutput>? {
            guard let regex = try? Regex(pattern) else { return nil }
            return ignoringCase ? regex.ignoresCase() : regex
        }
        self.include = include.map { $0.compactMap(compile) }
        self.exclude = exclude.map { $0.compactMap(compile) }
    }

    public func accepts(_ name: String) -> Bool {
        if let include { return include.contains { (try? $0.wholeMatch(in: name)) != nil } }
        if let exclude { return !exclude.contains { (try? $0.wholeMatch(in: name)) != nil } }
        return true
    }
}
