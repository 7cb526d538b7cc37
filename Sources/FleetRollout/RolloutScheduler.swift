/// The rollout's decisions as a pure state machine: which node starts next and when,
/// given the ``RolloutPolicy``, the time elapsed since the run began and the nodes that
/// finished. It never sleeps and reads no clock, so tests drive it through simulated time
/// and ``RolloutRunner`` drives it with a real one.
///
/// Rules: a batch starts only when the previous one has fully finished and `pause` has
/// passed; inside a batch at most `maxInFlight` nodes run at once and starts are spaced by
/// the rate limit; once failures exceed `maxFailures`, or after ``requestStop()``, no node
/// starts and the run ends when the in-flight ones are done.
public struct RolloutScheduler: Sendable {
    public enum Decision: Hashable, Sendable {
        /// Start the node at this index (into the caller's node list).
        case start(Int)
        /// Nothing may start before this time (since the run began); a node finishing
        /// earlier may change that, so wake up on either.
        case wait(until: Duration)
        /// Nothing can start until an in-flight node finishes.
        case waitForCompletion
        /// No node is in flight and none will start.
        case finished(RolloutEnd)
    }

    public let total: Int
    public let policy: RolloutPolicy
    /// Node indices per batch, in start order (a batch cut short by a stop is partial).
    public private(set) var batches: [[Int]] = []
    public private(set) var inFlight: Set<Int> = []
    public private(set) var failures = 0
    public private(set) var successes = 0
    /// Set when the run stops early.
    public private(set) var stopReason: RolloutEnd?

    private var nextNode = 0
    private var batchEnd = 0
    private var lastBatchDoneAt: Duration?
    private var repeatedSize: Int?
    // Rate limit as GCRA: the theoretical arrival time of the next start.
    private var tat: Duration = .zero

    public init(total: Int, policy: RolloutPolicy) {
        self.total = max(0, total)
        self.policy = policy
    }

    /// Indices that never started (after a stop).
    public var notStarted: Range<Int> { nextNode..<total }

    /// The batch the node at `index` belongs to (1-based), once started.
    public func batch(of index: Int) -> Int? {
        batches.firstIndex { $0.contains(index) }.map { $0 + 1 }
    }

    /// What to do at `now` (time since the run began). Call again after acting on `.start`.
    public mutating func next(now: Duration) -> Decision {
        if let stop = stopReason {
            return inFlight.isEmpty ? .finished(stop) : .waitForCompletion
        }
        if nextNode >= total {
            return inFlight.isEmpty ? .finished(.completed) : .waitForCompletion
        }
        if nextNode == batchEnd {
            guard inFlight.isEmpty else { return .waitForCompletion }
            if let done = lastBatchDoneAt, now < done + policy.pause {
                return .wait(until: done + policy.pause)
            }
            openBatch()
        }
        if inFlight.count >= policy.maxInFlight { return .waitForCompletion }
        if let rate = policy.rate {
            let tolerance = rate.interval * (rate.burst - 1)
            let allowedAt = tat - tolerance
            if now < allowedAt { return .wait(until: allowedAt) }
            tat = max(tat, now) + rate.interval
        }
        let i = nextNode
        nextNode += 1
        inFlight.insert(i)
        batches[batches.count - 1].append(i)
        return .start(i)
    }

    /// Records that node `index` finished at `now`.
    public mutating func finished(_ index: Int, failed: Bool, now: Duration) {
        guard inFlight.remove(index) != nil else { return }
        if failed { failures += 1 } else { successes += 1 }
        if stopReason == nil, let limit = policy.maxFailures, failures > limit.allowed(total: total) {
            stopReason = .maxFailures
        }
        if inFlight.isEmpty, nextNode == batchEnd { lastBatchDoneAt = now }
    }

    /// Ctrl-C / SIGTERM: start nothing more; in-flight nodes finish.
    public mutating func requestStop() {
        if stopReason == nil { stopReason = .interrupted }
    }

    private mutating func openBatch() {
        let b = batches.count
        let remaining = total - nextNode
        let size: Int
        if b < policy.batches.count {
            size = policy.batches[b].size(remaining: remaining)
            if b == policy.batches.count - 1 { repeatedSize = size }
        } else {
            size = repeatedSize ?? policy.batches[policy.batches.count - 1].size(remaining: remaining)
        }
        batchEnd = min(total, nextNode + size)
        batches.append([])
    }
}

/// Why a rollout ended.
public enum RolloutEnd: String, Sendable, Hashable, Codable {
    /// Every node was started and finished.
    case completed
    /// Failures exceeded `--max-failures`.
    case maxFailures = "max-failures"
    /// Stopped by a signal (Ctrl-C, SIGTERM).
    case interrupted
}
