// Debezium PostgreSQL connector change events, as Kafka Connect's JsonConverter writes them with
// schemas.enable=false (payload only).
//
// Value conversion (Debezium defaults: decimal.handling.mode=precise, time.precision.mode=adaptive,
// binary.handling.mode=bytes, interval.handling.mode=numeric), input = pgoutput text format with
// DateStyle=ISO, IntervalStyle=postgres, lc_monetary=C, bytea_output=hex:
//
//   int2/int4/int8/oid   JSON integer (validated, range-checked per type; non-canonical text re-printed)
//   bool                 true/false
//   float4/float8        JSON number laid out like Java's Float/Double.toString ("1.0", "1.0E10",
//                        "1.5E-7"); NaN/Infinity/-Infinity as JSON strings (Jackson default)
//   numeric(p,s)         Kafka Connect Decimal: base64 of BigInteger.toByteArray(unscaled) (minimal
//                        big-endian two's complement); negative scales (PG 15+) divide exactly
//   numeric              io.debezium.data.VariableScaleDecimal {"scale":s,"value":"<base64>"} with trailing
//                        fraction zeros stripped (BigDecimal.stripTrailingZeros, scale >= 0)
//   numeric NaN/±Inf     null (Debezium itself fails on these in precise mode)
//   money                Decimal with scale 2 (HALF_UP beyond two fraction digits)
//   bytea                base64 (hex input; escape format accepted defensively)
//   date                 io.debezium.time.Date (epoch days); infinity -> -2147472692 (released Debezium's LocalDate -5877611-06-21),
//                        -infinity -> -2147472691 (-5877611-06-22), Debezium's PostgresValueConverter sentinels
//   time                 precision <= 3: Time (ms of day), else MicroTime (µs of day); 24:00:00 allowed
//   timestamp            precision <= 3: Timestamp (epoch ms), else MicroTimestamp (epoch µs);
//                        ±infinity -> PGStatement.DATE_POSITIVE/NEGATIVE_INFINITY read as µs (or ms)
//   timestamptz          ZonedTimestamp "yyyy-MM-ddTHH:mm:ss[.f]Z" in UTC, fraction padded to the column
//                        precision (default 6; DBZ-6163), java.time year style ("+21016", "-0043");
//                        "infinity"/"-infinity" passed through as strings
//   timetz               ZonedTime "HH:mm:ss[.f]Z" in UTC, trailing fraction zeros stripped
//   interval             MicroDuration, computed like Debezium (pgjdbc PGInterval fields, then
//                        MicroDuration.durationMicros with 365.25/12-day months in double arithmetic)
//   everything else      JSON string of the text (text types, uuid, json/jsonb, xml, bit, inet, ranges,
//                        arrays, enums, unknown/custom OIDs)
//
// Unchanged TOAST values become the placeholder: base64 of its UTF-8 bytes for bytea, the placeholder
// string for every other type (Debezium also uses the string for text-like types; for non-text types
// it has no meaningful representation either).

public struct ChangeEventEncoder: Sendable {
    /// The options tables are planned with (`TableSchema.options`); keys and values are converted as
    /// the table's own plan says.
    public let options: EncoderOptions
    /// With `envelope.schemas`: the schemas of logical-message and transaction records (fixed per encoder).
    private let messageKeySchema: [UInt8]?
    private let messageValueSchema: [UInt8]?
    private let transactionKeySchema: [UInt8]?
    private let transactionValueSchema: [UInt8]?
    private let heartbeatKeySchema: [UInt8]?
    private let heartbeatValueSchema: [UInt8]?

    public init(options: EncoderOptions = .init()) {
        self.options = options
        let schemas = options.includeSchemas
        messageKeySchema = schemas ? ConnectSchemas.messageKey : nil
        messageValueSchema = schemas ? ConnectSchemas.messageValue(binary: options.binaryHandling) : nil
        transactionKeySchema = schemas ? ConnectSchemas.transactionKey : nil
        transactionValueSchema = schemas ? ConnectSchemas.transactionValue : nil
        heartbeatKeySchema = schemas ? ConnectSchemas.heartbeatKey : nil
        heartbeatValueSchema = schemas ? ConnectSchemas.heartbeatValue : nil
    }

    // MARK: key

    /// Key JSON: object of the table's key columns in column order, e.g. `{"id":1}`; nil when the
    /// table has no key columns. Values are converted exactly like in the value.
    ///
    /// `routed: false` writes the key as the connector makes it before topic routing (`TableSchema.routing`):
    /// what Debezium's `__debezium.oldkey`/`newkey` headers carry, since the router leaves headers alone.
    public func encodeKey(table: TableSchema, row: [ColumnValue], routed: Bool = true) throws(ChangeEventError) -> [UInt8]? {
        let keys = table.keyColumnIndexes
        guard !keys.isEmpty else { return nil }
        try checkShape(table, row)
        let asRouted = routed || table.routing == nil
        return try record(schema: asRouted ? table.keySchemaJSON : table.unroutedKeySchemaJSON,
                          capacity: 16 + keys.count * 24) { out throws(ChangeEventError) in
            try appendObject(&out, table: table, row: row, indexes: keys,
                             trailingFields: asRouted ? table.keyRoutingFieldJSON : [])
        }
    }

    /// One record's bytes, `payload` written by `body`: with `envelope.schemas` (a `schema`),
    /// `{"schema":<schema>,"payload":<payload>}`, else the payload alone.
    @inline(__always)
    func record<E: Error>(schema: [UInt8]?, capacity: Int,
                                  _ body: (inout JSONOutput) throws(E) -> Void) throws(E) -> [UInt8] {
        var out = JSONOutput(capacity: capacity + (schema.map { $0.count + 24 } ?? 0))
        if let schema {
            JSON.appendASCII(&out, "{\"schema\":")
            out.append(contentsOf: schema)
            JSON.appendASCII(&out, ",\"payload\":")
        }
        try body(&out)
        if schema != nil { out.append(Ascii.closeBrace) }
        return out.bytes()
    }

    /// A record whose payload is one string field, `{"<field>":"<value>"}`: the keys of logical
    /// messages, transactions and heartbeats.
    private func singleStringRecord(schema: [UInt8]?, field: StaticString, value: String) -> [UInt8] {
        record(schema: schema, capacity: value.utf8.count + 24) { out in
            JSON.appendASCII(&out, "{\"")
            JSON.appendASCII(&out, field)
            JSON.appendASCII(&out, "\":")
            JSON.appendString(&out, value)
            out.append(Ascii.closeBrace)
        }
    }

    // MARK: row changes

    /// Value JSON envelope for c/u/d/r:
    /// `{"before":…,"after":…,"source":{…},"transaction":null,"op":"c","ts_ms":…,"ts_us":…,"ts_ns":…}`.
    public func encodeRowChange(op: Operation, table: TableSchema, before: [ColumnValue]?, after: [ColumnValue]?,
                                source: SourceInfo, eventTimeMillis: Int64) throws(ChangeEventError) -> [UInt8] {
        try encodeRowChange(op: op, table: table, before: before, after: after, transaction: source.transaction,
                            eventTimeMillis: eventTimeMillis) { out in
            appendSource(&out, source, schemaTable: table.sourceSchemaTableFields, txId: source.transactionID)
        }
    }

    /// `encodeRowChange` with a `source` block formatted beforehand by `encodeSource` (no transaction
    /// block): for snapshot records, whose source is the same for a whole table but for the marker.
    public func encodeRowChange(op: Operation, table: TableSchema, before: [ColumnValue]?, after: [ColumnValue]?,
                                sourceBlock: [UInt8], eventTimeMillis: Int64) throws(ChangeEventError) -> [UInt8] {
        try encodeRowChange(op: op, table: table, before: before, after: after, transaction: nil,
                            eventTimeMillis: eventTimeMillis) { out in out.append(contentsOf: sourceBlock) }
    }

    /// The `source` object of `table`'s events, as `encodeRowChange` writes it.
    public func encodeSource(_ source: SourceInfo, table: TableSchema) -> [UInt8] {
        var out = JSONOutput(capacity: 384)
        appendSource(&out, source, schemaTable: table.sourceSchemaTableFields, txId: source.transactionID)
        return out.bytes()
    }

    @inline(__always)
    private func encodeRowChange(op: Operation, table: TableSchema, before: [ColumnValue]?, after: [ColumnValue]?,
                                 transaction: TransactionBlock?, eventTimeMillis: Int64,
                                 appendSource: (inout JSONOutput) -> Void) throws(ChangeEventError) -> [UInt8] {
        switch op {
        case .create, .update, .delete, .read: break
        case .truncate, .message:
            throw ChangeEventError(code: .unsupportedOperation, schema: table.schema, table: table.table, column: "",
                                   typeName: "", reason: "op '\(op.rawValue)' is not a row change")
        }
        let capacity = estimatedSize(table, before) + estimatedSize(table, after) + 512
        return try record(schema: table.valueSchemaJSON, capacity: capacity) { out throws(ChangeEventError) in
            JSON.appendASCII(&out, "{\"before\":")
            try appendRow(&out, table: table, row: before)
            JSON.appendASCII(&out, ",\"after\":")
            try appendRow(&out, table: table, row: after)
            JSON.appendASCII(&out, ",\"source\":")
            appendSource(&out)
            appendEnvelopeTail(&out, op: op, transaction: transaction, eventTimeMillis: eventTimeMillis)
        }
    }

    /// Truncate event: before/after null, op "t", source with the table's schema/table.
    public func encodeTruncate(table: TableSchema, source: SourceInfo, eventTimeMillis: Int64) -> [UInt8] {
        record(schema: table.valueSchemaJSON, capacity: 512) { out in
            JSON.appendASCII(&out, "{\"before\":null,\"after\":null,\"source\":")
            appendSource(&out, source, schemaTable: table.sourceSchemaTableFields, txId: source.transactionID)
            appendEnvelopeTail(&out, op: .truncate, transaction: source.transaction, eventTimeMillis: eventTimeMillis)
        }
    }

    /// Key of a logical decoding message event: Debezium keys them by prefix, `{"prefix":"…"}`.
    public func encodeLogicalMessageKey(prefix: String) -> [UInt8] {
        singleStringRecord(schema: messageKeySchema, field: "prefix", value: prefix)
    }

    /// Logical decoding message event (Debezium's io.debezium.connector.postgresql.MessageValue, whose
    /// schema orders the fields op, ts_ms, source, transaction, message; no ts_us/ts_ns):
    /// `{"op":"m","ts_ms":…,"source":{…,"schema":"","table":"",…},"transaction":null,"message":{"prefix":"…","content":"<base64>"}}`.
    /// Non-transactional messages have `txId` null. `content` follows binary.handling.mode.
    public func encodeLogicalMessage(prefix: String, content: ArraySlice<UInt8>, isTransactional: Bool,
                                     source: SourceInfo, eventTimeMillis: Int64) -> [UInt8] {
        record(schema: messageValueSchema, capacity: 512 + content.count * 4 / 3) { out in
            JSON.appendASCII(&out, "{\"op\":\"m\",\"ts_ms\":")
            JSON.appendInt(&out, eventTimeMillis)
            JSON.appendASCII(&out, ",\"source\":")
            appendSource(&out, source, schemaTable: ChangeEventEncoder.emptySchemaTable,
                         txId: isTransactional ? source.transactionID : nil)
            JSON.appendASCII(&out, ",\"transaction\":")
            appendTransactionBlock(&out, source.transaction)
            JSON.appendASCII(&out, ",\"message\":{\"prefix\":")
            JSON.appendString(&out, prefix)
            JSON.appendASCII(&out, ",\"content\":")
            BinaryText.append(&out, content, mode: options.binaryHandling)
            JSON.appendASCII(&out, "}}")
        }
    }

    // MARK: heartbeats

    /// Key of a heartbeat record, Debezium's `HeartbeatImpl`: `{"serverName":"<topic prefix>"}`.
    public func encodeHeartbeatKey(serverName: String) -> [UInt8] {
        singleStringRecord(schema: heartbeatKeySchema, field: "serverName", value: serverName)
    }

    /// Value of a heartbeat record: `{"ts_ms":1795240218015}`, the time it was emitted.
    public func encodeHeartbeatValue(timestampMillis: Int64) -> [UInt8] {
        record(schema: heartbeatValueSchema, capacity: 32) { out in
            JSON.appendASCII(&out, "{\"ts_ms\":")
            JSON.appendInt(&out, timestampMillis)
            out.append(Ascii.closeBrace)
        }
    }

    // MARK: headers

    /// A header holding one string, as the JsonConverter that Debezium's engine writes headers with
    /// (the `converter.*` settings of keys and values) writes it: `"app"`, or under `envelope.schemas`
    /// `{"schema":{"type":"string","optional":false},"payload":"app"}`. Debezium's context headers.
    public func encodeStringHeader(_ value: String) -> [UInt8] {
        record(schema: options.includeSchemas ? ConnectSchemas.requiredString : nil, capacity: value.utf8.count + 8) { out in
            JSON.appendString(&out, value)
        }
    }

    // MARK: transaction metadata

    /// Key of a transaction metadata record: `{"id":"<xid>:<lsn>"}` (io.debezium.connector.common.TransactionMetadataKey).
    public func encodeTransactionKey(id: String) -> [UInt8] {
        singleStringRecord(schema: transactionKeySchema, field: "id", value: id)
    }

    /// `{"status":"BEGIN","id":"571:26372168","event_count":null,"data_collections":null,"ts_ms":…}`.
    public func encodeTransactionBegin(id: String, timestampMillis: Int64) -> [UInt8] {
        encodeTransactionValue(status: "BEGIN", id: id, eventCount: nil, dataCollections: nil, timestampMillis: timestampMillis)
    }

    /// `{"status":"END","id":"571:26373072","event_count":2,"data_collections":[{"data_collection":"public.t","event_count":2}],"ts_ms":…}`.
    public func encodeTransactionEnd(id: String, eventCount: Int64, dataCollections: [(name: String, eventCount: Int64)],
                                     timestampMillis: Int64) -> [UInt8] {
        encodeTransactionValue(status: "END", id: id, eventCount: eventCount, dataCollections: dataCollections,
                               timestampMillis: timestampMillis)
    }

    private func encodeTransactionValue(status: StaticString, id: String, eventCount: Int64?,
                                        dataCollections: [(name: String, eventCount: Int64)]?, timestampMillis: Int64) -> [UInt8] {
        record(schema: transactionValueSchema, capacity: 128 + (dataCollections?.count ?? 0) * 64) { out in
            JSON.appendASCII(&out, "{\"status\":\"")
            JSON.appendASCII(&out, status)
            JSON.appendASCII(&out, "\",\"id\":")
            JSON.appendString(&out, id)
            JSON.appendASCII(&out, ",\"event_count\":")
            if let eventCount { JSON.appendInt(&out, eventCount) } else { JSON.appendASCII(&out, "null") }
            JSON.appendASCII(&out, ",\"data_collections\":")
            if let dataCollections {
                out.append(Ascii.openBracket)
                for (i, collection) in dataCollections.enumerated() {
                    if i > 0 { out.append(Ascii.comma) }
                    JSON.appendASCII(&out, "{\"data_collection\":")
                    JSON.appendString(&out, collection.name)
                    JSON.appendASCII(&out, ",\"event_count\":")
                    JSON.appendInt(&out, collection.eventCount)
                    out.append(Ascii.closeBrace)
                }
                out.append(Ascii.closeBracket)
            } else {
                JSON.appendASCII(&out, "null")
            }
            JSON.appendASCII(&out, ",\"ts_ms\":")
            JSON.appendInt(&out, timestampMillis)
            out.append(Ascii.closeBrace)
        }
    }

    // MARK: pieces

    private static let emptySchemaTable: [UInt8] = Array(",\"schema\":\"\",\"table\":\"\"".utf8)

    private func estimatedSize(_ table: TableSchema, _ row: [ColumnValue]?) -> Int {
        guard let row else { return 4 }
        var size = table.fieldPrefixBytes.count + row.count + 2
        for v in row {
            switch v {
            case .null: size += 4
            case .unchangedToast: size += 64
            case .text(let t): size += t.count + t.count / 3 + 8
            }
        }
        return size
    }

    func checkShape(_ table: TableSchema, _ row: [ColumnValue]) throws(ChangeEventError) {
        if let unsupported = table.unsupportedTypeError { throw unsupported }
        guard row.count == table.plans.count else {
            throw ChangeEventError(code: .columnCountMismatch, schema: table.schema, table: table.table, column: "",
                                   typeName: "",
                                   reason: "row has \(row.count) values but the table has \(table.plans.count) columns")
        }
    }

    /// Runs `body` with unsafe views of the table's precomputed plan (one borrow per row, no per-field refcounting).
    @inline(__always)
    private func withTablePlan<R>(_ table: TableSchema,
                                  _ body: (UnsafeBufferPointer<ConverterKind>, UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<Int>) throws(ChangeEventError) -> R) throws(ChangeEventError) -> R {
        let result: Result<R, ChangeEventError> = table.kinds.withUnsafeBufferPointer { kinds in
            table.fieldPrefixBytes.withUnsafeBufferPointer { prefixes in
                table.fieldPrefixEnds.withUnsafeBufferPointer { ends in
                    do throws(ChangeEventError) {
                        return .success(try body(kinds, prefixes, ends))
                    } catch {
                        return .failure(error)
                    }
                }
            }
        }
        return try result.get()
    }

    private func appendRow(_ out: inout JSONOutput, table: TableSchema, row: [ColumnValue]?) throws(ChangeEventError) {
        guard let row else {
            JSON.appendASCII(&out, "null")
            return
        }
        try checkShape(table, row)
        try appendObject(&out, table: table, row: row, indexes: table.valueColumnIndexes, applyMasks: table.hasMasks)
    }

    /// The fields of a row image without the braces: `"a":…,"b":…` (a flattened record's row).
    func appendRowFields(_ out: inout JSONOutput, table: TableSchema, row: [ColumnValue]) throws(ChangeEventError) {
        try checkShape(table, row)
        try appendFields(&out, table: table, row: row, indexes: table.valueColumnIndexes, applyMasks: table.hasMasks)
    }

    /// `{"a":…,"b":…}` of the columns at `indexes` (the key's or the value's), with `trailingFields`
    /// (`,"name":value`..., already JSON: topic routing's key field) before the brace. Masks apply to the
    /// value's row images only: Debezium builds keys without its column mappers.
    private func appendObject(_ out: inout JSONOutput, table: TableSchema, row: [ColumnValue], indexes: [Int],
                              applyMasks: Bool = false, trailingFields: [UInt8] = []) throws(ChangeEventError) {
        out.append(Ascii.openBrace)
        try appendFields(&out, table: table, row: row, indexes: indexes, applyMasks: applyMasks)
        if !trailingFields.isEmpty { out.append(contentsOf: trailingFields) }
        out.append(Ascii.closeBrace)
    }

    private func appendFields(_ out: inout JSONOutput, table: TableSchema, row: [ColumnValue], indexes: [Int],
                              applyMasks: Bool) throws(ChangeEventError) {
        try withTablePlan(table) { (kinds, prefixes, ends) throws(ChangeEventError) in
            var first = true
            for index in indexes {
                if !first { out.append(Ascii.comma) }
                first = false
                if applyMasks, let mask = table.masks[index] {
                    try appendMaskedField(&out, table: table, index: index, value: row[index], mask: mask,
                                          prefixes: prefixes, ends: ends)
                    continue
                }
                try appendField(&out, table: table, index: index, value: row[index], kinds: kinds, prefixes: prefixes, ends: ends)
            }
        }
    }

    /// A masked column's field: the value as Debezium's column mapper leaves it (`ColumnMask`), applied
    /// to the converted value (a string, or bytea's bytes), the unchanged-TOAST placeholder included.
    private func appendMaskedField(_ out: inout JSONOutput, table: TableSchema, index: Int, value: ColumnValue,
                                   mask: PlannedMask, prefixes: UnsafeBufferPointer<UInt8>,
                                   ends: UnsafeBufferPointer<Int>) throws(ChangeEventError) {
        let start = index == 0 ? 0 : ends[index - 1]
        out.append(contentsOf: UnsafeBufferPointer(rebasing: prefixes[start..<ends[index]]))
        try appendMaskedValue(&out, table: table, index: index, value: value, mask: mask)
    }

    /// The JSON of a masked column's value (no field name).
    func appendMaskedValue(_ out: inout JSONOutput, table: TableSchema, index: Int, value: ColumnValue,
                           mask: PlannedMask) throws(ChangeEventError) {
        if mask.cutsBytes, case .truncate(let length) = mask.mask {
            let bytes: [UInt8]
            switch value {
            case .null:
                JSON.appendASCII(&out, "null")
                return
            case .unchangedToast:
                bytes = Array(options.toastPlaceholder.utf8)
            case .text(let text):
                do throws(ConversionFailure) {
                    bytes = try text.withUnsafeBufferPointer { p throws(ConversionFailure) in try ValueConverter.decodeBytea(p) }
                } catch {
                    let plan = table.plans[index]
                    throw ChangeEventError(code: .invalidValue, schema: table.schema, table: table.table,
                                           column: plan.name, typeName: plan.typeName, reason: error.reason)
                }
            }
            JSON.appendBase64String(&out, bytes.prefix(length))
            return
        }
        if case .text(let bytes) = value {
            let done = bytes.withUnsafeBufferPointer { p in
                mask.mask.apply(toUTF8: p, declaredLength: mask.declaredLength, into: &out)
            }
            if done { return }
        }
        let text: String? = switch value {
        case .null: nil
        case .unchangedToast: options.toastPlaceholder
        case .text(let bytes): String(decoding: bytes, as: UTF8.self)
        }
        if let masked = mask.mask.apply(toString: text, declaredLength: mask.declaredLength) {
            JSON.appendString(&out, masked)
        } else {
            JSON.appendASCII(&out, "null")
        }
    }

    @inline(__always)
    private func appendField(_ out: inout JSONOutput, table: TableSchema, index: Int, value: ColumnValue,
                             kinds: UnsafeBufferPointer<ConverterKind>, prefixes: UnsafeBufferPointer<UInt8>,
                             ends: UnsafeBufferPointer<Int>) throws(ChangeEventError) {
        let start = index == 0 ? 0 : ends[index - 1]
        out.append(contentsOf: UnsafeBufferPointer(rebasing: prefixes[start..<ends[index]]))
        try appendValue(&out, table: table, index: index, value: value, kind: kinds[index])
    }

    /// The JSON of column `index`'s `value`, converted as the table's plan says (no field name).
    @inline(__always)
    func appendValue(_ out: inout JSONOutput, table: TableSchema, index: Int, value: ColumnValue,
                     kind: ConverterKind) throws(ChangeEventError) {
        switch value {
        case .null:
            if table.columns[index].isOptional {
                JSON.appendASCII(&out, "null")
            } else {
                // A NOT NULL column without a value (a delete's old row without it): Debezium's fallback.
                out.append(contentsOf: table.plans[index].notNullFallbackJSON)
            }
        case .unchangedToast:
            out.append(contentsOf: table.plans[index].toastJSON)
        case .text(let text):
            let mark = out.count
            let failure: ConversionFailure? = text.withUnsafeBufferPointer { p in
                do throws(ConversionFailure) {
                    if case .array(let element) = kind {
                        let elementKind = table.elementKinds[element]
                        try ArrayLiteral.append(&out, p) { (out, item) throws(ConversionFailure) in
                            try ValueConverter.append(&out, kind: elementKind, text: item)
                        }
                    } else {
                        try ValueConverter.append(&out, kind: kind, text: p)
                    }
                    return nil
                } catch {
                    return error
                }
            }
            if let failure {
                out.removeSubrange(mark...)
                let plan = table.plans[index]
                throw ChangeEventError(code: .invalidValue, schema: table.schema, table: table.table,
                                       column: plan.name, typeName: plan.typeName, reason: failure.reason)
            }
        }
    }

    func appendSource(_ out: inout JSONOutput, _ s: SourceInfo, schemaTable: [UInt8], txId: UInt32?) {
        JSON.appendASCII(&out, "{\"version\":")
        JSON.appendString(&out, s.connectorVersion)
        JSON.appendASCII(&out, ",\"connector\":\"postgresql\",\"name\":")
        JSON.appendString(&out, s.serverName)
        JSON.appendASCII(&out, ",\"ts_ms\":")
        JSON.appendInt(&out, Temporal.floorDiv(s.commitTimeMicros, 1000))
        JSON.appendASCII(&out, ",\"snapshot\":")
        JSON.appendString(&out, s.snapshot)
        JSON.appendASCII(&out, ",\"db\":")
        JSON.appendString(&out, s.database)
        // sequence: a JSON string holding the JSON array [lastCommitLsn, lsn] of decimal strings.
        JSON.appendASCII(&out, ",\"sequence\":\"[")
        appendSequenceElement(&out, s.lastCommitLSN)
        out.append(Ascii.comma)
        appendSequenceElement(&out, s.lsn)
        JSON.appendASCII(&out, "]\",\"ts_us\":")
        JSON.appendInt(&out, s.commitTimeMicros)
        JSON.appendASCII(&out, ",\"ts_ns\":")
        JSON.appendInt(&out, s.commitTimeMicros &* 1000)
        out.append(contentsOf: schemaTable)
        JSON.appendASCII(&out, ",\"txId\":")
        if let txId { JSON.appendUInt(&out, UInt64(txId)) } else { JSON.appendASCII(&out, "null") }
        JSON.appendASCII(&out, ",\"lsn\":")
        if let lsn = s.lsn { JSON.appendUInt(&out, lsn) } else { JSON.appendASCII(&out, "null") }
        JSON.appendASCII(&out, ",\"xmin\":null,\"origin\":")
        if let origin = s.origin {
            JSON.appendString(&out, origin.name)
            JSON.appendASCII(&out, ",\"origin_lsn\":")
            JSON.appendUInt(&out, origin.lsn)
            out.append(Ascii.closeBrace)
        } else {
            JSON.appendASCII(&out, "null,\"origin_lsn\":null}")
        }
    }

    @inline(__always)
    private func appendSequenceElement(_ out: inout JSONOutput, _ lsn: UInt64?) {
        if let lsn {
            JSON.appendASCII(&out, "\\\"")
            JSON.appendUInt(&out, lsn)
            JSON.appendASCII(&out, "\\\"")
        } else {
            JSON.appendASCII(&out, "null")
        }
    }

    func appendTransactionBlock(_ out: inout JSONOutput, _ block: TransactionBlock?) {
        guard let block else {
            JSON.appendASCII(&out, "null")
            return
        }
        JSON.appendASCII(&out, "{\"id\":")
        JSON.appendString(&out, block.id)
        JSON.appendASCII(&out, ",\"total_order\":")
        JSON.appendInt(&out, block.totalOrder)
        JSON.appendASCII(&out, ",\"data_collection_order\":")
        JSON.appendInt(&out, block.dataCollectionOrder)
        out.append(Ascii.closeBrace)
    }

    private func appendEnvelopeTail(_ out: inout JSONOutput, op: Operation, transaction: TransactionBlock?, eventTimeMillis: Int64) {
        JSON.appendASCII(&out, ",\"transaction\":")
        appendTransactionBlock(&out, transaction)
        JSON.appendASCII(&out, ",\"op\":\"")
        switch op {
        case .create: out.append(UInt8(ascii: "c"))
        case .update: out.append(UInt8(ascii: "u"))
        case .delete: out.append(UInt8(ascii: "d"))
        case .truncate: out.append(UInt8(ascii: "t"))
        case .message: out.append(UInt8(ascii: "m"))
        case .read: out.append(UInt8(ascii: "r"))
        }
        JSON.appendASCII(&out, "\",\"ts_ms\":")
        // ts_us and ts_ns are ts_ms with three and six zeros: the digits are formatted once.
        let negative = eventTimeMillis < 0
        if negative { out.append(Ascii.minus) }
        let digitsStart = out.count
        out.appendDecimal(eventTimeMillis.magnitude)
        let digits = digitsStart..<out.count
        JSON.appendASCII(&out, ",\"ts_us\":")
        if eventTimeMillis == 0 {
            JSON.appendASCII(&out, "0,\"ts_ns\":0}")
            return
        }
        if negative { out.append(Ascii.minus) }
        out.appendCopy(of: digits)
        JSON.appendASCII(&out, "000,\"ts_ns\":")
        if negative { out.append(Ascii.minus) }
        out.appendCopy(of: digits)
        JSON.appendASCII(&out, "000000}")
    }
}
