import Foundation

/// The `http` section: the address of the metrics and health listener.
extension ConfigurationReader {
    func readHTTP(_ top: Section) throws(ConfigurationError) -> SwallowConfiguration.HTTP {
        guard let http = try optionalSection(top, "http", allowed: Keys.http) else { return .init() }
        let path = http.path("listen")
        let expected = "an address to listen on, `host:port` with an IPv4 address or a bracketed IPv6 address (e.g. `127.0.0.1:9187`, `[::1]:9187`; port 0 picks a free port), or empty for no listener"
        guard let value = try scalar(http["listen"], path: path, expected: expected), !value.text.isEmpty else {
            return .init()
        }
        guard let listen = Self.listenAddress(value.text) else {
            throw ConfigurationError(code: .invalidValue, path: path,
                                     message: "expected \(expected), got \(value.shown)")
        }
        return .init(listen: listen)
    }

    /// `a.b.c.d:port` or `[v6]:port`, numeric addresses only (no name lookup), port 0...65535.
    static func listenAddress(_ text: String) -> SwallowConfiguration.HTTP.Listen? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(host), &address) == 1 else { return nil }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            var address = in_addr()
            guard inet_pton(AF_INET, String(host), &address) == 1 else { return nil }
        }
        guard !portText.isEmpty, portText.allSatisfy(\.isASCII), portText.allSatisfy(\.isNumber),
              let port = Int(portText), (0...65_535).contains(port) else { return nil }
        return .init(host: String(host), port: port)
    }
}
