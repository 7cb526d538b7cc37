import ArgumentParser
import Foundation
import FleetInventory
import FleetModel
import FleetReport
import FleetRollout
import FleetSSH
import FleetStore
import Logging

struct Sweep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Unattended scan (and, with --clean, clean) for cron and systemd timers.",
        discussion: """
        Takes a lock first (flock on <db>.lock, or --lock), so two sweeps never overlap \
        on one history: a sweep that finds the lock held exits at once with status 75 \
        and names the holder's pid. Then scans every selected node and records it, like \
        `fleet scan`. Never prompts. Writes one line per event on stderr (--log-format \
        text or json) and nothing on stdout; with --metrics-file, a Prometheus textfile \
        for node_exporter; with --report, the HTML page of `fleet report` (last 30 days), \
        replaced atomically after each sweep.

          $ fleet sweep --inventory /etc/fleet/nodes.yaml \\
              --metrics-file /var/lib/prometheus/node-exporter/fleet.prom
          $ fleet sweep --inventory nodes.yaml --log-format json 2>&1 \\
              | jq -c 'select(.event=="map.found")'

        With --clean, the maps the scan found residual are then cleaned as by `fleet \
        clean --execute --from-run <this run>`: same checks (a map must have been seen \
        all-failed twice, --confirm-after apart, so an hourly sweep cleans a map on the \
        run after the one that first saw it), same pacing options, everything recorded \
        under this sweep's run.

          $ fleet sweep --inventory nodes.yaml --clean --max-failures 2

        With --config, the options come from a YAML file (one key per flag, the flag's \
        own value syntax; relative paths are relative to the file's folder), so a cron \
        line or systemd unit stays short and the policy is reviewed in one file. Flags \
        given on the command line override the file; the file overrides the defaults. \
        The run's options and the config path are recorded in the history.

          $ fleet sweep --config /etc/fleet/sweep.yaml
          $ fleet sweep --config /etc/fleet/sweep.yaml --no-clean --limit node-7

        Exit status: 0 every node scanned, nothing residual left; 1 residual maps left \
        in place (no --clean, waiting for confirmation, protected); 2 some nodes could \
        not be scanned (wins over 1); with --clean, 3/4/5 as `fleet clean` (cleanups \
        failed / stopped by --max-failures / interrupted), winning over 1 and 2; \
        65 inventory or config file error (file:line:column); 74 the history database cannot be opened or written; \
        75 another sweep holds the lock (nothing was done); 64 other usage errors.
        """
    )

    @Option(help: ArgumentHelp(
        "Read the sweep's options from this YAML file. Flags given on the command line override it.",
        discussion: "Keys: inventory, limit, db, lock, log_format, metrics_file, report; clean: {enabled, confirm_after, batch, max_in_flight, rate, pause, max_failures}; access: {forks, connect_timeout, command_timeout, probe_timeout, host_key_policy, ssh_config, jump}. Example: contrib/fleet-sweep.yaml.",
        valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Inventory file (fleet's YAML or an Ansible YAML inventory). Required unless the --config file names it.",
                               valueName: "file"))
    var inventory: String?

    @Option(help: ArgumentHelp("Nodes to sweep: name globs, groups, label=value; `!` excludes (e.g. 'rack-a,!node-7').",
                               valueName: "selection"))
    var limit: String?

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Run lock file. Default: the database path + `.lock`.", valueName: "path"))
    var lock: String?

    @Option(help: "Event lines on stderr: text or json.")
    var logFormat: LogFormatArgument = .text

    @Option(help: ArgumentHelp("Write Prometheus metrics here (atomically) for node_exporter's textfile collector.",
                               valueName: "path"))
    var metricsFile: String?

    @Option(help: ArgumentHelp("After the sweep, write the HTML report (`fleet report`: last 30 days, 200 nodes) here, atomically.",
                               valueName: "path"))
    var report: String?

    // --no-clean: a scan-only run with a config file whose clean.enabled is true.
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast,
          help: "Clean the residual maps the scan found (same safety checks and pacing as `fleet clean --execute`).")
    var clean = false

    @OptionGroup var pacing: RolloutPacingOptions

    @OptionGroup var access: NodeAccessOptions

    enum LogFormatArgument: String, ExpressibleByArgument, CaseIterable {
        case text, json
        var format: LogFormat { self == .json ? .json : .text }
    }

    func validate() throws {
        guard inventory != nil || config != nil else { throw ValidationError("Missing expected argument '--inventory <file>' (or --config <file> naming one)") }
    }

    func run() async throws {
        let ctx = FleetContext.live()
        try await run(ctx, commandLine: SweepConfig.sweepArguments(ctx.arguments))
    }

    /// `fleet clean --execute --from-run <this sweep>`: plans from the scans this sweep just
    /// recorded (plus the history's earlier observations for --confirm-after).
    func cleanOptions(fromRun run: Int64) -> CleanOptions {
        pacing.cleanOptions(access: access, execute: true, fromRun: run)
    }

    /// The sweep's own recorded options (the pacing and access groups record theirs).
    struct Recorded: Encodable, Sendable {
        var limit: String?
        var clean: Bool
        var lock: String
        var metricsFile: String?
        var report: String?
        var logFormat: String
        /// The --config file (absolute), and the keys of it the run used (the others were
        /// overridden on the command line).
        var config: String?
        var configKeys: [String]?
    }

    /// The sweep's status: a history failure first, then the clean's own failure codes (3,
    /// 4, 5), then nodes not scanned, then residual maps left in place.
    static func exitStatus(scanStoreFailed: Bool, cleanFailed: Bool, clean: ExitStatus?,
                           nodesFailed: Int, mapsLeft: Int) -> ExitStatus {
        if scanStoreFailed || cleanFailed { return .database }
        if let clean, clean != .ok { return clean }
        if nodesFailed > 0 { return .notScanned }
        if mapsLeft > 0 { return .residual }
        return .ok
    }

    /// What the history's run row says about the run.
    static func runStatus(_ exit: ExitStatus, storeFailed: Bool, clean report: CleanRunReport?) -> RunStatus {
        if storeFailed { return .failed }
        if report?.end == .interrupted { return .interrupted }
        return exit == .ok || exit == .residual ? .ok : .partial
    }

    /// With --config, `commandLine` is what followed `sweep` (the file is read, then parsed
    /// again in front of it; see ``SweepConfig``).
    func run(_ ctx: FleetContext, stop: RolloutStopSignal? = nil, commandLine: [String]? = nil) async throws {
        guard let configPath = config else { return try await sweep(ctx, stop: stop, config: nil) }
        let resolved: (Sweep, SweepConfig)
        do {
            guard let commandLine else {
                throw SweepConfig.Failure(error: InventoryError(file: configPath, line: nil, column: nil,
                                                                message: "internal: --config given but not the command line to put after it"),
                                          logFormat: nil)
            }
            resolved = try SweepConfig.resolve(path: configPath, commandLine: commandLine)
            guard resolved.0.inventory != nil else {
                throw SweepConfig.Failure(error: InventoryError(file: configPath, line: nil, column: nil,
                                                                message: "no inventory: expected an 'inventory:' key (or --inventory on the command line)"),
                                          logFormat: resolved.0.logFormat.rawValue)
            }
        } catch let failure as SweepConfig.Failure {
            // Nothing is known yet (not even the lock): say it in the format the file asked for if it could be read.
            let format = logFormat == .json || failure.logFormat == "json" ? LogFormat.json : .text
            EventLog.logger(format: format, now: ctx.now, write: ctx.output.err)
                .error("config.invalid", metadata: ["config": .string(configPath), "error": .string(failure.description)])
            // A --config file that cannot be read or is wrong: a data error like the inventory's.
            throw ExitCode(ExitStatus.badInput)
        }
        try await resolved.0.sweep(ctx, stop: stop, config: resolved.1)
    }

    private func sweep(_ ctx: FleetContext, stop: RolloutStopSignal?, config loaded: SweepConfig?) async throws {
        let inventory = self.inventory ?? ""  // validate(): set, or --config resolved one
        let log = EventLog.logger(format: logFormat.format, now: ctx.now, write: ctx.output.err)
        let dbPath = database.path ?? FleetDatabase.defaultPath(environment: ctx.environment)
        let lockPath = lock ?? SweepLock.defaultPath(forDatabase: dbPath)
        let clock = ContinuousClock()
        let started = clock.now
        var metrics = SweepMetrics(startedAt: ctx.now())

        // 1. The lock, before anything else: an overlapping sweep must not even read the inventory.
        let held: SweepLock
        do {
            held = try SweepLock.acquire(path: lockPath, now: ctx.now())
        } catch {
            var fields: Logger.Metadata = ["lock": .string(lockPath), "message": .string(error.description)]
            if case .held(_, let pid?, _) = error { fields["holder_pid"] = .stringConvertible(pid) }
            log.error("sweep.locked", metadata: fields)
            throw ExitCode(ExitStatus.locked)
        }
        defer { held.release() }

        /// Ends the run: metrics (carrying the last success over a failed run), final event.
        func finish(_ code: ExitStatus, success: Bool) -> ExitCode {
            metrics.duration = clock.now - started
            metrics.exitCode = code.rawValue
            metrics.success = success
            if success {
                metrics.lastSuccess = ctx.now()
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
            return ExitCode(code)
        }

        // 2. Inventory.
        var nodes: [InventoryNode]
        do throws(InventoryError) {
            let all = try Inventory.load(path: inventory)
            do {
                nodes = try all.select(limit)
            } catch {
                // A limit from the config file is wrong at its line there, not on a command line.
                if let loaded, loaded.inEffect.contains("limit"), let s = loaded.file.setting("limit") {
                    throw loaded.file.error(s, "limit: '\(s.value)': \(error.message)")
                }
                throw error
            }
        } catch {
            log.error("inventory.invalid", metadata: ["inventory": .string(inventory), "error": .string(error.description)])
            throw finish(.badInput, success: false)
        }
        do {
            let sshConfig = try access.loadSSHConfig()
            nodes = access.resolve(nodes, config: sshConfig)
        } catch {
            log.error("ssh_config.invalid", metadata: ["error": .string(error.description)])
            throw finish(.badInput, success: false)
        }

        // 3. History.
        let db: FleetDatabase
        let run: Int64
        do {
            (db, run) = try database.beginRun(
                .sweep, inventory: inventory,
                options: RecordedOptions(
                    Recorded(limit: limit, clean: clean, lock: lockPath, metricsFile: metricsFile, report: report,
                             logFormat: logFormat.rawValue, config: loaded.map { Self.absolute($0.file.path) },
                             configKeys: loaded?.inEffect),
                    pacing.recorded, access.recorded), ctx)
        } catch {
            log.error("history.failed", metadata: ["db": .string(dbPath), "error": .string("\(error)")])
            throw finish(.database, success: false)
        }
        var startedFields: Logger.Metadata = ["run": .stringConvertible(run), "inventory": .string(inventory),
                                              "nodes": .stringConvertible(nodes.count), "db": .string(dbPath),
                                              "clean": .stringConvertible(clean), "pid": .stringConvertible(getpid())]
        if let loaded { startedFields["config"] = .string(loaded.file.path) }
        log.info("sweep.started", metadata: startedFields)

        // 4. Scan.
        let options = access.scanOptions
        let ssh = access.sshOptions(sessions: access.forks)
        let executor = ctx.makeExecutor(ssh)
        let writer = StoreWriter(db: db, run: run)
        let scan = ScanRun(executor: executor, options: options,
                           record: { try await writer.record($0) },
                           events: { Self.logScanEvent($0, log) }, now: ctx.now)
        // Each node goes into the metrics as it finishes; the scan keeps only counters.
        let result = await scan.run(nodes.map(\.target), into: &metrics)
        let cleanable = result.cleanableMaps

        // 5. Clean, from the scans just recorded under this run.
        var report: CleanRunReport?
        var cleanFailed = false
        if clean, cleanable > 0, result.storeErrors.isEmpty {
            let stop = stop ?? {
                let s = RolloutStopSignal()
                s.installSignalHandlers { sig in
                    log.warning("sweep.signal", metadata: ["signal": .stringConvertible(sig),
                                                           "message": "starting no new node; waiting for in-flight nodes to finish"])
                }
                return s
            }()
            var cleanSSH = ssh
            cleanSSH.maxConcurrentSessions = max(access.forks, pacing.maxInFlight)
            let cleaner = CleanRun(executor: ctx.makeExecutor(cleanSSH), database: db, options: cleanOptions(fromRun: run),
                                   time: RolloutTime(ctx.clock), now: ctx.now, stop: stop, events: { Self.logCleanEvent($0, log) })
            do {
                report = try await cleaner.run(nodes: nodes, run: run)
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
            try db.finishRun(run, status: status, exitCode: code.rawValue, endedAt: ctx.now())
        } catch {
            log.error("history.failed", metadata: ["db": .string(dbPath), "error": .string("\(error)")])
        }
        // After the run is finished, so the page shows its final status. A report that
        // cannot be written is logged and does not change the sweep's exit status.
        if let page = self.report {
            do {
                let now = ctx.now()
                try HistoryReport.write(db, .init(since: now.addingTimeInterval(-30 * 86400), sinceText: "30d", limit: 200, now: now),
                                        to: page)
                log.info("report.written", metadata: ["path": .string(page), "run": .stringConvertible(run)])
            } catch {
                log.error("report.failed", metadata: ["path": .string(page), "error": .string("\(error)")])
            }
        }
        let success = result.storeErrors.isEmpty && !cleanFailed && result.nodesFailed == 0
            && metrics.mapsCleanFailed == 0 && (report.map { $0.exitCode == 0 } ?? true)
        let exit = finish(code, success: success)
        if code != .ok { throw exit }
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
