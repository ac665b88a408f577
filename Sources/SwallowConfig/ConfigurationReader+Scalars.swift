import Yams

/// Scalar values: `${...}` substitution, whether a value is secret, and the typed readers (strings,
/// integers, booleans, enumerations) with their type errors.
extension ConfigurationReader {
    struct ScalarValue {
        /// Text after `${...}` substitution.
        var text: String
        /// Quoted or block scalar: always a string, never a number or boolean.
        var quoted: Bool
        /// A secret by its key (the passwords, secret-looking Kafka properties) or because it was read
        /// from a file: error messages never quote it.
        var secret: Bool = false

        /// The value as error messages show it: quoted, or ``SecretValue/notShown``.
        var shown: String { SecretValue.quoted(text, secret: secret) }
    }

    /// The substituted text of a scalar value; `nil` when absent or null (`~`, `null`, empty). Whether
    /// it is secret follows from `path` (``SwallowConfiguration/isSecret(path:fileValued:)``).
    func scalar(_ node: Node?, path: String, expected: String) throws(ConfigurationError) -> ScalarValue? {
        guard let node else { return nil }
        let secretByKey = SwallowConfiguration.isSecretByKey(path: path)
        guard case .scalar(let scalar) = node else {
            throw wrongType(path: path, expected: expected, found: node, secret: secretByKey)
        }
        if Self.isNull(node) { return nil }
        let isPlain = scalar.style == .plain || scalar.style == .any
        try Self.rejectTag(scalar.tag, isPlain: isPlain, path: path)
        let result = try EnvironmentSubstitution.apply(scalar.string, path: path, secret: secretByKey,
                                                       environment: environment)
        if result.readFile { fileValued.paths.insert(path) }
        return ScalarValue(text: result.text, quoted: !isPlain,
                           secret: SwallowConfiguration.isSecret(path: path, fileValued: fileValued.paths))
    }

    /// A non-empty string value (its text is `.text`).
    func requiredString(_ section: Section, _ key: String, expected: String,
                        example: String) throws(ConfigurationError) -> ScalarValue {
        let path = section.path(key)
        guard let value = try scalar(section[key], path: path, expected: expected) else {
            throw ConfigurationError(code: .missingKey, path: path,
                                     message: "missing required key; expected \(expected), e.g. `\(example)`")
        }
        guard !value.text.isEmpty else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "must not be empty; expected \(expected), e.g. `\(example)`")
        }
        return value
    }

    func integer(_ section: Section, _ key: String, range: ClosedRange<Int>,
                 default defaultValue: Int) throws(ConfigurationError) -> Int {
        let path = section.path(key)
        let expected = "an integer \(range.lowerBound)..\(range.upperBound)"
        guard let value = try scalar(section[key], path: path, expected: expected) else { return defaultValue }
        guard let number = Self.decimalInteger(value.text) else {
            throw ConfigurationError(code: .wrongType, path: path,
                                     message: "expected \(expected), got \(value.shown)")
        }
        guard !value.quoted else {
            throw ConfigurationError(
                code: .wrongType, path: path,
                message: "expected \(expected), got the quoted string \(value.shown); write the number without quotes")
        }
        guard range.contains(number) else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "expected \(expected), got \(number)")
        }
        return number
    }

    func boolean(_ section: Section, _ key: String, default defaultValue: Bool) throws(ConfigurationError) -> Bool {
        let path = section.path(key)
        let expected = "a boolean (true or false)"
        guard let value = try scalar(section[key], path: path, expected: expected) else { return defaultValue }
        let parsed: Bool? = switch value.text {
        case "true": true
        case "false": false
        default: nil
        }
        guard let parsed, !value.quoted else {
            let quotedNote = value.quoted ? "the quoted string " : ""
            let fix = value.quoted ? "; write true or false without quotes" : ""
            throw ConfigurationError(code: .wrongType, path: path,
                                     message: "expected \(expected), got \(quotedNote)\(value.shown)\(fix)")
        }
        return parsed
    }

    /// A key whose value is one of an enumeration's raw values.
    func enumeration<Value: RawRepresentable & CaseIterable>(_ section: Section, _ key: String,
                                                             default defaultValue: Value) throws(ConfigurationError) -> Value
    where Value.RawValue == String {
        let text = try oneOf(section, key, allowed: Value.allCases.map(\.rawValue), default: defaultValue.rawValue)
        // oneOf only returns allowed raw values.
        return Value(rawValue: text) ?? defaultValue
    }

    func oneOf(_ section: Section, _ key: String, allowed: [String],
               default defaultValue: String) throws(ConfigurationError) -> String {
        let path = section.path(key)
        let expected = "one of \(allowed.joined(separator: ", "))"
        guard let value = try scalar(section[key], path: path, expected: expected) else { return defaultValue }
        guard allowed.contains(value.text) else {
            // A suggestion close to a secret value would give it away.
            let hint = SecretValue.shown(
                Self.suggestion(for: value.text, among: allowed).map { " (did you mean `\($0)`?)" } ?? "",
                secret: value.secret, placeholder: "")
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "expected \(expected), got \(value.shown)\(hint)")
        }
        return value.text
    }

    func wrongType(path: String, expected: String, found node: Node, secret: Bool) -> ConfigurationError {
        let found: String
        switch node {
        case .scalar(let scalar):
            if Self.isNull(node) {
                found = "null"
            } else {
                let isPlain = scalar.style == .plain || scalar.style == .any
                found = SecretValue.shown("\(isPlain ? "" : "the quoted string ")\(Echo.quoted(scalar.string))",
                                          secret: secret, placeholder: "a string")
            }
        default:
            found = "a \(Self.kind(node))"
        }
        return ConfigurationError(code: .wrongType, path: path, message: "expected \(expected), got \(found)")
    }

    /// Plain decimal integers only (`5432`, `-1`, `+7`); no `0x`, `0o`, `_`, exponents or fractions.
    static func decimalInteger(_ text: String) -> Int? {
        var digits = Substring(text)
        if digits.first == "+" || digits.first == "-" { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(text)
    }
}
