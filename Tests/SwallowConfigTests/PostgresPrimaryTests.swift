import SwallowConfig
import Testing

/// `postgres.primary`: where Swallow writes when `postgres.host` is a standby.
@Suite struct PostgresPrimaryTests {
    private func parse(_ postgres: [String: String?]) throws -> Config {
        var document = ConfigDocument()
        document.postgres = postgres
        return try Config.parse(yaml: document.yaml, environment: [:])
    }

    @Test func absentByDefault() throws {
        let config = try parse([:])
        #expect(config.postgresPrimary == nil)
        #expect(config.redactedDescription.contains("postgres.primary=(none)"))
    }

    @Test func theServerIsItsOwnTheDatabaseAndCredentialsArePostgress() throws {
        let config = try parse(["password": "s3cret", "sslmode": "require", "port": "5433",
                                "primary": "{host: db-primary}"])
        let primary = try #require(config.postgresPrimary)
        #expect(primary.host == "db-primary")
        #expect(primary.ports == [5432], "the port is the primary's own: libpq's default unless given")
        #expect(primary.dbname == "app")
        #expect(primary.user == "swallow")
        #expect(primary.password == "s3cret")
        #expect(primary.sslmode == .require)
        let description = config.redactedDescription
        #expect(description.contains("postgres.primary.host=db-primary"))
        #expect(description.contains("postgres.primary.password=***"))
        #expect(!description.contains("s3cret"))

        let own = try #require(try parse(["primary": "{host: \"db-1,db-2\", port: 6432, user: writer, password: other}"]).postgresPrimary)
        #expect(own.user == "writer" && own.password == "other" && own.ports == [6432])
        #expect(own.targetSessionAttributes == "read-write", "a list of hosts connects to the one that takes writes")
    }

    @Test func badPrimariesNameTheKey() throws {
        var document = ConfigDocument()
        document.postgres = ["primary": "{port: 5432}"]
        var error = try #require(parseError(document))
        #expect(error.path == "postgres.primary.host")
        document.postgres = ["primary": "{host: db-primary, dbname: other}"]
        error = try #require(parseError(document))
        #expect(error.path == "postgres.primary.dbname")
        #expect(error.message.contains("must be postgres.dbname (app)"))
        document.postgres = ["primary": "{host: db-primary, primary: {host: x}}"]
        error = try #require(parseError(document))
        #expect(error.path.hasPrefix("postgres.primary"))
        document.postgres = ["primary": "db-primary"]
        #expect(parseError(document)?.path == "postgres.primary")
    }
}
