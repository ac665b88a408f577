import Foundation
import SwallowConfig

typealias Config = SwallowConfiguration

/// Builds a YAML document from a minimal valid configuration plus per-section overrides.
/// An override value is raw YAML text; `nil` removes the key; unknown names are appended.
struct ConfigDocument {
    var postgres: [String: String?] = [:]
    var slot: [String: String?] = [:]
    var publication: [String: String?] = [:]
    var kafka: [String: String?] = [:]
    var top: [String: String?] = [:]

    static let base: [(String, [(String, String)])] = [
        ("postgres", [("host", "db.internal"), ("dbname", "app"), ("user", "swallow")]),
        ("slot", [("name", "swallow")]),
        ("publication", [("name", "swallow")]),
        ("kafka", [("bootstrap_servers", "embedded")]),
    ]

    var yaml: String {
        var lines: [String] = []
        func render(_ pairs: [(String, String)], _ overrides: [String: String?], indent: String) {
            var seen: Set<String> = []
            for (key, value) in pairs {
                seen.insert(key)
                if let override = overrides[key] {
                    if let override { lines.append("\(indent)\(key): \(override)") }
                } else {
                    lines.append("\(indent)\(key): \(value)")
                }
            }
            for key in overrides.keys.sorted() where !seen.contains(key) {
                if let value = overrides[key] ?? nil { lines.append("\(indent)\(key): \(value)") }
            }
        }
        for (section, pairs) in Self.base {
            let overrides: [String: String?] = switch section {
            case "postgres": postgres
            case "slot": slot
            case "publication": publication
            default: kafka
            }
            if let replaced = top[section] {
                if let replaced { lines.append("\(section): \(replaced)") }
                continue
            }
            lines.append("\(section):")
            render(pairs, overrides, indent: "  ")
        }
        render([("topic_prefix", "app")], top.filter { !["postgres", "slot", "publication", "kafka"].contains($0.key) },
               indent: "")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The error thrown for `yaml`, or nil if it parsed.
func parseError(_ yaml: String, environment: [String: String] = [:]) -> ConfigurationError? {
    do {
        _ = try Config.parse(yaml: yaml, environment: environment)
        return nil
    } catch {
        return error
    }
}

func parseError(_ document: ConfigDocument, environment: [String: String] = [:]) -> ConfigurationError? {
    parseError(document.yaml, environment: environment)
}

/// Location of the example configuration in this package (`swallow.yaml`) or in the main
/// Swallow package (`Config/swallow.yaml`).
func exampleConfigPath() -> String? {
    let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for candidate in ["Config/swallow.yaml", "swallow.yaml"] {
        let path = root.appendingPathComponent(candidate).path
        if FileManager.default.fileExists(atPath: path) { return path }
    }
    return nil
}
