extension PipelineSettings: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Where the pipeline reads and writes, without secrets: the connection as `user@host:port/db`,
    /// Kafka properties with secret values as `***`.
    public var description: String {
        let properties = kafkaProperties.keys.sorted().map { name in
            "\(name)=\(kafkaSecretProperties.contains(name) ? "***" : kafkaProperties[name] ?? "")"
        }
        return "PipelineSettings(postgres: \(connection.redactedDescription), slot: \(slotName), "
            + "publication: \(publicationName), topic_prefix: \(topicPrefix), bootstrap_servers: \(bootstrapServers), "
            + "kafka.properties: {\(properties.joined(separator: ", "))})"
    }

    public var debugDescription: String { description }
    /// `dump` and the debugger see the redacted description only.
    public var customMirror: Mirror { Mirror(self, children: ["redacted": description]) }
}
