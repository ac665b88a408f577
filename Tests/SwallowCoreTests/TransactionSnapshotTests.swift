import ChangeEvent
import Testing
@testable import SwallowCore

@Suite struct TransactionSnapshotTests {
    @Test func parsesWhatPgCurrentSnapshotPrints() throws {
        let snapshot = try #require(TransactionSnapshot(text: "748:755:748,750,753"))
        #expect(snapshot == TransactionSnapshot(xmin: 748, xmax: 755, inProgress: [748, 750, 753]))
        #expect(TransactionSnapshot(text: "800:800:") == TransactionSnapshot(xmin: 800, xmax: 800, inProgress: []))
        for bad in ["", "1:2", "1:2:3:4", "a:2:", "5:2:", "1:2:x", "1:2:3,", "-1:2:"] {
            #expect(TransactionSnapshot(text: bad) == nil, "\(bad)")
        }
    }

    @Test func seesFinishedTransactionsOnly() {
        let snapshot = TransactionSnapshot(xmin: 748, xmax: 755, inProgress: [748, 750, 753])
        #expect(snapshot.sees(700))
        #expect(snapshot.sees(749))
        #expect(!snapshot.sees(748))
        #expect(!snapshot.sees(750))
        #expect(snapshot.sees(754))
        #expect(!snapshot.sees(755), "started after the snapshot")
        #expect(!snapshot.sees(9_000))
    }

    @Test func comparesAcrossTheWrapOfThe32BitCounter() {
        // Epoch 3: 64-bit ids 3 << 32 | low. A 32-bit id just below the wrap is of epoch 2 and old.
        let base: UInt64 = 3 << 32
        let snapshot = TransactionSnapshot(xmin: base + 10, xmax: base + 20, inProgress: [base + 15])
        #expect(snapshot.sees(UInt32.max - 5))
        #expect(snapshot.sees(12))
        #expect(!snapshot.sees(15))
        #expect(!snapshot.sees(25))
        // Snapshot just before the wrap, transaction just after it: not seen.
        let before = TransactionSnapshot(xmin: base - 10, xmax: base - 2, inProgress: [])
        #expect(!before.sees(3))
        #expect(before.sees(UInt32.max - 3))
    }

    @Test func aChunkDropsChangesItsSnapshotMissedEvenBeforeTheOpenWatermark() {
        var window = ChunkWindow(openID: "o", closeID: "c", relationID: 1, keyPositions: [0])
        #expect(!window.mayHaveMissed(changeBy: 700), "no snapshot yet, not open: nothing missed")
        window.snapshot = TransactionSnapshot(xmin: 748, xmax: 755, inProgress: [750])
        #expect(!window.mayHaveMissed(changeBy: 749), "seen by the read: the row read has it")
        #expect(window.mayHaveMissed(changeBy: 750), "in progress for the read: committed since, the read lacks it")
        #expect(window.mayHaveMissed(changeBy: 760), "started after the read")
        #expect(!window.mayHaveMissed(changeBy: nil))
        window.isOpen = true
        #expect(window.mayHaveMissed(changeBy: 749), "between the watermarks, every change counts")
    }
}
