/// Topic names as Debezium's default topic naming makes them: `<topic_prefix>.<schema>.<table>` with
/// each character Kafka refuses replaced, so that a table named with quotes (`"Odd"."Order Lines"`)
/// gets the topic `app.Odd.Order_Lines` Debezium would give it, which a real broker accepts.
///
/// Debezium (`AbstractTopicNamingStrategy.sanitizedTopicName`) walks the name's UTF-16 code units: each
/// outside `[a-zA-Z0-9._-]` becomes `_` (so a character outside the Basic Multilingual Plane, two code
/// units, becomes `__`); a result longer than Kafka's 249 characters is cut to 249; `.` and `..`, names
/// Kafka reserves, become `_` and `__`. It warns when it changed the name; so does Swallow.
public enum TopicName {
    /// Kafka's longest topic name.
    public static let maximumLength = 249

    /// The name Kafka accepts for `name`, and whether it differs from `name`.
    public static func sanitized(_ name: String) -> (name: String, changed: Bool) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(name.utf8.count)
        var changed = false
        for unit in name.utf16 {
            if unit < 0x80, isValid(UInt8(unit)) {
                bytes.append(UInt8(unit))
            } else {
                bytes.append(UInt8(ascii: "_"))
                changed = true
            }
        }
        if bytes.count > maximumLength {
            bytes.removeLast(bytes.count - maximumLength)
            changed = true
        } else if bytes == [UInt8(ascii: ".")] || bytes == [UInt8(ascii: "."), UInt8(ascii: ".")] {
            bytes = bytes.map { _ in UInt8(ascii: "_") }
            changed = true
        }
        return changed ? (String(decoding: bytes, as: UTF8.self), true) : (name, false)
    }

    /// The topic of the events of table `schema`.`table` under `prefix`, sanitized. Debezium names the
    /// table's Connect schemas after it too (`<topic>.Key`, `.Value`, `.Envelope`).
    public static func ofTable(schema: String, table: String, prefix: String) -> (name: String, changed: Bool) {
        sanitized("\(prefix).\(schema).\(table)")
    }

    private static func isValid(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}
