import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `${NAME}` / `${NAME:-default}` / `${file:/path}` / `$${` handling for scalar values.
///
/// - `${NAME}` is replaced by the variable's value (an empty value is kept); if it is not set,
///   that is an `undefinedEnvironmentVariable` error.
/// - `${NAME:-default}` uses `default` when `NAME` is unset **or empty** (shell semantics);
///   the default is literal text and may not contain `${`.
/// - `${file:/path}` is replaced by the content of the file at the absolute `/path`, less one trailing
///   newline (`\n` or `\r\n`), so `echo secret > file` works. It is for secrets (Docker secrets, systemd
///   credentials, Kubernetes secret volumes): the value counts as secret wherever it is used. A missing
///   or unreadable file is a `fileUnreadable` error naming the key and the path, never the content.
///   (`${file:-x}` is still the variable `file` with a default: a file path must start with `/`.)
/// - `$${` produces a literal `${`. Any other `$` is literal.
/// - `NAME` must match `[A-Za-z_][A-Za-z0-9_]*`.
enum EnvironmentSubstitution {
    struct Result: Equatable {
        var text: String
        /// Whether at least one reference was replaced.
        var substituted: Bool
        /// Whether at least one `${file:...}` reference was replaced: the text then holds a secret.
        var readFile: Bool = false
    }

    /// The prefix of a file reference inside `${...}`.
    static let filePrefix = "file:"

    static func apply(
        _ text: String,
        path: String,
        secret: Bool,
        environment: [String: String]
    ) throws(ConfigurationError) -> Result {
        guard text.contains("$") else { return Result(text: text, substituted: false) }
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var substituted = false
        var readFile = false
        var index = 0

        func at(_ i: Int) -> Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "$" else {
                output.append(scalar)
                index += 1
                continue
            }
            // `$${` -> literal `${`
            if at(index + 1) == "$", at(index + 2) == "{" {
                output.append("$")
                output.append("{")
                index += 3
                continue
            }
            guard at(index + 1) == "{" else {
                output.append(scalar)
                index += 1
                continue
            }
            // `${ ... }`
            var close = index + 2
            while close < scalars.count, scalars[close] != "}" { close += 1 }
            let context = SecretValue.shown(" in \(Echo.quoted(text))", secret: secret, placeholder: "")
            guard close < scalars.count else {
                throw ConfigurationError(
                    code: .invalidValue, path: path,
                    message: "unterminated `${` reference\(context); close it with `}`, or write `$${` for a literal `${`")
            }
            let inner = String(String.UnicodeScalarView(scalars[(index + 2)..<close]))
            let reference = SecretValue.shown(" `${\(inner)}`", secret: secret, placeholder: "")
            if inner.contains("${") {
                throw ConfigurationError(
                    code: .invalidValue, path: path,
                    message: "nested `${` in environment reference\(reference) is not supported; a `:-` default must be literal text")
            }
            if inner.hasPrefix(filePrefix), !inner.hasPrefix(filePrefix + "-") {
                let filePath = String(inner.dropFirst(filePrefix.count))
                output.append(contentsOf: try ReferencedFile.read(filePath, key: path).unicodeScalars)
                substituted = true
                readFile = true
                index = close + 1
                continue
            }
            let name: String
            let fallback: String?
            if let range = inner.range(of: ":-") {
                name = String(inner[..<range.lowerBound])
                fallback = String(inner[range.upperBound...])
            } else {
                name = inner
                fallback = nil
            }
            guard isValidName(name) else {
                throw ConfigurationError(
                    code: .invalidValue, path: path,
                    message: "invalid environment variable reference\(reference); write `${NAME}` or `${NAME:-default}` with NAME matching [A-Za-z_][A-Za-z0-9_]*, `${file:/absolute/path}` for a file's content, or `$${` for a literal `${`")
            }
            let value: String
            if let set = environment[name], !(set.isEmpty && fallback != nil) {
                value = set
            } else if let fallback {
                value = fallback
            } else {
                throw ConfigurationError(
                    code: .undefinedEnvironmentVariable, path: path,
                    message: "environment variable \(name) is not set; set it, or write `${\(name):-default}` to fall back to a default value")
            }
            output.append(contentsOf: value.unicodeScalars)
            substituted = true
            index = close + 1
        }
        return Result(text: String(output), substituted: substituted, readFile: readFile)
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func isLetter(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("A"..."Z").contains(s) || s == "_" }
        func isDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
        return isLetter(first) && name.unicodeScalars.allSatisfy { isLetter($0) || isDigit($0) }
    }
}

/// The content of a file named by `${file:/path}`, read once while the configuration is loaded.
enum ReferencedFile {
    /// Secrets and certificates are small; a bound keeps `${file:/dev/zero}` from reading forever.
    static let maximumBytes = 1 << 20

    /// The file's UTF-8 text without one trailing newline. Errors name `key` and `filePath`, never
    /// any of the content.
    static func read(_ filePath: String, key: String) throws(ConfigurationError) -> String {
        func failure(_ reason: String) -> ConfigurationError {
            ConfigurationError(code: .fileUnreadable, path: key,
                               message: "cannot read \(filePath) (named by `${file:...}`): \(reason)")
        }
        guard filePath.hasPrefix("/") else {
            throw ConfigurationError(
                code: .invalidValue, path: key,
                message: "`${file:\(filePath)}` needs an absolute path (starting with `/`), e.g. `${file:/run/secrets/pgpassword}`")
        }
        var status = stat()
        guard stat(filePath, &status) == 0 else {
            throw failure(reason(errno: errno))
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            let kind = (status.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
            throw failure("it is \(kind); name the file that holds the value")
        }
        let descriptor = open(filePath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure(reason(errno: errno)) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(reason(errno: errno))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= maximumBytes else {
                throw failure("it is larger than \(maximumBytes / 1024) KiB; `${file:...}` is meant for secrets, keys and certificates")
            }
        }
        if bytes.last == UInt8(ascii: "\n") {
            bytes.removeLast()
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw failure("it is not UTF-8 text")
        }
        return text
    }

    private static func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.read(descriptor, buffer, count)
        #else
        Darwin.read(descriptor, buffer, count)
        #endif
    }

    private static func reason(errno code: Int32) -> String {
        switch code {
        case ENOENT, ENOTDIR: "no such file; create it, or correct the path"
        case EACCES, EPERM: "permission denied; make it readable by the user Swallow runs as (e.g. `chgrp swallow FILE; chmod 0640 FILE`)"
        default: "\(String(cString: strerror(code)))"
        }
    }
}
