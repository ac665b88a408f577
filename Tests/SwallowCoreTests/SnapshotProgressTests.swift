import Foundation
import Testing
@testable import SwallowCore

@Suite struct SnapshotProgressTests {
    @Test func aChunkIsDoneOnlyWhenClosedAndEveryRecordAcknowledged() {
        var progress = SnapshotProgress(chunkCount: 2)
        let a = progress.register(chunk: 0)
        let b = progress.register(chunk: 0)
        progress.acknowledge(a)
        progress.acknowledge(b)
        #expect(progress.takeNewlyDone().isEmpty, "acknowledged but still being read")
        progress.close(chunk: 0)
        #expect(progress.takeNewlyDone() == [0])
        #expect(!progress.isComplete)
        let c = progress.register(chunk: 1)
        progress.close(chunk: 1)
        #expect(progress.takeNewlyDone().isEmpty, "closed but one record in flight")
        #expect(progress.inFlightEvents == 1)
        progress.acknowledge(c)
        #expect(progress.takeNewlyDone() == [1])
        #expect(progress.isComplete)
        #expect(progress.inFlightEvents == 0)
    }

    @Test func anEmptyChunkIsDoneWhenClosed() {
        var progress = SnapshotProgress(chunkCount: 1)
        progress.close(chunk: 0)
        #expect(progress.done == [0])
    }

    @Test func reportsInAnyOrderAcrossInterleavedChunks() {
        var progress = SnapshotProgress(chunkCount: 3)
        var ids: [UInt64] = []
        for round in 0..<100 { ids.append(progress.register(chunk: round % 3)) }
        for chunk in 0..<3 { progress.close(chunk: chunk) }
        for id in ids.shuffled() { progress.acknowledge(id) }
        #expect(progress.isComplete)
        #expect(Set(progress.takeNewlyDone()) == [0, 1, 2])
    }

    @Test func aFailedRecordKeepsItsChunkUndoneButNotTheOthers() {
        var progress = SnapshotProgress(chunkCount: 2)
        let bad = progress.register(chunk: 0)
        let good = progress.register(chunk: 1)
        progress.close(chunk: 0)
        progress.close(chunk: 1)
        progress.fail(bad)
        progress.acknowledge(good)
        #expect(progress.failed)
        #expect(progress.done == [1])
        #expect(progress.inFlightEvents == 0)
    }

    @Test func reportsFromBeforeARestartAreIgnored() {
        var progress = SnapshotProgress(chunkCount: 1)
        let stale = progress.register(chunk: 0)
        progress.restart()
        let fresh = progress.register(chunk: 0)
        #expect(stale != fresh)
        progress.close(chunk: 0)
        progress.acknowledge(stale)
        #expect(progress.done.isEmpty, "a report of the previous attempt completed nothing")
        #expect(progress.inFlightEvents == 1)
        progress.acknowledge(fresh)
        #expect(progress.done == [0])
    }

    @Test func snapshotIDsNeverCollideWithStreamedEventIDs() {
        var progress = SnapshotProgress(chunkCount: SnapshotProgress.maxChunks)
        #expect(SnapshotProgress.owns(progress.register(chunk: SnapshotProgress.maxChunks - 1)))
        #expect(!SnapshotProgress.owns(1))
        #expect(!SnapshotProgress.owns(UInt64(Int64.max)))
        // Unknown or duplicate reports are ignored rather than trusted.
        progress.acknowledge(1)
        progress.acknowledge(SnapshotProgress.snapshotFlag | 5 << 32)
        #expect(progress.inFlightEvents == 1)
    }

    @Test func resumesWithChunksAlreadyDone() {
        var progress = SnapshotProgress(chunkCount: 3, done: [0, 2])
        #expect(!progress.isComplete)
        progress.close(chunk: 1)
        #expect(progress.isComplete)
        #expect(progress.takeNewlyDone() == [1])
    }
}
