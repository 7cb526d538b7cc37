import Foundation
import FleetModel

/// Run-wide settings of a scan.
public struct ScanOptions: Sendable, Hashable {
    /// Nodes in flight at once (ClusterShell's fanout).
    public var forks: Int
    /// TCP connect; the executor applies it (and the same again to the handshake and auth).
    public var connectTimeout: Duration
    public var discovery: DiscoveryOptions
    /// Run the full discovery on every node (`--full`); otherwise phase 1 first where the
    /// history allows it (``PhaseOne``).
    public var fullDiscovery: Bool
    /// A node whose last full discovery is older than this gets it again (`--full-after`);
    /// nil: phase 1 may carry a state however old.
    public var fullAfter: Duration?

    public init(forks: Int = 64, connectTimeout: Duration = .seconds(10), discovery: DiscoveryOptions = DiscoveryOptions(),
                fullDiscovery: Bool = false, fullAfter: Duration? = nil) {
        self.forks = max(1, forks); self.connectTimeout = connectTimeout; self.discovery = discovery
        self.fullDiscovery = fullDiscovery; self.fullAfter = fullAfter
    }

    /// The hard bound on one node, whatever the transport does: connect, handshake and auth
    /// (one connect timeout each), then the session's own budget, plus slack. A node still
    /// running then is recorded as `command-timeout` and the run moves on.
    public var nodeDeadline: Duration {
        connectTimeout * 3 + discovery.sessionBudget + .seconds(5)
    }

    /// ``nodeDeadline`` for one target: its own connect timeout (ssh_config's ConnectTimeout)
    /// when longer, and three more for each jump host to connect, verify and authenticate
    /// (plus the channel open) on the way, so a slow bastion ends as its own failure.
    public func nodeDeadline(for target: NodeTarget) -> Duration {
        let connect = max(connectTimeout, target.connectTimeout ?? connectTimeout)
        let hops = target.jumps.reduce(Duration.zero) { $0 + max(connectTimeout, $1.connectTimeout ?? connectTimeout) * 4 }
        return connect * 3 + hops + discovery.sessionBudget + .seconds(5)
    }
}

/// Where a scan stands, sent with every finished node.
public struct ScanProgress: Sendable, Hashable {
    public var done: Int
    public var total: Int
    /// Nodes whose status is not ok.
    public var failed: Int
    /// Nodes with at least one cleanable (residual / residual-hung) map.
    public var residualNodes: Int
    public var elapsed: Duration
}

public enum ScanEvent: Sendable {
    case started(total: Int)
    /// `scan` has no raw outputs (they went to the store).
    case nodeFinished(NodeScan, ScanProgress)
    /// Writing a node's results to the history failed (the scan goes on).
    case storeFailed(node: String, message: String)
    case finished(ScanProgress)
}

/// Counters over a scan's finished nodes: everything the exit status, the summary line, the
/// JSON header and `sweep`'s decisions need. Its size does not depend on the number of nodes.
public struct ScanSummary: Sendable, Hashable {
    /// Nodes finished.
    public var nodes = 0
    public var nodesByStatus: [NodeStatus: Int] = [:]
    public var mapsByVerdict: [Verdict: Int] = [:]
    public var maps = 0
    /// Nodes whose status is not ok.
    public var nodesFailed = 0
    /// Nodes with at least one cleanable (residual / residual-hung) map.
    public var nodesWithResidualMaps = 0
    /// Maps with a cleanable verdict, over all nodes.
    public var cleanableMaps = 0
    /// The first ``keptStoreErrors`` messages of nodes whose results could not be stored
    /// (a full disk would otherwise keep one per node); ``storeErrorCount`` counts them all.
    public var storeErrors: [String] = []
    public var storeErrorCount = 0
    public var elapsed: Duration = .zero

    public static let keptStoreErrors = 5

    public init() {}

    public mutating func add(_ scan: NodeScan) {
        nodes += 1
        nodesByStatus[scan.status, default: 0] += 1
        if scan.status != .ok { nodesFailed += 1 }
        var cleanable = 0
        for f in scan.findings {
            mapsByVerdict[f.verdict, default: 0] += 1
            if f.verdict.isCleanable { cleanable += 1 }
        }
        maps += scan.findings.count
        cleanableMaps += cleanable
        if cleanable > 0 { nodesWithResidualMaps += 1 }
    }

    public mutating func addStoreError(_ message: String) {
        storeErrorCount += 1
        if storeErrors.count < Self.keptStoreErrors { storeErrors.append(message) }
    }
}

/// Takes each node of a scan once, as it finishes: in completion order (not inventory
/// order), one node at a time, raw outputs already dropped; `index` is the node's position
/// in the targets. What a sink keeps is the only per-node memory of
/// ``ScanRun/run(_:into:)``: the run itself holds the nodes in flight and a ``ScanSummary``.
public protocol ScanSink {
    mutating func add(_ scan: NodeScan, at index: Int)
}

/// A sink that keeps every node, in inventory order (``ScanRun/run(_:)``).
public struct KeptScans: ScanSink {
    var slots: [NodeScan?]
    public init(count: Int) { slots = [NodeScan?](repeating: nil, count: count) }
    public mutating func add(_ scan: NodeScan, at index: Int) { slots[index] = scan }
    /// Every node, in target order (call once the run has returned).
    public var nodes: [NodeScan] { slots.map { $0! } }
}

/// A sink that keeps nothing (`clean`: the scans are in the history, read back one node at a time).
public struct DroppedScans: ScanSink {
    public init() {}
    public mutating func add(_ scan: NodeScan, at index: Int) {}
}

/// `sweep` turns each scanned node into its metrics as it arrives.
extension SweepMetrics: ScanSink {
    public mutating func add(_ scan: NodeScan, at index: Int) { add(scan) }
}

/// The outcome of a scan that kept every node (``ScanRun/run(_:)``, tests),
/// in inventory order. Raw outputs are dropped once stored.
public struct ScanResult: Sendable {
    public var nodes: [NodeScan]
    public var summary: ScanSummary

    public var storeErrors: [String] { summary.storeErrors }
    public var elapsed: Duration { summary.elapsed }
    public var residualNodes: [NodeScan] { nodes.filter { $0.findings.contains { $0.verdict.isCleanable } } }
    public var failedNodes: [NodeScan] { nodes.filter { $0.status != .ok } }
    public var countsByVerdict: [Verdict: Int] { summary.mapsByVerdict }
    public var countsByStatus: [NodeStatus: Int] { summary.nodesByStatus }
}

/// The run's witnesses from outside the nodes: the Kubernetes view of each inventory node
/// (nil when the API was not asked) and the WWID rules.
public struct RunWitnesses: Sendable {
    public var kubernetes: [String: KubeNodeView]?
    public var rules: [WWIDRule]
    public init(kubernetes: [String: KubeNodeView]? = nil, rules: [WWIDRule] = WWIDRule.builtIn) {
        self.kubernetes = kubernetes; self.rules = rules
    }
    func input(for node: String) -> NodeWitnessInput {
        NodeWitnessInput(kubernetes: kubernetes.map { $0[node] ?? KubeNodeView(source: "", nodeName: nil) }, rules: rules)
    }
}

/// Scans nodes at bounded concurrency over an injected executor. Every node ends with a
/// ``NodeScan`` — a failure is data — and is handed to `record` as soon as it ends.
public struct ScanRun: Sendable {
    public var executor: any RemoteExecutor
    public var options: ScanOptions
    /// Stores one node's results (one transaction). Called concurrently from node tasks.
    public var record: @Sendable (NodeScan) async throws -> Void
    public var events: @Sendable (ScanEvent) -> Void
    public var now: @Sendable () -> Date
    /// The witnesses from outside the nodes (Kubernetes), per node name.
    public var witnesses: RunWitnesses
    /// Reads a node's last successful scan from the history (phase 1 compares against it),
    /// called once per node right before its scan, so only the nodes in flight have theirs in
    /// memory. nil from it: the full discovery; a failed read: the full discovery, with why
    /// in the node run's phase note. nil here: no history given, every node gets the full
    /// discovery (as with `--full`).
    public var previous: (@Sendable (String) throws -> PreviousNodeState?)?

    public init(executor: any RemoteExecutor, options: ScanOptions = ScanOptions(),
                record: @escaping @Sendable (NodeScan) async throws -> Void = { _ in },
                events: @escaping @Sendable (ScanEvent) -> Void = { _ in },
                now: @escaping @Sendable () -> Date = { Date() }, witnesses: RunWitnesses = RunWitnesses(),
                previous: (@Sendable (String) throws -> PreviousNodeState?)? = nil) {
        self.executor = executor; self.options = options; self.record = record
        self.events = events; self.now = now; self.witnesses = witnesses; self.previous = previous
    }

    /// Scans and keeps every node (memory grows with the number of nodes: for tests).
    /// `scan`, `clean` and `sweep` use ``run(_:into:)``.
    public func run(_ targets: [NodeTarget]) async -> ScanResult {
        var kept = KeptScans(count: targets.count)
        let summary = await run(targets, into: &kept)
        return ScanResult(nodes: kept.nodes, summary: summary)
    }

    /// Scans, handing each finished node to `sink` and keeping only counters, so memory
    /// grows with `options.forks`, not with the number of targets.
    public func run<Sink: ScanSink>(_ targets: [NodeTarget], into sink: inout Sink) async -> ScanSummary {
        let clock = ContinuousClock()
        let start = clock.now
        events(.started(total: targets.count))
        var summary = ScanSummary()
        var progress = ScanProgress(done: 0, total: targets.count, failed: 0, residualNodes: 0, elapsed: .zero)

        await withTaskGroup(of: (Int, NodeScan, String?).self) { group in
            var next = 0
            func launch() {
                guard next < targets.count else { return }
                let index = next, target = targets[index]
                next += 1
                group.addTask {
                    var scan = await scanNode(target)
                    var storeError: String?
                    do { try await record(scan) } catch { storeError = "\(target.name): could not store results: \(error)" }
                    scan.outputs = []
                    return (index, scan, storeError)
                }
            }
            for _ in 0..<min(options.forks, targets.count) { launch() }
            while let (index, scan, storeError) = await group.next() {
                summary.add(scan)
                progress.done = summary.nodes
                progress.failed = summary.nodesFailed
                progress.residualNodes = summary.nodesWithResidualMaps
                progress.elapsed = clock.now - start
                if let storeError {
                    summary.addStoreError(storeError)
                    events(.storeFailed(node: scan.node, message: storeError))
                }
                sink.add(scan, at: index)
                events(.nodeFinished(scan, progress))
                launch()
            }
        }
        progress.elapsed = clock.now - start
        summary.elapsed = progress.elapsed
        events(.finished(progress))
        return summary
    }

    /// One node, start to end, never longer than ``ScanOptions/nodeDeadline``.
    public func scanNode(_ target: NodeTarget) async -> NodeScan {
        let clock = ContinuousClock()
        let t0 = clock.now
        let startedAt = now()
        let address = target.port == 22 ? target.host : "\(target.host):\(target.port)"
        let executor = self.executor, discovery = options.discovery
        let witness = witnesses.input(for: target.name)
        let (previous, unreadable): (PreviousNodeState?, String?) = {
            guard !options.fullDiscovery, let read = self.previous else { return (nil, nil) }
            do { return (try read(target.name), nil) } catch { return (nil, "cannot read the last scan from the history: \(error)") }
        }()
        let full = options.fullDiscovery || self.previous == nil || unreadable != nil
        let fullAfter = options.fullAfter
        let deadline = options.nodeDeadline(for: target)
        let outcome: Result<NodeDiscovery, NodeFailure> = await withDeadline(deadline) {
            do {
                let found = try await executor.withSession(to: target) { session in
                    try await Discovery.run(on: session, node: target.name, options: discovery, witnesses: witness,
                                            previous: previous, full: full, fullAfter: fullAfter, now: startedAt)
                }
                return .success(found)
            } catch let f as NodeFailure {
                return .failure(f)
            } catch {
                return .failure(NodeFailure(.protocolError, "\(target.name): \(error)"))
            }
        } onTimeout: {
            .failure(NodeFailure(.commandTimeout, "\(target.name): no result within the node deadline of \(deadline)"))
        }
        let duration = clock.now - t0
        switch outcome {
        case .success(let d):
            var scan = NodeScan(node: target.name, address: address, status: d.status, error: d.error, startedAt: startedAt,
                                duration: duration, outputs: d.outputs, findings: d.findings, warnings: d.warnings)
            scan.phase = d.phase; scan.phaseNote = unreadable ?? d.phaseNote; scan.carried = d.carried
            return scan
        case .failure(let f):
            let message = f.message.hasPrefix(target.name) ? f.message : "\(target.name): \(f.message)"
            return NodeScan(node: target.name, address: address, status: f.status, error: message,
                            startedAt: startedAt, duration: duration)
        }
    }
}

/// Runs `operation`, but returns `onTimeout()` once `limit` passes, whether or not the
/// operation honours cancellation (it is cancelled, and whatever it returns later is
/// dropped). A transport that ignores cancellation can therefore hold a thread, but never
/// the run.
///
/// The deadline is a Dispatch timer, not a sleeping Task: a cancelled `Task.sleep` stays
/// registered with the executor until its original deadline and keeps its task (and, through
/// the boxes, the operation's task) alive that long — with a node deadline of minutes, ~0.9 KB
/// for every node of the run. A cancelled timer source is released at once.
func withDeadline<T: Sendable>(
    _ limit: Duration, _ operation: @escaping @Sendable () async -> T, onTimeout: @escaping @Sendable () -> T
) async -> T {
    let once = OnceFlag()
    let work = TaskBox()
    let timer = DeadlineTimer()
    return await withTaskCancellationHandler {
        await withCheckedContinuation { (cont: CheckedContinuation<T, Never>) in
            timer.start(after: limit) {
                // Decide on the cooperative pool, like the work itself: when something else
                // starves the pool (a blocking caller, a loaded test host), a node whose result
                // is already queued behind it must not be reported as timed out.
                Task {
                    if once.claim() { work.cancel(); cont.resume(returning: onTimeout()) }
                }
            }
            work.set(Task {
                let value = await operation()
                if once.claim() { timer.cancel(); cont.resume(returning: value) }
            })
        }
    } onCancel: {
        work.cancel()
    }
}

/// One shared queue for every node's deadline timer (the handlers only resume a continuation).
private let deadlineQueue = DispatchQueue(label: "fleet-node-deadlines")

/// A one-shot timer on ``deadlineQueue``.
final class DeadlineTimer: @unchecked Sendable {
    // @unchecked: DispatchSource's schedule/resume/cancel are thread-safe; `source` is set in
    // `start` (before anything can call `cancel`) and never changed.
    private let source = DispatchSource.makeTimerSource(queue: deadlineQueue)

    func start(after limit: Duration, _ fire: @escaping @Sendable () -> Void) {
        let c = limit.components
        let ns = c.seconds >= Int64.max / 1_000_000_000 - 1 ? Int.max : Int(c.seconds) * 1_000_000_000 + Int(c.attoseconds / 1_000_000_000)
        let source = self.source
        source.setEventHandler {
            fire()
            // Cancelling drops the handler (and what it captures) at once.
            source.cancel()
        }
        source.schedule(deadline: .now() + .nanoseconds(max(0, ns)))
        source.resume()
    }

    func cancel() { source.cancel() }
}

/// Set once; `claim()` is true for exactly one caller.
final class OnceFlag: @unchecked Sendable {
    // @unchecked: `done` is only touched under `lock`.
    private let lock = NSLock()
    private var done = false
    func claim() -> Bool { lock.withLock { if done { return false }; done = true; return true } }
}

/// A task handle that may be cancelled before it is set (then it is cancelled on set).
/// Cancelling also lets go of the handle.
final class TaskBox: @unchecked Sendable {
    // @unchecked: state only touched under `lock`.
    private let lock = NSLock()
    private var task: Task<Void, Never>?
    private var cancelled = false
    func set(_ t: Task<Void, Never>) {
        let cancelNow = lock.withLock { if !cancelled { task = t }; return cancelled }
        if cancelNow { t.cancel() }
    }
    func cancel() {
        let t = lock.withLock { cancelled = true; let t = task; task = nil; return t }
        t?.cancel()
    }
}
