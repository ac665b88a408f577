import Foundation
import Testing
@testable import Kafka

/// Secret property values (passwords, keys, values read from files) never appear in what the producer
/// reports, although librdkafka's own messages quote values.
@Suite("Secret properties and security settings")
struct SecretPropertyTests {
    private func producer(_ properties: [String: String], secret: Set<String> = [],
                          logs: LogCollector? = nil) throws(KafkaError) -> KafkaProducer {
        // Nothing listens on port 1: creating a producer does not need a reachable broker.
        try KafkaProducer(bootstrapServers: "127.0.0.1:1", properties: properties, secretProperties: secret,
                          onDeliveryReports: { _ in }, onFatalError: { _ in }, logHandler: logs?.handler)
    }

    @Test("a bad security.protocol is refused, naming the property and the values it takes")
    func badSecurityProtocol() {
        let error = #expect(throws: KafkaError.self) { _ = try producer(["security.protocol": "sasl-ssl"]) }
        #expect(error?.code == .configuration)
        #expect(error?.message.hasPrefix("Kafka property 'security.protocol': Invalid value") == true,
                "\(error?.message ?? "")")
        #expect(error?.message.contains("expected one of plaintext, ssl, sasl_plaintext, sasl_ssl") == true)
        #expect(error?.isRetriable == false)
    }

    @Test("a bad value of a secret property is refused without quoting it")
    func badSecretValueIsMasked() {
        // librdkafka quotes the value ("Invalid value \"...\" for configuration property ...").
        let plain = #expect(throws: KafkaError.self) { _ = try producer(["security.protocol": "from-a-file-7f3a"]) }
        #expect(plain?.message.contains("from-a-file-7f3a") == true, "librdkafka no longer quotes values: \(plain?.message ?? "")")

        let error = #expect(throws: KafkaError.self) {
            _ = try producer(["security.protocol": "from-a-file-7f3a"], secret: ["security.protocol"])
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("'security.protocol'") == true)
        #expect(error?.message.contains("from-a-file-7f3a") == false, "\(error?.message ?? "")")
        #expect(error?.message.contains("***") == true)
    }

    @Test("the admin client (swallow check) masks secret values as the producer does")
    func adminMasksSecretValues() {
        let error = #expect(throws: KafkaError.self) {
            _ = try KafkaAdmin(bootstrapServers: "127.0.0.1:1", properties: ["security.protocol": "from-a-file-7f3a"],
                               secretProperties: ["security.protocol"])
        }
        #expect(error?.message.contains("'security.protocol'") == true)
        #expect(error?.message.contains("from-a-file-7f3a") == false, "\(error?.message ?? "")")
    }

    @Test("a client that cannot be created because of a bad key is refused naming the property")
    func badKeyMaterial() {
        let error = #expect(throws: KafkaError.self) {
            _ = try producer(["security.protocol": "ssl", "ssl.key.pem": "KEY-MATERIAL-9c1d",
                              "ssl.certificate.pem": "CERT-MATERIAL-9c1d"],
                             secret: ["ssl.key.pem"])
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("ssl.") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("KEY-MATERIAL-9c1d") == false)
    }

    @Test("librdkafka's error events and log lines never quote a secret value")
    func runtimeErrorsAreMasked() throws {
        // An unsecured-JWT configuration librdkafka cannot parse: its error event quotes it.
        let properties = ["security.protocol": "sasl_plaintext", "sasl.mechanisms": "OAUTHBEARER",
                          "enable.sasl.oauthbearer.unsecure.jwt": "true",
                          "sasl.oauthbearer.config": "principal=swallow jwt-secret-5e21"]

        let unmasked = LogCollector()
        let first = try producer(properties, logs: unmasked)
        try waitFor { unmasked.all.contains { $0.message.contains("sasl.oauthbearer.config") } }
        first.close()
        #expect(unmasked.all.contains { $0.message.contains("jwt-secret-5e21") },
                "librdkafka no longer quotes the value; this test no longer proves the masking")

        let logs = LogCollector()
        let second = try producer(properties, secret: ["sasl.oauthbearer.config"], logs: logs)
        try waitFor { logs.all.contains { $0.message.contains("sasl.oauthbearer.config") } }
        second.close()
        let lines = logs.all
        #expect(!lines.contains { $0.message.contains("jwt-secret-5e21") }, "\(lines.map(\.message))")
        #expect(lines.contains { $0.message.contains("***") })
    }

    @Test("the mask hides whole secret values and words that are part of one, and nothing else")
    func maskHidesWholeValuesAndParts() {
        let mask = SecretMask(values: ["principal=swallow jwt-secret-5e21", "hunter2!"])
        #expect(mask("Unrecognized sasl.oauthbearer.config beginning at: jwt-secret-5e21")
                == "Unrecognized sasl.oauthbearer.config beginning at: ***")
        #expect(mask("config \"principal=swallow jwt-secret-5e21\" rejected") == "config \"***\" rejected")
        #expect(mask("password hunter2! refused (hunter2!)") == "password *** refused (***)")
        #expect(mask("Connect to ipv4#127.0.0.1:1 failed: Connection refused")
                == "Connect to ipv4#127.0.0.1:1 failed: Connection refused")
        #expect(SecretMask(values: [])("anything jwt") == "anything jwt")
    }

    private struct TimedOut: Error, CustomStringConvertible {
        var description: String { "timed out waiting for librdkafka's log line" }
    }

    private func waitFor(_ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            guard Date() < deadline else { throw TimedOut() }
            usleep(20_000)
        }
    }
}
