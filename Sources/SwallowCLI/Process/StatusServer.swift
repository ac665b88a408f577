import FlyingFox
import FlyingSocks
import Foundation
import Logging
import Pipeline
import Prometheus
import SwallowConfig

/// The HTTP listener (`http.listen`): `/metrics` (Prometheus text format), `/healthz`, `/readyz` and
/// `/status` (JSON). It runs on Swift's concurrency threads, never on the pipeline's: a slow scraper
/// cannot stall replication, and a stalled pipeline still answers (with its frozen figures and 503s).
///
/// Everything it serves comes from ``PipelineStatus`` and the metrics registry: positions, counts,
/// table names and error texts, never row contents or credentials.
final class StatusServer: Sendable {
    let server: HTTPServer
    private let task: Task<Void, any Error>

    /// Binds and starts listening; returns once the socket listens (or throws why it cannot).
    static func start(listen: SwallowConfiguration.HTTP.Listen, monitor: PipelineMonitor,
                      registry: PrometheusCollectorRegistry, logger: Logger) throws -> StatusServer {
        let address: any SocketAddress
        do {
            address = listen.isIPv6
                ? try sockaddr_in6.inet6(ip6: listen.host, port: UInt16(listen.port))
                : try sockaddr_in.inet(ip4: listen.host, port: UInt16(listen.port))
        } catch {
            throw StatusServerError(message: "http.listen \(listen) is not a numeric address: \(error)")
        }
        let stopping = ManagedAtomicFlag()
        let server = HTTPServer(config: .init(address: address, timeout: 10,
                                              logger: SwiftLogBridge(logger: logger, stopping: stopping)))
        let outcome = BlockingWait<Result<Void, any Error>>()
        let task = Task {
            await Self.addRoutes(to: server, monitor: monitor, registry: registry)
            do {
                try await server.run()
            } catch {
                outcome.finish(.failure(error))   // e.g. the address is in use
                throw error
            }
        }
        Task {
            do {
                try await server.waitUntilListening(timeout: 10)
                outcome.finish(.success(()))
            } catch {
                outcome.finish(.failure(error))
            }
        }
        if case .failure(let error) = outcome.wait() {
            task.cancel()
            throw StatusServerError(message: "cannot listen on \(listen) (http.listen): \(error); free the port or change http.listen")
        }
        return StatusServer(server: server, task: task, stopping: stopping)
    }

    private let stopping: ManagedAtomicFlag

    private init(server: HTTPServer, task: Task<Void, any Error>, stopping: ManagedAtomicFlag) {
        self.server = server
        self.task = task
        self.stopping = stopping
    }

    /// The port actually bound (differs from the configured one for port 0).
    var port: UInt16? {
        let wait = BlockingWait<UInt16?>()
        let server = self.server
        Task {
            switch await server.listeningAddress {
            case .ip4(_, let port), .ip6(_, let port): wait.finish(port)
            default: wait.finish(nil)
            }
        }
        return wait.wait()
    }

    func stop() {
        stopping.set()
        let wait = BlockingWait<Void>()
        let server = self.server
        Task {
            await server.stop(timeout: 1)
            wait.finish(())
        }
        wait.wait()
        task.cancel()
    }

    private static func addRoutes(to server: HTTPServer, monitor: PipelineMonitor,
                                  registry: PrometheusCollectorRegistry) async {
        await server.appendRoute("GET /metrics") { _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            registry.emit(into: &buffer)
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: Data(buffer))
        }
        await server.appendRoute("GET /healthz") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: Data("ok\n".utf8))
        }
        await server.appendRoute("GET /readyz") { _ in
            let readiness = monitor.status.readiness
            return HTTPResponse(statusCode: readiness.isReady ? .ok : .serviceUnavailable,
                                headers: [.contentType: "text/plain; charset=utf-8"],
                                body: Data("\(readiness.reason)\n".utf8))
        }
        await server.appendRoute("GET /status") { _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "application/json"], body: Data(monitor.status.json()))
        }
    }
}

struct StatusServerError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// FlyingFox's log lines through swift-log. Per-connection chatter (a scraper hanging up, say) is debug;
/// only a server that cannot run is an error — unless we are stopping it.
struct SwiftLogBridge: FlyingSocks.Logging {
    let logger: Logger
    let stopping: ManagedAtomicFlag
    func logDebug(_ debug: @autoclosure () -> String) { logger.trace("http: \(debug())") }
    func logInfo(_ info: @autoclosure () -> String) { logger.debug("http: \(info())") }
    func logWarning(_ warning: @autoclosure () -> String) { logger.debug("http: \(warning())") }
    func logError(_ error: @autoclosure () -> String) { logger.debug("http: \(error())") }
    func logCritical(_ critical: @autoclosure () -> String) {
        if stopping.isSet { logger.debug("http: \(critical())") } else { logger.error("http: \(critical())") }
    }
}

/// Hands one value from a task to a thread that blocks for it (the executable's main thread is not async).
/// `@unchecked Sendable`: `value` is read and written only with `condition` locked.
final class BlockingWait<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Value?

    func finish(_ result: Value) {
        condition.lock()
        if value == nil { value = result }
        condition.broadcast()
        condition.unlock()
    }

    func wait() -> Value {
        condition.lock()
        defer { condition.unlock() }
        while value == nil { condition.wait() }
        return value!
    }
}
