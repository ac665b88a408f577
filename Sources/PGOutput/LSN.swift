/// A PostgreSQL write-ahead-log position (`XLogRecPtr` / `pg_lsn`).
///
/// The text form is two hexadecimal halves, `"16/B374D848"`, exactly as
/// `pg_lsn` prints and parses it.
public struct LSN: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var value: UInt64

    /// `InvalidXLogRecPtr`; Postgres uses it for "no position".
    public static let invalid = LSN(0)

    public init(_ value: UInt64) {
        self.value = value
    }

    /// Parses `"X/X"` with 1...8 hex digits per half, the syntax `pg_lsn_in` accepts.
    public init?(string: String) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var highDigits = 0
        var lowDigits = 0
        var seenSlash = false
        for byte in string.utf8 {
            if byte == UInt8(ascii: "/") {
                guard !seenSlash else { return nil }
                seenSlash = true
                continue
            }
            guard let digit = Self.hexValue(byte) else { return nil }
            if seenSlash {
                low = low << 4 | digit
                lowDigits += 1
            } else {
                high = high << 4 | digit
                highDigits += 1
            }
        }
        // Checking the digit counts after the loop is safe: 9+ digits only
        // shift bits out of a UInt64, they cannot trap.
        guard seenSlash, (1...8).contains(highDigits), (1...8).contains(lowDigits) else { return nil }
        self.value = high << 32 | low
    }

    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/"
            + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    public static func < (lhs: LSN, rhs: LSN) -> Bool {
        lhs.value < rhs.value
    }

    private static func hexValue(_ byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt64(byte - UInt8(ascii: "A") + 10)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
        default: nil
        }
    }
}
