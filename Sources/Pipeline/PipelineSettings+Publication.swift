import PGOutput
import PGReplication
import SwallowConfig

extension PipelineSettings {
    /// The `publication` section's partition root, row filters and column lists, for PostgreSQL.
    var publicationDefinition: PublicationDefinition {
        func table(_ name: SwallowConfiguration.TableName) -> QualifiedTableName {
            QualifiedTableName(schema: name.schema, table: name.table)
        }
        return PublicationDefinition(
            publishViaPartitionRoot: publication.publishViaPartitionRoot,
            rowFilters: Dictionary(uniqueKeysWithValues: publication.rowFilters.map { (table($0.key), $0.value) }),
            columnLists: Dictionary(uniqueKeysWithValues: publication.columnLists.map { (table($0.key), $0.value) }))
    }
}
