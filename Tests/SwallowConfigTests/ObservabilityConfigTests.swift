import SwallowConfig
import Testing

/// `http` (the metrics/health/status listener) and `log_format`.
@Suite struct ObservabilityConfigTests {
    private func parse(_ top: [String: String?]) throws -> Config {
        var document = ConfigDocument()
        for (key, value) in top { document.top[key] = value }
        return try Config.parse(yaml: document.yaml, environment: [:])
    }

    @Test func theListenerIsOffAndLogsAreTextByDefault() throws {
        let config = try parse([:])
        #expect(config.http.listen == nil)
        #expect(config.logFormat == .text)
        #expect(try parse(["http": "{}"]).http.listen == nil)
        #expect(try parse(["http": "{listen: \"\"}"]).http.listen == nil)
        #expect(try parse(["http": "~"]).http.listen == nil)
    }

    @Test(arguments: [("127.0.0.1:9187", "127.0.0.1", 9187), ("0.0.0.0:0", "0.0.0.0", 0),
                      ("[::1]:9187", "::1", 9187), ("[::]:80", "::", 80)])
    func listenAddressesAreParsed(text: String, host: String, port: Int) throws {
        let listen = try #require(try parse(["http": "{listen: \"\(text)\"}"]).http.listen)
        #expect(listen.host == host)
        #expect(listen.port == port)
        #expect(listen.description == text)
    }

    @Test(arguments: ["localhost:9187", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "::1:9187", "[::1]9187",
                      "127.0.0.1:-1", "1.2.3:80"])
    func aBadListenAddressNamesTheKeyAndTheForm(text: String) throws {
        var document = ConfigDocument()
        document.top["http"] = "{listen: \"\(text)\"}"
        let error = try #require(parseError(document))
        #expect(error.path == "http.listen")
        #expect(error.message.contains("127.0.0.1:9187"))
    }

    @Test func unknownHTTPKeysAreErrors() throws {
        var document = ConfigDocument()
        document.top["http"] = "{listen: \"127.0.0.1:9187\", port: 1}"
        let error = try #require(parseError(document))
        #expect(error.path == "http.port")
    }

    @Test func logFormatIsTextOrJSON() throws {
        #expect(try parse(["log_format": "json"]).logFormat == .json)
        #expect(try parse(["log_format": "text"]).logFormat == .text)
        var document = ConfigDocument()
        document.top["log_format"] = "jsonl"
        let error = try #require(parseError(document))
        #expect(error.path == "log_format")
        #expect(error.message.contains("json"))
    }

    @Test func theRedactedDescriptionShowsBothKeys() throws {
        let config = try parse(["log_format": "json", "http": "{listen: \"127.0.0.1:9187\"}"])
        #expect(config.redactedDescription.contains("log_format=json http.listen=127.0.0.1:9187"))
        #expect(try parse([:]).redactedDescription.contains("http.listen=(off)"))
    }
}
