/// A message that could not be decoded.
///
/// Offsets count from the message's tag byte (byte 0), so for a pgoutput
/// message they are relative to the start of `XLogData.data`, not the
/// CopyData payload.
public struct PGOutputError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The message ended before a field did. A string without a NUL
        /// terminator lands here too: it necessarily runs to the end of the
        /// message, which is indistinguishable from the message being cut short.
        case truncated
        /// The message decoded completely but bytes were left over.
        case trailingBytes
        /// The tag byte is not one this decoder understands.
        case unknownMessageType
        /// A field holds a value the protocol does not allow (unknown enum byte, negative count).
        case invalidValue
        /// A string field is not valid UTF-8.
        case invalidString
    }

    public var code: Code
    /// The tag of the message being decoded, or `nil` if the buffer was empty.
    public var messageTag: UInt8?
    public var offset: Int
    public var detail: String

    public init(code: Code, messageTag: UInt8?, offset: Int, detail: String) {
        self.code = code
        self.messageTag = messageTag
        self.offset = offset
        self.detail = detail
    }

    /// Always `false`: the same bytes will fail the same way again.
    public var isRetriable: Bool { false }

    public var description: String {
        guard let tag = messageTag else {
            return "empty message: \(detail)"
        }
        let quotedTag = (0x20..<0x7F).contains(tag)
            ? "'\(Character(Unicode.Scalar(tag)))'"
            : hexByte(tag)
        if code == .unknownMessageType {
            return "unknown message type \(quotedTag) at byte \(offset): \(detail)"
        }
        let what = switch code {
        case .truncated: "truncated"
        case .trailingBytes: "has trailing bytes"
        case .invalidValue: "has an invalid value"
        case .invalidString: "has an invalid string"
        case .unknownMessageType: "has an unknown type"
        }
        return "\(Self.messageName(tag)) (\(quotedTag)) message \(what) at byte \(offset): \(detail)"
    }

    // Replication-level and pgoutput tags do not overlap, so the tag alone names the message.
    private static func messageName(_ tag: UInt8) -> String {
        switch tag {
        case UInt8(ascii: "w"): "replication XLogData"
        case UInt8(ascii: "k"): "replication primary keepalive"
        case UInt8(ascii: "B"): "pgoutput Begin"
        case UInt8(ascii: "C"): "pgoutput Commit"
        case UInt8(ascii: "O"): "pgoutput Origin"
        case UInt8(ascii: "R"): "pgoutput Relation"
        case UInt8(ascii: "Y"): "pgoutput Type"
        case UInt8(ascii: "I"): "pgoutput Insert"
        case UInt8(ascii: "U"): "pgoutput Update"
        case UInt8(ascii: "D"): "pgoutput Delete"
        case UInt8(ascii: "T"): "pgoutput Truncate"
        case UInt8(ascii: "M"): "pgoutput Message"
        case UInt8(ascii: "A"): "pgoutput Stream Abort"
        default: "unknown"
        }
    }
}
