import SwallowConfig
import Testing

@Suite struct EnvironmentSubstitutionTests {
    @Test func substitutionHappensBeforeTypeChecking() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "${PGPORT}", "host": "${PGHOST}"]
        document.slot = ["create": "${CREATE_SLOT}"]
        let config = try Config.parse(yaml: document.yaml,
                                      environment: ["PGPORT": "6432", "PGHOST": "db1", "CREATE_SLOT": "false"])
        #expect(config.postgres.port == 6432)
        #expect(config.postgres.host == "db1")
        #expect(config.slot.create == false)
    }

    @Test func substitutedValueIsTypeChecked() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "${PGPORT}"]
        let error = try #require(parseError(document, environment: ["PGPORT": "fivefourthreetwo"]))
        #expect(error.code == .wrongType)
        #expect(error.path == "postgres.port")
        #expect(error.message == "expected an integer 1..65535, got \"fivefourthreetwo\"")
    }

    @Test func referencesInsideLongerValues() throws {
        var document = ConfigDocument()
        document.postgres = ["host": "db-${ENV}.${DOMAIN}", "password": "'${A}${B}'"]
        let config = try Config.parse(yaml: document.yaml,
                                      environment: ["ENV": "prod", "DOMAIN": "example.com", "A": "x", "B": "y"])
        #expect(config.postgres.host == "db-prod.example.com")
        #expect(config.postgres.password == "xy")
    }

    @Test func defaultValue() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "${PGPORT:-5433}", "host": "${PGHOST:-localhost}", "password": "${PGPASSWORD:-}"]
        var config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.postgres.port == 5433)
        #expect(config.postgres.host == "localhost")
        #expect(config.postgres.password == nil)

        config = try Config.parse(yaml: document.yaml, environment: ["PGPORT": "7000", "PGHOST": "", "PGPASSWORD": "pw"])
        #expect(config.postgres.port == 7000)
        #expect(config.postgres.host == "localhost", "an empty variable falls back to the default")
        #expect(config.postgres.password == "pw")
    }

    @Test func emptyVariableWithoutDefaultIsKept() throws {
        var document = ConfigDocument()
        document.postgres = ["password": "${PGPASSWORD}"]
        let config = try Config.parse(yaml: document.yaml, environment: ["PGPASSWORD": ""])
        #expect(config.postgres.password == nil)
        document.postgres = ["host": "${PGHOST}"]
        let error = try #require(parseError(document, environment: ["PGHOST": ""]))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.host")
    }

    @Test func dollarDollarBraceEscapesALiteralReference() throws {
        var document = ConfigDocument()
        document.postgres = ["password": "'pa$${NOT_A_VAR}ss'", "user": "'u$er$$'"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.postgres.password == "pa${NOT_A_VAR}ss")
        #expect(config.postgres.user == "u$er$$", "a `$` not followed by `{` is literal")
    }

    @Test func undefinedVariableNamesVariableAndPath() throws {
        var document = ConfigDocument()
        document.kafka = ["properties": "{linger.ms: '${LINGER}'}"]
        let error = try #require(parseError(document))
        #expect(error.code == .undefinedEnvironmentVariable)
        #expect(error.path == "kafka.properties.linger.ms")
        #expect(error.message.contains("LINGER is not set"))
        #expect(error.message.contains("${LINGER:-default}"))
    }

    @Test func undefinedVariableInTableEntry() throws {
        var document = ConfigDocument()
        document.top = ["tables": "[orders, '${SCHEMA}.items']"]
        let error = try #require(parseError(document))
        #expect(error.code == .undefinedEnvironmentVariable)
        #expect(error.path == "tables[1]")
        #expect(error.message.contains("SCHEMA"))
        let config = try Config.parse(yaml: document.yaml, environment: ["SCHEMA": "sales"])
        #expect(config.tables.map(\.description) == ["public.orders", "sales.items"])
    }

    @Test func keysAreNotSubstituted() throws {
        var document = ConfigDocument()
        document.postgres = ["${KEY}": "x"]
        let error = try #require(parseError(document, environment: ["KEY": "port"]))
        #expect(error.code == .unknownKey)
        #expect(error.path == "postgres.${KEY}")

        document = ConfigDocument()
        document.kafka = ["properties": "{'${KEY}': '1'}"]
        let config = try Config.parse(yaml: document.yaml, environment: ["KEY": "acks"])
        #expect(config.kafka.properties == ["${KEY}": "1"])
    }

    @Test(arguments: ["'${UNCLOSED'", "'${}'", "'${1BAD}'", "'${A-B}'", "'${A:-${B}}'"])
    func malformedReferences(value: String) throws {
        var document = ConfigDocument()
        document.postgres = ["host": value]
        let error = try #require(parseError(document, environment: ["A": "a", "B": "b"]))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.host")
        #expect(error.message.contains("`$${`") || error.message.contains("literal text"))
    }
}
