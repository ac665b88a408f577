import Foundation
import PGReplication
import Testing

/// scripts/test.sh runs this target once per PostgreSQL version of its matrix (scripts/pg-versions.sh),
/// naming the version's binaries in `SWALLOW_TEST_PGBIN`. A run is only worth its minutes if the servers
/// it talks to are that version: the shared cluster, and the clusters tests start of their own.
@Suite(.integrationTest) struct VersionMatrixTests {
    @Test func theSharedAndThePrivateClustersAreTheVersionUnderTest() throws {
        let bindir = try runScript("scripts/pg-cluster.sh", ["bindir"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let (status, text) = try runToCompletion("\(bindir)/postgres", ["--version"])
        try #require(status == 0, "\(text)")
        // "postgres (PostgreSQL) 18.6" or "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
        let version = try #require(text.split(separator: " ").dropFirst(2).first)
        let major = try #require(Int(version.split(separator: ".").first ?? ""))
        if let expected = ProcessInfo.processInfo.environment["SWALLOW_TEST_PGBIN"], !expected.isEmpty {
            #expect(bindir == expected)
        }

        let shared = try TestPostgres.shared.connect("postgres")
        defer { shared.close() }
        #expect(try Self.majorVersion(shared) == major)

        let own = try PrivatePostgres("version")
        defer { own.stop() }
        let connection = try PostgresConnection(own.parameters(database: "postgres"), replication: false)
        defer { connection.close() }
        #expect(try Self.majorVersion(connection) == major)
    }

    static func majorVersion(_ connection: PostgresConnection) throws -> Int? {
        try connection.execute("SELECT current_setting('server_version_num')::int / 10000 AS major")[0, "major"].flatMap { Int($0) }
    }
}
