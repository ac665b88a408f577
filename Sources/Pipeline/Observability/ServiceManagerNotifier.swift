/// Where the monitor tells a service manager how the service is doing: systemd's notification protocol
/// (`READY=1`, `STATUS=...`, `WATCHDOG=1`, `STOPPING=1`). The executable provides it (`ServiceNotifier`,
/// over `$NOTIFY_SOCKET`); without one, the monitor keeps its status and metrics only.
public protocol ServiceManagerNotifier: Sendable {
    /// How often the watchdog must be pinged (`WATCHDOG=1`); nil when the manager watches no deadline.
    var watchdogInterval: Duration? { get }

    /// Sends `assignments` as one notification; false when it could not be sent (the manager is gone).
    @discardableResult
    func send(_ assignments: KeyValuePairs<String, String>) -> Bool
}
