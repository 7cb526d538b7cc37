import Foundation
import FleetModel

/// Records the finished nodes of one run, several per write transaction (perf: a commit per
/// node rewrote the same index and table pages into the WAL for every node, ~7% of a
/// scan's CPU).
///
/// `record` returns only once its node is committed, so whatever the caller reports after
/// it is in the database even if the process is SIGKILLed the next instant. Nodes that
/// finish within `linger` of each other share a transaction (at most `maxBatch`; a backlog
/// is written `maxBatch` nodes at a time, each batch released as soon as it commits). Writes run
/// on one serial queue, so GRDB's blocking calls never hold a thread of Swift's cooperative
/// pool. If a batch's transaction fails, its nodes are retried one transaction each, so
/// one bad node fails alone, as with ``FleetDatabase/recordNode(run:_:)``.
public final class NodeRecorder: @unchecked Sendable {
    // @unchecked: `pending` and `flushScheduled` are only touched under `lock`; the rest is immutable.
    public let db: FleetDatabase
    public let run: Int64
    public let maxBatch: Int
    public let linger: DispatchTimeInterval
    private let queue = DispatchQueue(label: "fleet-store-recorder")
    private let lock = NSLock()
    private var pending: [(scan: NodeScan, done: CheckedContinuation<Void, any Error>)] = []
    private var flushScheduled = false
    /// Nodes handed to `record` and not yet answered (pending or being written).
    private var unanswered = 0

    public init(db: FleetDatabase, run: Int64, maxBatch: Int = 64, linger: DispatchTimeInterval = .milliseconds(100)) {
        self.db = db; self.run = run; self.maxBatch = max(1, maxBatch); self.linger = linger
    }

    public func record(_ scan: NodeScan) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let (schedule, full): (Bool, Bool) = lock.withLock {
                pending.append((scan, c))
                unanswered += 1
                let first = !flushScheduled
                flushScheduled = true
                return (first, pending.count >= maxBatch)
            }
            if full {
                queue.async { self.flush() }
            } else if schedule {
                queue.asyncAfter(deadline: .now() + linger) { self.flush() }
            }
        }
    }

    /// Nodes handed to `record` that have not returned yet (for tests).
    var waiting: Int { lock.withLock { unanswered } }

    /// On `queue`: writes the first `maxBatch` pending nodes in one transaction, then wakes
    /// their callers; what is left (a backlog) goes next, without waiting for the linger.
    ///
    /// Never more than `maxBatch` at once (memory): when the writer falls behind, e.g. a scan's
    /// first wave finishing together, every waiting node holds its raw outputs (~260 KB at 50
    /// maps). Taking the whole backlog into one transaction held them all until the last was
    /// written, and the nodes behind them too; batch by batch, each is freed (and its fork slot
    /// given to the next node) as soon as its batch commits.
    private func flush() {
        let (batch, more) = lock.withLock {
            let b = Array(pending.prefix(maxBatch))
            pending.removeFirst(b.count)
            // Still true while a backlog is left: this flush schedules the next one below.
            flushScheduled = !pending.isEmpty
            return (b, !pending.isEmpty)
        }
        guard !batch.isEmpty else { return }
        let outcomes: [Result<Void, any Error>]
        do {
            try db.recordNodes(run: run, batch.map(\.scan))
            outcomes = batch.map { _ in .success(()) }
        } catch {
            outcomes = batch.count == 1 ? [.failure(error)] : batch.map { b in Result { _ = try db.recordNode(run: run, b.scan) } }
        }
        lock.withLock { unanswered -= batch.count }
        for (b, outcome) in zip(batch, outcomes) { b.done.resume(with: outcome) }
        if more { queue.async { self.flush() } }
    }
}
