import SwallowConfig
import Testing

/// `events.format: avro` and its `schema_registry` section.
@Suite struct SchemaRegistryConfigTests {
    private func document(format: String? = "avro", registry: String?) -> String {
        var document = ConfigDocument()
        if let format { document.top["events"] = "{format: \(format)}" }
        if let registry { document.top["schema_registry"] = registry }
        return document.yaml
    }

    @Test func jsonIsTheDefaultAndNeedsNoRegistry() throws {
        let configuration = try Config.parse(yaml: ConfigDocument().yaml, environment: [:])
        #expect(configuration.events.format == .json)
        #expect(configuration.schemaRegistry == nil)
    }

    @Test func avroReadsTheRegistry() throws {
        let configuration = try Config.parse(yaml: document(registry: "{url: \"http://a:8081, https://b:8081/\", username: swallow, password: s3cret, subject_name_strategy: topic_record_name, auto_register: false, request_timeout_ms: 2000, retry_timeout_ms: 0}"), environment: [:])
        #expect(configuration.events.format == .avro)
        let registry = try #require(configuration.schemaRegistry)
        #expect(registry.urls == ["http://a:8081", "https://b:8081/"])
        #expect(registry.username == "swallow" && registry.password == "s3cret")
        #expect(registry.subjectNameStrategy == .topicRecordName)
        #expect(!registry.autoRegister)
        #expect(registry.requestTimeoutMilliseconds == 2000 && registry.retryTimeoutMilliseconds == 0)
        // Secrets never show.
        #expect(!configuration.description.contains("s3cret"))
        #expect(configuration.description.contains("schema_registry.password=***"))
        #expect(configuration.description.contains("schema_registry.url=http://a:8081,https://b:8081/"))
    }

    @Test func urlListAndDefaults() throws {
        let registry = try #require(try Config.parse(yaml: document(registry: "{url: [\"http://a:8081\", \"http://b:8081\"]}"), environment: [:]).schemaRegistry)
        #expect(registry.urls == ["http://a:8081", "http://b:8081"])
        #expect(registry.subjectNameStrategy == .topicName)
        #expect(registry.autoRegister)
        #expect(registry.username == nil)
    }

    @Test func mistakesAreNamed() {
        #expect(parseError(document(registry: nil))?.path == "schema_registry")
        #expect(parseError(document(format: nil, registry: "{url: \"http://a:8081\"}"))?.path == "schema_registry")
        #expect(parseError(document(registry: "{url: \"ftp://a\"}"))?.path == "schema_registry.url")
        #expect(parseError(document(registry: "{url: [\"http://a:8081\", \"nope\"]}"))?.path == "schema_registry.url[1]")
        #expect(parseError(document(registry: "{url: \"http://a:8081\", username: u}"))?.path == "schema_registry.password")
        #expect(parseError(document(registry: "{url: \"http://a:8081\", subject_name_strategy: topic}"))?.path == "schema_registry.subject_name_strategy")
        #expect(parseError(document(registry: "{url: \"http://a:8081\", sslrootcert: /nonexistent/ca.pem}"))?.path == "schema_registry.sslrootcert")
        #expect(parseError(document(registry: "{url: \"http://a:8081\", colour: blue}"))?.path == "schema_registry.colour")
        var withSchemas = ConfigDocument()
        withSchemas.top["events"] = "{format: avro, envelope.schemas: true}"
        withSchemas.top["schema_registry"] = "{url: \"http://a:8081\"}"
        #expect(parseError(withSchemas.yaml)?.path == "events.envelope.schemas")
        #expect(parseError(document(format: "protobuf", registry: "{url: \"http://a:8081\"}"))?.path == "events.format")
    }

    @Test func passwordFromAFileIsMasked() throws {
        let files = try SecretFiles()
        let path = try files.write("registry-password", "file-s3cret\n")
        let configuration = try Config.parse(yaml: document(registry: "{url: \"http://a:8081\", username: u, password: \"${file:\(path)}\"}"), environment: [:])
        #expect(configuration.schemaRegistry?.password == "file-s3cret")
        #expect(!configuration.description.contains("file-s3cret"))
    }

    @Test func tlsFilesNeedHTTPS() throws {
        let files = try SecretFiles()
        let ca = try files.write("ca.pem", "-----BEGIN CERTIFICATE-----\n")
        #expect(parseError(document(registry: "{url: \"http://a:8081\", sslrootcert: \(ca)}"))?.path == "schema_registry.sslrootcert")
        let registry = try #require(try Config.parse(yaml: document(registry: "{url: \"https://a:8081\", sslrootcert: \(ca)}"), environment: [:]).schemaRegistry)
        #expect(registry.tls.rootCertificateFile == ca)
    }
}
