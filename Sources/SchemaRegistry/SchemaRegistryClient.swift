import CCurl
import Foundation
import Synchronization

/// Where the registry is and how to reach it.
public struct SchemaRegistrySettings: Sendable, Equatable {
    public struct TLS: Sendable, Equatable {
        /// PEM CA certificates to check the registry's certificate with (default: the system's).
        public var caFile: String?
        /// PEM client certificate and its key (mutual TLS).
        public var certificateFile: String?
        public var keyFile: String?
        public var keyPassword: String?

        public init(caFile: String? = nil, certificateFile: String? = nil, keyFile: String? = nil, keyPassword: String? = nil) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.keyPassword = keyPassword
        }
    }

    /// Base URLs (`http://host:8081`, `https://…`), tried in order: the next one when one cannot be
    /// reached or fails (Confluent's client does the same with its list).
    public var urls: [String]
    public var username: String?
    public var password: String?
    public var tls: TLS
    /// One request's limit, connecting included.
    public var requestTimeoutMilliseconds: Int

    public init(urls: [String], username: String? = nil, password: String? = nil, tls: TLS = TLS(),
                requestTimeoutMilliseconds: Int = 10_000) {
        self.urls = urls.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.username = username
        self.password = password
        self.tls = tls
        self.requestTimeoutMilliseconds = requestTimeoutMilliseconds
    }
}

/// A Confluent Schema Registry client: registers or looks up a schema under a subject and reads a schema
/// by id, over the REST API as Confluent documents it. One request is tried against each URL in turn
/// (starting from the last one that answered) until one answers; an answer that refuses is final. It
/// does not wait and retry: the caller decides (with `SchemaRegistryRetry`).
///
/// HTTP goes through libcurl (the library FoundationNetworking itself uses on Linux) rather than
/// URLSession, whose Linux implementation cannot present a client certificate nor take a CA file per
/// session — the TLS options Swallow's Kafka and PostgreSQL connections have.
public final class SchemaRegistryClient: Sendable {
    public let settings: SchemaRegistrySettings
    /// The index of the URL that answered last.
    private let preferred = Atomic<Int>(0)

    private static let globalInit: Bool = { curl_global_init(swallow_curl_global_all) == CURLE_OK }()

    public init(settings: SchemaRegistrySettings) {
        self.settings = settings
        _ = Self.globalInit
    }

    /// `POST /subjects/{subject}/versions`: the id of `schema` under `subject`, registered as the
    /// subject's next version unless it already is one.
    public func register(subject: String, schema: String) throws(SchemaRegistryError) -> Int32 {
        let body = try send(method: "POST", path: RegistryRequest.registerPath(subject: subject),
                            body: RegistryRequest.schemaBody(schema), subject: subject)
        return try RegistryRequest.id(from: body, subject: subject)
    }

    /// `POST /subjects/{subject}`: the id of `schema` if it is registered under `subject`.
    public func lookup(subject: String, schema: String) throws(SchemaRegistryError) -> Int32 {
        let body = try send(method: "POST", path: RegistryRequest.lookupPath(subject: subject),
                            body: RegistryRequest.schemaBody(schema), subject: subject)
        return try RegistryRequest.id(from: body, subject: subject)
    }

    /// `GET /schemas/ids/{id}`: the schema string registered under `id`.
    public func schema(id: Int32) throws(SchemaRegistryError) -> String {
        try RegistryRequest.schema(from: try send(method: "GET", path: RegistryRequest.schemaPath(id: id), body: nil, subject: ""))
    }

    /// Any GET (`/subjects`, `/subjects/{s}/versions/latest`, …): the answer's body.
    public func get(_ path: String) throws(SchemaRegistryError) -> [UInt8] {
        try send(method: "GET", path: path, body: nil, subject: "")
    }

    private func send(method: String, path: String, body: [UInt8]?, subject: String) throws(SchemaRegistryError) -> [UInt8] {
        let count = settings.urls.count
        precondition(count > 0, "a Schema Registry client needs at least one URL")
        let start = preferred.load(ordering: .relaxed) % count
        var lastError: SchemaRegistryError?
        for offset in 0..<count {
            let index = (start + offset) % count
            let (status, answer): (Int, [UInt8])
            do {
                (status, answer) = try perform(method: method, url: settings.urls[index] + path, body: body, subject: subject)
            } catch where error.isRetriable {
                lastError = error
                continue
            }
            if (200..<300).contains(status) {
                preferred.store(index, ordering: .relaxed)
                return answer
            }
            let error = RegistryRequest.error(status: status, body: answer, subject: subject)
            // A server error on one URL: another may be healthy (Confluent's client moves on too).
            guard error.isRetriable else { throw error }
            lastError = error
        }
        throw lastError!
    }

    /// Collects a response body; curl's write callback appends to it.
    private final class ResponseBuffer {
        var bytes: [UInt8] = []
    }

    /// One HTTP exchange: the status and body, or an `.unreachable` error (curl could not complete it).
    private func perform(method: String, url: String, body: [UInt8]?, subject: String) throws(SchemaRegistryError) -> (Int, [UInt8]) {
        guard let handle = curl_easy_init() else {
            throw SchemaRegistryError(code: .unreachable, subject: subject, message: "libcurl could not make a handle")
        }
        defer { curl_easy_cleanup(handle) }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        headers = curl_slist_append(headers, "Accept: " + RegistryRequest.accept)
        if body != nil { headers = curl_slist_append(headers, "Content-Type: " + RegistryRequest.contentType) }
        let response = ResponseBuffer()
        let unmanaged = Unmanaged.passRetained(response)
        defer { unmanaged.release() }

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            var result = swallow_curl_set_pointer(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            func set(_ option: CURLoption, _ value: String?) {
                guard result == CURLE_OK, let value else { return }
                result = swallow_curl_set_string(handle, option, value)
            }
            func set(_ option: CURLoption, _ value: Int) {
                guard result == CURLE_OK else { return }
                result = swallow_curl_set_long(handle, option, value)
            }
            set(CURLOPT_URL, url)
            set(CURLOPT_PROTOCOLS_STR, "http,https")
            set(CURLOPT_NOSIGNAL, 1)
            set(CURLOPT_TIMEOUT_MS, settings.requestTimeoutMilliseconds)
            set(CURLOPT_CONNECTTIMEOUT_MS, min(settings.requestTimeoutMilliseconds, 5_000))
            set(CURLOPT_CUSTOMREQUEST, method)
            if let username = settings.username {
                set(CURLOPT_HTTPAUTH, swallow_curl_auth_basic)
                set(CURLOPT_USERNAME, username)
                set(CURLOPT_PASSWORD, settings.password ?? "")
            }
            set(CURLOPT_CAINFO, settings.tls.caFile)
            set(CURLOPT_SSLCERT, settings.tls.certificateFile)
            set(CURLOPT_SSLKEY, settings.tls.keyFile)
            set(CURLOPT_KEYPASSWD, settings.tls.keyPassword)
            if result == CURLE_OK { result = swallow_curl_set_pointer(handle, CURLOPT_HTTPHEADER, headers) }
            if result == CURLE_OK {
                result = swallow_curl_set_write_function(handle) { data, size, count, context in
                    let buffer = Unmanaged<ResponseBuffer>.fromOpaque(context!).takeUnretainedValue()
                    let n = size * count
                    if let data { buffer.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n)) }
                    return n
                }
            }
            if result == CURLE_OK { result = swallow_curl_set_pointer(handle, CURLOPT_WRITEDATA, unmanaged.toOpaque()) }
            guard result == CURLE_OK else { return result }
            if let body {
                return body.withUnsafeBufferPointer { pointer in
                    // POSTFIELDS is not copied: the request runs while the buffer is lent.
                    var r = swallow_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, pointer.count)
                    if r == CURLE_OK {
                        r = swallow_curl_set_pointer(handle, CURLOPT_POSTFIELDS,
                                                     UnsafeMutableRawPointer(mutating: pointer.baseAddress ?? UnsafePointer(bitPattern: 1)!))
                    }
                    return r == CURLE_OK ? curl_easy_perform(handle) : r
                }
            }
            return curl_easy_perform(handle)
        }
        guard code == CURLE_OK else {
            let detail = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            let tls: Set<UInt32> = [CURLE_SSL_CERTPROBLEM.rawValue, CURLE_SSL_CACERT_BADFILE.rawValue,
                                    CURLE_SSL_CRL_BADFILE.rawValue]
            throw SchemaRegistryError(code: tls.contains(code.rawValue) ? .tlsConfiguration : .unreachable,
                                      subject: subject, message: "\(url): \(reason)")
        }
        var status = 0
        _ = swallow_curl_response_code(handle, &status)
        return (status, response.bytes)
    }
}

/// How long to wait before the next try of a registry request that failed retriably: exponential from
/// `initial`, capped at `maximum`; no more tries once `budget` has passed since the first.
public struct SchemaRegistryRetry: Sendable, Equatable {
    public var initialMilliseconds: Int
    public var maximumMilliseconds: Int
    public var budgetMilliseconds: Int

    public init(initialMilliseconds: Int = 250, maximumMilliseconds: Int = 10_000, budgetMilliseconds: Int = 120_000) {
        self.initialMilliseconds = initialMilliseconds
        self.maximumMilliseconds = maximumMilliseconds
        self.budgetMilliseconds = budgetMilliseconds
    }

    /// The wait before try `attempt + 1` (attempt counts from 1), or nil when `elapsed` leaves no room
    /// for another try.
    public func delay(afterAttempt attempt: Int, elapsedMilliseconds elapsed: Int) -> Int? {
        guard elapsed < budgetMilliseconds else { return nil }
        let exponent = min(max(attempt - 1, 0), 20)
        let wait = min(maximumMilliseconds, initialMilliseconds << exponent)
        return min(wait, budgetMilliseconds - elapsed)
    }
}
