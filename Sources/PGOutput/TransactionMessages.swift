/// ```
/// Begin
///     Byte1('B')  Identifies the message as a begin message.
///     Int64 (XLogRecPtr)   The final LSN of the transaction.
///     Int64 (TimestampTz)  Commit timestamp of the transaction. The value is in
///                          number of microseconds since PostgreSQL epoch (2000-01-01).
///     Int32 (TransactionId) Xid of the transaction.
/// ```
public struct BeginMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "B")

    /// The LSN of the commit record; equals the matching Commit's `commitLSN`.
    public var finalLSN: LSN
    public var commitTime: Int64
    public var xid: UInt32

    public init(finalLSN: LSN, commitTime: Int64, xid: UInt32) {
        self.finalLSN = finalLSN
        self.commitTime = commitTime
        self.xid = xid
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> BeginMessage {
        BeginMessage(
            finalLSN: try reader.readLSN("final LSN"),
            commitTime: try reader.readInt64("commit timestamp"),
            xid: try reader.readUInt32("xid")
        )
    }
}

/// ```
/// Commit
///     Byte1('C')  Identifies the message as a commit message.
///     Int8(0)     Flags; currently unused.
///     Int64 (XLogRecPtr)   The LSN of the commit.
///     Int64 (XLogRecPtr)   The end LSN of the transaction.
///     Int64 (TimestampTz)  Commit timestamp of the transaction. The value is in
///                          number of microseconds since PostgreSQL epoch (2000-01-01).
/// ```
public struct CommitMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "C")

    /// Kept raw rather than rejected if non-zero: a future server setting a
    /// flag should not stop replication.
    public var flags: UInt8
    public var commitLSN: LSN
    /// The position to confirm as flushed once this transaction is durable downstream.
    public var endLSN: LSN
    public var commitTime: Int64

    public init(flags: UInt8 = 0, commitLSN: LSN, endLSN: LSN, commitTime: Int64) {
        self.flags = flags
        self.commitLSN = commitLSN
        self.endLSN = endLSN
        self.commitTime = commitTime
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> CommitMessage {
        CommitMessage(
            flags: try reader.readUInt8("flags"),
            commitLSN: try reader.readLSN("commit LSN"),
            endLSN: try reader.readLSN("end LSN"),
            commitTime: try reader.readInt64("commit timestamp")
        )
    }
}

/// ```
/// Origin
///     Byte1('O')  Identifies the message as an origin message.
///     Int64 (XLogRecPtr)  The LSN of the commit on the origin server.
///     String      Name of the origin.
/// ```
/// Sent after Begin for transactions that were themselves replicated in.
public struct OriginMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "O")

    public var commitLSN: LSN
    public var name: String

    public init(commitLSN: LSN, name: String) {
        self.commitLSN = commitLSN
        self.name = name
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> OriginMessage {
        OriginMessage(
            commitLSN: try reader.readLSN("origin commit LSN"),
            name: try reader.readCString("origin name")
        )
    }
}

/// A `pg_logical_emit_message` record; only sent when the client passes `messages 'true'`.
///
/// ```
/// Message
///     Byte1('M')  Identifies the message as a logical decoding message.
///     Int32 (TransactionId)  Xid of the transaction (only present for streamed
///                 transactions). This field is available since protocol version 2.
///     Int8        Flags; Either 0 for no flags or 1 if the logical decoding
///                 message is transactional.
///     Int64 (XLogRecPtr)  The LSN of the logical decoding message.
///     String      The prefix of the logical decoding message.
///     Int32       Length of the content.
///     Byten       The content of the logical decoding message.
/// ```
public struct LogicalDecodingMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "M")

    public var flags: UInt8
    public var lsn: LSN
    public var prefix: String
    /// Arbitrary bytes (the function takes `bytea` or `text`); shares storage with the input.
    public var content: ArraySlice<UInt8>

    /// Transactional messages arrive between Begin and Commit and only if the
    /// transaction commits; the others arrive on their own, immediately.
    public var isTransactional: Bool { flags & 1 != 0 }

    public init(flags: UInt8, lsn: LSN, prefix: String, content: ArraySlice<UInt8>) {
        self.flags = flags
        self.lsn = lsn
        self.prefix = prefix
        self.content = content
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> LogicalDecodingMessage {
        let flags = try reader.readUInt8("flags")
        let lsn = try reader.readLSN("message LSN")
        let prefix = try reader.readCString("prefix")
        let length = try reader.readInt32("content length")
        return LogicalDecodingMessage(
            flags: flags, lsn: lsn, prefix: prefix,
            content: try reader.readBytes(count: Int(length), "content")
        )
    }
}

/// ```
/// Stream Abort
///     Byte1('A')  Identifies the message as a stream abort message.
///     Int32 (TransactionId)  Xid of the transaction.
///     Int32 (TransactionId)  Xid of the subtransaction (will be same as xid of the
///                 transaction for top-level transactions).
///     Int64 (XLogRecPtr)   The LSN of the abort operation, present only when streaming
///                 is set to parallel. This field is available since protocol version 4.
///     Int64 (TimestampTz)  Abort timestamp of the transaction, under the same condition.
/// ```
/// A streaming message (protocol version 2+), which a server sends only to a client that asked for
/// `streaming`; Swallow never does. Decoded all the same because PostgreSQL 18 has been seen sending it
/// on protocol 1, without streaming, for a subtransaction it wrongly marked as streamed, when that
/// subtransaction rolled back. What to make of it is the caller's decision (StreamTranslator). Only the protocol-1 form is accepted: the two trailing
/// fields need `streaming parallel` (protocol 4), so here they would be bytes of something else.
public struct StreamAbortMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "A")

    public var xid: UInt32
    /// The aborted subtransaction, or `xid` again when the whole transaction aborted.
    public var subtransactionXid: UInt32

    public init(xid: UInt32, subtransactionXid: UInt32) {
        self.xid = xid
        self.subtransactionXid = subtransactionXid
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> StreamAbortMessage {
        StreamAbortMessage(
            xid: try reader.readUInt32("xid"),
            subtransactionXid: try reader.readUInt32("subtransaction xid")
        )
    }
}
