/// A table's `REPLICA IDENTITY` (`pg_class.relreplident`), which decides what
/// Update and Delete messages carry as the old tuple.
public enum ReplicaIdentity: UInt8, Sendable {
    /// The primary key, if any.
    case `default` = 0x64 // 'd'
    /// No old-row information at all.
    case nothing = 0x6E // 'n'
    /// Every column of the old row.
    case full = 0x66 // 'f'
    /// The columns of a chosen unique index.
    case index = 0x69 // 'i'
}

/// Describes a table; later change messages refer to it only by `relationID`.
///
/// ```
/// Relation
///     Byte1('R')  Identifies the message as a relation message.
///     Int32 (TransactionId)  Xid of the transaction (only present for streamed
///                 transactions). This field is available since protocol version 2.
///     Int32 (Oid) OID of the relation.
///     String      Namespace (empty string for pg_catalog).
///     String      Relation name.
///     Int8        Replica identity setting for the relation (same as
///                 relreplident in pg_class).
///     Int16       Number of columns.
/// Next, the following message part appears for each column included in the
/// publication (except generated columns):
///     Int8        Flags for the column. Currently can be either 0 for no flags
///                 or 1 which marks the column as part of the key.
///     String      Name of the column.
///     Int32 (Oid) OID of the column's data type.
///     Int32       Type modifier of the column (atttypmod).
/// ```
public struct RelationMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "R")

    public struct Column: Sendable, Equatable {
        public var flags: UInt8
        public var name: String
        public var typeOID: UInt32
        /// `atttypmod`, e.g. `varchar(n)` length + 4; -1 when the type has none.
        public var typeModifier: Int32

        /// Part of the replica identity, i.e. present in a `.key` old tuple.
        public var isKey: Bool { flags & 1 != 0 }

        public init(flags: UInt8, name: String, typeOID: UInt32, typeModifier: Int32) {
            self.flags = flags
            self.name = name
            self.typeOID = typeOID
            self.typeModifier = typeModifier
        }

        // Smallest encoding: flags, empty name + NUL, type OID, modifier.
        static let minimumSize = 1 + 1 + 4 + 4
    }

    public var relationID: UInt32
    public var namespace: String
    public var name: String
    public var replicaIdentity: ReplicaIdentity
    /// In table order, as they appear in `TupleData.columns`; only the published ones.
    public var columns: [Column]

    public init(
        relationID: UInt32, namespace: String, name: String,
        replicaIdentity: ReplicaIdentity, columns: [Column]
    ) {
        self.relationID = relationID
        self.namespace = namespace
        self.name = name
        self.replicaIdentity = replicaIdentity
        self.columns = columns
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> RelationMessage {
        let relationID = try reader.readUInt32("relation ID")
        let namespace = try reader.readCString("namespace")
        let name = try reader.readCString("relation name")
        let replicaIdentity = try reader.readEnum(ReplicaIdentity.self, "replica identity")
        let count = Int(try reader.readInt16("column count"))
        try reader.require(count: count, ofAtLeast: Column.minimumSize, "columns")
        var columns: [Column] = []
        columns.reserveCapacity(count)
        for _ in 0..<count {
            columns.append(Column(
                flags: try reader.readUInt8("column flags"),
                name: try reader.readCString("column name"),
                typeOID: try reader.readUInt32("column type OID"),
                typeModifier: try reader.readInt32("column type modifier")
            ))
        }
        return RelationMessage(
            relationID: relationID, namespace: namespace, name: name,
            replicaIdentity: replicaIdentity, columns: columns
        )
    }
}

/// Names a non-built-in column type (enums, domains, composites...) so its
/// OID can be resolved without a catalog query.
///
/// ```
/// Type
///     Byte1('Y')  Identifies the message as a type message.
///     Int32 (TransactionId)  Xid of the transaction (only present for streamed
///                 transactions). This field is available since protocol version 2.
///     Int32 (Oid) OID of the data type.
///     String      Namespace (empty string for pg_catalog).
///     String      Name of the data type.
/// ```
public struct TypeMessage: Sendable, Equatable {
    static let tag = UInt8(ascii: "Y")

    public var typeOID: UInt32
    public var namespace: String
    public var name: String

    public init(typeOID: UInt32, namespace: String, name: String) {
        self.typeOID = typeOID
        self.namespace = namespace
        self.name = name
    }

    static func decode(from reader: inout ByteReader) throws(PGOutputError) -> TypeMessage {
        TypeMessage(
            typeOID: try reader.readUInt32("type OID"),
            namespace: try reader.readCString("namespace"),
            name: try reader.readCString("type name")
        )
    }
}
