// Column masking: Debezium's column mappers (io.debezium.relational.mapping, ColumnMappers.create), under
// Debezium's option names, whose values are comma-separated regular expressions matched (whole, ignoring
// case) against `schema.table.column`:
//
//   column.truncate.to.<N>.chars                   TruncateColumn: strings cut to N UTF-16 code units
//                                                  (String.substring), bytes (bytea as `bytes`) to N bytes;
//                                                  schema parameter "truncateLength":"N" — only where the
//                                                  column may be longer (declared length unknown or > N).
//   column.mask.with.<N>.chars                     MaskStrings(N '*'): every value, NULL too (Debezium's
//                                                  MaskingValueConverter ignores its input).
//   column.mask.hash.<alg>.with.salt.<salt>        MaskStrings + HashValueConverter, HashingByteArrayStrategy.V1:
//                                                  hex(digest(salt ‖ Java serialization of the String)),
//                                                  cut to the column's declared length.
//   column.mask.hash.v2.<alg>.with.salt.<salt>     the same with V2: hex(digest(salt ‖ UTF-8 of the String)).
//
// Masks (`mask.*`) add the schema parameter "masked":"true". The mappers work on the converted value, so
// an unchanged TOAST value is masked like any other (its placeholder is the value). Keys are never masked
// (Debezium builds the key without mappers). One column takes the first rule that matches, in Debezium's
// order: truncations, then masks with characters, then v1 hashes, then v2 hashes (within one kind, in the
// order of the configuration).

/// What happens to the values of a masked column.
public enum ColumnMask: Sendable, Equatable {
    /// `column.truncate.to.<N>.chars`.
    case truncate(length: Int)
    /// `column.mask.with.<N>.chars`: the value is this string (N asterisks).
    case maskWith(String)
    /// `column.mask.hash[.v2].<algorithm>.with.salt.<salt>`.
    case hash(DigestAlgorithm, salt: [UInt8], version: HashVersion)

    /// Debezium's MaskStrings.HashingByteArrayStrategy.
    public enum HashVersion: Sendable, Equatable {
        /// The bytes `ObjectOutputStream.writeObject(String)` writes (stream header, TC_STRING, modified UTF-8).
        case v1
        /// `String.getBytes()`: UTF-8 (Java 18+'s default charset, and older Javas' in a UTF-8 locale).
        case v2
    }

    /// Debezium's rule order (ColumnMappers.create registers the kinds in this order; the first match wins).
    public var kindOrder: Int {
        switch self {
        case .truncate: 0
        case .maskWith: 1
        case .hash(_, _, .v1): 2
        case .hash(_, _, .v2): 3
        }
    }

    /// Whether this is one of MaskStrings' masks (schema parameter `masked`), not a truncation.
    public var isMask: Bool {
        if case .truncate = self { return false }
        return true
    }

    /// Why an events key that starts like a masking option is not one, for the configuration error.
    public struct OptionError: Error, Equatable {
        public var message: String
    }

    /// The mask an `events` key asks for; nil when the key is not a masking option at all (it starts with
    /// neither `column.truncate.` nor `column.mask.`). Throws for a key that starts like one but is not
    /// valid: a bad N, an algorithm Swallow does not implement, a missing salt.
    public static func parse(option key: String) throws(OptionError) -> ColumnMask? {
        guard key.hasPrefix("column.truncate.") || key.hasPrefix("column.mask.") else { return nil }
        func count(_ text: Substring) throws(OptionError) -> Int {
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text), n <= Int(Int32.max) else {
                throw OptionError(message: "`\(text)` is not a number of characters (0 to \(Int32.max))")
            }
            return n
        }
        if key.hasPrefix("column.truncate.to."), key.hasSuffix(".chars") {
            let middle = key.dropFirst("column.truncate.to.".count).dropLast(".chars".count)
            return .truncate(length: try count(middle))
        }
        if key.hasPrefix("column.mask.with."), key.hasSuffix(".chars") {
            let middle = key.dropFirst("column.mask.with.".count).dropLast(".chars".count)
            return .maskWith(String(repeating: "*", count: try count(middle)))
        }
        if key.hasPrefix("column.mask.hash.") {
            var rest = key.dropFirst("column.mask.hash.".count)
            var version = HashVersion.v1
            // Debezium's v2 pattern `column.mask.hash.v2.([^.]+).with.salt.(.+)`; the v1 pattern would take
            // "v2" for the algorithm only when no algorithm follows.
            if rest.hasPrefix("v2."), find(".with.salt.", in: rest.dropFirst(3)) != nil {
                version = .v2
                rest = rest.dropFirst(3)
            }
            guard let marker = find(".with.salt.", in: rest), !rest[..<marker.lowerBound].contains("."),
                  !rest[..<marker.lowerBound].isEmpty, marker.upperBound < rest.endIndex else {
                throw OptionError(message: "expected column.mask.hash.<algorithm>.with.salt.<salt> or column.mask.hash.v2.<algorithm>.with.salt.<salt>")
            }
            let name = String(rest[..<marker.lowerBound])
            guard let algorithm = DigestAlgorithm(javaName: name) else {
                throw OptionError(message: "unknown hash algorithm `\(name)`; Swallow implements \(DigestAlgorithm.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return .hash(algorithm, salt: Array(rest[marker.upperBound...].utf8), version: version)
        }
        throw OptionError(message: "expected column.truncate.to.<N>.chars, column.mask.with.<N>.chars, column.mask.hash.<algorithm>.with.salt.<salt> or column.mask.hash.v2.<algorithm>.with.salt.<salt>")
    }

    /// The first occurrence of `needle` in `text` (ChangeEvent does without Foundation).
    private static func find(_ needle: String, in text: Substring) -> Range<Substring.Index>? {
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix(needle) { return index..<text.index(index, offsetBy: needle.count) }
            index = text.index(after: index)
        }
        return nil
    }

    // MARK: applying

    /// The masked value of a string column's value (`nil`: SQL NULL), nil for a null result. `declaredLength`
    /// is the column's declared length (varchar(n), char(n)), nil when it has none.
    public func apply(toString value: String?, declaredLength: Int?) -> String? {
        switch self {
        case .maskWith(let mask):
            return mask
        case .truncate(let length):
            guard let value else { return nil }
            return Self.prefix(value, utf16Units: length)
        case .hash(let algorithm, let salt, let version):
            guard let value else { return nil }
            let input: [UInt8]
            switch version {
            case .v1: input = JavaSerialization.string(value)
            case .v2: input = Array(value.utf8)
            }
            var hex = Self.hex(algorithm.digest(salt + input))
            // MaskStrings chains a TruncatingValueConverter(column.length()) when the length is positive.
            if let declaredLength, declaredLength > 0, hex.count > declaredLength { hex = String(hex.prefix(declaredLength)) }
            return hex
        }
    }

    /// `apply(toString:declaredLength:)` of a value given as its UTF-8 bytes, written to `out` as a JSON
    /// string without making a String of it (most values are short of a cut, or hashed as they are):
    /// false, writing nothing, when the bytes are not valid UTF-8 (the String path replaces what is not)
    /// or the mask needs the String (v1 hashes serialize it as Java does).
    func apply(toUTF8 p: UnsafeBufferPointer<UInt8>, declaredLength: Int?, into out: inout JSONOutput) -> Bool {
        switch self {
        case .maskWith:
            return false
        case .truncate(let length):
            // Java's substring(0, length) counts UTF-16 code units: two for a 4-byte sequence.
            var i = 0
            var units = 0
            let n = p.count
            while i < n {
                let sequence = p[i] < 0x80 ? 1 : JSON.validUTF8SequenceLength(p, i)
                guard sequence > 0 else { return false }
                let width = sequence == 4 ? 2 : 1
                if units + width > length { break }
                units += width
                i += sequence
            }
            // The rest must be valid too: the String path would replace an invalid byte after the cut, no
            // matter, but one before it changes the count — and a value that fits whole is copied whole.
            guard i == n || UTF8Check.isValid(UnsafeBufferPointer(rebasing: p[i...])) else { return false }
            JSON.appendString(&out, UnsafeBufferPointer(rebasing: p[..<i]))
            return true
        case .hash(let algorithm, let salt, .v2):
            guard UTF8Check.isValid(p) else { return false }
            let digest = algorithm.digest(salt + p)
            let digits = min(digest.count * 2, declaredLength.map { $0 > 0 ? $0 : Int.max } ?? Int.max)
            out.append(Ascii.quote)
            Self.appendHex(digest, digits: digits, to: &out)
            out.append(Ascii.quote)
            return true
        case .hash(_, _, .v1):
            return false
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The first `digits` hex digits of `bytes`.
    static func appendHex(_ bytes: [UInt8], digits: Int, to out: inout JSONOutput) {
        var written = 0
        for b in bytes {
            guard written < digits else { return }
            out.append(hexDigits[Int(b >> 4)])
            written += 1
            guard written < digits else { return }
            out.append(hexDigits[Int(b & 0x0F)])
            written += 1
        }
    }

    /// The first `units` UTF-16 code units of `value`, as Java's `substring(0, units)`; a surrogate pair
    /// the cut would split is left out whole (Java would keep a lone surrogate, which JSON cannot carry).
    static func prefix(_ value: String, utf16Units units: Int) -> String {
        guard value.utf16.count > units else { return value }
        var taken = 0
        var end = value.unicodeScalars.startIndex
        for scalar in value.unicodeScalars {
            let width = scalar.value > 0xFFFF ? 2 : 1
            if taken + width > units { break }
            taken += width
            end = value.unicodeScalars.index(after: end)
        }
        return String(value.unicodeScalars[..<end])
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// One masking option of the `events` section: the key as written, its mask and its column expressions.
public struct ColumnMaskRule: Sendable, Equatable {
    /// The option's name, e.g. `column.mask.with.5.chars` (error messages name it).
    public var option: String
    public var mask: ColumnMask
    /// Regular expressions matched (whole, ignoring case) against `schema.table.column`.
    public var columns: [String]

    public init(option: String, mask: ColumnMask, columns: [String]) {
        self.option = option
        self.mask = mask
        self.columns = columns
    }
}

/// Java object serialization of one String, as `new ObjectOutputStream(bos).writeObject(s)` writes it:
/// the stream header AC ED 00 05, then TC_STRING (0x74) with a 2-byte length or, from 65,536 bytes on,
/// TC_LONGSTRING (0x7C) with an 8-byte length, then the modified UTF-8 bytes (U+0000 as C0 80,
/// supplementary characters as two 3-byte surrogates).
enum JavaSerialization {
    static func string(_ value: String) -> [UInt8] {
        var body: [UInt8] = []
        body.reserveCapacity(value.utf8.count + 8)
        for unit in value.utf16 {
            switch unit {
            case 0x0001...0x007F:
                body.append(UInt8(unit))
            case 0x0000, 0x0080...0x07FF:
                body.append(0xC0 | UInt8(unit >> 6))
                body.append(0x80 | UInt8(unit & 0x3F))
            default:
                body.append(0xE0 | UInt8(unit >> 12))
                body.append(0x80 | UInt8((unit >> 6) & 0x3F))
                body.append(0x80 | UInt8(unit & 0x3F))
            }
        }
        var out: [UInt8] = [0xAC, 0xED, 0x00, 0x05]
        if body.count <= 0xFFFF {
            out.append(0x74)
            out.append(UInt8(body.count >> 8))
            out.append(UInt8(body.count & 0xFF))
        } else {
            out.append(0x7C)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: body.count >> shift)) }
        }
        return out + body
    }
}

/// A column's mask as its table's plan holds it: decided once per table description.
struct PlannedMask: Sendable, Equatable {
    let mask: ColumnMask
    /// The declared length (varchar(n), char(n), "char"), nil when the type has none: hashes are cut to it.
    let declaredLength: Int?
    /// bytea in binary.handling.mode bytes: truncation cuts the bytes (Debezium's ByteBuffer).
    let cutsBytes: Bool
    /// The schema parameter the mapper adds (ColumnMapper.alterFieldSchema).
    let schemaParameter: (key: String, value: String)

    static func == (a: PlannedMask, b: PlannedMask) -> Bool {
        a.mask == b.mask && a.declaredLength == b.declaredLength && a.cutsBytes == b.cutsBytes
            && a.schemaParameter == b.schemaParameter
    }

    enum Decision {
        case masked(PlannedMask)
        /// Debezium's mapper leaves the column alone (a truncation the declared length makes moot).
        case passthrough
        /// The mask cannot apply to the column's type: refused (Debezium would pass the values unmasked).
        case notApplicable
    }

    /// The text types MaskStrings masks: those of JDBC type CHAR or VARCHAR (pgjdbc: text, varchar,
    /// bpchar, "char"), domains over them included (Debezium uses the domain's root type).
    static let maskableTypes: Set<UInt32> = [PGType.text, PGType.varchar, PGType.bpchar, PGType.char]

    static func plan(_ mask: ColumnMask, column: ColumnSchema, kind: ConverterKind, types: TypeCatalog) -> Decision {
        // The base type and its modifier, through domains.
        var oid = column.typeOID
        var typmod = column.typeModifier
        for _ in 0..<8 {
            guard let info = types[oid], case .domain(let base, let baseTypmod) = info.kind else { break }
            if typmod < 0 { typmod = baseTypmod }
            oid = base
        }
        // pgjdbc's precision, Debezium's column length: n of varchar(n)/char(n), 1 for "char".
        let declaredLength: Int? = switch oid {
        case PGType.varchar, PGType.bpchar: typmod >= 4 ? Int(typmod) - 4 : nil
        case PGType.char: 1
        default: nil
        }
        switch mask {
        case .truncate(let length):
            let cutsBytes: Bool
            switch kind {
            case .string: cutsBytes = false
            case .binary(.bytes): cutsBytes = true
            default: return .notApplicable
            }
            // TruncateColumn.isTruncationPossible: the length is unknown or greater than the maximum.
            if let declaredLength, declaredLength <= length { return .passthrough }
            return .masked(PlannedMask(mask: mask, declaredLength: declaredLength, cutsBytes: cutsBytes,
                                       schemaParameter: ("truncateLength", String(length))))
        case .maskWith, .hash:
            guard maskableTypes.contains(oid), kind == .string else { return .notApplicable }
            return .masked(PlannedMask(mask: mask, declaredLength: declaredLength, cutsBytes: false,
                                       schemaParameter: ("masked", "true")))
        }
    }
}

extension ConnectFieldSchema {
    /// This schema with one more parameter, after those it has (Connect keeps parameters in insertion
    /// order). The tail ends with `}` exactly when it carries parameters (name, version and doc end in a
    /// quote or a digit).
    func addingParameter(_ key: String, _ value: String) -> ConnectFieldSchema {
        var copy = self
        var extra = JSONOutput(capacity: key.utf8.count + value.utf8.count + 24)
        if tail.last == Ascii.closeBrace {
            copy.tail.removeLast()
            extra.append(Ascii.comma)
        } else {
            JSON.appendASCII(&extra, ",\"parameters\":{")
        }
        JSON.appendString(&extra, key)
        extra.append(Ascii.colon)
        JSON.appendString(&extra, value)
        extra.append(Ascii.closeBrace)
        copy.tail += extra.bytes()
        return copy
    }
}
