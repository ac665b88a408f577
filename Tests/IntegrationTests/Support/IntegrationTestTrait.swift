import Foundation
import Synchronization
import Testing

/// The trait of every integration suite: each test runs on a thread of its own, and at most
/// `IntegrationTestTrait.concurrentTests` of them at once.
///
/// Why a thread of its own: integration tests block for seconds at a time (waiting on PostgreSQL, the mock
/// cluster, child processes), and Swift Testing runs a synchronous test on Swift concurrency's cooperative
/// pool, which has one thread per core. On a two-core machine two waiting tests held the whole pool, and
/// every other test — and Swift Testing's own bookkeeping — waited for one of them to end. Off the pool,
/// the tests' waits overlap.
///
/// Why a limit: each test runs a pipeline (or `swallow` processes), a mock Kafka cluster and its own
/// database, and PostgreSQL's connections and replication slots are finite; past a few at once the tests
/// only compete for the CPU. Tests marked `.longRunning` go first, so that the longest do not start last
/// and stretch the run.
///
/// (A `TestTrait` too: Swift Testing applies a recursive suite trait to each of the suite's tests.)
struct IntegrationTestTrait: SuiteTrait, TestTrait, TestScoping {
    /// Enough to overlap the tests' waits on a two-core machine without crowding the CPU.
    static let concurrentTests = 6

    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        // Suites are scopes too; only a test case runs a body.
        guard testCase != nil else { return try await function() }
        let isLongRunning = test.traits.contains { $0 is LongRunningTrait }
        try await withTaskExecutorPreference(ThreadPerJobExecutor.shared) {
            // On the test's own thread already: waiting for a turn blocks no one else.
            Self.turns.enter(longRunning: isLongRunning)
            defer { Self.turns.leave(longRunning: isLongRunning) }
            let started = StartedPipelines()
            defer { started.stopAll() }
            try await StartedPipelines.$current.withValue(started) { try await function() }
        }
    }

    private static let turns = Turns(concurrentTests)

    /// At most `limit` tests at once, of which at most half long-running ones (together they would only
    /// slow each other down); a long-running test that may start goes before the short ones.
    private final class Turns: @unchecked Sendable {
        private let limit: Int
        private let longRunningLimit: Int
        private let condition = NSCondition()
        private var running = 0
        private var longRunning = 0
        private var longRunningWaiting = 0

        init(_ limit: Int) {
            self.limit = limit
            longRunningLimit = max(1, limit / 2)
        }

        func enter(longRunning isLongRunning: Bool) {
            condition.withLock {
                if isLongRunning {
                    longRunningWaiting += 1
                    while running >= limit || longRunning >= longRunningLimit { condition.wait() }
                    longRunningWaiting -= 1
                    longRunning += 1
                } else {
                    while running >= limit || (longRunningWaiting > 0 && longRunning < longRunningLimit) { condition.wait() }
                }
                running += 1
            }
        }

        func leave(longRunning isLongRunning: Bool) {
            condition.withLock {
                running -= 1
                if isLongRunning { longRunning -= 1 }
                condition.broadcast()
            }
        }
    }
}

/// The pipelines a test started (`RunningPipeline`), stopped when the test ends if they still run. A test
/// that throws between starting one and stopping it would otherwise leave it running without its mock
/// cluster; one that then takes an initial snapshot holds its exported snapshot open, and every other
/// test's slot creation waits for it.
final class StartedPipelines: Sendable {
    @TaskLocal static var current: StartedPipelines?
    private let pipelines = Mutex<[RunningPipeline]>([])

    func add(_ pipeline: RunningPipeline) { pipelines.withLock { $0.append(pipeline) } }

    func stopAll() {
        for pipeline in pipelines.withLock({ $0 }) where !pipeline.hasEnded { _ = try? pipeline.stop() }
    }
}

/// Marks an integration test that runs for many seconds (a workload, a large snapshot, rounds of faults):
/// it starts before the short ones waiting with it.
struct LongRunningTrait: TestTrait {}

extension Trait where Self == LongRunningTrait {
    static var longRunning: Self { LongRunningTrait() }
}

extension Trait where Self == IntegrationTestTrait {
    /// Runs each test of the suite on a thread of its own, a few at once: see `IntegrationTestTrait`.
    static var integrationTest: Self { IntegrationTestTrait() }
}

/// Runs every job on a new thread: a test's synchronous body then blocks that thread only.
final class ThreadPerJobExecutor: TaskExecutor {
    static let shared = ThreadPerJobExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        Thread { job.runSynchronously(on: executor) }.start()
    }
}
