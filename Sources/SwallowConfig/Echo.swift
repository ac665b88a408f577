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
