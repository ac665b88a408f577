/// Debezium's `field.name.adjustment.mode`: how a column's name becomes a field name of the key and of
/// the row (`before`/`after`), in the schema and in the payload alike. Avro names are
/// `[A-Za-z_][A-Za-z0-9_]*`, so a column named `Line Note` or `Zähler` cannot be an Avro field as it is;
/// Debezium's documentation advises `avro` for the AvroConverter.
public enum FieldNameAdjustment: String, Sendable, CaseIterable {
    /// The column's name as it is (Debezium's default).
    case none
    /// Debezium's `FieldNameUnderscoreReplacementFunction`: every UTF-16 unit that is not valid at its
    /// place becomes `_` (`Line Note` -> `Line_Note`, `Zähler` -> `Z_hler`); a first character that is a
    /// digit keeps the digit after the `_` (`1st` -> `_1st`).
    case avro

    public func adjusted(_ name: String) -> String {
        guard self == .avro, !name.isEmpty else { return name }
        func isValidFirst(_ unit: UInt16) -> Bool {
            unit == 0x5F || (0x41...0x5A).contains(unit) || (0x61...0x7A).contains(unit)
        }
        func isValidNonFirst(_ unit: UInt16) -> Bool { isValidFirst(unit) || (0x30...0x39).contains(unit) }
        let units = Array(name.utf16)
        if isValidFirst(units[0]) && units.dropFirst().allSatisfy(isValidNonFirst) { return name }
        var result: [UInt16] = []
        result.reserveCapacity(units.count + 1)
        if isValidFirst(units[0]) {
            result.append(units[0])
        } else {
            result.append(0x5F)
            // Java's Character.isDigit: any decimal digit, not only ASCII ones.
            if let scalar = Unicode.Scalar(units[0]), scalar.properties.numericType == .decimal { result.append(units[0]) }
        }
        for unit in units.dropFirst() { result.append(isValidNonFirst(unit) ? unit : 0x5F) }
        return String(decoding: result, as: UTF16.self)
    }
}
