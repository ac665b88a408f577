import SwallowConfig
import Testing

/// The `snapshot` section and `state_dir`.
@Suite struct SnapshotTests {
    private func parse(_ snapshot: String?) throws -> Config.Snapshot {
        var document = ConfigDocument()
        if let snapshot { document.top["snapshot"] = snapshot }
        return try Config.parse(yaml: document.yaml, environment: [:]).snapshot
    }

    private func error(_ snapshot: String) throws -> ConfigurationError {
        var document = ConfigDocument()
        document.top["snapshot"] = snapshot
        return try #require(parseError(document))
    }

    @Test func defaults() throws {
        let config = try Config.parse(yaml: ConfigDocument().yaml, environment: [:])
        #expect(config.snapshot == Config.Snapshot())
        #expect(config.snapshot.mode == .initial)
        #expect(config.snapshot.maxThreads == 1)
        #expect(config.snapshot.chunkRows == 100_000)
        #expect(config.snapshot.signalTable == nil)
        #expect(config.snapshot.incrementalChunkRows == 1024)
        #expect(config.stateDirectory == "/var/lib/swallow")
        #expect(try parse("~") == Config.Snapshot())
        #expect(try parse("{}") == Config.Snapshot())
    }

    @Test(arguments: [("initial", Config.Snapshot.Mode.initial), ("no_data", .noData),
                      ("initial_only", .initialOnly), ("when_needed", .whenNeeded), ("always", .always)])
    func eachModeIsParsed(text: String, mode: Config.Snapshot.Mode) throws {
        #expect(try parse("{mode: \(text)}").mode == mode)
    }

    @Test func everyKeyIsRead() throws {
        let snapshot = try parse("{mode: always, max_threads: 64, chunk_rows: 1000, signal_table: ops.signals, incremental_chunk_rows: 1}")
        #expect(snapshot == Config.Snapshot(mode: .always, maxThreads: 64, chunkRows: 1000,
                                            signalTable: .init(schema: "ops", table: "signals"),
                                            incrementalChunkRows: 1))
        let upper = try parse("{chunk_rows: 100000000, incremental_chunk_rows: 1000000}")
        #expect(upper.chunkRows == 100_000_000)
        #expect(upper.incrementalChunkRows == 1_000_000)
    }

    @Test func anInvalidModeListsTheAllowedValues() throws {
        let error = try error("{mode: initial_onyl}")
        #expect(error.code == .invalidValue)
        #expect(error.path == "snapshot.mode")
        #expect(error.message == "expected one of initial, no_data, initial_only, when_needed, always, got \"initial_onyl\" (did you mean `initial_only`?)")
    }

    @Test(arguments: [("max_threads", "0", "1..64"), ("max_threads", "65", "1..64"),
                      ("chunk_rows", "999", "1000..100000000"), ("chunk_rows", "100000001", "1000..100000000"),
                      ("incremental_chunk_rows", "0", "1..1000000"),
                      ("incremental_chunk_rows", "1000001", "1..1000000")])
    func outOfRangeIntegerNamesTheKeyPath(key: String, value: String, range: String) throws {
        let error = try error("{\(key): \(value)}")
        #expect(error.code == .invalidValue)
        #expect(error.path == "snapshot.\(key)")
        #expect(error.message == "expected an integer \(range), got \(value)")
        #expect(error.description.hasPrefix("config snapshot.\(key): "))
    }

    @Test func aQuotedIntegerIsAWrongType() throws {
        let error = try error("{max_threads: \"4\"}")
        #expect(error.code == .wrongType)
        #expect(error.path == "snapshot.max_threads")
        #expect(error.message.contains("without quotes"))
    }

    @Test func anUnknownKeyGetsADidYouMean() throws {
        let error = try error("{max_thread: 4}")
        #expect(error.code == .unknownKey)
        #expect(error.path == "snapshot.max_thread")
        #expect(error.message == "unknown key (did you mean `max_threads`?); allowed keys: mode, max_threads, chunk_rows, signal_table, incremental_chunk_rows")
    }

    @Test func debeziumsDottedNameAtTopLevelPointsToTheSection() throws {
        var document = ConfigDocument()
        document.top = ["chunk_rows": "5000"]
        let error = try #require(parseError(document))
        #expect(error.code == .unknownKey)
        #expect(error.path == "chunk_rows")
        #expect(error.message.contains("`snapshot.chunk_rows`"))
    }

    @Test func aBareSignalTableIsInPublic() throws {
        #expect(try parse("{signal_table: swallow_signal}").signalTable == .init(schema: "public", table: "swallow_signal"))
        #expect(try parse("{signal_table: ~}").signalTable == nil)
    }

    @Test func anInvalidSignalTableUsesTheTableNameRules() throws {
        let error = try error("{signal_table: a.b.c}")
        #expect(error.code == .invalidValue)
        #expect(error.path == "snapshot.signal_table")
        #expect(error.message.contains("`schema.table` or `table`"))
        let empty = try self.error("{signal_table: ''}")
        #expect(empty.path == "snapshot.signal_table")
        #expect(empty.message.contains("empty table name"))
        let sequence = try self.error("{signal_table: [a]}")
        #expect(sequence.code == .wrongType)
        #expect(sequence.path == "snapshot.signal_table")
    }

    @Test func aNonMappingSectionIsAWrongType() throws {
        let error = try error("initial")
        #expect(error.code == .wrongType)
        #expect(error.path == "snapshot")
        #expect(error.message.contains("mode, max_threads, chunk_rows, signal_table, incremental_chunk_rows"))
    }

    @Test func stateDirectoryIsRead() throws {
        for path in ["/srv/swallow/state", "state", "'./my state'"] {
            var document = ConfigDocument()
            document.top = ["state_dir": path]
            let config = try Config.parse(yaml: document.yaml, environment: [:])
            #expect(config.stateDirectory == (path == "'./my state'" ? "./my state" : path))
        }
        var document = ConfigDocument()
        document.top = ["state_dir": "${STATE_DIR:-/tmp/swallow}"]
        #expect(try Config.parse(yaml: document.yaml, environment: [:]).stateDirectory == "/tmp/swallow")
        document.top = ["state_dir": "~"]
        #expect(try Config.parse(yaml: document.yaml, environment: [:]).stateDirectory == "/var/lib/swallow")
    }

    @Test func anEmptyStateDirectoryIsRejected() throws {
        for empty in ["''", "\"${STATE_DIR:-}\""] {
            var document = ConfigDocument()
            document.top = ["state_dir": empty]
            let error = try #require(parseError(document))
            #expect(error.code == .invalidValue)
            #expect(error.path == "state_dir")
            #expect(error.message.contains("must not be empty"))
            #expect(error.message.contains("/var/lib/swallow"))
        }
    }

    @Test func aNonScalarStateDirectoryIsAWrongType() throws {
        var document = ConfigDocument()
        document.top = ["state_dir": "[a]"]
        let error = try #require(parseError(document))
        #expect(error.code == .wrongType)
        #expect(error.path == "state_dir")
    }

    @Test func redactedDescriptionShowsTheNewKeys() throws {
        var document = ConfigDocument()
        document.top = ["snapshot": "{mode: when_needed, signal_table: signals}", "state_dir": "'/var/lib/my swallow'"]
        let text = try Config.parse(yaml: document.yaml, environment: [:]).redactedDescription
        #expect(text.contains("snapshot.mode=when_needed"))
        #expect(text.contains("snapshot.max_threads=1"))
        #expect(text.contains("snapshot.chunk_rows=100000"))
        #expect(text.contains("snapshot.signal_table=public.signals"))
        #expect(text.contains("snapshot.incremental_chunk_rows=1024"))
        #expect(text.contains("state_dir=\"/var/lib/my swallow\""))
        let defaults = try Config.parse(yaml: ConfigDocument().yaml, environment: [:]).redactedDescription
        #expect(defaults.contains("snapshot.signal_table=(none)"))
        #expect(defaults.contains("state_dir=/var/lib/swallow"))
    }
}
