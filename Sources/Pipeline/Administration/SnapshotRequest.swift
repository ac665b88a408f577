import ChangeEvent
import Foundation
import Logging
import PGOutput
import PGReplication
import SwallowConfig
import SwallowCore

/// Writes a signal for a running Swallow: what `swallow snapshot` does.
public enum SnapshotRequest {
    /// Inserts an `execute-snapshot` (or `stop-snapshot`) signal for `tables` (`schema.table`, or a bare
    /// name in `public`; regular expressions are allowed, as in Debezium) and returns its id. `filter`, an
    /// SQL condition, applies to every table of the request.
    public static func send(settings: PipelineSettings, tables: [String], filter: String?, stop: Bool) throws(PipelineError) -> String {
        guard let signal = settings.signalTable else {
            throw PipelineError(code: .configuration,
                                message: "snapshot.signal_table is not set; add it to the configuration (and create the table: CREATE TABLE public.swallow_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))), then restart Swallow",
                                isRetriable: false)
        }
        let names = tables.map { $0.contains(".") ? $0 : "public.\($0)" }
        if !stop && names.isEmpty {
            throw PipelineError(code: .configuration, message: "name at least one table, e.g. --tables public.orders",
                                isRetriable: false)
        }
        var data: [String: Any] = ["data-collections": names, "type": "incremental"]
        if let filter, !stop {
            data["additional-conditions"] = names.map { ["data-collection": $0, "filter": filter] }
        }
        let json: String
        do {
            json = String(decoding: try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys]), as: UTF8.self)
        } catch {
            throw PipelineError(code: .configuration, message: "cannot encode the signal: \(error)", isRetriable: false)
        }
        guard json.utf8.count <= 2048 else {
            throw PipelineError(code: .configuration, message: "the signal's data is \(json.utf8.count) bytes, over the signal table's 2048; request fewer tables at a time",
                                isRetriable: false)
        }
        let id = UUID().uuidString.lowercased()
        do {
            // A standby refuses writes: the signal goes to postgres.primary when configured.
            let connection = try PostgresConnection(settings.writeConnection, replication: false)
            defer { connection.close() }
            let table = try connection.qualifiedName(signal)
            try connection.execute("""
                INSERT INTO \(table) (id, type, data) VALUES (\(try connection.literal(id)), \
                \(try connection.literal(stop ? SnapshotSignal.stopType : SnapshotSignal.executeType)), \(try connection.literal(json)))
                """)
        } catch {
            throw .postgres(error)
        }
        return id
    }
}
