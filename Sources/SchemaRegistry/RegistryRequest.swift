import Foundation

/// The Confluent Schema Registry REST API calls a serializer makes (Confluent's RestService): their
/// paths, bodies and how answers are read. Pure: `SchemaRegistryClient` sends them.
enum RegistryRequest {
    static let contentType = "application/vnd.schemaregistry.v1+json"
    static let accept = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5"

    /// A path segment with everything but RFC 3986's unreserved characters percent-encoded (a subject may
    /// hold any character).
    static func segment(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// `POST /subjects/{subject}/versions`: registers (or finds) the schema, answers `{"id":…}`.
    static func registerPath(subject: String) -> String { "/subjects/\(segment(subject))/versions" }

    /// `POST /subjects/{subject}`: looks the schema up, answers `{"subject","version","id","schema"}`.
    static func lookupPath(subject: String) -> String { "/subjects/\(segment(subject))" }

    /// `GET /schemas/ids/{id}`: the schema of an id, `{"schema":…}`.
    static func schemaPath(id: Int32) -> String { "/schemas/ids/\(id)" }

    /// `{"schema":"<schema string>"}` (AVRO is the default schemaType, which Confluent's client omits).
    static func schemaBody(_ schema: String) -> [UInt8] {
        (try? JSONSerialization.data(withJSONObject: ["schema": schema], options: [.withoutEscapingSlashes]))
            .map { [UInt8]($0) } ?? []
    }

    /// The `id` of a register or lookup answer.
    static func id(from body: [UInt8], subject: String) throws(SchemaRegistryError) -> Int32 {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let number = object["id"] as? NSNumber, let id = Int32(exactly: number.int64Value) else {
            throw SchemaRegistryError(code: .rejected, subject: subject, httpStatus: 200,
                                      message: "the registry's answer has no schema id (is the URL a Confluent-compatible Schema Registry?)")
        }
        return id
    }

    static func schema(from body: [UInt8]) throws(SchemaRegistryError) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let schema = object["schema"] as? String else {
            throw SchemaRegistryError(code: .rejected, subject: "", httpStatus: 200,
                                      message: "the registry's answer has no schema")
        }
        return schema
    }

    /// The error an answer with `status` (not 2xx) stands for; Confluent's body is
    /// `{"error_code":40901,"message":"…"}`.
    static func error(status: Int, body: [UInt8], subject: String) -> SchemaRegistryError {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let errorCode = (object?["error_code"] as? NSNumber)?.intValue
        var message = object?["message"] as? String ?? ""
        if message.isEmpty {
            message = String(decoding: body.prefix(300), as: UTF8.self)
        }
        let code: SchemaRegistryError.Code
        switch status {
        case 409: code = .incompatible
        case 422: code = .invalidSchema
        case 404: code = .notFound
        case 401, 403: code = .unauthorized
        case 408, 429, 500...599: code = .serverError
        default: code = .rejected
        }
        return SchemaRegistryError(code: code, subject: subject, httpStatus: status, registryErrorCode: errorCode,
                                   message: message)
    }
}
