extension SwallowConfiguration {
    /// Substrings (matched case-insensitively) that make a Kafka property's value secret.
    public static let secretPropertyKeyPatterns: [String] = ["password", "secret", "sasl.oauthbearer", "ssl.key"]

    /// Whether the value of librdkafka property `key` must never be logged or echoed in errors.
    public static func isSecretPropertyKey(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return secretPropertyKeyPatterns.contains { lowered.contains($0) }
    }

    /// A single-line description safe to log, using the YAML key names: the password and
    /// `sslpassword` are shown as `***` (or `(none)`), as are Kafka properties whose key contains
    /// `password`, `secret`, `sasl.oauthbearer` or `ssl.key`, and every value read through `${file:...}`.
    public var redactedDescription: String {
        func masked(_ path: String, _ value: String) -> String {
            SwallowConfiguration.field(path, value, fileValued: fileValuedKeyPaths)
        }
        let tableList = "[" + tables.enumerated().map { index, table in
            fileValuedKeyPaths.contains("tables[\(index)]") ? "***" : table.description
        }.joined(separator: ", ") + "]"
        return [
            postgres.redactedDescription,
            masked("slot.name", slot.name),
            masked("slot.create", "\(slot.create)"),
            masked("publication.name", publication.name),
            masked("publication.create", "\(publication.create)"),
            "tables=\(tableList)",
            masked("topic_prefix", topicPrefix),
            kafka.redactedDescription,
            masked("status_interval_ms", "\(statusIntervalMilliseconds)"),
            masked("max_in_flight_events", "\(maxInFlightEvents)"),
            masked("max_in_flight_bytes", "\(maxInFlightBytes)"),
            masked("log_level", logLevel),
            masked("events.tombstones.on.delete", "\(events.tombstonesOnDelete)"),
            masked("events.skipped.operations", events.skippedOperations.isEmpty ? "none" : events.skippedOperations.map(\.rawValue).sorted().joined(separator: ",")),
            masked("snapshot.mode", snapshot.mode.rawValue),
            masked("snapshot.max_threads", "\(snapshot.maxThreads)"),
            masked("snapshot.chunk_rows", "\(snapshot.chunkRows)"),
            masked("snapshot.signal_table", snapshot.signalTable.map(\.description) ?? "(none)"),
            masked("snapshot.incremental_chunk_rows", "\(snapshot.incrementalChunkRows)"),
            masked("state_dir", Self.shown(stateDirectory)),
            // The action query is the operator's SQL: shown only as set or not.
            masked("heartbeat.interval_ms", "\(heartbeat.intervalMilliseconds)"),
            "heartbeat.action_query=\(heartbeat.actionQuery == nil ? "(none)" : "(set)")",
            masked("heartbeat.emit_record", "\(heartbeat.emitRecord)"),
            masked("heartbeat.stall_warning_s", "\(heartbeat.stallWarningSeconds)"),
            masked("log_format", logFormat.rawValue),
            masked("http.listen", http.listen.map(\.description) ?? "(off)"),
        ].joined(separator: " ")
    }

    /// Quotes values that contain spaces or characters that would make the line ambiguous.
    static func shown(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy {
            $0.value > 0x20 && $0.value != 0x7F && !"\"'=,{}[]\\".unicodeScalars.contains($0)
        }
        return plain ? value : Echo.quoted(value)
    }
}

extension SwallowConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    /// Same as ``redactedDescription``.
    public var description: String { redactedDescription }
    public var debugDescription: String { redactedDescription }
}

extension SwallowConfiguration.Postgres: CustomStringConvertible, CustomDebugStringConvertible {
    /// The `postgres.*` part of ``SwallowConfiguration/redactedDescription``.
    var redactedDescription: String {
        func masked(_ key: String, _ value: String) -> String {
            SwallowConfiguration.field("postgres.\(key)", value, fileValued: fileValuedKeyPaths)
        }
        func secret(_ value: String?) -> String { value == nil ? "(none)" : "***" }
        func file(_ value: String?) -> String { value.map(SwallowConfiguration.shown) ?? "(none)" }
        return [
            masked("host", SwallowConfiguration.shown(host)),
            masked("port", "\(port)"),
            masked("dbname", SwallowConfiguration.shown(dbname)),
            masked("user", SwallowConfiguration.shown(user)),
            "postgres.password=\(secret(password))",
            masked("sslmode", sslmode.rawValue),
            masked("sslrootcert", file(tls.rootCertificateFile)),
            masked("sslcert", file(tls.certificateFile)),
            masked("sslkey", file(tls.keyFile)),
            "postgres.sslpassword=\(secret(tls.keyPassword))",
            masked("connect_timeout_s", "\(connectTimeoutSeconds)"),
        ].joined(separator: " ")
    }

    /// Redacted: passwords and values read from files are shown as `***`.
    public var description: String { redactedDescription }
    public var debugDescription: String { redactedDescription }
}

extension SwallowConfiguration.Postgres.TLS: CustomStringConvertible, CustomDebugStringConvertible {
    /// Redacted: the key's passphrase is shown as `***`.
    public var description: String {
        "TLS(sslrootcert: \(rootCertificateFile ?? "nil"), sslcert: \(certificateFile ?? "nil"), sslkey: \(keyFile ?? "nil"), sslpassword: \(keyPassword == nil ? "nil" : "***"))"
    }
    public var debugDescription: String { description }
}

extension SwallowConfiguration.Kafka: CustomStringConvertible, CustomDebugStringConvertible {
    var redactedDescription: String {
        let servers: String
        switch bootstrapServers {
        case .embedded: servers = "embedded"
        case .servers(let list): servers = list  // validated: no whitespace
        }
        let secrets = secretPropertyNames
        let props = properties.keys.sorted().map { key in
            let value = secrets.contains(key) ? "***" : SwallowConfiguration.shown(properties[key] ?? "")
            return "\(SwallowConfiguration.shown(key))=\(value)"
        }
        func masked(_ key: String, _ value: String) -> String {
            SwallowConfiguration.field("kafka.\(key)", value, fileValued: fileValuedKeyPaths)
        }
        return [
            masked("bootstrap_servers", servers),
            "kafka.properties={\(props.joined(separator: ", "))}",
            masked("flush_timeout_ms", "\(flushTimeoutMilliseconds)"),
        ].joined(separator: " ")
    }

    /// Redacted: secret-looking properties and values read from files are shown as `***`.
    public var description: String { redactedDescription }
    public var debugDescription: String { redactedDescription }
}

extension SwallowConfiguration {
    /// `path=value` for a redacted description, with `***` for a value read through `${file:...}`.
    static func field(_ path: String, _ value: String, fileValued: Set<String>) -> String {
        "\(path)=\(fileValued.contains(path) ? "***" : value)"
    }
}
