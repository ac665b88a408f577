import PGOutput
import PGReplication

/// What the publication publishes of a table, applied to what snapshots read: the Relation message
/// built from the catalog keeps only the published columns (pgoutput's Relation message has no others),
/// and the row filter joins the chunk's `WHERE`, so that a snapshot sends no row or column the stream
/// would not. From `pg_publication_tables` (`PostgresConnection.publishedTables`), read in the snapshot's
/// own transaction, so it is the publication as of the rows read.
extension PublishedTable {
    /// `relation` with only the published columns (all of them without a column list).
    func restrict(_ relation: RelationMessage) -> RelationMessage {
        guard let columns else { return relation }
        var restricted = relation
        restricted.columns = relation.columns.filter { columns.contains($0.name) }
        return restricted
    }

    /// ` AND (<row filter>)`, or nothing.
    var andRowFilter: String { rowFilter.map { " AND (\($0))" } ?? "" }
}
