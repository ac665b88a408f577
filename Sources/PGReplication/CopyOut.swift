import CLibPQ

// COPY ... TO STDOUT in text format, the way snapshots read tables: the server streams one CopyData
// message per row, values printed by the same output functions pgoutput uses, so a snapshot row and a
// streamed row convert identically.

extension PostgresConnection {
    /// Runs `copyCommand` (a `COPY ... TO STDOUT` statement) and hands every row, as the server sent it
    /// (text format, without the trailing newline), to `row` in order. The bytes are libpq's buffer, valid
    /// only during the call (rows are decoded, never kept, so they are not copied). Blocks the calling
    /// thread; returns the number of rows. An error thrown by `row` cancels the COPY and is rethrown.
    public func copyOut(_ copyCommand: String, row: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let conn = try liveHandle()
        try startCopy(copyCommand, expecting: PGRES_COPY_OUT)
        var rows = 0
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(conn, &buffer, 0)
            if length > 0, let buffer {
                defer { PQfreemem(buffer) }
                var bytes = UnsafeRawBufferPointer(start: buffer, count: Int(length))
                if bytes.last == UInt8(ascii: "\n") { bytes = UnsafeRawBufferPointer(rebasing: bytes.dropLast()) }
                do {
                    try row(bytes)
                } catch {
                    cancelRunningQuery(conn)
                    throw error
                }
                rows += 1
                continue
            }
            if length == -1 {
                if let failure = Self.finishCopy(conn) { throw failure }
                return rows
            }
            throw ReplicationError(code: .connectionFailed, message: Self.errorText(conn))
        }
    }

    /// Asks the server to stop the running statement and drains what it still sends, so the connection
    /// is usable (or cleanly broken) afterwards.
    private func cancelRunningQuery(_ conn: OpaquePointer) {
        if let cancel = PQgetCancel(conn) {
            var message = [CChar](repeating: 0, count: 256)
            _ = PQcancel(cancel, &message, Int32(message.count))
            PQfreeCancel(cancel)
        }
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(conn, &buffer, 0)
            if length > 0 { PQfreemem(buffer); continue }
            break
        }
        while let result = PQgetResult(conn) { PQclear(result) }
    }
}

/// One row of COPY text format: fields separated by tabs, `\N` for NULL, and backslash escapes
/// (`\b \f \n \r \t \v \\`, `\ooo` octal, `\xhh` hex) for the characters that would break the framing.
public struct CopyTextRow: Sendable, Equatable {
    /// The unescaped field bytes, back to back.
    public var storage: [UInt8]
    /// Each field's range in `storage`, or nil for NULL.
    public var fields: [Range<Int>?]

    /// Decodes one row; `expectedFields` is checked so that a mismatch is an error, not a shifted row.
    public static func decode(_ line: [UInt8], expectedFields: Int) throws(ReplicationError) -> CopyTextRow {
        let result = line.withUnsafeBytes { bytes in Result { () throws(ReplicationError) in try decode(bytes, expectedFields: expectedFields) } }
        return try result.get()
    }

    /// Decodes one row straight from libpq's buffer (see `copyOut`).
    public static func decode(_ line: UnsafeRawBufferPointer, expectedFields: Int) throws(ReplicationError) -> CopyTextRow {
        var storage: [UInt8] = []
        storage.reserveCapacity(line.count)
        var fields: [Range<Int>?] = []
        fields.reserveCapacity(expectedFields)
        var fieldStart = 0
        var i = 0
        let n = line.count
        var isNull = false
        func malformed(_ what: String) -> ReplicationError {
            ReplicationError(code: .protocolViolation, message: "a COPY row from the server is malformed (\(what))")
        }
        func hexDigit(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: return b - 0x30
            case 0x61...0x66: return b - 0x61 + 10
            case 0x41...0x46: return b - 0x41 + 10
            default: return nil
            }
        }
        while i <= n {
            if i == n || line[i] == 0x09 {
                fields.append(isNull ? nil : fieldStart..<storage.count)
                isNull = false
                fieldStart = storage.count
                i += 1
                continue
            }
            let b = line[i]
            guard b == 0x5C else {
                // A run of plain bytes up to the next delimiter or escape goes in one copy.
                var end = i + 1
                while end < n, line[end] != 0x09, line[end] != 0x5C { end += 1 }
                storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[i..<end]))
                i = end
                continue
            }
            guard i + 1 < n else { throw malformed("a trailing backslash") }
            let e = line[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "N"):
                // \N alone is NULL; the server never mixes it with other bytes.
                guard storage.count == fieldStart, i == n || line[i] == 0x09 else { throw malformed("\\N inside a value") }
                isNull = true
            case UInt8(ascii: "b"): storage.append(0x08)
            case UInt8(ascii: "f"): storage.append(0x0C)
            case UInt8(ascii: "n"): storage.append(0x0A)
            case UInt8(ascii: "r"): storage.append(0x0D)
            case UInt8(ascii: "t"): storage.append(0x09)
            case UInt8(ascii: "v"): storage.append(0x0B)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = Int(e - 0x30)
                var digits = 1
                while digits < 3, i < n, line[i] >= 0x30, line[i] <= 0x37 {
                    value = value * 8 + Int(line[i] - 0x30)
                    i += 1
                    digits += 1
                }
                storage.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "x"):
                guard i < n, let high = hexDigit(line[i]) else { throw malformed("a \\x escape without digits") }
                var value = high
                i += 1
                if i < n, let low = hexDigit(line[i]) {
                    value = value << 4 | low
                    i += 1
                }
                storage.append(value)
            default:
                // Any other escaped character stands for itself (the backslash itself, the delimiter).
                storage.append(e)
            }
        }
        guard fields.count == expectedFields else {
            throw malformed("\(fields.count) fields where the table has \(expectedFields) columns")
        }
        return CopyTextRow(storage: storage, fields: fields)
    }
}
