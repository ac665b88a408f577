@testable import ChangeEvent
import Testing

/// The UTF-8 check that decides whether a text value goes into Avro as it is: agrees with the standard
/// library's decoder for a bad byte or a multi-byte character at every offset around the word-at-a-time
/// fast paths (32 and 8 bytes).
@Suite struct UTF8CheckTests {
    private func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { UTF8Check.isValid($0) }
    }

    @Test func agreesWithTheStandardLibraryAtEveryOffset() {
        let inserts: [[UInt8]] = [
            Array("é".utf8), Array("€".utf8), Array("𝄞".utf8),   // two, three and four bytes: valid
            [0xFF], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80],       // invalid, truncated, a surrogate
            [0xC0, 0xAF], [0x80],                                   // overlong, a lone continuation
        ]
        for length in [0, 1, 7, 8, 9, 31, 32, 33, 40, 64, 70] {
            for offset in 0...length {
                for insert in inserts {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes.insert(contentsOf: insert, at: offset)
                    let expected = String(validating: bytes, as: UTF8.self) != nil
                    #expect(isValid(bytes) == expected, "length \(length), offset \(offset), insert \(insert)")
                }
            }
        }
        #expect(isValid([]))
    }
}
