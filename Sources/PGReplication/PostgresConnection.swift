import CLibPQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PGOutput

/// Where and how to connect. Secrets stay in here and are never part of a description.
public struct ConnectionParameters: Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable {
    public var host: String
    public var port: Int
    public var database: String
    public var user: String
    public var password: String?
    public var sslMode: String
    public var connectTimeoutSeconds: Int
    public var applicationName: String
    /// libpq's `sslrootcert`, `sslcert`, `sslkey` (file paths) and `sslpassword` (the key's passphrase).
    public var sslRootCertificateFile: String?
    public var sslCertificateFile: String?
    public var sslKeyFile: String?
    public var sslKeyPassword: String?
    /// libpq's `port` as a list (one per host), when there are several hosts; `port` otherwise.
    public var portList: String?
    /// libpq's `target_session_attrs` (with several hosts, `read-write`: the primary).
    public var targetSessionAttributes: String?

    public init(host: String, port: Int, database: String, user: String, password: String?,
                sslMode: String = "prefer", connectTimeoutSeconds: Int = 10, applicationName: String = "swallow",
                sslRootCertificateFile: String? = nil, sslCertificateFile: String? = nil,
                sslKeyFile: String? = nil, sslKeyPassword: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.password = password
        self.sslMode = sslMode
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.applicationName = applicationName
        self.sslRootCertificateFile = sslRootCertificateFile
        self.sslCertificateFile = sslCertificateFile
        self.sslKeyFile = sslKeyFile
        self.sslKeyPassword = sslKeyPassword
    }

    /// "user@host:port/db", safe to log.
    public var redactedDescription: String { "\(user)@\(host):\(portList ?? String(port))/\(database)" }

    /// Same as ``redactedDescription``: interpolating the parameters never prints a secret.
    public var description: String { redactedDescription }
    public var debugDescription: String { redactedDescription }
    /// `dump` and the debugger see the redacted description only.
    public var customMirror: Mirror { Mirror(self, children: ["target": redactedDescription]) }

    /// The libpq keyword/value pairs for `PQconnectdbParams`, in a fixed order.
    ///
    /// TCP keepalives notice a peer that vanished without closing the connection (a half-open socket
    /// would otherwise leave the reader polling quietly until the kernel gives up, ~15 minutes).
    /// Session settings fix the text format of values (UTC timestamps, ISO dates, full float precision)
    /// so the event encoder never depends on the server's defaults.
    func libpqKeywordsAndValues(replication: Bool) -> [(keyword: String, value: String)] {
        var pairs: [(String, String)] = [
            ("host", host), ("port", portList ?? String(port)), ("dbname", database), ("user", user), ("sslmode", sslMode),
            ("connect_timeout", String(connectTimeoutSeconds)), ("application_name", applicationName),
            ("options", "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex -c lc_monetary=C"),
            ("client_encoding", "UTF8"),
            ("keepalives", "1"), ("keepalives_idle", "30"), ("keepalives_interval", "10"), ("keepalives_count", "3"),
        ]
        let optional: [(String, String?)] = [
            ("password", password), ("sslrootcert", sslRootCertificateFile), ("sslcert", sslCertificateFile),
            ("sslkey", sslKeyFile), ("sslpassword", sslKeyPassword),
            ("target_session_attrs", targetSessionAttributes),
        ]
        for case let (keyword, value?) in optional { pairs.append((keyword, value)) }
        if replication { pairs.append(("replication", "database")) }
        return pairs
    }

    /// `text` with every occurrence of a secret (the password, the key's passphrase) replaced by `***`.
    /// libpq does not print them today; this keeps it so if a message ever quotes one back.
    func scrubbingSecrets(_ text: String) -> String {
        var scrubbed = text
        for secret in [password, sslKeyPassword].compactMap({ $0 }) where !secret.isEmpty {
            scrubbed = scrubbed.replacing(secret, with: "***")
        }
        return scrubbed
    }
}

/// Rows of a simple-protocol query, every value in text format.
public struct QueryResult: Sendable {
    public var columns: [String]
    public var rows: [[String?]]
    /// The command tag, e.g. "INSERT 0 1".
    public var commandTag: String

    public subscript(row: Int, column: String) -> String? {
        guard let index = columns.firstIndex(of: column), row < rows.count else { return nil }
        return rows[row][index]
    }
}

/// One libpq connection, either a plain SQL session or a walsender session (`replication=database`),
/// which speaks both SQL (simple protocol only) and replication commands.
///
/// Not thread-safe: exactly one thread uses a connection at a time; the pipeline gives it a dedicated
/// thread because libpq calls block. `@unchecked Sendable` only so that a connection can be handed to
/// the thread that uses it (snapshot readers, the heartbeat): it is never used by two at once.
public final class PostgresConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    /// What the server said in notices while streaming (see `startCopyBoth`). Outlives `handle`, whose
    /// notice receiver points at it: `deinit` closes the connection before the properties go.
    private let streamNotices = StreamNotices()
    public let parameters: ConnectionParameters
    public let isReplication: Bool

    /// Connects with ``ConnectionParameters/libpqKeywordsAndValues(replication:)``. `expand_dbname` is 0,
    /// so no value is ever parsed as a connection string.
    public init(_ parameters: ConnectionParameters, replication: Bool) throws(ReplicationError) {
        self.parameters = parameters
        self.isReplication = replication
        let pairs = parameters.libpqKeywordsAndValues(replication: replication)
        let keywords = pairs.map(\.keyword)
        let values = pairs.map(\.value)
        let conn: OpaquePointer? = withCStringArray(keywords) { keys in
            withCStringArray(values) { vals in PQconnectdbParams(keys, vals, 0) }
        }
        guard let conn else {
            throw ReplicationError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        if PQstatus(conn) != CONNECTION_OK {
            let text = parameters.scrubbingSecrets(Self.errorText(conn))
            PQfinish(conn)
            throw Self.classifyConnectFailure(text, parameters: parameters, replication: replication)
        }
        handle = conn
    }

    deinit { close() }

    /// The server this connection reached, `host:port` (with a host list, the one libpq chose).
    public var serverAddress: String {
        guard let handle else { return parameters.redactedDescription }
        let host = PQhost(handle).map { String(cString: $0) } ?? "?"
        let port = PQport(handle).map { String(cString: $0) } ?? "?"
        return "\(host):\(port)"
    }

    public func close() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
    }

    // MARK: SQL

    /// Runs one statement with the simple query protocol (the only one a walsender accepts).
    @discardableResult
    public func execute(_ sql: String) throws(ReplicationError) -> QueryResult {
        let conn = try liveHandle()
        guard let result = PQexec(conn, sql) else {
            throw ReplicationError(code: .connectionFailed, message: Self.errorText(conn))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return Self.collect(result)
        default:
            throw Self.resultError(result, connection: conn)
        }
    }

    /// Quotes a value as an SQL string literal.
    public func literal(_ value: String) throws(ReplicationError) -> String {
        let conn = try liveHandle()
        guard let escaped = PQescapeLiteral(conn, value, value.utf8.count) else {
            throw ReplicationError(code: .commandFailed, message: Self.errorText(conn))
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    /// Quotes a name as an SQL identifier.
    public func identifier(_ value: String) throws(ReplicationError) -> String {
        let conn = try liveHandle()
        guard let escaped = PQescapeIdentifier(conn, value, value.utf8.count) else {
            throw ReplicationError(code: .commandFailed, message: Self.errorText(conn))
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    // MARK: Replication stream

    /// Switches the connection into CopyBoth mode; from here on only `readCopyData` and `sendCopyData` work.
    ///
    /// From here on the connection's notices are read too, not only printed (`StreamNotices`): PostgreSQL
    /// 18 reports a publication missing while streaming as a WARNING and streams on without it.
    public func startCopyBoth(_ command: String) throws(ReplicationError) {
        let conn = try liveHandle()
        PQsetNoticeReceiver(conn, receiveStreamNotice, Unmanaged.passUnretained(streamNotices).toOpaque())
        try startCopy(command, expecting: PGRES_COPY_BOTH)
    }

    /// Runs a statement that must switch the connection into a COPY mode.
    func startCopy(_ command: String, expecting mode: ExecStatusType) throws(ReplicationError) {
        let conn = try liveHandle()
        guard let result = PQexec(conn, command) else {
            throw ReplicationError(code: .connectionFailed, message: Self.errorText(conn))
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == mode else {
            throw Self.resultError(result, connection: conn)
        }
    }

    /// Collects the results that end a COPY; the first error among them says why it ended, if it failed.
    static func finishCopy(_ conn: OpaquePointer) -> ReplicationError? {
        var failure: ReplicationError?
        while let result = PQgetResult(conn) {
            let status = PQresultStatus(result)
            if status == PGRES_FATAL_ERROR, failure == nil {
                failure = resultError(result, connection: conn)
            }
            PQclear(result)
            // After a server-side CopyDone libpq reports COPY_IN forever; stop asking.
            if status == PGRES_COPY_IN || status == PGRES_COPY_BOTH { break }
        }
        return failure
    }

    public enum CopyDataResult {
        case data([UInt8])
        case timedOut
    }

    /// Waits up to `timeoutMilliseconds` for the next CopyData message. The wait is a poll(2) on the
    /// socket, so a quiet stream costs no CPU; libpq buffers, so most calls return without a syscall.
    public func readCopyData(timeoutMilliseconds: Int32) throws(ReplicationError) -> CopyDataResult {
        let conn = try liveHandle()
        var consumedSinceEmpty = false
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(conn, &buffer, 1)
            // A notice that ends the stream came in before this message: nothing after it is taken.
            if let failure = streamNotices.takeFailure() {
                if let buffer { PQfreemem(buffer) }
                throw failure
            }
            if length > 0, let buffer {
                let bytes = UnsafeRawBufferPointer(start: buffer, count: Int(length))
                let copy = [UInt8](bytes)
                PQfreemem(buffer)
                return .data(copy)
            }
            if length == 0 {
                // With TLS, bytes already decrypted inside OpenSSL are invisible to poll(2): read what is
                // there before sleeping on the socket.
                if !consumedSinceEmpty {
                    consumedSinceEmpty = true
                    if PQconsumeInput(conn) == 0 {
                        throw ReplicationError(code: .connectionFailed, message: Self.errorText(conn))
                    }
                    continue
                }
                consumedSinceEmpty = false
                var descriptor = pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, timeoutMilliseconds)
                if ready == 0 { return .timedOut }
                if ready < 0 {
                    if errno == EINTR { continue }
                    throw ReplicationError(code: .connectionFailed, message: "poll failed: \(String(cString: strerror(errno)))")
                }
                if PQconsumeInput(conn) == 0 {
                    throw ReplicationError(code: .connectionFailed, message: Self.errorText(conn))
                }
                continue
            }
            if length == -1 {
                // The server ended the COPY: collect the final result, which carries the reason.
                throw Self.finishCopy(conn) ?? ReplicationError(code: .streamEnded, message: "the server ended the replication stream")
            }
            throw ReplicationError(code: .connectionFailed, message: Self.errorText(conn))
        }
    }

    /// Sends one CopyData message and waits until libpq has handed it to the kernel.
    public func sendCopyData(_ bytes: [UInt8]) throws(ReplicationError) {
        let conn = try liveHandle()
        let queued = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(conn, $0.baseAddress, Int32($0.count)) }
        }
        guard queued == 1, PQflush(conn) == 0 else {
            throw ReplicationError(code: .connectionFailed, message: Self.errorText(conn))
        }
    }

    /// Ends our side of the CopyBoth stream (clean shutdown).
    public func endCopy() {
        guard let conn = handle else { return }
        if PQputCopyEnd(conn, nil) == 1 { _ = PQflush(conn) }
    }

    // MARK: Helpers

    func liveHandle() throws(ReplicationError) -> OpaquePointer {
        guard let handle else {
            throw ReplicationError(code: .connectionFailed, message: "the connection is closed")
        }
        return handle
    }

    static func errorText(_ conn: OpaquePointer) -> String {
        guard let message = PQerrorMessage(conn) else { return "unknown libpq error" }
        return String(cString: message).trimmingTrailingWhitespace()
    }

    private static func collect(_ result: OpaquePointer) -> QueryResult {
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            rows.append((0..<columnCount).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1
                    ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            })
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        return QueryResult(columns: columns, rows: rows, commandTag: tag)
    }

    static func resultError(_ result: OpaquePointer, connection: OpaquePointer) -> ReplicationError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let message = field("M") ?? errorText(connection)
        let serverHint = field("H")
        switch sqlState {
        case "42501":
            return ReplicationError(code: .insufficientPrivilege, message: message, sqlState: sqlState,
                                    hint: serverHint ?? "grant the role the privilege named above")
        case "55006":
            return ReplicationError(code: .slotInUse, message: message, sqlState: sqlState,
                                    hint: "stop the other consumer of this slot, or give Swallow its own slot name")
        case "55000" where message.contains("wal_level"):
            return ReplicationError(code: .serverMisconfigured, message: message, sqlState: sqlState,
                                    hint: "set wal_level = logical in postgresql.conf and restart PostgreSQL")
        case "42704" where message.contains("replication slot"):
            return ReplicationError(code: .slotMissing, message: message, sqlState: sqlState,
                                    hint: "set slot.create: true or create the slot with pg_create_logical_replication_slot")
        case "42704" where message.contains("publication"):
            return ReplicationError(code: .publicationMissing, message: message, sqlState: sqlState,
                                    hint: "set publication.create: true or CREATE PUBLICATION for the captured tables")
        case "42P01":
            return ReplicationError(code: .tableMissing, message: message, sqlState: sqlState,
                                    hint: "create the table or remove it from `tables`")
        default:
            let code: ReplicationError.Code = sqlState == nil && PQstatus(connection) != CONNECTION_OK
                ? .connectionFailed : .commandFailed
            return ReplicationError(code: code, message: message, sqlState: sqlState, hint: serverHint)
        }
    }

    static func classifyConnectFailure(_ text: String, parameters: ConnectionParameters,
                                               replication: Bool) -> ReplicationError {
        let target = parameters.redactedDescription
        // Our own certificate or key cannot be used: retrying cannot help until the files change.
        if text.contains("private key file") || text.contains("certificate file") || text.contains("bad decrypt") {
            return ReplicationError(code: .authenticationFailed, message: "\(target): \(text)",
                                    hint: "check postgres.sslcert, postgres.sslkey (mode 0600, or 0640 owned by root) and postgres.sslpassword")
        }
        if text.contains("certificate authentication failed") {
            return ReplicationError(code: .authenticationFailed, message: "\(target): \(text)",
                                    hint: "the client certificate's common name (CN) must be postgres.user, or be mapped to it in pg_ident.conf")
        }
        if text.contains("requires a valid client certificate") {
            return ReplicationError(code: .authenticationFailed, message: "\(target): \(text)",
                                    hint: "the server wants a client certificate: set postgres.sslcert and postgres.sslkey")
        }
        if text.contains("password authentication failed") || text.contains("no password supplied")
            || text.contains("authentication failed") {
            return ReplicationError(code: .authenticationFailed, message: "\(target): \(text)",
                                    hint: "check postgres.user and postgres.password (and pg_hba.conf)")
        }
        if text.contains("must be superuser or replication role") || text.contains("permission denied") {
            return ReplicationError(code: .insufficientPrivilege, message: "\(target): \(text)",
                                    hint: "ALTER ROLE \(parameters.user) WITH REPLICATION")
        }
        if text.contains("no pg_hba.conf entry for replication") {
            return ReplicationError(code: .insufficientPrivilege, message: "\(target): \(text)",
                                    hint: "allow replication connections for this role and database in pg_hba.conf")
        }
        if text.contains("database") && text.contains("does not exist") {
            return ReplicationError(code: .commandFailed, message: "\(target): \(text)",
                                    hint: "check postgres.dbname")
        }
        if let tls = tlsFailureHint(text) {
            return ReplicationError(code: .connectionFailed, message: "\(target): \(text)", hint: tls)
        }
        return ReplicationError(code: .connectionFailed, message: "\(target): \(text)",
                                hint: "check that PostgreSQL runs and postgres.host/port are right")
    }

    /// What to do about a TLS failure libpq reported, when `text` is one.
    private static func tlsFailureHint(_ text: String) -> String? {
        if text.contains("certificate verify failed") {
            return "the server's certificate does not chain to postgres.sslrootcert; set sslrootcert to the CA that signed the server's certificate"
        }
        if text.contains("does not match host name") || text.contains("server certificate for") {
            return "the server's certificate is not issued for postgres.host; set host to a name the certificate lists, or use sslmode verify-ca"
        }
        if text.contains("root certificate file") {
            return "set postgres.sslrootcert to the CA certificate that signed the server's certificate"
        }
        if text.contains("no encryption") {
            return "the server accepts this role only over TLS (hostssl in pg_hba.conf): set postgres.sslmode to require or stricter"
        }
        if text.contains("server does not support SSL") {
            return "enable ssl on the server, or lower postgres.sslmode"
        }
        if text.contains("certificate") || text.contains("SSL") {
            return "check the TLS settings: postgres.sslmode, sslrootcert, sslcert and sslkey"
        }
        return nil
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var view = Substring(self)
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}

/// Keeps the C strings alive for the duration of `body`; libpq copies what it keeps.
private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicated: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { duplicated.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = duplicated.map { $0.map { UnsafePointer($0) } }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

extension PostgresConnection {
    /// `"schema"."table"`, each part quoted by libpq.
    public func qualifiedName(_ table: QualifiedTableName) throws(ReplicationError) -> String {
        "\(try identifier(table.schema)).\(try identifier(table.table))"
    }

    /// The names quoted by libpq and joined with ", ", for column lists.
    public func identifierList(_ names: [String]) throws(ReplicationError) -> String {
        var quoted: [String] = []
        quoted.reserveCapacity(names.count)
        for name in names { quoted.append(try identifier(name)) }
        return quoted.joined(separator: ", ")
    }
}

/// The notices of a streaming connection, received on the thread that reads the stream (libpq calls the
/// receiver from inside `PQgetCopyData` and `PQconsumeInput`), so unguarded, like the connection.
///
/// Up to PostgreSQL 17 a publication that is missing when the walsender decodes a change ends the stream
/// with ERROR "publication ... does not exist" (SQLSTATE 42704). PostgreSQL 18 reports it as WARNING
/// "skipped loading publication ..." (SQLSTATE 55000 in the 18.6 the tests run; the ERROR's 42704 is
/// taken too) and streams on, leaving out the changes the publication would have sent, so that
/// replication can go on once the publication is created again further on in the WAL. For Swallow
/// changes are missing either way: the WARNING ends the stream with the error the ERROR gives, and the
/// pipeline stops as it does on 15 (publicationLost). Every notice is still printed to standard error,
/// as libpq's default receiver does.
final class StreamNotices {
    private var failure: ReplicationError?

    func receive(_ result: OpaquePointer) {
        if let text = PQresultErrorMessage(result) { _ = write(STDERR_FILENO, text, strlen(text)) }
        func field(_ code: Character) -> String? {
            PQresultErrorField(result, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        let sqlState = field("C")
        guard failure == nil, let sqlState, ["42704", "55000"].contains(sqlState),
              let message = field("M"), message.contains("publication") else { return }
        failure = ReplicationError(code: .publicationMissing,
                                   message: [message, field("D")].compactMap { $0 }.joined(separator: ": "),
                                   sqlState: sqlState,
                                   hint: "set publication.create: true or CREATE PUBLICATION for the captured tables")
    }

    func takeFailure() -> ReplicationError? {
        defer { failure = nil }
        return failure
    }
}

private let receiveStreamNotice: PQnoticeReceiver = { argument, result in
    guard let argument, let result else { return }
    Unmanaged<StreamNotices>.fromOpaque(argument).takeUnretainedValue().receive(result)
}
