import Kafka
import Logging
import PGOutput
import Testing
@testable import Pipeline

/// The one rule the stream, the incremental snapshot and the initial snapshot apply to an event the
/// producer refuses for its size (`kafka.oversized_events`).
@Suite struct OversizedEventHandlingTests {
    private let refusal = KafkaError(code: .messageSizeTooLarge, message: "Broker: Message size too large",
                                     isRetriable: false, isFatal: false)
    private let logger = Logger(label: "test.oversized")
    private let record = OutgoingRecord(topic: "app.public.docs", key: Array(#"{"id":42}"#.utf8),
                                        value: Array(repeating: UInt8(ascii: "x"), count: 5000), headers: [],
                                        kind: .change(relationID: 16_384, operation: .update))

    private func handling(_ mode: String, maxBytes: String? = "4096") -> OversizedEventHandling {
        OversizedEventHandling(mode: mode == "fail" ? .fail : .deadLetter, deadLetterTopic: "app.dead-letter",
                               kafkaProperties: maxBytes.map { ["message.max.bytes": $0] } ?? [:])
    }

    @Test func onlyTheSizeRefusalIsOversized() {
        #expect(OversizedEventHandling.isOversized(refusal))
        #expect(!OversizedEventHandling.isOversized(KafkaError(code: .queueFull, message: "", isRetriable: true, isFatal: false)))
        #expect(!OversizedEventHandling.isOversized(KafkaError(code: .unknownTopic, message: "", isRetriable: true, isFatal: false)))
    }

    @Test func theLimitIsTheConfiguredOneOrLibrdkafkasDefault() {
        #expect(handling("fail").maxBytes == 4096)
        #expect(handling("fail", maxBytes: nil).maxBytes == 1_000_000)
    }

    @Test func failModeNamesTableOperationKeySizeLimitAndFix() throws {
        let error = try #require(throws: PipelineError.self) {
            try handling("fail").replacement(for: record, refusal: refusal, table: "public.docs",
                                             sourceLSN: LSN(0x1_6B37_4D48), logger: logger)
        }
        #expect(error.code == .oversizedEvent)
        #expect(!error.isRetriable)
        for part in ["the u event of table public.docs", #"key {"id":42}"#, "topic app.public.docs", "5009 bytes",
                     "message.max.bytes of 4096", "source LSN 1/6B374D48", "kafka.properties.message.max.bytes",
                     "max.message.bytes", "kafka.oversized_events: dead_letter", "app.dead-letter", "restart"] {
            #expect(error.message.contains(part), "missing \(part) in: \(error.message)")
        }
        // The value (row contents) is never quoted.
        #expect(!error.message.contains("xxxx"))
    }

    @Test func aLongKeyIsQuotedOnlyInPart() {
        let key = Array(#"{"k":""#.utf8) + Array(repeating: UInt8(ascii: "k"), count: 5000) + Array(#""}"#.utf8)
        let quoted = OversizedEventHandling.quotedKey(key)
        #expect(quoted.hasSuffix("... (5008 bytes)"))
        #expect(quoted.utf8.count < 1100)
        #expect(OversizedEventHandling.quotedKey(nil) == "null")
    }

    @Test func deadLetterModeKeepsTheKeyDropsTheValueAndSaysWhyInHeaders() throws {
        let dead = try handling("dead_letter").replacement(for: record, refusal: refusal, table: "public.docs",
                                                           sourceLSN: LSN(0x1_6B37_4D48), logger: logger)
        #expect(dead.topic == "app.dead-letter")
        #expect(dead.key == record.key)
        #expect(dead.value == nil)
        #expect(dead.kind == record.kind)
        let headers = Dictionary(uniqueKeysWithValues: dead.headers.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) })
        #expect(headers["swallow.error.topic"] == "app.public.docs")
        #expect(headers["swallow.error.size"] == "5009")
        #expect(headers["swallow.error.max.bytes"] == "4096")
        #expect(headers["swallow.error.table"] == "public.docs")
        #expect(headers["swallow.error.op"] == "u")
        #expect(headers["swallow.source.lsn"] == "1/6B374D48")
        #expect(headers["swallow.error.reason"]?.contains("MSG_SIZE_TOO_LARGE") == true)
    }

    @Test func aRecordOfNoTableHasNoTableHeader() throws {
        let message = OutgoingRecord(topic: "app.message", key: nil, value: [1, 2, 3], headers: [], kind: .logicalMessage)
        let dead = try handling("dead_letter").replacement(for: message, refusal: refusal, table: nil, sourceLSN: nil, logger: logger)
        #expect(!dead.headers.contains { $0.key == "swallow.error.table" || $0.key == "swallow.source.lsn" })
        #expect(dead.headers.contains { $0.key == "swallow.error.op" && $0.value == Array("message".utf8) })
    }

    @Test func aDeadLetterThatIsItselfTooLargeFails() throws {
        let dead = try handling("dead_letter").replacement(for: record, refusal: refusal, table: "public.docs",
                                                           sourceLSN: nil, logger: logger)
        let error = try #require(throws: PipelineError.self) {
            try handling("dead_letter").replacement(for: dead, refusal: refusal, table: "public.docs", sourceLSN: nil, logger: logger)
        }
        #expect(error.code == .oversizedEvent)
        #expect(error.message.contains("Even its dead-letter record"))
        #expect(error.message.contains("public.docs"))
    }

    @Test func aBrokerRefusalNamesTheLimitsAndTheFix() {
        let failure = KafkaError(code: .messageSizeTooLarge,
                                 message: "delivery to topic 'app.public.docs' failed: Broker: Message size too large",
                                 isRetriable: false, isFatal: false)
        let error = handling("fail").brokerRefusal(failure, snapshot: false)
        #expect(error.code == .oversizedEvent)
        #expect(!error.isRetriable)
        for part in ["app.public.docs", "max.message.bytes", "message.max.bytes of 4096", "Nothing past the confirmed position is lost"] {
            #expect(error.message.contains(part), "missing \(part)")
        }
    }
}
