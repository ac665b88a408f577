import SwallowConfig
import Testing

@Suite struct TypeTests {
    @Test func nonNumericPort() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "abc"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "postgres.port")
        #expect(error.description == "config postgres.port: expected an integer 1..65535, got \"abc\"")
    }

    @Test(arguments: ["5432.0", "0x1538", "5_432", "1e3", "true"])
    func nonDecimalIntegerSpellingsAreRejected(value: String) throws {
        var document = ConfigDocument()
        document.postgres = ["port": value]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "postgres.port")
        #expect(error.message.contains("expected an integer 1..65535"))
    }

    @Test func quotedNumberIsRejectedWithFix() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "\"5432\""]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "postgres.port")
        #expect(error.message.contains("quoted string \"5432\""))
        #expect(error.message.contains("without quotes"))
    }

    @Test(arguments: ["0", "65536", "-1"])
    func portOutOfRange(value: String) throws {
        var document = ConfigDocument()
        document.postgres = ["port": value]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.port")
        #expect(error.message == "expected an integer 1..65535, got \(Int(value)!)")
    }

    @Test func otherIntegerRanges() throws {
        let cases: [(ConfigDocument, String, String)] = [
            ({ var d = ConfigDocument(); d.postgres = ["connect_timeout_s": "0"]; return d }(),
             "postgres.connect_timeout_s", "1..3600"),
            ({ var d = ConfigDocument(); d.kafka = ["flush_timeout_ms": "-5"]; return d }(),
             "kafka.flush_timeout_ms", "0..3600000"),
            ({ var d = ConfigDocument(); d.top = ["status_interval_ms": "10"]; return d }(),
             "status_interval_ms", "100..600000"),
            ({ var d = ConfigDocument(); d.top = ["max_in_flight_events": "0"]; return d }(),
             "max_in_flight_events", "1..100000000"),
            ({ var d = ConfigDocument(); d.top = ["max_in_flight_bytes": "65535"]; return d }(),
             "max_in_flight_bytes", "65536..68719476736"),
            ({ var d = ConfigDocument(); d.top = ["max_in_flight_bytes": "68719476737"]; return d }(),
             "max_in_flight_bytes", "65536..68719476736"),
        ]
        for (document, path, range) in cases {
            let error = try #require(parseError(document))
            #expect(error.code == .invalidValue)
            #expect(error.path == path)
            #expect(error.message.contains("expected an integer \(range)"))
        }
    }

    @Test func mappingWhereScalarExpected() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "{value: 5432}"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "postgres.port")
        #expect(error.message == "expected an integer 1..65535, or one per host separated by commas, got a mapping")
    }

    @Test func sequenceWhereStringExpected() throws {
        var document = ConfigDocument()
        document.postgres = ["host": "[a, b]"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "postgres.host")
        #expect(error.message.contains("expected a string"))
        #expect(error.message.hasSuffix("got a sequence"))
    }

    @Test func scalarWhereSectionExpected() throws {
        var document = ConfigDocument()
        document.top = ["kafka": "127.0.0.1:9092"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "kafka")
        #expect(error.message.contains("expected a mapping with the keys bootstrap_servers (required)"))
    }

    @Test func plainScalarsAreAcceptedAsStrings() throws {
        var document = ConfigDocument()
        document.postgres = ["dbname": "12345", "user": "true"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.postgres.dbname == "12345")
        #expect(config.postgres.user == "true")
    }

    @Test(arguments: ["yes", "no", "on", "True", "FALSE", "1"])
    func onlyTrueAndFalseAreBooleans(value: String) throws {
        var document = ConfigDocument()
        document.slot = ["create": value]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "slot.create")
        #expect(error.message == "expected a boolean (true or false), got \"\(value)\"")
    }

    @Test func quotedBooleanIsRejectedWithFix() throws {
        var document = ConfigDocument()
        document.publication = ["create": "'false'"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "publication.create")
        #expect(error.message.contains("without quotes"))
    }

    @Test func tablesMustBeASequence() throws {
        var document = ConfigDocument()
        document.top = ["tables": "public.orders"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "tables")
        #expect(error.message.contains("expected a sequence of table names"))
    }

    @Test func propertiesMustBeAMapping() throws {
        var document = ConfigDocument()
        document.kafka = ["properties": "[acks]"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "kafka.properties")
        #expect(error.message.contains("expected a mapping of librdkafka property names"))
    }

    @Test func explicitTagsAreRejected() throws {
        var document = ConfigDocument()
        document.postgres = ["port": "!!str 5432"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "postgres.port")
        #expect(error.message.contains("remove the tag"))
        document.postgres = ["host": "!custom db"]
        #expect(parseError(document)?.path == "postgres.host")
    }
}

@Suite struct ValueTests {
    @Test func sslmodeSuggestsClosestValue() throws {
        var document = ConfigDocument()
        document.postgres = ["sslmode": "verify_full"]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.sslmode")
        #expect(error.message == "expected one of disable, allow, prefer, require, verify-ca, verify-full, got \"verify_full\" (did you mean `verify-full`?)")
    }

    @Test func logLevel() throws {
        var document = ConfigDocument()
        document.top = ["log_level": "verbose"]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "log_level")
        #expect(error.message.contains("trace, debug, info, notice, warning, error, critical"))
        for level in Config.logLevels {
            document.top = ["log_level": level]
            #expect(try Config.parse(yaml: document.yaml, environment: [:]).logLevel == level)
        }
    }

    @Test(arguments: ["Swallow", "my-slot", "", String(repeating: "a", count: 64)])
    func invalidSlotName(name: String) throws {
        var document = ConfigDocument()
        document.slot = ["name": "'\(name)'"]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "slot.name")
        #expect(error.message.contains("[a-z0-9_]{1,63}"))
    }

    @Test func slotNameOf63CharactersIsValid() throws {
        var document = ConfigDocument()
        document.slot = ["name": String(repeating: "a", count: 63)]
        #expect(parseError(document) == nil)
    }

    @Test(arguments: ["1pub", "Pub", "my-pub", "a.b"])
    func invalidPublicationName(name: String) throws {
        var document = ConfigDocument()
        document.publication = ["name": name]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "publication.name")
        #expect(error.message.contains("[a-z_][a-z0-9_$]*"))
    }

    @Test(arguments: ["app/cdc", "app cdc", "app:1", String(repeating: "a", count: 250)])
    func invalidTopicPrefix(prefix: String) throws {
        var document = ConfigDocument()
        document.top = ["topic_prefix": "'\(prefix)'"]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "topic_prefix")
        #expect(error.message.contains("[a-zA-Z0-9._-]"))
    }

    @Test(arguments: ["'k1:9092,,k2:9092'", "'k1:9092,'", "'k1 :9092'", "' , '"])
    func invalidBootstrapServers(value: String) throws {
        var document = ConfigDocument()
        document.kafka = ["bootstrap_servers": value]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "kafka.bootstrap_servers")
        #expect(error.message.contains("comma-separated list"))
        #expect(error.message.contains("`embedded`"))
    }

    @Test func embeddedBootstrap() throws {
        var document = ConfigDocument()
        document.kafka = ["bootstrap_servers": "embedded"]
        #expect(try Config.parse(yaml: document.yaml, environment: [:]).kafka.bootstrapServers == .embedded)
        document.kafka = ["bootstrap_servers": "k1:9092"]
        #expect(try Config.parse(yaml: document.yaml, environment: [:]).kafka.bootstrapServers == .servers("k1:9092"))
    }
}
