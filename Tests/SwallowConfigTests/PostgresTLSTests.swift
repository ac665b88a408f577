import Foundation
import SwallowConfig
import Testing

@Suite struct PostgresTLSTests {
    @Test func certificateKeysAreReadWithTheirFiles() throws {
        let files = try SecretFiles()
        let root = try files.write("root.crt", "-----BEGIN CERTIFICATE-----\n")
        let cert = try files.write("client.crt", "-----BEGIN CERTIFICATE-----\n")
        let key = try files.write("client.key", "-----BEGIN PRIVATE KEY-----\n")
        var document = ConfigDocument()
        document.postgres = ["sslmode": "verify-full", "sslrootcert": root, "sslcert": cert, "sslkey": key,
                             "sslpassword": "${KEYPASS}"]
        let config = try Config.parse(yaml: document.yaml, environment: ["KEYPASS": "key-passphrase"])
        #expect(config.postgres.tls == .init(rootCertificateFile: root, certificateFile: cert, keyFile: key,
                                             keyPassword: "key-passphrase"))
        for text in [config.redactedDescription, "\(config.postgres)", "\(config.postgres.tls)",
                     String(reflecting: config.postgres)] {
            #expect(!text.contains("key-passphrase"), "leaks the key passphrase: \(text)")
        }
        #expect(config.redactedDescription.contains("postgres.sslrootcert=\(root)"))
        #expect(config.redactedDescription.contains("postgres.sslkey=\(key)"))
        #expect(config.redactedDescription.contains("postgres.sslpassword=***"))
    }

    @Test func defaultsAreNoFiles() throws {
        let config = try Config.parse(yaml: ConfigDocument().yaml, environment: [:])
        #expect(config.postgres.tls == .init())
        #expect(config.redactedDescription.contains("postgres.sslrootcert=(none)"))
        #expect(config.redactedDescription.contains("postgres.sslpassword=(none)"))
    }

    @Test(arguments: ["sslrootcert", "sslcert", "sslkey"])
    func missingFileNamesTheKeyAndThePath(key: String) throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["sslmode": "verify-full",
                             "sslcert": try files.write("c.crt", "c"), "sslkey": try files.write("c.key", "k")]
        document.postgres[key] = files.path("absent.pem")
        let error = try #require(parseError(document))
        #expect(error.code == .fileUnreadable)
        #expect(error.path == "postgres.\(key)")
        #expect(error.message.contains(files.path("absent.pem")))
        #expect(error.message.contains("does not exist"))
    }

    @Test func directoryIsRefused() throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["sslmode": "verify-ca", "sslrootcert": files.directory]
        let error = try #require(parseError(document))
        #expect(error.code == .fileUnreadable)
        #expect(error.message.contains("is a directory"))
    }

    @Test func pathReadFromAFileIsNotShown() throws {
        let files = try SecretFiles()
        let hiddenPath = files.path("hidden-location.pem")
        var document = ConfigDocument()
        document.postgres = ["sslmode": "verify-ca",
                             "sslrootcert": "${file:\(try files.write("where", hiddenPath))}"]
        let error = try #require(parseError(document))
        #expect(error.path == "postgres.sslrootcert")
        #expect(!error.description.contains("hidden-location"))
    }

    @Test(arguments: [("sslcert", "sslkey"), ("sslkey", "sslcert")])
    func clientCertificateNeedsItsKey(set: String, missing: String) throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["sslmode": "require", set: try files.write("f.pem", "x")]
        let error = try #require(parseError(document))
        #expect(error.code == .missingKey)
        #expect(error.path == "postgres.\(missing)")
        #expect(error.message.contains("postgres.\(set) is set"))
    }

    @Test func keyPasswordNeedsAKey() throws {
        var document = ConfigDocument()
        document.postgres = ["sslmode": "require", "sslpassword": "pass-word-value"]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.sslpassword")
        #expect(!error.description.contains("pass-word-value"))
    }

    @Test(arguments: ["disable"])
    func filesWithoutTLSAreRefused(mode: String) throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["sslmode": mode, "sslcert": try files.write("c", "c"), "sslkey": try files.write("k", "k")]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.sslcert")
        #expect(error.message.contains("never uses TLS"))
    }

    @Test(arguments: ["disable", "allow", "prefer"])
    func rootCertificateNeedsAVerifyingMode(mode: String) throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["sslmode": mode, "sslrootcert": try files.write("root.crt", "r")]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.sslrootcert")
        #expect(error.message.contains("verify-full") || error.message.contains("never uses TLS"))
    }

    @Test(arguments: ["require", "verify-ca", "verify-full"])
    func rootCertificateWithACheckingModeIsAccepted(mode: String) throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["sslmode": mode, "sslrootcert": try files.write("root.crt", "r")]
        #expect(try Config.parse(yaml: document.yaml, environment: [:]).postgres.tls.rootCertificateFile != nil)
    }
}
