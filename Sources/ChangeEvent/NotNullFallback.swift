/// What Debezium writes for a NOT NULL column whose value is missing: a delete's old row under REPLICA
/// IDENTITY DEFAULT or USING INDEX carries the identity's columns only, pgoutput sends the others as
/// null, and Debezium's `JdbcValueConverters.convertValue` gives a required field a per-type fallback
/// instead of null. Read from Debezium 3.6.3's output (Golden/every-type.sql, table `strict_row`, in the
/// default and modes runs):
///
///     {"n":0,"t":"","ok":false,"price":"AA==","amount":{"scale":0,"value":"AA=="},"ratio":0.0,"day":0,
///      "at":"1970-01-01T00:00:00Z","local":0,"raw":"","nums":[],"span":0,"flag":false,"bits":"","tm":0,
///      "tmz":"00:00:00Z","hs":"{}"}
///     decimal.handling.mode=string: "0.00" (numeric(6,2), money), "0" (numeric); hstore map: {};
///     interval.handling.mode=string: "P0Y0M0DT0H0M0S"
///
/// Every string-valued type (text, uuid, json, enum, inet, range, ltree...) gets "", every array [].
/// `decimal.handling.mode=double` is not in a golden run: its 0.0 follows the double columns' fallback.
enum NotNullFallback {
    /// `scale`: the declared scale of a numeric (nil when unconstrained), for decimal.handling.mode=string.
    static func json(kind: ConverterKind, scale: Int?) -> [UInt8] {
        let text: String
        switch kind {
        case .integer, .date, .time, .timestamp, .interval: text = "0"
        case .bool, .bitAsBool: text = "false"
        case .float, .decimalDouble, .moneyDouble: text = "0.0"
        case .decimal, .money: text = #""AA==""#                       // the unscaled zero: one byte 0
        case .variableDecimal: text = #"{"scale":0,"value":"AA=="}"#
        case .decimalString:
            text = scale.map { $0 > 0 ? "\"0." + String(repeating: "0", count: $0) + "\"" : #""0""# } ?? #""0""#
        case .moneyString: text = #""0.00""#
        case .string, .bits, .binary: text = #""""#
        case .timestamptz: text = #""1970-01-01T00:00:00Z""#
        case .timetz: text = #""00:00:00Z""#
        case .intervalString: text = #""P0Y0M0DT0H0M0S""#
        case .hstoreJSON: text = #""{}""#
        case .hstoreMap: text = "{}"
        case .array: text = "[]"
        }
        return Array(text.utf8)
    }
}
