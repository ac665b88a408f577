import PGOutput
import Testing
@testable import SwallowCore

@Suite struct TailScanTests {
    static let stream = "swallow-test"

    private static func position(_ commit: UInt64, _ change: UInt64 = 1) -> RecordPosition {
        RecordPosition(commitLSN: LSN(commit), changeLSN: LSN(change))
    }

    /// A record of `stream` at `position`, with another header beside it.
    private static func ours(_ offset: Int64, _ position: RecordPosition, stream: String = stream) -> TailScan.Record {
        TailScan.Record(offset: offset, headers: [RecordHeader(key: "content-type", value: Array("json".utf8)),
                                                  position.header(stream: stream, partitionCount: 1)])
    }

    private static func foreign(_ offset: Int64) -> TailScan.Record {
        TailScan.Record(offset: offset, headers: offset % 2 == 0 ? [] : [RecordHeader(key: "trace", value: nil)])
    }

    /// Runs the scan over `records` (which may leave offsets out), feeding each window what it holds, and
    /// returns the windows asked for and the outcome.
    private static func scan(_ records: [TailScan.Record], low: Int64, end: Int64,
                             firstWindow: Int64 = 2) -> (windows: [Range<Int64>], step: TailScan.Step) {
        var scan = TailScan(stream: stream, low: low, end: end, firstWindow: firstWindow)
        var windows: [Range<Int64>] = []
        while case .read(let window) = scan.step {
            windows.append(window)
            scan.receive(window: records.filter { window.contains($0.offset) })
        }
        return (windows, scan.step)
    }

    @Test func anEmptyPartitionIsDoneWithoutReading() {
        let scan = TailScan(stream: Self.stream, low: 7, end: 7)
        #expect(scan.step == .notFound)
        #expect(scan.isFinished)
        #expect(TailScan(stream: Self.stream, low: 0, end: 0).step == .notFound)
    }

    @Test func readsBackwardsInDoublingWindowsDownToLow() {
        let result = Self.scan([], low: 10, end: 100, firstWindow: 5)
        #expect(result.windows == [95..<100, 85..<95, 65..<85, 25..<65, 10..<25])
        #expect(result.step == .notFound)
    }

    @Test func aPartitionOfOnlyForeignRecordsHasNothingOfOurs() {
        // No header, other headers, another stream's (higher) positions, and a stream whose id starts
        // with ours.
        var records = (0..<40).map { Self.foreign(Int64($0)) }
        records[5] = Self.ours(5, Self.position(900), stream: "other-stream")
        records[30] = Self.ours(30, Self.position(901), stream: "swallow-test 2")
        records[31] = Self.ours(31, Self.position(902), stream: "swallow-tes")
        let result = Self.scan(records, low: 0, end: 40)
        #expect(result.windows == [38..<40, 34..<38, 26..<34, 10..<26, 0..<10])
        #expect(result.step == .notFound)
    }

    @Test func findsOurLastRecordBehindForeignOnes() {
        let records = [Self.ours(3, Self.position(50)), Self.ours(4, Self.position(60))]
            + (5..<20).map { Self.foreign($0) }
        let result = Self.scan(records, low: 0, end: 20)
        #expect(result.windows == [18..<20, 14..<18, 6..<14, 0..<6])
        #expect(result.step == .found(Self.position(60), offset: 4, partitionCount: 1))
    }

    @Test func theWindowReachingLowFindsARecordAtLow() {
        let result = Self.scan([Self.ours(10, Self.position(5))] + (11..<100).map { Self.foreign($0) },
                               low: 10, end: 100, firstWindow: 5)
        #expect(result.windows.last == 10..<25)
        #expect(result.step == .found(Self.position(5), offset: 10, partitionCount: 1))
    }

    @Test func stopsAtTheFirstWindowWithOneOfOurs() {
        let records = [Self.ours(0, Self.position(1)), Self.ours(1, Self.position(2)), Self.ours(7, Self.position(3)),
                       Self.foreign(8), Self.foreign(9)]
        let result = Self.scan(records, low: 0, end: 10)
        #expect(result.windows == [8..<10, 4..<8])
        #expect(result.step == .found(Self.position(3), offset: 7, partitionCount: 1))
    }

    @Test func missingOffsetsInsideWindowsChangeNothing() {
        // Transaction markers and compacted records leave most offsets without a record.
        let records = [Self.ours(2, Self.position(7)), Self.foreign(40), Self.foreign(97)]
        let result = Self.scan(records, low: 0, end: 100, firstWindow: 3)
        #expect(result.windows == [97..<100, 91..<97, 79..<91, 55..<79, 7..<55, 0..<7])
        #expect(result.step == .found(Self.position(7), offset: 2, partitionCount: 1))
    }

    @Test func takesTheHighestPositionInTheWindowWhateverOrderTheRecordsCameIn() {
        var scan = TailScan(stream: Self.stream, low: 0, end: 10, firstWindow: 10)
        scan.receive(Self.ours(4, Self.position(9)))
        scan.receive(Self.ours(8, Self.position(3)))
        scan.receive(Self.ours(6, Self.position(5)))
        scan.endWindow()
        #expect(scan.step == .found(Self.position(9), offset: 4, partitionCount: 1))
        #expect(scan.recordsExamined == 3)
    }

    @Test func recordsOutsideTheWindowAreIgnored() {
        var scan = TailScan(stream: Self.stream, low: 0, end: 10, firstWindow: 4)
        #expect(scan.step == .read(6..<10))
        scan.receive(Self.ours(10, Self.position(99)))    // past the end the scan was given
        scan.receive(Self.ours(5, Self.position(98)))     // before the window: the next one reads it
        scan.endWindow()
        #expect(scan.step == .read(0..<6))
        #expect(scan.recordsExamined == 0)
        scan.receive(Self.ours(5, Self.position(98)))
        scan.receive(Self.ours(6, Self.position(97)))     // the previous window's
        scan.endWindow()
        #expect(scan.step == .found(Self.position(98), offset: 5, partitionCount: 1))
    }

    @Test func aPositionHeaderThatDoesNotParseEndsTheScanNamingTheRecord() {
        let garbage = Array("0/1 0/2 x 0 swallow-test".utf8)
        let records = [Self.ours(1, Self.position(5)),
                       TailScan.Record(offset: 8, headers: [RecordHeader(key: "swallow.position", value: garbage)]),
                       Self.foreign(9)]
        #expect(Self.scan(records, low: 0, end: 10).step == .malformedPosition(offset: 8, value: garbage))
    }

    @Test func aMalformedPositionWinsOverOursInTheSameWindow() {
        // It could be one of ours written after the one that parses: the scan cannot tell.
        var scan = TailScan(stream: Self.stream, low: 0, end: 10, firstWindow: 10)
        scan.receive(Self.ours(9, Self.position(5)))
        scan.receive(TailScan.Record(offset: 2, headers: [RecordHeader(key: "swallow.position", value: [0xFF])]))
        scan.receive(TailScan.Record(offset: 4, headers: [RecordHeader(key: "swallow.position", value: nil)]))
        scan.receive(TailScan.Record(offset: 3, headers: [RecordHeader(key: "swallow.position", value: [])]))
        scan.endWindow()
        #expect(scan.step == .malformedPosition(offset: 4, value: nil))
    }

    @Test func twoPositionHeadersOnOneRecordAreMalformed() {
        let header = Self.position(5).header(stream: Self.stream, partitionCount: 1)
        var scan = TailScan(stream: Self.stream, low: 0, end: 1)
        scan.receive(window: [TailScan.Record(offset: 0, headers: [header, header])])
        #expect(scan.step == .malformedPosition(offset: 0, value: nil))
    }

    @Test func hugeWindowsDoNotOverflow() {
        var scan = TailScan(stream: Self.stream, low: 0, end: .max, firstWindow: .max / 2 + 1)
        #expect(scan.step == .read((.max / 2)..<(.max)))
        scan.endWindow()
        #expect(scan.step == .read(0..<(.max / 2)))
        scan.endWindow()
        #expect(scan.step == .notFound)
    }
}

@Suite struct DeliveredPositionsTests {
    private func position(_ commit: UInt64) -> RecordPosition {
        RecordPosition(commitLSN: LSN(commit), changeLSN: LSN(commit - 1))
    }

    @Test func aRecordIsDeliveredAtOrBelowItsPartitionsHighest() {
        var delivered = DeliveredPositions()
        #expect(!delivered.isDelivered(topic: "t", partition: 0, position: position(1)))
        delivered.observe(topic: "t", partition: 0, position: position(50))
        #expect(delivered.isDelivered(topic: "t", partition: 0, position: position(49)))
        #expect(delivered.isDelivered(topic: "t", partition: 0, position: position(50)))
        #expect(!delivered.isDelivered(topic: "t", partition: 0, position: position(51)))
        // Another partition, another topic with the same partition number: nothing delivered there.
        #expect(!delivered.isDelivered(topic: "t", partition: 1, position: position(1)))
        #expect(!delivered.isDelivered(topic: "u", partition: 0, position: position(1)))
    }

    @Test func observingALowerPositionKeepsTheHighest() {
        var delivered = DeliveredPositions()
        delivered.observe(topic: "t", partition: 0, position: position(50))
        delivered.observe(topic: "t", partition: 0, position: position(40))
        #expect(delivered.highest(topic: "t", partition: 0) == position(50))
        delivered.observe(topic: "t", partition: 0, position: position(60))
        #expect(delivered.highest(topic: "t", partition: 0) == position(60))
        #expect(delivered.highest(topic: "t", partition: 1) == nil)
    }

    /// The mock broker's case: an aborted transaction reached p up to 90 but q only up to 70. The record
    /// of q at 80 was never seen, although the highest position anywhere is above it.
    @Test func eachPartitionAnswersForItselfNotTheHighestOverall() {
        var delivered = DeliveredPositions()
        #expect(delivered.highest == nil)
        delivered.observe(topic: "t", partition: 0, position: position(90))
        delivered.observe(topic: "t", partition: 1, position: position(70))
        #expect(delivered.highest == position(90))
        #expect(!delivered.isDelivered(topic: "t", partition: 1, position: position(80)))
        delivered.observe(topic: "u", partition: 0, position: position(95))
        #expect(delivered.highest == position(95))
        #expect(delivered.highestByPartition.count == 3)
    }
}
