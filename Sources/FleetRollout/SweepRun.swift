import Foundation
import FleetInventory
import FleetModel
import FleetStore
import Logging

/// One unattended sweep (`fleet sweep`): the run lock, the inventory, the history run, the
/// scan, the clean when asked, the metrics file and the event log, in that order. The CLI
/// only turns options into a ``SweepRun`` and its ``ExitStatus`` into the process's exit.
public struct SweepRun: Sendable {
    public var inventory: String
    /// The inventory's nodes after the selection (`--limit`) and ssh_config; throws the
    /// event to log (a limit from a config file is wrong at its line there, so the caller
    /// words it).
    public var selectNodes: @Sendable () throws(SelectionError) -> [InventoryNode]
    public var dbPath: String
    public var lockPath: String
    public var metricsFile: String?
    public var clean: Bool
    public var scan: ScanOptions
    /// The clean's options for this sweep's run id (`--from-run <this run>`).
    public var cleanOptions: @Sendable (Int64) -> CleanOptions
    /// Sessions for the scan (false) and for the clean (true).
    public var makeExecutor: @Sendable (_ cleaning: Bool) -> any RemoteExecutor
    /// What the run row records as its options.
    public var recordedOptions: any Encodable & Sendable
    /// `--report`: the page written once the run is finished. A page that cannot be written
    /// is an event and leaves the exit status alone.
    public var report: ReportPage?
    public var version: String
    /// The --config file, named in the started event.
    public var configPath: String?
    public var log: Logger
    public var now: @Sendable () -> Date
    public var clock: any Clock<Duration>
    /// A test's stop signal; nil installs SIGINT/SIGTERM handlers for the clean.
    public var stop: RolloutStopSignal?
    /// How to ask Kubernetes before the scan (the clean asks again right before it plans);
    /// nil: `--no-kubernetes`.
    public var kubernetes: KubernetesSettings?

    public init(inventory: String, selectNodes: @escaping @Sendable () throws(SelectionError) -> [InventoryNode],
                dbPath: String, lockPath: String, metricsFile: String?, clean: Bool, scan: ScanOptions,
                cleanOptions: @escaping @Sendable (Int64) -> CleanOptions,
                makeExecutor: @escaping @Sendable (_ cleaning: Bool) -> any RemoteExecutor,
                recordedOptions: any Encodable & Sendable, report: ReportPage? = nil, version: String, configPath: String?, log: Logger,
                now: @escaping @Sendable () -> Date, clock: any Clock<Duration>, stop: RolloutStopSignal?) {
        self.inventory = inventory; self.selectNodes = selectNodes; self.dbPath = dbPath; self.lockPath = lockPath
        self.metricsFile = metricsFile; self.clean = clean; self.scan = scan; self.cleanOptions = cleanOptions
        self.makeExecutor = makeExecutor; self.recordedOptions = recordedOptions; self.report = report; self.version = version
        self.configPath = configPath; self.log = log; self.now = now; self.clock = clock; self.stop = stop
    }

    public func run() async -> ExitStatus {
        let log = self.log
        let time = Self.rolloutTime(clock)
        var metrics = SweepMetrics(startedAt: now())

        // 1. The lock, before anything else: an overlapping sweep must not even read the inventory.
        let held: SweepLock
        do {
            held = try SweepLock.acquire(path: lockPath, now: now())
        } catch {
            var fields: Logger.Metadata = ["lock": .string(lockPath), "message": .string(error.description)]
            if case .held(_, let pid?, _) = error { fields["holder_pid"] = .stringConvertible(pid) }
            log.error("sweep.locked", metadata: fields)
            return .locked
        }
        defer { held.release() }

        /// Ends the run: metrics (carrying the last success over a failed run), final event.
        func finish(_ code: ExitStatus, success: Bool) -> ExitStatus {
            metrics.duration = time.elapsed()
            metrics.exitCode = code.rawValue
            metrics.success = success
            if success {
                metrics.lastSuccess = now()
            } else if let metricsFile {
                metrics.lastSuccess = SweepMetrics.previousLastSuccess(path: metricsFile)
            }
            if let metricsFile {
                do {
                    try metrics.write(to: metricsFile)
                } catch {
                    log.error("metrics.failed", metadata: ["path": .string(metricsFile), "error": .string("\(error)")])
                }
            }
            let nodes = metrics.nodesByStatus.values.reduce(0, +)
            let failed = nodes - (metrics.nodesByStatus[.ok] ?? 0)
            var maps: [Verdict: Int] = [:]
            for counts in metrics.mapsByNode.values { for (v, n) in counts { maps[v, default: 0] += n } }
            let level: Logger.Level = switch code {
            case .ok: .info
            case .residual: .notice
            default: .error
            }
            log.log(level: level, "sweep.finished",
                    metadata: ["exit_code": .stringConvertible(code.rawValue), "nodes": .stringConvertible(nodes),
                               "not_scanned": .stringConvertible(failed),
                               "residual_maps": .stringConvertible((maps[.residual] ?? 0) + (maps[.residualHung] ?? 0)),
                               "cleaned": .stringConvertible(metrics.mapsCleaned),
                               "clean_failed": .stringConvertible(metrics.mapsCleanFailed),
                               "duration_s": .stringConvertible(metrics.duration)])
            return code
        }

        // 2. Inventory.
        let nodes: [InventoryNode]
        do {
            nodes = try selectNodes()
        } catch {
            log.error("\(error.event)", metadata: error.metadata)
            return finish(.badInput, success: false)
        }

        // 3. History. (Opening marks runs left `running` by a dead writer, e.g. a killed sweep, `interrupted`.)
        let db: FleetDatabase
        let run: Int64
        do {
            (db, run) = try FleetDatabase.beginRun(path: dbPath, kind: .sweep, inventory: inventory, options: recordedOptions,
                                                   version: version, startedAt: now())
        } catch {
            log.error("history.failed", metadata: ["db": .string(dbPath), "error": .string("\(error)")])
            return finish(.database, success: false)
        }
        var startedFields: Logger.Metadata = ["run": .stringConvertible(run), "inventory": .string(inventory),
                                              "nodes": .stringConvertible(nodes.count), "db": .string(dbPath),
                                              "clean": .stringConvertible(clean), "pid": .stringConvertible(getpid())]
        if let configPath { startedFields["config"] = .string(configPath) }
        log.info("sweep.started", metadata: startedFields)

        // 4. Kubernetes (asked again by the clean, right before it plans), then the scan.
        let k8s = KubernetesWitness.ask(kubernetes, nodes: nodes, now: now())
        if let f = k8s.failure {
            log.warning("kubernetes.unavailable", metadata: ["kind": .string(f.kind.rawValue), "error": .string(f.message)])
        }
        try? KubernetesWitness.record(k8s, run: run, in: db)
        let recorder = NodeRecorder(db: db, run: run)
        // Each node's last scan, for phase 1, read as its scan starts; a history that cannot
        // be read only costs speed (that node gets the full discovery, its phase note says why).
        let previous: @Sendable (String) throws -> PreviousNodeState? = { try db.previousState(node: $0) }
        let scanRun = ScanRun(executor: makeExecutor(false), options: scan,
                              record: { try await recorder.record($0) },
                              events: { Self.logScanEvent($0, log) }, now: now, witnesses: k8s.witnesses,
                              previous: previous)
        // Each node goes into the metrics as it finishes; the scan keeps only counters.
        let result = await scanRun.run(nodes.map(\.target), into: &metrics)
        let cleanable = result.cleanableMaps

        // 5. Clean, from the scans just recorded under this run.
        var report: CleanRunReport?
        var cleanFailed = false
        if clean, cleanable > 0, result.storeErrors.isEmpty {
            let stop = self.stop ?? {
                let s = RolloutStopSignal()
                s.installSignalHandlers { sig in
                    log.warning("sweep.signal", metadata: ["signal": .stringConvertible(sig),
                                                           "message": "starting no new node; waiting for in-flight nodes to finish"])
                }
                return s
            }()
            let cleaner = CleanRun(executor: makeExecutor(true), database: db, options: cleanOptions(run),
                                   time: Self.rolloutTime(clock), now: now, stop: stop, events: { Self.logCleanEvent($0, log) })
            do {
                // Each node is logged as its event; the report keeps only the counts.
                var dropped = DroppedCleans()
                report = try await cleaner.run(nodes: nodes, run: run, into: &dropped)
            } catch {
                log.error("clean.failed", metadata: ["error": .string("\(error)")])
                cleanFailed = true
            }
        }
        if let report {
            metrics.mapsCleaned = report.mapsCleaned
            metrics.mapsCleanFailed = report.mapsFailed
        }
        metrics.mapsSkipped = max(0, cleanable - metrics.mapsCleaned - metrics.mapsCleanFailed)

        let storeFailed = !result.storeErrors.isEmpty || cleanFailed
        let code = Self.exitStatus(scanStoreFailed: !result.storeErrors.isEmpty, cleanFailed: cleanFailed, clean: report?.exit,
                                   nodesFailed: result.nodesFailed, mapsLeft: metrics.mapsSkipped)
        let status = Self.runStatus(code, storeFailed: storeFailed, clean: report)
        do {
            try db.finishRun(run, status: status, exitCode: code.rawValue, endedAt: now())
        } catch {
            log.error("history.failed", metadata: ["db": .string(dbPath), "error": .string("\(error)")])
        }
        if let page = self.report {
            do {
                try page.write(db, page.path, now())
                log.info("report.written", metadata: ["path": .string(page.path), "run": .stringConvertible(run)])
            } catch {
                log.error("report.failed", metadata: ["path": .string(page.path), "error": .string("\(error)")])
            }
        }
        let success = result.storeErrors.isEmpty && !cleanFailed && result.nodesFailed == 0
            && metrics.mapsCleanFailed == 0 && (report.map { $0.exitCode == 0 } ?? true)
        return finish(code, success: success)
    }

    /// Why the nodes could not be selected: the event to log (`inventory.invalid`,
    /// `ssh_config.invalid`) and its fields. The sweep then exits as bad input (65).
    public struct SelectionError: Error, Sendable {
        public var event: String
        public var metadata: Logger.Metadata
        public init(event: String, metadata: Logger.Metadata) { self.event = event; self.metadata = metadata }
    }

    /// Where `--report` writes and how (the HTML page lives in FleetReport, which the
    /// rollout layer does not link).
    public struct ReportPage: Sendable {
        public var path: String
        public var write: @Sendable (FleetDatabase, _ path: String, _ now: Date) throws -> Void
        public init(path: String, write: @escaping @Sendable (FleetDatabase, _ path: String, _ now: Date) throws -> Void) {
            self.path = path; self.write = write
        }
    }

    /// The sweep's status: a history failure first, then the clean's own failure codes (3,
    /// 4, 5), then nodes not scanned, then residual maps left in place.
    public static func exitStatus(scanStoreFailed: Bool, cleanFailed: Bool, clean: ExitStatus?,
                                  nodesFailed: Int, mapsLeft: Int) -> ExitStatus {
        if scanStoreFailed || cleanFailed { return .database }
        if let clean, clean != .ok { return clean }
        if nodesFailed > 0 { return .notScanned }
        if mapsLeft > 0 { return .residual }
        return .ok
    }

    /// Opens the clock existential (elapsed time and sleeps from the context's clock).
    static func rolloutTime(_ clock: any Clock<Duration>) -> RolloutTime {
        func open<C: Clock<Duration>>(_ c: C) -> RolloutTime { RolloutTime(c) }
        return open(clock)
    }

    /// What the history's run row says about the run.
    static func runStatus(_ exit: ExitStatus, storeFailed: Bool, clean report: CleanRunReport?) -> RunStatus {
        if storeFailed { return .failed }
        if report?.end == .interrupted { return .interrupted }
        return exit == .ok || exit == .residual ? .ok : .partial
    }

    /// One line per cleaned node, one per map acted on, one per map it left alone (and why).
    static func logCleanEvent(_ event: CleanEvent, _ log: Logger) {
        switch event {
        case .scanning, .scanned:
            break
        case .waiting(let until, let maps):
            log.info("clean.waiting", metadata: ["until": .string(ISOTime.format(until)), "maps": .stringConvertible(maps)])
        case .nodeStarted(let node, let batch):
            log.info("node.cleaning", metadata: ["node": .string(node), "batch": .stringConvertible(batch)])
        case .nodeFinished(let r):
            var fields: Logger.Metadata = [
                "node": .string(r.node), "status": .string(r.status.rawValue), "batch": .stringConvertible(r.batch),
                "cleaned": .stringConvertible(r.maps.filter { $0.outcome == .cleaned }.count),
                "failed": .stringConvertible(r.maps.filter { $0.outcome == .failed }.count),
                "aborted": .stringConvertible(r.maps.filter { $0.outcome == .aborted }.count),
                "duration_ms": .stringConvertible(r.durationMS),
            ]
            if let e = r.error { fields["error"] = .string(e) }
            log.log(level: r.failed ? .error : .info, "node.cleaned", metadata: fields)
            for m in r.maps {
                var f: Logger.Metadata = ["node": .string(r.node), "map": .string(m.cleanup.name.rawValue),
                                          "wwid": .string(m.cleanup.wwid.rawValue), "dm": .string(m.cleanup.dm.rawValue),
                                          "disks": .array(m.cleanup.disks.map { .string($0.rawValue) }),
                                          "commands": .array(m.steps.map { .string("\($0.command): \($0.outcome.rawValue)") })]
                if let reason = m.reason { f["reason"] = .string(reason) }
                let (level, event): (Logger.Level, String) = switch m.outcome {
                case .cleaned: (.notice, "map.cleaned")
                case .failed: (.error, "map.clean-failed")
                case .aborted: (.warning, "map.aborted")
                case .planned: (.info, "map.planned")
                }
                log.log(level: level, "\(event)", metadata: f)
            }
            for l in r.left where l.verdict != .healthy && l.verdict != .degraded {
                var f: Logger.Metadata = ["node": .string(r.node), "verdict": .string(l.verdict.rawValue),
                                          "reasons": .array(l.reasons.map { .string($0.description) })]
                if let v = l.name { f["map"] = .string(v) }
                if let v = l.wwid { f["wwid"] = .string(v) }
                log.info("map.left", metadata: f)
            }
        case .stopping(let end):
            log.warning("clean.stopping", metadata: ["reason": .string(end.rawValue)])
        }
    }

    /// One line per finished node, plus one per map that is not healthy, with the reasons.
    static func logScanEvent(_ event: ScanEvent, _ log: Logger) {
        switch event {
        case .started, .finished:
            break
        case .storeFailed(let node, let message):
            log.error("history.failed", metadata: ["node": .string(node), "error": .string(message)])
        case .nodeFinished(let n, _):
            var fields: Logger.Metadata = [
                "node": .string(n.node), "address": .string(n.address), "status": .string(n.status.rawValue),
                "maps": .stringConvertible(n.findings.count),
                "residual": .stringConvertible(n.findings.filter { $0.verdict.isCleanable }.count),
                "duration_s": .stringConvertible(n.duration),
            ]
            if let e = n.error { fields["error"] = .string(e) }
            log.log(level: n.status == .ok ? .info : .warning, "node.scanned", metadata: fields)
            for f in n.findings where f.verdict != .healthy {
                var m: Logger.Metadata = ["node": .string(n.node), "verdict": .string(f.verdict.rawValue),
                                          "reasons": .array(f.reasons.map { .string($0) })]
                if let v = f.map.name { m["map"] = .string(v) }
                if let v = f.map.wwid { m["wwid"] = .string(v) }
                if let v = f.map.dm { m["dm"] = .string(v) }
                log.log(level: f.verdict.isCleanable ? .notice : .info, "map.found", metadata: m)
            }
        }
    }
}
