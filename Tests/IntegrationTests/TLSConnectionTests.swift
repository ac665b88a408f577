import Foundation
import Kafka
import PGReplication
import Synchronization
import Testing

/// A PostgreSQL cluster of its own with TLS on (scripts/pg-tls-cluster.sh): a test CA, a server certificate
/// for `localhost`, a client certificate for role `cert_user` (plain and passphrase-encrypted keys), and a
/// pg_hba.conf that admits `cert_user` only with that certificate over TLS.
final class TLSTestCluster: Sendable {
    let port: Int
    let directory: String
    var tls: String { "\(directory)/tls" }

    static let shared: TLSTestCluster = {
        do { return try TLSTestCluster() } catch { fatalError("cannot start the TLS test cluster: \(error)") }
    }()

    private init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-tls-\(getpid())").path
        let output = try runScript("scripts/pg-tls-cluster.sh", ["start", directory])
        guard let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "") else {
            throw TestFailure("pg-tls-cluster.sh printed no port: \(output)")
        }
        self.port = port
        tlsClusterToStop.withLock { $0 = directory }
        atexit {
            if let directory = tlsClusterToStop.withLock({ $0 }) {
                _ = try? runScript("scripts/pg-tls-cluster.sh", ["stop", directory])
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    /// Parameters for `user` on database `postgres`, by default verifying the server against the test CA.
    func parameters(user: String = "cert_user", host: String = "localhost", sslMode: String = "verify-full",
                    rootCertificate: String? = "ca.crt", certificate: String? = nil, key: String? = nil,
                    keyPassword: String? = nil, password: String? = nil,
                    database: String = "postgres") -> ConnectionParameters {
        ConnectionParameters(host: host, port: port, database: database, user: user, password: password,
                             sslMode: sslMode, connectTimeoutSeconds: 10,
                             sslRootCertificateFile: rootCertificate.map { "\(tls)/\($0)" },
                             sslCertificateFile: certificate.map { "\(tls)/\($0)" },
                             sslKeyFile: key.map { "\(tls)/\($0)" }, sslKeyPassword: keyPassword)
    }

    /// The test's own set-up connection: `postgres` over a plain connection (hostnossl trust).
    func admin(_ database: String = "postgres") throws -> PostgresConnection {
        try PostgresConnection(ConnectionParameters(host: "127.0.0.1", port: port, database: database, user: "postgres",
                                                    password: nil, sslMode: "disable"), replication: false)
    }
}

private let tlsClusterToStop = Mutex<String?>(nil)

/// Whether `connection` runs over TLS, and as whom, as the server sees it.
private func sessionState(_ connection: PostgresConnection) throws -> (ssl: Bool, user: String) {
    let result = try connection.execute(
        "SELECT ssl::text AS ssl, current_user AS who FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    return (result[0, "ssl"] == "true", result[0, "who"] ?? "")
}

private func connectionError(_ parameters: ConnectionParameters, replication: Bool = false) -> ReplicationError? {
    do {
        let connection = try PostgresConnection(parameters, replication: replication)
        connection.close()
        return nil
    } catch {
        return error
    }
}

// Serialized: the first test starts the shared TLS cluster (several seconds) and the others are quick;
// side by side they would only hold their turns waiting for that start.
@Suite("TLS to PostgreSQL (a cluster of its own with ssl=on)", .serialized, .integrationTest)
struct TLSConnectionTests {
    let cluster = TLSTestCluster.shared

    @Test func verifyFullAgainstTheCAConnectsOverTLS() throws {
        // hostssl trust for any role but cert_user and password_user: only the server is verified.
        let admin = try cluster.admin()
        defer { admin.close() }
        _ = try? admin.execute("CREATE ROLE tls_trusted LOGIN REPLICATION")
        for replication in [false, true] {
            let connection = try PostgresConnection(cluster.parameters(user: "tls_trusted"), replication: replication)
            defer { connection.close() }
            if !replication {
                #expect(try sessionState(connection) == (true, "tls_trusted"))
            }
        }
    }

    @Test func clientCertificateAuthenticatesTheRole() throws {
        let connection = try PostgresConnection(
            cluster.parameters(certificate: "client.crt", key: "client.key"), replication: false)
        defer { connection.close() }
        #expect(try sessionState(connection) == (true, "cert_user"))
    }

    @Test func encryptedKeyIsOpenedWithSSLPassword() throws {
        let connection = try PostgresConnection(
            cluster.parameters(certificate: "client.crt", key: "client-encrypted.key", keyPassword: "tls-test-passphrase"),
            replication: true)
        connection.close()

        let error = try #require(connectionError(
            cluster.parameters(certificate: "client.crt", key: "client-encrypted.key", keyPassword: "wrong-passphrase-77")))
        #expect(error.code == .authenticationFailed)
        #expect(!error.isRetriable)
        #expect(error.description.contains("private key"), "\(error)")
        #expect(error.description.contains("postgres.sslpassword"), "\(error)")
        #expect(!error.description.contains("wrong-passphrase-77"))
    }

    @Test func aRoleThatNeedsACertificateIsToldSo() throws {
        let error = try #require(connectionError(cluster.parameters()))
        #expect(error.code == .authenticationFailed)
        #expect(error.description.contains("requires a valid client certificate"), "\(error)")
        #expect(error.description.contains("postgres.sslcert"), "\(error)")
    }

    @Test func aWrongCAFailsWithAClearError() throws {
        let error = try #require(connectionError(
            cluster.parameters(rootCertificate: "other-ca.crt", certificate: "client.crt", key: "client.key")))
        #expect(error.code == .connectionFailed)
        #expect(error.description.contains("certificate verify failed"), "\(error)")
        #expect(error.description.contains("postgres.sslrootcert"), "\(error)")
    }

    @Test func verifyFullRefusesAHostTheCertificateDoesNotName() throws {
        let error = try #require(connectionError(
            cluster.parameters(host: "127.0.0.1", certificate: "client.crt", key: "client.key")))
        #expect(error.description.contains("does not match host name"), "\(error)")
        #expect(error.description.contains("verify-ca"), "\(error)")
        // verify-ca checks the chain only, so the same address is accepted.
        let connection = try PostgresConnection(
            cluster.parameters(host: "127.0.0.1", sslMode: "verify-ca", certificate: "client.crt", key: "client.key"),
            replication: false)
        connection.close()
    }

    @Test func aWrongPasswordOverTLSIsNotEchoed() throws {
        let error = try #require(connectionError(
            cluster.parameters(user: "password_user", password: "wrong-password-3b9")))
        #expect(error.code == .authenticationFailed)
        #expect(error.description.contains("password authentication failed"), "\(error)")
        #expect(!error.description.contains("wrong-password-3b9"))
        let connection = try PostgresConnection(
            cluster.parameters(user: "password_user", password: "right-password"), replication: false)
        defer { connection.close() }
        #expect(try sessionState(connection) == (true, "password_user"))
    }

    /// The whole service over TLS with a client certificate whose key is encrypted and whose passphrase is
    /// read from a file: `swallow run` with snapshot.mode initial_only delivers the rows and exits 0.
    @Test func swallowRunsOverTLSWithAClientCertificate() throws {
        let database = "tls_run_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try cluster.admin()
        try admin.execute("CREATE DATABASE \(database)")
        admin.close()
        let sql = try cluster.admin(database)
        defer {
            _ = try? sql.execute("SELECT pg_drop_replication_slot('\(database)')")
            sql.close()
        }
        try sql.execute("CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders VALUES (1, 'a'), (2, 'b'), (3, 'c')")

        let files = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-tls-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: files) }
        try "tls-test-passphrase\n".write(toFile: "\(files)/sslpassword", atomically: true, encoding: .utf8)
        let kafka = try MockKafkaCluster()
        let configPath = "\(files)/swallow.yaml"
        try """
            postgres:
              host: localhost
              port: \(cluster.port)
              dbname: \(database)
              user: cert_user
              sslmode: verify-full
              sslrootcert: \(cluster.tls)/ca.crt
              sslcert: \(cluster.tls)/client.crt
              sslkey: \(cluster.tls)/client-encrypted.key
              sslpassword: ${file:\(files)/sslpassword}
            slot: {name: \(database)}
            publication: {name: swallow}
            tables: [public.orders]
            topic_prefix: app
            kafka: {bootstrap_servers: "\(kafka.bootstrapServers)"}
            snapshot: {mode: initial_only}
            state_dir: \(files)/state
            """.write(toFile: configPath, atomically: true, encoding: .utf8)

        let result = try runSwallow(["run", "--config", configPath])
        #expect(result.status == 0, "\(result.text)")
        #expect(result.text.contains("postgres.sslpassword=***"), "\(result.text)")
        #expect(!result.text.contains("tls-test-passphrase"))

        let consumer = try KafkaConsumer(bootstrapServers: kafka.bootstrapServers, topics: ["app.public.orders"],
                                         waitForTopicsMilliseconds: 30_000)
        defer { consumer.close() }
        let records = try consumer.readToEnd(timeoutMilliseconds: 30_000)
        let keys = records.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }
        #expect(keys.sorted() == [#"{"id":1}"#, #"{"id":2}"#, #"{"id":3}"#])
    }
}
