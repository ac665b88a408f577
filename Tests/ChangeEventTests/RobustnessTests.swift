import Foundation
import Testing
@testable import ChangeEvent

@Suite("Robustness")
struct RobustnessTests {
    static let typedColumns: [ColumnSchema] = [
        col("c_int2", OID.int2), col("c_int4", OID.int4), col("c_int8", OID.int8), col("c_oid", OID.oid),
        col("c_bool", OID.bool), col("c_float4", OID.float4), col("c_float8", OID.float8),
        col("c_numeric", OID.numeric, typmod: numericTypmod(12, 3)), col("c_numeric_var", OID.numeric),
        col("c_numeric_neg", OID.numeric, typmod: numericTypmod(5, -2)),
        col("c_money", OID.money), col("c_bytea", OID.bytea), col("c_date", OID.date),
        col("c_time", OID.time), col("c_time3", OID.time, typmod: 3), col("c_ts", OID.timestamp),
        col("c_ts3", OID.timestamp, typmod: 3), col("c_tstz", OID.timestamptz), col("c_tstz0", OID.timestamptz, typmod: 0),
        col("c_timetz", OID.timetz), col("c_interval", OID.interval),
        col("c_text", OID.text), col("c_jsonb", OID.jsonb), col("c_bit", OID.bit, typmod: 5),
        col("c_bit1", OID.bit, typmod: 1), col("c_varbit", OID.varbit), col("c_int4s", OID.int4Array),
        col("c_texts", OID.textArray), col("c_numerics", OID.numericArray), col("c_prices", OID.priceArray),
        col("c_hstore", OID.hstore), col("c_mood", OID.mood), col("c_price", OID.price),
    ]

    /// Every alternative mode, so that their parsers are fuzzed too.
    static let optionVariants: [EncoderOptions] = [
        EncoderOptions(),
        EncoderOptions(decimalHandling: .string, timePrecision: .connect, binaryHandling: .hex, intervalHandling: .string,
                       hstoreHandling: .map),
        EncoderOptions(decimalHandling: .double, timePrecision: .adaptiveTimeMicroseconds, binaryHandling: .base64URLSafe),
    ]

    /// Alphabet biased towards characters that appear in valid values, so parsers get deep.
    static let alphabet: [UInt8] = Array("0123456789-+.:eE $,()\\xabcdefTZBCinfityNa ".utf8) + [0x00, 0x80, 0xFF, 0xC3, 0xE2]

    static func garbage(_ rng: inout SeededGenerator) -> [UInt8] {
        let len = Int.random(in: 0...40, using: &rng)
        var out = JSONOutput(capacity: 64)
        for _ in 0..<len {
            if Int.random(in: 0..<4, using: &rng) == 0 {
                out.append(UInt8.random(in: 0...255, using: &rng))
            } else {
                out.append(alphabet[Int.random(in: 0..<alphabet.count, using: &rng)])
            }
        }
        return out.bytes()
    }

    /// Mutations of valid values: these reach the range/overflow checks.
    static let seeds: [String] = [
        "9223372036854775807", "-9223372036854775808", "1.5e-07", "1234.500", "-$1,234.56", "\\x0a0b",
        "2024-02-29", "0044-03-15 BC", "13:51:30.123456", "24:00:00", "2024-02-29 13:45:01.123456",
        "2024-02-29 13:45:01.123456+05:30", "13:51:30+02", "1 year 2 mons 3 days 04:05:06.78", "infinity",
        "NaN", "294276-12-31 23:59:59.999999", "99999999-12-31 23:59:59+14", "10110", "{1,NULL,3}",
        "{{1,2},{3,4}}", "{\"a,b\",\"c\\\"d\",NULL}", "[0:1]={1,2}", "\"a\"=>\"1\", \"b\"=>NULL", "{}",
    ]

    static func mutate(_ s: String, _ rng: inout SeededGenerator) -> [UInt8] {
        var b = Array(s.utf8)
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0 where !b.isEmpty: b[Int.random(in: 0..<b.count, using: &rng)] = alphabet.randomElement(using: &rng)!
            case 1: b.insert(alphabet.randomElement(using: &rng)!, at: Int.random(in: 0...b.count, using: &rng))
            case 2 where !b.isEmpty: b.remove(at: Int.random(in: 0..<b.count, using: &rng))
            default: b.append(contentsOf: Array("9999999999".utf8.prefix(Int.random(in: 1...10, using: &rng))))
            }
        }
        return b
    }

    @Test func garbageNeverCrashesAndErrorsAreClean() throws {
        var rng = SeededGenerator(seed: 2024)
        var failures = 0
        var successes = 0
        for options in Self.optionVariants {
        for column in Self.typedColumns {
            let table = TableSchema(schema: "app", table: "things", columns: [col("id", OID.int4, key: true), column],
                                    types: testCatalog, options: options)
            for i in 0..<1500 {
                var value = i % 2 == 0 ? Self.garbage(&rng) : Self.mutate(Self.seeds.randomElement(using: &rng)!, &rng)
                // A marker that must never appear in an error message.
                if i % 5 == 0 { value += Array("SECRET".utf8) }
                do {
                    let out = try encoder.encodeRowChange(op: .create, table: table, before: nil,
                                                          after: [txt("1"), raw(value)],
                                                          source: SourceInfo(connectorVersion: "t", serverName: "s", database: "d",
                                                                             commitTimeMicros: 0),
                                                          eventTimeMillis: 0)
                    successes += 1
                    #expect(isValidJSON(out), "\(column.name): \(value)")
                } catch {
                    failures += 1
                    #expect(error.code == .invalidValue)
                    #expect(error.schema == "app" && error.table == "things" && error.column == column.name)
                    let d = error.description
                    #expect(d.contains("app.things.\(column.name)"))
                    #expect(d.contains(ColumnPlan.typeName(oid: column.typeOID, typmod: column.typeModifier, types: testCatalog)))
                    #expect(!d.contains("SECRET"))
                    let valueText = String(decoding: value, as: UTF8.self)
                    if valueText.count >= 4 { #expect(!d.contains(valueText), "\(d)") }
                }
            }
        }
        }
        #expect(failures > 1000)
        #expect(successes > 1000)
    }

    @Test func everyPrefixOfValidValuesIsHandled() {
        for seed in Self.seeds {
            let bytes = Array(seed.utf8)
            for end in 0...bytes.count {
                for column in Self.typedColumns {
                    for options in Self.optionVariants {
                    do {
                        let json = try convert(raw(Array(bytes[0..<end])), oid: column.typeOID, typmod: column.typeModifier,
                                               options: options)
                        #expect(isValidJSON(Array(json.utf8)))
                    } catch {
                        #expect(error.code == .invalidValue)
                    }
                    }
                }
            }
        }
    }

    @Test func errorDescriptionNamesTableColumnAndType() {
        let table = TableSchema(schema: "billing", table: "invoices",
                                columns: [col("total", OID.numeric, typmod: numericTypmod(10, 2), key: true)])
        do {
            _ = try encoder.encodeKey(table: table, row: [txt("12.345678")])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidValue)
            #expect(error.typeName == "numeric(10,2)")
            #expect(error.description == "invalidValue: column billing.invoices.total of type numeric(10,2): more fraction digits than the declared scale")
            #expect(!error.description.contains("12.345678"))
            #expect(!error.isRetriable)
        }
    }
}
