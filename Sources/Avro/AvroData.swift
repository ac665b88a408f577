/// The Avro schema Confluent's AvroConverter (7.0, AvroData.fromConnectSchema with its defaults:
/// connect.meta.data on, enhanced schema support off, names not scrubbed) makes from a Connect schema.
///
/// The rules, as AvroData applies them:
/// - int8/int16 are Avro `int` with `"connect.type":"int8"|"int16"`; int32 `int`, int64 `long`,
///   float32 `float`, float64 `double`, boolean, string, bytes as themselves.
/// - A struct is a record named by the schema's name split at its last dot (namespace, name); an unnamed
///   struct is `io.confluent.connect.avro.ConnectDefault` (then `ConnectDefault2`, …, in order met).
/// - Properties on every non-union schema, in this order: `connect.doc`, `connect.version`,
///   `connect.parameters` (all parameters, in order), `connect.default`, `connect.name`, `connect.type`;
///   a Decimal's bytes get `scale` and `precision` (default 64) first and `logicalType: decimal` after
///   (unless the scale is negative or above the precision: then `logicalType` only when a precision was
///   given); Connect's Date, Time and Timestamp get `logicalType` date, time-millis, timestamp-millis.
/// - An optional schema is the union `["null", T]`, or `[T, "null"]` when it has a default; a record
///   field of an optional schema defaults to null, one with a Connect default to that default.
/// - A map with required string keys is an Avro map; arrays are arrays (their items as converted).
/// - A required schema met again (Connect equality) is the same Avro schema; a struct whose name was
///   already made into a record is that record (AvroData's cycle references).
public struct AvroData {
    private var nameIndex = 0
    private var converted: [ConnectSchema: AvroSchema] = [:]
    private var recordsByConnectName: [String: AvroSchema] = [:]

    static let namespace = "io.confluent.connect.avro"

    public init() {}

    /// The Avro schema of `schema`, or an error naming what Avro cannot take (an invalid name, a map
    /// with non-string keys).
    public static func avroSchema(for schema: ConnectSchema) throws(AvroError) -> AvroSchema {
        var data = AvroData()
        return try data.convert(schema, ignoreOptional: false)
    }

    private mutating func convertWithCycle(_ schema: ConnectSchema, ignoreOptional: Bool) throws(AvroError) -> AvroSchema {
        if let name = schema.name, let record = recordsByConnectName[name] {
            return ignoreOptional ? record : Self.makeOptional(schema, record)
        }
        return try convert(schema, ignoreOptional: ignoreOptional)
    }

    private mutating func convert(_ schema: ConnectSchema, ignoreOptional: Bool) throws(AvroError) -> AvroSchema {
        if !schema.isOptional, let cached = converted[schema] { return cached }

        var connectType: String?
        var properties: [JSONMember] = []
        var base: AvroSchema
        switch schema.kind {
        case .int8:
            connectType = "int8"
            base = .primitive(.int)
        case .int16:
            connectType = "int16"
            base = .primitive(.int)
        case .int32: base = .primitive(.int)
        case .int64: base = .primitive(.long)
        case .float32: base = .primitive(.float)
        case .float64: base = .primitive(.double)
        case .boolean: base = .primitive(.boolean)
        case .string: base = .primitive(.string)
        case .bytes:
            base = .primitive(.bytes)
            if schema.name?.lowercased() == Self.decimalName.lowercased() {
                let scale = Int(schema.parameter("scale") ?? "") ?? 0
                properties.append(JSONMember("scale", .number(String(scale))))
                let precision = schema.parameter("connect.decimal.precision").flatMap { Int($0) } ?? 64
                properties.append(JSONMember("precision", .number(String(precision))))
            }
        case .array:
            guard let items = schema.valueSchema else {
                throw AvroError(code: .unsupportedSchema, message: "array schema without items")
            }
            base = .array(items: try convertWithCycle(items, ignoreOptional: false), properties: [])
        case .map:
            guard let keys = schema.keySchema, let values = schema.valueSchema else {
                throw AvroError(code: .unsupportedSchema, message: "map schema without keys or values")
            }
            guard keys.kind == .string, !keys.isOptional else {
                // AvroData writes these as arrays of MapEntry records; no Debezium PostgreSQL type has them.
                throw AvroError(code: .unsupportedSchema,
                                message: "a map whose keys are not required strings has no Avro map form")
            }
            base = .map(values: try convertWithCycle(values, ignoreOptional: false), properties: [])
        case .struct:
            if schema.isOptional {
                let inner = try convertWithCycle(schema.required, ignoreOptional: false)
                let union = AvroSchema.union([.primitive(.null), inner])
                return union
            }
            let (namespace, name) = try names(schema.name)
            let doc = schema.parameter("io.confluent.connect.avro.record.doc")
            var fields: [AvroField] = []
            for field in schema.fields {
                try Self.validate(name: field.name, what: "field `\(field.name)` of record \(schema.name ?? name)")
                var defaultValue: JSONValue?
                if let value = field.schema.defaultValue {
                    defaultValue = try Self.avroDefault(field.schema, value)
                } else if field.schema.isOptional {
                    defaultValue = .null
                }
                let fieldSchema = try convert(field.schema, ignoreOptional: false)
                let fieldDoc = schema.parameter("io.confluent.connect.avro.field.doc." + field.name)
                fields.append(AvroField(name: field.name, schema: fieldSchema, doc: fieldDoc, defaultValue: defaultValue))
            }
            base = .record(AvroRecord(name: name, namespace: namespace, doc: doc, fields: fields))
        }

        if let doc = schema.doc { properties.append(JSONMember("connect.doc", .string(doc))) }
        if let version = schema.version { properties.append(JSONMember("connect.version", .number(String(version)))) }
        if let parameters = schema.parameters, !parameters.isEmpty {
            let kept = parameters.filter { $0.key != "io.confluent.connect.avro.field.default" }
            if !kept.isEmpty { properties.append(JSONMember("connect.parameters", .object(kept))) }
        }
        if let value = schema.defaultValue, schema.parameter("io.confluent.connect.avro.field.default") == nil {
            properties.append(JSONMember("connect.default", try Self.avroDefault(schema, value)))
        }
        if let name = schema.name { properties.append(JSONMember("connect.name", .string(name))) }
        if let connectType { properties.append(JSONMember("connect.type", .string(connectType))) }

        if let name = schema.name?.lowercased() {
            switch name {
            case Self.decimalName.lowercased():
                // Either Avro's decimal logical type (scale within 0...precision) or, outside that
                // range, AvroData's legacy property: `logicalType: decimal` both ways.
                Self.add(&properties, "logicalType", .string("decimal"))
            case "org.apache.kafka.connect.data.time":
                Self.add(&properties, "logicalType", .string("time-millis"))
            case "org.apache.kafka.connect.data.timestamp":
                Self.add(&properties, "logicalType", .string("timestamp-millis"))
            case "org.apache.kafka.connect.data.date":
                Self.add(&properties, "logicalType", .string("date"))
            default:
                break
            }
        }
        for parameter in schema.parameters ?? [] where parameter.key.hasPrefix("avro") {
            Self.add(&properties, parameter.key, parameter.value)
        }

        switch base {
        case .primitive(let type, _): base = .primitive(type, properties: properties)
        case .array(let items, _): base = .array(items: items, properties: properties)
        case .map(let values, _): base = .map(values: values, properties: properties)
        case .record(var record):
            record.properties = properties
            base = .record(record)
            if let name = schema.name { recordsByConnectName[name] = base }
        case .union: break
        }

        let final = ignoreOptional ? base : Self.makeOptional(schema, base)
        if !schema.isOptional { converted[schema] = final }
        return final
    }

    static let decimalName = "org.apache.kafka.connect.data.Decimal"

    /// Avro's JsonProperties.addProp: a key already present keeps its value.
    private static func add(_ properties: inout [JSONMember], _ key: String, _ value: JSONValue) {
        if !properties.contains(where: { $0.key == key }) { properties.append(JSONMember(key, value)) }
    }

    private static func makeOptional(_ schema: ConnectSchema, _ base: AvroSchema) -> AvroSchema {
        guard schema.isOptional else { return base }
        return schema.defaultValue != nil ? .union([base, .primitive(.null)]) : .union([.primitive(.null), base])
    }

    /// (namespace, name) of a record: the Connect name split at its last dot, or ConnectDefault.
    private mutating func names(_ connectName: String?) throws(AvroError) -> (String?, String) {
        guard let connectName, !connectName.isEmpty else {
            nameIndex += 1
            return (Self.namespace, "ConnectDefault" + (nameIndex > 1 ? String(nameIndex) : ""))
        }
        // Java's String.split drops trailing empty parts.
        var parts = connectName.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        while parts.count > 1, parts.last == "" { parts.removeLast() }
        let name = parts.removeLast()
        try Self.validate(name: name, what: "record name `\(name)` of \(connectName)")
        if parts.isEmpty { return (nil, name) }
        let namespace = parts.joined(separator: ".")
        return (namespace.isEmpty ? nil : namespace, name)
    }

    /// Avro's name rule (Schema.validateName): a letter or `_`, then letters, digits or `_`, where a
    /// letter or digit is one in Java's sense, tested per UTF-16 unit (so no character outside the BMP).
    static func validate(name: String, what: String) throws(AvroError) {
        var first = true
        var valid = !name.isEmpty
        for unit in name.utf16 where valid {
            let ok: Bool
            if unit == 0x5F {
                ok = true
            } else if let scalar = Unicode.Scalar(unit) {
                switch scalar.properties.generalCategory {
                case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: ok = true
                case .decimalNumber: ok = !first
                default: ok = false
                }
            } else {
                ok = false
            }
            valid = ok
            first = false
        }
        guard valid else {
            throw AvroError(code: .invalidName,
                            message: "\(what) is not a valid Avro name: Avro names start with a letter or _ and go on with letters, digits or _")
        }
    }

    /// AvroData.defaultValueFromConnect, from the default as JsonConverter wrote it.
    static func avroDefault(_ schema: ConnectSchema, _ value: JSONValue) throws(AvroError) -> JSONValue {
        if value == .null { return .null }
        switch schema.kind {
        case .int8, .int16, .int32, .int64, .float32, .float64, .boolean, .string:
            if schema.kind == .float32 || schema.kind == .float64, case .string = value {
                throw AvroError(code: .unsupportedSchema, message: "a NaN or infinite default has no Avro form")
            }
            return value
        case .bytes:
            // A byte array's default is its bytes as ISO-8859-1 characters.
            guard let text = value.stringValue, let bytes = Base64.decode(text) else {
                throw AvroError(code: .unsupportedSchema, message: "a bytes default that is not base64")
            }
            return .string(String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) })))
        case .array, .map, .struct:
            throw AvroError(code: .unsupportedSchema, message: "defaults of arrays, maps and structs are not supported")
        }
    }
}
