/// A dotted PostgreSQL name as the configuration writes it (`schema.table`, `"Odd"."Order Lines"`):
/// split into its parts, each unquoted or double-quoted as in SQL. Pure, total: any text gives parts or
/// a problem saying where it is.
public enum QualifiedNameSyntax {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case emptyPart(index: Int)
        case unterminatedQuote
        case textAfterQuote(Character)
        case notAnIdentifier(String)
        case upperCase(String)
        case tooLong(String)
        case nul

        public var description: String {
            switch self {
            case .emptyPart(let index): "part \(index + 1) is empty"
            case .unterminatedQuote: "a double quote is not closed"
            case .textAfterQuote(let character): "\"\(character)\" follows a closing double quote (write \"\" for a quote inside a name)"
            case .notAnIdentifier(let part): "\(part) is not an unquoted identifier; write it in double quotes (\"\(part)\") if that is its exact name"
            case .upperCase(let part): "\(part) has upper-case letters; write \"\(part)\" in double quotes for that exact name, or \(part.lowercased()) for the lower-case one"
            case .tooLong(let part): "\(part) is longer than PostgreSQL's 63 bytes"
            case .nul: "a name cannot hold a NUL character"
            }
        }
    }

    /// The parts of `text`, quotes removed and `""` unescaped.
    public static func split(_ text: String) -> Result<[String], Problem> {
        var parts: [String] = []
        var characters = Array(text)[...]
        while true {
            var part = ""
            if characters.first == "\"" {
                characters.removeFirst()
                var closed = false
                while let character = characters.popFirst() {
                    if character == "\"" {
                        if characters.first == "\"" {
                            characters.removeFirst()
                            part.append("\"")
                        } else {
                            closed = true
                            break
                        }
                    } else {
                        part.append(character)
                    }
                }
                guard closed else { return .failure(.unterminatedQuote) }
                guard !part.isEmpty else { return .failure(.emptyPart(index: parts.count)) }
                if let next = characters.first, next != "." { return .failure(.textAfterQuote(next)) }
            } else {
                while let character = characters.first, character != "." {
                    part.append(character)
                    characters.removeFirst()
                }
                guard !part.isEmpty else { return .failure(.emptyPart(index: parts.count)) }
                if part.contains(where: \.isUppercase) && part.lowercased().unicodeScalars.allSatisfy(isIdentifierScalar) {
                    return .failure(.upperCase(part))
                }
                guard isUnquotedIdentifier(part) else { return .failure(.notAnIdentifier(part)) }
            }
            guard !part.unicodeScalars.contains("\0") else { return .failure(.nul) }
            guard part.utf8.count <= 63 else { return .failure(.tooLong(part)) }
            parts.append(part)
            guard characters.popFirst() != nil else { return .success(parts) }   // the "." between parts
            if characters.isEmpty { return .failure(.emptyPart(index: parts.count)) }
        }
    }

    /// `[a-z_][a-z0-9_$]*`: a name PostgreSQL reads the same without quotes.
    public static func isUnquotedIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, ("a"..."z").contains(first) || first == "_" else { return false }
        return text.unicodeScalars.allSatisfy(isIdentifierScalar)
    }

    /// The name as SQL writes it: unquoted when it reads back the same, else in double quotes.
    public static func quoted(_ name: String) -> String {
        isUnquotedIdentifier(name) ? name : "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func isIdentifierScalar(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "$"
    }
}
