import ChangeEvent
import PGOutput
import PGReplication
import SwallowCore

/// A primary key in SQL, for the key ranges both kinds of snapshot read: the key compares as one value
/// (`(k1, k2) > ('1', 'a')`, PostgreSQL's row comparison, which is the key's sort order), and key values
/// travel as the columns' text, which the literals turn back into the columns' types.
struct KeySQL {
    /// `k` or `(k1, k2)`.
    let tuple: String
    /// `k1, k2`, for ORDER BY and select lists.
    let list: String
    private let connection: PostgresConnection

    init(_ columns: [String], on connection: PostgresConnection) throws(ReplicationError) {
        self.connection = connection
        list = try connection.identifierList(columns)
        tuple = columns.count == 1 ? list : "(\(list))"
    }

    /// `tuple > value`.
    func after(_ key: [String]) throws(ReplicationError) -> String { "\(tuple) > \(try value(key))" }

    /// `tuple <= value`.
    func upTo(_ key: [String]) throws(ReplicationError) -> String { "\(tuple) <= \(try value(key))" }

    private func value(_ key: [String]) throws(ReplicationError) -> String {
        var literals: [String] = []
        for text in key { literals.append(try connection.literal(text)) }
        return literals.count == 1 ? literals[0] : "(\(literals.joined(separator: ", ")))"
    }
}

extension CopyTextRow {
    /// The row as column values, exactly as pgoutput would send the same row: the text of each type's
    /// output function, or NULL.
    var columnValues: [ColumnValue] {
        fields.map { range -> ColumnValue in range.map { .text(storage[$0]) } ?? .null }
    }
}
