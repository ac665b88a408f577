/// A table named by schema and name, unquoted.
public struct QualifiedTableName: Sendable, Hashable, CustomStringConvertible {
    public var schema: String
    public var table: String
    public init(schema: String, table: String) {
        self.schema = schema
        self.table = table
    }
    public var description: String { "\(schema).\(table)" }
}
