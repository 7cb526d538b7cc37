import Foundation
import FleetInventory
import FleetModel
import FleetStore

/// Everything `fleet clean` (and `fleet sweep --clean`) can set.
public struct CleanOptions: Sendable, Hashable {
    /// A map must be seen all-failed in two observations at least this far apart.
    public var confirmAfter: Duration
    /// Wait for maps still waiting for confirmation, re-scan them, then act.
    public var wait: Bool
    /// Longest `--wait` fleet accepts before giving up on waiting maps.
    public var maxWait: Duration
    /// false: dry run (print the plan, touch nothing).
    public var execute: Bool
    public var policy: RolloutPolicy
    /// Plan from this recorded run instead of scanning now.
    public var fromRun: Int64?
    public var scan: ScanOptions
    public var cleaner: NodeCleaner.Options
    /// How to ask Kubernetes; nil: `--no-kubernetes` (the API is no witness).
    public var kubernetes: KubernetesSettings?

    public init(confirmAfter: Duration = .seconds(300), wait: Bool = false, maxWait: Duration = .seconds(3600),
                execute: Bool = false, policy: RolloutPolicy = RolloutPolicy(), fromRun: Int64? = nil,
                scan: ScanOptions = ScanOptions(), cleaner: NodeCleaner.Options = NodeCleaner.Options(),
                kubernetes: KubernetesSettings? = nil) {
        self.confirmAfter = confirmAfter; self.wait = wait; self.maxWait = maxWait; self.execute = execute
        self.policy = policy; self.fromRun = fromRun; self.scan = scan; self.cleaner = cleaner
        self.kubernetes = kubernetes
    }
}

/// Progress of a clean run, for the CLI to render.
public enum CleanEvent: Sendable {
    case scanning(nodes: Int)
    case scanned(NodeScan)
    case waiting(until: Date, maps: Int)
    case nodeStarted(node: String, batch: Int)
    case nodeFinished(NodeCleanResult)
    case stopping(RolloutEnd)
}

/// A clean run's outcome without its nodes: the run, how it ended and the counters over every
/// node. Each node's own result went to the run's ``CleanSink`` as it was final (and every
/// command is in the history's audit), so memory does not grow with the number of nodes.
public struct CleanRunReport: Sendable {
    public var run: Int64
    public var execute: Bool
    public var fromRun: Int64?
    public var confirmAfterSeconds: Int64
    public var summary: CleanSummary
    public var end: RolloutEnd
    /// Nodes with work that never started (stopped by --max-failures or a signal).
    public var notStarted: [String]
    public var exitCode: Int32
    /// Set when Kubernetes was to be asked and could not be: nothing was cleaned.
    public var kubernetesUnavailable: String?
    /// What answered (`context … cluster … server …`), when the API was asked and answered.
    public var kubernetesSource: String?

    public init(run: Int64, execute: Bool, fromRun: Int64?, confirmAfterSeconds: Int64, summary: CleanSummary,
                end: RolloutEnd, notStarted: [String], exitCode: Int32, kubernetesUnavailable: String? = nil,
                kubernetesSource: String? = nil) {
        self.run = run; self.execute = execute; self.fromRun = fromRun; self.confirmAfterSeconds = confirmAfterSeconds
        self.summary = summary; self.end = end; self.notStarted = notStarted; self.exitCode = exitCode
        self.kubernetesUnavailable = kubernetesUnavailable; self.kubernetesSource = kubernetesSource
    }

    public var mapsCleaned: Int { summary.mapsCleaned }
    public var mapsFailed: Int { summary.mapsFailed }
    public var mapsAborted: Int { summary.mapsAborted }
    public var mapsPlanned: Int { summary.mapsPlanned }
    public var mapsLeft: Int { summary.mapsLeft }
    public var mapsWaiting: Int { summary.mapsWaiting }

    /// The run's status in the one exit-status table (docs/clean.md, README).
    public var exit: ExitStatus { ExitStatus(rawValue: exitCode) ?? .cleanupsFailed }

    public static func exitCode(end: RolloutEnd, summary: CleanSummary) -> Int32 {
        let status: ExitStatus = switch end {
        case .maxFailures: .maxFailures
        case .interrupted: .interrupted
        case .completed: summary.nodesFailed > 0 ? .cleanupsFailed : .ok
        }
        return status.rawValue
    }
}

/// Scan (or load a recorded scan), plan, wait for confirmation if asked, then clean node
/// by node through the rollout scheduler, recording everything in the history.
public struct CleanRun: Sendable {
    public var executor: any RemoteExecutor
    public var database: FleetDatabase
    public var options: CleanOptions
    /// The rollout's and `--wait`'s time (a test can pass a fake one).
    public var time: RolloutTime
    public var now: @Sendable () -> Date
    public var stop: RolloutStopSignal?
    public var events: @Sendable (CleanEvent) -> Void
    /// How the API is asked (kubectl; a test may pass a stand-in that fails loudly).
    public var kubernetesFetch: @Sendable (KubernetesSettings) -> Result<KubernetesAnswer, KubernetesUnavailable>

    public init(executor: any RemoteExecutor, database: FleetDatabase, options: CleanOptions,
                time: RolloutTime = RolloutTime(ContinuousClock()), now: @escaping @Sendable () -> Date = { Date() },
                stop: RolloutStopSignal? = nil, events: @escaping @Sendable (CleanEvent) -> Void = { _ in },
                kubernetesFetch: @escaping @Sendable (KubernetesSettings) -> Result<KubernetesAnswer, KubernetesUnavailable> = Kubectl.fetch) {
        self.executor = executor; self.database = database; self.options = options; self.time = time
        self.now = now; self.stop = stop; self.events = events; self.kubernetesFetch = kubernetesFetch
    }

    /// Runs the whole clean as run `run` (a `clean` row the caller began with
    /// ``FleetDatabase/beginRun(kind:inventory:options:version:startedAt:)``). Fresh scans
    /// are recorded under that run too, so `fleet history run ID` shows what was seen and done.
    ///
    /// Memory does not grow with the number of nodes: every scan is in the history (this
    /// run's or `--from-run`'s) and each node is planned from it when needed, one at a time;
    /// each node's result goes to `sink` once final and only counters stay. The price is
    /// planning a node with work twice: once to know it has work, again right before it
    /// starts (from the same scan, with the history as it is then).
    public func run<Sink: CleanSink>(nodes: [InventoryNode], run: Int64, into sink: inout Sink) async throws -> CleanRunReport {
        let k8s = KubernetesWitness.ask(options.kubernetes, nodes: nodes, fetch: kubernetesFetch)
        try? KubernetesWitness.record(k8s, run: run, in: database)
        let witnesses = k8s.witnesses
        let source = ScanSource(database: database, run: run, fromRun: options.fromRun, witnesses: witnesses)
        if options.fromRun == nil {
            var dropped = DroppedScans()
            source.unstored = await scan(nodes, run: run, witnesses: witnesses, into: &dropped)
        }
        let gate = k8s.gate
        func plan(_ i: Int) throws -> NodeCleanPlan {
            try self.plan(nodes[i], scan: try source.scan(nodes[i].name), run: run, kubernetes: gate)
        }

        // --wait: sleep until the latest confirmation time, re-scan the waiting nodes, re-plan.
        // Only the waiting nodes' indices are kept between rounds.
        if options.wait {
            /// Which of `indices` still wait, until when at the latest, and how many maps.
            func waitingAmong(_ indices: some Sequence<Int>) throws -> (nodes: [Int], until: Date?, maps: Int) {
                var out: (nodes: [Int], until: Date?, maps: Int) = ([], nil, 0)
                for i in indices {
                    let p = try plan(i)
                    guard let u = p.waitingUntil else { continue }
                    out.nodes.append(i)
                    out.until = max(out.until ?? u, u)
                    out.maps += p.left.filter { $0.reasons.contains { $0.key == "waiting-for-confirmation" } }.count
                }
                return out
            }
            var waiting = try waitingAmong(nodes.indices)
            var rounds = 0
            let deadline = now().addingTimeInterval(options.maxWait.timeInterval)
            while rounds < 3, !(stop?.isTriggered ?? false), let until = waiting.until, until <= deadline {
                rounds += 1
                events(.waiting(until: until, maps: waiting.maps))
                let delay = until.timeIntervalSince(now())
                if delay > 0 {
                    let stopWait = stop
                    await withTaskGroup(of: Void.self) { g in
                        let wakeAt = time.elapsed() + .milliseconds(Int64(delay * 1000) + 50)
                        g.addTask { [time] in await time.sleepUntil(wakeAt) }
                        if let stopWait { g.addTask { await stopWait.wait() } }
                        await g.next()
                        g.cancelAll()
                    }
                }
                if stop?.isTriggered ?? false { break }
                // From now on these nodes plan from the new scan. It is kept in memory: the
                // history holds one scan per node and run, so it cannot be recorded (the
                // record fails; as before, that does not stop the clean).
                var rescanned = KeptScans(count: waiting.nodes.count)
                _ = await scan(waiting.nodes.map { nodes[$0] }, run: run, witnesses: witnesses, into: &rescanned)
                for s in rescanned.nodes { source.rescans[s.node] = s }
                waiting = try waitingAmong(waiting.nodes)
            }
        }

        var summary = CleanSummary()
        func emit(_ r: NodeCleanResult, _ i: Int) {
            summary.add(r)
            sink.add(r, at: i)
        }
        let confirmAfterSeconds = options.confirmAfter.components.seconds
        if case .unavailable(let why) = gate {
            // Fail closed: no session is opened to act, not even to close an earlier run's rows.
            for i in nodes.indices {
                let p = try plan(i)
                emit(NodeCleanResult(node: p.node, address: Self.address(p.target), status: Self.status(p), error: p.scanError,
                                     left: p.left), i)
            }
            return CleanRunReport(run: run, execute: options.execute, fromRun: options.fromRun,
                                  confirmAfterSeconds: confirmAfterSeconds, summary: summary, end: .completed,
                                  notStarted: [], exitCode: ExitStatus.kubernetesUnavailable.rawValue,
                                  kubernetesUnavailable: why)
        }
        guard options.execute else {
            for i in nodes.indices {
                let p = try plan(i)
                emit(NodeCleanResult(node: p.node, address: Self.address(p.target), status: Self.status(p), error: p.scanError,
                                     maps: p.cleanups.map { MapCleanResult(cleanup: $0, outcome: .planned) }, left: p.left), i)
            }
            let end: RolloutEnd = (stop?.isTriggered ?? false) ? .interrupted : .completed
            return CleanRunReport(run: run, execute: false, fromRun: options.fromRun,
                                  confirmAfterSeconds: confirmAfterSeconds, summary: summary, end: end,
                                  notStarted: [], exitCode: CleanRunReport.exitCode(end: end, summary: summary),
                                  kubernetesSource: k8s.source)
        }

        // Execute: only nodes with work go through the scheduler; the rest are final now.
        var work: [Int] = []
        for i in nodes.indices {
            let p = try plan(i)
            if p.hasWork { work.append(i); continue }
            emit(NodeCleanResult(node: p.node, address: Self.address(p.target), status: Self.status(p), error: p.scanError,
                                 left: p.left), i)
        }
        let cleaner = NodeCleaner(executor: executor, audit: DatabaseCleanAudit(database: database, run: run),
                                  options: options.cleaner)
        let events = self.events, planner = self
        let workNodes = work.map { nodes[$0] }
        let outcome = await RolloutRunner.run(count: work.count, policy: options.policy, time: time, stop: stop, work: { k, batch in
            events(.nodeStarted(node: workNodes[k].name, batch: batch))
            var r: NodeCleanResult
            do {
                // Planned again right before it starts (the first plan was not kept).
                let p = try planner.plan(workNodes[k], scan: try source.scan(workNodes[k].name), run: run, kubernetes: gate)
                r = await cleaner.clean(p)
            } catch {
                r = NodeCleanResult(node: workNodes[k].name, address: Self.address(workNodes[k].target), status: .nodeError,
                                    error: "\(workNodes[k].name): could not plan from the history: \(error)")
            }
            r.batch = batch
            events(.nodeFinished(r))
            return r
        }, failed: \.failed, finished: { k, r in emit(r, work[k]) })
        if outcome.end != .completed { events(.stopping(outcome.end)) }
        for k in outcome.notStarted {
            let p = try plan(work[k])
            emit(NodeCleanResult(node: p.node, address: Self.address(p.target), status: .ok, error: nil,
                                 maps: p.cleanups.map { MapCleanResult(cleanup: $0, outcome: .planned, reason: "not started: run stopped (\(outcome.end.rawValue))") },
                                 left: p.left), work[k])
        }
        return CleanRunReport(run: run, execute: true, fromRun: options.fromRun,
                              confirmAfterSeconds: confirmAfterSeconds, summary: summary, end: outcome.end,
                              notStarted: outcome.notStarted.sorted().map { workNodes[$0].name },
                              exitCode: CleanRunReport.exitCode(end: outcome.end, summary: summary),
                              kubernetesSource: k8s.source)
    }

    /// A node result's status from its plan: a node that could not be scanned keeps its scan status.
    static func status(_ p: NodeCleanPlan) -> NodeStatus {
        p.scanError == nil ? .ok : (p.scanStatus == .ok ? .nodeError : p.scanStatus)
    }

    /// Scans `nodes`, recording each under `run` and handing it to `sink` as it finishes.
    /// Returns the nodes whose scan could not be recorded, with why (a fresh scan's are not
    /// cleaned: they cannot be planned from the history).
    func scan<Sink: ScanSink>(_ nodes: [InventoryNode], run: Int64, witnesses: RunWitnesses, into sink: inout Sink) async -> [String: String] {
        events(.scanning(nodes: nodes.count))
        let db = database, events = self.events
        let unstored = UnstoredScans()
        let scanner = ScanRun(executor: executor, options: options.scan,
                              record: { s in _ = try db.recordNode(run: run, s) },
                              events: {
                                  switch $0 {
                                  case .nodeFinished(let s, _): events(.scanned(s))
                                  case .storeFailed(let node, let message): unstored.add(node, message)
                                  case .started, .finished: break
                                  }
                              }, now: now, witnesses: witnesses)
        _ = await scanner.run(nodes.map(\.target), into: &sink)
        return unstored.all
    }

    /// One node's plan from its scan, the history's observations and unfinished actions.
    func plan(_ node: InventoryNode, scan: NodeScan?, run: Int64, kubernetes: CleanPlanner.KubernetesGate) throws -> NodeCleanPlan {
        guard let scan else {
            return NodeCleanPlan(node: node.name, target: node.target, scannedAt: now(),
                                 scanError: options.fromRun.map { "not in run \($0)" } ?? "not scanned", protect: node.protect)
        }
        var observations: [String: [Date]] = [:]
        let cleanable = scan.findings.filter { $0.verdict.isCleanable }.compactMap(\.map.wwid)
        if !cleanable.isEmpty {
            let timeline = try database.nodeTimeline(node: node.name, limit: 200)
            for w in cleanable {
                observations[w] = try database.allFailedObservations(node: node.name, wwid: w,
                                                                     since: Self.streakStart(wwid: w, timeline: timeline))
            }
        }
        let unfinished = try database.unfinishedActions(node: node.name).filter { $0.runID != run }.map {
            UnfinishedAction(id: $0.id, runID: $0.runID, wwid: $0.wwid, mapName: $0.mapName, dm: $0.dm,
                             command: $0.command, kind: ActionKind(rawValue: $0.kind), started: $0.outcome == .started)
        }
        return CleanPlanner.plan(scan: scan, target: node.target, protect: node.protect, observations: observations,
                                 confirmAfter: options.confirmAfter, unfinished: unfinished, kubernetes: kubernetes)
    }

    /// The start of the map's current all-failed streak: observations before the latest
    /// scan that saw the node without this map all-failed do not count (a path that
    /// flapped back resets the clock). nil: the whole history is one streak.
    static func streakStart(wwid: String, timeline: [TimelineEntry]) -> Date? {
        // Newest first.
        for e in timeline where e.status == .ok {
            let m = e.maps.first { $0.wwid == wwid }
            if m == nil || m?.allFailed == false { return e.startedAt.addingTimeInterval(0.001) }
        }
        return timeline.count >= 200 ? timeline.last?.startedAt : nil
    }

    static func address(_ t: NodeTarget) -> String { t.port == 22 ? t.host : "\(t.host):\(t.port)" }
}

/// Where a clean's nodes were scanned: `--wait`'s re-scans (kept), this run's own fresh scan,
/// then `--from-run`'s, re-judged by what Kubernetes says now; read from the history one node
/// at a time. Besides the re-scans, only nodes whose fresh scan could not be recorded are
/// kept, with why.
final class ScanSource: @unchecked Sendable {
    // @unchecked: `unstored` and `rescans` are set only before the rollout starts (by the run's own task)
    // and read after; node tasks only read it.
    let database: FleetDatabase
    let run: Int64
    let fromRun: Int64?
    let witnesses: RunWitnesses
    var unstored: [String: String] = [:]
    /// `--wait`'s re-scans of the nodes still waiting (set like `unstored`).
    var rescans: [String: NodeScan] = [:]

    init(database: FleetDatabase, run: Int64, fromRun: Int64?, witnesses: RunWitnesses) {
        self.database = database; self.run = run; self.fromRun = fromRun; self.witnesses = witnesses
    }

    /// The node's scan, or nil when it has none (the plan says so); a scan that could not be
    /// recorded is a failed scan.
    func scan(_ node: String) throws -> NodeScan? {
        if let s = rescans[node] { return s }
        if let why = unstored[node] {
            return NodeScan(node: node, address: "", status: .nodeError, error: why, startedAt: Date(), duration: .zero)
        }
        // A sweep cleans from its own run (`fromRun == run`): those scans are re-judged too.
        if fromRun != run, let s = try database.nodeScan(run: run, node: node) { return s }
        guard let fromRun, var s = try database.nodeScan(run: fromRun, node: node) else { return nil }
        // The recorded findings, re-judged by what Kubernetes says now.
        if witnesses.kubernetes != nil {
            Witnesses.apply(&s.findings, snapshot: NodeSnapshot(outputs: []),
                            kubernetes: witnesses.input(for: s.node).kubernetes, rules: witnesses.rules)
        }
        return s
    }
}

/// Nodes whose scan could not be written to the history, from the scan's event callback.
final class UnstoredScans: @unchecked Sendable {
    // @unchecked: `nodes` is only touched under `lock`.
    private let lock = NSLock()
    private var nodes: [String: String] = [:]
    func add(_ node: String, _ message: String) { lock.withLock { nodes[node] = message } }
    var all: [String: String] { lock.withLock { nodes } }
}
