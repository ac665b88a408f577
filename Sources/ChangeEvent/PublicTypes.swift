// Public model of the ChangeEvent module: the inputs the encoder needs, independent of the
// pgoutput decoder (values arrive as pgoutput TEXT-format bytes).

/// One column value of a pgoutput TupleData.
public enum ColumnValue: Sendable, Equatable {
    /// SQL NULL ('n'), also used for columns pgoutput did not send (identity DEFAULT old tuples).
    case null
    /// Unchanged TOASTed value ('u'): replaced by the configured placeholder.
    case unchangedToast
    /// Text-format value ('t') exactly as the type's output function printed it.
    case text(ArraySlice<UInt8>)
}

/// One column of a relation, as described by a pgoutput Relation message.
public struct ColumnSchema: Sendable, Equatable {
    public var name: String
    public var typeOID: UInt32
    /// `atttypmod`; -1 when the type has no modifier.
    public var typeModifier: Int32
    /// Part of the replica identity (pgoutput flag 1) -> part of the Kafka key.
    public var isKey: Bool
    /// Nullable (no NOT NULL constraint): the Connect schema field is optional.
    public var isOptional: Bool

    public init(name: String, typeOID: UInt32, typeModifier: Int32 = -1, isKey: Bool = false, isOptional: Bool = true) {
        self.name = name
        self.typeOID = typeOID
        self.typeModifier = typeModifier
        self.isKey = isKey
        self.isOptional = isOptional
    }
}

/// A table's schema plus everything the encoder precomputes for it (converter kind per column,
/// pre-escaped JSON field names, the escaped `"schema"`/`"table"` source fields), so that
/// encoding a row does no per-row string work. Mutating any property recomputes the plan.
public struct TableSchema: Sendable {
    public var schema: String { didSet { rebuild() } }
    public var table: String { didSet { rebuild() } }
    public var columns: [ColumnSchema] { didSet { rebuild() } }
    /// The key's columns in key order (`message.key.columns`, or an index chosen from the catalog);
    /// nil: the columns flagged `isKey`, in column order.
    public var keyColumnNames: [String]? { didSet { rebuild() } }
    /// Descriptions of the column types outside the encoder's built-in table.
    public var types: TypeCatalog { didSet { rebuild() } }
    /// The conversion modes the plan was made for.
    public var options: EncoderOptions { didSet { rebuild() } }
    /// Columns left out of `before`/`after` (`column.exclude.list`); row arrays still hold every column.
    public var excludedColumns: Set<String> { didSet { rebuild() } }
    /// Topic routing's schema names and key field (`TableRouting`); nil for a table's own topic.
    public var routing: TableRouting? { didSet { rebuild() } }
    /// Masked columns by name (`column.truncate.*`, `column.mask.*`: the rule that matched each); their
    /// values in `before`/`after` and their value schema fields are masked, keys are not.
    public var columnMasks: [String: ColumnMaskRule] { didSet { rebuild() } }
    /// Indexes of the key columns, in key order.
    public private(set) var keyColumnIndexes: [Int] = []
    /// Indexes of the columns written in `before`/`after`, in column order.
    public private(set) var valueColumnIndexes: [Int] = []
    /// Per column: its mask as planned (nil for most); `hasMasks` when any value column has one.
    internal private(set) var masks: [PlannedMask?] = []
    internal private(set) var hasMasks = false
    /// With `options.flatten`: what the table's flattened records need.
    internal private(set) var flattenedPlan: FlattenedTablePlan?
    /// The first masking rule that matches a column it cannot apply to (see `maskNotApplicableError`).
    public private(set) var inapplicableMask: (rule: ColumnMaskRule, column: String, typeName: String)?
    /// Columns whose type has no mapping (only with `unknownTypeHandling == .fail`).
    public private(set) var unsupportedColumns: [(column: String, typeName: String)] = []

    // Precomputed plan.
    /// Per column: name and type name (error reporting), kind.
    internal private(set) var plans: [ColumnPlan] = []
    /// Per column converter kind (trivial values: no reference counting on the hot path).
    internal private(set) var kinds: [ConverterKind] = []
    /// Element kinds of array columns, indexed by `ConverterKind.array(element:)`.
    internal private(set) var elementKinds: [ConverterKind] = []
    /// All `"<escaped name>":` prefixes concatenated; column i is `fieldPrefixBytes[fieldPrefixEnds[i-1]..<fieldPrefixEnds[i]]`.
    internal private(set) var fieldPrefixBytes: [UInt8] = []
    internal private(set) var fieldPrefixEnds: [Int] = []
    /// `,"schema":"<schema>","table":"<table>"` as bytes.
    internal private(set) var sourceSchemaTableFields: [UInt8] = []
    /// Connect schemas of the key and the value envelope, when `options.includeSchemas`.
    internal private(set) var keySchemaJSON: [UInt8]?
    internal private(set) var valueSchemaJSON: [UInt8]?
    /// `routing`'s key field as `,"<name>":"<value>"`; empty without one.
    internal private(set) var keyRoutingFieldJSON: [UInt8] = []
    /// With `routing` and schemas: the key schema as the connector makes it, before routing (the
    /// key-change headers carry that key).
    internal private(set) var unroutedKeySchemaJSON: [UInt8]?
    /// `events.format: avro` (`EncoderOptions.avroRecords`): the shapes keys and row changes are written
    /// in directly (`encodeAvroKey`, `encodeAvroRowChange`); nil otherwise.
    public private(set) var avro: AvroTablePlan?

    public init(schema: String, table: String, columns: [ColumnSchema], keyColumnNames: [String]? = nil,
                types: TypeCatalog = TypeCatalog(), options: EncoderOptions = EncoderOptions(),
                excludedColumns: Set<String> = [], routing: TableRouting? = nil,
                columnMasks: [String: ColumnMaskRule] = [:]) {
        self.schema = schema
        self.columnMasks = columnMasks
        self.table = table
        self.columns = columns
        self.keyColumnNames = keyColumnNames
        self.types = types
        self.options = options
        self.excludedColumns = excludedColumns
        self.routing = routing
        rebuild()
    }

    /// The error to report before encoding any change of this table, if a column cannot be mapped.
    public var unsupportedTypeError: ChangeEventError? {
        guard let first = unsupportedColumns.first else { return nil }
        return ChangeEventError(
            code: .unsupportedType, schema: schema, table: table, column: first.column, typeName: first.typeName,
            reason: "Swallow has no Debezium mapping for this type; set events.unknown.type.handling.mode: string to pass its text, or exclude the column with events.column.exclude.list")
    }

    /// The error to report before encoding any change of this table, if a masking rule matches a column
    /// whose values it cannot mask (names the `events` key).
    public var maskNotApplicableError: ChangeEventError? {
        guard let problem = inapplicableMask else { return nil }
        let what = problem.rule.mask.isMask
            ? "a mask applies to text columns only (text, varchar, char and domains over them): Debezium leaves the values of other types unmasked"
            : "a truncation applies to text and bytea (binary.handling.mode: bytes) columns only"
        return ChangeEventError(
            code: .maskNotApplicable, schema: schema, table: table, column: problem.column, typeName: problem.typeName,
            reason: "events.\(problem.rule.option) matches this column, but \(what); narrow the column expressions of events.\(problem.rule.option)")
    }
    /// The field name of column `index` in keys and rows (`field.name.adjustment.mode`).
    func fieldName(_ index: Int) -> String { options.fieldNameAdjustment.adjusted(columns[index].name) }

    private mutating func rebuild() {
        var plans: [ColumnPlan] = []
        plans.reserveCapacity(columns.count)
        var elementKinds: [ConverterKind] = []
        var unsupported: [(String, String)] = []
        var prefixes = JSONOutput(capacity: 256)
        var ends: [Int] = []
        for c in columns {
            let plan = ColumnPlan(column: c, types: types, options: options, elementKinds: &elementKinds)
            if plan.isUnsupported && (c.isKey || !excludedColumns.contains(c.name)) {
                unsupported.append((c.name, plan.typeName))
            }
            plans.append(plan)
            JSON.appendString(&prefixes, options.fieldNameAdjustment.adjusted(c.name))   // `"<escaped name>":`
            prefixes.append(Ascii.colon)
            ends.append(prefixes.count)
        }
        var masks: [PlannedMask?] = Array(repeating: nil, count: plans.count)
        var inapplicable: (ColumnMaskRule, String, String)?
        for (index, column) in columns.enumerated() {
            guard let rule = columnMasks[column.name] else { continue }
            switch PlannedMask.plan(rule.mask, column: column, kind: plans[index].kind, types: types) {
            case .notApplicable:
                if inapplicable == nil && !excludedColumns.contains(column.name) { inapplicable = (rule, column.name, plans[index].typeName) }
            case .passthrough:
                break
            case .masked(let planned):
                masks[index] = planned
                plans[index].connectSchema = plans[index].connectSchema.addingParameter(planned.schemaParameter.key,
                                                                                         planned.schemaParameter.value)
            }
        }
        self.masks = masks
        self.hasMasks = masks.contains { $0 != nil }
        self.inapplicableMask = inapplicable.map { (rule: $0.0, column: $0.1, typeName: $0.2) }
        self.plans = plans
        self.kinds = plans.map(\.kind)
        self.elementKinds = elementKinds
        self.unsupportedColumns = unsupported
        self.fieldPrefixBytes = prefixes.bytes()
        self.fieldPrefixEnds = ends
        self.valueColumnIndexes = columns.indices.filter { !excludedColumns.contains(columns[$0].name) }
        if let names = keyColumnNames {
            self.keyColumnIndexes = names.compactMap { name in columns.firstIndex { $0.name == name } }
        } else {
            self.keyColumnIndexes = columns.indices.filter { columns[$0].isKey }
        }
        var st = JSONOutput(capacity: 64)
        JSON.appendASCII(&st, ",\"schema\":")
        JSON.appendString(&st, schema)
        JSON.appendASCII(&st, ",\"table\":")
        JSON.appendString(&st, table)
        self.sourceSchemaTableFields = st.bytes()
        self.keyRoutingFieldJSON = routing?.keyFieldJSON ?? []
        if options.includeSchemas {
            let schemas = ConnectSchemas.tableSchemas(table: self, prefix: options.schemaNamePrefix)
            keySchemaJSON = schemas.key
            valueSchemaJSON = schemas.value
            if routing != nil {
                var unrouted = self
                unrouted.routing = nil
                unroutedKeySchemaJSON = unrouted.keySchemaJSON
            } else {
                unroutedKeySchemaJSON = nil
            }
        } else {
            keySchemaJSON = nil
            valueSchemaJSON = nil
            unroutedKeySchemaJSON = nil
        }
        if options.avroRecords, let valueSchemaJSON {
            avro = AvroTablePlan(table: self, keySchemaJSON: keySchemaJSON, valueSchemaJSON: valueSchemaJSON)
        } else {
            avro = nil
        }
        if let flatten = options.flatten {
            let base = TopicName.ofTable(schema: schema, table: table, prefix: options.schemaNamePrefix).name
            let rowFields = options.includeSchemas ? valueColumnIndexes.map { index in
                plans[index].connectSchema.field(named: columns[index].name, optional: columns[index].isOptional)
            } : []
            flattenedPlan = FlattenedTablePlan(table: self, flatten: flatten, rowFields: rowFields, base: base,
                                               schemas: options.includeSchemas)
        } else {
            flattenedPlan = nil
        }
    }
}

/// Debezium `op` codes.
public enum Operation: String, Sendable {
    case create = "c"
    case update = "u"
    case delete = "d"
    case truncate = "t"
    case message = "m"
    case read = "r"
}

/// Contents of Debezium's `source` block (PostgreSQL connector, 2.x layout).
public struct SourceInfo: Sendable {
    /// Swallow's version string -> `source.version`.
    public var connectorVersion: String
    /// Topic prefix -> `source.name`.
    public var serverName: String
    /// -> `source.db`.
    public var database: String
    /// Unix epoch microseconds of the commit -> `source.ts_ms` (floor /1000), `ts_us`, `ts_ns` (*1000).
    public var commitTimeMicros: Int64
    /// -> `source.txId` (null if nil).
    public var transactionID: UInt32?
    /// The change's LSN -> `source.lsn` and the second element of `sequence`.
    public var lsn: UInt64?
    /// -> first element of `sequence`.
    public var lastCommitLSN: UInt64?
    /// Debezium's snapshot enum as a string: "false", "true", "last", "first", "incremental", ...
    public var snapshot: String = "false"
    /// The replication origin the change was applied through (pgoutput's Origin message: a logical
    /// replication subscriber, or a session with `pg_replication_origin_session_setup`) -> `source.origin`
    /// and `source.origin_lsn` (Debezium 3.x); nil writes null for both.
    public var origin: ReplicationOrigin?
    /// The event's place in its transaction (`provide.transaction.metadata`); nil writes `"transaction":null`.
    public var transaction: TransactionBlock?

    public init(connectorVersion: String, serverName: String, database: String, commitTimeMicros: Int64,
                transactionID: UInt32? = nil, lsn: UInt64? = nil, lastCommitLSN: UInt64? = nil,
                snapshot: String = "false") {
        self.connectorVersion = connectorVersion
        self.serverName = serverName
        self.database = database
        self.commitTimeMicros = commitTimeMicros
        self.transactionID = transactionID
        self.lsn = lsn
        self.lastCommitLSN = lastCommitLSN
        self.snapshot = snapshot
    }
}

/// Where a replicated transaction came from: the origin's name and the commit's LSN on the origin
/// server (0 when the applying session did not set one).
public struct ReplicationOrigin: Sendable, Equatable {
    public var name: String
    public var lsn: UInt64

    public init(name: String, lsn: UInt64) {
        self.name = name
        self.lsn = lsn
    }
}

/// Debezium's `transaction` block (`event.block`): the transaction id and the event's 1-based position in
/// the transaction and among the transaction's events of the same table.
public struct TransactionBlock: Sendable, Equatable {
    public var id: String
    public var totalOrder: Int64
    public var dataCollectionOrder: Int64

    public init(id: String, totalOrder: Int64, dataCollectionOrder: Int64) {
        self.id = id
        self.totalOrder = totalOrder
        self.dataCollectionOrder = dataCollectionOrder
    }
}

/// Encoder configuration, under Debezium's option names and with Debezium's defaults.
public struct EncoderOptions: Sendable, Equatable {
    /// `decimal.handling.mode`: numeric and money as Connect Decimal (`precise`), as a plain decimal
    /// string (`string`) or as a double (`double`).
    public enum DecimalHandling: String, Sendable, CaseIterable { case precise, string, double }
    /// `time.precision.mode`.
    public enum TimePrecision: String, Sendable, CaseIterable {
        /// time/timestamp of precision <= 3 in milliseconds, else microseconds.
        case adaptive
        /// like adaptive, but time always in microseconds.
        case adaptiveTimeMicroseconds = "adaptive_time_microseconds"
        /// Kafka Connect's Date/Time/Timestamp: milliseconds, whatever the precision.
        case connect
    }
    /// `binary.handling.mode` for bytea (and the bytes of bit strings stay base64 as in Debezium).
    public enum BinaryHandling: String, Sendable, CaseIterable {
        case bytes, base64
        case base64URLSafe = "base64-url-safe"
        case hex
    }
    /// `interval.handling.mode`: MicroDuration microseconds or an ISO 8601 string.
    public enum IntervalHandling: String, Sendable, CaseIterable { case numeric, string }
    /// `hstore.handling.mode`: a JSON document in a string, or a map.
    public enum HstoreHandling: String, Sendable, CaseIterable { case json, map }
    /// `unknown.type.handling.mode` (Swallow's own option): a column whose type has no Debezium mapping
    /// stops the service with an error naming table, column and type (`fail`), or is passed as the
    /// text PostgreSQL printed (`string`).
    public enum UnknownTypeHandling: String, Sendable, CaseIterable { case fail, string }

    /// Debezium's `unavailable.value.placeholder`.
    public var toastPlaceholder: String
    public var decimalHandling: DecimalHandling
    public var timePrecision: TimePrecision
    public var binaryHandling: BinaryHandling
    public var intervalHandling: IntervalHandling
    public var hstoreHandling: HstoreHandling
    public var unknownTypeHandling: UnknownTypeHandling
    /// `envelope.schemas`: write `{"schema":…,"payload":…}` like JsonConverter with schemas.enable=true.
    public var includeSchemas: Bool
    /// The topic prefix (Debezium's `topic.prefix`), which starts the Connect schema names.
    public var schemaNamePrefix: String
    /// The `flatten` section (ExtractNewRecordState): row changes are written flattened
    /// (`encodeFlattenedChange`); nil writes change event envelopes.
    public var flatten: FlattenOptions? = nil
    /// `field.name.adjustment.mode`: columns' field names as they are, or made valid Avro names.
    public var fieldNameAdjustment: FieldNameAdjustment = .none
    /// `events.format: avro`: tables plan their keys and row changes as Avro (`TableSchema.avro`), written
    /// straight from the column values. Needs `includeSchemas` (the shapes come from the Connect schemas).
    public var avroRecords = false

    public init(toastPlaceholder: String = "__debezium_unavailable_value",
                decimalHandling: DecimalHandling = .precise,
                timePrecision: TimePrecision = .adaptive,
                binaryHandling: BinaryHandling = .bytes,
                intervalHandling: IntervalHandling = .numeric,
                hstoreHandling: HstoreHandling = .json,
                unknownTypeHandling: UnknownTypeHandling = .fail,
                includeSchemas: Bool = false, schemaNamePrefix: String = "") {
        self.toastPlaceholder = toastPlaceholder
        self.decimalHandling = decimalHandling
        self.timePrecision = timePrecision
        self.binaryHandling = binaryHandling
        self.intervalHandling = intervalHandling
        self.hstoreHandling = hstoreHandling
        self.unknownTypeHandling = unknownTypeHandling
        self.includeSchemas = includeSchemas
        self.schemaNamePrefix = schemaNamePrefix
    }
}

/// Raised when a value cannot be converted or the input does not fit the table.
/// The description names schema, table, column and type and what was wrong, but never
/// contains the row value itself.
public struct ChangeEventError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable, Equatable {
        /// The text of a value is not valid for the column's type (or out of range).
        case invalidValue
        /// The column's type cannot be represented (reserved; currently every type falls back to a string).
        case unsupportedType
        /// A row array does not have one value per table column.
        case columnCountMismatch
        /// `encodeRowChange` was called with an op that is not a row change (t/m).
        case unsupportedOperation
        /// A masking option matches a column whose type it cannot mask.
        case maskNotApplicable
        /// `flatten.route.by.field` names a column the table's events do not have (or not a text one).
        case routeFieldNotApplicable
    }

    public var code: Code
    public var schema: String
    public var table: String
    /// Column name; empty when the error is not about a single column.
    public var column: String
    /// PostgreSQL type name, e.g. "numeric(10,2)"; empty when not about a single column.
    public var typeName: String
    /// What was wrong, in fixed words; never contains row contents.
    public var reason: String

    public var isRetriable: Bool { false }

    public init(code: Code, schema: String, table: String, column: String, typeName: String, reason: String) {
        self.code = code
        self.schema = schema
        self.table = table
        self.column = column
        self.typeName = typeName
        self.reason = reason
    }

    public var description: String {
        switch code {
        case .invalidValue, .unsupportedType, .maskNotApplicable:
            return "\(code.rawValue): column \(schema).\(table).\(column) of type \(typeName): \(reason)"
        case .columnCountMismatch, .unsupportedOperation, .routeFieldNotApplicable:
            return "\(code.rawValue): table \(schema).\(table): \(reason)"
        }
    }
}
