import SwallowConfig
import Testing

@Suite struct RedactionTests {
    static let secrets = ["pg-s3cret", "k-pass", "ok-secret", "oauth-cfg", "KEY-PEM"]

    func configWithSecrets() throws -> Config {
        var document = ConfigDocument()
        document.postgres = ["password": "${PGPASSWORD}"]
        document.kafka = ["bootstrap_servers": "'k1:9092,k2:9092'", "properties": """
            {sasl.password: k-pass, sasl.oauthbearer.client.secret: ok-secret, sasl.oauthbearer.config: oauth-cfg, \
            ssl.key.pem: KEY-PEM, sasl.username: alice, linger.ms: 5}
            """]
        return try Config.parse(yaml: document.yaml, environment: ["PGPASSWORD": "pg-s3cret"])
    }

    @Test func redactedDescriptionHidesSecrets() throws {
        let config = try configWithSecrets()
        let text = config.redactedDescription
        for secret in Self.secrets {
            #expect(!text.contains(secret), "redactedDescription leaks \(secret): \(text)")
        }
        #expect(text.contains("postgres.password=***"))
        #expect(text.contains("sasl.password=***"))
        #expect(text.contains("sasl.oauthbearer.client.secret=***"))
        #expect(text.contains("sasl.oauthbearer.config=***"))
        #expect(text.contains("ssl.key.pem=***"))
        #expect(text.contains("sasl.username=alice"))
        #expect(text.contains("linger.ms=5"))
        #expect(text.contains("postgres.host=db.internal"))
        #expect(text.contains("kafka.bootstrap_servers=k1:9092,k2:9092"))
    }

    @Test func descriptionsAreRedactedToo() throws {
        let config = try configWithSecrets()
        for text in ["\(config)", String(reflecting: config), "\(config.postgres)", "\(config.kafka)"] {
            for secret in Self.secrets {
                #expect(!text.contains(secret), "leaks \(secret): \(text)")
            }
        }
        #expect("\(config)" == config.redactedDescription)
    }

    @Test func missingPasswordIsShownAsNone() throws {
        let config = try Config.parse(yaml: ConfigDocument().yaml, environment: [:])
        #expect(config.redactedDescription.contains("postgres.password=(none)"))
        #expect(config.redactedDescription.contains("tables=[]"))
        #expect(config.redactedDescription.contains("kafka.bootstrap_servers=embedded"))
    }
}

@Suite struct SecretsInErrorsTests {
    @Test func wrongTypedPasswordDoesNotEchoValue() throws {
        var document = ConfigDocument()
        document.postgres = ["password": "[pg-s3cret]"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "postgres.password")
        #expect(!error.description.contains("pg-s3cret"))
    }

    @Test func malformedReferenceInPasswordDoesNotEchoValue() throws {
        var document = ConfigDocument()
        document.postgres = ["password": "'pg-s3cret${oops'"]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.password")
        #expect(!error.description.contains("pg-s3cret"))
        #expect(!error.description.contains("oops"))

        document.postgres = ["password": "'pg-s3cret${bad-name}'"]
        let second = try #require(parseError(document))
        #expect(second.path == "postgres.password")
        #expect(!second.description.contains("pg-s3cret"))
        #expect(!second.description.contains("bad-name"))
    }

    @Test func secretKafkaPropertyDoesNotEchoValue() throws {
        var document = ConfigDocument()
        document.kafka = ["properties": "{sasl.password: '${KP:-k-pass}${broken'}"]
        let error = try #require(parseError(document))
        #expect(error.path == "kafka.properties.sasl.password")
        #expect(!error.description.contains("k-pass"))
        #expect(!error.description.contains("broken"))

        document.kafka = ["properties": "{ssl.key.pem: [KEY-PEM]}"]
        let second = try #require(parseError(document))
        #expect(second.code == .wrongType)
        #expect(!second.description.contains("KEY-PEM"))
    }

    @Test func yamlSyntaxErrorDoesNotQuoteTheSourceLine() throws {
        let yaml = ConfigDocument().yaml.replacingOccurrences(
            of: "  user: swallow\n", with: "  user: swallow\n  password: \"pg-s3cret\n")
        let error = try #require(parseError(yaml))
        #expect(error.code == .invalidYAML)
        #expect(!error.description.contains("pg-s3cret"))
        #expect(error.message.contains("line"))
    }

    @Test func nonSecretWrongTypedValueFromEnvironmentIsShown() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "${X}"]
        let error = try #require(parseError(document, environment: ["X": "oops"]))
        #expect(error.message.contains("\"oops\""))
    }
}
