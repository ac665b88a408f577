import Testing
@testable import PGReplication

/// Which PostgreSQL failures the pipeline retries (reconnecting later can succeed with nobody changing
/// anything) and which stop it with the fix named, case by case.
@Suite struct RetryClassificationTests {
    static let parameters = ConnectionParameters(host: "db.example", port: 5432, database: "app", user: "swallow",
                                                 password: "s3cret-value")

    @Test(arguments: [ReplicationError.Code.connectionFailed, .slotInUse, .streamEnded])
    func passingConditionsAreRetried(_ code: ReplicationError.Code) {
        #expect(ReplicationError(code: code, message: "m").isRetriable)
    }

    @Test(arguments: [ReplicationError.Code.authenticationFailed, .insufficientPrivilege, .slotMissing, .slotUnusable,
                      .slotInvalidated, .publicationMissing, .tableMissing, .serverMisconfigured, .protocolViolation])
    func whatNeedsAnOperatorIsNotRetried(_ code: ReplicationError.Code) {
        #expect(!ReplicationError(code: code, message: "m").isRetriable)
    }

    @Test(arguments: [("08006", true), ("57P01", true), ("57P03", true), ("53300", true), ("40001", true),
                      ("42501", false), ("42P01", false), ("XX000", false), ("22P02", false)])
    func failedCommandsAreRetriedByTheirSQLSTATEClass(_ sqlState: String, _ retriable: Bool) {
        #expect(ReplicationError(code: .commandFailed, message: "m", sqlState: sqlState).isRetriable == retriable)
        #expect(!ReplicationError(code: .commandFailed, message: "m").isRetriable, "no SQLSTATE: not retried")
    }

    @Test(arguments: [
        ("could not connect to server: Connection refused", ReplicationError.Code.connectionFailed, "postgres.host/port"),
        ("timeout expired", .connectionFailed, "postgres.host/port"),
        ("FATAL:  password authentication failed for user \"swallow\"", .authenticationFailed, "postgres.password"),
        ("fe_sendauth: no password supplied", .authenticationFailed, "postgres.password"),
        ("FATAL:  must be superuser or replication role to start walsender", .insufficientPrivilege, "WITH REPLICATION"),
        ("FATAL:  no pg_hba.conf entry for replication connection from host", .insufficientPrivilege, "pg_hba.conf"),
        ("FATAL:  database \"app\" does not exist", .commandFailed, "postgres.dbname"),
        ("could not load private key file \"k.pem\": bad decrypt", .authenticationFailed, "postgres.sslkey"),
        ("FATAL:  certificate authentication failed for user \"swallow\"", .authenticationFailed, "common name"),
        ("FATAL:  connection requires a valid client certificate", .authenticationFailed, "postgres.sslcert"),
        ("SSL error: certificate verify failed", .connectionFailed, "sslrootcert"),
        ("server does not support SSL, but SSL was required", .connectionFailed, "enable ssl"),
    ])
    func connectFailuresAreClassifiedWithTheirFix(_ text: String, _ code: ReplicationError.Code, _ fix: String) {
        let error = PostgresConnection.classifyConnectFailure(text, parameters: Self.parameters, replication: true)
        #expect(error.code == code)
        #expect(error.hint?.contains(fix) == true, "hint: \(error.hint ?? "none")")
        #expect(error.message.contains("db.example"))
        #expect(!error.description.contains("s3cret-value"))
        // Only an unreachable server clears up by itself.
        #expect(error.isRetriable == (code == .connectionFailed))
    }
}
