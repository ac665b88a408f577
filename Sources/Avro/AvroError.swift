/// Why a schema or a value could not be turned into Avro. Never carries row contents: messages name the
/// schema element (record, field) and what was wrong.
public struct AvroError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        /// A JSON text (Connect schema or payload) is malformed.
        case invalidJSON
        /// The Connect schema is not one JsonConverter writes, or uses a feature Avro cannot express here.
        case unsupportedSchema
        /// A record, field or namespace name is not a valid Avro name (Avro's rule:
        /// `[A-Za-z_][A-Za-z0-9_]*`, letters in the Unicode sense).
        case invalidName
        /// A value does not fit its schema.
        case valueMismatch
        /// Avro binary that does not decode with the schema given (the decoder's error).
        case invalidBinary
        /// A Confluent-framed message without magic byte 0 or shorter than its 5-byte header.
        case invalidFraming
    }

    public var code: Code
    public var message: String
    /// Nothing in this module can be cured by trying again.
    public var isRetriable: Bool { false }

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
