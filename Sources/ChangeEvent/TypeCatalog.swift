// What the encoder knows about types that are not built into its OID table: arrays, enums, domains,
// ranges and extension types (hstore, citext, ltree). pgoutput only sends a type's OID (plus a Type
// message with its name for non-built-in types), so the caller looks these up in pg_type, outside the
// decoder and the encoder, and hands them over as a `TypeCatalog`.

/// One row of `pg_type`, reduced to what value conversion needs.
public struct PostgresTypeInfo: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// typtype 'b': a base type; extension types (hstore, citext, ltree) are recognised by name.
        case base
        /// typtype 'e', with its labels in sort order (Debezium's `io.debezium.data.Enum` "allowed").
        case enumeration(labels: [String])
        /// typtype 'd': converted as its base type, with the domain's own typmod (`typtypmod`).
        case domain(baseOID: UInt32, baseTypeModifier: Int32)
        /// typcategory 'A' (typelem != 0): converted element by element.
        case array(elementOID: UInt32)
        /// typtype 'r': passed as its text, like Debezium.
        case range(subtypeOID: UInt32)
        /// typtype 'm', 'c', 'p' and anything else: no Debezium mapping.
        case other
    }

    public var oid: UInt32
    /// `pg_namespace.nspname` of the type.
    public var schema: String
    /// `pg_type.typname`.
    public var name: String
    public var kind: Kind

    public init(oid: UInt32, schema: String, name: String, kind: Kind) {
        self.oid = oid
        self.schema = schema
        self.name = name
        self.kind = kind
    }

    /// The OIDs this type refers to (array element, domain base or range subtype), which need entries too.
    public var referencedOIDs: [UInt32] {
        switch kind {
        case .domain(let base, _): return [base]
        case .array(let element): return [element]
        case .range(let subtype): return [subtype]
        case .base, .enumeration, .other: return []
        }
    }

    /// How the type is named in messages: built-in (pg_catalog) types by their bare name.
    var displayName: String {
        schema == "pg_catalog" || schema.isEmpty ? name : "\(schema).\(name)"
    }
}

/// Type descriptions by OID, owned and filled by the caller.
public struct TypeCatalog: Sendable, Equatable {
    public private(set) var types: [UInt32: PostgresTypeInfo] = [:]

    public init(_ types: [PostgresTypeInfo] = []) {
        for type in types { self.types[type.oid] = type }
    }

    public subscript(oid: UInt32) -> PostgresTypeInfo? { types[oid] }

    public mutating func insert(_ type: PostgresTypeInfo) { types[type.oid] = type }

    /// Whether value conversion of `oid` needs a catalog entry: true for every OID outside the
    /// encoder's built-in table (arrays, enums, domains, ranges, extension types, unknown types).
    public static func needsLookup(_ oid: UInt32) -> Bool {
        !PGType.builtinScalars.contains(oid)
    }
}
