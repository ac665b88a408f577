import PGOutput

/// Which snapshot record a record is, as `delivery: exactly_once` writes it into each snapshot record
/// (header `swallow.snapshot`) and reads it back when a snapshot continues after a failure, to skip the
/// rows the topics already hold.
///
/// A snapshot is read in *units*: an initial snapshot's chunk (a primary-key or block range of a table,
/// read on one exported snapshot), or one table of an incremental snapshot. A unit read again — the same
/// chunk after a broker fault, the rest of an interrupted initial snapshot's chunk read incrementally
/// after a crash, an incremental snapshot's table after a crash — skips every row whose record with the
/// same unit is already in the topic: identified by its Kafka key, or for a table without a key by its
/// ordinal in the unit (only an initial snapshot's chunk read again on the same exported snapshot has
/// the same rows in the same order; see `ExactlyOnceDelivery`).
///
/// Stream records carry `swallow.position` instead; the two never appear on the same record.
public struct SnapshotTag: Sendable, Hashable, CustomStringConvertible {
    /// The unit: printable ASCII without spaces (see `initialUnit`, `incrementalUnit`).
    public var unit: String
    /// The row's ordinal in the unit, from 0.
    public var row: UInt64

    public init(unit: String, row: UInt64) {
        // Units are made by `initialUnit`/`incrementalUnit` (or decoded, which checks them): checked in
        // debug builds only, since a snapshot makes one tag per row.
        assert(Self.isValidUnit(unit), "a snapshot unit is printable ASCII without spaces")
        self.unit = unit
        self.row = row
    }

    /// The unit of chunk `chunk` of the initial snapshot taken at `consistentPoint`:
    /// `initial:<consistent point>:<chunk>`, e.g. `initial:0/16B3748:12`.
    public static func initialUnit(consistentPoint: LSN, chunk: Int) -> String {
        "initial:\(consistentPoint):\(chunk)"
    }

    /// The unit of `table` in the incremental snapshot the signal `signalID` asked for:
    /// `incremental:<hex>`, a hash of both (FNV-1a, 64 bits). The same for the same signal, so that a
    /// signal the stream replays after a crash names the rows the first reading of it delivered.
    public static func incrementalUnit(signalID: String, table: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in signalID.utf8 + [0] + table.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return "incremental:" + String(hash, radix: 16)
    }

    public static func isValidUnit(_ unit: String) -> Bool {
        !unit.isEmpty && unit.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// `<unit> <row>`.
    public var description: String { "\(unit) \(row)" }

    /// The name of the record header carrying the tag.
    public static let headerName = "swallow.snapshot"

    /// The header value: ASCII fields separated by one space each,
    ///
    ///     <unit> <row> <stream>
    ///     initial:0/16B3748:12 4051 swallow.app.swallow
    ///
    /// `row` in decimal without leading zeros, `stream` the stream id (the transactional id, as in
    /// `swallow.position`): everything after the second space, non-empty.
    public func encode(stream: String) -> [UInt8] {
        precondition(!stream.isEmpty, "a snapshot tag needs a stream id")
        return Array("\(unit) \(row) \(stream)".utf8)
    }

    /// Reads a header value written by `encode(stream:)`, or nil for anything else. Strict like
    /// `RecordPosition.decode`: only the exact bytes `encode` writes. Total: no input traps.
    public static func decode(_ bytes: [UInt8]) -> (SnapshotTag, stream: Substring)? {
        guard let firstSpace = bytes.firstIndex(of: UInt8(ascii: " ")) else { return nil }
        let rowStart = firstSpace + 1
        guard rowStart < bytes.count, let secondSpace = bytes[rowStart...].firstIndex(of: UInt8(ascii: " ")),
              secondSpace + 1 < bytes.count else { return nil }
        let unitBytes = bytes[..<firstSpace], rowBytes = bytes[rowStart..<secondSpace]
        guard !unitBytes.isEmpty, unitBytes.allSatisfy({ (0x21...0x7E).contains($0) }),
              (1...20).contains(rowBytes.count), rowBytes.count == 1 || rowBytes.first != UInt8(ascii: "0"),
              rowBytes.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let row = UInt64(String(decoding: rowBytes, as: UTF8.self)),
              let text = String(validating: bytes, as: UTF8.self)
        else { return nil }
        // The unit and row are ASCII: the stream starts at the same offset in the text's UTF-8, sliced by
        // scalars for the reason `RecordPosition.decode` gives.
        let start = text.utf8.index(text.utf8.startIndex, offsetBy: secondSpace + 1)
        return (SnapshotTag(unit: String(decoding: unitBytes, as: UTF8.self), row: row),
                Substring(text.unicodeScalars[start...]))
    }
}

/// What identifies a snapshot row within its unit when the unit is read again: its Kafka key, or, for a
/// record without key, its ordinal.
public enum SnapshotRowIdentity: Sendable, Hashable {
    case key([UInt8])
    case row(UInt64)

    public init(key: [UInt8]?, tag: SnapshotTag) {
        self = key.map { .key($0) } ?? .row(tag.row)
    }
}
