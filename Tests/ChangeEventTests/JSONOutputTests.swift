import Testing
@testable import ChangeEvent

/// The encoder's byte buffer and the word-at-a-time string scan, against their byte-wise definitions.
@Suite struct JSONOutputTests {
    @Test func growsFromATinyCapacityAndKeepsEveryByte() {
        var out = JSONOutput(capacity: 1)
        var expected: [UInt8] = []
        for round in 0..<300 {
            let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: round), count: round % 37)
            out.append(contentsOf: chunk)
            out.append(UInt8(truncatingIfNeeded: round &* 7))
            expected += chunk + [UInt8(truncatingIfNeeded: round &* 7)]
        }
        #expect(out.count == expected.count)
        #expect(out.bytes() == expected)
    }

    @Test func decimalsOfEveryLengthAndPaddedWidths() {
        var values: [UInt64] = [0, 9, 10, 99, 100, 101, UInt64.max, UInt64.max - 1, 10_000_000_000_000_000_000,
                                9_999_999_999_999_999_999]
        var power: UInt64 = 1
        for _ in 0..<19 {
            values += [power - 1, power, power + 1]
            power *= 10
        }
        for value in values {
            for width in [1, 2, 4, 6, 9, 25] {
                var out = JSONOutput(capacity: 1)
                out.append(UInt8(ascii: "x"))
                out.appendDecimal(value, minimumWidth: width)
                let text = String(value)
                let padded = String(repeating: "0", count: max(0, width - text.count)) + text
                #expect(utf8(out) == "x" + padded, "value \(value) width \(width)")
            }
        }
    }

    @Test func appendCopyRepeatsBytesAlreadyWrittenAcrossAGrowth() {
        var out = JSONOutput(capacity: 4)
        out.append(contentsOf: Array("1795".utf8))
        out.appendCopy(of: 0..<4)
        out.appendCopy(of: 2..<8)
        #expect(utf8(out) == "17951795" + "951795")
    }

    @Test func theWordScanAgreesWithTheByteRuleForEveryByteInEveryPosition() {
        func byteNeedsAttention(_ b: UInt8) -> Bool { b < 0x20 || b == 0x22 || b == 0x5C || b >= 0x80 }
        let plain = UInt64(0x61) * 0x0101_0101_0101_0101   // "aaaaaaaa"
        for position in 0..<8 {
            for byte in 0...255 {
                let shift = UInt64(position * 8)
                let word = (plain & ~(0xFF << shift)) | (UInt64(byte) << shift)
                #expect(JSON.needsAttention(word) == byteNeedsAttention(UInt8(byte)), "byte \(byte) at \(position)")
            }
        }
        // Random words: some byte needs attention exactly when the scan says so.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<200_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            var word = state
            // Bias towards printable ASCII so both outcomes are common.
            if state >> 60 < 12 { word = (word & 0x3F3F_3F3F_3F3F_3F3F) | 0x2020_2020_2020_2020 }
            let expected = (0..<8).contains { byteNeedsAttention(UInt8(truncatingIfNeeded: word >> UInt64($0 * 8))) }
            #expect(JSON.needsAttention(word) == expected)
        }
    }

    @Test func stringsWithSpecialBytesAtEveryOffsetEscapeLikeTheByteLoop() {
        // Each special byte at each offset of strings long enough to take the word path before and after it.
        for special: UInt8 in [0x00, 0x0A, 0x1F, 0x22, 0x5C, 0x7F, 0xC3] {
            for offset in 0..<20 {
                var bytes = [UInt8](repeating: UInt8(ascii: "k"), count: 24)
                bytes[offset] = special
                if special == 0xC3 { bytes[offset + 1] = 0xA9 }   // é, valid UTF-8 kept raw
                var out = JSONOutput(capacity: 8)
                bytes.withUnsafeBufferPointer { JSON.appendStringContents(&out, $0) }
                let prefix = String(repeating: "k", count: offset)
                let rest = special == 0xC3 ? 22 - offset : 23 - offset
                let middle: String
                switch special {
                case 0x00: middle = "\\u0000"
                case 0x0A: middle = "\\n"
                case 0x1F: middle = "\\u001F"
                case 0x22: middle = "\\\""
                case 0x5C: middle = "\\\\"
                case 0x7F: middle = "\u{7F}"
                default: middle = "é"
                }
                #expect(utf8(out) == prefix + middle + String(repeating: "k", count: rest), "byte \(special) at \(offset)")
            }
        }
    }
}
