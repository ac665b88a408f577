import Foundation

/// The `postgres` section: connection settings and libpq's TLS files.
extension ConfigurationReader {
    func readPostgres(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Postgres {
        let pg = try requiredSection(top, "postgres", allowed: Keys.postgres, required: ["host", "dbname", "user"])
        return try readConnection(pg)
    }

    /// `postgres.primary`: where Swallow writes (heartbeats, incremental snapshot watermarks, `swallow
    /// snapshot`'s signals) when `postgres.host` is a standby, which refuses writes. The keys of
    /// `postgres`; `host` is required, and what identifies the server (`host`, `port`,
    /// `target_session_attrs`) is its own, while the database and the credentials (`dbname`, `user`,
    /// `password`, `sslmode`, `connect_timeout_s`, the TLS files) are taken from `postgres` unless given.
    func readPostgresPrimary(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.Postgres? {
        guard let pg = try optionalSection(top, "postgres", allowed: Keys.postgres),
              let primary = try optionalSection(pg, "primary", allowed: Keys.postgresPrimary) else { return nil }
        guard primary["host"] != nil else {
            throw ConfigurationError(code: .missingKey, path: primary.path("host"),
                                     message: "missing required key; expected the primary's host name or IP address (the other connection settings default to those of postgres)")
        }
        var values = primary.values
        for key in Keys.postgresPrimaryInherited where values[key] == nil { values[key] = pg[key] }
        let connection = try readConnection(Section(prefix: primary.prefix, values: values))
        let database = try requiredString(pg, "dbname", expected: "a string", example: "dbname: app").text
        if connection.dbname != database {
            throw ConfigurationError(code: .invalidValue, path: primary.path("dbname"),
                                     message: "must be postgres.dbname (\(database)): a physical standby holds its primary's databases, and Swallow writes to the one it reads; remove postgres.primary.dbname")
        }
        return connection
    }

    /// The connection settings of a `postgres`-shaped section.
    func readConnection(_ pg: Section) throws(ConfigurationError) -> SwallowConfiguration.Postgres {
        let host = try requiredString(pg, "host", expected: "a string (the PostgreSQL server host name or IP address)",
                                      example: "host: 127.0.0.1").text
        let hosts = host.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if hosts.count > 1, hosts.contains(where: \.isEmpty) {
            throw ConfigurationError(code: .invalidValue, path: pg.path("host"),
                                     message: "expected host names separated by commas (libpq's list, e.g. db-1,db-2), got an empty one in \(host)")
        }
        let ports = try readPorts(pg, hostCount: hosts.count)
        let port = ports[0]
        let sessionAttributes = try scalar(pg["target_session_attrs"], path: pg.path("target_session_attrs"),
                                           expected: "one of \(Self.targetSessionAttributes.joined(separator: ", "))")
        if let given = sessionAttributes, !Self.targetSessionAttributes.contains(given.text) {
            throw ConfigurationError(code: .invalidValue, path: pg.path("target_session_attrs"),
                                     message: "expected one of \(Self.targetSessionAttributes.joined(separator: ", ")) (libpq's target_session_attrs), got \(given.shown)")
        }
        let dbname = try requiredString(pg, "dbname", expected: "a string (the database to replicate from)",
                                        example: "dbname: app").text
        let user = try requiredString(pg, "user", expected: "a string (a role with the REPLICATION attribute)",
                                      example: "user: swallow").text
        let password = try scalar(pg["password"], path: pg.path("password"), expected: "a string")
        let mode = try enumeration(pg, "sslmode", default: SwallowConfiguration.SSLMode.prefer)
        let timeout = try integer(pg, "connect_timeout_s", range: Limits.connectTimeoutSeconds, default: 10)
        return SwallowConfiguration.Postgres(
            host: host, port: port, dbname: dbname, user: user,
            password: (password?.text).flatMap { $0.isEmpty ? nil : $0 },
            sslmode: mode, connectTimeoutSeconds: timeout, tls: try readPostgresTLS(pg, sslmode: mode),
            ports: ports, targetSessionAttributes: sessionAttributes?.text ?? (hosts.count > 1 ? "read-write" : nil))
    }

    /// libpq's values; Swallow streams from a primary, so `read-write` (or `primary`) is what a list of a
    /// primary and its standbys needs.
    static let targetSessionAttributes = ["any", "read-write", "read-only", "primary", "standby", "prefer-standby"]

    /// `port`: an integer, or with several hosts a comma-separated list with one port per host.
    func readPorts(_ pg: Section, hostCount: Int) throws(ConfigurationError) -> [Int] {
        let path = pg.path("port")
        if let value = try scalar(pg["port"], path: path, expected: "an integer 1..65535, or one per host separated by commas"),
           value.text.contains(",") {
            var ports: [Int] = []
            for item in value.text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let number = Self.decimalInteger(item.trimmingCharacters(in: .whitespaces)), Limits.port.contains(number) else {
                    throw ConfigurationError(code: .invalidValue, path: path,
                                             message: "expected ports 1..65535 separated by commas, got \(value.shown)")
                }
                ports.append(number)
            }
            guard ports.count == hostCount else {
                throw ConfigurationError(code: .invalidValue, path: path,
                                         message: "\(ports.count) ports for \(hostCount) host\(hostCount == 1 ? "" : "s"): give one port for all hosts, or one per host in the same order")
            }
            return ports
        }
        return [try integer(pg, "port", range: Limits.port, default: 5432)]
    }

    /// `sslrootcert`, `sslcert`, `sslkey`, `sslpassword`: checked here, at start-up, so that a wrong path
    /// or a setting libpq would silently ignore is reported before any connection is tried.
    func readPostgresTLS(_ pg: Section, sslmode: SwallowConfiguration.SSLMode) throws(ConfigurationError)
        -> SwallowConfiguration.Postgres.TLS {
        func file(_ key: String, _ what: String) throws(ConfigurationError) -> String? {
            let path = pg.path(key)
            guard let value = try scalar(pg[key], path: path, expected: "the path of \(what)"),
                  !value.text.isEmpty else { return nil }
            try Self.requireReadableFile(value.text, key: path, what: what,
                                         named: SecretValue.shown(value.text, secret: value.secret, placeholder: "the file"))
            return value.text
        }
        let rootCertificate = try file("sslrootcert", "a PEM file of CA certificates")
        let certificate = try file("sslcert", "a PEM client certificate")
        let key = try file("sslkey", "the PEM private key of sslcert")
        let keyPassword = try scalar(pg["sslpassword"], path: pg.path("sslpassword"), expected: "a string")
            .flatMap { $0.text.isEmpty ? nil : $0.text }

        if (certificate == nil) != (key == nil) {
            let (set, missing) = certificate == nil ? ("sslkey", "sslcert") : ("sslcert", "sslkey")
            throw ConfigurationError(
                code: .missingKey, path: pg.path(missing),
                message: "\(pg.path(set)) is set, so \(missing) is needed too: a client certificate (sslcert) goes with its private key (sslkey)")
        }
        if keyPassword != nil, key == nil {
            throw ConfigurationError(
                code: .invalidValue, path: pg.path("sslpassword"),
                message: "sslpassword decrypts sslkey, which is not set; set sslcert and sslkey, or remove sslpassword")
        }
        if sslmode == .disable, let used = [("sslrootcert", rootCertificate), ("sslcert", certificate)]
            .first(where: { $0.1 != nil })?.0 {
            throw ConfigurationError(
                code: .invalidValue, path: pg.path(used),
                message: "sslmode disable never uses TLS, so \(used) would be ignored; set sslmode (require, verify-ca or verify-full) or remove \(used)")
        }
        if rootCertificate != nil, sslmode == .allow || sslmode == .prefer {
            throw ConfigurationError(
                code: .invalidValue, path: pg.path("sslrootcert"),
                message: "with sslmode \(sslmode.rawValue) the server's certificate is not checked, so sslrootcert would be ignored; set sslmode: verify-full (or verify-ca)")
        }
        return SwallowConfiguration.Postgres.TLS(rootCertificateFile: rootCertificate, certificateFile: certificate,
                                                 keyFile: key, keyPassword: keyPassword)
    }

    /// A file that libpq will open later: it must exist, be a regular file and be readable by this process.
    /// Messages call it `name`: its path, or a placeholder when the path is secret.
    static func requireReadableFile(_ file: String, key: String, what: String,
                                    named name: String) throws(ConfigurationError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw ConfigurationError(code: .fileUnreadable, path: key,
                                     message: "\(name) does not exist; expected \(what)")
        }
        guard !isDirectory.boolValue else {
            throw ConfigurationError(code: .fileUnreadable, path: key,
                                     message: "\(name) is a directory; expected \(what)")
        }
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw ConfigurationError(
                code: .fileUnreadable, path: key,
                message: "\(name) is not readable (permission denied); make it readable by the user Swallow runs as")
        }
    }
}
