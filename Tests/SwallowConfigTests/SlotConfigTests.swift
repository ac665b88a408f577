import SwallowConfig
import Testing

/// The `slot` section: `failover` (PostgreSQL 17 failover slots).
@Suite struct SlotConfigTests {
    @Test func failoverIsOffByDefaultAndReadWhenSet() throws {
        var document = ConfigDocument()
        #expect(try Config.parse(yaml: document.yaml, environment: [:]).slot.failover == false)
        document.slot["failover"] = "true"
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.slot.failover)
        #expect(config.redactedDescription.contains("slot.failover=true"))
    }

    @Test func aFailoverThatIsNotABooleanNamesTheKey() throws {
        var document = ConfigDocument()
        document.slot["failover"] = "yes please"
        let error = try #require(parseError(document))
        #expect(error.path == "slot.failover")
    }
}
