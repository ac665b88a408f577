import Foundation
import PGReplication
import SwallowConfig
import Testing
@testable import Pipeline

/// Whatever prints the pipeline's settings or connection parameters (interpolation, `dump`, the
/// debugger) never prints a password, a key passphrase, a secret Kafka property or a value read from a file.
@Suite struct SettingsRedactionTests {
    static let secrets = ["pg-pass-41c", "key-pass-41c", "sasl-pass-41c", "file-user-41c"]

    func settings() throws -> PipelineSettings {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("redaction-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for name in ["client.crt", "client.key"] {
            _ = FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data("pem".utf8))
        }
        _ = FileManager.default.createFile(atPath: "\(directory)/sasl-user", contents: Data("file-user-41c\n".utf8))
        let configuration = try SwallowConfiguration.parse(yaml: """
            postgres: {host: db.internal, dbname: app, user: swallow, password: pg-pass-41c, sslmode: require,
                       sslcert: \(directory)/client.crt, sslkey: \(directory)/client.key, sslpassword: key-pass-41c}
            slot: {name: swallow}
            publication: {name: swallow}
            topic_prefix: app
            kafka:
              bootstrap_servers: k1:9093
              properties: {sasl.password: sasl-pass-41c, sasl.username: '${file:\(directory)/sasl-user}', linger.ms: 9}
            """, environment: [:])
        return PipelineSettings(configuration: configuration, bootstrapServers: "k1:9093", connectorVersion: "test")
    }

    @Test func settingsAndConnectionParametersPrintNoSecret() throws {
        let settings = try settings()
        #expect(settings.connection.password == "pg-pass-41c")
        #expect(settings.connection.sslKeyPassword == "key-pass-41c")
        #expect(settings.kafkaSecretProperties == ["sasl.password", "sasl.username"])
        var dumped = ""
        dump(settings, to: &dumped)
        var dumpedConnection = ""
        dump(settings.connection, to: &dumpedConnection)
        for text in ["\(settings)", String(reflecting: settings), dumped,
                     "\(settings.connection)", String(reflecting: settings.connection), dumpedConnection] {
            for secret in Self.secrets {
                #expect(!text.contains(secret), "leaks \(secret): \(text)")
            }
        }
        #expect("\(settings)".contains("swallow@db.internal:5432/app"))
        #expect("\(settings)".contains("sasl.password=***"))
        #expect("\(settings)".contains("linger.ms=9"))
    }

    @Test func tlsFilesReachTheConnectionParameters() throws {
        let connection = try settings().connection
        #expect(connection.sslMode == "require")
        #expect(connection.sslCertificateFile?.hasSuffix("/client.crt") == true)
        #expect(connection.sslKeyFile?.hasSuffix("/client.key") == true)
        #expect(connection.sslRootCertificateFile == nil)
    }
}
