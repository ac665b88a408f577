/// What topic routing (Debezium's ByLogicalTableRouter) changes in a routed table's records, decided once
/// per table (`SwallowCore.LogicalTableRouter`) and written while encoding:
///
/// - the Connect schema names: the key `<new topic>.Key`, the envelope `<new topic>.Envelope` and its
///   row `<new topic>.Value` (adjusted for Avro unless `schema.name.adjustment.mode: none`);
/// - with `key.enforce.uniqueness`, the key's last field, a required string naming the physical table
///   (by default its own topic): `{"id":1,"__dbz__physicalTableIdentifier":"app.public.orders_1"}`.
///
/// The `source` block, `before`/`after`, tombstones' null values and the key-change headers
/// (`__debezium.oldkey`/`newkey`, which hold the keys as the connector made them) stay as they are.
public struct TableRouting: Sendable, Equatable {
    public var keySchemaName: String
    public var valueSchemaName: String
    public var envelopeSchemaName: String
    /// The field added last to the key: name and value; nil with `key.enforce.uniqueness: false`.
    public var keyField: KeyField?

    public struct KeyField: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(keySchemaName: String, valueSchemaName: String, envelopeSchemaName: String, keyField: KeyField?) {
        self.keySchemaName = keySchemaName
        self.valueSchemaName = valueSchemaName
        self.envelopeSchemaName = envelopeSchemaName
        self.keyField = keyField
    }

    /// `,"<name>":"<value>"`: what the key's JSON object gets before its closing brace.
    var keyFieldJSON: [UInt8] {
        guard let keyField else { return [] }
        var out = JSONOutput(capacity: keyField.name.utf8.count + keyField.value.utf8.count + 8)
        out.append(Ascii.comma)
        JSON.appendString(&out, keyField.name)
        out.append(Ascii.colon)
        JSON.appendString(&out, keyField.value)
        return out.bytes()
    }
}
