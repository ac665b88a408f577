import Foundation

/// A child process with stdout and stderr appended to a file and stdin from /dev/null.
///
/// Children are started by `ProcessLauncher`, not by posix_spawn in this process: see there why.
final class ChildProcess: Sendable {
    let pid: pid_t
    /// The launcher's number for this child: unlike the pid, never reused during the run.
    private let launch: Int

    /// `environment`: variables to set (or override) in the child, on top of this process's.
    init(executable: String, arguments: [String], outputPath: String, environment: [String: String] = [:]) throws {
        var variables = ProcessInfo.processInfo.environment
        variables.merge(environment) { _, new in new }
        (launch, pid) = try ProcessLauncher.shared.start(executable: executable, arguments: arguments,
                                                         environment: variables, outputPath: outputPath)
    }

    /// Waits for the child and returns its exit status (128 + signal when killed).
    @discardableResult
    func wait() -> Int32 { ProcessLauncher.shared.waitForExit(launch) }

    /// The exit status if the child has ended, else nil; never blocks.
    func exitStatusIfEnded() -> Int32? { ProcessLauncher.shared.exitStatus(launch) }

    /// Signals the child unless it has ended (its pid may then belong to another process).
    func signal(_ number: Int32) {
        if exitStatusIfEnded() == nil { kill(pid, number) }
    }
}

/// Starts and reaps the tests' child processes through a helper process (a small Python program).
///
/// Why not posix_spawn here: from posix_spawn's clone until the child's exec, the child holds a copy of
/// every descriptor of this process, close-on-exec ones included. When a test sets a broker of
/// librdkafka's mock cluster down, the mock closes the broker's listening socket and binds its port again
/// at once; if another test started a child in that window, the child's copy still listens, the bind
/// fails with EADDRINUSE and librdkafka aborts the test process ("Failed to-create mock broker listener",
/// rdkafka_mock.c). The helper is started once, before most tests run, and holds no such socket.
final class ProcessLauncher: @unchecked Sendable {
    static let shared: ProcessLauncher = {
        do { return try ProcessLauncher() } catch { fatalError("cannot start the process launcher: \(error)") }
    }()

    private struct Launch {
        var pid: pid_t?
        var error: String?
        var status: Int32?
    }

    /// Guards `launches` and `nextLaunch`; signalled whenever the helper reports something.
    private let condition = NSCondition()
    private var launches: [Int: Launch] = [:]
    private var nextLaunch = 0
    /// Serializes request lines (not under `condition`: a full pipe must not block the reader).
    private let writeLock = NSLock()
    private let requests: Int32

    private init() throws {
        var toHelper: [Int32] = [-1, -1]
        var fromHelper: [Int32] = [-1, -1]
        // Close-on-exec, so that the helper's children do not inherit them (the helper gets its ends as 0 and 1).
        guard pipe(&toHelper) == 0, pipe(&fromHelper) == 0 else { throw TestFailure("pipe: \(String(cString: strerror(errno)))") }
        for descriptor in toHelper + fromHelper { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toHelper[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromHelper[1], 1)
        let words: [String] = ["python3", "-c", Self.helperSource]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, "python3", &actions, nil, argv, environ)
        close(toHelper[0])
        close(fromHelper[1])
        guard result == 0 else { throw TestFailure("cannot start python3: \(String(cString: strerror(result)))") }
        requests = toHelper[1]
        let responses = fromHelper[0]
        Thread { [self] in readResponses(responses) }.start()
    }

    /// Starts a child; returns the launch number and the pid once it runs.
    func start(executable: String, arguments: [String], environment: [String: String],
               outputPath: String) throws -> (launch: Int, pid: pid_t) {
        let launch = condition.withLock {
            nextLaunch += 1
            launches[nextLaunch] = Launch()
            return nextLaunch
        }
        let request: [String: Any] = ["launch": launch, "executable": executable, "arguments": arguments,
                                      "environment": environment, "output": outputPath]
        var line = try JSONSerialization.data(withJSONObject: request)
        line.append(UInt8(ascii: "\n"))
        writeLock.withLock {
            line.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(requests, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { fatalError("the process launcher went away: \(String(cString: strerror(errno)))") }
                    offset += written
                }
            }
        }
        return try condition.withLock {
            while launches[launch]?.pid == nil && launches[launch]?.error == nil { condition.wait() }
            if let error = launches[launch]?.error {
                launches[launch] = nil
                throw TestFailure("cannot start \(executable): \(error)")
            }
            return (launch, launches[launch]!.pid!)
        }
    }

    func waitForExit(_ launch: Int) -> Int32 {
        condition.withLock {
            while launches[launch]?.status == nil { condition.wait() }
            return launches[launch]!.status!
        }
    }

    func exitStatus(_ launch: Int) -> Int32? {
        condition.withLock { launches[launch]?.status }
    }

    /// Reads the helper's reports, one JSON object a line: `{launch, pid}` or `{launch, error}` when a
    /// child was started or not, `{launch, status}` when it ended.
    private func readResponses(_ descriptor: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { fatalError("the process launcher exited") }
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                guard let report = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                      let launch = report["launch"] as? Int else {
                    fatalError("the process launcher said: \(String(decoding: line, as: UTF8.self))")
                }
                condition.withLock {
                    if let pid = report["pid"] as? Int { launches[launch]?.pid = pid_t(pid) }
                    if let error = report["error"] as? String { launches[launch]?.error = error }
                    if let status = report["status"] as? Int { launches[launch]?.status = Int32(status) }
                    condition.broadcast()
                }
            }
        }
    }

    /// Reads requests from stdin, starts each child with posix_spawn, and reports on stdout; a thread per
    /// child waits for it. Exit statuses are the shell's: the code, or 128 + the signal.
    private static let helperSource = """
        import json, os, sys, threading
        lock = threading.Lock()
        def report(message):
            with lock:
                sys.stdout.write(json.dumps(message) + "\\n")
                sys.stdout.flush()
        def reap(launch, pid):
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            report({"launch": launch, "status": code if code >= 0 else 128 - code})
        while True:
            line = sys.stdin.readline()
            if not line:
                break
            request = json.loads(line)
            launch = request["launch"]
            try:
                pid = os.posix_spawn(request["executable"], [request["executable"]] + request["arguments"],
                                     request["environment"], file_actions=[
                                         (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                                         (os.POSIX_SPAWN_OPEN, 1, request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
                                         (os.POSIX_SPAWN_DUP2, 1, 2)])
            except OSError as error:
                report({"launch": launch, "error": str(error)})
                continue
            report({"launch": launch, "pid": pid})
            threading.Thread(target=reap, args=(launch, pid), daemon=True).start()
        """
}
