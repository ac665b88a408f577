import Foundation
import PGOutput
import SwallowCore
import Synchronization
import Testing
@testable import Pipeline

@Suite struct SnapshotStateStoreTests {
    @Test func savesAtomicallyAndLoadsBack() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)/nested").path
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }
        let store = SnapshotStateStore(directory: directory, slot: "s1")
        #expect(try store.load() == nil)
        var state = SnapshotState(slot: "s1", systemID: "42", database: "app", slotCreatedForSnapshot: true, startedAt: Date())
        state.chunks = [.init(table: 0, index: 0, isLastOfTable: false, lowerKey: nil, upperKey: ["10", "a'b"]),
                        .init(table: 0, index: 1, isLastOfTable: true, lowerKey: ["10", "a'b"])]
        state.doneChunks = [1]
        try store.save(state)
        #expect(try store.load() == state)
        state.status = .completed
        try store.save(state)
        #expect(try store.load()?.status == .completed)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["snapshot-s1.json"], "no temporary file is left")
    }

    @Test func aCorruptFileIsAnErrorNamingTheFix() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let store = SnapshotStateStore(directory: directory, slot: "s1")
        try "{not json".write(toFile: store.path, atomically: true, encoding: .utf8)
        let error = #expect(throws: PipelineError.self) { try store.load() }
        #expect(error?.code == .state)
        #expect(error?.message.contains(store.path) == true)
        #expect(error?.message.contains("remove it") == true)
    }

    @Test func theStreamsLineageHasAFileOfItsOwnPerSlot() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = StateFile<StreamLineage>(directory: directory, slot: "s1")
        #expect(store.path == "\(directory)/stream-s1.json")
        let lineage = StreamLineage(slot: "s1", systemID: "42", database: "app", timeline: 3, timelineStart: LSN(string: "0/5000000"),
                                    producedThrough: LSN(string: "0/6000000")!)
        try store.save(lineage)
        #expect(try store.load() == lineage)
    }

    @Test func twoWritersAtOnceLeaveOneWholeFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = StateFile<StreamLineage>(directory: directory, slot: "s1")
        let values = (1...2).map { writer in
            StreamLineage(slot: "s1", systemID: "42", database: "app", timeline: writer, timelineStart: nil)
        }
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 2) { writer in
            for _ in 0..<100 {
                do { try store.save(values[writer]) } catch { failures.withLock { $0 += 1 } }
            }
        }
        #expect(failures.withLock { $0 } == 0)
        #expect(values.contains(try #require(try store.load())))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["stream-s1.json"], "no temporary file is left")
    }

    @Test func anUnwritableDirectoryIsAnErrorNamingStateDir() throws {
        let store = SnapshotStateStore(directory: "/proc/swallow-cannot-exist", slot: "s1")
        let state = SnapshotState(slot: "s1", systemID: "1", database: "d", slotCreatedForSnapshot: true, startedAt: Date())
        let error = #expect(throws: PipelineError.self) { try store.save(state) }
        #expect(error?.message.contains("state_dir") == true)
    }
}
