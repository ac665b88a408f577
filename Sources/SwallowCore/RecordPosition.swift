import PGOutput

/// Where a record Swallow produced came from in the source stream, as `delivery: exactly_once` writes it
/// into each record (header `swallow.position`) and reads it back from the tail of each partition on
/// start, to skip what a replay of the slot would otherwise write twice.
///
/// Ordered lexicographically, in the order the slot sends changes: transactions by commit position
/// (pgoutput sends them in commit order), then within a transaction by WAL position, then by row within
/// one WAL record, then by record within one change. Swallow places each record's partition itself, so
/// within each (topic, partition) its records are written in increasing position order.
///
/// Why WAL positions rather than a running count of records produced: a replay after a configuration
/// change (tombstones switched on or off, a table excluded or included) produces a different set of
/// records for the same transactions. A counter would then give the same number to different records,
/// and a record skipped as "already delivered" could be one that never was. A WAL position names the same
/// change whatever else is produced around it.
public struct RecordPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The transaction's commit position: the final LSN of pgoutput's Begin message (the same as its
    /// Commit's commit LSN). For a non-transactional logical message or a heartbeat, its own LSN.
    public var commitLSN: LSN
    /// The change's WAL position: the XLogData start of the change message. `LSN(0)` for a transaction
    /// metadata BEGIN record, `LSN(UInt64.max)` for its END record, so they sort around the changes.
    public var changeLSN: LSN
    /// The row's ordinal among the changes at the same `changeLSN`: one multi-insert WAL record (COPY,
    /// `INSERT ... SELECT` into some tables) decodes to several rows at one position.
    public var index: UInt32
    /// The record's ordinal among the records one change produces: the event 0, its tombstone 1; a
    /// truncate's per-table records 0, 1, ...
    public var part: UInt16

    public init(commitLSN: LSN, changeLSN: LSN, index: UInt32 = 0, part: UInt16 = 0) {
        self.commitLSN = commitLSN
        self.changeLSN = changeLSN
        self.index = index
        self.part = part
    }

    /// The position of a transaction metadata BEGIN record: before every change of its transaction.
    public static func transactionBegin(commitLSN: LSN) -> RecordPosition {
        RecordPosition(commitLSN: commitLSN, changeLSN: LSN(0))
    }

    /// The position of a transaction metadata END record: after every change of its transaction.
    public static func transactionEnd(commitLSN: LSN) -> RecordPosition {
        RecordPosition(commitLSN: commitLSN, changeLSN: LSN(UInt64.max))
    }

    /// The highest position below every record of transactions committing at or after `lsn`: what an
    /// initial snapshot's rows carry, with `lsn` the slot's position when the snapshot began. A stream's
    /// tail scan that meets them then skips nothing the slot can replay (it replays only transactions
    /// committing after its position), and stops there instead of reading the whole snapshot back.
    public static func belowCommits(at lsn: LSN) -> RecordPosition {
        guard lsn.value > 0 else { return RecordPosition(commitLSN: LSN(0), changeLSN: LSN(0)) }
        return RecordPosition(commitLSN: LSN(lsn.value - 1), changeLSN: LSN(UInt64.max), index: UInt32.max, part: UInt16.max)
    }

    public static func < (lhs: RecordPosition, rhs: RecordPosition) -> Bool {
        (lhs.commitLSN, lhs.changeLSN, lhs.index, lhs.part) < (rhs.commitLSN, rhs.changeLSN, rhs.index, rhs.part)
    }

    /// `<commit> <change> <index> <part>`, as in the header.
    public var description: String { "\(commitLSN) \(changeLSN) \(index) \(part)" }
}

// MARK: The header

extension RecordPosition {
    /// The bytes a record without key is placed by (hashed like a key): the same for the same position,
    /// so a replayed record without key goes to the partition its first copy went to.
    public var partitionSeed: [UInt8] { Array(description.utf8) }

    /// The name of the record header carrying the position.
    public static let headerName = "swallow.position"

    /// The header value: ASCII fields separated by one space each,
    ///
    ///     <commit> <change> <index> <part> <partitions> <stream>
    ///     0/16B3748 0/16B36D0 0 1 8 swallow-orders
    ///
    /// LSNs in PostgreSQL's `X/X` form (upper-case hex, no leading zeros: how `LSN` prints), `index`,
    /// `part` and `partitions` in decimal, and `stream` the stream id (the transactional id): everything
    /// after the fifth space, so it may hold spaces itself. `partitions` is the topic's partition count
    /// when the record was placed (1 or more): a resume that finds another count knows the keys moved.
    /// `stream` must not be empty.
    public func encode(stream: String, partitionCount: Int32) -> [UInt8] {
        encode(suffix: Self.headerSuffix(stream: stream, partitionCount: partitionCount))
    }

    /// ` <partitions> <stream>`: the end of every header of one topic's records, made once.
    public static func headerSuffix(stream: String, partitionCount: Int32) -> [UInt8] {
        precondition(!stream.isEmpty, "a position header needs a stream id")
        precondition(partitionCount > 0, "a topic has at least one partition")
        return Array(" \(partitionCount) \(stream)".utf8)
    }

    /// The header value with a suffix from `headerSuffix`: the same bytes as `encode(stream:partitionCount:)`,
    /// written without string formatting (it runs for every record).
    public func encode(suffix: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(48 + suffix.count)
        Self.appendLSN(commitLSN, to: &bytes)
        bytes.append(UInt8(ascii: " "))
        Self.appendLSN(changeLSN, to: &bytes)
        bytes.append(UInt8(ascii: " "))
        Self.appendDecimal(UInt64(index), to: &bytes)
        bytes.append(UInt8(ascii: " "))
        Self.appendDecimal(UInt64(part), to: &bytes)
        bytes.append(contentsOf: suffix)
        return bytes
    }

    /// `X/X`, upper-case hex without leading zeros, as `LSN` prints.
    private static func appendLSN(_ lsn: LSN, to bytes: inout [UInt8]) {
        appendHex(lsn.value >> 32, to: &bytes)
        bytes.append(UInt8(ascii: "/"))
        appendHex(lsn.value & 0xFFFF_FFFF, to: &bytes)
    }

    private static func appendHex(_ value: UInt64, to bytes: inout [UInt8]) {
        let digits: [UInt8] = Array("0123456789ABCDEF".utf8)
        var shift = 60
        while shift > 0, value >> UInt64(shift) == 0 { shift -= 4 }
        while shift >= 0 {
            bytes.append(digits[Int((value >> UInt64(shift)) & 0xF)])
            shift -= 4
        }
    }

    private static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        bytes.append(contentsOf: Array(String(value).utf8))
    }

    /// The header carrying this position for `stream`, placed among `partitionCount` partitions.
    public func header(stream: String, partitionCount: Int32) -> RecordHeader {
        RecordHeader(key: Self.headerName, value: encode(stream: stream, partitionCount: partitionCount))
    }

    /// Reads a header value written by `encode(stream:partitionCount:)`: the position, the partition
    /// count and the stream id, or nil for anything else. Strict: only the exact bytes `encode` writes are accepted (no lower-case hex, no
    /// leading zeros, no sign, one space between fields, a non-empty stream id in valid UTF-8), so every
    /// value that decodes encodes back to the same bytes. Total: no input traps.
    public static func decode(_ bytes: [UInt8]) -> (RecordPosition, partitionCount: Int32, stream: Substring)? {
        var fields: [Range<Int>] = []
        var fieldStart = 0
        var cursor = 0
        while fields.count < 5, cursor < bytes.count {
            if bytes[cursor] == UInt8(ascii: " ") {
                fields.append(fieldStart..<cursor)
                fieldStart = cursor + 1
            }
            cursor += 1
        }
        guard fields.count == 5, fieldStart < bytes.count,
              let commit = lsn(bytes[fields[0]]), let change = lsn(bytes[fields[1]]),
              let index = decimal(bytes[fields[2]], max: UInt64(UInt32.max)),
              let part = decimal(bytes[fields[3]], max: UInt64(UInt16.max)),
              let partitions = decimal(bytes[fields[4]], max: UInt64(Int32.max)), partitions > 0,
              let text = String(validating: bytes, as: UTF8.self)
        else { return nil }
        // The first five fields are ASCII, so the stream starts at the same offset in the text's UTF-8.
        // Sliced by scalars, not characters: a stream id that starts with a combining mark would
        // otherwise form one character with the space before it and take the space along.
        let start = text.utf8.index(text.utf8.startIndex, offsetBy: fieldStart)
        let stream = Substring(text.unicodeScalars[start...])
        return (RecordPosition(commitLSN: commit, changeLSN: change, index: UInt32(index), part: UInt16(part)),
                Int32(partitions), stream)
    }

    /// `X/X`: two halves of 1...8 upper-case hex digits, no leading zeros.
    private static func lsn(_ field: ArraySlice<UInt8>) -> LSN? {
        guard let slash = field.firstIndex(of: UInt8(ascii: "/")),
              let high = hex32(field[..<slash]), let low = hex32(field[(slash + 1)...])
        else { return nil }
        return LSN(high << 32 | low)
    }

    private static func hex32(_ digits: ArraySlice<UInt8>) -> UInt64? {
        guard (1...8).contains(digits.count), digits.count == 1 || digits.first != UInt8(ascii: "0") else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt64(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
        }
        return value
    }

    /// Decimal digits, no leading zeros, at most `max`.
    private static func decimal(_ digits: ArraySlice<UInt8>, max: UInt64) -> UInt64? {
        // 10 digits cover UInt32.max; more cannot be in range (and could overflow the sum).
        guard (1...10).contains(digits.count), digits.count == 1 || digits.first != UInt8(ascii: "0") else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        return value <= max ? value : nil
    }
}
