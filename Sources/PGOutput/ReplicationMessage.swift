/// Server → client CopyData payloads on a replication connection
/// (protocol-replication.html, "START_REPLICATION").
public enum ReplicationMessage: Sendable, Equatable {
    case xLogData(XLogData)
    case primaryKeepalive(PrimaryKeepalive)

    /// Decodes one CopyData payload (the bytes after the `'d'` and length).
    ///
    /// `XLogData.data` is a slice of `bytes`; pass it to `PGOutputMessage.decode`.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(PGOutputError) -> ReplicationMessage {
        var reader = ByteReader(bytes)
        let message: ReplicationMessage
        switch try reader.readTag() {
        case XLogData.tag: message = .xLogData(try XLogData.decode(from: &reader))
        case PrimaryKeepalive.tag: message = .primaryKeepalive(try PrimaryKeepalive.decode(from: &reader))
        case let tag:
            throw reader.error(
                .unknownMessageType, at: 0,
                "CopyData payload on a replication connection starts with \(ByteReader.describe(tag))"
            )
        }
        try reader.finish()
        return message
    }
}

/// ```
/// XLogData (B)
///     Byte1('w')  Identifies the message as WAL data.
///     Int64       The starting point of the WAL data in this message.
///     Int64       The current end of WAL on the server.
///     Int64       The server's system clock at the time of transmission, as
///                 microseconds since midnight on 2000-01-01.
///     Byten       A section of the WAL data stream.
/// ```
/// For logical replication the WAL section is exactly one pgoutput message.
public struct XLogData: Sendable, Equatable {
    static let tag = UInt8(ascii: "w")

    public var walStart: LSN
    public var walEnd: LSN
    /// Microseconds since 2000-01-01 UTC; see `PostgresTime`.
    public var serverTime: Int64
    /// The pgoutput message; shares storage (and indices) with the decoded buffer.
    public var data: ArraySlice<UInt8>

    public init(walStart: LSN, walEnd: LSN, serverTime: Int64, data: ArraySlice<UInt8>) {
        self.walStart = walStart
        self.walEnd = walEnd
        self.serverTime = serverTime
        self.data = data
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> XLogData {
        XLogData(
            walStart: try reader.readLSN("WAL start"),
            walEnd: try reader.readLSN("WAL end"),
            serverTime: try reader.readInt64("server time"),
            data: reader.readRemainingBytes()
        )
    }
}

/// ```
/// Primary keepalive message (B)
///     Byte1('k')  Identifies the message as a sender keepalive.
///     Int64       The current end of WAL on the server.
///     Int64       The server's system clock at the time of transmission, as
///                 microseconds since midnight on 2000-01-01.
///     Byte1       1 means that the client should reply to this message as soon
///                 as possible, to avoid a timeout disconnect. 0 otherwise.
/// ```
public struct PrimaryKeepalive: Sendable, Equatable {
    static let tag = UInt8(ascii: "k")

    public var walEnd: LSN
    public var serverTime: Int64
    public var replyRequested: Bool

    public init(walEnd: LSN, serverTime: Int64, replyRequested: Bool) {
        self.walEnd = walEnd
        self.serverTime = serverTime
        self.replyRequested = replyRequested
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> PrimaryKeepalive {
        PrimaryKeepalive(
            walEnd: try reader.readLSN("WAL end"),
            serverTime: try reader.readInt64("server time"),
            // The server only sends 0 or 1; treating any non-zero as a request
            // errs on the side of replying rather than being disconnected.
            replyRequested: try reader.readUInt8("reply-requested flag") != 0
        )
    }
}

/// The client → server feedback message, sent as a CopyData payload.
///
/// ```
/// Standby status update (F)
///     Byte1('r')  Identifies the message as a receiver status update.
///     Int64       The location of the last WAL byte + 1 received and written
///                 to disk in the standby.
///     Int64       The location of the last WAL byte + 1 flushed to disk in the standby.
///     Int64       The location of the last WAL byte + 1 applied in the standby.
///     Int64       The client's system clock at the time of transmission, as
///                 microseconds since midnight on 2000-01-01.
///     Byte1       If 1, the client requests the server to reply to this message
///                 immediately. This can be used to ping the server, to test if
///                 the connection is still healthy.
/// ```
public struct StandbyStatusUpdate: Sendable, Equatable {
    public var written: LSN
    /// What the server may discard: the slot's `confirmed_flush_lsn` advances to this.
    public var flushed: LSN
    public var applied: LSN
    public var clientTime: Int64
    public var replyRequested: Bool

    public init(written: LSN, flushed: LSN, applied: LSN, clientTime: Int64, replyRequested: Bool = false) {
        self.written = written
        self.flushed = flushed
        self.applied = applied
        self.clientTime = clientTime
        self.replyRequested = replyRequested
    }

    /// The 34-byte CopyData payload (without the CopyData `'d'` header).
    public func encode() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(34)
        bytes.append(UInt8(ascii: "r"))
        for field in [written.value, flushed.value, applied.value, UInt64(bitPattern: clientTime)] {
            withUnsafeBytes(of: field.bigEndian) { bytes.append(contentsOf: $0) }
        }
        bytes.append(replyRequested ? 1 : 0)
        return bytes
    }
}

/// Conversions for the protocol's timestamps: signed microseconds since
/// 2000-01-01 00:00:00 UTC (the Postgres epoch).
///
/// Conversions saturate instead of overflowing, so timestamps taken from the
/// wire can never trap; `Int64.min`/`.max` are Postgres' `-infinity`/`infinity`
/// and stay that way.
public enum PostgresTime {
    /// Microseconds from 1970-01-01 to 2000-01-01.
    public static let unixEpochOffsetMicros: Int64 = 946_684_800_000_000

    public static func unixMicros(fromPostgresMicros micros: Int64) -> Int64 {
        saturatingAdd(micros, unixEpochOffsetMicros)
    }

    /// Rounds toward negative infinity, so pre-1970 instants stay ordered.
    public static func unixMillis(fromPostgresMicros micros: Int64) -> Int64 {
        guard !isInfinite(micros) else { return micros }
        return floorDivide(unixMicros(fromPostgresMicros: micros), by: 1000)
    }

    public static func postgresMicros(fromUnixMicros micros: Int64) -> Int64 {
        saturatingAdd(micros, -unixEpochOffsetMicros)
    }

    public static func postgresMicros(fromUnixMillis millis: Int64) -> Int64 {
        guard !isInfinite(millis) else { return millis }
        let (micros, overflow) = millis.multipliedReportingOverflow(by: 1000)
        if overflow { return millis < 0 ? .min : .max }
        return postgresMicros(fromUnixMicros: micros)
    }

    private static func isInfinite(_ value: Int64) -> Bool {
        value == .min || value == .max
    }

    private static func saturatingAdd(_ value: Int64, _ offset: Int64) -> Int64 {
        guard !isInfinite(value) else { return value }
        let (sum, overflow) = value.addingReportingOverflow(offset)
        if overflow { return offset < 0 ? .min : .max }
        return sum
    }

    private static func floorDivide(_ value: Int64, by divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }
}
