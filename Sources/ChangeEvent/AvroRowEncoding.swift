import Avro

// `events.format: avro`: a table's keys and row changes written as Avro binary straight from the column
// values, as AvroConverter writes the Connect records Debezium makes of them.
//
// The shapes come from the table's Connect schemas (`AvroShape`, AvroData's derivation), made once per
// table; a record is then its fields in schema order:
//
//   key      one field per key column (then topic routing's `__dbz__physicalTableIdentifier`)
//   value    before, after   union of null and the row record (one field per column)
//            source          the io.debezium.connector.postgresql.Source record
//            transaction     union of null and the transaction block
//            op              string
//            ts_ms, ts_us, ts_ns   union of null and long
//
// Strings (valid UTF-8), integers and booleans are written directly: a string's Avro form is its
// length and its bytes, so PostgreSQL's text is copied with no escaping. Every other value is converted
// by the JSON path's converters into a scratch buffer, one value at a time, and transcoded by the
// shape — the conversion the JSON events are checked with against Debezium, so both formats carry the
// same values (AvroGoldenTests decodes them against Debezium's JSON).
//
// Records start with five bytes of room for Confluent's header (magic byte 0, the schema id), which the
// delivery path fills in once the registry has given the id (`AvroSerialization`).

/// A table's Avro shapes and the writers of their fields, made once per `TableSchema` (its `avro`). A
/// class, and per column a slot of plain values: an event reads the plan without retaining its parts.
public final class AvroTablePlan: Sendable {
    /// How one column is written: plain values, so reading a slot retains nothing.
    struct Slot {
        /// The column's index in the row.
        let column: Int
        /// The union index of null, or -1 when the field is required.
        let nullBranch: Int64
        /// Whether SQL NULL is Avro's null (an optional field of a nullable column); else the JSON path's
        /// fallback (NOT NULL columns without a value) is transcoded.
        let nullIsNull: Bool
        /// A column mask applies (the value's row images).
        let masked: Bool
        let direct: Direct

        /// Values written without their JSON: the field's Avro type and the column's conversion agree.
        enum Direct {
            /// PostgreSQL's text is the string.
            case string
            case integer(min: Int64, max: Int64)
            case boolean
            /// A Connect Decimal of this scale from a numeric column: the unscaled value's bytes.
            case decimal(scale: Int)
            /// A Connect Decimal of scale 2 from a money column.
            case money
            /// A string made by a converter (a timestamp, an interval...): the JSON string's contents,
            /// when they need no unescaping.
            case convertedString
            case none
        }

        init(column: Int, field: AvroValueWriter, table: TableSchema, masked: Bool) {
            self.column = column
            nullBranch = field.nullBranch ?? -1
            nullIsNull = field.nullBranch != nil && table.columns[column].isOptional
            self.masked = masked
            switch (field.direct, table.kinds[column]) {
            case (.string, .string): direct = .string
            case (.integer(let min, let max), .integer(let kindMin, let kindMax)):
                direct = .integer(min: Swift.max(min, kindMin), max: Swift.min(max, kindMax))
            case (.boolean, .bool): direct = .boolean
            case (.bytes, .decimal(let scale)): direct = .decimal(scale: scale)
            case (.bytes, .money): direct = .money
            case (.string, _): direct = .convertedString
            default: direct = .none
            }
        }
    }

    /// The union index of null of `before`/`after`, `transaction`, `op`, `ts_ms`, `ts_us`, `ts_ns`, and
    /// of each source field (-1: required), read on every event without touching the writers.
    let rowNullBranch: Int64
    let transactionNullBranch: Int64
    let opNullBranch: Int64
    let timestampNullBranches: (ms: Int64, us: Int64, ns: Int64)
    let sourceNullBranches: [Int64]

    /// The key's shape; nil when the table has no key.
    public let key: AvroShape?
    /// The value's (the change event envelope's) shape.
    public let value: AvroShape
    let keyFields: [AvroValueWriter]
    let keySlots: [Slot]
    /// Topic routing's key field, as Avro (its branch and string), written after the key columns.
    let keyTrailer: [UInt8]
    /// The row record's fields: one per value column, in column order.
    let rowFields: [AvroValueWriter]
    let rowSlots: [Slot]
    let transaction: AvroValueWriter

    /// io.debezium.connector.postgresql.Source's fields, as `ChangeEventEncoder.appendSource` writes them.
    static let sourceFieldNames = ["version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us",
                                   "ts_ns", "schema", "table", "txId", "lsn", "xmin", "origin", "origin_lsn"]
    /// Which of them are strings (the others are longs).
    static let sourceStringFields: Set<String> = ["version", "connector", "name", "snapshot", "db", "sequence", "schema",
                                                  "table", "origin"]

    /// Room for Confluent's header at the start of every record: magic byte 0 and the 4-byte schema id.
    public static let headerSize = 5

    /// nil when the Connect schemas do not have the layout above (they always do for a table's change
    /// events; should a future option change it, records take the transcoding path instead).
    init?(table: TableSchema, keySchemaJSON: [UInt8]?, valueSchemaJSON: [UInt8]) {
        guard let value = try? AvroShape(connectSchemaJSON: valueSchemaJSON),
              let envelope = value.writer.fields,
              envelope.map(\.name) == ["before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns"],
              envelope[0].nullBranch == envelope[1].nullBranch, envelope[3].nullBranch != nil,
              let rowFields = envelope[0].fields,
              rowFields.map(\.name) == table.valueColumnIndexes.map({ table.fieldName($0) }),
              envelope[0].nullBranch != nil, envelope[1].nullBranch != nil,
              envelope[4].direct == .string, envelope[5].direct == .integer(min: .min, max: .max),
              envelope[6].direct == .integer(min: .min, max: .max), envelope[7].direct == .integer(min: .min, max: .max)
        else { return nil }
        guard let sourceFields = envelope[2].fields, sourceFields.map(\.name) == Self.sourceFieldNames,
              envelope[2].nullBranch == nil,
              sourceFields.allSatisfy({ field in
                  field.direct == (Self.sourceStringFields.contains(field.name) ? .string : .integer(min: .min, max: .max))
              })
        else { return nil }
        sourceNullBranches = sourceFields.map { $0.nullBranch ?? -1 }
        rowNullBranch = envelope[0].nullBranch!
        transactionNullBranch = envelope[3].nullBranch ?? -1
        opNullBranch = envelope[4].nullBranch ?? -1
        timestampNullBranches = (envelope[5].nullBranch ?? -1, envelope[6].nullBranch ?? -1, envelope[7].nullBranch ?? -1)
        self.value = value
        self.rowFields = rowFields
        rowSlots = zip(table.valueColumnIndexes, rowFields).map { column, field in
            Slot(column: column, field: field, table: table, masked: table.masks[column] != nil)
        }
        transaction = envelope[3]

        guard let keySchemaJSON else {
            key = nil
            keyFields = []
            keySlots = []
            keyTrailer = []
            return
        }
        guard let key = try? AvroShape(connectSchemaJSON: keySchemaJSON), let fields = key.writer.fields else { return nil }
        var names = table.keyColumnIndexes.map { table.fieldName($0) }
        var trailer: [UInt8] = []
        if let keyField = table.routing?.keyField {
            names.append(keyField.name)
            guard let last = fields.last, last.direct == .string else { return nil }
            last.writeValueBranch(into: &trailer)
            var text = keyField.value
            text.withUTF8 { AvroValueWriter.appendString($0, to: &trailer) }
        }
        guard fields.map(\.name) == names else { return nil }
        self.key = key
        keyFields = Array(fields.prefix(table.keyColumnIndexes.count))
        keySlots = zip(table.keyColumnIndexes, keyFields).map { column, field in
            Slot(column: column, field: field, table: table, masked: false)  // keys are never masked
        }
        keyTrailer = trailer
    }
}

extension ChangeEventEncoder {
    /// The Avro key of `row` (after the header's room); nil when the table has no key columns. The
    /// table must have an Avro plan with a key (`table.avro?.key`).
    public func encodeAvroKey(table: TableSchema, row: [ColumnValue]) throws(ChangeEventError) -> [UInt8]? {
        guard let plan = table.avro, plan.key != nil, !table.keyColumnIndexes.isEmpty else { return nil }
        try checkShape(table, row)
        var out = Self.avroRecord(capacity: 16 + table.keyColumnIndexes.count * 16)
        var json = JSONOutput(capacity: 64)
        try plan.keySlots.withUnsafeBufferPointer { (slots) throws(ChangeEventError) in
            for (i, slot) in slots.enumerated() {
                try appendAvroValue(&out, table: table, slot: slot, value: row[slot.column], fields: plan.keyFields, i,
                                    json: &json)
            }
        }
        out.append(contentsOf: plan.keyTrailer)
        return out.bytes()
    }

    /// The Avro value of a row change (c/u/d/r), after the header's room. The table must have an Avro
    /// plan (`table.avro`).
    public func encodeAvroRowChange(op: Operation, table: TableSchema, before: [ColumnValue]?, after: [ColumnValue]?,
                                    source: SourceInfo, eventTimeMillis: Int64) throws(ChangeEventError) -> [UInt8] {
        try encodeAvroRowChange(op: op, table: table, before: before, after: after, source: source, avroSource: nil,
                                transaction: source.transaction, eventTimeMillis: eventTimeMillis)
    }

    /// `encodeAvroRowChange` with a `source` record written beforehand by `encodeAvroSource` (snapshot
    /// records, whose source is the same for a whole table but for the marker).
    public func encodeAvroRowChange(op: Operation, table: TableSchema, before: [ColumnValue]?, after: [ColumnValue]?,
                                    avroSource: [UInt8], eventTimeMillis: Int64) throws(ChangeEventError) -> [UInt8] {
        try encodeAvroRowChange(op: op, table: table, before: before, after: after, source: nil, avroSource: avroSource,
                                transaction: nil, eventTimeMillis: eventTimeMillis)
    }

    /// The `source` record of `table`'s events as Avro; nil when the table has no Avro plan.
    public func encodeAvroSource(_ source: SourceInfo, table: TableSchema) throws(ChangeEventError) -> [UInt8]? {
        guard let plan = table.avro else { return nil }
        var out = JSONOutput(capacity: 256)
        appendAvroSource(&out, source, table: table, plan: plan)
        return out.bytes()
    }

    /// The `source` record, field by field as `appendSource` writes its JSON.
    private func appendAvroSource(_ out: inout JSONOutput, _ s: SourceInfo, table: TableSchema, plan: AvroTablePlan) {
        plan.sourceNullBranches.withUnsafeBufferPointer { branch in
            @inline(__always) func string(_ field: Int, _ value: String) {
                out.appendAvroValueBranch(branch[field])
                var value = value
                value.withUTF8 { out.appendAvroString($0) }
            }
            @inline(__always) func long(_ field: Int, _ value: Int64?) {
                guard let value else {
                    out.appendAvroNull(branch[field])
                    return
                }
                out.appendAvroValueBranch(branch[field])
                out.appendAvroLong(value)
            }
            string(0, s.connectorVersion)
            string(1, "postgresql")
            string(2, s.serverName)
            long(3, Temporal.floorDiv(s.commitTimeMicros, 1000))
            string(4, s.snapshot)
            string(5, s.database)
            // sequence: the JSON array [lastCommitLsn, lsn] of decimal strings, as a string.
            var sequence = JSONOutput(capacity: 48)
            sequence.append(Ascii.openBracket)
            for (i, lsn) in [s.lastCommitLSN, s.lsn].enumerated() {
                if i > 0 { sequence.append(Ascii.comma) }
                if let lsn {
                    sequence.append(Ascii.quote)
                    JSON.appendUInt(&sequence, lsn)
                    sequence.append(Ascii.quote)
                } else {
                    JSON.appendASCII(&sequence, "null")
                }
            }
            sequence.append(Ascii.closeBracket)
            out.appendAvroValueBranch(branch[6])
            sequence.withBytes { out.appendAvroString($0) }
            long(7, s.commitTimeMicros)
            long(8, s.commitTimeMicros &* 1000)
            string(9, table.schema)
            string(10, table.table)
            long(11, s.transactionID.map { Int64($0) })
            long(12, s.lsn.map { Int64(bitPattern: $0) })
            long(13, nil)
            if let origin = s.origin {
                string(14, origin.name)
                long(15, Int64(bitPattern: origin.lsn))
            } else {
                long(14, nil)
                long(15, nil)
            }
        }
    }

    /// With `source` its record is written; else `avroSource` is it, written beforehand.
    private func encodeAvroRowChange(
        op: Operation, table: TableSchema, before: [ColumnValue]?, after: [ColumnValue]?, source: SourceInfo?,
        avroSource: [UInt8]?, transaction: TransactionBlock?, eventTimeMillis: Int64
    ) throws(ChangeEventError) -> [UInt8] {
        guard let plan = table.avro else {
            throw ChangeEventError(code: .unsupportedOperation, schema: table.schema, table: table.table, column: "",
                                   typeName: "", reason: "the table has no Avro plan (events.format: avro)")
        }
        let opByte: UInt8
        switch op {
        case .create: opByte = UInt8(ascii: "c")
        case .update: opByte = UInt8(ascii: "u")
        case .delete: opByte = UInt8(ascii: "d")
        case .read: opByte = UInt8(ascii: "r")
        case .truncate, .message:
            throw ChangeEventError(code: .unsupportedOperation, schema: table.schema, table: table.table, column: "",
                                   typeName: "", reason: "op '\(op.rawValue)' is not a row change")
        }
        var out = Self.avroRecord(capacity: avroRowSize(before) + avroRowSize(after) + 256)
        var json = JSONOutput(capacity: 64)
        try appendAvroRow(&out, table: table, row: before, plan: plan, json: &json)
        try appendAvroRow(&out, table: table, row: after, plan: plan, json: &json)
        if let source {
            appendAvroSource(&out, source, table: table, plan: plan)
        } else if let avroSource {
            out.append(contentsOf: avroSource)
        }
        if let transaction {
            json.removeSubrange(0...)
            appendTransactionBlock(&json, transaction)
            try transcode(&out, json: json, field: plan.transaction, table: table)
        } else {
            out.appendAvroNull(plan.transactionNullBranch)
        }
        out.appendAvroValueBranch(plan.opNullBranch)
        out.append(2)  // a string of length 1 (zig-zag 2)
        out.append(opByte)
        out.appendAvroValueBranch(plan.timestampNullBranches.ms)
        out.appendAvroLong(eventTimeMillis)
        out.appendAvroValueBranch(plan.timestampNullBranches.us)
        out.appendAvroLong(eventTimeMillis &* 1000)
        out.appendAvroValueBranch(plan.timestampNullBranches.ns)
        out.appendAvroLong(eventTimeMillis &* 1_000_000)
        return out.bytes()
    }

    /// A record's buffer with the header's room (zeros until the delivery path writes the id).
    private static func avroRecord(capacity: Int) -> JSONOutput {
        var out = JSONOutput(capacity: capacity + AvroTablePlan.headerSize)
        for _ in 0..<AvroTablePlan.headerSize { out.append(0) }
        return out
    }

    private func avroRowSize(_ row: [ColumnValue]?) -> Int {
        guard let row else { return 1 }
        var size = row.count + 2
        for v in row {
            if case .text(let t) = v { size += t.count + 4 } else { size += 2 }
        }
        return size
    }

    private func appendAvroRow(_ out: inout JSONOutput, table: TableSchema, row: [ColumnValue]?,
                               plan: AvroTablePlan, json: inout JSONOutput) throws(ChangeEventError) {
        guard let row else {
            out.appendAvroNull(plan.rowNullBranch)
            return
        }
        try checkShape(table, row)
        out.appendAvroValueBranch(plan.rowNullBranch)
        try plan.rowSlots.withUnsafeBufferPointer { (slots) throws(ChangeEventError) in
            for (i, slot) in slots.enumerated() {
                try appendAvroValue(&out, table: table, slot: slot, value: row[slot.column], fields: plan.rowFields, i,
                                    json: &json)
            }
        }
    }

    /// A column's value as the Avro of its field (`fields[field]`): directly for strings, integers and
    /// booleans, else its JSON (the JSON path's conversion, or mask) transcoded.
    @inline(__always)
    private func appendAvroValue(_ out: inout JSONOutput, table: TableSchema, slot: AvroTablePlan.Slot, value: ColumnValue,
                                 fields: [AvroValueWriter], _ field: Int, json: inout JSONOutput) throws(ChangeEventError) {
        if !slot.masked {
            switch value {
            case .text(let text):
                let written = text.withUnsafeBufferPointer { p -> Bool in
                    switch slot.direct {
                    case .string:
                        guard UTF8Check.isValid(p) else { return false }
                        out.appendAvroValueBranch(slot.nullBranch)
                        out.appendAvroString(p)
                        return true
                    case .integer(let min, let max):
                        guard let v = try? ValueConverter.parseInt64(p), v >= min, v <= max else {
                            return false  // the JSON path's conversion names the problem
                        }
                        out.appendAvroValueBranch(slot.nullBranch)
                        out.appendAvroLong(v)
                        return true
                    case .boolean:
                        guard p.count == 1, p[0] == UInt8(ascii: "t") || p[0] == UInt8(ascii: "f") else { return false }
                        out.appendAvroValueBranch(slot.nullBranch)
                        out.append(p[0] == UInt8(ascii: "t") ? 1 : 0)
                        return true
                    case .decimal(let scale):
                        // NaN and infinities, and values the scale cannot hold: the JSON path says why.
                        guard let (negative, digits) = try? DecimalCodec.fixedDigits(p, scale: scale) else { return false }
                        out.appendAvroValueBranch(slot.nullBranch)
                        DecimalCodec.withUnscaledBytes(negative: negative, digits: digits) { out.appendAvroString($0) }
                        return true
                    case .money:
                        guard let cents = try? ValueConverter.parseMoneyCents(p) else { return false }
                        out.appendAvroValueBranch(slot.nullBranch)
                        DecimalCodec.withUnscaledBytes(cents) { out.appendAvroString($0) }
                        return true
                    case .convertedString, .none:
                        return false
                    }
                }
                if written { return }
            case .null:
                if slot.nullIsNull {
                    out.appendAvroNull(slot.nullBranch)
                    return
                }
            case .unchangedToast:
                break
            }
        }
        json.removeSubrange(0...)
        if slot.masked, let mask = table.masks[slot.column] {
            try appendMaskedValue(&json, table: table, index: slot.column, value: value, mask: mask)
        } else {
            try appendValue(&json, table: table, index: slot.column, value: value, kind: table.kinds[slot.column])
        }
        if case .convertedString = slot.direct, case .text = value {
            // A converter's string without escapes (timestamps, intervals, uuids): its contents are the
            // Avro string.
            let copied = json.withBytes { bytes -> Bool in
                let n = bytes.count
                guard n >= 2, bytes[0] == Ascii.quote, bytes[n - 1] == Ascii.quote,
                      !bytes[1..<(n - 1)].contains(Ascii.backslash) else { return false }
                out.appendAvroValueBranch(slot.nullBranch)
                out.appendAvroString(UnsafeBufferPointer(rebasing: bytes[1..<(n - 1)]))
                return true
            }
            if copied { return }
        }
        do throws(AvroError) {
            var avro: [UInt8] = []
            var scratch: [UInt8] = []
            try json.withBytes { (bytes) throws(AvroError) in try fields[field].write(json: bytes, into: &avro, scratch: &scratch) }
            out.append(contentsOf: avro)
        } catch {
            let plan = table.plans[slot.column]
            throw ChangeEventError(code: .invalidValue, schema: table.schema, table: table.table, column: plan.name,
                                   typeName: plan.typeName, reason: "cannot be written as Avro: \(error.message)")
        }
    }

    /// A JSON value of the envelope (the transaction block) transcoded as `field`.
    private func transcode(_ out: inout JSONOutput, json: borrowing JSONOutput, field: AvroValueWriter,
                           table: TableSchema) throws(ChangeEventError) {
        do throws(AvroError) {
            var avro: [UInt8] = []
            var scratch: [UInt8] = []
            try json.withBytes { (bytes) throws(AvroError) in try field.write(json: bytes, into: &avro, scratch: &scratch) }
            out.append(contentsOf: avro)
        } catch {
            throw ChangeEventError(code: .invalidValue, schema: table.schema, table: table.table, column: "",
                                   typeName: "", reason: "the \(field.name) block cannot be written as Avro: \(error.message)")
        }
    }
}

/// Whether bytes are valid UTF-8 (Avro strings are; PostgreSQL's text in a UTF-8 database is too, and
/// the JSON path replaces what is not, so such a value takes the JSON path here as well).
enum UTF8Check {
    static func isValid(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = p.count
        guard n > 0 else { return true }
        let start = p.baseAddress!
        var i = 0
        while i < n {
            // ASCII 32 bytes at a time (four words or'ed), then eight.
            while i &+ 32 <= n {
                let raw = UnsafeRawPointer(start + i)
                let words = raw.loadUnaligned(as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                    | raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self) | raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
                guard words & 0x8080_8080_8080_8080 == 0 else { break }
                i &+= 32
            }
            while i &+ 8 <= n, UnsafeRawPointer(start + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i &+= 8
            }
            guard i < n else { return true }
            if p[i] < 0x80 {
                i &+= 1
                continue
            }
            let length = JSON.validUTF8SequenceLength(p, i)
            guard length > 0 else { return false }
            i &+= length
        }
        return true
    }
}
