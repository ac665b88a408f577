/// A configuration problem, always naming the key path at fault and what is expected there.
///
/// Messages never contain a secret value: the passwords, secret-looking Kafka properties, or anything
/// read through `${file:...}` (the rule is in SecretValues.swift).
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The file is missing, a directory, unreadable or not UTF-8.
        case fileUnreadable
        /// YAML syntax error, duplicate key, or an empty document.
        case invalidYAML
        /// A key that Swallow does not know (outside `kafka.properties`).
        case unknownKey
        /// A required key is absent or null.
        case missingKey
        /// The value has the wrong YAML type (e.g. a mapping where a scalar is expected, `abc` for an integer).
        case wrongType
        /// The value has the right type but is not allowed (out of range, bad name, unknown enum value...).
        case invalidValue
        /// `${NAME}` names a variable that is not set (and no `:-default` was given).
        case undefinedEnvironmentVariable
    }

    public var code: Code
    /// Dotted key path, e.g. `postgres.port`, `kafka.properties.linger.ms`, `tables[2]` (0-based);
    /// empty for problems with the file or document as a whole.
    public var path: String
    /// What is wrong and how to fix it.
    public var message: String

    /// Configuration errors never go away by retrying.
    public var isRetriable: Bool { false }

    public init(code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    /// `config postgres.port: expected an integer 1..65535, got "abc"`
    public var description: String {
        path.isEmpty ? "config: \(message)" : "config \(path): \(message)"
    }
}
