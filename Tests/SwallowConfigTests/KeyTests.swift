import SwallowConfig
import Testing

@Suite struct UnknownKeyTests {
    @Test func misspeltKeySuggestsTheAllowedOne() throws {
        var document = ConfigDocument()
        document.postgres = ["host": nil, "hostname": "db"]
        let error = try #require(parseError(document))
        #expect(error.code == .unknownKey)
        #expect(error.path == "postgres.hostname")
        #expect(error.message.contains("did you mean `host`?"))
        #expect(error.message.contains("allowed keys: host, port, dbname, user, password, sslmode, connect_timeout_s"))
        #expect(error.description.hasPrefix("config postgres.hostname: unknown key (did you mean `host`?); allowed keys: host, port"))
        #expect(error.isRetriable == false)
    }

    @Test func unknownKeyIsReportedBeforeTheMissingKeyItCauses() throws {
        var document = ConfigDocument()
        document.kafka = ["bootstrap_servers": nil, "bootstrap.servers": "k:9092"]
        let error = try #require(parseError(document))
        #expect(error.code == .unknownKey)
        #expect(error.path == "kafka.bootstrap.servers")
        #expect(error.message.contains("did you mean `bootstrap_servers`?"))
    }

    @Test func distantKeyHasNoSuggestionButListsAllowedKeys() throws {
        var document = ConfigDocument()
        document.slot = ["plugin": "pgoutput"]
        let error = try #require(parseError(document))
        #expect(error.code == .unknownKey)
        #expect(error.path == "slot.plugin")
        #expect(!error.message.contains("did you mean"))
        #expect(error.message.hasSuffix("allowed keys: name, create, failover"))
    }

    @Test func unknownTopLevelKey() throws {
        var document = ConfigDocument()
        document.top = ["log_levl": "debug"]
        let error = try #require(parseError(document))
        #expect(error.code == .unknownKey)
        #expect(error.path == "log_levl")
        #expect(error.message.contains("did you mean `log_level`?"))
        #expect(error.message.contains("allowed keys: postgres, slot, publication, tables, topic_prefix, kafka"))
    }

    @Test func sectionKeyAtTopLevelPointsToItsSection() throws {
        var document = ConfigDocument()
        document.top = ["sslmode": "require"]
        let error = try #require(parseError(document))
        #expect(error.code == .unknownKey)
        #expect(error.path == "sslmode")
        #expect(error.message.contains("`postgres.sslmode`"))
    }

    @Test func librdkafkaPropertyInKafkaSectionPointsToProperties() throws {
        var document = ConfigDocument()
        document.kafka = ["linger.ms": "5"]
        let error = try #require(parseError(document))
        #expect(error.code == .unknownKey)
        #expect(error.path == "kafka.linger.ms")
        #expect(error.message.contains("kafka.properties"))
    }

    @Test func mergeKeysAreRejected() throws {
        let yaml = ConfigDocument().yaml + "base: &b {name: x}\n"
        let error = try #require(parseError(yaml))
        #expect(error.code == .unknownKey)
        #expect(error.path == "base")
        let merge = ConfigDocument().yaml.replacingOccurrences(of: "slot:\n  name: swallow",
                                                               with: "slot:\n  <<: {create: true}\n  name: swallow")
        let mergeError = try #require(parseError(merge))
        #expect(mergeError.code == .unknownKey)
        #expect(mergeError.path == "slot.<<")
        #expect(mergeError.message.contains("merge keys are not supported"))
    }

    @Test func anyKeyIsAllowedInsideKafkaProperties() throws {
        var document = ConfigDocument()
        document.kafka = ["properties": "{whatever.unknown.key: 1}"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.kafka.properties == ["whatever.unknown.key": "1"])
    }

    @Test func nonScalarKeyIsRejected() throws {
        let yaml = ConfigDocument().yaml + "? [a, b]\n: 1\n"
        let error = try #require(parseError(yaml))
        #expect(error.code == .wrongType)
        #expect(error.path == "")
        #expect(error.message.contains("keys must be plain strings"))
    }
}

@Suite struct MissingKeyTests {
    @Test(arguments: ["host", "dbname", "user"])
    func missingRequiredPostgresKey(key: String) throws {
        var document = ConfigDocument()
        document.postgres = [key: nil]
        let error = try #require(parseError(document))
        #expect(error.code == .missingKey)
        #expect(error.path == "postgres.\(key)")
        #expect(error.message.contains("missing required key"))
        #expect(error.message.contains("e.g. `\(key): "))
    }

    @Test func missingTopicPrefix() throws {
        var document = ConfigDocument()
        document.top = ["topic_prefix": nil]
        let error = try #require(parseError(document))
        #expect(error.code == .missingKey)
        #expect(error.path == "topic_prefix")
        #expect(error.message.contains("[a-zA-Z0-9._-]"))
    }

    @Test(arguments: ["postgres", "slot", "publication", "kafka"])
    func missingSection(section: String) throws {
        var document = ConfigDocument()
        document.top = [section: nil]
        let error = try #require(parseError(document))
        #expect(error.code == .missingKey)
        #expect(error.path == section)
        #expect(error.message.contains("missing required section; expected a mapping with the keys"))
    }

    @Test func nullRequiredValueIsMissing() throws {
        var document = ConfigDocument()
        document.slot = ["name": "~"]
        let error = try #require(parseError(document))
        #expect(error.code == .missingKey)
        #expect(error.path == "slot.name")
        #expect(error.message.contains("[a-z0-9_]{1,63}"))
    }

    @Test func emptyRequiredStringIsInvalid() throws {
        var document = ConfigDocument()
        document.postgres = ["host": "''"]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.host")
        #expect(error.message.contains("must not be empty"))
    }

    @Test func missingBootstrapServers() throws {
        var document = ConfigDocument()
        document.kafka = ["bootstrap_servers": nil, "flush_timeout_ms": "100"]
        let error = try #require(parseError(document))
        #expect(error.code == .missingKey)
        #expect(error.path == "kafka.bootstrap_servers")
        #expect(error.message.contains("`embedded`"))
    }
}
