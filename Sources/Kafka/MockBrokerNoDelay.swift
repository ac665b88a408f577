import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sets TCP_NODELAY on the connections librdkafka 2.0.2's mock brokers accept, as a real broker does
/// (Kafka's `SocketServer` accepts with `setTcpNoDelay(true)`). The mock leaves Nagle's algorithm on:
/// when it writes two responses back to back on one connection (three Produce requests in flight, say),
/// the second waits until the client acknowledges the first, and Linux delays that ACK by up to 40 ms.
/// Measured: a transaction commit waiting on its last ProduceResponse took 42 ms instead of 2 ms
/// (the response's rtt in librdkafka's debug log: 42.78 ms, the two before it 0.06 ms). That is the
/// mock's artefact, not the client's, and it would dominate every latency measured against it.
///
/// The mock gives no access to its sockets, so a thread looks at this process's descriptors every 10 ms
/// (`/proc/self/fd`) and sets the option on each connected TCP socket whose local port is a registered
/// broker's. A connection's first responses may still be delayed, before the thread finds it.
enum MockBrokerNoDelay {
    private static let ports = Mutex<[UInt16: Int]>([:])
    private static let started = Atomic<Bool>(false)

    /// Starts watching `ports` (the brokers of a new mock cluster).
    static func register(_ brokerPorts: [UInt16]) {
        #if os(Linux)
        ports.withLock { for port in brokerPorts { $0[port, default: 0] += 1 } }
        if started.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            if let thread = try? startThread(name: "mock-nodelay", { watch() }) { pthread_detach(thread) }
        }
        #endif
    }

    /// Stops watching `ports` (the cluster is gone).
    static func unregister(_ brokerPorts: [UInt16]) {
        ports.withLock { registered in
            for port in brokerPorts {
                registered[port, default: 1] -= 1
                if registered[port] == 0 { registered[port] = nil }
            }
        }
    }

    #if os(Linux)
    private static func watch() {
        while true {
            let watched = ports.withLock { Set($0.keys) }
            if !watched.isEmpty { setNoDelay(onConnectionsOf: watched) }
            usleep(10_000)
        }
    }

    private static func setNoDelay(onConnectionsOf watched: Set<UInt16>) {
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let fd = Int32(name) else { continue }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0, address.ss_family == sa_family_t(AF_INET) else { continue }
            let port = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
            }
            guard watched.contains(port) else { continue }
            var listening: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0, listening == 0 else { continue }
            var noDelay: Int32 = 0
            size = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, &size) == 0, noDelay == 0 else { continue }
            noDelay = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        }
    }
    #endif
}
