/// The rule that a secret configuration value is never shown, in one place for error messages
/// (``ConfigurationError``) and redacted descriptions (``SwallowConfiguration/redactedDescription``).
///
/// A value is secret by its key (``SwallowConfiguration/isSecretByKey(path:)``: the passwords and
/// secret-looking Kafka properties) or because it was read through `${file:...}`. Wherever a value
/// would be echoed, a placeholder stands in for a secret one: ``notShown`` in error messages,
/// ``masked`` in descriptions, or a noun for the part of the value meant ("a pattern", "the file").
enum SecretValue {
    /// Stands for a secret value in error messages.
    static let notShown = "a secret value (not shown)"
    /// Stands for a secret value in redacted descriptions.
    static let masked = "***"

    /// `shown`, or `placeholder` when the value is secret. `shown` is not even evaluated for a secret,
    /// so formatting cannot leak it.
    static func shown(_ shown: @autoclosure () -> String, secret: Bool, placeholder: String) -> String {
        secret ? placeholder : shown()
    }

    /// `value` as error messages show it: quoted (``Echo/quoted(_:)``), or `placeholder` when secret.
    static func quoted(_ value: String, secret: Bool, placeholder: String = notShown) -> String {
        shown(Echo.quoted(value), secret: secret, placeholder: placeholder)
    }
}

extension SwallowConfiguration {
    /// Substrings (matched case-insensitively) that make a Kafka property's value secret.
    public static let secretPropertyKeyPatterns: [String] = ["password", "secret", "sasl.oauthbearer", "ssl.key"]

    /// Whether the value of librdkafka property `key` must never be logged or echoed in errors.
    public static func isSecretPropertyKey(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return secretPropertyKeyPatterns.contains { lowered.contains($0) }
    }

    /// The key path prefix of the librdkafka properties (`kafka.properties.sasl.password`).
    static let kafkaPropertyPathPrefix = "kafka.properties."

    /// Whether the value at key path `path` is secret by its key alone: `postgres.password`,
    /// `postgres.sslpassword`, and the Kafka properties that ``isSecretPropertyKey(_:)`` names.
    static func isSecretByKey(path: String) -> Bool {
        if path.hasPrefix(kafkaPropertyPathPrefix) {
            return isSecretPropertyKey(String(path.dropFirst(kafkaPropertyPathPrefix.count)))
        }
        return ["postgres.password", "postgres.sslpassword", "postgres.primary.password", "postgres.primary.sslpassword",
                "schema_registry.password", "schema_registry.sslpassword"]
            .contains(path)
    }

    /// Whether the value at key path `path` is secret: by its key, or because it was read through
    /// `${file:...}` (`fileValued` lists those paths).
    static func isSecret(path: String, fileValued: Set<String>) -> Bool {
        isSecretByKey(path: path) || fileValued.contains(path)
    }
}
