/// A bounds-checked, big-endian cursor over one message.
///
/// Every read checks the remaining length first and throws instead of
/// trapping, so arbitrary input can never crash the process. Slices it hands
/// out share storage with the input.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int
    /// Set once the tag has been read so every later error can name the message.
    private(set) var tag: UInt8?

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    /// Distance from the tag byte, the unit used in error offsets.
    var offset: Int { position - bytes.startIndex }
    var remaining: Int { bytes.endIndex - position }

    mutating func readTag() throws(PGOutputError) -> UInt8 {
        let tag = try readUInt8("message tag")
        self.tag = tag
        return tag
    }

    @inline(__always)
    mutating func readUInt8(_ field: StaticString) throws(PGOutputError) -> UInt8 {
        try need(1, field)
        defer { position += 1 }
        return bytes[position]
    }

    mutating func readInt16(_ field: StaticString) throws(PGOutputError) -> Int16 {
        try readInteger(field)
    }

    mutating func readUInt32(_ field: StaticString) throws(PGOutputError) -> UInt32 {
        try readInteger(field)
    }

    mutating func readInt32(_ field: StaticString) throws(PGOutputError) -> Int32 {
        try readInteger(field)
    }

    mutating func readInt64(_ field: StaticString) throws(PGOutputError) -> Int64 {
        try readInteger(field)
    }

    mutating func readLSN(_ field: StaticString) throws(PGOutputError) -> LSN {
        LSN(try readInteger(field))
    }

    /// Reads a byte that must be one of `T`'s raw values.
    mutating func readEnum<T: RawRepresentable>(
        _: T.Type, _ field: StaticString
    ) throws(PGOutputError) -> T where T.RawValue == UInt8 {
        let byte = try readUInt8(field)
        guard let value = T(rawValue: byte) else {
            throw error(.invalidValue, at: offset - 1, "invalid \(field) \(Self.describe(byte))")
        }
        return value
    }

    /// Reads a NUL-terminated UTF-8 string (the protocol's `String` type).
    mutating func readCString(_ field: StaticString) throws(PGOutputError) -> String {
        let body = bytes[position...]
        guard let nul = body.firstIndex(of: 0) else {
            throw error(.truncated, "no NUL terminator for \(field) in the remaining \(remaining) bytes")
        }
        guard let string = String(validating: body[..<nul], as: UTF8.self) else {
            throw error(.invalidString, "\(field) is not valid UTF-8")
        }
        position = nul + 1
        return string
    }

    mutating func readBytes(count: Int, _ field: StaticString) throws(PGOutputError) -> ArraySlice<UInt8> {
        guard count >= 0 else {
            throw error(.invalidValue, "negative length \(count) for \(field)")
        }
        try need(count, field)
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func readRemainingBytes() -> ArraySlice<UInt8> {
        defer { position = bytes.endIndex }
        return bytes[position...]
    }

    /// Guards a wire-supplied element count before anything is allocated for
    /// it, so a corrupt count cannot trigger a huge `reserveCapacity`.
    func require(count: Int, ofAtLeast elementSize: Int, _ field: StaticString) throws(PGOutputError) {
        guard count >= 0 else {
            throw error(.invalidValue, "negative count \(count) for \(field)")
        }
        guard count <= remaining / elementSize else {
            throw error(.truncated, "\(count) \(field) of at least \(elementSize) bytes each, have \(remaining) bytes")
        }
    }

    /// The frame fixes the message length, so leftover bytes mean decoder and
    /// server disagree about the format (say, a protocol v2 xid field); failing
    /// beats silently misreading every field after the disagreement.
    func finish() throws(PGOutputError) {
        guard remaining == 0 else {
            throw error(.trailingBytes, "\(remaining) unexpected bytes after the message")
        }
    }

    func error(_ code: PGOutputError.Code, at offset: Int? = nil, _ detail: String) -> PGOutputError {
        PGOutputError(code: code, messageTag: tag, offset: offset ?? self.offset, detail: detail)
    }

    static func describe(_ byte: UInt8) -> String {
        let hex = hexByte(byte)
        guard (0x20..<0x7F).contains(byte) else { return hex }
        return "'\(Character(Unicode.Scalar(byte)))' (\(hex))"
    }

    @inline(__always)
    private func need(_ count: Int, _ field: StaticString) throws(PGOutputError) {
        guard remaining >= count else {
            throw error(.truncated, "need \(count) byte\(count == 1 ? "" : "s") for \(field), have \(remaining)")
        }
    }

    @inline(__always)
    private mutating func readInteger<T: FixedWidthInteger>(_ field: StaticString) throws(PGOutputError) -> T {
        let size = MemoryLayout<T>.size
        try need(size, field)
        let start = position - bytes.startIndex
        let raw = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: T.self) }
        position += size
        return T(bigEndian: raw)
    }
}

func hexByte(_ byte: UInt8) -> String {
    (byte < 0x10 ? "0x0" : "0x") + String(byte, radix: 16, uppercase: true)
}
