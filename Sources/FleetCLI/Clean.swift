import ArgumentParser
import Foundation
import FleetInventory
import FleetModel
import FleetRollout
import FleetSSH
import FleetStore

struct Clean: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove residual multipath maps safely, in rolling, rate-limited batches.",
        discussion: """
        Scans the nodes (or loads `--from-run ID`), plans per node which maps may be removed and why every other map is left alone, and prints the exact commands. Nothing is changed without --execute.

        A map is cleaned only when its verdict is residual or residual-hung, it was seen with every path failed in two observations at least --confirm-after apart, it is not mounted, held or open, no path is blocked, and no protect rule matches. With --execute each node is re-read in the same SSH session right before acting; a map that changed since the plan is left alone. Every command is written to the history before it is sent and its result after.

          $ fleet clean --inventory nodes.yaml
          $ fleet clean --inventory nodes.yaml --execute --max-failures 2
          $ fleet clean --inventory nodes.yaml --wait --execute --rate 30/min

        Kubernetes is asked first, through your kubectl (--kubeconfig, --context, KUBECONFIG, exec plugins): a map is cleaned only when no VolumeAttachment for its WWID is on that node, none is attaching/detaching there, and kubelet has nothing staged for it. If the API cannot be asked, nothing is cleaned (exit 6); --no-kubernetes goes without.

        Exit status: 0 everything planned was cleaned (or nothing to do, or a dry run); 3 some cleanups failed or some nodes could not be scanned or reached; 4 stopped because failures exceeded --max-failures; 5 interrupted by SIGINT/SIGTERM (in-flight nodes finished first); 6 Kubernetes could not be asked: nothing cleaned; 65 inventory error; 74 history database error; 64 usage.
        """
    )


    @Option(help: ArgumentHelp("Inventory file (fleet's YAML or an Ansible YAML inventory).", valueName: "file"))
    var inventory: String

    @Option(help: ArgumentHelp("Nodes to consider: name globs, groups, label=value; `!` excludes.", valueName: "selection"))
    var limit: String?

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("Plan from this recorded run instead of scanning now.", valueName: "id"))
    var fromRun: Int64?


    @Flag(help: "Wait for maps still waiting for confirmation, re-scan them, then act (at most --max-wait).")
    var wait = false

    @Option(help: ArgumentHelp("Longest --wait.", valueName: "duration"))
    var maxWait: DurationArgument = DurationArgument(argument: "1h")!

    @Flag(help: "Act. Without it, print the plan and the exact commands (dry run).")
    var execute = false

    @OptionGroup var pacing: RolloutPacingOptions

    @Option(help: "Output: table or json.")
    var format: OutputFormat = .table

    @OptionGroup var access: NodeAccessOptions

    @OptionGroup var kube: KubernetesOptions

    func run() async throws { try await run(.live()) }

    /// The clean's own recorded options (the pacing and access groups record theirs).
    struct Recorded: Encodable, Sendable {
        var limit: String?
        var fromRun: Int64?
        var wait: Bool
        var execute: Bool
        var kubernetes: Bool
        var kubeconfig: String?
        var context: String?
    }

    var options: CleanOptions {
        var o = pacing.cleanOptions(access: access, execute: execute, fromRun: fromRun, wait: wait, maxWait: maxWait.duration)
        o.kubernetes = try? kube.settings()
        return o
    }

    func run(_ ctx: FleetContext, stop: RolloutStopSignal? = nil) async throws {
        let out = ctx.output
        do { _ = try kube.settings() } catch {
            throw out.fail(.clean, .usage, error)
        }
        let nodes: [InventoryNode]
        do {
            let config = try access.loadSSHConfig()
            nodes = access.resolve(try Inventory.load(path: inventory).select(limit), config: config)
        } catch {
            throw out.fail(.clean, .badInput, error)
        }
        let db: FleetDatabase
        let run: Int64
        do {
            (db, run) = try database.beginRun(.clean, inventory: inventory, options: RecordedOptions(
                Recorded(limit: limit, fromRun: fromRun, wait: wait, execute: execute,
                         kubernetes: !kube.noKubernetes, kubeconfig: kube.kubeconfig?.value, context: kube.context?.value), pacing.recorded, access.recorded), ctx)
        } catch {
            throw out.fail(.clean, .database, error)
        }
        let stop = stop ?? {
            let s = RolloutStopSignal()
            s.installSignalHandlers { sig in
                out.err("fleet clean: signal \(sig): starting no new node; waiting for in-flight nodes to finish\n")
            }
            return s
        }()
        let ssh = access.sshOptions(sessions: max(access.forks.value, pacing.maxInFlight.value))
        let log = out
        let cleaner = CleanRun(executor: ctx.makeExecutor(ssh), database: db, options: options,
                               time: RolloutTime(ctx.clock), now: ctx.now, stop: stop,
                               events: { e in Self.log(e, execute: execute, out: log) })
        // Each node's part of the report is rendered once its result is final (spooled to a
        // temporary file), so memory grows with --max-in-flight, not with the number of nodes.
        var printed = CleanReport(json: format == .json, execute: execute, nodes: nodes.count)
        let report: CleanRunReport
        do {
            report = try await cleaner.run(nodes: nodes, run: run, into: &printed)
        } catch {
            try? db.finishRun(run, status: .failed, exitCode: ExitStatus.database.rawValue, endedAt: ctx.now())
            throw out.fail(.clean, .database, error)
        }
        let status: RunStatus = report.end == .interrupted ? .interrupted
            : report.exitCode == 0 ? .ok : report.mapsCleaned > 0 ? .partial : .failed
        do { try db.finishRun(run, status: status, exitCode: report.exitCode, endedAt: ctx.now()) } catch {
            out.warn(.clean, error)
        }
        if let k = report.kubernetesUnavailable {
            out.warn(.clean, "\(k)")
            out.warn(.clean, "nothing was cleaned (exit \(ExitStatus.kubernetesUnavailable.rawValue)); fix access or pass --no-kubernetes")
        }
        printed.write(report, to: out.out)
        if report.exit != .ok { throw ExitCode(report.exit) }
    }

    /// One line per event on stderr: the run's progress as it happens (stdout gets the report).
    static func log(_ e: CleanEvent, execute: Bool, out: FleetOutput) {
        switch e {
        case .scanning(let n): out.err("fleet clean: scanning \(n) node(s)\n")
        case .scanned: break
        case .waiting(let until, let maps):
            out.err("fleet clean: \(maps) map(s) waiting for confirmation; waiting until \(ISOTime.format(until)) to re-scan\n")
        case .nodeStarted(let node, let batch): out.err("fleet clean: batch \(batch): \(node): cleaning\n")
        case .nodeFinished(let r):
            let c = r.maps.filter { $0.outcome == .cleaned }.count, f = r.maps.filter { $0.outcome == .failed }.count
            let a = r.maps.filter { $0.outcome == .aborted }.count
            out.err("fleet clean: \(r.node): \(c) cleaned, \(f) failed, \(a) aborted\(r.error.map { " (\($0))" } ?? "")\n")
        case .stopping(let end): out.err("fleet clean: stopping (\(end.rawValue))\n")
        }
    }
}

