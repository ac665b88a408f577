import CRdKafka
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keeps a mock broker's TCP port owned by a socket while librdkafka 2.0.2 closes the broker's listener
/// and binds a new one to the same port (`rd_kafka_mock_broker_set_down`); why and how is explained at
/// `MockKafkaCluster.setBrokerDown`.
///
/// The socket that keeps the port is the broker's side of a connection we open and that the mock has
/// accepted: an accepted socket shares its listener's local port, and librdkafka closes it only after
/// the new listener is bound (`rd_kafka_mock_broker_close_all` comes last in the down command).
enum MockBrokerPortHold {
    /// Runs `body` while, for each of `ports`, a connection to 127.0.0.1:port that the mock broker has
    /// accepted is open. Holds none on a port that refuses connections: nothing listens there, so that
    /// broker is already down (and `rd_kafka_mock_broker_set_down` does nothing to it). Throws
    /// `_TIMED_OUT` instead of running `body` if a port has no accepted connection within
    /// `timeoutMilliseconds`.
    static func whileHeld<T>(ports: some Collection<UInt16>, timeoutMilliseconds: Int64 = 10_000,
                             _ body: () throws(KafkaError) -> T) throws(KafkaError) -> T {
        guard let port = ports.first else { return try body() }
        return try whileHeld(port: port, timeoutMilliseconds: timeoutMilliseconds) { () throws(KafkaError) in
            try whileHeld(ports: ports.dropFirst(), timeoutMilliseconds: timeoutMilliseconds, body)
        }
    }

    private static func whileHeld<T>(port: UInt16, timeoutMilliseconds: Int64,
                                     _ body: () throws(KafkaError) -> T) throws(KafkaError) -> T {
        let deadline = monotonicMilliseconds() + timeoutMilliseconds
        var problem = "no attempt"
        while monotonicMilliseconds() < deadline {
            switch dial(port: port, deadline: deadline) {
            case .refused:
                return try body()
            case .failed(let why):
                problem = why
            case .connected(let held):
                defer { close(held) }
                if let why = confirmAccepted(held, port: port, deadline: deadline) {
                    problem = why
                } else {
                    return try body()
                }
            }
            usleep(1_000)
        }
        throw KafkaError.fromResponse(RD_KAFKA_RESP_ERR__TIMED_OUT, message:
            "MockKafkaCluster: no connection to the mock broker on port \(port) was accepted within "
            + "\(timeoutMilliseconds) ms (\(problem)), so its port could not be held while it is set down")
    }

    /// nil once the mock broker has accepted `held` and still has it open; otherwise what went wrong.
    ///
    /// The mock answers nothing before a whole request, and answers are delayed by the broker's round
    /// trip time (`setBrokerRoundTripTime`), so acceptance is proved without a Kafka request:
    /// 1. one byte sent on `held` and acknowledged: the broker side of `held` exists and is queued on the
    ///    listener (Linux creates the accepted socket and queues it before it processes data arriving
    ///    on the connection, and drops that data unacknowledged while the accept queue is full);
    /// 2. a second connection, opened only then and half-closed at once: the mock reads end of stream and
    ///    closes it when it has accepted it. The accept queue is first in first out and the mock
    ///    accepts in one thread, so once that connection is closed, `held` has been accepted;
    /// 3. `held` has not been closed by the mock meanwhile.
    /// The byte is the first of a request header the mock keeps waiting for the rest of; the connection
    /// is closed by the down command (or by us after it).
    private static func confirmAccepted(_ held: Int32, port: UInt16, deadline: Int64) -> String? {
        var byte: UInt8 = 0
        guard send(held, &byte, 1, sendFlags) == 1 else { return "send: \(errorText(errno))" }
        while true {
            guard let unacknowledged = unacknowledgedBytes(held) else { return "unacknowledged bytes: \(errorText(errno))" }
            if unacknowledged == 0 { break }
            if monotonicMilliseconds() >= deadline { return "a byte sent was not acknowledged" }
            usleep(500)
        }

        let marker: Int32
        switch dial(port: port, deadline: deadline) {
        case .connected(let fd): marker = fd
        case .refused: return "the broker went down meanwhile"
        case .failed(let why): return "second connection: \(why)"
        }
        defer { close(marker) }
        guard shutdown(marker, Int32(SHUT_WR)) == 0 else { return "shutdown: \(errorText(errno))" }
        guard wait(marker, for: Int16(POLLIN), until: deadline) else { return "the second connection was not closed by the broker" }
        var ignored: UInt8 = 0
        let read = recv(marker, &ignored, 1, 0)
        guard read == 0 else { return read < 0 ? "second connection: \(errorText(errno))" : "the broker sent data" }

        var check = pollfd(fd: held, events: Int16(POLLIN), revents: 0)
        guard poll(&check, 1, 0) == 0 else { return "the broker closed the connection" }
        return nil
    }

    private enum Dial {
        case connected(Int32)
        case refused
        case failed(String)
    }

    /// A non-blocking connection to 127.0.0.1:`port`.
    private static func dial(port: UInt16, deadline: Int64) -> Dial {
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .failed("socket: \(errorText(errno))") }
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        guard fd >= 0 else { return .failed("socket: \(errorText(errno))") }
        var on: Int32 = 1
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
        #endif
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var failure = rc == 0 ? 0 : errno
        if failure == EINPROGRESS {
            guard wait(fd, for: Int16(POLLOUT), until: deadline) else {
                close(fd)
                return .failed("connect timed out")
            }
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) != 0 { failure = errno }
        }
        switch failure {
        case 0: return .connected(fd)
        case ECONNREFUSED:
            close(fd)
            return .refused
        default:
            close(fd)
            return .failed("connect: \(errorText(failure))")
        }
    }

    /// Waits until `fd` has one of `events` (or an error/hang-up); false at the deadline.
    private static func wait(_ fd: Int32, for events: Int16, until deadline: Int64) -> Bool {
        while true {
            let remaining = deadline - monotonicMilliseconds()
            if remaining <= 0 { return false }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let rc = poll(&entry, 1, Int32(min(remaining, 1_000)))
            if rc > 0 { return true }
            if rc < 0 && errno != EINTR { return false }
        }
    }

    /// Bytes sent on `fd` and not yet acknowledged by the peer (or not yet sent).
    private static func unacknowledgedBytes(_ fd: Int32) -> Int32? {
        var count: Int32 = 0
        #if os(Linux)
        guard ioctl(fd, UInt(TIOCOUTQ), &count) == 0 else { return nil }   // SIOCOUTQ
        #else
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_NWRITE, &count, &length) == 0 else { return nil }
        #endif
        return count
    }

    #if os(Linux)
    private static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    private static let sendFlags: Int32 = 0
    #endif

    private static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
