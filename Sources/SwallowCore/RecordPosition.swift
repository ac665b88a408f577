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
    /// so a replayed record without key goes to the partition its first copy went to. `description`'s
    /// bytes (the header value up to its suffix), written without string formatting.
    public var partitionSeed: [UInt8] { encode(suffix: []) }

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

    /// The header value with a suffix from `headerSuffix`: the same bytes as `encode(stream:partitionCount:)`.
    public func encode(suffix: [UInt8]) -> [UInt8] {
        let count = encodedCount(suffixCount: suffix.count)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = encode(suffix: suffix, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// The length of the header value with a suffix of `suffixCount` bytes, without writing it.
    public func encodedCount(suffixCount: Int) -> Int {
        Self.lsnDigits(commitLSN) + 1 + Self.lsnDigits(changeLSN) + 1
            + Self.decimalDigits(UInt64(index)) + 1 + Self.decimalDigits(UInt64(part)) + suffixCount
    }

    /// Writes the header value with `suffix` (the bytes `encode(suffix:)` returns) to the start of
    /// `buffer`, which holds at least `encodedCount(suffixCount: suffix.count)` bytes; returns how many it
    /// wrote. No allocation and no string formatting: it runs for every record (`Header.withValue`).
    public func encode(suffix: [UInt8], into buffer: UnsafeMutableRawBufferPointer) -> Int {
        // The longest value first: that check is one addition, and the buffers `Header.withValue` gives pass it.
        precondition(buffer.count >= Self.longestPrefix + suffix.count || buffer.count >= encodedCount(suffixCount: suffix.count),
                     "the buffer is too small for the header value")
        // Written through a pointer, each number from its last digit back: the value is made for every
        // record, and this is the bulk of exactly_once's own work per record.
        guard let start = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        var cursor = start
        /// Upper-case hex without leading zeros, as `LSN` prints.
        func appendHex(_ value: UInt64) {
            let digits = Self.hexDigits(value)
            var rest = value
            var at = cursor + digits
            repeat {
                at -= 1
                let digit = UInt8(truncatingIfNeeded: rest & 0xF)
                at.pointee = digit < 10 ? 0x30 + digit : 0x37 + digit
                rest >>= 4
            } while at > cursor
            cursor += digits
        }
        func appendDecimal(_ value: UInt64) {
            let digits = Self.decimalDigits(value)
            var rest = value
            var at = cursor + digits
            repeat {
                at -= 1
                let (quotient, remainder) = rest.quotientAndRemainder(dividingBy: 10)
                at.pointee = 0x30 + UInt8(truncatingIfNeeded: remainder)
                rest = quotient
            } while at > cursor
            cursor += digits
        }
        func append(_ byte: UInt8) {
            cursor.pointee = byte
            cursor += 1
        }
        appendHex(commitLSN.value >> 32)
        append(UInt8(ascii: "/"))
        appendHex(commitLSN.value & 0xFFFF_FFFF)
        append(UInt8(ascii: " "))
        appendHex(changeLSN.value >> 32)
        append(UInt8(ascii: "/"))
        appendHex(changeLSN.value & 0xFFFF_FFFF)
        append(UInt8(ascii: " "))
        appendDecimal(UInt64(index))
        append(UInt8(ascii: " "))
        appendDecimal(UInt64(part))
        suffix.withUnsafeBufferPointer { suffixBytes in
            if let base = suffixBytes.baseAddress { cursor.update(from: base, count: suffixBytes.count) }
        }
        return cursor - start + suffix.count
    }

    /// The longest `<commit> <change> <index> <part>`: two LSNs of 17 characters, 10 and 5 digits, 3 spaces.
    @usableFromInline static let longestPrefix = 17 + 1 + 17 + 1 + 10 + 1 + 5

    /// Characters of `X/X`.
    private static func lsnDigits(_ lsn: LSN) -> Int {
        hexDigits(lsn.value >> 32) + 1 + hexDigits(lsn.value & 0xFFFF_FFFF)
    }

    /// Hex digits of `value` without leading zeros (0 has one).
    private static func hexDigits(_ value: UInt64) -> Int {
        max(1, (64 - value.leadingZeroBitCount + 3) / 4)
    }

    /// Decimal digits of `value` without leading zeros (0 has one).
    private static func decimalDigits(_ value: UInt64) -> Int {
        // Indexes and parts are small: a few comparisons, no division.
        var digits = 1
        var bound: UInt64 = 10
        while value >= bound {
            digits += 1
            guard digits < 20 else { return 20 }
            bound *= 10
        }
        return digits
    }

    /// The `swallow.position` header of one record as the producer is given it: the position and its
    /// topic's suffix (`headerSuffix`, shared by every record of the topic, so holding it allocates
    /// nothing). The value is written only for the producer to copy (`withValue`), in a buffer on the
    /// stack: arrays made per record for it sent the reader into the allocator's slow path and lock,
    /// a large part of what exactly_once cost over at_least_once for small rows (docs/performance.md).
    public struct Header: Sendable, Equatable {
        public var position: RecordPosition
        /// ` <partitions> <stream>`, from `headerSuffix`.
        public var suffix: [UInt8]

        public init(position: RecordPosition, suffix: [UInt8]) {
            self.position = position
            self.suffix = suffix
        }

        /// The header's name.
        public var key: String { RecordPosition.headerName }
        /// The value's length in bytes.
        public var valueCount: Int { position.encodedCount(suffixCount: suffix.count) }
        /// The value (an array: for tests and diagnostics, not the per-record path).
        public var value: [UInt8] { position.encode(suffix: suffix) }

        /// Calls `body` with the value, written to a temporary buffer (on the stack unless the stream
        /// id is very long) that lives only during the call. Inlinable: specialised where it is called,
        /// rather than run generically with its types looked up at run time for every record.
        @inlinable
        public func withValue<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
            // Room for the longest value: this one's exact length would take a pass over its digits.
            return try withUnsafeTemporaryAllocation(byteCount: RecordPosition.longestPrefix + suffix.count, alignment: 1) { (buffer: UnsafeMutableRawBufferPointer) throws(E) -> R in
                let written = position.encode(suffix: suffix, into: buffer)
                return try body(UnsafeRawBufferPointer(rebasing: buffer[..<written]))
            }
        }
    }

    /// The header carrying this position with a suffix from `headerSuffix`, for the producer.
    public func header(suffix: [UInt8]) -> Header {
        Header(position: self, suffix: suffix)
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
