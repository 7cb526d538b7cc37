import Dispatch
import Foundation

/// Drives a ``RolloutScheduler`` with a real (or test) clock: starts node work as child
/// tasks, sleeps until the scheduler's next time, wakes when a node finishes or a stop is
/// requested, and returns the per-node results.
public enum RolloutRunner {
    public struct Result: Sendable {
        public var end: RolloutEnd
        /// true = the node's work failed, per started index.
        public var failed: [Int: Bool]
        /// Node indices per batch in start order.
        public var batches: [[Int]]
        /// Indices that never started.
        public var notStarted: [Int]
    }

    private enum Event<Value: Sendable>: Sendable {
        case node(Int, Value)
        case timer
        case stop
    }

    /// Runs `work(index, batch)` for every node index in `0..<count` as the policy allows.
    /// `work` returns true when the node failed. `stop` ends the run early (signals).
    public static func run(
        count: Int, policy: RolloutPolicy, clock: some Clock<Duration>, stop: RolloutStopSignal? = nil,
        work: @escaping @Sendable (_ index: Int, _ batch: Int) async -> Bool
    ) async -> Result {
        await run(count: count, policy: policy, time: RolloutTime(clock), stop: stop, work: work)
    }

    public static func run(
        count: Int, policy: RolloutPolicy, time: RolloutTime, stop: RolloutStopSignal? = nil,
        work: @escaping @Sendable (_ index: Int, _ batch: Int) async -> Bool
    ) async -> Result {
        await run(count: count, policy: policy, time: time, stop: stop, work: work, failed: { $0 }, finished: { _, _ in })
    }

    /// The same, for work that returns a value: `failed` says whether it is a failure, and
    /// `finished(index, value)` takes each value as its node ends, one at a time on the
    /// caller's task (so it may write into the caller's state without a lock). The runner
    /// keeps only whether each node failed.
    public static func run<Value: Sendable>(
        count: Int, policy: RolloutPolicy, time: RolloutTime, stop: RolloutStopSignal? = nil,
        work: @escaping @Sendable (_ index: Int, _ batch: Int) async -> Value,
        failed isFailure: (Value) -> Bool,
        finished: (_ index: Int, Value) -> Void
    ) async -> Result {
        var scheduler = RolloutScheduler(total: count, policy: policy)
        var failed: [Int: Bool] = [:]
        return await withTaskGroup(of: Event<Value>.self) { group in
            var timerDue: Duration?
            if let stop {
                group.addTask { await stop.wait(); return .stop }
            }
            if stop?.isTriggered == true { scheduler.requestStop() }
            loop: while true {
                let now = time.elapsed()
                switch scheduler.next(now: now) {
                case .start(let i):
                    let batch = scheduler.batch(of: i) ?? 0
                    group.addTask { .node(i, await work(i, batch)) }
                    continue loop
                case .finished:
                    break loop
                case .wait(let until):
                    if timerDue == nil || until < timerDue! {
                        timerDue = until
                        group.addTask {
                            await time.sleepUntil(until)
                            return .timer
                        }
                    }
                case .waitForCompletion:
                    break
                }
                guard let event = await group.next() else { break loop }
                switch event {
                case .node(let i, let value):
                    let f = isFailure(value)
                    failed[i] = f
                    finished(i, value)
                    scheduler.finished(i, failed: f, now: time.elapsed())
                case .timer:
                    timerDue = nil
                case .stop:
                    scheduler.requestStop()
                }
            }
            // Only the stop watcher and stale timers can remain: nodes are all done.
            group.cancelAll()
            let end: RolloutEnd
            if case .finished(let e) = scheduler.next(now: time.elapsed()) { end = e } else { end = .interrupted }
            return Result(end: end, failed: failed, batches: scheduler.batches, notStarted: Array(scheduler.notStarted))
        }
    }
}

/// Time as the runner sees it: elapsed since the run began, and a sleep until an elapsed
/// time. Built from any `Clock<Duration>` (a test clock included).
public struct RolloutTime: Sendable {
    public var elapsed: @Sendable () -> Duration
    public var sleepUntil: @Sendable (Duration) async -> Void

    public init(elapsed: @escaping @Sendable () -> Duration, sleepUntil: @escaping @Sendable (Duration) async -> Void) {
        self.elapsed = elapsed; self.sleepUntil = sleepUntil
    }

    public init<C: Clock<Duration>>(_ clock: C) {
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
        sleepUntil = { d in try? await clock.sleep(until: start.advanced(by: d), tolerance: nil) }
    }
}

/// A one-shot stop request (Ctrl-C, SIGTERM, or a test). Waiters resume once it fires.
public final class RolloutStopSignal: @unchecked Sendable {
    // @unchecked: all state is guarded by `lock`.
    private let lock = NSLock()
    private var triggered = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var sources: [DispatchSourceSignal] = []
    private var onSignal: (@Sendable (Int32) -> Void)?

    public init() {}

    public var isTriggered: Bool { lock.withLock { triggered } }

    public func trigger() {
        let toResume: [CheckedContinuation<Void, Never>] = lock.withLock {
            guard !triggered else { return [] }
            triggered = true
            defer { waiters = [] }
            return waiters
        }
        toResume.forEach { $0.resume() }
    }

    /// Returns once triggered, or at once when the calling task is cancelled.
    public func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now: Bool = lock.withLock {
                    if triggered || Task.isCancelled { return true }
                    waiters.append(c)
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            let toResume: [CheckedContinuation<Void, Never>] = lock.withLock {
                defer { waiters = [] }
                return waiters
            }
            toResume.forEach { $0.resume() }
        }
    }

    /// Turns SIGINT and SIGTERM into a stop request (DispatchSource signal sources; the
    /// default handlers are ignored so the process survives to finish in-flight nodes).
    /// `handler` runs on each signal with its number (e.g. to print "stopping…", or to exit
    /// on the second one).
    public func installSignalHandlers(_ signals: [Int32] = [SIGINT, SIGTERM],
                                      handler: (@Sendable (Int32) -> Void)? = nil) {
        lock.withLock { onSignal = handler }
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                let h = self.lock.withLock { self.onSignal }
                h?(sig)
                self.trigger()
            }
            source.resume()
            lock.withLock { sources.append(source) }
        }
    }
}
