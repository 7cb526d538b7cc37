import Foundation
import FleetModel

/// Limits for one node's discovery. Every one is finite: a node can delay its own result
/// by at most these, never the run.
public struct DiscoveryOptions: Sendable, Hashable {
    /// The discovery script as a whole, and each follow-up script (`ps`, `kill`): the
    /// exec's deadline (the executor also bounds it on the node with `timeout -s KILL`).
    public var commandTimeout: Duration
    /// Each O_DIRECT readability probe (`timeout -s KILL <s> dd …`). Probes on one node run
    /// concurrently, so the probe phase takes about one probe timeout.
    public var probeTimeout: Duration
    /// Output cap per exec and stream.
    public var outputLimit: Int

    public init(commandTimeout: Duration = .seconds(60), probeTimeout: Duration = .seconds(15),
                outputLimit: Int = 8 << 20) {
        self.commandTimeout = commandTimeout; self.probeTimeout = probeTimeout; self.outputLimit = outputLimit
    }

    /// The longest one node's discovery can take once connected: discovery, probes (bounded
    /// by probe + command timeout), `ps`, `kill` + `ps`.
    public var sessionBudget: Duration {
        commandTimeout * 4 + probeTimeout + .seconds(2)
    }
}

/// The witnesses from outside the node for one node's discovery: what the Kubernetes API
/// said about it (nil: not asked, `--no-kubernetes`) and the WWID rules.
public struct NodeWitnessInput: Sendable {
    public var kubernetes: KubeNodeView?
    public var rules: [WWIDRule]
    public init(kubernetes: KubeNodeView? = nil, rules: [WWIDRule] = WWIDRule.builtIn) {
        self.kubernetes = kubernetes; self.rules = rules
    }
}

/// What discovery found on one node that answered.
public struct NodeDiscovery: Sendable, Hashable {
    public var status: NodeStatus
    /// Node-level note: multipath-tools missing, script cut off, probe phase lost, …
    public var error: String?
    public var outputs: [CommandOutput]
    public var findings: [MapFinding]
    public var warnings: [ParseWarning]
    /// Which discovery ran, why the full one (when phase 1 was possible or tried), and for a
    /// phase-1-only node the history rows its carried findings are.
    public var phase: DiscoveryPhase = .full
    public var phaseNote: String?
    public var carried: CarriedRows?

    public init(status: NodeStatus = .ok, error: String? = nil, outputs: [CommandOutput] = [],
                findings: [MapFinding] = [], warnings: [ParseWarning] = [], phase: DiscoveryPhase = .full,
                carried: CarriedRows? = nil) {
        self.status = status; self.error = error; self.outputs = outputs
        self.findings = findings; self.warnings = warnings; self.phase = phase; self.carried = carried
    }
}

/// One node's discovery over an open session: phase 1 when the history allows it (one exec;
/// when it shows every path active and nothing changed since the last full discovery, the
/// node's maps and verdicts are carried and nothing else runs), else or then the discovery
/// script (one exec, same session), then — only
/// when some map has every path failed — the readability probes, and for a probe that hung
/// the vendor procedure's step 1.3 (find the stuck `dd`, `kill -9` it, check again).
///
/// Missing multipath-tools (`multipath -ll` exits 127) makes the node `.nodeError` with a
/// note saying so: the node answered, but fleet cannot tell what its maps are, so it
/// counts among the nodes that could not be scanned (exit code 2), and its outputs are kept.
public enum Discovery {
    public static func run(
        on session: any RemoteSession, node: String, options: DiscoveryOptions,
        witnesses: NodeWitnessInput = NodeWitnessInput(),
        previous: PreviousNodeState? = nil, full: Bool = true, fullAfter: Duration? = nil, now: Date = Date(),
        nonce: @Sendable () -> String = { NodeScript.newNonce() }
    ) async throws(NodeFailure) -> NodeDiscovery {
        var result = NodeDiscovery()

        // 0. Phase 1, unless forced full or the history rules it out.
        if !full {
            switch PhaseOne.precheck(previous: previous, kubernetes: witnesses.kubernetes, now: now, fullAfter: fullAfter) {
            case .full(let why):
                result.phaseNote = why
            case .carry:
                var scratch = NodeDiscovery()
                do {
                    let framed = try await runScript(.phase1, what: "phase 1", label: "phase 1", session: session,
                                                     timeout: options.commandTimeout, options: options, nonce: nonce, into: &scratch)
                    switch PhaseOne.decide(outputs: framed.outputs, framingWarnings: framed.warnings, previous: previous!) {
                    case .carry:
                        return NodeDiscovery(status: .ok, findings: previous!.findings, phase: .phase1, carried: previous!.rows)
                    case .full(let why):
                        result.phaseNote = why
                    }
                } catch {
                    // A session that cannot be trusted any more is the node's failure; any
                    // other phase-1 trouble only means the full discovery runs.
                    if error.sessionLost { throw error.failure }
                    result.phaseNote = "phase 1: \(error.message)"
                }
            }
        }

        // 1. Discovery: one exec. A transport failure here is the node's status (thrown); an
        // output cut short is kept as evidence and said in the node's note.
        let framed: FramedOutputs
        do {
            framed = try await runScript(.discovery, what: "discovery", label: "discovery", session: session,
                                         timeout: options.commandTimeout, options: options, nonce: nonce, into: &result)
        } catch {
            if error.kind == .transport { throw error.failure }
            result.status = error.status
            result.error = "\(node): \(error.message)"
            return result
        }
        if let ll = framed.outputs.first(where: { $0.command == .multipathList }), ll.commandMissing {
            result.status = .nodeError
            result.error = "\(node): multipath-tools not installed (multipath -ll exit 127: \(ll.stderr.trimmed))"
            return result
        }
        guard framed.outputs.contains(where: { $0.command == .multipathList }) else {
            result.status = .nodeError
            result.error = "\(node): the discovery script printed no multipath -ll output"
            return result
        }

        // 2. Probes, only for maps whose paths all failed.
        let snapshot = NodeSnapshot(outputs: result.outputs)
        // A map whose path disks sysfs reports not `running` (transport-offline, blocked) is
        // path loss, not an unmap: probing it would only leave a dd queued on the node until
        // the network comes back, and the classifier does not need the probe to say so.
        let failedDevices = snapshot.allFailedMaps.filter { dm in
            guard let map = snapshot.map(dm: dm) else { return true }
            return !map.paths.contains { p in
                guard let disk = p.dev.flatMap(BlockDeviceName.init), let state = snapshot.sysfsState(of: disk) else { return false }
                return state != .running
            }
        }
        var stuck: [DMDeviceName: (pid: Int32, afterKill: Bool?)] = [:]
        var notProbed: [DMDeviceName: Int32] = [:]
        if !failedDevices.isEmpty {
            do {
                (stuck, notProbed) = try await probe(failedDevices, session: session, node: node, options: options,
                                                     nonce: nonce, into: &result)
            } catch {
                // The probe phase is lost, not the node's discovery: keep what we have, say why.
                result.status = error.status
                result.error = "\(node): probe phase: \(error.message)"
            }
        }

        // 3. Classify everything we read.
        // Parsing is most of fleet's own CPU per node: reuse the first snapshot when the probe
        // phase added nothing (most nodes).
        let outputsSeen = snapshot.outputs.count
        let final = result.outputs.count == outputsSeen
            ? snapshot : NodeSnapshot(outputs: result.outputs.filter { !$0.command.isAction })
        var findings = Classifier.classify(final)
        Witnesses.apply(&findings, snapshot: final, kubernetes: witnesses.kubernetes, rules: witnesses.rules)
        for i in findings.indices {
            if let dm = findings[i].map.dm.flatMap(DMDeviceName.init), let pid = notProbed[dm] {
                findings[i].reasons.append("not probed again: dd \(pid) from an earlier probe is still stuck on it")
            }
            guard let dm = findings[i].map.dm.flatMap(DMDeviceName.init), let s = stuck[dm] else { continue }
            var probe = findings[i].evidence.probe ?? ProbeResult(outcome: .hung)
            probe.stuckPID = s.pid
            probe.stuckAfterKill = s.afterKill
            findings[i].evidence.probe = probe
            findings[i].reasons.append(s.afterKill == true
                ? "stuck dd \(s.pid) survived kill -9 (D state)"
                : s.afterKill == false ? "stuck dd \(s.pid) killed" : "stuck dd \(s.pid) found, not killed")
        }
        result.findings = findings
        return result
    }

    /// Runs the probes; for every probe killed at its limit, finds the `dd` left on the device,
    /// kills it and looks again. Returns what it found per device.
    static func probe(
        _ devices: [DMDeviceName], session: any RemoteSession, node: String, options: DiscoveryOptions,
        nonce: @Sendable () -> String, into result: inout NodeDiscovery
    ) async throws(NodeFailure) -> (stuck: [DMDeviceName: (pid: Int32, afterKill: Bool?)], notProbed: [DMDeviceName: Int32]) {
        let probeSeconds = NodeScript.wholeSeconds(options.probeTimeout)

        // Never stack a second dd on a device that still has one stuck from an earlier probe
        // (a queueing map keeps it in D state): every scan would leave one more behind, each
        // holding the map open.
        let pre = try await sequence([.stuckProbes], session: session, options: options, nonce: nonce, into: &result)
        let preRows = PsParser.parse(pre.first(where: { $0.command == .stuckProbes })?.stdout ?? "").value
        var notProbed: [DMDeviceName: Int32] = [:]
        for d in devices {
            if let row = PsParser.ddProcesses(reading: d, in: preRows).first { notProbed[d] = row.pid }
        }
        let devices = devices.filter { notProbed[$0] == nil }
        guard !devices.isEmpty else { return ([:], notProbed) }

        let framed: FramedOutputs
        do {
            framed = try await runScript(.probes(devices, seconds: probeSeconds), what: "probe", label: "probe", session: session,
                                         timeout: .seconds(probeSeconds + NodeScript.wholeSeconds(options.commandTimeout)),
                                         options: options, nonce: nonce, into: &result)
        } catch {
            throw error.failure
        }

        // `timeout -s KILL` exits 137 when it had to kill dd (procedure step 1.2: "suspended").
        let hung = framed.outputs.compactMap { o -> DMDeviceName? in
            guard o.exitCode == 137, case .probe(let d, _) = o.command else { return nil }
            return d
        }
        guard !hung.isEmpty else { return ([:], notProbed) }

        // Step 1.3: find the stuck dd (re-parented to PID 1, usually in D state).
        let before = try await sequence([.stuckProbes], session: session, options: options, nonce: nonce, into: &result)
        let psBefore = before.first(where: { $0.command == .stuckProbes })?.stdout ?? ""
        var pids: [DMDeviceName: [ProcessID]] = [:]
        let rowsBefore = PsParser.parse(psBefore).value
        for d in hung { pids[d] = PsParser.ddProcesses(reading: d, in: rowsBefore).compactMap { ProcessID(String($0.pid)) } }
        let toKill = hung.flatMap { pids[$0] ?? [] }
        guard !toKill.isEmpty else { return ([:], notProbed) }

        let after = try await sequence(toKill.map { .killProcess($0) } + [.stuckProbes], session: session,
                                       options: options, nonce: nonce, into: &result)
        let psAfter = after.last(where: { $0.command == .stuckProbes })?.stdout
        var stuck: [DMDeviceName: (pid: Int32, afterKill: Bool?)] = [:]
        for d in hung {
            guard let first = pids[d]?.first else { continue }
            let survivors = psAfter.map { PsParser.ddProcesses(reading: d, in: PsParser.parse($0).value) }
            stuck[d] = (first.rawValue, survivors.map { !$0.isEmpty })
        }
        return (stuck, notProbed)
    }

    /// Runs typed commands one after another in one exec and returns their outputs.
    static func sequence(
        _ commands: [NodeCommand], session: any RemoteSession, options: DiscoveryOptions,
        nonce: @Sendable () -> String, into result: inout NodeDiscovery
    ) async throws(NodeFailure) -> [CommandOutput] {
        do {
            return try await runScript(.sequence(commands, pauseAfterActions: 1), what: "ps/kill", label: "step 1.3",
                                       session: session, timeout: options.commandTimeout, options: options,
                                       nonce: nonce, into: &result).outputs
        } catch {
            throw error.failure
        }
    }

    /// One node script through the session's runner; what arrived (whole or cut short) is
    /// kept in `result` with its framing warnings under `label`.
    static func runScript(
        _ kind: NodeScriptKind, what: String, label: String, session: any RemoteSession, timeout: Duration,
        options: DiscoveryOptions, nonce: @Sendable () -> String, into result: inout NodeDiscovery
    ) async throws(ScriptFailure) -> FramedOutputs {
        func keep(_ f: FramedOutputs) {
            result.outputs += f.outputs
            result.warnings += f.warnings.map { ParseWarning(line: 0, text: "\(label): \($0)") }
        }
        do {
            let framed = try await session.run(kind, what: what, timeout: timeout, outputLimit: options.outputLimit, nonce: nonce())
            keep(framed)
            return framed
        } catch {
            keep(error.partial)
            throw error
        }
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
