import SwallowConfig
import Testing

@Suite struct KafkaPropertiesTests {
    @Test func scalarsAreStringifiedAsWritten() throws {
        let yaml = ConfigDocument().yaml.replacingOccurrences(of: "  bootstrap_servers: embedded\n", with: """
              bootstrap_servers: embedded
              properties:
                enable.idempotence: true
                linger.ms: 5
                batch.num.messages: 010
                retry.backoff.ms: 0.5
                compression.type: lz4
                client.id: "swallow 1"
                acks: all
                sasl.password: ${KAFKA_PASSWORD}

            """)
        let config = try Config.parse(yaml: yaml, environment: ["KAFKA_PASSWORD": "k-secret"])
        #expect(config.kafka.properties == [
            "enable.idempotence": "true",
            "linger.ms": "5",
            "batch.num.messages": "010",
            "retry.backoff.ms": "0.5",
            "compression.type": "lz4",
            "client.id": "swallow 1",
            "acks": "all",
            "sasl.password": "k-secret",
        ])
    }

    @Test func nullPropertyValueIsRejected() throws {
        var document = ConfigDocument()
        document.kafka = ["properties": "{linger.ms: ~}"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "kafka.properties.linger.ms")
        #expect(error.message.contains("expected a scalar value"))
        #expect(error.message.contains("remove the property"))
    }

    @Test func nestedPropertyValueIsRejected() throws {
        var document = ConfigDocument()
        document.kafka = ["properties": "{linger: {ms: 5}}"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "kafka.properties.linger")
        #expect(error.message == "expected a scalar value (string, number or boolean), got a mapping")
    }

    @Test(arguments: ["bootstrap.servers", "metadata.broker.list"])
    func bootstrapPropertyIsRejected(key: String) throws {
        var document = ConfigDocument()
        document.kafka = ["properties": "{\(key): 'k:9092'}"]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "kafka.properties.\(key)")
        #expect(error.message.contains("kafka.bootstrap_servers"))
    }

    @Test func secretPatterns() {
        for key in ["sasl.password", "ssl.key.password", "SSL.KEYSTORE.PASSWORD", "sasl.oauthbearer.client.secret",
                    "sasl.oauthbearer.config", "ssl.key.pem", "ssl.key.location", "my.secret.thing"] {
            #expect(Config.isSecretPropertyKey(key), "\(key)")
        }
        for key in ["sasl.username", "acks", "ssl.ca.location", "linger.ms", "sasl.mechanisms"] {
            #expect(!Config.isSecretPropertyKey(key), "\(key)")
        }
    }
}
