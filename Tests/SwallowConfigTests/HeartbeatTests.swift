import SwallowConfig
import Testing

/// The `heartbeat` section.
@Suite struct HeartbeatTests {
    private func parse(_ heartbeat: String?) throws -> Config.Heartbeat {
        var document = ConfigDocument()
        if let heartbeat { document.top["heartbeat"] = heartbeat }
        return try Config.parse(yaml: document.yaml, environment: [:]).heartbeat
    }

    private func error(_ heartbeat: String) throws -> ConfigurationError {
        var document = ConfigDocument()
        document.top["heartbeat"] = heartbeat
        return try #require(parseError(document))
    }

    @Test func defaultsAreDebeziumsHeartbeatsOffAndAFiveMinuteStallWarning() throws {
        let heartbeat = try parse(nil)
        #expect(heartbeat == Config.Heartbeat())
        #expect(heartbeat.intervalMilliseconds == 0)
        #expect(heartbeat.actionQuery == nil)
        #expect(heartbeat.emitRecord)
        #expect(heartbeat.stallWarningSeconds == 300)
        #expect(try parse("~") == Config.Heartbeat())
        #expect(try parse("{}") == Config.Heartbeat())
    }

    @Test func everyKeyIsRead() throws {
        let heartbeat = try parse(#"{interval_ms: 10000, action_query: "UPDATE ops.beat SET ts = now()", emit_record: false, stall_warning_s: 0}"#)
        #expect(heartbeat == Config.Heartbeat(intervalMilliseconds: 10_000, actionQuery: "UPDATE ops.beat SET ts = now()",
                                              emitRecord: false, stallWarningSeconds: 0))
        #expect(try parse("{interval_ms: 100, stall_warning_s: 86400}").intervalMilliseconds == 100)
    }

    @Test func anIntervalBelowOneHundredMillisecondsIsRefusedExceptZero() throws {
        let tooShort = try error("{interval_ms: 5}")
        #expect(tooShort.code == .invalidValue)
        #expect(tooShort.path == "heartbeat.interval_ms")
        #expect(tooShort.message.contains("0 (off)"))
        #expect(try error("{interval_ms: -1}").path == "heartbeat.interval_ms")
        #expect(try error("{interval_ms: \"1000\"}").code == .wrongType)
    }

    @Test func anActionQueryNeedsHeartbeatsAndText() throws {
        let withoutInterval = try error(#"{action_query: "SELECT 1"}"#)
        #expect(withoutInterval.path == "heartbeat.action_query")
        #expect(withoutInterval.message.contains("interval_ms"))
        #expect(try error(#"{interval_ms: 1000, action_query: "  "}"#).code == .invalidValue)
    }

    @Test func unknownKeysAndBadValuesNameTheirPath() throws {
        let unknown = try error("{interval: 1000}")
        #expect(unknown.path == "heartbeat.interval")
        #expect(try error("{emit_record: yes}").path == "heartbeat.emit_record")
        #expect(try error("{stall_warning_s: 86401}").path == "heartbeat.stall_warning_s")
    }

    @Test func theRedactedDescriptionDoesNotShowTheActionQuery() throws {
        var document = ConfigDocument()
        document.top["heartbeat"] = #"{interval_ms: 1000, action_query: "UPDATE beat SET secret = 'x'"}"#
        let description = try Config.parse(yaml: document.yaml, environment: [:]).redactedDescription
        #expect(description.contains("heartbeat.interval_ms=1000"))
        #expect(description.contains("heartbeat.action_query=(set)"))
        #expect(!description.contains("secret"))
    }
}
