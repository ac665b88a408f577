/// Which old-row image an Update or Delete carries; see `ReplicaIdentity`.
public enum OldTupleKind: UInt8, Sendable {
    /// Only the replica identity (key) columns; the others are `.null`.
    case key = 0x4B // 'K'
    /// The whole old row (`REPLICA IDENTITY FULL`).
    case old = 0x4F // 'O'
}

/// Marks the tuple that follows as the new row.
private let newTupleMarker = UInt8(ascii: "N")

/// ```
/// Insert
///     Byte1('I')  Identifies the message as an insert message.
///     Int32 (TransactionId)  Xid of the transaction (only present for streamed
///                 transactions). This field is available since protocol version 2.
///     Int32 (Oid) OID of the relation corresponding to the ID in the relation message.
///     Byte1('N')  Identifies the following TupleData message as a new tuple.
///     TupleData   TupleData message part representing the contents of new tuple.
/// ```
public struct InsertMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "I")

    public var relationID: UInt32
    public var newTuple: TupleData

    public init(relationID: UInt32, newTuple: TupleData) {
        self.relationID = relationID
        self.newTuple = newTuple
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> InsertMessage {
        let relationID = try reader.readUInt32("relation ID")
        let markerOffset = reader.offset
        let marker = try reader.readUInt8("new tuple marker")
        guard marker == newTupleMarker else {
            throw reader.error(
                .invalidValue, at: markerOffset,
                "expected new tuple marker 'N', got \(ByteReader.describe(marker))"
            )
        }
        return InsertMessage(relationID: relationID, newTuple: try .decode(from: &reader))
    }
}

/// ```
/// Update
///     Byte1('U')  Identifies the message as an update message.
///     Int32 (TransactionId)  Xid of the transaction (only present for streamed
///                 transactions). This field is available since protocol version 2.
///     Int32 (Oid) OID of the relation corresponding to the ID in the relation message.
///     Byte1('K')  Identifies the following TupleData submessage as a key. This
///                 field is optional and is only present if the update changed
///                 data in any of the column(s) that are part of the REPLICA
///                 IDENTITY index.
///     Byte1('O')  Identifies the following TupleData submessage as an old tuple.
///                 This field is optional and is only present if table in which
///                 the update happened has REPLICA IDENTITY set to FULL.
///     TupleData   TupleData message part representing the contents of the old
///                 tuple or primary key. Only present if the previous 'O' or 'K'
///                 part is present.
///     Byte1('N')  Identifies the following TupleData message as a new tuple.
///     TupleData   TupleData message part representing the contents of a new tuple.
/// ```
/// The Update message may contain either a 'K' message part or an 'O' message
/// part or neither of them, but never both of them.
public struct UpdateMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "U")

    public var relationID: UInt32
    /// `nil` exactly when `oldTuple` is `nil`: the key did not change and the
    /// identity is not FULL, so the new tuple's key columns identify the row.
    public var oldTupleKind: OldTupleKind?
    public var oldTuple: TupleData?
    public var newTuple: TupleData

    public init(relationID: UInt32, oldTupleKind: OldTupleKind? = nil, oldTuple: TupleData? = nil, newTuple: TupleData) {
        self.relationID = relationID
        self.oldTupleKind = oldTupleKind
        self.oldTuple = oldTuple
        self.newTuple = newTuple
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> UpdateMessage {
        let relationID = try reader.readUInt32("relation ID")
        var markerOffset = reader.offset
        var marker = try reader.readUInt8("tuple marker")
        var oldTupleKind: OldTupleKind?
        var oldTuple: TupleData?
        if let kind = OldTupleKind(rawValue: marker) {
            oldTupleKind = kind
            oldTuple = try .decode(from: &reader)
            markerOffset = reader.offset
            marker = try reader.readUInt8("new tuple marker")
        }
        guard marker == newTupleMarker else {
            let expected = oldTuple == nil ? "'K', 'O' or 'N'" : "'N' after the old tuple"
            throw reader.error(
                .invalidValue, at: markerOffset,
                "expected tuple marker \(expected), got \(ByteReader.describe(marker))"
            )
        }
        return UpdateMessage(
            relationID: relationID, oldTupleKind: oldTupleKind, oldTuple: oldTuple,
            newTuple: try .decode(from: &reader)
        )
    }
}

/// ```
/// Delete
///     Byte1('D')  Identifies the message as a delete message.
///     Int32 (TransactionId)  Xid of the transaction (only present for streamed
///                 transactions). This field is available since protocol version 2.
///     Int32 (Oid) OID of the relation corresponding to the ID in the relation message.
///     Byte1('K')  Identifies the following TupleData submessage as a key. This
///                 field is present if the table in which the delete has happened
///                 uses an index as REPLICA IDENTITY.
///     Byte1('O')  Identifies the following TupleData message as an old tuple.
///                 This field is present if the table in which the delete happened
///                 has REPLICA IDENTITY set to FULL.
///     TupleData   TupleData message part representing the contents of the old
///                 tuple or primary key, depending on the previous field.
/// ```
/// The Delete message may contain either a 'K' message part or an 'O' message
/// part, but never both of them. (Tables with REPLICA IDENTITY NOTHING do not
/// publish deletes at all.)
public struct DeleteMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "D")

    public var relationID: UInt32
    public var oldTupleKind: OldTupleKind
    public var oldTuple: TupleData

    public init(relationID: UInt32, oldTupleKind: OldTupleKind, oldTuple: TupleData) {
        self.relationID = relationID
        self.oldTupleKind = oldTupleKind
        self.oldTuple = oldTuple
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> DeleteMessage {
        DeleteMessage(
            relationID: try reader.readUInt32("relation ID"),
            oldTupleKind: try reader.readEnum(OldTupleKind.self, "old tuple marker"),
            oldTuple: try .decode(from: &reader)
        )
    }
}

/// ```
/// Truncate
///     Byte1('T')  Identifies the message as a truncate message.
///     Int32 (TransactionId)  Xid of the transaction (only present for streamed
///                 transactions). This field is available since protocol version 2.
///     Int32       Number of relations
///     Int8        Option bits for TRUNCATE: 1 for CASCADE, 2 for RESTART IDENTITY
///     Int32 (Oid) OID of the relation corresponding to the ID in the relation
///                 message. This field is repeated for each relation.
/// ```
/// One statement truncating several published tables yields one message.
public struct TruncateMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "T")

    public var options: UInt8
    public var relationIDs: [UInt32]

    public var cascade: Bool { options & 1 != 0 }
    public var restartIdentity: Bool { options & 2 != 0 }

    public init(options: UInt8, relationIDs: [UInt32]) {
        self.options = options
        self.relationIDs = relationIDs
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> TruncateMessage {
        let count = Int(try reader.readInt32("relation count"))
        let options = try reader.readUInt8("options")
        try reader.require(count: count, ofAtLeast: 4, "relation IDs")
        var relationIDs: [UInt32] = []
        relationIDs.reserveCapacity(count)
        for _ in 0..<count {
            relationIDs.append(try reader.readUInt32("relation ID"))
        }
        return TruncateMessage(options: options, relationIDs: relationIDs)
    }
}
