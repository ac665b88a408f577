import Foundation

/// The JDK oracle's vectors, as `OracleVectorTests` reads them: one vector per line, kind, input
/// (UTF-8 hex) and expected output (UTF-8 hex), tab-separated.
///
/// They are data, not code: `scripts/oracle/Oracle.java` writes them to `Fixtures/OracleVectors.tsv`
/// (see scripts/oracle/README.md). Its `#` lines say what made the file and are skipped here.
enum OracleVectors {
    static let tsv: String = {
        // Missing only if the target's `resources: [.copy("Fixtures")]` is: a packaging error, not a test result.
        guard let url = Bundle.module.url(forResource: "OracleVectors", withExtension: "tsv", subdirectory: "Fixtures"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            fatalError("Fixtures/OracleVectors.tsv is not in the ChangeEventTests bundle")
        }
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
    }()
}
