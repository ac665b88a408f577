import PGOutput
import Testing

@Suite struct RoundTripTests {
    @Test(arguments: Samples.pgoutput)
    func pgoutputMessageRoundTrips(_ message: PGOutputMessage) throws {
        let bytes = PGOutputTestEncoder.encode(message)
        #expect(try PGOutputMessage.decode(bytes[...]) == message)
        // Slices from a larger buffer do not start at index 0; offsets must not care.
        let embedded = ([0xAA, 0xBB] + bytes + [0xCC])[2..<(bytes.count + 2)]
        #expect(try PGOutputMessage.decode(embedded) == message)
    }

    @Test(arguments: Samples.replication)
    func replicationMessageRoundTrips(_ message: ReplicationMessage) throws {
        let bytes = PGOutputTestEncoder.encode(message)
        #expect(try ReplicationMessage.decode(bytes[...]) == message)
    }

    @Test func xLogDataCarriesPGOutputMessageWithoutCopying() throws {
        let inner = Samples.pgoutput[11] // an Insert with text and binary columns
        let frame = PGOutputTestEncoder.encode(.xLogData(XLogData(
            walStart: LSN(100), walEnd: LSN(200), serverTime: 1, data: ArraySlice(PGOutputTestEncoder.encode(inner))
        )))
        guard case .xLogData(let xLogData) = try ReplicationMessage.decode(frame[...]) else {
            Issue.record("not XLogData"); return
        }
        #expect(xLogData.data.startIndex == 25)
        #expect(xLogData.walStart == LSN(100) && xLogData.walEnd == LSN(200))
        let decoded = try PGOutputMessage.decode(xLogData.data)
        #expect(decoded == inner)
        guard case .insert(let insert) = decoded, case .text(let value) = insert.newTuple.columns[0] else {
            Issue.record("unexpected \(decoded)"); return
        }
        // 'w' + 24 header + 'I' + relid + 'N' + count + 't' + length
        #expect(value.startIndex == 25 + 1 + 4 + 1 + 2 + 1 + 4)
        frame.withUnsafeBufferPointer { buffer in
            value.withUnsafeBufferPointer { #expect($0.baseAddress == buffer.baseAddress! + value.startIndex) }
        }
    }

    @Test func beginMatchesSpecLayout() throws {
        let bytes: [UInt8] = [
            0x42, // 'B'
            0x00, 0x00, 0x00, 0x16, 0xB3, 0x74, 0xD8, 0x48, // final LSN
            0x00, 0x00, 0x00, 0xB4, 0xE8, 0x0B, 0x38, 0x40, // commit time
            0x00, 0x00, 0x1D, 0x25, // xid
        ]
        let expected = BeginMessage(finalLSN: LSN(string: "16/B374D848")!, commitTime: 0xB4_E80B_3840, xid: 7461)
        #expect(try PGOutputMessage.decode(bytes[...]) == .begin(expected))
    }

    @Test func derivedFlags() {
        #expect(RelationMessage.Column(flags: 1, name: "id", typeOID: 23, typeModifier: -1).isKey)
        #expect(!RelationMessage.Column(flags: 0, name: "x", typeOID: 23, typeModifier: -1).isKey)
        let both = TruncateMessage(options: 3, relationIDs: [])
        #expect(both.cascade && both.restartIdentity)
        let restartOnly = TruncateMessage(options: 2, relationIDs: [])
        #expect(!restartOnly.cascade && restartOnly.restartIdentity)
        #expect(!TruncateMessage(options: 0, relationIDs: []).cascade)
        #expect(LogicalDecodingMessage(flags: 1, lsn: .invalid, prefix: "", content: []).isTransactional)
        #expect(!LogicalDecodingMessage(flags: 0, lsn: .invalid, prefix: "", content: []).isTransactional)
    }

    @Test func standbyStatusUpdateEncodesExactBytes() {
        let update = StandbyStatusUpdate(
            written: LSN(0x0102_0304_0506_0708), flushed: LSN(0x16_B374_D848), applied: .invalid,
            clientTime: -2, replyRequested: true
        )
        let expected: [UInt8] = [0x72]
            + [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]
            + [0x00, 0x00, 0x00, 0x16, 0xB3, 0x74, 0xD8, 0x48]
            + [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
            + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]
            + [0x01]
        #expect(update.encode() == expected)
        #expect(update.encode().count == 34)
        var noReply = update
        noReply.replyRequested = false
        #expect(noReply.encode().last == 0)
    }
}

@Suite struct LSNAndTimeTests {
    @Test func lsnFormatsLikePostgres() {
        #expect(LSN(0x16_B374_D848).description == "16/B374D848")
        #expect(LSN(0).description == "0/0")
        #expect(LSN.invalid.description == "0/0")
        #expect(LSN(0xA).description == "0/A")
        #expect(LSN(.max).description == "FFFFFFFF/FFFFFFFF")
    }

    @Test func lsnParses() {
        #expect(LSN(string: "16/B374D848") == LSN(0x16_B374_D848))
        #expect(LSN(string: "16/b374d848") == LSN(0x16_B374_D848))
        #expect(LSN(string: "0/0") == .invalid)
        #expect(LSN(string: "00000000/0000000A") == LSN(10))
        #expect(LSN(string: "FFFFFFFF/FFFFFFFF") == LSN(.max))
        for bad in ["", "/", "16", "16/", "/1", "1/2/3", "123456789/0", "0/123456789", "+1/2", "1/-2", " 1/2", "G/0", "1/2 "] {
            #expect(LSN(string: bad) == nil, "\(bad)")
        }
    }

    @Test func lsnOrdersNumerically() {
        #expect(LSN(string: "1/0")! > LSN(string: "0/FFFFFFFF")!)
        #expect([LSN(3), LSN(1), LSN(2)].sorted() == [LSN(1), LSN(2), LSN(3)])
    }

    @Test func postgresTimeConversions() {
        #expect(PostgresTime.unixEpochOffsetMicros == 946_684_800_000_000)
        #expect(PostgresTime.unixMicros(fromPostgresMicros: 0) == 946_684_800_000_000)
        #expect(PostgresTime.postgresMicros(fromUnixMicros: 946_684_800_000_000) == 0)
        #expect(PostgresTime.unixMillis(fromPostgresMicros: 1_999) == 946_684_800_001)
        #expect(PostgresTime.unixMillis(fromPostgresMicros: -946_684_800_000_001) == -1) // floors
        #expect(PostgresTime.postgresMicros(fromUnixMillis: 946_684_800_001) == 1_000)
        // Wire timestamps are arbitrary; conversions saturate and keep ±infinity.
        #expect(PostgresTime.unixMicros(fromPostgresMicros: .max) == .max)
        #expect(PostgresTime.unixMicros(fromPostgresMicros: .max - 1) == .max)
        #expect(PostgresTime.postgresMicros(fromUnixMicros: .min + 1) == .min)
        #expect(PostgresTime.unixMillis(fromPostgresMicros: .min) == .min)
        #expect(PostgresTime.postgresMicros(fromUnixMillis: .max / 10) == .max)
        #expect(PostgresTime.postgresMicros(fromUnixMillis: .min / 10) == .min)
    }
}
