extension SwallowConfiguration {
    /// Substrings (matched case-insensitively) that make a Kafka property's value secret.
    public static let secretPropertyKeyPatterns: [String] = ["password", "secret", "sasl.oauthbearer", "ssl.key"]

    /// Whether the value of librdkafka property `key` must never be logged or echoed in errors.
    public static func isSecretPropertyKey(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return secretPropertyKeyPatterns.contains { lowered.contains($0) }
    }

    /// A single-line description safe to log, using the YAML key names: the password is shown as
    /// `***` (or `(none)`), as are Kafka properties whose key contains `password`, `secret`,
    /// `sasl.oauthbearer` or `ssl.key`.
    public var redactedDescription: String {
        let tableList = "[" + tables.map(\.description).joined(separator: ", ") + "]"
        return [
            "postgres.host=\(Self.shown(postgres.host))",
            "postgres.port=\(postgres.port)",
            "postgres.dbname=\(Self.shown(postgres.dbname))",
            "postgres.user=\(Self.shown(postgres.user))",
            "postgres.password=\(postgres.password == nil ? "(none)" : "***")",
            "postgres.sslmode=\(postgres.sslmode.rawValue)",
            "postgres.connect_timeout_s=\(postgres.connectTimeoutSeconds)",
            "slot.name=\(slot.name)",
            "slot.create=\(slot.create)",
            "publication.name=\(publication.name)",
            "publication.create=\(publication.create)",
            "tables=\(tableList)",
            "topic_prefix=\(topicPrefix)",
            kafka.redactedDescription,
            "status_interval_ms=\(statusIntervalMilliseconds)",
            "max_in_flight_events=\(maxInFlightEvents)",
            "log_level=\(logLevel)",
            "events.tombstones.on.delete=\(events.tombstonesOnDelete)",
            "events.skipped.operations=\(events.skippedOperations.isEmpty ? "none" : events.skippedOperations.map(\.rawValue).sorted().joined(separator: ","))",
            "snapshot.mode=\(snapshot.mode.rawValue)",
            "snapshot.max_threads=\(snapshot.maxThreads)",
            "snapshot.chunk_rows=\(snapshot.chunkRows)",
            "snapshot.signal_table=\(snapshot.signalTable.map(\.description) ?? "(none)")",
            "snapshot.incremental_chunk_rows=\(snapshot.incrementalChunkRows)",
            "state_dir=\(Self.shown(stateDirectory))",
            // The action query is the operator's SQL: shown only as set or not.
            "heartbeat.interval_ms=\(heartbeat.intervalMilliseconds)",
            "heartbeat.action_query=\(heartbeat.actionQuery == nil ? "(none)" : "(set)")",
            "heartbeat.emit_record=\(heartbeat.emitRecord)",
            "heartbeat.stall_warning_s=\(heartbeat.stallWarningSeconds)",
            "log_format=\(logFormat.rawValue)",
            "http.listen=\(http.listen.map(\.description) ?? "(off)")",
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
    /// Redacted: the password is shown as `***`.
    public var description: String {
        "Postgres(host: \(host), port: \(port), dbname: \(dbname), user: \(user), password: \(password == nil ? "nil" : "***"), sslmode: \(sslmode.rawValue), connectTimeoutSeconds: \(connectTimeoutSeconds))"
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
        let props = properties.keys.sorted().map { key in
            let value = SwallowConfiguration.isSecretPropertyKey(key) ? "***" : SwallowConfiguration.shown(properties[key] ?? "")
            return "\(SwallowConfiguration.shown(key))=\(value)"
        }
        return "kafka.bootstrap_servers=\(servers) kafka.properties={\(props.joined(separator: ", "))} kafka.flush_timeout_ms=\(flushTimeoutMilliseconds)"
    }

    /// Redacted: secret-looking properties are shown as `***`.
    public var description: String { redactedDescription }
    public var debugDescription: String { redactedDescription }
}
