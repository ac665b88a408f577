/// One row's column values, in the order of the relation's `columns`.
///
/// ```
/// TupleData
///     Int16       Number of columns.
/// Next, one of the following submessages appears for each column (except
/// generated columns):
///     Byte1('n')  Identifies the data as NULL value.
/// Or
///     Byte1('u')  Identifies unchanged TOASTed value (the actual value is not sent).
/// Or
///     Byte1('t')  Identifies the data as text formatted value.
///     Int32       Length of the column value.
///     Byten       The value of the column, in text format.
/// Or
///     Byte1('b')  Identifies the data as binary formatted value.
///     Int32       Length of the column value.
///     Byten       The value of the column, in binary format.
/// ```
public struct TupleData: Sendable, Equatable {
    public var columns: [TupleColumn]

    public init(columns: [TupleColumn]) {
        self.columns = columns
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> TupleData {
        let count = Int(try reader.readInt16("column count"))
        try reader.require(count: count, ofAtLeast: 1, "tuple columns")
        var columns: [TupleColumn] = []
        columns.reserveCapacity(count)
        for index in 0..<count {
            let kindOffset = reader.offset
            switch try reader.readUInt8("column kind") {
            case UInt8(ascii: "n"):
                columns.append(.null)
            case UInt8(ascii: "u"):
                columns.append(.unchangedToast)
            case UInt8(ascii: "t"):
                columns.append(.text(try readValue(from: &reader)))
            case UInt8(ascii: "b"):
                columns.append(.binary(try readValue(from: &reader)))
            case let kind:
                throw reader.error(
                    .invalidValue, at: kindOffset,
                    "column \(index) has kind \(ByteReader.describe(kind)), expected 'n', 'u', 't' or 'b'"
                )
            }
        }
        return TupleData(columns: columns)
    }

    private static func readValue(from reader: inout ByteReader) throws(PGOutputError) -> ArraySlice<UInt8> {
        let length = try reader.readInt32("column length")
        return try reader.readBytes(count: Int(length), "column value")
    }
}

/// Values are slices of the decoded buffer; their indices are the buffer's,
/// so index them from `startIndex`, not 0.
public enum TupleColumn: Sendable, Equatable {
    case null
    /// A TOASTed value the change did not touch. The server omits it, so the
    /// caller must keep the previous value (or treat it as unknown).
    case unchangedToast
    /// The type's text output (what `SELECT` would print), not NUL-terminated.
    case text(ArraySlice<UInt8>)
    /// The type's binary send format; only sent when the client asks for `binary 'true'`.
    case binary(ArraySlice<UInt8>)
}
