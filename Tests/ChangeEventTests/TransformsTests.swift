import Foundation
import Testing
@testable import ChangeEvent

/// Column masking and flattened records (docs/transforms.md): option parsing, digests and Java's
/// serialization against the JDK (Fixtures/MaskHashVectors.tsv, scripts/oracle/MaskHashVectors.java),
/// truncation, and the encoder's masked and flattened output. Whole records are checked against real
/// Debezium 3.6.3 in GoldenTests (Golden/transforms.*).
@Suite("Column masking and flattened records")
struct TransformsTests {
    // MARK: digests and hashing

    static let hashVectors: [(algorithm: String, salt: [UInt8], value: String, v1: String, v2: String)] = {
        guard let url = Bundle.module.url(forResource: "MaskHashVectors", withExtension: "tsv", subdirectory: "Fixtures"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            fatalError("Fixtures/MaskHashVectors.tsv is not in the ChangeEventTests bundle")
        }
        func bytes(_ hex: Substring) -> [UInt8] {
            var out: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                out.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            return out
        }
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            return (String(f[0]), bytes(f[1]), String(decoding: bytes(f[2]), as: UTF8.self), String(f[3]), String(f[4]))
        }
    }()

    @Test func hashesEqualTheJDKsForEveryAlgorithmAndBothVersions() throws {
        #expect(Self.hashVectors.count > 90)
        for vector in Self.hashVectors {
            let algorithm = try #require(DigestAlgorithm(javaName: vector.algorithm))
            let v1 = ColumnMask.hash(algorithm, salt: vector.salt, version: .v1).apply(toString: vector.value, declaredLength: nil)
            let v2 = ColumnMask.hash(algorithm, salt: vector.salt, version: .v2).apply(toString: vector.value, declaredLength: nil)
            #expect(v1 == vector.v1, "\(vector.algorithm) v1 of a value of \(vector.value.utf8.count) bytes")
            #expect(v2 == vector.v2, "\(vector.algorithm) v2 of a value of \(vector.value.utf8.count) bytes")
        }
    }

    @Test func digestsOfTheStandardsTestVectors() {
        let abc = Array("abc".utf8)
        #expect(ColumnMask.hex(DigestAlgorithm.sha256.digest(abc)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ColumnMask.hex(DigestAlgorithm.sha1.digest(abc)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(ColumnMask.hex(DigestAlgorithm.md5.digest(abc)) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(ColumnMask.hex(DigestAlgorithm.sha512.digest([])).hasPrefix("cf83e1357eefb8bdf1542850d66d8007"))
    }

    /// SHA-256 and SHA-224 around the padding's block boundaries (the tail and its length in one block or
    /// two; whole blocks read in place): digests of n × "a" from Python's hashlib.
    @Test func sha256AtTheBlockBoundaries() {
        let expected: [(Int, String, String)] = [
            (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318", "fb0bd626a70c28541dfa781bb5cc4d7d7f56622a58f01a0b1ddd646f"),
            (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a", "d40854fc9caf172067136f2e29e1380b14626bf6f0dd06779f820dcd"),
            (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34", "1d4e051f4d6fed2a63fd2421e65834cec00d64456553de3496ae8b1d"),
            (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb", "a88cd5cde6d6fe9136a4e58b49167461ea95d388ca2bdb7afdc3cbf4"),
            (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0", "ff8716f600af42959d0efb52e1f21b01bb328733009344d511c299fb"),
            (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb", "e000e6709d26667b631faa7fc1bd404eb4774003c5fb4f51a0184875"),
            (120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c", "66924e30a9929327e7a6cf03747397226ed2efc180ebe3dea7132a79"),
            (127, "c57e9278af78fa3cab38667bef4ce29d783787a2f731d4e12200270f0c32320a", "0822db3f33424aead078f71ed05f30edc077a3c254b7c79c89a7a4a1"),
            (128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e", "39873a2441c56608137850f4c54dde157710b9a2b83c8bdc756dd643"),
        ]
        for (count, sha256, sha224) in expected {
            let message = [UInt8](repeating: UInt8(ascii: "a"), count: count)
            #expect(ColumnMask.hex(DigestAlgorithm.sha256.digest(message)) == sha256, "SHA-256 of \(count) bytes")
            #expect(ColumnMask.hex(DigestAlgorithm.sha224.digest(message)) == sha224, "SHA-224 of \(count) bytes")
        }
    }

    @Test func javaAlgorithmNamesIgnoreCaseAndTakeTheSUNAliases() {
        #expect(DigestAlgorithm(javaName: "sha-256") == .sha256)
        #expect(DigestAlgorithm(javaName: "SHA256") == .sha256)
        #expect(DigestAlgorithm(javaName: "SHA") == .sha1)
        #expect(DigestAlgorithm(javaName: "SHA-512/256") == .sha512_256)
        #expect(DigestAlgorithm(javaName: "SHA3-256") == nil)
        #expect(DigestAlgorithm(javaName: "whirlpool") == nil)
    }

    @Test func hashesAreCutToTheDeclaredLength() {
        let mask = ColumnMask.hash(.sha256, salt: [], version: .v2)
        #expect(mask.apply(toString: "abc", declaredLength: 6) == "ba7816")
        #expect(mask.apply(toString: "abc", declaredLength: nil)?.count == 64)
        #expect(mask.apply(toString: nil, declaredLength: 6) == nil)
    }

    // MARK: options

    @Test func optionNamesParseAsDebeziumReadsThem() throws {
        #expect(try ColumnMask.parse(option: "column.truncate.to.20.chars") == .truncate(length: 20))
        #expect(try ColumnMask.parse(option: "column.mask.with.3.chars") == .maskWith("***"))
        #expect(try ColumnMask.parse(option: "column.mask.with.0.chars") == .maskWith(""))
        #expect(try ColumnMask.parse(option: "column.mask.hash.SHA-256.with.salt.s.a.l.t")
                == .hash(.sha256, salt: Array("s.a.l.t".utf8), version: .v1))
        #expect(try ColumnMask.parse(option: "column.mask.hash.v2.MD5.with.salt.x")
                == .hash(.md5, salt: Array("x".utf8), version: .v2))
        #expect(try ColumnMask.parse(option: "column.include.list") == nil)
        #expect(try ColumnMask.parse(option: "decimal.handling.mode") == nil)
    }

    @Test(arguments: ["column.truncate.to.x.chars", "column.truncate.to..chars", "column.mask.with.-1.chars",
                      "column.mask.with.99999999999.chars", "column.mask.hash.SHA3-256.with.salt.x",
                      "column.mask.hash.v2.nope.with.salt.x", "column.mask.hash.SHA-256.with.salt.",
                      "column.mask.hash.SHA-256", "column.mask.everything", "column.truncate.to.5"])
    func badOptionNamesAreRefused(option: String) {
        #expect(throws: ColumnMask.OptionError.self) { try ColumnMask.parse(option: option) }
    }

    @Test func rulesOfTheSameKindKeepTheirOrderAfterDebeziumsKindOrder() {
        #expect(ColumnMask.truncate(length: 1).kindOrder < ColumnMask.maskWith("*").kindOrder)
        #expect(ColumnMask.maskWith("*").kindOrder < ColumnMask.hash(.md5, salt: [], version: .v1).kindOrder)
        #expect(ColumnMask.hash(.md5, salt: [], version: .v1).kindOrder < ColumnMask.hash(.md5, salt: [], version: .v2).kindOrder)
    }

    // MARK: truncation

    @Test func truncationCountsUTF16CodeUnitsAsJava() {
        #expect(ColumnMask.prefix("abcdef", utf16Units: 4) == "abcd")
        #expect(ColumnMask.prefix("abc", utf16Units: 4) == "abc")
        #expect(ColumnMask.prefix("Zoë名前", utf16Units: 4) == "Zoë名")
        // A surrogate pair that the cut would split is left out whole.
        #expect(ColumnMask.prefix("a😀b", utf16Units: 2) == "a")
        #expect(ColumnMask.prefix("a😀b", utf16Units: 3) == "a😀")
        #expect(ColumnMask.prefix("abc", utf16Units: 0) == "")
    }

    // MARK: masked records

    static func table(masks: [String: ColumnMask], options: EncoderOptions = .init()) -> TableSchema {
        TableSchema(schema: "public", table: "people", columns: [
            col("id", OID.int4, key: true),
            col("email", OID.text),
            col("name", OID.varchar, typmod: 8 + 4),
            col("code", OID.bpchar, typmod: 4 + 4),
            col("photo", OID.bytea),
            col("age", OID.int4),
        ], options: options, columnMasks: masks.mapValues { ColumnMaskRule(option: "column.option", mask: $0, columns: [".*"]) })
    }

    static let row: [ColumnValue] = [txt("7"), txt("ann@example.com"), txt("Ann"), txt("AB  "), txt("\\x01020304"), .null]

    @Test func aMaskedKeyColumnIsMaskedInTheRowImagesOnly() throws {
        let table = TableSchema(schema: "public", table: "t", columns: [col("k", OID.text, key: true)],
                                columnMasks: ["k": ColumnMaskRule(option: "o", mask: .maskWith("#"), columns: [])])
        #expect(try encoder.encodeKey(table: table, row: [txt("secret")]).map(utf8) == #"{"k":"secret"}"#)
        let value = utf8(try encoder.encodeRowChange(op: .create, table: table, before: nil, after: [txt("secret")],
                                                     source: SourceInfo(connectorVersion: "v", serverName: "a", database: "d",
                                                                        commitTimeMicros: 0), eventTimeMillis: 0))
        #expect(value.hasPrefix(##"{"before":null,"after":{"k":"#"}"##))
    }

    @Test func masksApplyToTheRowImages() throws {
        let table = Self.table(masks: ["email": .maskWith("*****"),
                                       "name": .hash(.sha256, salt: [], version: .v2), "photo": .truncate(length: 2)])
        let key = try #require(try encoder.encodeKey(table: table, row: Self.row))
        #expect(utf8(key) == #"{"id":7}"#)
        let value = utf8(try encoder.encodeRowChange(op: .update, table: table, before: Self.row, after: Self.row,
                                                     source: SourceInfo(connectorVersion: "v", serverName: "app", database: "db",
                                                                        commitTimeMicros: 0), eventTimeMillis: 0))
        let sha = ColumnMask.hex(DigestAlgorithm.sha256.digest(Array("Ann".utf8)))
        let image = #"{"id":7,"email":"*****","name":"\#(sha.prefix(8))","code":"AB  ","photo":"AQI=","age":null}"#
        #expect(value.hasPrefix(#"{"before":\#(image),"after":\#(image),"#))
    }

    @Test func aMaskWithCharactersReplacesNullAndTheToastPlaceholderTooAsDebeziumDoes() throws {
        let table = Self.table(masks: ["email": .maskWith("***"), "name": .hash(.md5, salt: [], version: .v2),
                                       "code": .truncate(length: 2)])
        let row: [ColumnValue] = [txt("1"), .null, .null, .unchangedToast, .null, .null]
        let value = utf8(try encoder.encodeRowChange(op: .create, table: table, before: nil, after: row,
                                                     source: SourceInfo(connectorVersion: "v", serverName: "app", database: "db",
                                                                        commitTimeMicros: 0), eventTimeMillis: 0))
        // code is char(4): a truncation to 2 applies; the placeholder is its value.
        #expect(value.contains(#""after":{"id":1,"email":"***","name":null,"code":"__","photo":null,"age":null}"#))
    }

    @Test func schemasCarryTheMappersParameters() throws {
        let options = EncoderOptions(includeSchemas: true, schemaNamePrefix: "app")
        let table = Self.table(masks: ["email": .maskWith("*"), "name": .truncate(length: 20), "code": .truncate(length: 2),
                                       "photo": .truncate(length: 3)], options: options)
        let schema = utf8(try #require(table.valueSchemaJSON))
        #expect(schema.contains(#"{"type":"string","optional":true,"parameters":{"masked":"true"},"field":"email"}"#))
        // varchar(8) cannot be longer than 20: TruncateColumn leaves it alone, schema included.
        #expect(schema.contains(#"{"type":"string","optional":true,"field":"name"}"#))
        #expect(schema.contains(#"{"type":"string","optional":true,"parameters":{"truncateLength":"2"},"field":"code"}"#))
        #expect(schema.contains(#"{"type":"bytes","optional":true,"parameters":{"truncateLength":"3"},"field":"photo"}"#))
        // The key schema has no parameters.
        #expect(!utf8(try #require(table.keySchemaJSON)).contains("parameters"))
    }

    @Test func parametersFollowTheTypesOwn() {
        let schema = ConnectFieldSchema(type: "string", name: "io.debezium.data.Enum", version: 1, parameters: [("allowed", "a,b")])
            .addingParameter("truncateLength", "1")
        #expect(utf8(schema.json(optional: true))
                == #"{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"a,b","truncateLength":"1"}}"#)
    }

    @Test func masksOnTypesTheyCannotMaskAreRefusedNamingTheOption() throws {
        let intMask = Self.table(masks: ["age": .maskWith("*")])
        let error = try #require(intMask.maskNotApplicableError)
        #expect(error.code == .maskNotApplicable)
        #expect(error.column == "age")
        #expect(error.description.contains("events.column.option"))
        #expect(Self.table(masks: ["age": .truncate(length: 1)]).maskNotApplicableError != nil)
        #expect(Self.table(masks: ["photo": .hash(.sha1, salt: [], version: .v1)]).maskNotApplicableError != nil)
        // bytea as hex is a string in Debezium but Swallow truncates bytea only as bytes.
        #expect(Self.table(masks: ["photo": .truncate(length: 1)], options: EncoderOptions(binaryHandling: .hex)).maskNotApplicableError != nil)
        #expect(Self.table(masks: ["email": .maskWith("*"), "photo": .truncate(length: 1)]).maskNotApplicableError == nil)
        let json = TableSchema(schema: "public", table: "t", columns: [col("id", OID.int4, key: true), col("doc", OID.jsonb)],
                               columnMasks: ["doc": ColumnMaskRule(option: "column.mask.with.1.chars", mask: .maskWith("*"), columns: [".*"])])
        #expect(json.maskNotApplicableError != nil)
    }

    @Test func aDomainOverTextIsMaskedWithItsBaseTypesLength() throws {
        let types = TypeCatalog([PostgresTypeInfo(oid: 90_100, schema: "public", name: "short_code",
                                                  kind: .domain(baseOID: OID.varchar, baseTypeModifier: 3 + 4))])
        let table = TableSchema(schema: "public", table: "t", columns: [col("id", OID.int4, key: true), col("c", 90_100)],
                                types: types,
                                columnMasks: ["c": ColumnMaskRule(option: "o", mask: .hash(.sha1, salt: [], version: .v2), columns: [])])
        #expect(table.maskNotApplicableError == nil)
        let value = utf8(try encoder.encodeRowChange(op: .create, table: table, before: nil, after: [txt("1"), txt("abc")],
                                                     source: SourceInfo(connectorVersion: "v", serverName: "a", database: "d",
                                                                        commitTimeMicros: 0), eventTimeMillis: 0))
        #expect(value.contains(#""after":{"id":1,"c":"a99"}"#))
    }

    // MARK: flattened records

    static func flattenEncoder(_ flatten: FlattenOptions, schemas: Bool = false) -> ChangeEventEncoder {
        var options = EncoderOptions(includeSchemas: schemas, schemaNamePrefix: "app")
        options.flatten = flatten
        return ChangeEventEncoder(options: options)
    }

    static func ordersTable(_ encoder: ChangeEventEncoder) -> TableSchema {
        TableSchema(schema: "public", table: "orders", columns: [col("id", OID.int4, key: true), col("region", OID.text)],
                    options: encoder.options)
    }

    static let source: SourceInfo = {
        var source = SourceInfo(connectorVersion: "v", serverName: "app", database: "shop", commitTimeMicros: 1_700_000_000_123_456,
                                transactionID: 9, lsn: 100, lastCommitLSN: 90)
        source.transaction = TransactionBlock(id: "9:100", totalOrder: 1, dataCollectionOrder: 1)
        return source
    }()

    static let orderRow: [ColumnValue] = [txt("1"), txt("eu")]

    @Test func defaultModeWritesTheRowAndADeleteWithANullValue() throws {
        let encoder = Self.flattenEncoder(FlattenOptions())
        let table = Self.ordersTable(encoder)
        let created = try #require(try encoder.encodeFlattenedChange(op: .create, table: table, before: nil, after: Self.orderRow,
                                                                     source: Self.source, eventTimeMillis: 5))
        #expect(created.value.map(utf8) == #"{"id":1,"region":"eu"}"#)
        #expect(created.topic == nil && created.headers.isEmpty)
        let deleted = try #require(try encoder.encodeFlattenedChange(op: .delete, table: table, before: Self.orderRow, after: nil,
                                                                     source: Self.source, eventTimeMillis: 5))
        #expect(deleted.value == nil)
        #expect(encoder.flattenedTombstoneHeaders() == nil)
    }

    @Test func rewriteAddsDeletedAndTheAddedFields() throws {
        let fields = try ["op", "table", "source.ts_ms", "lsn:position", "transaction.id", "snapshot", "ts_us"]
            .map { try FlattenField.parse($0, prefix: "__") }
        #expect(fields.map(\.name) == ["__op", "__table", "__source_ts_ms", "__position", "__transaction_id", "__snapshot", "__ts_us"])
        let encoder = Self.flattenEncoder(FlattenOptions(deleteTombstoneHandling: .rewrite, addFields: fields))
        let table = Self.ordersTable(encoder)
        let deleted = try #require(try encoder.encodeFlattenedChange(op: .delete, table: table, before: Self.orderRow, after: nil,
                                                                     source: Self.source, eventTimeMillis: 5))
        #expect(deleted.value.map(utf8) == #"{"id":1,"region":"eu","__deleted":"true","__op":"d","__table":"orders","__source_ts_ms":1700000000123,"__position":100,"__transaction_id":"9:100","__snapshot":null,"__ts_us":5000}"#)
        let updated = try #require(try encoder.encodeFlattenedChange(op: .update, table: table, before: nil, after: Self.orderRow,
                                                                     source: Self.source, eventTimeMillis: 5))
        #expect(updated.value.map(utf8)?.hasPrefix(#"{"id":1,"region":"eu","__deleted":"false","__op":"u""#) == true)
    }

    @Test func dropAndDeleteToTombstone() throws {
        let drop = Self.flattenEncoder(FlattenOptions(deleteTombstoneHandling: .drop))
        #expect(try drop.encodeFlattenedChange(op: .delete, table: Self.ordersTable(drop), before: Self.orderRow, after: nil,
                                               source: Self.source, eventTimeMillis: 5) == nil)
        let toTombstone = Self.flattenEncoder(FlattenOptions(deleteTombstoneHandling: .deleteToTombstone), schemas: true)
        let record = try #require(try toTombstone.encodeFlattenedChange(op: .delete, table: Self.ordersTable(toTombstone),
                                                                         before: Self.orderRow, after: nil, source: Self.source,
                                                                         eventTimeMillis: 5))
        #expect(record.value == nil)
        #expect(toTombstone.flattenedTombstoneHeaders() == nil)
    }

    @Test func rewriteWithTombstoneKeepsTheTombstoneWithTheOpHeaderOnly() throws {
        let headers = try ["op", "table"].map { try FlattenField.parse($0, prefix: "h_") }
        let encoder = Self.flattenEncoder(FlattenOptions(deleteTombstoneHandling: .rewriteWithTombstone, addHeaders: headers),
                                          schemas: true)
        let tombstone = try #require(encoder.flattenedTombstoneHeaders())
        #expect(tombstone.map(\.key) == ["h_op"])
        #expect(tombstone.first?.value.map(utf8) == #"{"schema":{"type":"string","optional":false},"payload":"d"}"#)
    }

    @Test func headersWithAndWithoutSchemas() throws {
        let headers = try ["op", "source.txId", "xmin"].map { try FlattenField.parse($0, prefix: "__") }
        let plain = Self.flattenEncoder(FlattenOptions(addHeaders: headers))
        let record = try #require(try plain.encodeFlattenedChange(op: .create, table: Self.ordersTable(plain), before: nil,
                                                                  after: Self.orderRow, source: Self.source, eventTimeMillis: 5))
        #expect(record.headers == [FlattenedHeader(key: "__op", value: Array(#""c""#.utf8)),
                                   FlattenedHeader(key: "__source_txId", value: Array("9".utf8)),
                                   FlattenedHeader(key: "__xmin", value: nil)])
        let schemas = Self.flattenEncoder(FlattenOptions(addHeaders: headers), schemas: true)
        let withSchemas = try #require(try schemas.encodeFlattenedChange(op: .create, table: Self.ordersTable(schemas), before: nil,
                                                                         after: Self.orderRow, source: Self.source, eventTimeMillis: 5))
        #expect(withSchemas.headers.last?.value.map(utf8) == #"{"schema":{"type":"int64","optional":true},"payload":null}"#)
    }

    @Test func flattenedSchemas() throws {
        let plain = Self.flattenEncoder(FlattenOptions(), schemas: true)
        let row = #"{"type":"struct","fields":[{"type":"int32","optional":true,"field":"id"},{"type":"string","optional":true,"field":"region"}]"#
        let created = try #require(try plain.encodeFlattenedChange(op: .create, table: Self.ordersTable(plain), before: nil,
                                                                   after: Self.orderRow, source: Self.source, eventTimeMillis: 5))
        #expect(created.value.map(utf8) == #"{"schema":\#(row),"optional":true,"name":"app.public.orders.Value"},"payload":{"id":1,"region":"eu"}}"#)
        let deleted = try #require(try plain.encodeFlattenedChange(op: .delete, table: Self.ordersTable(plain), before: Self.orderRow,
                                                                   after: nil, source: Self.source, eventTimeMillis: 5))
        #expect(deleted.value.map(utf8) == #"{"schema":\#(row),"optional":true,"name":"app.public.orders.Value"},"payload":null}"#)
        // Inserted fields make the struct required (copySchemaBasics copies no optionality).
        let rewrite = Self.flattenEncoder(FlattenOptions(deleteTombstoneHandling: .rewrite,
                                                         addFields: [try FlattenField.parse("snapshot", prefix: "__")]), schemas: true)
        let rewritten = try #require(try rewrite.encodeFlattenedChange(op: .create, table: Self.ordersTable(rewrite), before: nil,
                                                                       after: Self.orderRow, source: Self.source, eventTimeMillis: 5))
        #expect(rewritten.value.map(utf8)?.hasPrefix(#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"field":"id"},{"type":"string","optional":true,"field":"region"},{"type":"string","optional":true,"field":"__deleted"},{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"field":"__snapshot"}],"optional":false,"name":"app.public.orders.Value"}"#) == true)
    }

    @Test func routeByFieldTakesTheRowsColumnUnlessNullOrBlank() throws {
        let encoder = Self.flattenEncoder(FlattenOptions(deleteTombstoneHandling: .rewrite, routeByField: "region"))
        let table = Self.ordersTable(encoder)
        func topic(_ op: ChangeEvent.Operation, _ region: ColumnValue) throws -> String? {
            let row = [txt("1"), region]
            return try encoder.encodeFlattenedChange(op: op, table: table, before: op == .delete ? row : nil,
                                                     after: op == .delete ? nil : row, source: Self.source, eventTimeMillis: 5)?.topic
        }
        #expect(try topic(.create, txt("orders.eu")) == "orders.eu")
        #expect(try topic(.delete, txt("orders.us")) == "orders.us")
        #expect(try topic(.create, .null) == nil)
        #expect(try topic(.create, txt("  ")) == nil)
        // A delete turned into a tombstone is routed by its before row too.
        let toTombstone = Self.flattenEncoder(FlattenOptions(deleteTombstoneHandling: .deleteToTombstone, routeByField: "region"))
        #expect(try toTombstone.encodeFlattenedChange(op: .delete, table: Self.ordersTable(toTombstone), before: [txt("1"), txt("t.eu")],
                                                      after: nil, source: Self.source, eventTimeMillis: 5)?.topic == "t.eu")
        let missing = Self.flattenEncoder(FlattenOptions(routeByField: "nope"))
        #expect(throws: ChangeEventError.self) {
            try missing.encodeFlattenedChange(op: .create, table: Self.ordersTable(missing), before: nil, after: Self.orderRow,
                                              source: Self.source, eventTimeMillis: 5)
        }
    }

    @Test(arguments: ["nope", "source.nope", "before.id", "a.b.c", "op:", ":x", "op:a:b", "transaction.nope.x"])
    func unknownFieldsAreRefused(entry: String) {
        #expect(throws: FlattenField.ParseError.self) { try FlattenField.parse(entry, prefix: "__") }
    }

    @Test func fieldNamesFollowFieldReference() throws {
        #expect(try FlattenField.parse("source.ts_ms", prefix: "") == FlattenField(origin: .source(.tsMs), name: "source_ts_ms"))
        #expect(try FlattenField.parse("ts_ms", prefix: "__") == FlattenField(origin: .tsMs, name: "__ts_ms"))
        #expect(try FlattenField.parse("id", prefix: "__") == FlattenField(origin: .transaction(.id), name: "__id"))
        #expect(try FlattenField.parse("db:DATABASE", prefix: "x_") == FlattenField(origin: .source(.db), name: "x_DATABASE"))
        // A field the struct lacks but the envelope has at the top: FieldReference's fallback.
        #expect(try FlattenField.parse("source.op", prefix: "__") == FlattenField(origin: .op, name: "__source_op"))
    }
}
