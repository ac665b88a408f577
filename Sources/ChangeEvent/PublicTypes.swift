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

    public init(name: String, typeOID: UInt32, typeModifier: Int32 = -1, isKey: Bool = false) {
        self.name = name
        self.typeOID = typeOID
        self.typeModifier = typeModifier
        self.isKey = isKey
    }
}

/// A table's schema plus everything the encoder precomputes for it (converter kind per column,
/// pre-escaped JSON field names, the escaped `"schema"`/`"table"` source fields), so that
/// encoding a row does no per-row string work. Mutating any property recomputes the plan.
public struct TableSchema: Sendable {
    public var schema: String { didSet { rebuild() } }
    public var table: String { didSet { rebuild() } }
    public var columns: [ColumnSchema] { didSet { rebuild() } }
    /// Indexes (in column order) of the columns with `isKey`.
    public private(set) var keyColumnIndexes: [Int] = []

    // Precomputed plan.
    /// Per column: name and type name (error reporting), kind.
    internal private(set) var plans: [ColumnPlan] = []
    /// Per column converter kind (trivial values: no reference counting on the hot path).
    internal private(set) var kinds: [ConverterKind] = []
    /// All `"<escaped name>":` prefixes concatenated; column i is `fieldPrefixBytes[fieldPrefixEnds[i-1]..<fieldPrefixEnds[i]]`.
    internal private(set) var fieldPrefixBytes: [UInt8] = []
    internal private(set) var fieldPrefixEnds: [Int] = []
    /// `,"schema":"<schema>","table":"<table>"` as bytes.
    internal private(set) var sourceSchemaTableFields: [UInt8] = []

    public init(schema: String, table: String, columns: [ColumnSchema]) {
        self.schema = schema
        self.table = table
        self.columns = columns
        rebuild()
    }

    private mutating func rebuild() {
        var plans: [ColumnPlan] = []
        plans.reserveCapacity(columns.count)
        var keys: [Int] = []
        var prefixes: [UInt8] = []
        var ends: [Int] = []
        for (i, c) in columns.enumerated() {
            let plan = ColumnPlan(column: c)
            plans.append(plan)
            prefixes.append(contentsOf: plan.fieldPrefix)
            ends.append(prefixes.count)
            if c.isKey { keys.append(i) }
        }
        self.plans = plans
        self.kinds = plans.map(\.kind)
        self.fieldPrefixBytes = prefixes
        self.fieldPrefixEnds = ends
        self.keyColumnIndexes = keys
        var st: [UInt8] = []
        JSON.appendASCII(&st, ",\"schema\":")
        JSON.appendString(&st, schema)
        JSON.appendASCII(&st, ",\"table\":")
        JSON.appendString(&st, table)
        self.sourceSchemaTableFields = st
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

/// Encoder configuration. Only Debezium's defaults are implemented for value conversion
/// (decimal.handling.mode=precise, time.precision.mode=adaptive, binary.handling.mode=bytes,
/// interval.handling.mode=numeric); later modes get their own options here.
public struct EncoderOptions: Sendable, Equatable {
    /// Debezium's `unavailable.value.placeholder`.
    public var toastPlaceholder: String

    public init(toastPlaceholder: String = "__debezium_unavailable_value") {
        self.toastPlaceholder = toastPlaceholder
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
        case .invalidValue, .unsupportedType:
            return "\(code.rawValue): column \(schema).\(table).\(column) of type \(typeName): \(reason)"
        case .columnCountMismatch, .unsupportedOperation:
            return "\(code.rawValue): table \(schema).\(table): \(reason)"
        }
    }
}
