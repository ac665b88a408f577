import Foundation
import Pipeline

/// Tells systemd (or any service manager speaking its protocol) how the service is doing, without
/// libsystemd: `sd_notify(3)` is one datagram to the AF_UNIX socket named by `$NOTIFY_SOCKET`, holding
/// newline-separated `KEY=VALUE` assignments:
///
///     READY=1                 startup finished (Type=notify units leave "activating")
///     STATUS=streaming …      free text shown by `systemctl status`
///     WATCHDOG=1              keep-alive; with WatchdogSec= systemd kills a service that stops sending it
///     STOPPING=1              shutdown began
///
/// `$NOTIFY_SOCKET` is a filesystem path (`/run/systemd/notify`) or, starting with `@`, a name in the
/// Linux abstract namespace (the `@` stands for a leading NUL byte). `$WATCHDOG_USEC` is the watchdog
/// timeout; pings are due every half of it. When `$WATCHDOG_PID` is set it must be this process's pid,
/// otherwise the watchdog is meant for another process.
public final class ServiceNotifier: ServiceManagerNotifier {
    /// The socket address as given in `$NOTIFY_SOCKET`.
    public let address: String
    /// How often `WATCHDOG=1` is due (half of `$WATCHDOG_USEC`); nil when no watchdog is configured.
    public let watchdogInterval: Duration?
    private let socket: Int32
    private let socketAddress: sockaddr_un
    private let addressLength: socklen_t

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`; nil when `NOTIFY_SOCKET` is unset or
    /// empty (not started by a service manager). Throws when the address is unusable.
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment,
                 pid: Int32 = getpid()) throws(PipelineError) {
        guard let address = environment["NOTIFY_SOCKET"], !address.isEmpty else { return nil }
        var path = Array(address.utf8)
        switch path.first {
        case UInt8(ascii: "/"):
            break
        case UInt8(ascii: "@"):
            path[0] = 0   // abstract namespace
        default:
            throw PipelineError(code: .serviceNotification, message: "NOTIFY_SOCKET=\(address) is neither an absolute path nor an abstract socket name (@name); notifications are off", isRetriable: false)
        }
        var socketAddress = sockaddr_un()
        socketAddress.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
        guard path.count < capacity else {
            throw PipelineError(code: .serviceNotification, message: "NOTIFY_SOCKET is longer than \(capacity - 1) bytes; notifications are off", isRetriable: false)
        }
        withUnsafeMutableBytes(of: &socketAddress.sun_path) { buffer in
            buffer.copyBytes(from: path)
        }
        // Abstract names are exactly as long as given; paths are NUL-terminated.
        let pathLength = path[0] == 0 ? path.count : path.count + 1
        addressLength = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + pathLength)
        self.socketAddress = socketAddress
        self.address = address

        #if canImport(Glibc)
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        // sd_notify exists only on Linux; elsewhere NOTIFY_SOCKET is never set by a service manager.
        let descriptor = Darwin.socket(AF_UNIX, SOCK_DGRAM, 0)
        #endif
        guard descriptor >= 0 else {
            throw PipelineError(code: .serviceNotification, message: "cannot create the notification socket: \(String(cString: strerror(errno)))", isRetriable: false)
        }
        socket = descriptor
        watchdogInterval = Self.watchdogInterval(environment: environment, pid: pid)
    }

    deinit { close(socket) }

    /// Half of `WATCHDOG_USEC` when it is set, positive, and meant for `pid`.
    static func watchdogInterval(environment: [String: String], pid: Int32) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let micros = UInt64(text), micros > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], !owner.isEmpty, Int32(owner) != pid { return nil }
        return .microseconds(Int64(clamping: micros / 2))
    }

    /// The datagram for `assignments`, in order. Values cannot span lines: newlines become spaces.
    public static func message(_ assignments: KeyValuePairs<String, String>) -> [UInt8] {
        var bytes: [UInt8] = []
        for (key, value) in assignments {
            if !bytes.isEmpty { bytes.append(UInt8(ascii: "\n")) }
            bytes.append(contentsOf: key.utf8)
            bytes.append(UInt8(ascii: "="))
            bytes.append(contentsOf: value.utf8.map { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") ? UInt8(ascii: " ") : $0 })
        }
        return bytes
    }

    /// Sends one datagram; returns false when it could not be sent (the manager is gone, or its queue
    /// is full: notifications never block the pipeline).
    @discardableResult
    public func send(_ assignments: KeyValuePairs<String, String>) -> Bool {
        let bytes = Self.message(assignments)
        var target = socketAddress
        let sent = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bytes.withUnsafeBytes { buffer in
                    sendto(socket, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), address, addressLength)
                }
            }
        }
        return sent == bytes.count
    }
}
