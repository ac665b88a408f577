import Foundation
import Kafka
import PGOutput
import SwallowCore

/// What the replication reader, the snapshot readers and the producer's poll thread share: the ledger of
/// records awaiting a delivery report (by owner), the first failed delivery, a fatal producer error and
/// the stop request. Every access goes through a method here, under one lock; the condition wakes whoever
/// waits for reports or a stop. The poll thread never blocks while holding the lock.
final class DeliveryState: @unchecked Sendable {
    // @unchecked: every stored property below `condition` is read and written only with it locked.
    private let condition = NSCondition()
    private var ledger: DeliveryLedger
    /// The first failed delivery since the stream (re)started: decides whether a restart can help.
    private var firstFailure: KafkaError?
    private var fatalError: KafkaError?
    private var stopped = false
    /// Commit times the delivery thread collected, reused from one batch of reports to the next.
    private var commitTimes: [Int64] = []
    /// `delivery: exactly_once`: a record counts as delivered only once the Kafka transaction holding it
    /// committed (an aborted one is invisible to read_committed consumers), so successful reports wait
    /// here until then and every owner — stream units, snapshot chunks — sees commits, not writes.
    private let holdsReportsUntilCommit: Bool
    private var uncommitted: [DeliveryID] = []
    /// Of `uncommitted`, the stream's and the snapshot's: written and acknowledged, so they no longer
    /// hold librdkafka's memory, and the in-flight bounds do not count them (else every transaction
    /// would stop at the bound and wait for its own commit).
    private var uncommittedStream = 0
    private var uncommittedSnapshot = 0
    /// Reports (of either outcome) received since the open Kafka transaction began.
    private var reportsInTransaction = 0

    init(confirmedLSN: LSN, holdsReportsUntilCommit: Bool = false) {
        ledger = DeliveryLedger(confirmedLSN: confirmedLSN)
        self.holdsReportsUntilCommit = holdsReportsUntilCommit
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    // MARK: Stop

    /// Asks every loop to finish; true for the first request.
    func requestStop() -> Bool {
        locked {
            defer { stopped = true }
            condition.broadcast()
            return !stopped
        }
    }

    var stopRequested: Bool { locked { stopped } }

    /// Wakes every waiter (they check their own flags, e.g. a snapshot attempt's abort).
    func wakeWaiters() {
        locked { condition.broadcast() }
    }

    /// Waits until a delivery report, a wake-up or `deadline` (at once when a stop was requested, unless
    /// `evenWhenStopping`). Returns whether a stop was requested.
    func waitForReports(until deadline: Date, evenWhenStopping: Bool = false) -> Bool {
        locked {
            if !stopped || evenWhenStopping { _ = condition.wait(until: deadline) }
            return stopped
        }
    }

    /// Waits `milliseconds` unless a stop is requested, calling `refresh` about every second so the status
    /// (and the watchdog) stays alive during backoffs. Returns true when a stop was requested.
    func waitUnlessStopped(milliseconds: Int, refresh: () -> Void) -> Bool {
        let deadline = Date().addingTimeInterval(Double(milliseconds) / 1000)
        while Date() < deadline {
            let slice = min(deadline, Date().addingTimeInterval(1))
            let stopping = locked {
                while !stopped, condition.wait(until: slice) {}
                return stopped
            }
            if stopping { return true }
            refresh()
        }
        return false
    }

    // MARK: Delivery reports (the producer's poll thread)

    /// Settles a batch of reports with their owners. Returns the first failure of the batch if it is the
    /// first since the stream started, and the commit times of transactions that became fully
    /// acknowledged (appended to `completedCommitTimes`).
    func settle(_ reports: [DeliveryReport], completedCommitTimes: inout [Int64]) -> (firstFailure: KafkaError?, failures: Int) {
        var newFailure: KafkaError?
        var failures = 0
        locked {
            for report in reports {
                let id = DeliveryID(rawValue: report.id)
                reportsInTransaction += 1
                switch report.result {
                case .success where holdsReportsUntilCommit:
                    uncommitted.append(id)
                    if case .streamEvent = id { uncommittedStream += 1 } else { uncommittedSnapshot += 1 }
                case .success:
                    ledger.settle(id, delivered: true)
                case .failure(let error):
                    failures += 1
                    ledger.settle(id, delivered: false)
                    if firstFailure == nil {
                        firstFailure = error
                        newFailure = error
                    }
                }
            }
            ledger.stream.takeCompletedCommitTimes(into: &completedCommitTimes)
            condition.broadcast()
        }
        return (newFailure, failures)
    }

    // MARK: Kafka transactions (exactly_once)

    /// Waits until `count` reports arrived since the transaction began (the producer's commit returns
    /// once librdkafka has them; our poll thread may still be handing them over) or until `deadline`.
    /// Returns whether they all arrived.
    func waitForTransactionReports(_ count: Int, until deadline: Date) -> Bool {
        locked {
            while reportsInTransaction < count {
                if !condition.wait(until: deadline) { return reportsInTransaction >= count }
            }
            return true
        }
    }

    /// The Kafka transaction committed: its records are delivered, and their owners settle them.
    /// Returns how many records it held.
    @discardableResult
    func transactionCommitted(completedCommitTimes: inout [Int64]) -> Int {
        locked {
            let count = uncommitted.count
            for id in uncommitted { ledger.settle(id, delivered: true) }
            uncommitted.removeAll(keepingCapacity: true)
            uncommittedStream = 0
            uncommittedSnapshot = 0
            reportsInTransaction = 0
            ledger.stream.takeCompletedCommitTimes(into: &completedCommitTimes)
            condition.broadcast()
            return count
        }
    }

    /// The Kafka transaction was aborted: its records were not delivered. Their owners learn it when the
    /// stream restarts (`restartStream`) or the snapshot attempt ends, which forget them.
    func transactionAborted() {
        locked {
            uncommitted.removeAll(keepingCapacity: true)
            uncommittedStream = 0
            uncommittedSnapshot = 0
            reportsInTransaction = 0
            condition.broadcast()
        }
    }

    /// The producer failed fatally (e.g. fenced): nothing it sends any more can be trusted.
    func producerFailed(_ error: KafkaError) {
        locked {
            fatalError = error
            condition.broadcast()
        }
    }

    /// A new producer replaces the one that failed: its fatal error, the failure and every outstanding
    /// record are forgotten (the stream resumes from the confirmed position).
    func producerReplaced() {
        locked {
            fatalError = nil
            firstFailure = nil
            uncommitted.removeAll(keepingCapacity: true)
            uncommittedStream = 0
            uncommittedSnapshot = 0
            reportsInTransaction = 0
            ledger.stream.restart(from: nil)
            ledger.snapshot = nil
        }
    }

    /// The fatal producer error and the first failed delivery since the stream (re)started.
    var failures: (fatal: KafkaError?, delivery: KafkaError?) { locked { (fatalError, firstFailure) } }

    // MARK: The stream's units

    var confirmedLSN: LSN { locked { ledger.stream.confirmedLSN } }
    /// Stream events awaiting their delivery report (the backpressure bound's count).
    var streamEventsInFlight: Int { locked { ledger.stream.inFlightEvents - uncommittedStream } }
    /// The first stream event whose delivery failed since the stream (re)started.
    var streamDeliveryFailed: Bool { locked { ledger.stream.failedEventID != nil } }

    func openUnit(commitTimeMicros: Int64?) { locked { ledger.stream.openUnit(commitTimeMicros: commitTimeMicros) } }
    func closeUnit(endLSN: LSN) { locked { ledger.stream.closeUnit(endLSN: endLSN) } }
    func serverPositionReported(_ position: LSN) { locked { ledger.stream.serverPositionReported(position) } }
    func registerStreamEvent() -> DeliveryID { locked { .streamEvent(ledger.stream.registerEvent()) } }

    /// A registered record was never handed to the producer (a stop, or an error before it was queued).
    func abandon(_ id: DeliveryID) {
        locked {
            ledger.settle(id, delivered: false)
            condition.broadcast()
        }
    }

    /// A registered record needs no delivery (a snapshot row of a table that is not captured).
    func settleWithoutDelivery(_ id: DeliveryID) {
        locked {
            ledger.settle(id, delivered: true)
            condition.broadcast()
        }
    }

    /// Forgets every outstanding unit and the last failure, for a new stream from the confirmed position.
    func restartStream() {
        locked {
            ledger.stream.restart()
            firstFailure = nil
        }
    }

    /// As `restartStream`, for a stream from `position`: the slot's, when a run or a new slot starts
    /// streaming, or after a promotion put the confirmed position past the new timeline's start
    /// (`AcknowledgementTracker.restart(rewindingTo:)`).
    func restartStream(rewindingTo position: LSN) {
        locked {
            ledger.stream.restart(rewindingTo: position)
            firstFailure = nil
        }
    }

    /// Moves the commit times of fully acknowledged transactions to `buffer`.
    func takeCompletedCommitTimes(into buffer: inout [Int64]) {
        locked { ledger.stream.takeCompletedCommitTimes(into: &buffer) }
    }

    /// Records of every owner awaiting a report.
    var inFlightEvents: Int { locked { ledger.inFlightEvents } }

    // MARK: The initial snapshot's chunks

    /// A snapshot attempt starts with `progress` (chunks done before count as done); its failure is cleared.
    func beginSnapshot(_ progress: SnapshotProgress) {
        locked {
            ledger.snapshot = progress
            firstFailure = nil
        }
    }

    /// The attempt is over: reports still arriving for its records are ignored. Its failure, if any,
    /// stays until `clearFailure` (a retry clears it once the attempt's last reports are in, so that they
    /// do not count as a new failure).
    func endSnapshot() {
        locked { ledger.snapshot = nil }
    }

    /// Forgets the first failed delivery: every report of the attempt it ended has arrived.
    func clearFailure() {
        locked { firstFailure = nil }
    }

    /// Registers `count` records of `chunk`, waiting while more than `limit` snapshot records (and at least
    /// one) would be in flight. Returns nil, registering nothing, once `shouldGiveUp` says so or a stop is
    /// requested.
    func registerSnapshotRecords(chunk: Int, count: Int, limit: Int, shouldGiveUp: () -> Bool) -> [DeliveryID]? {
        locked {
            while !stopped, !shouldGiveUp(), let inFlight = ledger.snapshot.map({ $0.inFlightEvents - uncommittedSnapshot }),
                  inFlight > 0, inFlight + count > limit {
                _ = condition.wait(until: Date().addingTimeInterval(0.1))
            }
            guard !stopped, !shouldGiveUp(), ledger.snapshot != nil else { return nil }
            return (0..<count).map { _ in .snapshotRecord(ledger.snapshot!.register(chunk: chunk)) }
        }
    }

    /// Every row of `chunk` was read.
    func closeChunk(_ chunk: Int) {
        locked {
            ledger.snapshot?.close(chunk: chunk)
            condition.broadcast()
        }
    }

    /// Chunks done since the last call, and whether every chunk is.
    func takeDoneChunks() -> (done: [Int], complete: Bool) {
        locked { (ledger.snapshot?.takeNewlyDone() ?? [], ledger.snapshot?.isComplete == true) }
    }

    /// Waits up to `deadline` unless the snapshot is complete, a stop was requested or the producer failed.
    func waitForSnapshotProgress(until deadline: Date) {
        locked {
            if ledger.snapshot?.isComplete != true, !stopped, fatalError == nil { _ = condition.wait(until: deadline) }
        }
    }
}
