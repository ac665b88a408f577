// hstore text (hstore_out) -> Debezium's hstore.handling.mode=json / map JSON.
//
// Wire format:  "a"=>"1", "b"=>NULL, "c\"d"=>"x\\y"
//   keys always double-quoted; values double-quoted or the bare word NULL (SQL NULL; a quoted
//   "NULL" is the string); `\"` and `\\` are the only escapes hstore_out writes (any escaped
//   character stands for itself); pairs separated by ", "; the empty hstore is the empty string.
//   hstore_in's optional whitespace around "=>" and "," is accepted.
//
// Debezium parses the text with pgjdbc HStoreConverter.fromString into a java.util.HashMap, then
//  * json mode (the default): a Jackson JsonGenerator writes the entries without any whitespace,
//    null values as null: the field value is the JSON *string* "{\"a\":\"1\",\"b\":null}";
//  * map mode: the Connect MAP value is written by JsonConverter as a JSON object {"a":"1","b":null}.
// In both the key order is the HashMap's iteration order (JavaHashMapOrder), not the text order.

enum HstoreLiteral {
    /// One parsed pair: key and value bytes in `storage` (unescaped), value nil for NULL.
    struct Pair: Sendable, Equatable {
        var key: Range<Int>
        var value: Range<Int>?
    }

    /// Parsed hstore: pairs in text order with unescaped bytes.
    struct Parsed: Sendable {
        var storage: [UInt8] = []
        var pairs: [Pair] = []
    }

    @inline(__always)

    static func parse(_ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) -> Parsed {
        let bad = ConversionFailure("not a valid hstore literal")
        var parsed = Parsed()
        parsed.storage.reserveCapacity(p.count)
        let n = p.count
        var i = 0
        @inline(__always) func skipSpace() { while i < n && Ascii.isSpace(p[i]) { i += 1 } }

        /// A double-quoted string, unescaped into storage.
        func quoted() throws(ConversionFailure) -> Range<Int> {
            guard i < n && p[i] == Ascii.quote else { throw bad }
            i += 1
            let start = parsed.storage.count
            while true {
                guard i < n else { throw bad }
                var c = p[i]
                if c == Ascii.quote { i += 1; break }
                if c == Ascii.backslash {
                    i += 1
                    guard i < n else { throw bad }
                    c = p[i]
                }
                parsed.storage.append(c)
                i += 1
            }
            return start..<parsed.storage.count
        }

        skipSpace()
        if i == n { return parsed }
        while true {
            skipSpace()
            let key = try quoted()
            skipSpace()
            guard i + 1 < n, p[i] == UInt8(ascii: "="), p[i + 1] == UInt8(ascii: ">") else { throw bad }
            i += 2
            skipSpace()
            var value: Range<Int>?
            if i < n && p[i] == Ascii.quote {
                value = try quoted()
            } else {
                // Bare NULL (hstore_in takes it case-insensitively).
                guard i + 3 < n,
                      p[i] | 0x20 == UInt8(ascii: "n"), p[i + 1] | 0x20 == UInt8(ascii: "u"),
                      p[i + 2] | 0x20 == UInt8(ascii: "l"), p[i + 3] | 0x20 == UInt8(ascii: "l") else { throw bad }
                i += 4
                value = nil
            }
            parsed.pairs.append(Pair(key: key, value: value))
            skipSpace()
            if i == n { break }
            guard p[i] == Ascii.comma else { throw bad }
            i += 1
        }
        return parsed
    }

    /// The pairs in java.util.HashMap iteration order, repeated keys collapsed like HashMap.put
    /// (first key's position, last value). Indexes into `parsed.pairs` plus the value to write.
    static func hashMapOrder(_ parsed: Parsed) -> [(key: Range<Int>, value: Range<Int>?)] {
        var map = JavaHashMapOrder()
        var lastValue: [Range<Int>?] = []
        lastValue.reserveCapacity(parsed.pairs.count)
        parsed.storage.withUnsafeBufferPointer { s in
            for pair in parsed.pairs {
                let node = map.put(utf8: UnsafeBufferPointer(rebasing: s[pair.key]))
                if node == lastValue.count {
                    lastValue.append(pair.value)
                } else {
                    lastValue.append(nil)          // placeholder for the unused node
                    lastValue[node] = pair.value
                }
            }
        }
        // Node numbers are put numbers; the first put of each key owns the node.
        return map.iterationOrder().map { (key: parsed.pairs[$0].key, value: lastValue[$0]) }
    }

    /// hstore.handling.mode=map: `{"a":"1","b":null}`.
    static func appendMap(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        let parsed = try parse(p)
        appendObject(&out, parsed)
    }

    /// hstore.handling.mode=json: the JSON string `"{\"a\":\"1\",\"b\":null}"`.
    static func appendJSONString(_ out: inout JSONOutput, _ p: UnsafeBufferPointer<UInt8>) throws(ConversionFailure) {
        let parsed = try parse(p)
        var inner = JSONOutput(capacity: p.count + 2)
        // Debezium makes this text with ObjectMapper.writeValueAsString, a character writer that leaves
        // characters outside the Basic Multilingual Plane as they are; only the event's writer escapes
        // them (once, below).
        appendObject(&inner, parsed, escapingSupplementary: false)
        // The inner document is valid UTF-8 already; this only adds the string escaping.
        inner.withBytes { JSON.appendString(&out, $0) }
    }

    private static func appendObject(_ out: inout JSONOutput, _ parsed: Parsed, escapingSupplementary: Bool = true) {
        let entries = hashMapOrder(parsed)
        out.append(Ascii.openBrace)
        parsed.storage.withUnsafeBufferPointer { s in
            for (k, entry) in entries.enumerated() {
                if k > 0 { out.append(Ascii.comma) }
                JSON.appendString(&out, UnsafeBufferPointer(rebasing: s[entry.key]), escapingSupplementary: escapingSupplementary)
                out.append(Ascii.colon)
                if let v = entry.value {
                    JSON.appendString(&out, UnsafeBufferPointer(rebasing: s[v]), escapingSupplementary: escapingSupplementary)
                } else {
                    JSON.appendASCII(&out, "null")
                }
            }
        }
        out.append(Ascii.closeBrace)
    }
}
