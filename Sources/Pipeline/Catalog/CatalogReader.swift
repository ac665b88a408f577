import ChangeEvent
import Foundation
import PGOutput
import PGReplication
import SwallowCore

/// The catalog queries the decoder and the translator must not make themselves, on a plain SQL
/// connection beside the replication one (which is busy streaming). Relation messages are rare (one per
/// table per session and one after each DDL), so every lookup goes to the server: what it returns is
/// the current definition, which is what a changed Relation message asks for.
final class CatalogReader {
    private let parameters: ConnectionParameters
    private var connection: PostgresConnection?

    init(parameters: ConnectionParameters) {
        self.parameters = parameters
    }

    deinit { connection?.close() }

    func close() {
        connection?.close()
        connection = nil
    }

    private func open() throws(PipelineError) -> PostgresConnection {
        if let connection { return connection }
        do {
            let opened = try PostgresConnection(parameters, replication: false)
            connection = opened
            return opened
        } catch {
            throw .postgres(error)
        }
    }

    private func query(_ sql: String) throws(PipelineError) -> QueryResult {
        let connection = try open()
        do {
            return try connection.execute(sql)
        } catch {
            // A broken side connection is reopened on the next attempt.
            close()
            throw .postgres(error)
        }
    }

    /// `value` as an SQL string literal, quoted by libpq.
    private func literal(_ value: String) throws(PipelineError) -> String {
        let connection = try open()
        do { return try connection.literal(value) } catch { throw .postgres(error) }
    }

    /// Describes `oids` and, transitively, the types they refer to (array elements, domain bases,
    /// range subtypes) that the built-in table does not cover.
    func types(_ oids: [UInt32]) throws(PipelineError) -> [PostgresTypeInfo] {
        var found: [UInt32: PostgresTypeInfo] = [:]
        var pending = Set(oids.filter(TypeCatalog.needsLookup))
        var rounds = 0
        while !pending.isEmpty && rounds < 8 {
            rounds += 1
            let list = pending.sorted().map(String.init).joined(separator: ",")
            let result = try query("""
                SELECT t.oid, n.nspname, t.typname, t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typtypmod,
                       r.rngsubtype,
                       CASE WHEN t.typtype = 'e' THEN (SELECT pg_catalog.json_agg(e.enumlabel ORDER BY e.enumsortorder)
                                                       FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid)::text END
                FROM pg_catalog.pg_type t
                JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                LEFT JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
                WHERE t.oid IN (\(list))
                """)
            pending.removeAll()
            for row in result.rows {
                guard let info = Self.typeInfo(row) else { continue }
                found[info.oid] = info
                for referenced in info.referencedOIDs
                where TypeCatalog.needsLookup(referenced) && found[referenced] == nil {
                    pending.insert(referenced)
                }
            }
        }
        return Array(found.values)
    }

    static func typeInfo(_ row: [String?]) -> PostgresTypeInfo? {
        guard row.count >= 10, let oid = row[0].flatMap({ UInt32($0) }), let schema = row[1], let name = row[2],
              let typtype = row[3], let category = row[4] else { return nil }
        let element = row[5].flatMap { UInt32($0) } ?? 0
        let base = row[6].flatMap { UInt32($0) } ?? 0
        let typmod = row[7].flatMap { Int32($0) } ?? -1
        let kind: PostgresTypeInfo.Kind
        switch typtype {
        case "e":
            let labels = row[9].flatMap { text in
                (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String]
            } ?? []
            kind = .enumeration(labels: labels)
        case "d":
            kind = .domain(baseOID: base, baseTypeModifier: typmod)
        case "r":
            kind = .range(subtypeOID: row[8].flatMap { UInt32($0) } ?? 0)
        case "b" where category == "A" && element != 0:
            kind = .array(elementOID: element)
        case "b":
            kind = .base
        default:
            kind = .other
        }
        return PostgresTypeInfo(oid: oid, schema: schema, name: name, kind: kind)
    }

    /// Key candidates and NOT NULL columns of relation `relationID`.
    func details(of relationID: UInt32) throws(PipelineError) -> RelationDetails {
        var keys = Self.keyCandidates(try query(Self.keyCandidatesSQL(relationID)))
        let notNull = try query("""
            SELECT attname FROM pg_catalog.pg_attribute
            WHERE attrelid = \(relationID) AND attnum > 0 AND NOT attisdropped AND attnotnull
            """)
        keys.notNullColumns = Set(notNull.rows.compactMap { $0.first ?? nil })
        return keys
    }

    /// The unique indexes that can identify a row of `relationID`, primary key first: only the key
    /// columns of an index (indnkeyatts, not INCLUDE columns); expression and partial indexes cannot
    /// identify a row, nor can a unique index over a nullable column (the last column says which are
    /// all NOT NULL). `swallow check` asks the same question as the stream.
    static func keyCandidatesSQL(_ relationID: UInt32) -> String {
        """
        SELECT i.indisprimary, i.indisreplident,
               (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)
                FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                WHERE k.ord <= i.indnkeyatts)::text,
               NOT EXISTS (SELECT 1 FROM unnest(i.indkey) AS k(attnum)
                           JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                           WHERE NOT a.attnotnull)
        FROM pg_catalog.pg_index i
        JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = \(relationID) AND i.indisunique AND i.indisvalid AND i.indimmediate
          AND i.indpred IS NULL AND i.indexprs IS NULL
        ORDER BY i.indisprimary DESC, i.indnkeyatts, c.relname
        """
    }

    /// The primary key, the replica-identity index and the narrowest NOT NULL unique index from the
    /// rows of `keyCandidatesSQL`.
    static func keyCandidates(_ result: QueryResult) -> RelationDetails {
        var keys = RelationDetails()
        for row in result.rows {
            guard row.count >= 4, let json = row[2],
                  let columns = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String] else { continue }
            if row[0] == "t" && keys.primaryKey.isEmpty { keys.primaryKey = columns }
            if row[1] == "t" { keys.replicaIdentityIndex = columns }
            if row[3] == "t" && keys.uniqueIndex.isEmpty && row[0] != "t" { keys.uniqueIndex = columns }
        }
        return keys
    }

    /// The OID of table `schema.table`, or nil if there is none.
    func relationID(schema: String, table: String) throws(PipelineError) -> UInt32? {
        let result = try query("""
            SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(try literal(schema)) AND c.relname = \(try literal(table)) AND c.relkind IN ('r', 'p')
            """)
        guard let row = result.rows.first, let text = row.first ?? nil else { return nil }
        return UInt32(text)
    }

    /// The Relation message pgoutput would send for relation `relationID` now, built from the catalog:
    /// the columns it publishes (not dropped, not generated) in order, the replica identity, and the
    /// identity flags (primary key for DEFAULT, the index for USING INDEX, every column for FULL).
    /// Snapshots use it so that their records are shaped and keyed exactly like streamed ones. Nil if the
    /// table is gone.
    func relationMessage(relationID: UInt32, details: RelationDetails) throws(PipelineError) -> RelationMessage? {
        let relation = try query("""
            SELECT n.nspname, c.relname, c.relreplident FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = \(relationID)
            """)
        guard let row = relation.rows.first, row.count == 3, let schema = row[0], let table = row[1] else { return nil }
        let identity: ReplicaIdentity
        switch row[2] {
        case "f": identity = .full
        case "n": identity = .nothing
        case "i": identity = .index
        default: identity = .default
        }
        let attributes = try query("""
            SELECT attname, atttypid, atttypmod FROM pg_catalog.pg_attribute
            WHERE attrelid = \(relationID) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
            ORDER BY attnum
            """)
        let keyColumns: Set<String>
        switch identity {
        case .default: keyColumns = Set(details.primaryKey)
        case .index: keyColumns = Set(details.replicaIdentityIndex)
        case .full: keyColumns = Set(attributes.rows.compactMap { $0.first ?? nil })
        case .nothing: keyColumns = []
        }
        let columns = attributes.rows.compactMap { row -> RelationMessage.Column? in
            guard row.count == 3, let name = row[0], let type = row[1].flatMap({ UInt32($0) }),
                  let typmod = row[2].flatMap({ Int32($0) }) else { return nil }
            return RelationMessage.Column(flags: keyColumns.contains(name) ? 1 : 0, name: name, typeOID: type, typeModifier: typmod)
        }
        return RelationMessage(relationID: relationID, namespace: schema, name: table, replicaIdentity: identity,
                               columns: columns)
    }

    /// What the translator needs with a Relation message: the table's details (`details`, when the
    /// caller already read them) and the descriptions of the non-built-in types its columns use.
    func catalog(of relation: RelationMessage, details: RelationDetails? = nil) throws(PipelineError) -> RelationCatalog {
        let known: RelationDetails
        if let details { known = details } else { known = try self.details(of: relation.relationID) }
        return RelationCatalog(details: known, types: try types(StreamTranslator.typeOIDsToDescribe(relation)))
    }
}
