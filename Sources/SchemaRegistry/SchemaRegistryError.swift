/// Why a Schema Registry request failed: a code to branch on, whether trying again can help (an
/// unreachable, slow or failing registry: yes; a refused schema, a wrong password: no), the HTTP status
/// and Confluent error code when the registry answered, the subject, and the registry's own message.
public struct SchemaRegistryError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No registry URL could be reached (connection refused, DNS, TLS handshake) or none answered in
        /// time.
        case unreachable
        /// The registry answered with a server error (5xx).
        case serverError
        /// The registry refused the schema as incompatible with the subject's earlier versions (409).
        case incompatible
        /// The registry refused the schema as invalid (422).
        case invalidSchema
        /// The subject or the schema is not registered (404): a lookup without auto-registration.
        case notFound
        /// The registry refused the credentials (401) or the permission (403).
        case unauthorized
        /// Any other refusal (4xx) or an answer that is not the API's JSON.
        case rejected
        /// The TLS files cannot be used (unreadable, wrong format, key not matching).
        case tlsConfiguration
    }

    public var code: Code
    /// The subject the request was about; empty for requests by id.
    public var subject: String
    /// HTTP status, when the registry answered.
    public var httpStatus: Int?
    /// Confluent's `error_code` (e.g. 40901, 42201), when the answer had one.
    public var registryErrorCode: Int?
    /// The registry's `message`, or what went wrong underneath (curl's error text).
    public var message: String
    public var underlying: (any Error & Sendable)?

    public init(code: Code, subject: String, httpStatus: Int? = nil, registryErrorCode: Int? = nil, message: String,
                underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.subject = subject
        self.httpStatus = httpStatus
        self.registryErrorCode = registryErrorCode
        self.message = message
        self.underlying = underlying
    }

    public var isRetriable: Bool {
        switch code {
        case .unreachable, .serverError: true
        case .incompatible, .invalidSchema, .notFound, .unauthorized, .rejected, .tlsConfiguration: false
        }
    }

    public var description: String {
        var text = code.rawValue
        if !subject.isEmpty { text += " (subject \(subject))" }
        if let httpStatus { text += ": HTTP \(httpStatus)" }
        if let registryErrorCode { text += " error_code \(registryErrorCode)" }
        return text + ": " + message
    }
}
