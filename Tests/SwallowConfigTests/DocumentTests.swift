import Foundation
import SwallowConfig
import Testing

@Suite struct DocumentTests {
    @Test(arguments: ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
    func emptyDocument(yaml: String) throws {
        let error = try #require(parseError(yaml))
        #expect(error.code == .invalidYAML)
        #expect(error.path == "")
        #expect(error.message.contains("the configuration is empty"))
        #expect(error.message.contains("postgres, slot, publication"))
        #expect(error.description.hasPrefix("config: "))
    }

    @Test(arguments: ["just a string\n", "- a\n- b\n", "42\n"])
    func nonMappingRoot(yaml: String) throws {
        let error = try #require(parseError(yaml))
        #expect(error.code == .wrongType)
        #expect(error.path == "")
        #expect(error.message.contains("expected a mapping with the top-level keys"))
    }

    @Test func duplicateKeyIsReported() throws {
        let yaml = ConfigDocument().yaml.replacingOccurrences(of: "  dbname: app\n", with: "  dbname: app\n  dbname: other\n")
        let error = try #require(parseError(yaml))
        #expect(error.code == .invalidYAML)
        #expect(error.message.contains("duplicate key `dbname`"))
        #expect(error.message.contains("only once"))
    }

    @Test func duplicateTopLevelSection() throws {
        let yaml = ConfigDocument().yaml + "slot:\n  name: other\n"
        let error = try #require(parseError(yaml))
        #expect(error.code == .invalidYAML)
        #expect(error.message.contains("`slot`"))
    }

    @Test func syntaxErrorReportsLocation() throws {
        let yaml = "postgres:\n  host: [unclosed\n"
        let error = try #require(parseError(yaml))
        #expect(error.code == .invalidYAML)
        #expect(error.path == "")
        #expect(error.message.hasPrefix("invalid YAML at line "))
    }

    @Test func tabIndentationHint() throws {
        let yaml = "postgres:\n\thost: db\n"
        let error = try #require(parseError(yaml))
        #expect(error.code == .invalidYAML)
        #expect(error.message.contains("tabs"))
    }

    @Test func multipleDocumentsRejected() throws {
        let yaml = ConfigDocument().yaml + "---\nfoo: 1\n"
        let error = try #require(parseError(yaml))
        #expect(error.code == .invalidYAML)
        #expect(error.message.contains("document"))
    }
}

@Suite struct FileTests {
    @Test func missingFile() throws {
        let path = "/nonexistent-\(UUID().uuidString)/swallow.yaml"
        let error = #expect(throws: ConfigurationError.self) {
            try Config.load(path: path, environment: [:])
        }
        #expect(error?.code == .fileUnreadable)
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("no such file") == true)
        #expect(error?.isRetriable == false)
    }

    @Test func directoryIsNotAFile() throws {
        let error = #expect(throws: ConfigurationError.self) {
            try Config.load(path: NSTemporaryDirectory(), environment: [:])
        }
        #expect(error?.code == .fileUnreadable)
        #expect(error?.message.contains("directory") == true)
    }

    @Test func loadsFromDisk() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swallow-\(UUID().uuidString).yaml")
        try ConfigDocument().yaml.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let config = try Config.load(path: url.path, environment: [:])
        #expect(config.postgres.host == "db.internal")
    }
}
