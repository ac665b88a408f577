import PGOutput
import Testing
@testable import SwallowCore

@Suite struct RecordPositionTests {
    private func position(_ commit: UInt64, _ change: UInt64, _ index: UInt32 = 0, _ part: UInt16 = 0) -> RecordPosition {
        RecordPosition(commitLSN: LSN(commit), changeLSN: LSN(change), index: index, part: part)
    }

    /// Decodes `text` written without the partition count: `1` is put in after the fourth space (the
    /// other fields' cases stay as written; `partitionCountField` covers that field).
    private func decode(_ text: String) -> (RecordPosition, partitionCount: Int32, stream: Substring)? {
        var spaces = 0
        var withCount = ""
        for character in text {
            withCount.append(character)
            if character == " " {
                spaces += 1
                if spaces == 4 { withCount += "1 " }
            }
        }
        return RecordPosition.decode(Array(withCount.utf8))
    }

    // MARK: Order

    @Test func ordersByCommitThenChangeThenIndexThenPart() {
        let ordered = [
            position(10, 90, 9, 9),   // an earlier transaction, even with later changes
            position(20, 5, 0, 0),    // changes of a transaction may precede an earlier commit in the WAL
            position(20, 5, 0, 1),
            position(20, 5, 1, 0),
            position(20, 6, 0, 0),
            position(21, 0, 0, 0),
        ]
        for (i, lhs) in ordered.enumerated() {
            for (j, rhs) in ordered.enumerated() {
                #expect((lhs < rhs) == (i < j), "\(lhs) < \(rhs)")
                #expect((lhs == rhs) == (i == j))
            }
        }
        #expect(ordered.shuffled().sorted() == ordered)
    }

    @Test func transactionMetadataRecordsSortAroundTheirChanges() {
        let begin = RecordPosition.transactionBegin(commitLSN: LSN(500))
        let end = RecordPosition.transactionEnd(commitLSN: LSN(500))
        #expect(RecordPosition.transactionEnd(commitLSN: LSN(499)) < begin)
        #expect(begin < position(500, 1))
        #expect(position(500, 499, .max, .max) < end)
        #expect(end < RecordPosition.transactionBegin(commitLSN: LSN(501)))
    }

    // MARK: Header

    @Test func encodesFieldsSeparatedBySpacesWithLSNsAsPostgresPrintsThem() {
        let value = position(0x16B_3748, 0x16B_36D0, 0, 1).encode(stream: "swallow-orders", partitionCount: 8)
        #expect(String(decoding: value, as: UTF8.self) == "0/16B3748 0/16B36D0 0 1 8 swallow-orders")
        let extreme = RecordPosition.transactionEnd(commitLSN: LSN(0x1_0000_0000))
        #expect(String(decoding: extreme.encode(stream: "s", partitionCount: Int32.max), as: UTF8.self) == "1/0 FFFFFFFF/FFFFFFFF 0 0 2147483647 s")
        let header = position(1, 2, 4_294_967_295, 65535).header(stream: "a b", partitionCount: 1)
        #expect(header == RecordHeader(key: "swallow.position", value: Array("0/1 0/2 4294967295 65535 1 a b".utf8)))
    }

    @Test func decodesWhatItEncodesWithTheStreamIDAsTheRest() throws {
        let decoded = try #require(decode("0/16B3748 0/16B36D0 3 1 swallow-orders"))
        #expect(decoded.0 == position(0x16B_3748, 0x16B_36D0, 3, 1))
        #expect(decoded.stream == "swallow-orders")
        // The stream id is everything after the fourth space, spaces included.
        #expect(decode("0/1 0/2 0 0 my stream  id ")?.stream == "my stream  id ")
        #expect(decode("0/1 0/2 0 0  leading")?.stream == " leading")
    }

    @Test func roundTripsRandomPositionsAndStreams() throws {
        var generator = SplitMix(seed: 11)
        let streams = ["s", "swallow-orders", "with space", "ünïcødé 流", "\u{301}combining first", " ", "tab\there"]
        let interesting: [UInt64] = [0, 1, 0xFFFF_FFFF, 0x1_0000_0000, .max]
        for round in 0..<5_000 {
            let commit = round % 3 == 0 ? interesting[Int(generator.next() % 5)] : generator.next() >> (generator.next() % 64)
            let change = round % 5 == 0 ? interesting[Int(generator.next() % 5)] : generator.next() >> (generator.next() % 64)
            let index = round % 7 == 0 ? UInt32.max : UInt32(truncatingIfNeeded: generator.next() >> (generator.next() % 64))
            let part = round % 11 == 0 ? UInt16.max : UInt16(truncatingIfNeeded: generator.next() >> (generator.next() % 64))
            let original = position(commit, change, index, part)
            let stream = streams[round % streams.count]
            let partitions = Int32(truncatingIfNeeded: generator.next() % UInt64(Int32.max)) + 1
            let decoded = try #require(RecordPosition.decode(original.encode(stream: stream, partitionCount: partitions)))
            #expect(decoded.0 == original)
            #expect(decoded.partitionCount == partitions)
            #expect(decoded.stream == stream)
            #expect(decoded.stream.unicodeScalars.elementsEqual(stream.unicodeScalars))
        }
    }

    @Test func headerWrittenInPlaceIsDescriptionThenSuffix() {
        var generator = SplitMix(seed: 12)
        let interesting: [UInt64] = [0, 1, 9, 10, 15, 16, 0xFFFF_FFFF, 0x1_0000_0000, .max]
        for round in 0..<5_000 {
            let commit = round % 3 == 0 ? interesting[Int(generator.next() % 9)] : generator.next() >> (generator.next() % 64)
            let change = round % 5 == 0 ? interesting[Int(generator.next() % 9)] : generator.next() >> (generator.next() % 64)
            let index = round % 7 == 0 ? UInt32.max : UInt32(truncatingIfNeeded: generator.next() >> (generator.next() % 64))
            let part = round % 11 == 0 ? UInt16.max : UInt16(truncatingIfNeeded: generator.next() >> (generator.next() % 64))
            let original = position(commit, change, index, part)
            let partitions = Int32(truncatingIfNeeded: generator.next() % UInt64(Int32.max)) + 1
            let stream = round % 13 == 0 ? String(repeating: "long stream id ", count: 100) : "s\(round)"
            // The oracle: the fields as `LSN` and the integers print them.
            let expected = Array("\(original.description) \(partitions) \(stream)".utf8)
            let suffix = RecordPosition.headerSuffix(stream: stream, partitionCount: partitions)
            let header = original.header(suffix: suffix)
            #expect(header.key == RecordPosition.headerName)
            #expect(header.valueCount == expected.count)
            #expect(header.value == expected)
            #expect(header.withValue { Array($0) } == expected)
            #expect(original.encode(stream: stream, partitionCount: partitions) == expected)
            #expect(original.partitionSeed == Array(original.description.utf8))
        }
        let longest = position(.max, .max, .max, .max).header(suffix: [UInt8(ascii: " "), UInt8(ascii: "1"), UInt8(ascii: " "), UInt8(ascii: "s")])
        #expect(longest.valueCount == RecordPosition.longestPrefix + 4)
        #expect(longest.withValue { Array($0) } == Array("FFFFFFFF/FFFFFFFF FFFFFFFF/FFFFFFFF 4294967295 65535 1 s".utf8))
    }

    @Test(arguments: [
        "",
        "0/1 0/2 0 0",                      // no stream id
        "0/1 0/2 0 0 ",                     // an empty stream id
        "0/1 0/2 0 s",                      // a field missing
        "0/1  0/2 0 0 s",                   // two spaces: an empty field
        "0/1\t0/2 0 0 s",                   // not a space
        "0/1a 0/2 0 0 s",                   // lower-case hex
        "00/1 0/2 0 0 s",                   // leading zeros
        "0/01 0/2 0 0 s",
        "0/123456789 0/2 0 0 s",            // nine digits
        "100000000/0 0/2 0 0 s",
        "01 0/2 0 0 s",                     // no slash
        "0/1/2 0/2 0 0 s",                  // two
        "/1 0/2 0 0 s",                     // a half missing
        "0/ 0/2 0 0 s",
        "0/G 0/2 0 0 s",
        "0/1 0/2 -1 0 s",                   // a sign
        "0/1 0/2 +1 0 s",
        "0/1 0/2 01 0 s",                   // a leading zero
        "0/1 0/2 4294967296 0 s",           // index out of range
        "0/1 0/2 99999999999 0 s",
        "0/1 0/2 0 65536 s",                // part out of range
        "0/1 0/2 0 1x s",
        "0/1 0/2 ٣ 0 s",                    // a digit, but not an ASCII one
    ])
    func rejectsMalformedValues(_ text: String) {
        #expect(decode(text) == nil, "\(text)")
    }

    @Test(arguments: ["0/1 0/2 0 0 0 s", "0/1 0/2 0 0 01 s", "0/1 0/2 0 0 2147483648 s", "0/1 0/2 0 0 -1 s",
                      "0/1 0/2 0 0 s", "0/1 0/2 0 0 8"])
    func partitionCountField(_ text: String) {
        // Zero, a leading zero, above Int32.max, a sign, missing (the stream taken for it), no stream.
        #expect(RecordPosition.decode(Array(text.utf8)) == nil, "\(text)")
        #expect(RecordPosition.decode(Array("0/1 0/2 0 0 8 s".utf8))?.partitionCount == 8)
    }

    @Test func rejectsAStreamIDThatIsNotUTF8() {
        #expect(RecordPosition.decode(Array("0/1 0/2 0 0 1 ".utf8) + [0xFF]) == nil)
        #expect(RecordPosition.decode(Array("0/1 0/2 0 0 1 a".utf8) + [0xC3]) == nil)
        #expect(RecordPosition.decode(Array("0/1 0/2 0 0 1 ".utf8) + [0xC3, 0xA9]) != nil)
    }

    /// Never traps on any bytes, and accepts only the exact bytes `encode` writes: whatever decodes
    /// encodes back to the same value.
    @Test func decodingArbitraryBytesNeverTrapsAndAcceptsOnlyCanonicalValues() {
        var generator = SplitMix(seed: 12)
        let alphabet = Array("0123456789ABCDEFabcdef/ -+".utf8) + [0, 0x80, 0xC3, 0xA9, 0xFF]
        var accepted = 0
        func check(_ bytes: [UInt8]) {
            guard let (position, partitions, stream) = RecordPosition.decode(bytes) else { return }
            accepted += 1
            #expect(position.encode(stream: String(stream), partitionCount: partitions) == bytes, "\(bytes)")
        }
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 40)
            let bytes = (0..<length).map { _ in
                generator.next() % 2 == 0 ? UInt8(truncatingIfNeeded: generator.next())
                    : alphabet[Int(generator.next() % UInt64(alphabet.count))]
            }
            check(bytes)
        }
        // Valid values with one byte changed, inserted or removed, and every truncation.
        for _ in 0..<3_000 {
            let valid = position(generator.next() >> (generator.next() % 64), generator.next() >> (generator.next() % 64),
                                 UInt32(generator.next() % 1000), UInt16(generator.next() % 3))
                .encode(stream: "st ream", partitionCount: Int32(generator.next() % 64) + 1)
            let at = Int(generator.next() % UInt64(valid.count))
            let byte = alphabet[Int(generator.next() % UInt64(alphabet.count))]
            var changed = valid
            changed[at] = byte
            check(changed)
            var inserted = valid
            inserted.insert(byte, at: at)
            check(inserted)
            var removed = valid
            removed.remove(at: at)
            check(removed)
            // "<5 fields> st ream": a truncation decodes exactly when it keeps at least the stream's first byte.
            let streamStart = valid.count - "st ream".utf8.count
            for length in 0..<valid.count {
                let truncated = Array(valid[..<length])
                #expect((RecordPosition.decode(truncated) != nil) == (length > streamStart), "\(truncated)")
                check(truncated)
            }
        }
        #expect(accepted > 3_000)   // the checks above ran on values that did decode
    }
}
