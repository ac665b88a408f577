extension SwallowConfiguration {
    /// A single-line description safe to log, using the YAML key names: the password and
    /// `sslpassword` are shown as `***` (or `(none)`), as are Kafka properties whose key contains
    /// `password`, `secret`, `sasl.oauthbearer` or `ssl.key`, and every value read through `${file:...}`.
    public var redactedDescription: String {
        func field(_ path: String, _ value: String) -> String {
            SwallowConfiguration.field(path, value, fileValued: fileValuedKeyPaths)
        }
        let tableList = "[" + tables.enumerated().map { index, table in
            Self.described(table.description, at: "tables[\(index)]", fileValued: fileValuedKeyPaths)
        }.joined(separator: ", ") + "]"
        return [
            postgres.redactedDescription,
            postgresPrimary.map { $0.redactedDescription(keyPrefix: "postgres.primary") } ?? "postgres.primary=(none)",
            field("slot.name", slot.name),
            field("slot.create", "\(slot.create)"),
            field("slot.failover", "\(slot.failover)"),
            field("publication.name", publication.name),
            field("publication.create", "\(publication.create)"),
            "tables=\(tableList)",
            field("topic_prefix", topicPrefix),
            kafka.redactedDescription,
            field("delivery", delivery.rawValue),
            field("status_interval_ms", "\(statusIntervalMilliseconds)"),
            field("confirm_interval_ms", "\(confirmIntervalMilliseconds)"),
            field("max_in_flight_events", "\(maxInFlightEvents)"),
            field("max_in_flight_bytes", "\(maxInFlightBytes)"),
            field("log_level", logLevel),
            field("events.tombstones.on.delete", "\(events.tombstonesOnDelete)"),
            field("events.extended.headers.enabled", "\(events.extendedHeadersEnabled)"),
            field("events.skipped.operations", events.skippedOperations.isEmpty ? "none" : events.skippedOperations.map(\.rawValue).sorted().joined(separator: ",")),
            field("snapshot.mode", snapshot.mode.rawValue),
            field("snapshot.max_threads", "\(snapshot.maxThreads)"),
            field("snapshot.chunk_rows", "\(snapshot.chunkRows)"),
            field("snapshot.signal_table", snapshot.signalTable.map(\.description) ?? "(none)"),
            field("snapshot.incremental_chunk_rows", "\(snapshot.incrementalChunkRows)"),
            field("state_dir", Self.quotedIfAmbiguous(stateDirectory)),
            // The action query is the operator's SQL: shown only as set or not.
            field("heartbeat.interval_ms", "\(heartbeat.intervalMilliseconds)"),
            "heartbeat.action_query=\(heartbeat.actionQuery == nil ? "(none)" : "(set)")",
            field("heartbeat.emit_record", "\(heartbeat.emitRecord)"),
            field("heartbeat.stall_warning_s", "\(heartbeat.stallWarningSeconds)"),
            field("log_format", logFormat.rawValue),
            field("http.listen", http.listen.map(\.description) ?? "(off)"),
            field("events.format", events.format.rawValue),
        ].joined(separator: " ") + (schemaRegistry.map { " " + $0.redactedDescription(fileValued: fileValuedKeyPaths) } ?? "")
    }

    /// `path=value` for a redacted description, the value as ``described(_:at:fileValued:)`` shows it.
    static func field(_ path: String, _ value: String?, fileValued: Set<String>) -> String {
        "\(path)=\(described(value, at: path, fileValued: fileValued))"
    }

    /// The value at key path `path` as redacted descriptions show it: ``SecretValue/masked`` for a
    /// secret, `(none)` for an absent value. A value secret by its key shows only whether it is set;
    /// one read through `${file:...}` (listed in `fileValued`) is masked even when the file was empty.
    static func described(_ value: String?, at path: String, fileValued: Set<String>) -> String {
        let secret = isSecretByKey(path: path) ? value != nil : fileValued.contains(path)
        return SecretValue.shown(value ?? "(none)", secret: secret, placeholder: SecretValue.masked)
    }

    /// Quotes values that contain spaces or characters that would make the line ambiguous.
    static func quotedIfAmbiguous(_ value: String) -> String {
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
    var redactedDescription: String { redactedDescription(keyPrefix: "postgres") }

    /// `keyPrefix`: `postgres`, or `postgres.primary`.
    func redactedDescription(keyPrefix: String) -> String {
        func field(_ key: String, _ value: String?) -> String {
            SwallowConfiguration.field("\(keyPrefix).\(key)", value, fileValued: fileValuedKeyPaths)
        }
        let quotedIfAmbiguous = SwallowConfiguration.quotedIfAmbiguous
        return [
            field("host", quotedIfAmbiguous(host)),
            field("port", ports.map(String.init).joined(separator: ",")),
            field("target_session_attrs", targetSessionAttributes),
            field("dbname", quotedIfAmbiguous(dbname)),
            field("user", quotedIfAmbiguous(user)),
            field("password", password),
            field("sslmode", sslmode.rawValue),
            field("sslrootcert", tls.rootCertificateFile.map(quotedIfAmbiguous)),
            field("sslcert", tls.certificateFile.map(quotedIfAmbiguous)),
            field("sslkey", tls.keyFile.map(quotedIfAmbiguous)),
            field("sslpassword", tls.keyPassword),
            field("connect_timeout_s", "\(connectTimeoutSeconds)"),
        ].joined(separator: " ")
    }

    /// Redacted: passwords and values read from files are shown as `***`.
    public var description: String { redactedDescription }
    public var debugDescription: String { redactedDescription }
}

extension SwallowConfiguration.Postgres.TLS: CustomStringConvertible, CustomDebugStringConvertible {
    /// Redacted: the key's passphrase is shown as `***`.
    public var description: String {
        let passphrase = SecretValue.shown(keyPassword ?? "nil", secret: keyPassword != nil, placeholder: SecretValue.masked)
        return "TLS(sslrootcert: \(rootCertificateFile ?? "nil"), sslcert: \(certificateFile ?? "nil"), sslkey: \(keyFile ?? "nil"), sslpassword: \(passphrase))"
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
        let quotedIfAmbiguous = SwallowConfiguration.quotedIfAmbiguous
        let props = properties.keys.sorted().map { key in
            let value = SwallowConfiguration.described(quotedIfAmbiguous(properties[key] ?? ""),
                                                       at: SwallowConfiguration.kafkaPropertyPathPrefix + key,
                                                       fileValued: fileValuedKeyPaths)
            return "\(quotedIfAmbiguous(key))=\(value)"
        }
        func field(_ key: String, _ value: String) -> String {
            SwallowConfiguration.field("kafka.\(key)", value, fileValued: fileValuedKeyPaths)
        }
        return [
            field("bootstrap_servers", servers),
            "kafka.properties={\(props.joined(separator: ", "))}",
            field("flush_timeout_ms", "\(flushTimeoutMilliseconds)"),
        ].joined(separator: " ")
    }

    /// Redacted: secret-looking properties and values read from files are shown as `***`.
    public var description: String { redactedDescription }
    public var debugDescription: String { redactedDescription }
}
