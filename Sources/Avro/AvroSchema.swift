/// An Avro schema: the types Confluent's AvroData makes from Connect schemas (no enum or fixed: those
/// need AvroData's `enhanced.avro.schema.support`, off by default and never used by Debezium's
/// converters). Properties keep their insertion order, as Avro's JsonProperties does, because
/// `Schema.toString` writes them in that order and the string is what a serializer registers.
public indirect enum AvroSchema: Sendable, Hashable {
    public enum Primitive: String, Sendable, Hashable {
        case null, boolean, int, long, float, double, bytes, string
    }

    case primitive(Primitive, properties: [JSONMember])
    case record(AvroRecord)
    case array(items: AvroSchema, properties: [JSONMember])
    case map(values: AvroSchema, properties: [JSONMember])
    case union([AvroSchema])

    public static func primitive(_ type: Primitive) -> AvroSchema { .primitive(type, properties: []) }

    /// The string Avro's `Schema.toString()` returns: what Confluent's serializers register.
    public var canonicalString: String {
        var writer = AvroSchemaWriter()
        writer.write(self)
        return String(decoding: writer.out, as: UTF8.self)
    }

    /// Parses an Avro schema as `Schema.Parser` reads one (named types defined once, referenced after by
    /// name): the decoder's input when a registry returns a schema by id.
    public static func parse(_ text: String) throws(AvroError) -> AvroSchema {
        var reader = AvroSchemaReader()
        return try reader.read(try JSONValue.parse(text), namespace: nil)
    }

    /// The full name of a record, nil for other types.
    public var fullName: String? {
        if case .record(let record) = self { return record.fullName }
        return nil
    }

    /// The property `key` of a non-union schema.
    public func property(_ key: String) -> JSONValue? {
        switch self {
        case .primitive(_, let properties), .array(_, let properties), .map(_, let properties):
            return properties.first { $0.key == key }?.value
        case .record(let record):
            return record.properties.first { $0.key == key }?.value
        case .union:
            return nil
        }
    }
}

public struct AvroRecord: Sendable, Hashable {
    public var name: String
    public var namespace: String?
    public var doc: String?
    public var fields: [AvroField]
    public var properties: [JSONMember]

    public init(name: String, namespace: String?, doc: String? = nil, fields: [AvroField], properties: [JSONMember] = []) {
        self.name = name
        self.namespace = namespace
        self.doc = doc
        self.fields = fields
        self.properties = properties
    }

    public var fullName: String { namespace.map { "\($0).\(name)" } ?? name }
}

public struct AvroField: Sendable, Hashable {
    public var name: String
    public var schema: AvroSchema
    public var doc: String?
    /// nil: no default; `.null`: `"default":null`.
    public var defaultValue: JSONValue?

    public init(name: String, schema: AvroSchema, doc: String? = nil, defaultValue: JSONValue? = nil) {
        self.name = name
        self.schema = schema
        self.doc = doc
        self.defaultValue = defaultValue
    }
}

/// Avro 1.11's `Schema.toJson(Names, JsonGenerator)`: a record already written is written again as its
/// name (relative to the enclosing namespace when it shares it); a record's namespace is written only
/// when it differs from the enclosing one; fields as name, type, doc, default; then properties.
struct AvroSchemaWriter {
    var out: [UInt8] = []
    /// Records already written, by full name (Avro's `Names`).
    private var written: [String: AvroRecord] = [:]
    /// The enclosing namespace (`Names.space`).
    private var space: String?

    mutating func write(_ schema: AvroSchema) {
        switch schema {
        case .primitive(let type, let properties):
            if properties.isEmpty {
                JSONText.appendString(type.rawValue, to: &out)
            } else {
                raw("{\"type\":")
                JSONText.appendString(type.rawValue, to: &out)
                writeProperties(properties)
                raw("}")
            }
        case .array(let items, let properties):
            raw("{\"type\":\"array\",\"items\":")
            write(items)
            writeProperties(properties)
            raw("}")
        case .map(let values, let properties):
            raw("{\"type\":\"map\",\"values\":")
            write(values)
            writeProperties(properties)
            raw("}")
        case .union(let branches):
            raw("[")
            for (i, branch) in branches.enumerated() {
                if i > 0 { raw(",") }
                write(branch)
            }
            raw("]")
        case .record(let record):
            if written[record.fullName] == record {
                // getQualified(names.space): the short name inside its own namespace.
                let qualified = record.namespace == nil || record.namespace == space ? record.name : record.fullName
                JSONText.appendString(qualified, to: &out)
                return
            }
            written[record.fullName] = record
            let saved = space
            raw("{\"type\":\"record\",\"name\":")
            JSONText.appendString(record.name, to: &out)
            if let namespace = record.namespace {
                if namespace != space {
                    raw(",\"namespace\":")
                    JSONText.appendString(namespace, to: &out)
                }
            } else if space != nil {
                raw(",\"namespace\":\"\"")
            }
            space = record.namespace
            if let doc = record.doc {
                raw(",\"doc\":")
                JSONText.appendString(doc, to: &out)
            }
            raw(",\"fields\":[")
            for (i, field) in record.fields.enumerated() {
                if i > 0 { raw(",") }
                raw("{\"name\":")
                JSONText.appendString(field.name, to: &out)
                raw(",\"type\":")
                write(field.schema)
                if let doc = field.doc {
                    raw(",\"doc\":")
                    JSONText.appendString(doc, to: &out)
                }
                if let value = field.defaultValue {
                    raw(",\"default\":")
                    JSONText.append(value, to: &out)
                }
                raw("}")
            }
            raw("]")
            writeProperties(record.properties)
            raw("}")
            space = saved
        }
    }

    private mutating func writeProperties(_ properties: [JSONMember]) {
        for property in properties {
            raw(",")
            JSONText.appendString(property.key, to: &out)
            raw(":")
            JSONText.append(property.value, to: &out)
        }
    }

    private mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }
}

/// Reads Avro schema JSON (the subset `AvroSchema` models, plus `enum` and `fixed` refused by name).
struct AvroSchemaReader {
    private var named: [String: AvroRecord] = [:]

    private static let reserved: Set<String> = ["type", "name", "namespace", "doc", "fields", "items", "values",
                                                "symbols", "size", "aliases", "default", "order"]

    mutating func read(_ json: JSONValue, namespace: String?) throws(AvroError) -> AvroSchema {
        switch json {
        case .string(let name):
            if let primitive = AvroSchema.Primitive(rawValue: name) { return .primitive(primitive) }
            let full = name.contains(".") || namespace == nil ? name : "\(namespace!).\(name)"
            if let record = named[full] ?? named[name] { return .record(record) }
            throw AvroError(code: .unsupportedSchema, message: "unknown Avro type \(name)")
        case .array(let branches):
            var schemas: [AvroSchema] = []
            for branch in branches { schemas.append(try read(branch, namespace: namespace)) }
            return .union(schemas)
        case .object(let members):
            guard let type = json["type"] else { throw AvroError(code: .unsupportedSchema, message: "Avro schema without a type") }
            let properties = members.filter { !Self.reserved.contains($0.key) }
            switch type.stringValue {
            case "record":
                guard let fullName = json["name"]?.stringValue else {
                    throw AvroError(code: .unsupportedSchema, message: "record without a name")
                }
                var name = fullName
                var space = json["namespace"]?.stringValue ?? namespace
                if let dot = fullName.lastIndex(of: ".") {
                    space = String(fullName[..<dot])
                    name = String(fullName[fullName.index(after: dot)...])
                }
                if space == "" { space = nil }
                guard case .array(let fieldList)? = json["fields"] else {
                    throw AvroError(code: .unsupportedSchema, message: "record \(fullName) without fields")
                }
                var record = AvroRecord(name: name, namespace: space, doc: json["doc"]?.stringValue, fields: [],
                                        properties: properties)
                for field in fieldList {
                    guard let fieldName = field["name"]?.stringValue, let fieldType = field["type"] else {
                        throw AvroError(code: .unsupportedSchema, message: "a field of record \(fullName) has no name or type")
                    }
                    record.fields.append(AvroField(name: fieldName, schema: try read(fieldType, namespace: space),
                                                   doc: field["doc"]?.stringValue, defaultValue: field["default"]))
                }
                named[record.fullName] = record
                return .record(record)
            case "array":
                guard let items = json["items"] else { throw AvroError(code: .unsupportedSchema, message: "array without items") }
                return .array(items: try read(items, namespace: namespace), properties: properties)
            case "map":
                guard let values = json["values"] else { throw AvroError(code: .unsupportedSchema, message: "map without values") }
                return .map(values: try read(values, namespace: namespace), properties: properties)
            case let name?:
                if let primitive = AvroSchema.Primitive(rawValue: name) { return .primitive(primitive, properties: properties) }
                throw AvroError(code: .unsupportedSchema, message: "Avro type \(name) is not supported here")
            case nil:
                return try read(type, namespace: namespace)
            }
        default:
            throw AvroError(code: .unsupportedSchema, message: "not an Avro schema: \(json.json)")
        }
    }
}
