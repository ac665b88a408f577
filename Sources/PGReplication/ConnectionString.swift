import Foundation

/// Reading a libpq connection string without libpq: `PQconninfoParse` rejects keywords it does not know,
/// and a standby's `primary_conninfo` written by a newer `pg_basebackup -R` has some (PostgreSQL 17's
/// `sslnegotiation`, for one) that the libpq Swallow links may not.
public enum ConnectionString {
    /// The `dbname` of `conninfo`, in key/value form (`host=db-1 dbname='app'`) or as a URI
    /// (`postgresql://user@db-1/app?...`); nil when it names none or cannot be read. The string may hold
    /// a password: nothing of it is kept or shown.
    public static func databaseName(in conninfo: String) -> String? {
        let text = conninfo.trimmingCharacters(in: .whitespaces)
        let database: String?
        if let scheme = ["postgresql://", "postgres://"].first(where: { text.hasPrefix($0) }) {
            database = uriDatabaseName(String(text.dropFirst(scheme.count)))
        } else {
            database = keywordValues(text)?.last { $0.keyword == "dbname" }?.value
        }
        return database.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `keyword = value` pairs; values bare or single-quoted with `\'` and `\\` escapes. Nil when malformed.
    static func keywordValues(_ text: String) -> [(keyword: String, value: String)]? {
        var pairs: [(String, String)] = []
        var characters = Substring(text)
        func skipSpaces() { characters = characters.drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" } }
        while true {
            skipSpaces()
            guard !characters.isEmpty else { return pairs }
            let keyword = characters.prefix { $0 != "=" && $0 != " " && $0 != "\t" }
            characters = characters.dropFirst(keyword.count)
            skipSpaces()
            guard !keyword.isEmpty, characters.first == "=" else { return nil }
            characters = characters.dropFirst()
            skipSpaces()
            var value = ""
            if characters.first == "'" {
                characters = characters.dropFirst()
                var closed = false
                while let character = characters.first {
                    characters = characters.dropFirst()
                    if character == "\\", let escaped = characters.first {
                        value.append(escaped)
                        characters = characters.dropFirst()
                    } else if character == "'" {
                        closed = true
                        break
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { return nil }
            } else {
                while let character = characters.first, character != " ", character != "\t", character != "\n" {
                    characters = characters.dropFirst()
                    if character == "\\", let escaped = characters.first {
                        value.append(escaped)
                        characters = characters.dropFirst()
                    } else {
                        value.append(character)
                    }
                }
            }
            pairs.append((String(keyword), value))
        }
    }

    /// The path of `user@host:port/dbname?params` (percent-decoded), or a `dbname` parameter.
    static func uriDatabaseName(_ rest: String) -> String? {
        let (location, query) = rest.firstIndex(of: "?").map { (rest[..<$0], rest[rest.index(after: $0)...]) }
            ?? (Substring(rest), Substring(""))
        var database = location.firstIndex(of: "/").map { String(location[location.index(after: $0)...]) }
        for parameter in query.split(separator: "&") where parameter.hasPrefix("dbname=") {
            database = String(parameter.dropFirst("dbname=".count))
        }
        return database.map(percentDecoded)
    }

    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Substring(text).utf8[...]
        while let byte = utf8.first {
            utf8 = utf8.dropFirst()
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
