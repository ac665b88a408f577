import PGOutput

/// What the publication Swallow creates publishes beyond its tables: the `publication` section's
/// `publish_via_partition_root`, `row_filters` and `columns`.
///
///     CREATE PUBLICATION swallow
///       FOR TABLE public.orders WHERE (status <> 'draft'), public.customers (id, email)
///       WITH (publish_via_partition_root = true)
///
/// Row filters and column lists are PostgreSQL 15's, and belong to `FOR TABLE` publications only.
public struct PublicationDefinition: Sendable, Equatable {
    public var publishViaPartitionRoot: Bool
    /// Per table, a boolean SQL expression over its columns (the text inside `WHERE (...)`).
    public var rowFilters: [QualifiedTableName: String]
    /// Per table, the columns published, in the order given.
    public var columnLists: [QualifiedTableName: [String]]

    public init(publishViaPartitionRoot: Bool = false, rowFilters: [QualifiedTableName: String] = [:],
                columnLists: [QualifiedTableName: [String]] = [:]) {
        self.publishViaPartitionRoot = publishViaPartitionRoot
        self.rowFilters = rowFilters
        self.columnLists = columnLists
    }

    /// Whether it filters rows or columns of any table (PostgreSQL 15+).
    public var filters: Bool { !rowFilters.isEmpty || !columnLists.isEmpty }
}

/// What a publication publishes of one table, as `pg_publication_tables` says (PostgreSQL 15+): the
/// columns (nil: all of them) and the row filter as the server deparses it (nil: every row). Snapshots
/// read exactly this, so that they send no row or column the stream would not.
public struct PublishedTable: Sendable, Equatable {
    public var columns: [String]?
    public var rowFilter: String?

    public init(columns: [String]? = nil, rowFilter: String? = nil) {
        self.columns = columns
        self.rowFilter = rowFilter
    }
}

extension PostgresConnection {
    /// `FOR TABLE a (c1, c2) WHERE (...), b WITH (publish_via_partition_root = true)`, or
    /// `FOR ALL TABLES` when `tables` is empty.
    func publicationTarget(tables: [QualifiedTableName], definition: PublicationDefinition) throws(ReplicationError) -> String {
        var target = "FOR ALL TABLES"
        if !tables.isEmpty {
            var items: [String] = []
            for table in tables {
                var item = try qualifiedName(table)
                if let columns = definition.columnLists[table] { item += " (\(try identifierList(columns)))" }
                if let filter = definition.rowFilters[table] { item += " WHERE (\(filter))" }
                items.append(item)
            }
            target = "FOR TABLE " + items.joined(separator: ", ")
        }
        if definition.publishViaPartitionRoot { target += " WITH (publish_via_partition_root = true)" }
        return target
    }

    /// Checks a definition against the tables before a publication is made of it, so that a mistake
    /// stops Swallow with the configuration key to fix, not later: PostgreSQL accepts a column list without
    /// the replica identity's columns and a row filter over other columns, and then refuses every UPDATE
    /// and DELETE of the table (the application's writes). Runs the `CREATE PUBLICATION` in a transaction
    /// it rolls back, so the server itself checks the row filters' syntax and columns.
    ///
    /// Returns what the publication would publish of each table (the server's deparsed row filters), for
    /// comparing with an existing publication.
    public func checkPublicationDefinition(tables: [QualifiedTableName],
                                           definition: PublicationDefinition) throws(ReplicationError) -> [QualifiedTableName: PublishedTable] {
        guard definition.filters else { return [:] }
        let version = try serverVersionNumber()
        guard version >= 150000 else {
            throw ReplicationError(code: .serverMisconfigured,
                                   message: "publication.row_filters and publication.columns need PostgreSQL 15 or later; this server is version \(version / 10000)",
                                   hint: "remove them, or upgrade the server")
        }
        for table in tables where definition.columnLists[table] != nil || definition.rowFilters[table] != nil {
            guard try tableExists(table) else {
                throw ReplicationError(code: .tableMissing,
                                       message: "publication.\(definition.rowFilters[table] != nil ? "row_filters" : "columns").\(table) names a table that does not exist",
                                       hint: "create the table, or remove it from `tables` and the publication section")
            }
            let (columns, identity) = try columnsAndReplicaIdentity(of: table)
            if let list = definition.columnLists[table] {
                for column in list where !columns.contains(column) {
                    throw ReplicationError(code: .tableMissing,
                                           message: "publication.columns.\(table) names column \"\(column)\", which \(table) does not have",
                                           hint: "its columns are \(columns.joined(separator: ", "))")
                }
                let missing = identity.columns.filter { !list.contains($0) }
                if !missing.isEmpty {
                    throw ReplicationError(code: .serverMisconfigured,
                                           message: "publication.columns.\(table) leaves out \(missing.joined(separator: ", ")), \(identity.description); PostgreSQL would then refuse every UPDATE and DELETE of the table",
                                           hint: "add \(missing.joined(separator: ", ")) to the column list")
                }
            }
        }
        // The server checks the row filters (syntax, columns, functions it allows) as it creates the
        // publication; its deparsed filters and the columns they use come back before the rollback.
        let probe = "swallow_probe_\(UInt32.random(in: 0...UInt32.max))"
        try execute("BEGIN")
        do throws(ReplicationError) {
            do throws(ReplicationError) {
                try execute("CREATE PUBLICATION \(try identifier(probe)) \(try publicationTarget(tables: tables, definition: definition))")
            } catch {
                let filtered = definition.rowFilters.keys.map(\.description).sorted().joined(separator: ", ")
                throw ReplicationError(code: .commandFailed,
                                       message: "PostgreSQL refuses the publication's row filters or column lists: \(error.message)",
                                       sqlState: error.sqlState,
                                       hint: "fix publication.row_filters (tables \(filtered.isEmpty ? "none" : filtered)) or publication.columns; a row filter may use the table's columns, constants and immutable built-in functions only")
            }
            let published = try publishedTables(named: probe)
            try requireRowFiltersOverReplicaIdentity(probe: probe, tables: tables, definition: definition)
            try execute("ROLLBACK")
            return published
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// A row filter of a publication that publishes UPDATE and DELETE may use replica identity columns
    /// only (PostgreSQL refuses those writes otherwise). The columns a filter uses: the `varattno`s of
    /// its stored expression (`pg_publication_rel.prqual`, a node tree).
    private func requireRowFiltersOverReplicaIdentity(probe: String, tables: [QualifiedTableName],
                                                      definition: PublicationDefinition) throws(ReplicationError) {
        for table in tables where definition.rowFilters[table] != nil {
            let used = try execute("""
                SELECT DISTINCT a.attname FROM pg_catalog.pg_publication_rel r
                JOIN pg_catalog.pg_publication p ON p.oid = r.prpubid
                CROSS JOIN LATERAL regexp_matches(r.prqual::text, ':varattno (\\d+)', 'g') AS m(n)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = r.prrelid AND a.attnum = m.n[1]::int2
                WHERE p.pubname = \(try literal(probe)) AND r.prrelid = \(try literal(try qualifiedName(table)))::regclass
                ORDER BY 1
                """).rows.compactMap { $0.first ?? nil }
            let identity = try columnsAndReplicaIdentity(of: table).identity
            let outside = used.filter { !identity.columns.contains($0) }
            if !outside.isEmpty {
                throw ReplicationError(code: .serverMisconfigured,
                                       message: "publication.row_filters.\(table) uses \(outside.joined(separator: ", ")), not part of the table's replica identity (\(identity.description)); PostgreSQL would then refuse every UPDATE and DELETE of the table",
                                       hint: "filter on replica identity columns only, or give the table a replica identity that covers them (ALTER TABLE \(table) REPLICA IDENTITY FULL, or USING INDEX)")
            }
        }
    }

    /// A table's replica identity, as the columns PostgreSQL requires of column lists and row filters.
    struct ReplicaIdentityColumns {
        var columns: [String]
        var description: String
    }

    /// The columns of `table` (in order, not dropped or generated) and its replica identity's.
    func columnsAndReplicaIdentity(of table: QualifiedTableName) throws(ReplicationError) -> (columns: [String], identity: ReplicaIdentityColumns) {
        let name = try literal(try qualifiedName(table))
        let kind = try execute("SELECT relreplident FROM pg_catalog.pg_class WHERE oid = \(name)::regclass")[0, "relreplident"]
        let columns = try execute("""
            SELECT attname FROM pg_catalog.pg_attribute
            WHERE attrelid = \(name)::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """).rows.compactMap { $0.first ?? nil }
        let index: String
        switch kind {
        case "f": return (columns, ReplicaIdentityColumns(columns: columns, description: "REPLICA IDENTITY FULL: every column"))
        case "n": return (columns, ReplicaIdentityColumns(columns: [], description: "REPLICA IDENTITY NOTHING"))
        case "i": index = "indisreplident"
        default: index = "indisprimary"
        }
        let key = try execute("""
            SELECT a.attname FROM pg_catalog.pg_index i
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = \(name)::regclass AND i.\(index) ORDER BY k.ord
            """).rows.compactMap { $0.first ?? nil }
        return (columns, ReplicaIdentityColumns(columns: key, description: key.isEmpty
            ? "no replica identity (no primary key)" : "its replica identity \(key.joined(separator: ", "))"))
    }

    /// What publication `name` publishes of each of its tables (PostgreSQL 15+; before, every column and
    /// row, so an empty answer).
    public func publishedTables(named name: String) throws(ReplicationError) -> [QualifiedTableName: PublishedTable] {
        guard try serverVersionNumber() >= 150000 else { return [:] }
        let result = try execute("""
            SELECT t.schemaname, t.tablename, t.rowfilter,
                   t.attnames = (SELECT array_agg(attname ORDER BY attnum) FROM pg_catalog.pg_attribute
                                 WHERE attrelid = format('%I.%I', t.schemaname, t.tablename)::regclass
                                   AND attnum > 0 AND NOT attisdropped AND attgenerated = '') AS all_columns,
                   array_to_json(t.attnames)::text AS columns
            FROM pg_catalog.pg_publication_tables t WHERE t.pubname = \(try literal(name))
            """)
        var published: [QualifiedTableName: PublishedTable] = [:]
        for row in result.rows {
            guard row.count == 5, let schema = row[0], let table = row[1] else { continue }
            var entry = PublishedTable(rowFilter: row[2])
            if row[3] != "t", let json = row[4] { entry.columns = Self.textArray(json) }
            published[QualifiedTableName(schema: schema, table: table)] = entry
        }
        return published
    }

    /// A JSON array of strings, as `array_to_json(name[])` writes it.
    static func textArray(_ json: String) -> [String] {
        var items: [String] = []
        var current = ""
        var inString = false
        var escaped = false
        for character in json {
            if inString {
                if escaped {
                    current.append(character == "n" ? "\n" : character == "t" ? "\t" : character)
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    items.append(current)
                    current = ""
                    inString = false
                } else {
                    current.append(character)
                }
            } else if character == "\"" {
                inString = true
            }
        }
        return items
    }

    /// How publication `name`'s row filters and column lists differ from `definition` for `tables`
    /// (configured, as `checkPublicationDefinition` deparsed them): one line per table. Swallow never
    /// alters an existing publication; `swallow check` reports these and the stream warns.
    public func publicationDifferences(named name: String, tables: [QualifiedTableName], definition: PublicationDefinition,
                                       configured: [QualifiedTableName: PublishedTable]) throws(ReplicationError) -> [String] {
        let existing = try publishedTables(named: name)
        guard !existing.isEmpty || definition.filters else { return [] }
        var lines: [String] = []
        for table in tables {
            let want = configured[table] ?? PublishedTable()
            let have = existing[table] ?? PublishedTable()
            if want.rowFilter != have.rowFilter {
                lines.append("publication \(name) filters \(table) with \(have.rowFilter.map { "WHERE \($0)" } ?? "no row filter"), publication.row_filters says \(want.rowFilter.map { "WHERE \($0)" } ?? "none")")
            }
            if want.columns != have.columns {
                lines.append("publication \(name) publishes \(have.columns.map { "the columns \($0.joined(separator: ", "))" } ?? "every column") of \(table), publication.columns says \(want.columns.map { $0.joined(separator: ", ") } ?? "every column")")
            }
        }
        if let via = try execute("SELECT pubviaroot FROM pg_catalog.pg_publication WHERE pubname = \(try literal(name))").rows.first?.first ?? nil,
           (via == "t") != definition.publishViaPartitionRoot {
            lines.append("publication \(name) has publish_via_partition_root = \(via == "t"), publication.publish_via_partition_root says \(definition.publishViaPartitionRoot)")
        }
        return lines
    }
}

extension PostgresConnection {
    /// Whether the publication sends the changes of `tables` under their own names, as capturing them
    /// needs. pgoutput sends a partition's change as the partition's, unless the publication has
    /// `publish_via_partition_root`, and then as the topmost published ancestor's. So a partitioned table
    /// in `tables` needs `publish_via_partition_root` (else its changes arrive as partitions `tables`
    /// does not list, and would be lost), and a partition in `tables` must not have a published ancestor
    /// with it (its changes would arrive as the ancestor's; and a snapshot would read its rows twice).
    /// `viaRoot`: the publication's setting (`pg_publication.pubviaroot`), or for one not yet made the
    /// configured one. One problem per table, in `tables` order.
    public func partitionCaptureProblems(tables: [QualifiedTableName], publication: String,
                                         viaRoot: Bool) throws(ReplicationError) -> [ReplicationError] {
        var problems: [ReplicationError] = []
        var published: Set<QualifiedTableName>?
        for table in tables {
            let name = try literal(try qualifiedName(table))
            let row = try execute("SELECT relkind, relispartition FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass(\(name))")
            guard !row.rows.isEmpty else { continue }   // missing: the table checks say so
            if row[0, "relkind"] == "p" && !viaRoot {
                problems.append(ReplicationError(
                    code: .serverMisconfigured,
                    message: "table \(table) is partitioned, and publication \(publication) publishes its changes as its partitions', which `tables` does not list: they would not be captured",
                    hint: "set publication.publish_via_partition_root: true (a publication Swallow creates), or ALTER PUBLICATION \(publication) SET (publish_via_partition_root = true); or list the partitions in `tables` instead"))
            }
            guard row[0, "relispartition"] == "t", viaRoot else { continue }
            // Its ancestors, parent first.
            let ancestors = try execute("""
                SELECT n.nspname, c.relname FROM pg_catalog.pg_partition_ancestors(\(name)::regclass) WITH ORDINALITY AS p(relid, ord)
                JOIN pg_catalog.pg_class c ON c.oid = p.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE p.relid <> \(name)::regclass ORDER BY p.ord
                """).rows.compactMap { row -> QualifiedTableName? in
                    guard row.count == 2, let schema = row[0], let relation = row[1] else { return nil }
                    return QualifiedTableName(schema: schema, table: relation)
                }
            if let ancestor = ancestors.first(where: tables.contains) {
                problems.append(ReplicationError(
                    code: .serverMisconfigured,
                    message: "table \(table) is a partition of \(ancestor), which `tables` also lists; with publish_via_partition_root its changes arrive as \(ancestor)'s, and a snapshot would read its rows twice",
                    hint: "list only \(ancestor) in `tables`"))
                continue
            }
            if published == nil { published = Set(try publicationTables(named: publication)) }
            if let ancestor = ancestors.first(where: { published?.contains($0) == true }) {
                problems.append(ReplicationError(
                    code: .serverMisconfigured,
                    message: "table \(table) is a partition, and publication \(publication) publishes its changes as its ancestor \(ancestor)'s (publish_via_partition_root): they would not be captured as \(table)'s",
                    hint: "list \(ancestor) in `tables` instead, or turn publish_via_partition_root off"))
            }
        }
        return problems
    }
}
