import Foundation
import SwallowConfig
import Testing

/// A private directory of files for `${file:...}` references, removed when the test ends.
final class SecretFiles {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("swallow-config-files-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Writes `content` (bytes exactly as given) to `name` and returns the file's absolute path.
    @discardableResult
    func write(_ name: String, _ content: String) throws -> String {
        try write(name, bytes: Array(content.utf8))
    }

    @discardableResult
    func write(_ name: String, bytes: [UInt8]) throws -> String {
        let path = "\(directory)/\(name)"
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown)
        }
        return path
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }
}

@Suite struct FileReferenceTests {
    @Test func fileContentReplacesTheReferenceWithOneTrailingNewlineStripped() throws {
        let files = try SecretFiles()
        let password = try files.write("pgpassword", "pg-file-s3cret\n")
        let twoNewlines = try files.write("twice", "k-pass\n\n")
        let crlf = try files.write("crlf", "crlf-pass\r\n")
        let bare = try files.write("bare", "bare-pass")
        var document = ConfigDocument()
        document.postgres = ["password": "${file:\(password)}"]
        document.kafka = ["properties": "{sasl.password: '${file:\(twoNewlines)}', ssl.key.password: '${file:\(crlf)}', sasl.oauthbearer.client.secret: '${file:\(bare)}'}"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.postgres.password == "pg-file-s3cret")
        #expect(config.kafka.properties["sasl.password"] == "k-pass\n", "only one trailing newline is stripped")
        #expect(config.kafka.properties["ssl.key.password"] == "crlf-pass")
        #expect(config.kafka.properties["sasl.oauthbearer.client.secret"] == "bare-pass")
    }

    @Test func anyValueMayComeFromAFileAndIsTypeChecked() throws {
        let files = try SecretFiles()
        let port = try files.write("port", "6432\n")
        let host = try files.write("host", "db.secret.example\n")
        var document = ConfigDocument()
        document.postgres = ["port": "${file:\(port)}", "host": "'replica-${file:\(host)}'"]
        document.top = ["topic_prefix": "${file:\(try files.write("prefix", "shop"))}"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.postgres.port == 6432)
        #expect(config.postgres.host == "replica-db.secret.example")
        #expect(config.topicPrefix == "shop")
        #expect(config.fileValuedKeyPaths == ["postgres.port", "postgres.host", "topic_prefix"])
        #expect(config.postgres.fileValuedKeyPaths == ["postgres.port", "postgres.host"])
    }

    @Test func valuesReadFromFilesAreRedactedEverywhere() throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["host": "${file:\(try files.write("host", "hidden-host\n"))}",
                             "user": "${file:\(try files.write("user", "hidden-user"))}"]
        document.slot = ["name": "${file:\(try files.write("slot", "hidden_slot"))}"]
        document.kafka = [
            "bootstrap_servers": "${file:\(try files.write("servers", "hidden-broker:9093"))}",
            "properties": "{sasl.username: '${file:\(try files.write("sasl-user", "hidden-sasl-user"))}', linger.ms: 7}",
        ]
        document.top = ["tables": "[public.orders, '${file:\(try files.write("table", "hidden_table"))}']"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        let hidden = ["hidden-host", "hidden-user", "hidden_slot", "hidden-broker", "hidden-sasl-user", "hidden_table"]
        for text in [config.redactedDescription, "\(config)", String(reflecting: config), "\(config.postgres)",
                     "\(config.kafka)"] {
            for secret in hidden {
                #expect(!text.contains(secret), "leaks \(secret): \(text)")
            }
        }
        let text = config.redactedDescription
        #expect(text.contains("postgres.host=***"))
        #expect(text.contains("postgres.user=***"))
        #expect(text.contains("postgres.dbname=app"), "values not read from files are shown")
        #expect(text.contains("slot.name=***"))
        #expect(text.contains("kafka.bootstrap_servers=***"))
        #expect(text.contains("sasl.username=***"))
        #expect(text.contains("linger.ms=7"))
        #expect(text.contains("tables=[public.orders, ***]"))
        #expect(config.kafka.secretPropertyNames == ["sasl.username"])
    }

    @Test func invalidValuesReadFromFilesAreNotEchoed() throws {
        let files = try SecretFiles()
        let cases: [(section: String, key: String, content: String, path: String)] = [
            ("postgres", "port", "port-file-text", "postgres.port"),
            ("postgres", "sslmode", "verify-fulll", "postgres.sslmode"),
            ("slot", "name", "Slot-File-Text", "slot.name"),
            ("slot", "create", "yes-file-text", "slot.create"),
            ("top", "topic_prefix", "prefix file text", "topic_prefix"),
            ("top", "tables", "a.b.table-file-text", "tables[0]"),
            ("kafka", "bootstrap_servers", "broker file text", "kafka.bootstrap_servers"),
            ("http", "listen", "listen file text", "http.listen"),
        ]
        for (index, item) in cases.enumerated() {
            let reference = "${file:\(try files.write("value\(index)", item.content + "\n"))}"
            var document = ConfigDocument()
            switch item.section {
            case "postgres": document.postgres = [item.key: reference]
            case "slot": document.slot = [item.key: reference]
            case "kafka": document.kafka = [item.key: "'\(reference)'"]
            case "http": document.top = ["http": "{\(item.key): '\(reference)'}"]
            default: document.top = [item.key: item.key == "tables" ? "['\(reference)']" : "'\(reference)'"]
            }
            let error = try #require(parseError(document), "\(item.path) accepted \(item.content)")
            #expect(error.path == item.path)
            #expect(!error.description.contains(item.content), "\(error)")
            #expect(!error.description.contains("fulll"), "\(error)")
            #expect(error.message.contains("not shown"), "\(error)")
        }
    }

    @Test func missingFileNamesTheKeyAndThePath() throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["password": "${file:\(files.path("absent"))}"]
        let error = try #require(parseError(document))
        #expect(error.code == .fileUnreadable)
        #expect(error.path == "postgres.password")
        #expect(error.message.contains(files.path("absent")))
        #expect(error.message.contains("no such file"))
    }

    @Test func directoryIsRefused() throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.kafka = ["properties": "{sasl.password: '${file:\(files.directory)}'}"]
        let error = try #require(parseError(document))
        #expect(error.code == .fileUnreadable)
        #expect(error.path == "kafka.properties.sasl.password")
        #expect(error.message.contains("is a directory"))
    }

    // Root reads any file, so only an unprivileged run can see a permission error.
    @Test(.enabled(if: getuid() != 0, "root can read any file"))
    func unreadableFileSaysPermissionDenied() throws {
        let files = try SecretFiles()
        let path = try files.write("locked", "locked-secret")
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: path)
        var document = ConfigDocument()
        document.postgres = ["password": "${file:\(path)}"]
        let error = try #require(parseError(document))
        #expect(error.code == .fileUnreadable)
        #expect(error.message.contains("permission denied"))
        #expect(!error.description.contains("locked-secret"))
    }

    @Test func contentThatIsNotUTF8IsRefusedWithoutEchoingIt() throws {
        let files = try SecretFiles()
        let path = try files.write("binary", bytes: [0x73, 0x65, 0x63, 0xFF, 0xFE, 0x0A])
        var document = ConfigDocument()
        document.postgres = ["password": "${file:\(path)}"]
        let error = try #require(parseError(document))
        #expect(error.code == .fileUnreadable)
        #expect(error.message.contains("not UTF-8"))
    }

    @Test func emptyFileGivesAnEmptyValue() throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["password": "${file:\(try files.write("empty", "\n"))}"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.postgres.password == nil, "an empty password means none, as with ${PGPASSWORD}")
    }

    @Test func relativePathIsRefused() throws {
        var document = ConfigDocument()
        document.postgres = ["password": "${file:secrets/pg}"]
        let error = try #require(parseError(document))
        #expect(error.code == .invalidValue)
        #expect(error.path == "postgres.password")
        #expect(error.message.contains("absolute path"))
    }

    @Test func variableNamedFileWithADefaultIsStillAVariable() throws {
        var document = ConfigDocument()
        document.postgres = ["host": "${file:-fallback.example}"]
        #expect(try Config.parse(yaml: document.yaml, environment: [:]).postgres.host == "fallback.example")
        #expect(try Config.parse(yaml: document.yaml, environment: ["file": "env.example"]).postgres.host
                == "env.example")
    }

    @Test func dollarDollarKeepsAFileReferenceLiteral() throws {
        var document = ConfigDocument()
        document.postgres = ["password": "'$${file:/not/read}'"]
        let config = try Config.parse(yaml: document.yaml, environment: [:])
        #expect(config.postgres.password == "${file:/not/read}")
        #expect(config.fileValuedKeyPaths.isEmpty)
    }

    @Test func loadReadsFileReferencesToo() throws {
        let files = try SecretFiles()
        var document = ConfigDocument()
        document.postgres = ["password": "${file:\(try files.write("pw", "loaded-secret\n"))}"]
        let configPath = try files.write("swallow.yaml", document.yaml)
        let config = try Config.load(path: configPath, environment: [:])
        #expect(config.postgres.password == "loaded-secret")
    }
}
