import PGReplication

/// `swallow check`'s lines for the `publication` section's partition root, row filters and column lists.
extension PostgresPreflight {
    /// Row filters and column lists: checked by the server in a `CREATE PUBLICATION` it rolls back
    /// (`checkPublicationDefinition`, changing nothing), and, for an existing publication, compared with
    /// what it publishes (Swallow never alters it). Partitioned tables: whether their changes arrive
    /// under the names `tables` lists (`partitionCaptureProblems`).
    mutating func checkPublicationShape(_ sql: PostgresConnection, publicationExists: Bool) throws(ReplicationError) {
        let name = settings.publicationName
        let definition = settings.publicationDefinition
        if definition.filters || (publicationExists && !settings.tables.isEmpty) {
            do {
                let configured = try sql.checkPublicationDefinition(tables: settings.tables, definition: definition)
                if definition.filters {
                    add("publication filters", .pass, "the row filters and column lists are valid for \(settings.tables.filter { definition.rowFilters[$0] != nil || definition.columnLists[$0] != nil }.map(\.description).joined(separator: ", "))")
                }
                if publicationExists {
                    let differences = try sql.publicationDifferences(named: name, tables: settings.tables, definition: definition,
                                                                     configured: configured)
                    for line in differences {
                        add("publication filters", .warn, "\(line); Swallow does not alter an existing publication, and sends what it publishes",
                            fix: "DROP PUBLICATION \(Preflight.sqlName(name)) for Swallow to create it as configured (before the slot is created, or with a new snapshot), or change the configuration to match")
                    }
                }
            } catch where error.sqlState == "42501" || error.sqlState == "25006" {
                add("publication filters", .warn, "cannot check the row filters and column lists: \(error.message)",
                    fix: "run swallow check as a role that may create the publication (the tables' owner)")
            } catch {
                add("publication filters", .fail, error.message, fix: error.hint)
            }
        }
        let viaRoot: Bool
        if publicationExists {
            viaRoot = try sql.execute("SELECT pubviaroot FROM pg_catalog.pg_publication WHERE pubname = \(try sql.literal(name))")[0, "pubviaroot"] == "t"
        } else {
            viaRoot = definition.publishViaPartitionRoot
        }
        for problem in try sql.partitionCaptureProblems(tables: settings.tables, publication: name, viaRoot: viaRoot) {
            add("partitioned tables", .fail, problem.message, fix: problem.hint)
        }
    }
}
