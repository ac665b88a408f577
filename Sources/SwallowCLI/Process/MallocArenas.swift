import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// glibc's malloc gives a thread that meets contention an arena of its own (up to eight per core), and
/// what is freed into an arena serves only later allocations from it. Swallow's records are allocated by
/// the reader thread and freed by the delivery-report thread, librdkafka's copies by its own threads: with
/// the default, each of those heaps keeps its own high-water mark. Two arenas measured a peak RSS of
/// 52–57 MB instead of 59–66 MB draining 600,000 rows of 984 B (`scripts/bench.sh drain`), at the same
/// rate. `MALLOC_ARENA_MAX` in the environment still decides, when set.
enum MallocArenas {
    /// `M_ARENA_MAX` in glibc's <malloc.h> (which the Glibc module does not import, hence `dlsym`).
    private static let arenaMaxParameter: Int32 = -8

    static func limit() {
        #if canImport(Glibc)
        guard ProcessInfo.processInfo.environment["MALLOC_ARENA_MAX"] == nil,
              let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }  // RTLD_DEFAULT
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        _ = unsafeBitCast(symbol, to: Mallopt.self)(arenaMaxParameter, 2)
        #endif
    }
}
