import Foundation
import Yams

/// The `schema_registry` section, needed by (and only by) `events.format: avro`.
extension ConfigurationReader {
    func readSchemaRegistry(_ top: Section, events: SwallowConfiguration.Events) throws(ConfigurationError)
        -> SwallowConfiguration.SchemaRegistry? {
        guard let registry = try optionalSection(top, "schema_registry", allowed: Keys.schemaRegistry) else {
            if events.format == .avro {
                throw ConfigurationError(
                    code: .missingKey, path: "schema_registry",
                    message: "events.format: avro registers its schemas in a Confluent-compatible Schema Registry; add `schema_registry: {url: http://registry:8081}`")
            }
            return nil
        }
        guard events.format == .avro else {
            throw ConfigurationError(
                code: .invalidValue, path: "schema_registry",
                message: "schema_registry is used only with events.format: avro; set events.format: avro or remove schema_registry")
        }
        let urls = try readRegistryURLs(registry)
        let username = try scalar(registry["username"], path: registry.path("username"), expected: "a string")?.text
        let password = try scalar(registry["password"], path: registry.path("password"), expected: "a string")?.text
        if (username == nil) != (password == nil) {
            throw ConfigurationError(
                code: .missingKey, path: registry.path(username == nil ? "username" : "password"),
                message: "basic auth needs both schema_registry.username and schema_registry.password")
        }
        // The TLS files, read and checked like PostgreSQL's (sslmode verify-full: the registry's
        // certificate is always checked when the URL is https).
        let tls = try readPostgresTLS(registry, sslmode: .verifyFull)
        if tls.rootCertificateFile != nil || tls.certificateFile != nil, !urls.contains(where: { $0.lowercased().hasPrefix("https://") }) {
            throw ConfigurationError(
                code: .invalidValue, path: registry.path(tls.rootCertificateFile != nil ? "sslrootcert" : "sslcert"),
                message: "TLS files are set but no schema_registry.url is https://; use https URLs or remove the TLS files")
        }
        return SwallowConfiguration.SchemaRegistry(
            urls: urls, username: username, password: password, tls: tls,
            subjectNameStrategy: try enumeration(registry, "subject_name_strategy", default: .topicName),
            autoRegister: try boolean(registry, "auto_register", default: true),
            requestTimeoutMilliseconds: try integer(registry, "request_timeout_ms", range: 100...600_000, default: 10_000),
            retryTimeoutMilliseconds: try integer(registry, "retry_timeout_ms", range: 0...86_400_000, default: 120_000))
    }

    /// `url`: a string (one URL, or several separated by commas) or a list of strings; each
    /// `http://` or `https://` with a host.
    private func readRegistryURLs(_ registry: Section) throws(ConfigurationError) -> [String] {
        let path = registry.path("url")
        let expected = "a Schema Registry URL such as `http://registry:8081`, or a list of them"
        var texts: [(String, String)] = []
        switch registry["url"] {
        case .sequence(let sequence)?:
            for (index, item) in sequence.enumerated() {
                let itemPath = "\(path)[\(index)]"
                guard let value = try scalar(item, path: itemPath, expected: expected) else {
                    throw ConfigurationError(code: .wrongType, path: itemPath, message: "expected \(expected), got null")
                }
                texts.append((value.text, itemPath))
            }
        case let node:
            guard let value = try scalar(node, path: path, expected: expected) else {
                throw ConfigurationError(code: .missingKey, path: path,
                                         message: "missing required key; expected \(expected), e.g. `url: http://registry:8081`")
            }
            texts = value.text.split(separator: ",").map { ($0.trimmingCharacters(in: .whitespaces), path) }
        }
        guard !texts.isEmpty else {
            throw ConfigurationError(code: .invalidValue, path: path, message: "expected \(expected), got none")
        }
        for (text, itemPath) in texts {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  let host = url.host, !host.isEmpty, url.query == nil else {
                throw ConfigurationError(code: .invalidValue, path: itemPath,
                                         message: "expected an http:// or https:// URL with a host (e.g. `http://registry:8081`), got \(Echo.quoted(text))")
            }
        }
        return texts.map(\.0)
    }
}
