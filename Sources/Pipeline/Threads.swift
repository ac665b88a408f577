import Foundation

/// The one way the pipeline starts a thread: for work that blocks in libpq (snapshot readers, the
/// heartbeat writer), which must stay off Swift's shared executor. A 1 MiB stack is plenty for it.
func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    thread.stackSize = 1 << 20
    thread.start()
}
