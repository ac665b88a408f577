extension SwallowConfiguration {
    /// `schema_registry:` — the Confluent-compatible Schema Registry of `events.format: avro`.
    public struct SchemaRegistry: Sendable, Equatable {
        /// Confluent's subject name strategies.
        public enum SubjectNameStrategy: String, Sendable, CaseIterable {
            /// `<topic>-key`, `<topic>-value` (Confluent's default, TopicNameStrategy).
            case topicName = "topic_name"
            /// The record's full name (RecordNameStrategy).
            case recordName = "record_name"
            /// `<topic>-<record full name>` (TopicRecordNameStrategy).
            case topicRecordName = "topic_record_name"
        }

        /// `url`: one base URL or several (a YAML list or comma-separated), tried in order.
        public var urls: [String]
        /// `username` / `password`: HTTP basic auth (Confluent's `basic.auth.user.info`).
        public var username: String?
        public var password: String?
        /// `sslrootcert`, `sslcert`, `sslkey`, `sslpassword`: as for PostgreSQL (checked readable at start).
        public var tls: Postgres.TLS
        public var subjectNameStrategy: SubjectNameStrategy
        /// `auto_register` (Confluent's `auto.register.schemas`): register new schemas (true) or only look
        /// them up (false: a schema nobody registered stops Swallow).
        public var autoRegister: Bool
        /// `request_timeout_ms`: one request's limit.
        public var requestTimeoutMilliseconds: Int
        /// `retry_timeout_ms`: how long an unreachable or failing registry is retried, with backoff, before
        /// the stream restarts from the confirmed position (and retries again).
        public var retryTimeoutMilliseconds: Int

        public init(urls: [String], username: String? = nil, password: String? = nil, tls: Postgres.TLS = Postgres.TLS(),
                    subjectNameStrategy: SubjectNameStrategy = .topicName, autoRegister: Bool = true,
                    requestTimeoutMilliseconds: Int = 10_000, retryTimeoutMilliseconds: Int = 120_000) {
            self.urls = urls
            self.username = username
            self.password = password
            self.tls = tls
            self.subjectNameStrategy = subjectNameStrategy
            self.autoRegister = autoRegister
            self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
            self.retryTimeoutMilliseconds = retryTimeoutMilliseconds
        }

        /// The `schema_registry.*` part of a redacted description: passwords and `${file:...}` values masked.
        func redactedDescription(fileValued: Set<String>) -> String {
            func field(_ key: String, _ value: String?) -> String {
                SwallowConfiguration.field("schema_registry.\(key)", value, fileValued: fileValued)
            }
            let quoted = SwallowConfiguration.quotedIfAmbiguous
            return [
                field("url", urls.map(quoted).joined(separator: ",")),
                field("username", username.map(quoted)),
                field("password", password),
                field("sslrootcert", tls.rootCertificateFile.map(quoted)),
                field("sslcert", tls.certificateFile.map(quoted)),
                field("sslkey", tls.keyFile.map(quoted)),
                field("sslpassword", tls.keyPassword),
                field("subject_name_strategy", subjectNameStrategy.rawValue),
                field("auto_register", "\(autoRegister)"),
                field("request_timeout_ms", "\(requestTimeoutMilliseconds)"),
                field("retry_timeout_ms", "\(retryTimeoutMilliseconds)"),
            ].joined(separator: " ")
        }
    }
}
