/// A Kafka Connect schema, read from the JSON that Connect's JsonConverter writes with
/// `schemas.enable=true` (what Swallow's `envelope.schemas` output carries): the input of Confluent's
/// AvroData.fromConnectSchema, which `AvroData` follows.
public struct ConnectSchema: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case int8, int16, int32, int64, float32 = "float", float64 = "double", boolean, string, bytes
        case array, map, `struct`
    }

    public struct Field: Sendable, Hashable {
        public var name: String
        public var schema: ConnectSchema
    }

    public var kind: Kind
    public var isOptional: Bool
    public var name: String?
    public var version: Int?
    public var doc: String?
    /// Connect parameters in their order (SchemaBuilder keeps a LinkedHashMap).
    public var parameters: [JSONMember]?
    /// The default value, as JsonConverter writes it (bytes as base64).
    public var defaultValue: JSONValue?
    public var fields: [Field] = []
    /// Array items or map values.
    private var elements: [ConnectSchema] = []
    /// Map keys.
    private var keys: [ConnectSchema] = []

    public var valueSchema: ConnectSchema? { elements.first }
    public var keySchema: ConnectSchema? { keys.first }

    public init(kind: Kind, isOptional: Bool = false, name: String? = nil, version: Int? = nil, doc: String? = nil,
                parameters: [JSONMember]? = nil, defaultValue: JSONValue? = nil, fields: [Field] = [],
                valueSchema: ConnectSchema? = nil, keySchema: ConnectSchema? = nil) {
        self.kind = kind
        self.isOptional = isOptional
        self.name = name
        self.version = version
        self.doc = doc
        self.parameters = parameters
        self.defaultValue = defaultValue
        self.fields = fields
        self.elements = valueSchema.map { [$0] } ?? []
        self.keys = keySchema.map { [$0] } ?? []
    }

    /// The parameter `key`, if set.
    public func parameter(_ key: String) -> String? {
        parameters?.first { $0.key == key }?.value.stringValue
    }

    /// The same schema, required (Connect's `nonOptional`).
    var required: ConnectSchema {
        var copy = self
        copy.isOptional = false
        return copy
    }

    /// Reads JsonConverter's schema JSON (`{"type":"struct","fields":[…],"optional":false,"name":…}`).
    public init(json: JSONValue) throws(AvroError) {
        guard case .object = json else {
            throw AvroError(code: .unsupportedSchema, message: "a Connect schema must be a JSON object")
        }
        guard let typeName = json["type"]?.stringValue, let kind = Kind(rawValue: typeName) else {
            throw AvroError(code: .unsupportedSchema, message: "unknown Connect schema type \(json["type"]?.json ?? "(none)")")
        }
        self.kind = kind
        isOptional = json["optional"]?.boolValue ?? false
        name = json["name"]?.stringValue
        version = json["version"]?.intValue
        doc = json["doc"]?.stringValue
        if case .object(let members)? = json["parameters"] {
            parameters = members
        }
        if let value = json["default"], value != .null { defaultValue = value }
        switch kind {
        case .struct:
            guard case .array(let list)? = json["fields"] else {
                throw AvroError(code: .unsupportedSchema, message: "struct schema \(name ?? "(unnamed)") has no fields")
            }
            for item in list {
                guard let fieldName = item["field"]?.stringValue else {
                    throw AvroError(code: .unsupportedSchema, message: "a field of \(name ?? "(unnamed)") has no name")
                }
                fields.append(Field(name: fieldName, schema: try ConnectSchema(json: item)))
            }
        case .array:
            guard let items = json["items"] else {
                throw AvroError(code: .unsupportedSchema, message: "array schema without items")
            }
            elements = [try ConnectSchema(json: items)]
        case .map:
            guard let keySchema = json["keys"], let valueSchema = json["values"] else {
                throw AvroError(code: .unsupportedSchema, message: "map schema without keys or values")
            }
            keys = [try ConnectSchema(json: keySchema)]
            elements = [try ConnectSchema(json: valueSchema)]
        default:
            break
        }
    }

    public init(json bytes: [UInt8]) throws(AvroError) {
        try self.init(json: try JSONValue.parse(bytes))
    }
}
