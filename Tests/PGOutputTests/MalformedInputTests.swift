import PGOutput
import Testing

/// Decodes and returns the thrown error, recording an issue if decoding succeeded.
func pgoutputError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> PGOutputError? {
    #expect(throws: PGOutputError.self, sourceLocation: sourceLocation) {
        try PGOutputMessage.decode(bytes[...])
    }
}

func replicationError(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> PGOutputError? {
    #expect(throws: PGOutputError.self, sourceLocation: sourceLocation) {
        try ReplicationMessage.decode(bytes[...])
    }
}

/// Builds a message from a tag and writer steps, for hand-made corrupt inputs.
func message(_ tag: Unicode.Scalar, _ build: (inout WireWriter) -> Void) -> [UInt8] {
    var w = WireWriter()
    w.ascii(tag)
    build(&w)
    return w.bytes
}

@Suite struct MalformedInputTests {
    @Test(arguments: Samples.pgoutput)
    func everyStrictPrefixIsTruncated(_ sample: PGOutputMessage) {
        let bytes = PGOutputTestEncoder.encode(sample)
        for length in 0..<bytes.count {
            let error = pgoutputError(Array(bytes[..<length]))
            #expect(error?.code == .truncated, "prefix \(length): \(String(describing: error))")
            #expect(error?.messageTag == (length == 0 ? nil : bytes[0]))
            #expect(error.map { $0.offset <= length } ?? false)
        }
    }

    @Test(arguments: Samples.replication)
    func everyStrictPrefixOfTheHeaderIsTruncated(_ sample: ReplicationMessage) {
        let bytes = PGOutputTestEncoder.encode(sample)
        // XLogData's payload runs to the end of the frame, so only its 25-byte header can be cut short.
        let fixedLength = bytes[0] == UInt8(ascii: "w") ? 25 : bytes.count
        for length in 0..<fixedLength {
            let error = replicationError(Array(bytes[..<length]))
            #expect(error?.code == .truncated, "prefix \(length): \(String(describing: error))")
            #expect(error?.messageTag == (length == 0 ? nil : bytes[0]))
        }
    }

    @Test(arguments: Samples.pgoutput)
    func trailingBytesAreRejected(_ sample: PGOutputMessage) {
        let bytes = PGOutputTestEncoder.encode(sample)
        let error = pgoutputError(bytes + [0])
        #expect(error?.code == .trailingBytes)
        #expect(error?.messageTag == bytes[0])
        #expect(error?.offset == bytes.count)
    }

    @Test func keepaliveTrailingBytesAreRejected() {
        let bytes = PGOutputTestEncoder.encode(Samples.replication[2])
        #expect(replicationError(bytes + [1, 2])?.code == .trailingBytes)
    }

    @Test func unknownTagsCarryTheTag() {
        let pgoutputTags = Set("BCORYIUDTMA".utf8)
        for tag in UInt8.min...UInt8.max where !pgoutputTags.contains(tag) {
            let error = pgoutputError([tag, 0, 0, 0, 0])
            #expect(error?.code == .unknownMessageType)
            #expect(error?.messageTag == tag)
            #expect(error?.offset == 0)
        }
        for tag in UInt8.min...UInt8.max where tag != UInt8(ascii: "w") && tag != UInt8(ascii: "k") {
            let error = replicationError([tag])
            #expect(error?.code == .unknownMessageType)
            #expect(error?.messageTag == tag)
        }
        // Protocol v2 streaming messages are deliberately unsupported (all but Stream Abort, see below).
        for tag in "SEc".utf8 {
            #expect(pgoutputError([tag, 0, 0, 0, 1])?.code == .unknownMessageType)
        }
    }

    @Test func streamAbortIsDecodedInItsProtocolOneFormOnly() throws {
        // The bytes PostgreSQL 18 sends when it aborts a subtransaction it wrongly took for streamed:
        // transaction 0x2F1, subtransaction 0x2F3.
        let bytes: [UInt8] = [0x41, 0, 0, 0x02, 0xF1, 0, 0, 0x02, 0xF3]
        #expect(try PGOutputMessage.decode(bytes[...]) == .streamAbort(StreamAbortMessage(xid: 0x2F1, subtransactionXid: 0x2F3)))
        // With `streaming parallel` (protocol 4) the abort LSN and time follow; Swallow never asks for it,
        // so here they are bytes that do not belong.
        let withAbortInfo = message("A") { w in w.uint32(0x2F1); w.uint32(0x2F3); w.uint64(0x1_6B37_4D48); w.int64(777) }
        let error = pgoutputError(withAbortInfo)
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == 9)
        #expect(error?.description.hasPrefix("pgoutput Stream Abort ('A') message has trailing bytes") == true)
    }

    @Test func emptyBufferHasNoTag() {
        let error = pgoutputError([])
        #expect(error?.code == .truncated)
        #expect(error?.messageTag == nil)
        #expect(error?.offset == 0)
        #expect(replicationError([])?.messageTag == nil)
    }

    @Test func badTupleColumnKind() {
        let bytes = message("I") { w in w.uint32(1); w.ascii("N"); w.int16(2); w.ascii("n"); w.ascii("x") }
        let error = pgoutputError(bytes)
        #expect(error?.code == .invalidValue)
        #expect(error?.messageTag == UInt8(ascii: "I"))
        #expect(error?.offset == 9)
        #expect(error?.detail.contains("column 1") == true)
    }

    @Test func badTupleMarkers() {
        // Insert must have 'N'.
        let insert = message("I") { w in w.uint32(1); w.ascii("K"); w.int16(0) }
        #expect(pgoutputError(insert)?.code == .invalidValue)
        // Update: 'K'/'O'/'N' first, and 'N' after an old tuple.
        let update = message("U") { w in w.uint32(1); w.ascii("X"); w.int16(0) }
        #expect(pgoutputError(update)?.code == .invalidValue)
        let twoOld = message("U") { w in w.uint32(1); w.ascii("K"); w.int16(0); w.ascii("O"); w.int16(0) }
        let twoOldError = pgoutputError(twoOld)
        #expect(twoOldError?.code == .invalidValue)
        #expect(twoOldError?.offset == 8)
        // Delete needs 'K' or 'O'.
        let delete = message("D") { w in w.uint32(1); w.ascii("N"); w.int16(0) }
        let deleteError = pgoutputError(delete)
        #expect(deleteError?.code == .invalidValue)
        #expect(deleteError?.offset == 5)
    }

    @Test func badReplicaIdentity() {
        let bytes = message("R") { w in w.uint32(1); w.cString("public"); w.cString("t"); w.ascii("x"); w.int16(0) }
        let error = pgoutputError(bytes)
        #expect(error?.code == .invalidValue)
        #expect(error?.messageTag == UInt8(ascii: "R"))
        #expect(error?.offset == 14)
    }

    @Test func invalidUTF8() {
        let relation = message("R") { w in w.uint32(1); w.raw([0x70, 0xFF, 0]); w.cString("t"); w.ascii("d"); w.int16(0) }
        let error = pgoutputError(relation)
        #expect(error?.code == .invalidString)
        #expect(error?.offset == 5)
        let overlong = message("Y") { w in w.uint32(1); w.cString(""); w.raw([0xC0, 0xAF, 0]) }
        #expect(pgoutputError(overlong)?.code == .invalidString)
        let surrogate = message("O") { w in w.uint64(1); w.raw([0xED, 0xA0, 0x80, 0]) }
        #expect(pgoutputError(surrogate)?.code == .invalidString)
    }

    @Test func missingNULIsTruncation() {
        // Without a terminator the string runs to the end of the message, which
        // is exactly what a cut-short message looks like.
        let bytes = message("Y") { w in w.uint32(1); w.cString("public"); w.raw(Array("mood".utf8)) }
        let error = pgoutputError(bytes)
        #expect(error?.code == .truncated)
        #expect(error?.detail.contains("NUL") == true)
    }

    @Test func badLengthsAndCounts() {
        let negativeLength = message("I") { w in w.uint32(1); w.ascii("N"); w.int16(1); w.ascii("t"); w.int32(-1) }
        #expect(pgoutputError(negativeLength)?.code == .invalidValue)
        let hugeLength = message("I") { w in w.uint32(1); w.ascii("N"); w.int16(1); w.ascii("b"); w.int32(.max); w.raw([1, 2]) }
        #expect(pgoutputError(hugeLength)?.code == .truncated)
        let negativeColumns = message("I") { w in w.uint32(1); w.ascii("N"); w.int16(-1) }
        #expect(pgoutputError(negativeColumns)?.code == .invalidValue)
        let manyColumns = message("I") { w in w.uint32(1); w.ascii("N"); w.int16(.max); w.ascii("n") }
        #expect(pgoutputError(manyColumns)?.code == .truncated)
        let manyRelationColumns = message("R") { w in
            w.uint32(1); w.cString("s"); w.cString("t"); w.ascii("d"); w.int16(.max); w.raw([UInt8](repeating: 0, count: 20))
        }
        #expect(pgoutputError(manyRelationColumns)?.code == .truncated)
        let negativeRelationColumns = message("R") { w in w.uint32(1); w.cString("s"); w.cString("t"); w.ascii("d"); w.int16(.min) }
        #expect(pgoutputError(negativeRelationColumns)?.code == .invalidValue)
        let manyRelations = message("T") { w in w.int32(.max); w.byte(0); w.uint32(1) }
        #expect(pgoutputError(manyRelations)?.code == .truncated)
        let negativeRelations = message("T") { w in w.int32(-4); w.byte(0) }
        #expect(pgoutputError(negativeRelations)?.code == .invalidValue)
        let negativeContent = message("M") { w in w.byte(1); w.uint64(1); w.cString("p"); w.int32(.min) }
        #expect(pgoutputError(negativeContent)?.code == .invalidValue)
    }

    @Test func errorDescriptionNamesMessageAndField() {
        let bytes = message("I") { w in w.uint32(1); w.ascii("N"); w.int16(1); w.ascii("t"); w.raw([0, 0]) }
        let error = pgoutputError(bytes)
        #expect(error?.description == "pgoutput Insert ('I') message truncated at byte 9: need 4 bytes for column length, have 2")
        #expect(error?.isRetriable == false)
        #expect(replicationError([0x6B, 1])?.description
            == "replication primary keepalive ('k') message truncated at byte 1: need 8 bytes for WAL end, have 1")
        #expect(pgoutputError([0x01])?.description
            == "unknown message type 0x01 at byte 0: 0x01 is not a pgoutput protocol version 1 message")
    }
}
