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

/// A clean run's result: every selected node in inventory order.
public struct CleanRunReport: Sendable, Codable {
    public var run: Int64
    public var execute: Bool
    public var fromRun: Int64?
    public var confirmAfterSeconds: Int64
    public var nodes: [NodeCleanResult]
    public var end: RolloutEnd
    /// Nodes with work that never started (stopped by --max-failures or a signal).
    public var notStarted: [String]
    public var exitCode: Int32
    /// Set when Kubernetes was to be asked and could not be: nothing was cleaned.
    public var kubernetesUnavailable: String?
    /// What answered (`context … cluster … server …`), when the API was asked and answered.
    public var kubernetesSource: String?

    public var mapsCleaned: Int { nodes.reduce(0) { $0 + $1.maps.filter { $0.outcome == .cleaned }.count } }
    public var mapsFailed: Int { nodes.reduce(0) { $0 + $1.maps.filter { $0.outcome == .failed }.count } }
    public var mapsAborted: Int { nodes.reduce(0) { $0 + $1.maps.filter { $0.outcome == .aborted }.count } }
    public var mapsPlanned: Int { nodes.reduce(0) { $0 + $1.maps.filter { $0.outcome == .planned }.count } }
    public var mapsLeft: Int { nodes.reduce(0) { $0 + $1.left.count } }
    public var mapsWaiting: Int {
        nodes.reduce(0) { $0 + $1.left.filter { $0.reasons.contains { $0.key == "waiting-for-confirmation" } }.count }
    }
    public var failedNodes: [String] { nodes.filter(\.failed).map(\.node) }

    /// The run's status in the one exit-status table (docs/clean.md, README).
    public var exit: ExitStatus { ExitStatus(rawValue: exitCode) ?? .cleanupsFailed }

    static func exitCode(end: RolloutEnd, nodes: [NodeCleanResult]) -> Int32 {
        let status: ExitStatus = switch end {
        case .maxFailures: .maxFailures
        case .interrupted: .interrupted
        case .completed: nodes.contains(where: \.failed) ? .cleanupsFailed : .ok
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
    public func run(nodes: [InventoryNode], run: Int64) async throws -> CleanRunReport {
        let k8s = KubernetesWitness.ask(options.kubernetes, nodes: nodes, fetch: kubernetesFetch)
        try? KubernetesWitness.record(k8s, run: run, in: database)
        let witnesses = k8s.witnesses
        var scans: [String: NodeScan] = [:]
        if let from = options.fromRun {
            for var s in try database.nodeScans(run: from) {
                // The recorded findings, re-judged by what Kubernetes says now.
                if witnesses.kubernetes != nil {
                    Witnesses.apply(&s.findings, snapshot: NodeSnapshot(outputs: []),
                                    kubernetes: witnesses.input(for: s.node).kubernetes, rules: witnesses.rules)
                }
                scans[s.node] = s
            }
        } else {
            for s in await scan(nodes, run: run, witnesses: witnesses) { scans[s.node] = s }
        }
        let gate = k8s.gate
        var plans = try nodes.map { try plan($0, scan: scans[$0.name], run: run, kubernetes: gate) }

        // --wait: sleep until the latest confirmation time, re-scan the waiting nodes, re-plan.
        var rounds = 0
        let deadline = now().addingTimeInterval(options.maxWait.timeInterval)
        while options.wait, rounds < 3, !(stop?.isTriggered ?? false) {
            let waiting = plans.indices.filter { plans[$0].waitingUntil != nil }
            guard let until = waiting.compactMap({ plans[$0].waitingUntil }).max(), until <= deadline else { break }
            rounds += 1
            events(.waiting(until: until, maps: waiting.reduce(0) { n, i in
                n + plans[i].left.filter { $0.reasons.contains { $0.key == "waiting-for-confirmation" } }.count }))
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
            let rescanned = await scan(waiting.map { nodes[$0] }, run: run, witnesses: witnesses)
            for s in rescanned {
                guard let i = nodes.firstIndex(where: { $0.name == s.node }) else { continue }
                plans[i] = try plan(nodes[i], scan: s, run: run, kubernetes: gate)
            }
        }

        if case .unavailable(let why) = gate {
            // Fail closed: no session is opened to act, not even to close an earlier run's rows.
            let results = plans.map { p in
                NodeCleanResult(node: p.node, address: Self.address(p.target), status: p.scanError == nil ? .ok : (p.scanStatus == .ok ? .nodeError : p.scanStatus),
                                error: p.scanError, left: p.left)
            }
            return CleanRunReport(run: run, execute: options.execute, fromRun: options.fromRun,
                                  confirmAfterSeconds: options.confirmAfter.components.seconds, nodes: results, end: .completed,
                                  notStarted: [], exitCode: ExitStatus.kubernetesUnavailable.rawValue,
                                  kubernetesUnavailable: why)
        }
        guard options.execute else {
            let results = plans.map { p in
                NodeCleanResult(node: p.node, address: Self.address(p.target), status: p.scanError == nil ? .ok : (p.scanStatus == .ok ? .nodeError : p.scanStatus),
                                error: p.scanError, maps: p.cleanups.map { MapCleanResult(cleanup: $0, outcome: .planned) },
                                left: p.left)
            }
            let end: RolloutEnd = (stop?.isTriggered ?? false) ? .interrupted : .completed
            return CleanRunReport(run: run, execute: false, fromRun: options.fromRun,
                                  confirmAfterSeconds: options.confirmAfter.components.seconds, nodes: results, end: end,
                                  notStarted: [], exitCode: CleanRunReport.exitCode(end: end, nodes: results),
                                  kubernetesSource: k8s.source)
        }

        // Execute: only nodes with work go through the scheduler; the rest are reported as planned.
        var results: [NodeCleanResult?] = plans.map { p in
            p.hasWork ? nil : NodeCleanResult(node: p.node, address: Self.address(p.target),
                                              status: p.scanError == nil ? .ok : (p.scanStatus == .ok ? .nodeError : p.scanStatus), error: p.scanError, left: p.left)
        }
        let work = plans.indices.filter { plans[$0].hasWork }
        let cleaner = NodeCleaner(executor: executor, audit: DatabaseCleanAudit(database: database, run: run),
                                  options: options.cleaner)
        let collected = ResultBox()
        let workPlans = work.map { plans[$0] }
        let events = self.events
        let outcome = await RolloutRunner.run(count: work.count, policy: options.policy, time: time, stop: stop) { i, batch in
            events(.nodeStarted(node: workPlans[i].node, batch: batch))
            var r = await cleaner.clean(workPlans[i])
            r.batch = batch
            collected.set(i, r)
            events(.nodeFinished(r))
            return r.failed
        }
        if outcome.end != .completed { events(.stopping(outcome.end)) }
        for (k, i) in work.enumerated() {
            if let r = collected.get(k) { results[i] = r; continue }
            let p = plans[i]
            results[i] = NodeCleanResult(node: p.node, address: Self.address(p.target), status: .ok, error: nil,
                                         maps: p.cleanups.map { MapCleanResult(cleanup: $0, outcome: .planned, reason: "not started: run stopped (\(outcome.end.rawValue))") },
                                         left: p.left)
        }
        let final = results.map { $0! }
        return CleanRunReport(run: run, execute: true, fromRun: options.fromRun,
                              confirmAfterSeconds: options.confirmAfter.components.seconds, nodes: final, end: outcome.end,
                              notStarted: outcome.notStarted.map { workPlans[$0].node },
                              exitCode: CleanRunReport.exitCode(end: outcome.end, nodes: final),
                              kubernetesSource: k8s.source)
    }

    func scan(_ nodes: [InventoryNode], run: Int64, witnesses: RunWitnesses) async -> [NodeScan] {
        events(.scanning(nodes: nodes.count))
        let db = database, events = self.events
        let scanner = ScanRun(executor: executor, options: options.scan,
                              record: { s in _ = try db.recordNode(run: run, s) },
                              events: { if case .nodeFinished(let s, _) = $0 { events(.scanned(s)) } }, now: now,
                              witnesses: witnesses)
        return await scanner.run(nodes.map(\.target)).nodes
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

/// Node results written from the rollout's tasks.
final class ResultBox: @unchecked Sendable {
    // @unchecked: `results` is only touched under `lock`.
    private let lock = NSLock()
    private var results: [Int: NodeCleanResult] = [:]
    func set(_ i: Int, _ r: NodeCleanResult) { lock.withLock { results[i] = r } }
    func get(_ i: Int) -> NodeCleanResult? { lock.withLock { results[i] } }
}
