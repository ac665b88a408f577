/// `${NAME}` / `${NAME:-default}` / `$${` handling for scalar values.
///
/// - `${NAME}` is replaced by the variable's value (an empty value is kept); if it is not set,
///   that is an `undefinedEnvironmentVariable` error.
/// - `${NAME:-default}` uses `default` when `NAME` is unset **or empty** (shell semantics);
///   the default is literal text and may not contain `${`.
/// - `$${` produces a literal `${`. Any other `$` is literal.
/// - `NAME` must match `[A-Za-z_][A-Za-z0-9_]*`.
enum EnvironmentSubstitution {
    struct Result: Equatable {
        var text: String
        /// Whether at least one reference was replaced.
        var substituted: Bool
    }

    static func apply(
        _ text: String,
        path: String,
        secret: Bool,
        environment: [String: String]
    ) throws(ConfigurationError) -> Result {
        guard text.contains("$") else { return Result(text: text, substituted: false) }
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var substituted = false
        var index = 0

        func at(_ i: Int) -> Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "$" else {
                output.append(scalar)
                index += 1
                continue
            }
            // `$${` -> literal `${`
            if at(index + 1) == "$", at(index + 2) == "{" {
                output.append("$")
                output.append("{")
                index += 3
                continue
            }
            guard at(index + 1) == "{" else {
                output.append(scalar)
                index += 1
                continue
            }
            // `${ ... }`
            var close = index + 2
            while close < scalars.count, scalars[close] != "}" { close += 1 }
            let context = secret ? "" : " in \(Echo.quoted(text))"
            guard close < scalars.count else {
                throw ConfigurationError(
                    code: .invalidValue, path: path,
                    message: "unterminated `${` reference\(context); close it with `}`, or write `$${` for a literal `${`")
            }
            let inner = String(String.UnicodeScalarView(scalars[(index + 2)..<close]))
            let reference = secret ? "" : " `${\(inner)}`"
            if inner.contains("${") {
                throw ConfigurationError(
                    code: .invalidValue, path: path,
                    message: "nested `${` in environment reference\(reference) is not supported; a `:-` default must be literal text")
            }
            let name: String
            let fallback: String?
            if let range = inner.range(of: ":-") {
                name = String(inner[..<range.lowerBound])
                fallback = String(inner[range.upperBound...])
            } else {
                name = inner
                fallback = nil
            }
            guard isValidName(name) else {
                throw ConfigurationError(
                    code: .invalidValue, path: path,
                    message: "invalid environment variable reference\(reference); write `${NAME}` or `${NAME:-default}` with NAME matching [A-Za-z_][A-Za-z0-9_]*, or `$${` for a literal `${`")
            }
            let value: String
            if let set = environment[name], !(set.isEmpty && fallback != nil) {
                value = set
            } else if let fallback {
                value = fallback
            } else {
                throw ConfigurationError(
                    code: .undefinedEnvironmentVariable, path: path,
                    message: "environment variable \(name) is not set; set it, or write `${\(name):-default}` to fall back to a default value")
            }
            output.append(contentsOf: value.unicodeScalars)
            substituted = true
            index = close + 1
        }
        return Result(text: String(output), substituted: substituted)
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func isLetter(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("A"..."Z").contains(s) || s == "_" }
        func isDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
        return isLetter(first) && name.unicodeScalars.allSatisfy { isLetter($0) || isDigit($0) }
    }
}

/// Quoting of user values inside error messages.
enum Echo {
    /// `"value"` with quotes/backslashes/control characters escaped, truncated to 80 characters.
    static func quoted(_ value: String) -> String {
        var text = value
        var suffix = ""
        if text.count > 80 {
            text = String(text.prefix(77))
            suffix = "..."
        }
        var escaped = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    escaped += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return "\"\(escaped)\(suffix)\""
    }
}
