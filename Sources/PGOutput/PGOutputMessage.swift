/// A pgoutput logical replication message, protocol version 1
/// (protocol-logicalrep-message-formats.html, PostgreSQL 15).
///
/// Decoding is stateless: `insert`/`update`/`delete` carry only a relation
/// OID, and the caller keeps the `relation` messages it has seen to interpret
/// them. The server re-sends a Relation message before first use in a session
/// and whenever the table's definition changes.
public enum PGOutputMessage: Sendable, Equatable {
    case begin(BeginMessage)
    case commit(CommitMessage)
    case origin(OriginMessage)
    case relation(RelationMessage)
    case type(TypeMessage)
    case insert(InsertMessage)
    case update(UpdateMessage)
    case delete(DeleteMessage)
    case truncate(TruncateMessage)
    case message(LogicalDecodingMessage)
    /// Only ever unasked for: see `StreamAbortMessage`.
    case streamAbort(StreamAbortMessage)

    /// Decodes one message, normally `XLogData.data`.
    ///
    /// Byte slices in the result share storage with `bytes`. The streaming
    /// messages Stream Start, Stream Stop and Stream Commit (`S`, `E`, `c`,
    /// protocol version 2+) are rejected as `unknownMessageType`: they are only
    /// sent when the client asks for `streaming`, which a version-1 client
    /// cannot. Stream Abort (`A`) is decoded: a server has been seen sending it
    /// unasked (see `StreamAbortMessage`), and whether that may pass is for the
    /// caller to judge, knowing whether a transaction is open.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(PGOutputError) -> PGOutputMessage {
        var reader = ByteReader(bytes)
        let message: PGOutputMessage
        switch try reader.readTag() {
        case BeginMessage.tag: message = .begin(try .decode(from: &reader))
        case CommitMessage.tag: message = .commit(try .decode(from: &reader))
        case OriginMessage.tag: message = .origin(try .decode(from: &reader))
        case RelationMessage.tag: message = .relation(try .decode(from: &reader))
        case TypeMessage.tag: message = .type(try .decode(from: &reader))
        case InsertMessage.tag: message = .insert(try .decode(from: &reader))
        case UpdateMessage.tag: message = .update(try .decode(from: &reader))
        case DeleteMessage.tag: message = .delete(try .decode(from: &reader))
        case TruncateMessage.tag: message = .truncate(try .decode(from: &reader))
        case LogicalDecodingMessage.tag: message = .message(try .decode(from: &reader))
        case StreamAbortMessage.tag: message = .streamAbort(try .decode(from: &reader))
        case let tag:
            throw reader.error(
                .unknownMessageType, at: 0,
                "\(ByteReader.describe(tag)) is not a pgoutput protocol version 1 message"
            )
        }
        try reader.finish()
        return message
    }
}
