#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The growing byte buffer every encoder writes into.
///
/// Why not `[UInt8]`: an event is built from some fifty small appends (field-name prefixes, digits,
/// string runs), and `Array.append(contentsOf:)` spends about 90 instructions per call on its generic
/// Sequence path, uniqueness and capacity checks — a sixth of the stream thread's instructions before
/// this type existed (callgrind, `docs/performance.md`). Here an append is a capacity check and a
/// `memcpy`. Non-copyable, so the storage has exactly one owner and is freed in `deinit`.
struct JSONOutput: ~Copyable {
    var base: UnsafeMutablePointer<UInt8>
    private(set) var count: Int
    var capacity: Int

    @inline(__always)
    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        count = 0
    }

    deinit { base.deallocate() }

    /// The bytes written so far, as an array (one copy).
    @inline(__always)
    consuming func bytes() -> [UInt8] {
        [UInt8](UnsafeBufferPointer(start: base, count: count))
    }

    /// The bytes written so far, without a copy, for the duration of `body`.
    @inline(__always)
    func withBytes<R, E: Error>(_ body: (UnsafeBufferPointer<UInt8>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    @inline(__always)
    mutating func reserveCapacity(_ minimum: Int) {
        if minimum > capacity { grow(to: minimum) }
    }

    @inline(never)
    mutating func grow(to minimum: Int) {
        let newCapacity = max(minimum, capacity * 2)
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count &+= 1
    }

    @inline(__always)
    mutating func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        let n = bytes.count
        guard n > 0 else { return }
        if capacity - count < n { grow(to: count + n) }
        memcpy(base + count, bytes.baseAddress!, n)
        count &+= n
    }

    @inline(__always)
    mutating func append(contentsOf bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    @inline(__always)
    mutating func append(contentsOf bytes: ArraySlice<UInt8>) {
        bytes.withUnsafeBufferPointer { append(contentsOf: $0) }
    }

    @inline(__always)
    subscript(index: Int) -> UInt8 {
        get {
            precondition(index >= 0 && index < count, "JSONOutput index out of range")
            return base[index]
        }
        set {
            precondition(index >= 0 && index < count, "JSONOutput index out of range")
            base[index] = newValue
        }
    }

    /// Drops everything from `range.lowerBound` on (undoing a partly written value).
    @inline(__always)
    mutating func removeSubrange(_ range: PartialRangeFrom<Int>) {
        precondition(range.lowerBound >= 0 && range.lowerBound <= count, "JSONOutput index out of range")
        count = range.lowerBound
    }

    /// Appends a copy of bytes this buffer already holds (`range`, which ends at or before `count`, so
    /// source and destination never overlap).
    @inline(__always)
    mutating func appendCopy(of range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "JSONOutput index out of range")
        let n = range.count
        if capacity - count < n { grow(to: count + n) }
        memcpy(base + count, base + range.lowerBound, n)
        count &+= n
    }

    /// Writes `value` in decimal, left-padded with zeros to `minimumWidth` digits, straight into the
    /// buffer: an event carries a dozen integers (LSNs, timestamps, ids) and the date/time fields.
    @inline(__always)
    mutating func appendDecimal(_ value: UInt64, minimumWidth: Int = 1) {
        var digits = 1
        var threshold: UInt64 = 10
        while value >= threshold {
            digits &+= 1
            if digits == 20 { break }          // 10^20 does not fit in UInt64
            threshold &*= 10
        }
        let length = max(digits, minimumWidth)
        if capacity - count < length { grow(to: count + length) }
        var end = count &+ length
        var v = value
        // Two digits per division, from a constant table (a StaticString: no reference counting).
        let pairs = Self.digitPairs.utf8Start
        while v >= 100 {
            let (quotient, remainder) = v.quotientAndRemainder(dividingBy: 100)
            let pair = Int(truncatingIfNeeded: remainder) &* 2
            end &-= 2
            base[end] = pairs[pair]
            base[end &+ 1] = pairs[pair &+ 1]
            v = quotient
        }
        if v >= 10 {
            let pair = Int(truncatingIfNeeded: v) &* 2
            end &-= 2
            base[end] = pairs[pair]
            base[end &+ 1] = pairs[pair &+ 1]
        } else {
            end &-= 1
            base[end] = 0x30 &+ UInt8(truncatingIfNeeded: v)
        }
        while end > count {                     // the zero padding
            end &-= 1
            base[end] = 0x30
        }
        count &+= length
    }

    /// "00" "01" ... "99", back to back.
    private static let digitPairs: StaticString = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
}

// Avro binary (events.format: avro, `AvroRowEncoding`) written into the same buffer: the encoding of a
// long is a zig-zag varint, a string its length and its bytes, a union the branch index and the value.
extension JSONOutput {
    /// An Avro long (or int): its zig-zag varint, at most 10 bytes.
    @inline(__always)
    mutating func appendAvroLong(_ value: Int64) {
        if capacity - count < 10 { grow(to: count + 10) }
        var n = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while n >= 0x80 {
            base[count] = UInt8(truncatingIfNeeded: n) | 0x80
            count &+= 1
            n >>= 7
        }
        base[count] = UInt8(truncatingIfNeeded: n)
        count &+= 1
    }

    /// An Avro string (or bytes): the length and the bytes.
    @inline(__always)
    mutating func appendAvroString(_ bytes: UnsafeBufferPointer<UInt8>) {
        appendAvroLong(Int64(bytes.count))
        append(contentsOf: bytes)
    }

    /// The branch of a non-null value in a union with null whose null branch is `nullBranch` (0 or 1);
    /// nothing for a required value (-1).
    @inline(__always)
    mutating func appendAvroValueBranch(_ nullBranch: Int64) {
        if nullBranch >= 0 { append(nullBranch == 0 ? 2 : 0) }  // zig-zag of 1 or 0
    }

    /// The null branch of a union (0 or 1).
    @inline(__always)
    mutating func appendAvroNull(_ nullBranch: Int64) {
        append(nullBranch == 0 ? 0 : 2)
    }
}
