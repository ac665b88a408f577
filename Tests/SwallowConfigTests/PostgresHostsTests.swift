import SwallowConfig
import Testing

/// `postgres.host` as libpq's list (a primary and its standbys), its ports, and `target_session_attrs`.
@Suite struct PostgresHostsTests {
    private func parse(_ postgres: [String: String?]) throws -> Config {
        var document = ConfigDocument()
        document.postgres = postgres
        return try Config.parse(yaml: document.yaml, environment: [:])
    }

    @Test func oneHostKeepsLibpqsDefaults() throws {
        let config = try parse([:])
        #expect(config.postgres.ports == [5432])
        #expect(config.postgres.targetSessionAttributes == nil)
    }

    @Test func severalHostsConnectToTheOneThatTakesWrites() throws {
        let config = try parse(["host": "db-1,db-2", "port": "5432"])
        #expect(config.postgres.host == "db-1,db-2")
        #expect(config.postgres.ports == [5432])
        #expect(config.postgres.targetSessionAttributes == "read-write")
        #expect(config.redactedDescription.contains("postgres.target_session_attrs=read-write"))
        let perHost = try parse(["host": "db-1,db-2", "port": "\"5432,5433\""])
        #expect(perHost.postgres.ports == [5432, 5433])
        #expect(perHost.postgres.port == 5432)
        #expect(perHost.redactedDescription.contains("postgres.port=5432,5433"))
        #expect(try parse(["host": "db-1,db-2", "target_session_attrs": "primary"]).postgres.targetSessionAttributes == "primary")
    }

    @Test func portsThatDoNotMatchTheHostsNameTheFix() throws {
        var document = ConfigDocument()
        document.postgres = ["host": "db-1,db-2,db-3", "port": "\"5432,5433\""]
        let error = try #require(parseError(document))
        #expect(error.path == "postgres.port")
        #expect(error.message.contains("2 ports for 3 hosts"))
        document.postgres = ["host": "db-1,db-2", "port": "\"5432,x\""]
        #expect(parseError(document)?.message.contains("ports 1..65535 separated by commas") == true)
        document.postgres = ["host": "db-1,,db-2"]
        #expect(parseError(document)?.path == "postgres.host")
        document.postgres = ["host": "db-1,db-2", "target_session_attrs": "readwrite"]
        let attributes = try #require(parseError(document))
        #expect(attributes.path == "postgres.target_session_attrs")
        #expect(attributes.message.contains("read-write"))
    }
}
