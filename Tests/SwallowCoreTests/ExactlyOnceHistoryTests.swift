import PGOutput
import Testing
@testable import SwallowCore

/// Generated histories of `delivery: exactly_once` across crashes, in both broker models.
///
/// Each history: a source stream of PostgreSQL transactions (their records with positions, keys placing
/// them in partitions of several topics, null keys placed by a hash of the position), a log per partition
/// that other producers write into as well, and a few lives of the pipeline. Each life scans every
/// partition's tail (``TailScan``), replays the slot from a confirmed transaction boundary, skips what
/// ``DeliveredPositions`` says is there, and produces the rest in Kafka transactions, until it crashes at
/// a random point: its open Kafka transaction is then invisible to read_committed readers (a real broker)
/// or visible in part, a prefix of it in each partition it reached (librdkafka's mock broker, which keeps
/// aborted records visible). A last life runs to the end. Then, in every partition, a read_committed
/// reader must see each source record of that partition exactly once, in position order.
@Suite struct ExactlyOnceHistoryTests {
    static let stream = "swallow-test"

    enum Broker: CaseIterable {
        /// Records of an aborted transaction are never seen by read_committed readers.
        case real
        /// librdkafka's mock broker: what an aborted transaction wrote stays visible.
        case mock
    }

    /// Whether a replayed record is already delivered: the rule under test, or a wrong one for the controls.
    typealias SkipRule = @Sendable (DeliveredPositions, SourceRecord) -> Bool

    static let perPartition: SkipRule = { delivered, record in
        delivered.isDelivered(topic: record.topic, partition: record.partition, position: record.position)
    }

    /// Wrong: one maximum for the whole stream.
    static let globalMaximum: SkipRule = { delivered, record in
        delivered.highest.map { record.position <= $0 } ?? false
    }

    // MARK: The source

    /// Topics and their partition counts. `items` has many keyless rows and is the table a configuration
    /// change may exclude; `audit` rows all have one key, so three of its partitions get nothing of ours;
    /// `messages` (logical messages) has null keys only.
    static let topics: [(name: String, partitions: Int32)] = [
        ("db.public.orders", 3), ("db.public.items", 2), ("db.public.audit", 4),
        ("swallow.transactions", 1), ("swallow.messages", 2),
    ]
    static let toggledTopic = "db.public.items"

    struct SourceRecord: Sendable, Equatable {
        var topic: String
        var partition: Int32
        var position: RecordPosition
        var isTombstone: Bool
    }

    /// What a life of the pipeline produces: tombstones on or off, a table excluded or not.
    struct Configuration: Equatable {
        var tombstones = true
        var excludedTopic: String?

        func emits(_ record: SourceRecord) -> Bool {
            (tombstones || !record.isTombstone) && record.topic != excludedTopic
        }
    }

    /// Swallow's partitioner stands in here as FNV-1a (the real one is murmur2: any deterministic hash
    /// will do): of the key, or of the position for a null key.
    static func partition(topic: String, key: String?, position: RecordPosition) -> Int32 {
        let count = UInt32(topics.first { $0.name == topic }!.partitions)
        var hash: UInt32 = 0x811C_9DC5
        for byte in (key ?? position.description).utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return Int32(hash % count)
    }

    /// The slot's transactions in the order it sends them, each a list of records in position order.
    static func makeSource(_ generator: inout SplitMix) -> [[SourceRecord]] {
        var transactions: [[SourceRecord]] = []
        var lastCommit = UInt64.random(in: 0x100...0x1_0000_0100, using: &generator)   // across the X/X halves
        var transactionID = 700
        for _ in 0..<Int.random(in: 4...30, using: &generator) {
            var records: [SourceRecord] = []
            func add(_ topic: String, key: String?, _ position: RecordPosition, tombstone: Bool = false) {
                records.append(SourceRecord(topic: topic, partition: partition(topic: topic, key: key, position: position),
                                            position: position, isTombstone: tombstone))
            }
            if Int.random(in: 0..<8, using: &generator) == 0 {
                // A non-transactional logical message: its own LSN is its commit.
                let lsn = lastCommit + UInt64.random(in: 1...64, using: &generator)
                add("swallow.messages", key: nil, RecordPosition(commitLSN: LSN(lsn), changeLSN: LSN(lsn)))
                lastCommit = lsn
                transactions.append(records)
                continue
            }
            transactionID += 1
            // Concurrent transactions interleave in the WAL: changes may lie before the previous commit.
            var changeLSN = lastCommit - min(lastCommit, UInt64.random(in: 0...96, using: &generator))
            var changes: [(topic: String, key: String?, change: UInt64, index: UInt32, part: UInt16, tombstone: Bool)] = []
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                changeLSN += UInt64.random(in: 1...40, using: &generator)
                let table = ["db.public.orders", "db.public.items", "db.public.audit"][Int.random(in: 0..<3, using: &generator)]
                let key: String? = switch table {
                case "db.public.orders": Int.random(in: 0..<6, using: &generator) == 0 ? nil : "o\(Int.random(in: 0..<6, using: &generator))"
                case "db.public.items": Bool.random(using: &generator) ? nil : "i\(Int.random(in: 0..<4, using: &generator))"
                default: "a"
                }
                switch Int.random(in: 0..<6, using: &generator) {
                case 0, 1:  // insert or update
                    changes.append((table, key, changeLSN, 0, 0, false))
                case 2 where key != nil:  // delete: the event, then its tombstone
                    changes.append((table, key, changeLSN, 0, 0, false))
                    changes.append((table, key, changeLSN, 0, 1, true))
                case 2, 3:  // a multi-insert: several rows in one WAL record
                    for index in 0..<UInt32.random(in: 2...4, using: &generator) {
                        let rowKey: String? = key == nil ? nil : "\(key!)-\(index)"
                        changes.append((table, rowKey, changeLSN, index, 0, false))
                    }
                case 4:  // truncate: one keyless record per table (audit is never truncated)
                    for (part, truncated) in ["db.public.orders", "db.public.items"].shuffled(using: &generator)
                        .prefix(Int.random(in: 1...2, using: &generator)).enumerated() {
                        changes.append((truncated, nil, changeLSN, 0, UInt16(part), false))
                    }
                default:  // a change of a table that is not captured: no record, but WAL moves on
                    break
                }
            }
            let commit = max(changeLSN, lastCommit) + UInt64.random(in: 1...40, using: &generator)
            add("swallow.transactions", key: "tx\(transactionID)", .transactionBegin(commitLSN: LSN(commit)))
            for change in changes {
                add(change.topic, key: change.key,
                    RecordPosition(commitLSN: LSN(commit), changeLSN: LSN(change.change), index: change.index, part: change.part),
                    tombstone: change.tombstone)
            }
            add("swallow.transactions", key: "tx\(transactionID)", .transactionEnd(commitLSN: LSN(commit)))
            lastCommit = commit
            transactions.append(records)
        }
        return transactions
    }

    // MARK: The broker

    struct Entry {
        var offset: Int64
        var headers: [RecordHeader]
        /// Seen by read_committed readers.
        var visible: Bool
    }

    struct PartitionLog {
        var low: Int64
        var next: Int64
        var entries: [Entry] = []

        mutating func append(_ headers: [RecordHeader], visible: Bool) -> Int {
            entries.append(Entry(offset: next, headers: headers, visible: visible))
            next += 1
            return entries.count - 1
        }

        /// Offsets with no record a reader sees: transaction markers, compacted records.
        mutating func skip(_ offsets: Int64) { next += offsets }

        /// The positions of `stream`'s records a read_committed reader sees, in offset order.
        func positions(of stream: String) -> [RecordPosition] {
            entries.filter(\.visible).compactMap { entry in
                entry.headers.first { $0.key == RecordPosition.headerName }?.value
                    .flatMap(RecordPosition.decode).flatMap { $0.stream == stream ? $0.0 : nil }
            }
        }
    }

    struct Cluster {
        var partitions: [DeliveredPositions.Partition] = []
        var logs: [PartitionLog] = []
        private var indexOf: [DeliveredPositions.Partition: Int] = [:]

        init(_ generator: inout SplitMix) {
            for topic in topics {
                for partition in 0..<topic.partitions {
                    let low = Bool.random(using: &generator) ? 0 : Int64.random(in: 1...1000, using: &generator)
                    indexOf[DeliveredPositions.Partition(topic: topic.name, partition: partition)] = logs.count
                    partitions.append(DeliveredPositions.Partition(topic: topic.name, partition: partition))
                    logs.append(PartitionLog(low: low, next: low))
                }
            }
        }

        func index(_ record: SourceRecord) -> Int {
            indexOf[DeliveredPositions.Partition(topic: record.topic, partition: record.partition)]!
        }

        /// Another producer writes somewhere: plain records, records of other streams (with positions
        /// far beyond ours, or a stream id that starts with ours), records of its aborted transactions,
        /// or offsets without a record.
        mutating func foreignWrite(_ generator: inout SplitMix) {
            let log = Int.random(in: 0..<logs.count, using: &generator)
            let position = RecordPosition(commitLSN: LSN(generator.next()), changeLSN: LSN(generator.next()))
            switch Int.random(in: 0..<7, using: &generator) {
            case 0, 1: _ = logs[log].append([], visible: true)
            case 2: _ = logs[log].append([RecordHeader(key: "content-type", value: Array("json".utf8))], visible: true)
            case 3: _ = logs[log].append([position.header(stream: "other-stream", partitionCount: 1)], visible: true)
            case 4: _ = logs[log].append([position.header(stream: stream + " 2", partitionCount: 1)], visible: true)
            case 5: _ = logs[log].append([position.header(stream: "other-stream", partitionCount: 1)], visible: false)
            default: logs[log].skip(Int64.random(in: 1...5, using: &generator))
            }
        }
    }

    // MARK: The pipeline

    /// Scans every partition's tail as the pipeline does on start, checking each answer against the
    /// whole log.
    static func scan(_ cluster: Cluster, _ generator: inout SplitMix) -> DeliveredPositions {
        var delivered = DeliveredPositions()
        for (index, log) in cluster.logs.enumerated() {
            let partition = cluster.partitions[index]
            var scan = TailScan(stream: stream, low: log.low, end: log.next, firstWindow: Int64.random(in: 1...4, using: &generator))
            while case .read(let window) = scan.step {
                // A consumer returns whole batches: records past the window's end may come along.
                let overshoot = Int64.random(in: 0...3, using: &generator)
                for entry in log.entries where entry.visible && entry.offset >= window.lowerBound
                    && entry.offset < window.upperBound + overshoot {
                    scan.receive(TailScan.Record(offset: entry.offset, headers: entry.headers))
                }
                scan.endWindow()
            }
            let expected = log.positions(of: stream).max()
            switch scan.step {
            case .found(let position, let offset, _):
                #expect(position == expected, "\(partition)")
                #expect(log.entries.contains { $0.offset == offset && $0.visible }, "\(partition)")
                delivered.observe(topic: partition.topic, partition: partition.partition, position: position)
            case .notFound:
                #expect(expected == nil, "\(partition)")
            case .malformedPosition(let offset, _):
                Issue.record("\(partition): a malformed position at \(offset)")
            case .read:
                Issue.record("the scan stopped reading")
            }
        }
        return delivered
    }

    /// One life of the pipeline: scans, then replays transactions from `start` on, producing what is not
    /// delivered in Kafka transactions of random sizes, until it crashes before the replay's record
    /// number `crashAt` (nil: it runs to the end). Returns how many transactions (from the first) the
    /// slot may confirm: those fully read whose produced records are all in committed transactions.
    static func runLife(_ source: [[SourceRecord]], from start: Int, crashAt: Int?, configuration: Configuration,
                     broker: Broker, skip: SkipRule, cluster: inout Cluster, _ generator: inout SplitMix) -> Int {
        let delivered = scan(cluster, &generator)
        var confirmed = start
        // Per transaction read in full but not yet confirmable: the number of the Kafka transaction that
        // holds its last produced record (-1: it produced nothing).
        var awaiting: [Int] = []
        var kafkaTransaction = 0
        var inFlight: [(log: Int, entry: Int)] = []
        var kafkaTransactionSize = Int.random(in: 1...8, using: &generator)

        func settle() {
            while let first = awaiting.first, first < kafkaTransaction {
                awaiting.removeFirst()
                confirmed += 1
            }
        }
        func commit() {
            for (log, entry) in inFlight { cluster.logs[log].entries[entry].visible = true }
            for log in Set(inFlight.map(\.log)).sorted() { cluster.logs[log].skip(1) }   // the commit markers
            inFlight.removeAll()
            kafkaTransaction += 1
            kafkaTransactionSize = Int.random(in: 1...8, using: &generator)
            settle()
        }
        func crash() {
            for log in Set(inFlight.map(\.log)).sorted() {
                let entries = inFlight.filter { $0.log == log }.map(\.entry)
                if broker == .mock {
                    // The mock got a prefix of what was sent to this partition, and shows it.
                    for entry in entries.prefix(Int.random(in: 0...entries.count, using: &generator)) {
                        cluster.logs[log].entries[entry].visible = true
                    }
                }
                cluster.logs[log].skip(1)   // the abort marker
            }
        }

        var ordinal = 0
        for transaction in source[start...] {
            var last = -1
            for record in transaction {
                if ordinal == crashAt { crash(); return confirmed }
                ordinal += 1
                if Int.random(in: 0..<4, using: &generator) == 0 { cluster.foreignWrite(&generator) }
                guard configuration.emits(record), !skip(delivered, record) else { continue }
                let log = cluster.index(record)
                let headers = [RecordHeader(key: "content-type", value: Array("json".utf8)),
                               record.position.header(stream: stream, partitionCount: 1)]
                inFlight.append((log, cluster.logs[log].append(headers, visible: false)))
                last = kafkaTransaction
                if inFlight.count >= kafkaTransactionSize { commit() }
            }
            awaiting.append(last)
            settle()
        }
        if ordinal == crashAt { crash(); return confirmed }
        if !inFlight.isEmpty { commit() }
        #expect(awaiting.isEmpty && confirmed == source.count)
        return confirmed
    }

    struct Outcome {
        var source: [[SourceRecord]]
        var configurations: [Configuration]
        var cluster: Cluster
    }

    /// One history: a source, some lives that crash, each replaying from a transaction boundary no later
    /// than what the slot could confirm, and a last life that runs to the end.
    static func history(seed: UInt64, broker: Broker, skip: SkipRule = perPartition,
                        changesConfiguration: Bool = false) -> Outcome {
        var generator = SplitMix(seed: seed)
        let source = makeSource(&generator)
        var cluster = Cluster(&generator)
        for _ in 0..<Int.random(in: 0...20, using: &generator) { cluster.foreignWrite(&generator) }
        var configuration = Configuration()
        var configurations: [Configuration] = []   // each life's
        var confirmed = 0
        let crashes = Int.random(in: 1...4, using: &generator)
        for life in 0...crashes {
            if changesConfiguration, Bool.random(using: &generator) {
                configuration = Configuration(tombstones: Bool.random(using: &generator),
                                              excludedTopic: Bool.random(using: &generator) ? toggledTopic : nil)
            }
            configurations.append(configuration)
            // The slot resumes at its confirmed position, which may lag what was acknowledged.
            let start = Int.random(in: 0...confirmed, using: &generator)
            let replayed = source[start...].reduce(0) { $0 + $1.count }
            let crashAt = life < crashes ? Int.random(in: 0...replayed, using: &generator) : nil
            confirmed = max(confirmed, runLife(source, from: start, crashAt: crashAt, configuration: configuration,
                                            broker: broker, skip: skip, cluster: &cluster, &generator))
            // Others write between lives too, sometimes a lot (the scan then reads many windows).
            for _ in 0..<(Bool.random(using: &generator) ? 40 : 3) { cluster.foreignWrite(&generator) }
        }
        return Outcome(source: source, configurations: configurations, cluster: cluster)
    }

    /// Per partition: what a read_committed reader sees of the stream, and what it should see.
    static func compare(_ outcome: Outcome) -> [(partition: DeliveredPositions.Partition, seen: [RecordPosition],
                                                 expected: [RecordPosition])] {
        outcome.cluster.partitions.indices.map { index in
            let partition = outcome.cluster.partitions[index]
            let configuration = outcome.configurations[0]
            let expected = outcome.source.joined().filter {
                $0.topic == partition.topic && $0.partition == partition.partition && configuration.emits($0)
            }.map(\.position)
            return (partition, outcome.cluster.logs[index].positions(of: stream), expected)
        }
    }

    // MARK: Tests

    @Test(arguments: Broker.allCases)
    func everySourceRecordIsSeenExactlyOnceInPositionOrder(broker: Broker) {
        var failures: [String] = []
        var recordsChecked = 0
        var emptyPartitions = 0
        for seed in UInt64(1)...300 {
            let outcome = Self.history(seed: seed, broker: broker)
            // The source itself is in position order: what "in order" below relies on.
            let positions = outcome.source.joined().map(\.position)
            #expect(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 }, "seed \(seed)")
            for (partition, seen, expected) in Self.compare(outcome) {
                recordsChecked += expected.count
                if expected.isEmpty { emptyPartitions += 1 }
                if seen != expected {
                    let missing = Set(expected).subtracting(seen).count
                    failures.append("seed \(seed) \(partition): \(seen.count) seen, \(expected.count) expected, \(missing) missing")
                }
            }
        }
        #expect(failures.count == 0, "\(failures.prefix(10))")
        // The histories covered what they are meant to: many records, and partitions with none of ours.
        #expect(recordsChecked > 10_000)
        #expect(emptyPartitions > 300)
    }

    /// Configuration changes between lives (tombstones switched, a table excluded or included): records
    /// that exist under every configuration used are each seen exactly once; nothing is seen twice or out
    /// of order; nothing is seen that the source does not hold.
    @Test(arguments: Broker.allCases)
    func configurationChangesBetweenLivesLoseNoRecordThatEveryConfigurationProduces(broker: Broker) {
        var failures: [String] = []
        var changed = 0
        for seed in UInt64(1001)...1300 {
            let outcome = Self.history(seed: seed, broker: broker, changesConfiguration: true)
            if Set(outcome.configurations.map { "\($0)" }).count > 1 { changed += 1 }
            for (index, partition) in outcome.cluster.partitions.enumerated() {
                let seen = outcome.cluster.logs[index].positions(of: Self.stream)
                let inPartition = outcome.source.joined().filter {
                    $0.topic == partition.topic && $0.partition == partition.partition
                }
                let stable = inPartition.filter { record in outcome.configurations.allSatisfy { $0.emits(record) } }
                if !zip(seen, seen.dropFirst()).allSatisfy({ $0 < $1 }) {
                    failures.append("seed \(seed) \(partition): repeated or out of order")
                }
                if !Set(stable.map(\.position)).isSubset(of: seen) {
                    failures.append("seed \(seed) \(partition): a record every configuration produces is missing")
                }
                if !Set(seen).isSubset(of: inPartition.map(\.position)) {
                    failures.append("seed \(seed) \(partition): a record the source does not hold")
                }
            }
        }
        #expect(failures.count == 0, "\(failures.prefix(10))")
        #expect(changed > 100)
    }

    /// The controls: the simulation tells a wrong rule from the right one. One maximum for the whole
    /// stream is enough on a real broker, where every Kafka transaction is all or nothing, and loses
    /// records on the mock, where an aborted transaction may show in one partition and not another.
    @Test func aSingleMaximumForTheStreamLosesRecordsOnTheMockOnly() {
        var lostOnMock = 0
        for seed in UInt64(1)...300 {
            for broker in Broker.allCases {
                let outcome = Self.history(seed: seed, broker: broker, skip: Self.globalMaximum)
                let lost = Self.compare(outcome).contains { !Set($0.expected).isSubset(of: $0.seen) }
                switch broker {
                case .real: #expect(!lost, "seed \(seed)")
                case .mock: if lost { lostOnMock += 1 }
                }
            }
        }
        #expect(lostOnMock > 10)
    }
}
