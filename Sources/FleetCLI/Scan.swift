import ArgumentParser
import Foundation
import FleetInventory
import FleetModel
import FleetRollout
import FleetSSH
import FleetStore

struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find residual multipath maps on every node and record them in the history.",
        discussion: """
        One SSH exec per node runs the read-only discovery commands; maps whose paths all failed get the O_DIRECT readability probe (and a probe that hangs gets the vendor procedure's step 1.3: the stuck dd is found and killed). Every node's result is written to the history as it arrives. Nothing on the nodes is changed except killing a dd that fleet's own probe left stuck.

          $ fleet scan --inventory nodes.yaml
          $ fleet scan --inventory nodes.yaml --limit 'rack-a,!node-7' --format json

        Exit status: 0 nothing residual; 1 residual maps found; 2 some nodes could not be scanned (wins over 1: a scan that did not see every node cannot say "nothing residual", and the output still lists what it found); 65 inventory error; 74 the history database cannot be opened or written; 64 other usage errors.
        """
    )


    @Option(help: ArgumentHelp("Inventory file (fleet's YAML or an Ansible YAML inventory). Required unless --print-script.", valueName: "file"))
    var inventory: String?

    @Flag(help: "Print the POSIX sh script every node's `sh -s` receives (read-only discovery; review it before granting sudo), then exit without connecting.")
    var printScript = false

    @OptionGroup var phases: DiscoveryPhaseOptions

    @Option(help: ArgumentHelp("Nodes to scan: name globs, groups, label=value; `!` excludes (e.g. 'rack-a,!node-7').",
                               valueName: "selection"))
    var limit: String?

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Output: table or json.")
    var format: OutputFormat = .table

    @OptionGroup var access: NodeAccessOptions

    @Option(help: ArgumentHelp("Print how fleet reaches NODE (address, user, keys, known_hosts, jump hosts, each with the inventory or ssh_config line it came from) and exit without connecting.",
                               valueName: "node"))
    var showSSH: String?

    @OptionGroup var kube: KubernetesOptions

    func validate() throws {
        if inventory == nil && !printScript { throw ValidationError("Missing expected argument '--inventory <file>'") }
    }

    func run() async throws { try await run(.live()) }

    /// The scan's own recorded options (the access group records its own).
    struct Recorded: Encodable, Sendable {
        var limit: String?
        var format: String
    }

    func run(_ ctx: FleetContext) async throws {
        let out = ctx.output
        // The nonce is fresh for every exec; the script is otherwise the same for every node.
        if printScript { out.out(NodeScript.printable(nonce: NodeScript.newNonce())); return }
        guard let inventory else { throw ExitCode(ExitStatus.usage) }  // validate() has said why
        // Only the targets are kept: the parsed inventory is not needed during the scan.
        let kubeSettings: KubernetesSettings?
        do { kubeSettings = try kube.settings() } catch {
            throw out.fail(.scan, .usage, error)
        }
        let targets: [NodeTarget]
        let k8s: KubernetesWitness
        do {
            let nodes = try Inventory.load(path: inventory).select(limit)
            let sshConfig = try access.loadSSHConfig()
            if let name = showSSH {
                guard let node = nodes.first(where: { $0.name == name }) else {
                    throw out.fail(.scan, .usage, "--show-ssh \(name): no such node in the selection")
                }
                out.out(SSHShow.render(node: node, config: sshConfig, access: access))
                return
            }
            targets = access.resolve(nodes, config: sshConfig).map(\.target)
            // Asked once per run; the per-node views are small (this node's attachments).
            k8s = KubernetesWitness.ask(kubeSettings, nodes: nodes, now: ctx.now())
        } catch let e as ExitCode {
            throw e
        } catch {
            throw out.fail(.scan, .badInput, error)
        }
        if let f = k8s.failure {
            out.warn(.scan, "\(f) (the scan goes on with the node-local witnesses; the run records it)")
        }

        let db: FleetDatabase
        let run: Int64
        do {
            (db, run) = try database.beginRun(
                .scan, inventory: inventory,
                options: RecordedOptions(Recorded(limit: limit, format: format.rawValue), access.recorded, phases.recorded), ctx)
        } catch {
            throw out.fail(.scan, .database, error)
        }
        do { try KubernetesWitness.record(k8s, run: run, in: db) } catch {
            out.warn(.scan, error)
        }

        let options = phases.applied(to: access.scanOptions)
        // Each node's last scan, for phase 1, read as its scan starts; a history that cannot
        // be read only costs speed (that node gets the full discovery, its phase note says why).
        let previous: @Sendable (String) throws -> PreviousNodeState? = { try db.previousState(node: $0) }
        let ssh = access.sshOptions(sessions: access.forks.value)
        let executor = ctx.makeExecutor(ssh)
        let writer = StoreWriter(db: db, run: run)
        let progress = ProgressLine(output: out)
        let scan = ScanRun(executor: executor, options: options,
                           record: { try await writer.record($0) },
                           events: { progress.handle($0) }, now: ctx.now, witnesses: k8s.witnesses, previous: previous)
        // The report is rendered node by node as the scan goes (spooled to a temporary file),
        // so memory grows with --forks, not with the number of nodes.
        var report = ScanReport(format: format, nodes: targets.count)
        let result = await scan.run(targets, into: &report)
        progress.clear()

        let exit = Self.exitStatus(result)
        let status: RunStatus = result.storeErrorCount > 0 ? .failed : result.nodesFailed == 0 ? .ok : .partial
        do {
            try db.finishRun(run, status: status, exitCode: exit.rawValue, endedAt: ctx.now())
        } catch {
            out.warn(.scan, error)
        }
        report.write(run: run, inventory: inventory, database: db.path, summary: result, exitCode: exit.rawValue, to: out.out)
        for e in result.storeErrors.prefix(5) { out.warn(.scan, e) }
        if exit != .ok { throw ExitCode(exit) }
    }
}

extension Fleet {
    /// Runs `fleet scan ARGUMENTS` (without the program name) in this process with `ctx`:
    /// for harnesses that replace the transport (bench/cpu-bench replays recorded node
    /// outputs to count the client's own CPU per node). Throws `ExitCode` as the command does.
    public static func scan(_ arguments: [String], _ ctx: FleetContext) async throws {
        try await Scan.parse(arguments).run(ctx)
    }
}

extension Scan {
    /// A history write that failed, then nodes not scanned (wins over residual: a scan that
    /// did not see every node cannot say "nothing residual"), then residual maps.
    static func exitStatus(_ s: ScanSummary) -> ExitStatus {
        if s.storeErrorCount > 0 { return .database }
        if s.nodesFailed > 0 { return .notScanned }
        if s.nodesWithResidualMaps > 0 { return .residual }
        return .ok
    }
}

/// Writes node results through FleetStore's `NodeRecorder`: on its own serial queue (GRDB's
/// blocking writes never hold a thread of Swift's cooperative pool), nodes that finish close
/// together in one transaction, and `record` returns once its node is committed.
final class StoreWriter: Sendable {
    let recorder: NodeRecorder
    init(db: FleetDatabase, run: Int64) { recorder = NodeRecorder(db: db, run: run) }

    func record(_ scan: NodeScan) async throws {
        try await recorder.record(scan)
    }
}

/// `scanning 120/200 · 3 failed · 5 with residual maps · ETA 12s`, redrawn in place on a
/// terminal; nothing at all otherwise.
final class ProgressLine: @unchecked Sendable {
    // @unchecked: `drawn`/`lastDraw` only touched under `lock`.
    private let output: FleetOutput
    private let lock = NSLock()
    private var drawn = false
    private var lastDraw: ContinuousClock.Instant?
    init(output: FleetOutput) { self.output = output }

    func handle(_ event: ScanEvent) {
        guard output.progress else { return }
        switch event {
        case .started(let total):
            draw("scanning 0/\(total)", force: true)
        case .nodeFinished(_, let p):
            var line = "scanning \(p.done)/\(p.total)"
            if p.failed > 0 { line += " · \(p.failed) failed" }
            if p.residualNodes > 0 { line += " · \(p.residualNodes) with residual maps" }
            if p.done > 0, p.done < p.total {
                let perNode = p.elapsed.timeInterval / Double(p.done)
                line += " · ETA \(Int((perNode * Double(p.total - p.done)).rounded(.up)))s"
            }
            draw(line, force: p.done == p.total)
        case .storeFailed, .finished:
            break
        }
    }

    private func draw(_ line: String, force: Bool) {
        let now = ContinuousClock.now
        let go: Bool = lock.withLock {
            // At most ~10 redraws a second: a 5,000-node run must not spend its time on the tty.
            if !force, let last = lastDraw, now - last < .milliseconds(100) { return false }
            lastDraw = now; drawn = true
            return true
        }
        if go { output.err("\r\u{1B}[K" + line) }
    }

    func clear() {
        let was = lock.withLock { let d = drawn; drawn = false; return d }
        if was { output.err("\r\u{1B}[K") }
    }
}
