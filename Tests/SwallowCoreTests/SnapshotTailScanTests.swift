import PGOutput
import Testing
@testable import SwallowCore

@Suite struct SnapshotTagTests {
    @Test func encodesAndDecodesEveryField() throws {
        let tag = SnapshotTag(unit: SnapshotTag.initialUnit(consistentPoint: LSN(0x1_6B37_48), chunk: 12), row: 4051)
        let bytes = tag.encode(stream: "swallow.app swallow")
        #expect(String(decoding: bytes, as: UTF8.self) == "initial:0/16B3748:12 4051 swallow.app swallow")
        let (decoded, stream) = try #require(SnapshotTag.decode(bytes))
        #expect(decoded == tag)
        #expect(stream == "swallow.app swallow")
        let (zero, _) = try #require(SnapshotTag.decode(Array("u 0 s".utf8)))
        #expect(zero.row == 0)
        #expect(SnapshotTag.decode(Array("u \(UInt64.max) s".utf8))?.0.row == UInt64.max)
    }

    @Test func rejectsAnythingEncodeDoesNotWrite() {
        for text in ["", "u", "u 1", "u 1 ", " 1 s", "u  1 s", "u 01 s", "u -1 s", "u 1x s", "u 18446744073709551616 s",
                     "u 1.0 s", "u\t1 s"] {
            #expect(SnapshotTag.decode(Array(text.utf8)) == nil, "\(text)")
        }
        #expect(SnapshotTag.decode([0x75, 0x20, 0x31, 0x20, 0xFF]) == nil, "a stream id that is not UTF-8")
        #expect(SnapshotTag.decode([0xC3, 0xA9, 0x20, 0x31, 0x20, 0x73]) == nil, "a unit that is not printable ASCII")
    }

    @Test func incrementalUnitsAreTheSameForTheSameSignalAndTable() {
        let unit = SnapshotTag.incrementalUnit(signalID: "ad-hoc-1", table: "public.orders")
        #expect(unit == SnapshotTag.incrementalUnit(signalID: "ad-hoc-1", table: "public.orders"))
        #expect(unit != SnapshotTag.incrementalUnit(signalID: "ad-hoc-2", table: "public.orders"))
        #expect(unit != SnapshotTag.incrementalUnit(signalID: "ad-hoc-1", table: "public.items"))
        // The separator keeps ("a", "bc") and ("ab", "c") apart.
        #expect(SnapshotTag.incrementalUnit(signalID: "a", table: "bc") != SnapshotTag.incrementalUnit(signalID: "ab", table: "c"))
        #expect(SnapshotTag.isValidUnit(unit))
    }

    @Test func initialSnapshotRowsSitJustBelowTheStreamFloor() {
        let floor = LSN(0x5000)
        let below = RecordPosition.belowCommits(at: floor)
        #expect(below < RecordPosition.transactionBegin(commitLSN: floor))
        #expect(below > RecordPosition.transactionEnd(commitLSN: LSN(0x4FFF)))
        #expect(below.commitLSN == LSN(0x4FFF))
    }
}

@Suite struct SnapshotTailScanTests {
    static let stream = "swallow-test"
    static let floor = LSN(1000)

    private static func row(_ offset: Int64, unit: String, row: UInt64, key: String?, position: RecordPosition? = nil,
                            stream: String = stream) -> SnapshotTailScan.Record {
        var headers = [RecordHeader(key: SnapshotTag.headerName, value: SnapshotTag(unit: unit, row: row).encode(stream: stream))]
        if let position { headers.append(position.header(stream: stream, partitionCount: 4)) }
        return SnapshotTailScan.Record(offset: offset, key: key.map { Array($0.utf8) }, headers: headers)
    }

    private static func change(_ offset: Int64, commit: UInt64, stream: String = stream) -> SnapshotTailScan.Record {
        SnapshotTailScan.Record(offset: offset, key: Array("k".utf8),
                                headers: [RecordPosition(commitLSN: LSN(commit), changeLSN: LSN(commit)).header(stream: stream, partitionCount: 4)])
    }

    private static func foreign(_ offset: Int64) -> SnapshotTailScan.Record {
        SnapshotTailScan.Record(offset: offset, key: nil, headers: [])
    }

    private static func scan(_ records: [SnapshotTailScan.Record], units: [String: LSN], low: Int64 = 0,
                             firstWindow: Int64 = 2) -> (windows: [Range<Int64>], scan: SnapshotTailScan) {
        let end = (records.map(\.offset).max() ?? low - 1) + 1
        var scan = SnapshotTailScan(stream: stream, units: units, low: low, end: max(end, low), firstWindow: firstWindow)
        var windows: [Range<Int64>] = []
        while case .read(let window) = scan.step {
            windows.append(window)
            scan.receive(window: records.filter { window.contains($0.offset) })
        }
        return (windows, scan)
    }

    @Test func noUnitsMeansNothingToRead() {
        let scan = SnapshotTailScan(stream: Self.stream, units: [:], low: 0, end: 100)
        #expect(scan.step == .finished)
        #expect(SnapshotTailScan(stream: Self.stream, units: ["u": LSN(1)], low: 5, end: 5).step == .finished)
    }

    @Test func collectsKeysOfTheUnitsAskedForAndStopsAtTheFloor() {
        let below = RecordPosition.belowCommits(at: Self.floor)
        let records: [SnapshotTailScan.Record] = [
            Self.change(0, commit: 10),                       // older than the floor window: never read
            Self.row(1, unit: "a", row: 0, key: "k-old", position: below),
            Self.change(2, commit: 999),                      // the floor: the scan stops in its window
            Self.row(3, unit: "a", row: 0, key: "k1", position: below),
            Self.row(4, unit: "b", row: 0, key: "k2", position: below),   // a unit not asked for
            Self.row(5, unit: "a", row: 1, key: "k3", position: below, stream: "other"),
            Self.foreign(6),
            Self.row(7, unit: "c", row: 7, key: nil, position: below),    // no key: its ordinal
            Self.change(8, commit: 1500),                     // the stream after the snapshot
            Self.row(9, unit: "a", row: 2, key: "k4", position: below),
        ]
        let floorOfA = below.commitLSN
        let (windows, scan) = Self.scan(records, units: ["a": floorOfA, "c": floorOfA])
        #expect(windows == [8..<10, 4..<8, 0..<4])
        #expect(scan.step == .finished)
        #expect(scan.delivered["a"] == [.key(Array("k1".utf8)), .key(Array("k4".utf8)), .key(Array("k-old".utf8))])
        #expect(scan.delivered["c"] == [.row(7)])
        #expect(scan.delivered["b"] == nil)
    }

    @Test func anIncrementalUnitsRowsBelowItsFloorAreNotCollected() {
        // Rows read before the saved progress (positions at or below 2000) are below the key the reading
        // continues from; rows read after it count.
        let records: [SnapshotTailScan.Record] = [
            Self.change(0, commit: 1990),
            Self.row(1, unit: "t", row: 0, key: "early", position: RecordPosition(commitLSN: LSN(1995), changeLSN: LSN(1995))),
            Self.row(2, unit: "t", row: 1, key: "late", position: RecordPosition(commitLSN: LSN(2100), changeLSN: LSN(2100))),
        ]
        let (_, scan) = Self.scan(records, units: ["t": LSN(2000), "initial:0/3E8:0": LSN(1500)], firstWindow: 10)
        #expect(scan.delivered["t"] == [.key(Array("late".utf8))])
    }

    @Test func aMalformedTagEndsTheScan() {
        var records = [Self.row(0, unit: "a", row: 0, key: "k")]
        records.append(SnapshotTailScan.Record(offset: 1, key: nil, headers: [RecordHeader(key: SnapshotTag.headerName, value: Array("nonsense".utf8))]))
        records.append(Self.row(2, unit: "a", row: 1, key: "k2"))
        let (_, scan) = Self.scan(records, units: ["a": LSN(0)], firstWindow: 10)
        #expect(scan.step == .malformedTag(offset: 1, value: Array("nonsense".utf8)))
        let doubled = SnapshotTailScan.Record(offset: 0, key: nil, headers: [
            RecordHeader(key: SnapshotTag.headerName, value: SnapshotTag(unit: "a", row: 0).encode(stream: Self.stream)),
            RecordHeader(key: SnapshotTag.headerName, value: SnapshotTag(unit: "a", row: 1).encode(stream: Self.stream))])
        #expect(Self.scan([doubled], units: ["a": LSN(0)]).scan.step == .malformedTag(offset: 0, value: nil))
    }

    /// Generated histories: a stream before the snapshot, then the rows of several units written by
    /// interleaved readers to four partitions, of which each partition shows an arbitrary part (what a
    /// crash left committed, or visible on a broker that keeps aborted records), other producers'
    /// records in between, and the stream going on afterwards with another snapshot's rows. Whatever
    /// the history, the scan of each partition finds exactly the rows of the units asked for that the
    /// partition holds.
    @Test func findsExactlyWhatEachPartitionHoldsOverGeneratedHistories() {
        var generator = SplitMix(seed: 0x5eed)
        let below = RecordPosition.belowCommits(at: Self.floor)
        for _ in 0..<300 {
            let unitCount = Int.random(in: 1...5, using: &generator)
            let units = (0..<unitCount).map { "initial:0/3E8:\($0)" }
            let asked = Set(units.filter { _ in Bool.random(using: &generator) })
            var partitions: [[SnapshotTailScan.Record]] = Array(repeating: [], count: 4)
            var truth: [[String: Set<SnapshotRowIdentity>]] = Array(repeating: [:], count: 4)
            func append(_ partition: Int, _ make: (Int64) -> SnapshotTailScan.Record) {
                partitions[partition].append(make(Int64(partitions[partition].count)))
            }
            // Before the snapshot: the stream (commits below the floor) and other producers.
            for partition in 0..<4 {
                for _ in 0..<Int.random(in: 0...6, using: &generator) {
                    if Bool.random(using: &generator) {
                        append(partition) { Self.change($0, commit: UInt64.random(in: 1...999, using: &generator)) }
                    } else {
                        append(partition) { Self.foreign($0) }
                    }
                }
            }
            // The snapshot's rows, interleaved across units; each partition keeps a random part of them.
            let keep = (0..<4).map { _ in Double.random(in: 0...1, using: &generator) }
            var nextRow = [UInt64](repeating: 0, count: unitCount)
            for _ in 0..<Int.random(in: 0...120, using: &generator) {
                let unitIndex = Int.random(in: 0..<unitCount, using: &generator)
                let unit = units[unitIndex], row = nextRow[unitIndex]
                nextRow[unitIndex] += 1
                let key: String? = unitIndex == 0 ? nil : "\(unit)/\(row)"
                let partition = Int(row % 4)
                if Double.random(in: 0...1, using: &generator) < 0.1 { append(partition) { Self.foreign($0) } }
                guard Double.random(in: 0...1, using: &generator) < keep[partition] else { continue }
                append(partition) { Self.row($0, unit: unit, row: row, key: key, position: below) }
                if asked.contains(unit) {
                    truth[partition][unit, default: []].insert(key.map { .key(Array($0.utf8)) } ?? .row(row))
                }
            }
            // Afterwards: the stream, and rows of another snapshot (another unit).
            for partition in 0..<4 where Bool.random(using: &generator) {
                append(partition) { Self.change($0, commit: UInt64.random(in: 1000...5000, using: &generator)) }
                append(partition) { Self.row($0, unit: "incremental:ff", row: 0, key: "x", position: RecordPosition(commitLSN: LSN(6000), changeLSN: LSN(6000))) }
            }
            for partition in 0..<4 {
                let floors = Dictionary(uniqueKeysWithValues: asked.map { ($0, below.commitLSN) })
                let (_, scan) = Self.scan(partitions[partition], units: floors, firstWindow: Int64.random(in: 1...8, using: &generator))
                #expect(scan.step == .finished)
                #expect(scan.delivered == truth[partition])
            }
        }
    }
}
