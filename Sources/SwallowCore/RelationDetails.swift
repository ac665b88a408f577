import ChangeEvent

/// What the catalog says about a table beyond its Relation message: key candidates (`pg_index`) and
/// NOT NULL columns (`pg_attribute`, for the optionality of Connect schema fields). Read when its
/// Relation message arrives.
public struct RelationDetails: Sendable, Equatable {
    /// Primary-key columns in key order; empty without a primary key.
    public var primaryKey: [String]
    /// Columns of the REPLICA IDENTITY USING INDEX index, in index order; empty when there is none.
    public var replicaIdentityIndex: [String]
    /// The narrowest unique, valid, non-partial index on NOT NULL columns (ties broken by index name),
    /// used as the key of REPLICA IDENTITY FULL tables without a primary key.
    public var uniqueIndex: [String]

    /// Columns declared NOT NULL.
    public var notNullColumns: Set<String>

    public init(primaryKey: [String] = [], replicaIdentityIndex: [String] = [], uniqueIndex: [String] = [],
                notNullColumns: Set<String> = []) {
        self.primaryKey = primaryKey
        self.replicaIdentityIndex = replicaIdentityIndex
        self.uniqueIndex = uniqueIndex
        self.notNullColumns = notNullColumns
    }
}

/// Everything the catalog adds to a Relation message before the translator can shape events from it:
/// the table's key candidates and NOT NULL columns, and the types its columns use that the built-in
/// table does not cover (`StreamTranslator.typeOIDsToDescribe`).
public struct RelationCatalog: Sendable, Equatable {
    public var details: RelationDetails
    public var types: [PostgresTypeInfo]

    public init(details: RelationDetails = RelationDetails(), types: [PostgresTypeInfo] = []) {
        self.details = details
        self.types = types
    }
}
