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
        discussion: "Keys: inventory, limit, db, lock, log_format, metrics_file, report; clean: {enabled, confirm_after, batch, max_in_flight, rate, pause, max_failures}; access: {forks, connect_timeout, command_timeout, probe_timeout, host_key_policy, ssh_config, jump}; kubernetes: {enabled, kubeconfig, context, kubectl, rules, node_label, timeout}; discovery: {full, full_after}. Example: contrib/fleet-sweep.yaml.",
        valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("Inventory file (fleet's YAML or an Ansible YAML inventory). Required unless the --config file names it.",
                               valueName: "file"))
    var inventory: Sourced<String>?

    @Option(help: ArgumentHelp("Nodes to sweep: name globs, groups, label=value; `!` excludes (e.g. 'rack-a,!node-7').",
                               valueName: "selection"))
    var limit: Sourced<String>?

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Run lock file. Default: the database path + `.lock`.", valueName: "path"))
    var lock: Sourced<String>?

    @Option(help: "Event lines on stderr: text or json.")
    var logFormat: Sourced<LogFormatArgument> = .default(.text)

    @Option(help: ArgumentHelp("Write Prometheus metrics here (atomically) for node_exporter's textfile collector.",
                               valueName: "path"))
    var metricsFile: Sourced<String>?

    @Option(help: ArgumentHelp("After the sweep, write the HTML report (`fleet report`: last 30 days, 200 nodes) here, atomically.",
                               valueName: "path"))
    var report: Sourced<String>?

    // --no-clean: a scan-only run with a config file whose clean.enabled is true. Nil until
    // the command line or the config file says (a Bool flag cannot tell "not given").
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast,
          help: "Clean the residual maps the scan found (same safety checks and pacing as `fleet clean --execute`). (default: --no-clean)")
    var clean: Bool?

    @OptionGroup var pacing: RolloutPacingOptions

    @OptionGroup var phases: DiscoveryPhaseOptions

    @OptionGroup var access: NodeAccessOptions

    @OptionGroup var kube: KubernetesOptions

    enum LogFormatArgument: String, ExpressibleByArgument, CaseIterable {
        case text, json
        var format: LogFormat { self == .json ? .json : .text }
    }

    func validate() throws {
        guard inventory != nil || config != nil else { throw ValidationError("Missing expected argument '--inventory <file>' (or --config <file> naming one)") }
    }

    func run() async throws { try await run(.live()) }

    /// Every key of a `--config` file and the option it sets (``SweepConfigFile/keys``).
    static var configBindings: [ConfigBinding<Sweep>] {
        [.option("inventory", \.inventory), .option("limit", \.limit), .option("lock", \.lock),
         .option("log_format", \.logFormat), .option("metrics_file", \.metricsFile), .option("report", \.report),
         .flag("clean.enabled", \.clean)]
            + DatabaseOptions.configBindings.map { $0.lifted(\.database) }
            + RolloutPacingOptions.configBindings.map { $0.lifted(\.pacing) }
            + NodeAccessOptions.configBindings.map { $0.lifted(\.access) }
            + KubernetesOptions.configBindings.map { $0.lifted(\.kube) }
            + DiscoveryPhaseOptions.configBindings.map { $0.lifted(\.phases) }
    }

    /// The checks ArgumentParser ran on the command line (this command's and its groups'),
    /// run again over values a config file set.
    func validateAll() throws {
        try validate()
        try pacing.validate()
        try access.validate()
        try kube.validate()
        try phases.validate()
    }

    /// `fleet clean --execute --from-run <this sweep>`: plans from the scans this sweep just
    /// recorded (plus the history's earlier observations for --confirm-after).
    func cleanOptions(fromRun run: Int64) -> CleanOptions {
        var o = pacing.cleanOptions(access: access, execute: true, fromRun: run)
        o.kubernetes = try? kube.settings()
        return o
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

    /// With --config, the file's values fill the options the command line left unset (see
    /// ``SweepConfig``).
    func run(_ ctx: FleetContext, stop: RolloutStopSignal? = nil) async throws {
        guard let configPath = config else { return try await sweep(ctx, stop: stop, config: nil) }
        let resolved: (Sweep, SweepConfig)
        do {
            resolved = try SweepConfig.resolve(self, path: configPath)
            guard resolved.0.inventory != nil else {
                throw SweepConfig.Failure(error: InventoryError(file: configPath, line: nil, column: nil,
                                                                message: "no inventory: expected an 'inventory:' key (or --inventory on the command line)"),
                                          logFormat: resolved.0.logFormat.value.rawValue)
            }
        } catch let failure as SweepConfig.Failure {
            // Nothing is known yet (not even the lock): say it in the format --log-format
            // gives, else the one the file asked for if it could be read.
            let format = logFormat.source == .commandLine ? logFormat.value.format
                : failure.logFormat == "json" ? LogFormat.json : .text
            EventLog.logger(format: format, now: ctx.now, write: ctx.output.err)
                .error("config.invalid", metadata: ["config": .string(configPath), "error": .string(failure.description)])
            // A --config file that cannot be read or is wrong: a data error like the inventory's.
            throw ExitCode(ExitStatus.badInput)
        }
        try await resolved.0.sweep(ctx, stop: stop, config: resolved.1)
    }

    private func sweep(_ ctx: FleetContext, stop: RolloutStopSignal?, config loaded: SweepConfig?) async throws {
        let inventory = self.inventory?.value ?? ""  // validate(): set, or --config resolved one
        let dbPath = database.resolvedPath(ctx)
        let lockPath = lock?.value ?? SweepLock.defaultPath(forDatabase: dbPath)
        let limit = self.limit
        let inventorySource = self.inventory?.source
        let clean = self.clean ?? false
        let metricsFile = self.metricsFile?.value, report = self.report?.value
        let ssh = access.sshOptions(sessions: access.forks.value)
        let cleanSSH = access.sshOptions(sessions: max(access.forks.value, pacing.maxInFlight.value))
        var sweep = SweepRun(
            inventory: inventory,
            selectNodes: { [access] () throws(SweepRun.SelectionError) -> [InventoryNode] in
                let nodes: [InventoryNode]
                do throws(InventoryError) {
                    let all: Inventory
                    do throws(InventoryError) {
                        all = try Inventory.load(path: inventory)
                    } catch {
                        // A file the config names that cannot be read: the key's value may be the mistake.
                        if error.line == nil, let e = inventorySource?.error("inventory: \(error)") { throw e }
                        throw error
                    }
                    do throws(InventoryError) {
                        nodes = try all.select(limit?.value)
                    } catch {
                        // A limit from the config file is wrong at its line there, not on a command line.
                        if let limit, let e = limit.source.error("limit: '\(limit.value)': \(error.message)") { throw e }
                        throw error
                    }
                } catch {
                    throw SweepRun.SelectionError(event: "inventory.invalid",
                                                  metadata: ["inventory": .string(inventory), "error": .string(error.description)])
                }
                do {
                    return access.resolve(nodes, config: try access.loadSSHConfig())
                } catch {
                    // As for the inventory: an unreadable file the config names, at its key.
                    let unreadable = (error as? SSHConfigError).map { $0.line == nil } ?? false
                    let e = unreadable ? access.sshConfig?.source.error("access.ssh_config: \(error)") : nil
                    throw SweepRun.SelectionError(event: "ssh_config.invalid", metadata: ["error": .string(e.map { "\($0)" } ?? "\(error)")])
                }
            },
            dbPath: dbPath, lockPath: lockPath, metricsFile: metricsFile, clean: clean,
            scan: phases.applied(to: access.scanOptions),
            cleanOptions: { [self] run in cleanOptions(fromRun: run) },
            makeExecutor: { cleaning in ctx.makeExecutor(cleaning ? cleanSSH : ssh) },
            recordedOptions: RecordedOptions(
                Recorded(limit: limit?.value, clean: clean, lock: lockPath, metricsFile: metricsFile, report: report,
                         logFormat: logFormat.value.rawValue, config: loaded.map { Self.absolute($0.file.path) },
                         configKeys: loaded?.inEffect),
                pacing.recorded, access.recorded, phases.recorded),
            // After the run is finished, so the page shows its final status (30 days, 200 nodes).
            report: report.map { path in
                SweepRun.ReportPage(path: path) { db, path, now in
                    try HistoryReport.write(db, .init(since: now.addingTimeInterval(-30 * 86400), sinceText: "30d", limit: 200, now: now),
                                            to: path)
                }
            },
            version: FleetVersion.current, configPath: loaded?.file.path,
            log: EventLog.logger(format: logFormat.value.format, now: ctx.now, write: ctx.output.err),
            now: ctx.now, clock: ctx.clock, stop: stop)
        sweep.kubernetes = try? kube.settings()
        let exit = await sweep.run()
        if exit != .ok { throw ExitCode(exit) }
    }
}
