import Testing
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
@testable import Kafka

@Suite("Mock broker outages")
struct MockBrokerOutageTests {
    /// librdkafka 2.0.2 closes a mock broker's listening socket and binds a new one to the same port when
    /// the broker is set down, and aborts the process if that bind fails (see
    /// `MockKafkaCluster.setBrokerDown`). The thief below competes for the port as directly as anything
    /// can: it binds that very port, without SO_REUSEADDR like the socket of an outgoing connection, over
    /// and over while the broker goes down and up (the kernel gives a port to an outgoing connection or
    /// to a bind() to port 0 only while no socket holds it through bind() or accept(), and then the
    /// thief's bind succeeds too). Whenever the port belongs to no socket the thief gets it and keeps
    /// that socket, so librdkafka's bind fails: with `setBrokerDown` calling
    /// `rd_kafka_mock_broker_set_down` directly, each of 20 runs aborted with the assertion of the CI
    /// crash (after 3 to 172 cycles where counted). With `MockBrokerPortHold` every bind of the thief
    /// must fail; the test checks that none succeeded (a flaw would most likely show as that abort
    /// again). It cannot prove that no interleaving is left open, only make a hole very likely to show:
    /// the proof is the kernel's rules cited at `setBrokerDown`.
    @Test("setBrokerDown/Up never leave the broker's port to another socket, and the outage still refuses connections")
    func portNeverFree() throws {
        let cluster = try MockKafkaCluster()
        let port = try #require(cluster.port(ofBroker: 1))
        let thief = PortThief(port: port)
        let thread = try startThread(name: "port-thief") { thief.run() }
        var joined = false
        defer { if !joined { thief.stop(); pthread_join(thread, nil) } }
        let cycles = 300
        var refusedWhileDown = 0
        var acceptedWhileUp = 0
        for _ in 0 ..< cycles {
            thief.engage()
            try cluster.setBrokerDown(1)
            if connectionOutcome(port: port) == ECONNREFUSED { refusedWhileDown += 1 }
            thief.disengage()
            // librdkafka 2.0.2's mock can miss the wake-up for a command sent right after the previous
            // one was served, and then serves it only after its 1 s poll timeout.
            usleep(5_000)
            thief.engage()
            try cluster.setBrokerUp(1)
            if connectionOutcome(port: port) == 0 { acceptedWhileUp += 1 }
            thief.disengage()
        }
        thief.stop()
        pthread_join(thread, nil)
        joined = true
        #expect(thief.stolen == 0, "another socket bound the broker's port")
        #expect(refusedWhileDown == cycles, "connections to a down broker are refused")
        #expect(acceptedWhileUp == cycles, "connections to an up broker are accepted")

        // Down and up leave a broker that works, and down twice is the same as down once.
        try cluster.setBrokerDown(1)
        try cluster.setBrokerDown(1)
        let collector = ReportCollector()
        let producer = try makeProducer(cluster, collector, properties: fastReconnect)
        defer { producer.close() }
        try producer.produce(topic: "after", key: nil, value: bytes("x"), id: 1)
        usleep(300_000)
        #expect(collector.count == 0)
        try cluster.setBrokerUp(1)
        #expect(producer.flush(timeoutMilliseconds: 10_000) == 0)
        #expect(collector.successes.keys.sorted() == [1])
    }

    @Test("an unknown broker id is an error as before; -1 sets every broker down")
    func brokerIDs() throws {
        let cluster = try MockKafkaCluster(brokers: 3)
        let ports = try (1 ... 3).map { try #require(cluster.port(ofBroker: Int32($0))) }
        #expect(cluster.port(ofBroker: 0) == nil && cluster.port(ofBroker: 4) == nil)
        for id: Int32 in [0, 4] {
            let error = #expect(throws: KafkaError.self) { try cluster.setBrokerDown(id) }
            #expect(error?.code.name == "BROKER_NOT_AVAILABLE")
        }
        #expect(ports.map { connectionOutcome(port: $0) } == [0, 0, 0])
        try cluster.setBrokerDown(2)
        #expect(ports.map { connectionOutcome(port: $0) } == [0, ECONNREFUSED, 0])
        try cluster.setBrokerDown(-1)   // 2 is down already
        #expect(ports.map { connectionOutcome(port: $0) } == [ECONNREFUSED, ECONNREFUSED, ECONNREFUSED])
        try cluster.setBrokerUp(-1)
        #expect(ports.map { connectionOutcome(port: $0) } == [0, 0, 0])
    }
}

/// Binds 127.0.0.1:port over and over while engaged (and sleeps otherwise, not to take a core from the
/// tests running alongside); keeps every socket whose bind succeeded.
private final class PortThief: Sendable {
    let port: UInt16
    private let stopped = Atomic<Bool>(false)
    private let engaged = Atomic<Bool>(false)
    private let binds = Atomic<Int>(0)
    private let kept = Mutex<[Int32]>([])

    init(port: UInt16) { self.port = port }

    var attempts: Int { binds.load(ordering: .relaxed) }
    var stolen: Int { kept.withLock { $0.count } }

    /// Returns once the thief is binding.
    func engage() {
        engaged.store(true, ordering: .relaxed)
        let before = attempts
        while attempts < before + 2 { sched_yield() }
    }

    func disengage() { engaged.store(false, ordering: .relaxed) }

    func stop() { stopped.store(true, ordering: .relaxed) }

    func run() {
        var address = loopback(port)
        var fd: Int32 = -1
        while !stopped.load(ordering: .relaxed) {
            guard engaged.load(ordering: .relaxed) else {
                usleep(200)
                continue
            }
            if fd < 0 {
                // Like the socket of an outgoing connection: no SO_REUSEADDR.
                fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                guard fd >= 0 else { continue }
            }
            let rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            binds.add(1, ordering: .relaxed)
            if rc == 0 {
                kept.withLock { $0.append(fd) }
                fd = -1
            }
        }
        if fd >= 0 { close(fd) }
        kept.withLock { for fd in $0 { close(fd) } }
    }
}

private func loopback(_ port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    return address
}

/// 0 if a (blocking) connection to 127.0.0.1:port succeeds (it is closed at once), else errno.
private func connectionOutcome(port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { return errno }
    defer { close(fd) }
    var address = loopback(port)
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return rc == 0 ? 0 : errno
}
