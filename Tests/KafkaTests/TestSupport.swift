import Synchronization
@testable import Kafka

/// Collects delivery reports from the producer's poll thread.
final class ReportCollector: Sendable {
    private let reports = Mutex<[DeliveryReport]>([])
    private let batches = Atomic<Int>(0)

    var callback: @Sendable ([DeliveryReport]) -> Void {
        { batch in
            self.batches.add(1, ordering: .relaxed)
            self.reports.withLock { $0 += batch }
        }
    }

    var all: [DeliveryReport] { reports.withLock { $0 } }
    var count: Int { reports.withLock { $0.count } }
    var batchCount: Int { batches.load(ordering: .relaxed) }

    var successes: [UInt64: DeliveryReport.Position] {
        var result: [UInt64: DeliveryReport.Position] = [:]
        for report in all { if case .success(let position) = report.result { result[report.id] = position } }
        return result
    }

    var failures: [(UInt64, KafkaError)] {
        all.compactMap { report in
            if case .failure(let error) = report.result { return (report.id, error) }
            return nil
        }
    }

    /// Waits (without blocking a cooperative thread) until at least `count` reports have arrived.
    func wait(forCount count: Int, timeoutMilliseconds: Int64) async throws -> Bool {
        let deadline = monotonicMilliseconds() + timeoutMilliseconds
        while self.count < count {
            if monotonicMilliseconds() >= deadline { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}

/// Collects log lines.
final class LogCollector: Sendable {
    private let lines = Mutex<[(Int32, String, String)]>([])
    var handler: @Sendable (Int32, String, String) -> Void {
        { level, facility, message in self.lines.withLock { $0.append((level, facility, message)) } }
    }
    var all: [(level: Int32, facility: String, message: String)] { lines.withLock { $0.map { ($0.0, $0.1, $0.2) } } }
}

/// The Java client's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as used by its default
/// partitioner: partition = (murmur2(key) & 0x7fffffff) % partitionCount.
func javaMurmur2(_ data: [UInt8]) -> Int32 {
    let seed: UInt32 = 0x9747_b28c
    let m: UInt32 = 0x5bd1_e995
    let r: UInt32 = 24
    let length = data.count
    var h: UInt32 = seed ^ UInt32(truncatingIfNeeded: length)
    for i in 0 ..< length / 4 {
        let i4 = i * 4
        var k = UInt32(data[i4]) | UInt32(data[i4 + 1]) << 8 | UInt32(data[i4 + 2]) << 16 | UInt32(data[i4 + 3]) << 24
        k = k &* m
        k ^= k >> r
        k = k &* m
        h = h &* m
        h ^= k
    }
    let tail = length & ~3
    switch length % 4 {
    case 3:
        h ^= UInt32(data[tail + 2]) << 16
        h ^= UInt32(data[tail + 1]) << 8
        h ^= UInt32(data[tail])
        h = h &* m
    case 2:
        h ^= UInt32(data[tail + 1]) << 8
        h ^= UInt32(data[tail])
        h = h &* m
    case 1:
        h ^= UInt32(data[tail])
        h = h &* m
    default:
        break
    }
    h ^= h >> 13
    h = h &* m
    h ^= h >> 15
    return Int32(bitPattern: h)
}

func javaPartition(key: [UInt8], partitionCount: Int32) -> Int32 {
    Int32(bitPattern: UInt32(bitPattern: javaMurmur2(key)) & 0x7fff_ffff) % partitionCount
}

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }
func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

/// A producer on the mock cluster reporting into `collector` (each test uses its own cluster).
func makeProducer(_ cluster: MockKafkaCluster, _ collector: ReportCollector,
                  properties: [String: String] = [:],
                  logs: LogCollector? = nil,
                  onFatalError: @escaping @Sendable (KafkaError) -> Void = { _ in }) throws -> KafkaProducer {
    try KafkaProducer(bootstrapServers: cluster.bootstrapServers, properties: properties,
                      onDeliveryReports: collector.callback, onFatalError: onFatalError,
                      logHandler: logs?.handler)
}
