import Foundation
import FleetModel

/// Records the finished nodes of one run, several per write transaction (perf: a commit per
/// node rewrote the same index and table pages into the WAL for every node, ~7% of a
/// scan's CPU).
///
/// `record` returns only once its node is committed, so whatever the caller reports after
/// it is in the database even if the process is SIGKILLed the next instant. Nodes that
/// finish within `linger` of each other share a transaction (at most `maxBatch`). Writes run
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

    public init(db: FleetDatabase, run: Int64, maxBatch: Int = 64, linger: DispatchTimeInterval = .milliseconds(100)) {
        self.db = db; self.run = run; self.maxBatch = max(1, maxBatch); self.linger = linger
    }

    public func record(_ scan: NodeScan) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let (schedule, full): (Bool, Bool) = lock.withLock {
                pending.append((scan, c))
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

    /// On `queue`: writes everything pending in one transaction, then wakes its callers.
    private func flush() {
        let batch = lock.withLock {
            let b = pending
            pending = []
            flushScheduled = false
            return b
        }
        guard !batch.isEmpty else { return }
        do {
            try db.recordNodes(run: run, batch.map(\.scan))
            for b in batch { b.done.resume() }
        } catch {
            if batch.count == 1 { batch[0].done.resume(throwing: error); return }
            for b in batch {
                do { try db.recordNode(run: run, b.scan); b.done.resume() } catch { b.done.resume(throwing: error) }
            }
        }
    }
}
