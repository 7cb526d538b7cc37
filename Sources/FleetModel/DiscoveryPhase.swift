import Foundation

/// Which discovery a node got in a scan (`node_runs.phase`).
///
/// `phase1`: only the cheap first read ran (`multipathd show maps json`, each `sd*` disk's
/// sysfs state and wwid, read with sh builtins), it showed every path active and nothing
/// changed since the node's last full discovery, so that discovery's maps and verdicts were
/// carried. `full`: the whole discovery ran (sysfs, holders, mounts, openers, probes).
public enum DiscoveryPhase: String, Sendable, Hashable, Codable, CaseIterable {
    case full
    case phase1
}

/// A node's last successful scan as the history holds it: what phase 1 compares against and
/// what a phase-1-only node carries. The store fills it (``FleetStore``); nothing here reads it.
public struct PreviousNodeState: Sendable, Hashable {
    /// The history rows a phase-1-only node run points at again (`node_runs.state_id`,
    /// `output_set_id`): the maps, verdicts and outputs its verdicts rest on.
    public var rows: CarriedRows
    /// That scan's maps and verdicts, when every map was healthy; empty otherwise (see
    /// ``notHealthy``): such a node gets the full discovery whatever phase 1 would say, so what
    /// its maps were is not needed, and not held through that discovery (a 50-map node's
    /// decoded findings, for every such node in flight).
    public var findings: [MapFinding]
    /// The verdicts of that scan's maps that were not healthy, in map order (empty: every map
    /// was healthy, or it had none).
    public var notHealthy: [Verdict]
    /// That scan's outputs of the commands phase 1 runs (``PhaseOne/reads(_:)``).
    public var phase1Outputs: [CommandOutput]
    /// When the full discovery these findings come from ran (the start of the node's latest
    /// successful `full` node run): phase-1 runs carry it forward, they never renew it.
    /// nil: the history has no such time.
    public var fullDiscoveryAt: Date?

    /// A scan whose maps were all healthy (``notHealthy`` is taken from `findings`, so a
    /// state with a map that was not is one phase 1 rules out all the same).
    public init(rows: CarriedRows, findings: [MapFinding], phase1Outputs: [CommandOutput], fullDiscoveryAt: Date?) {
        self.rows = rows; self.findings = findings; self.phase1Outputs = phase1Outputs
        self.fullDiscoveryAt = fullDiscoveryAt
        notHealthy = findings.map(\.verdict).filter { $0 != .healthy }
    }

    /// A scan with maps that were not healthy: only their verdicts.
    public init(rows: CarriedRows, notHealthy: [Verdict], fullDiscoveryAt: Date?) {
        self.rows = rows; findings = []; phase1Outputs = []; self.notHealthy = notHealthy
        self.fullDiscoveryAt = fullDiscoveryAt
    }
}

/// What phase 1 decided for one node.
public enum PhaseDecision: Sendable, Hashable {
    /// Nothing failed, nothing changed: the previous state's healthy maps stand.
    case carry
    /// Run the full discovery; the reason is recorded with the node run (`phase_note`).
    case full(String)
}

/// The decision between phase 1 and the full discovery. Pure. When in doubt it says full:
/// a wrong "healthy" is worse than a slow scan.
public enum PhaseOne {
    /// True for the commands phase 1 runs: the same typed commands (and capture names) as in
    /// the full discovery, so the outputs compare byte for byte with the last full one's.
    public static func reads(_ c: NodeCommand) -> Bool {
        switch c {
        case .multipathdMapsJSON, .deviceState, .deviceWWID: true
        default: false
        }
    }

    /// Before phase 1: whether the history allows a phase-1-only scan at all. `kubernetes` is
    /// this run's view of the node (nil: the API was not asked). `fullAfter` bounds how old the
    /// carried state's full discovery may be at `now` (`--full-after`; nil: no bound): what
    /// phase 1 does not read (mounts, holders, openers, kubelet's staging records) never
    /// changes a healthy verdict, but the evidence carried with it is only as fresh as that.
    public static func precheck(previous: PreviousNodeState?, kubernetes: KubeNodeView?,
                                now: Date, fullAfter: Duration?) -> PhaseDecision {
        guard let previous else { return .full("no earlier scan of this node in the history") }
        let unhealthy = previous.notHealthy
        if !unhealthy.isEmpty {
            let verdicts = Set(unhealthy.map(\.rawValue)).sorted().joined(separator: ", ")
            return .full("the last scan found \(unhealthy.count) map\(unhealthy.count == 1 ? "" : "s") not healthy (\(verdicts))")
        }
        if let fullAfter {
            guard let at = previous.fullDiscoveryAt else {
                return .full("the history has no time for the last full discovery (--full-after \(fullAfter.compactText))")
            }
            // Older than the bound, not equal to it. A time more than a second ahead of `now`
            // (the clock was set back since) says nothing about its age: full as well. Less is
            // the history's millisecond rounding of a scan at the same instant.
            let age = now.timeIntervalSince(at)
            if age < -1 {
                return .full("the last full discovery is dated \(Duration.seconds(-age).compactText) ahead of this run's clock")
            }
            if age > fullAfter.timeInterval {
                return .full("the last full discovery was \(Duration.seconds(age).compactText) ago, more than --full-after \(fullAfter.compactText)")
            }
        }
        guard previous.phase1Outputs.contains(where: { $0.command == .multipathdMapsJSON }) else {
            return .full("the last scan has no multipathd show maps json output to compare with")
        }
        // The Kubernetes evidence a carried map would get now must be what it has: an attach,
        // a detach, or a different API answer (or asking where the last scan did not) is a change.
        for f in previous.findings {
            let now: KubeMapWitness? = kubernetes.flatMap { view in f.map.wwid.map { Witnesses.witness($0, view) } }
            if now != f.evidence.kubernetes {
                return .full("Kubernetes now says something else about \(f.map.name ?? f.map.wwid ?? "a map")")
            }
        }
        return .carry
    }

    /// After phase 1: `outputs` and `framingWarnings` are what the phase-1 script returned.
    public static func decide(outputs: [CommandOutput], framingWarnings: [String], previous: PreviousNodeState) -> PhaseDecision {
        if let w = framingWarnings.first { return .full("phase 1 output: \(w)") }
        if let bad = outputs.first(where: { $0.exitCode != 0 }) {
            return .full("phase 1: \(bad.command.display) exited \(bad.exitCode.map(String.init) ?? "without a code")")
        }
        guard let json = outputs.first(where: { $0.command == .multipathdMapsJSON }) else {
            return .full("phase 1 returned no multipathd show maps json")
        }
        let parsed = MultipathdJSONParser.parse(json.stdout)
        if let w = parsed.warnings.first { return .full("multipathd show maps json: \(w.text)") }
        for m in parsed.value {
            let name = m.name ?? m.wwid ?? "?"
            if m.dmState != "active" { return .full("map \(name): dm state \(m.dmState ?? "missing")") }
            if m.paths.isEmpty { return .full("map \(name) has no paths") }
            for p in m.paths {
                let ok = p.dmState == "active" && (p.checkerState == "ready" || p.checkerState == "ghost") && p.devState == "running"
                if !ok {
                    return .full("map \(name) path \(p.dev ?? "?"): \(p.dmState ?? "-") \(p.checkerState ?? "-") \(p.devState ?? "-")")
                }
            }
        }
        for o in outputs {
            if case .deviceState(let d) = o.command, o.stdout != "running\n" {
                return .full("sysfs: \(d) is \(o.stdout.trimmedLine)")
            }
        }
        // Nothing failed; now nothing may have changed: the same reads, byte for byte.
        var before: [String: CommandOutput] = [:]
        for o in previous.phase1Outputs { before[o.command.captureName] = o }
        var seen = Set<String>()
        for o in outputs {
            let name = o.command.captureName
            seen.insert(name)
            guard let old = before[name] else { return .full("new since the last scan: \(name)") }
            if old.stdout != o.stdout || old.exitCode != o.exitCode || old.stderr != o.stderr {
                return .full("\(o.command.display) differs from the last full discovery's")
            }
        }
        if let gone = before.keys.sorted().first(where: { !seen.contains($0) }) {
            return .full("gone since the last scan: \(gone)")
        }
        // The same JSON also means the same maps; check the carried ones are those maps.
        let wwidsNow = parsed.value.compactMap(\.wwid).sorted(), wwidsBefore = previous.findings.compactMap(\.map.wwid).sorted()
        guard wwidsNow == wwidsBefore, parsed.value.count == previous.findings.count else {
            return .full("the maps multipathd shows are not the ones the last scan classified")
        }
        return .carry
    }
}

extension String {
    fileprivate var trimmedLine: String {
        var s = Substring(self)
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return s.isEmpty ? "empty" : String(s)
    }
}
