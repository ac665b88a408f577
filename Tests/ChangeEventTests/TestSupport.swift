import Foundation
import Testing
@testable import ChangeEvent

// MARK: builders

func col(_ name: String, _ oid: UInt32, typmod: Int32 = -1, key: Bool = false) -> ColumnSchema {
    ColumnSchema(name: name, typeOID: oid, typeModifier: typmod, isKey: key)
}

func txt(_ s: String) -> ColumnValue { .text(ArraySlice(Array(s.utf8))) }
func raw(_ bytes: [UInt8]) -> ColumnValue { .text(ArraySlice(bytes)) }

func utf8(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
func utf8(_ out: borrowing JSONOutput) -> String { out.withBytes { String(decoding: $0, as: UTF8.self) } }

/// typmod of numeric(precision, scale) (scale may be negative, PostgreSQL 15+).
func numericTypmod(_ precision: Int, _ scale: Int) -> Int32 {
    Int32(((precision << 16) | (scale & 0x7FF)) + 4)
}

enum OID {
    static let bool: UInt32 = 16, bytea: UInt32 = 17, char: UInt32 = 18, name: UInt32 = 19
    static let int8: UInt32 = 20, int2: UInt32 = 21, int4: UInt32 = 23, text: UInt32 = 25, oid: UInt32 = 26
    static let json: UInt32 = 114, xml: UInt32 = 142, float4: UInt32 = 700, float8: UInt32 = 701
    static let money: UInt32 = 790, bpchar: UInt32 = 1042, varchar: UInt32 = 1043
    static let date: UInt32 = 1082, time: UInt32 = 1083, timestamp: UInt32 = 1114
    static let timestamptz: UInt32 = 1184, interval: UInt32 = 1186, timetz: UInt32 = 1266
    static let numeric: UInt32 = 1700, uuid: UInt32 = 2950, jsonb: UInt32 = 3802
    static let inet: UInt32 = 869, int4range: UInt32 = 3904, textArray: UInt32 = 1009
    static let bit: UInt32 = 1560, varbit: UInt32 = 1562, cidr: UInt32 = 650, macaddr: UInt32 = 829
    static let int4Array: UInt32 = 1007, int8Array: UInt32 = 1016, numericArray: UInt32 = 1231
    static let boolArray: UInt32 = 1000, byteaArray: UInt32 = 1001, uuidArray: UInt32 = 2951
    static let dateArray: UInt32 = 1182, timestamptzArray: UInt32 = 1185, varcharArray: UInt32 = 1015
    // Types that only a catalog describes (OIDs as a database would assign them).
    static let hstore: UInt32 = 90_001, mood: UInt32 = 90_002, price: UInt32 = 90_003, citext: UInt32 = 90_004
    static let ltree: UInt32 = 90_005, moodArray: UInt32 = 90_006, point: UInt32 = 600, priceArray: UInt32 = 90_007
}

/// What the pipeline would read from pg_type for the OIDs above.
let testCatalog = TypeCatalog([
    PostgresTypeInfo(oid: OID.textArray, schema: "pg_catalog", name: "_text", kind: .array(elementOID: OID.text)),
    PostgresTypeInfo(oid: OID.varcharArray, schema: "pg_catalog", name: "_varchar", kind: .array(elementOID: OID.varchar)),
    PostgresTypeInfo(oid: OID.int4Array, schema: "pg_catalog", name: "_int4", kind: .array(elementOID: OID.int4)),
    PostgresTypeInfo(oid: OID.int8Array, schema: "pg_catalog", name: "_int8", kind: .array(elementOID: OID.int8)),
    PostgresTypeInfo(oid: OID.numericArray, schema: "pg_catalog", name: "_numeric", kind: .array(elementOID: OID.numeric)),
    PostgresTypeInfo(oid: OID.boolArray, schema: "pg_catalog", name: "_bool", kind: .array(elementOID: OID.bool)),
    PostgresTypeInfo(oid: OID.byteaArray, schema: "pg_catalog", name: "_bytea", kind: .array(elementOID: OID.bytea)),
    PostgresTypeInfo(oid: OID.uuidArray, schema: "pg_catalog", name: "_uuid", kind: .array(elementOID: OID.uuid)),
    PostgresTypeInfo(oid: OID.dateArray, schema: "pg_catalog", name: "_date", kind: .array(elementOID: OID.date)),
    PostgresTypeInfo(oid: OID.timestamptzArray, schema: "pg_catalog", name: "_timestamptz", kind: .array(elementOID: OID.timestamptz)),
    PostgresTypeInfo(oid: OID.hstore, schema: "public", name: "hstore", kind: .base),
    PostgresTypeInfo(oid: OID.citext, schema: "public", name: "citext", kind: .base),
    PostgresTypeInfo(oid: OID.ltree, schema: "public", name: "ltree", kind: .base),
    PostgresTypeInfo(oid: OID.mood, schema: "public", name: "mood", kind: .enumeration(labels: ["sad", "ok", "happy"])),
    PostgresTypeInfo(oid: OID.moodArray, schema: "public", name: "_mood", kind: .array(elementOID: OID.mood)),
    PostgresTypeInfo(oid: OID.price, schema: "public", name: "price",
                     kind: .domain(baseOID: OID.numeric, baseTypeModifier: numericTypmod(10, 2))),
    PostgresTypeInfo(oid: OID.priceArray, schema: "public", name: "_price", kind: .array(elementOID: OID.price)),
    PostgresTypeInfo(oid: OID.point, schema: "pg_catalog", name: "point", kind: .base),
])

let encoder = ChangeEventEncoder()

/// Converts one value through a single-key-column table and returns the JSON of the value.
func convert(_ value: ColumnValue, oid: UInt32, typmod: Int32 = -1, encoder: ChangeEventEncoder = encoder,
             options: EncoderOptions = EncoderOptions()) throws(ChangeEventError) -> String {
    let table = TableSchema(schema: "s", table: "t", columns: [col("v", oid, typmod: typmod, key: true)],
                            types: testCatalog, options: options)
    let key = try encoder.encodeKey(table: table, row: [value])!
    let json = utf8(key)
    #expect(json.hasPrefix("{\"v\":") && json.hasSuffix("}"))
    return String(json.dropFirst(5).dropLast())
}

func convert(_ text: String, oid: UInt32, typmod: Int32 = -1, options: EncoderOptions = EncoderOptions()) throws(ChangeEventError) -> String {
    try convert(txt(text), oid: oid, typmod: typmod, options: options)
}

/// True when `bytes` is one well-formed JSON document (checked with Foundation, tests only).
func isValidJSON(_ bytes: [UInt8]) -> Bool {
    (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil
}

// MARK: decimal helpers (independent of the module's implementation)

func base64Decode(_ quoted: String) -> [UInt8]? {
    guard quoted.count >= 2, quoted.first == "\"", quoted.last == "\"" else { return nil }
    guard let d = Data(base64Encoded: String(quoted.dropFirst().dropLast())) else { return nil }
    return [UInt8](d)
}

/// Big-endian two's complement bytes -> signed decimal string.
func twosComplementToDecimal(_ bytes: [UInt8]) -> String {
    precondition(!bytes.isEmpty)
    let negative = bytes[0] & 0x80 != 0
    var mag = bytes
    if negative {
        // magnitude = ~x + 1
        for i in mag.indices { mag[i] = ~mag[i] }
        var carry: UInt16 = 1
        for i in stride(from: mag.count - 1, through: 0, by: -1) {
            let t = UInt16(mag[i]) + carry
            mag[i] = UInt8(truncatingIfNeeded: t)
            carry = t >> 8
        }
    }
    // repeated division by 10^9
    var chunks: [UInt32] = []
    var cur = mag
    while cur.contains(where: { $0 != 0 }) {
        var rem: UInt64 = 0
        var next: [UInt8] = []
        next.reserveCapacity(cur.count)
        for b in cur {
            let v = rem << 8 | UInt64(b)
            let q = v / 1_000_000_000
            rem = v % 1_000_000_000
            if !(next.isEmpty && q == 0) { next.append(UInt8(q)) }
        }
        chunks.append(UInt32(rem))
        cur = next
    }
    if chunks.isEmpty { return "0" }
    var s = String(chunks.last!)
    for c in chunks.dropLast().reversed() {
        let part = String(c)
        s += String(repeating: "0", count: 9 - part.count) + part
    }
    return negative ? "-" + s : s
}

/// Minimal-length check: no redundant sign byte.
func isMinimalTwosComplement(_ bytes: [UInt8]) -> Bool {
    guard bytes.count > 1 else { return bytes.count == 1 }
    if bytes[0] == 0x00 && bytes[1] < 0x80 { return false }
    if bytes[0] == 0xFF && bytes[1] >= 0x80 { return false }
    return true
}

/// Inserts a decimal point `scale` digits from the right of an integer string.
func applyScale(_ integer: String, _ scale: Int) -> String {
    var negative = false
    var digits = Substring(integer)
    if digits.first == "-" { negative = true; digits = digits.dropFirst() }
    var d = String(digits)
    if scale > 0 {
        if d.count <= scale { d = String(repeating: "0", count: scale - d.count + 1) + d }
        d.insert(".", at: d.index(d.endIndex, offsetBy: -scale))
    }
    let isZero = !d.contains(where: { $0 != "0" && $0 != "." })
    return (negative && !isZero ? "-" : "") + d
}

/// Deterministic generator (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
