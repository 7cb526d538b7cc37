import Foundation
import FleetModel

extension CleanRunReport {
    /// Per node: what was (or would be) done and why, what was left and why; then a summary.
    public func table() -> String {
        var s = ""
        for n in nodes {
            let counts: String
            if execute {
                let c = n.maps.filter { $0.outcome == .cleaned }.count, f = n.maps.filter { $0.outcome == .failed }.count
                let a = n.maps.filter { $0.outcome == .aborted }.count, ns = n.maps.filter { $0.outcome == .planned }.count
                counts = "\(c) cleaned, \(f) failed, \(a) aborted" + (ns > 0 ? ", \(ns) not started" : "") + ", \(n.left.count) left alone"
            } else {
                counts = "\(n.maps.count) to clean, \(n.left.count) left alone"
            }
            s += "\(n.node) (\(n.address))" + (n.batch > 0 ? " batch \(n.batch)" : "") + ": \(counts)"
            if n.status != .ok || n.error != nil { s += " [\(n.status.rawValue)\(n.error.map { ": \($0)" } ?? "")]" }
            s += "\n"
            if !n.closedUnfinished.isEmpty {
                s += "  note: closed \(n.closedUnfinished.count) unfinished action(s) of an interrupted earlier run (ids \(n.closedUnfinished.map(String.init).joined(separator: ",")))\n"
            }
            for m in n.maps {
                let c = m.cleanup
                let label: String
                switch m.outcome {
                case .planned: label = execute ? "NOT RUN" : "CLEAN"
                case .cleaned: label = "CLEANED"
                case .failed: label = "FAILED"
                case .aborted: label = "ABORTED"
                }
                s += "  \(label.padding(toLength: 8, withPad: " ", startingAt: 0)) \(c.name) (\(c.wwid)) \(c.dm) disks \(c.disks.map(\.rawValue).joined(separator: ",")) — \(c.reasons.joined(separator: "; "))\n"
                if let r = m.reason { s += "           \(r)\n" }
                if m.steps.isEmpty, m.outcome == .planned {
                    for cmd in c.commands {
                        s += "      $ \(cmd.display)\n"
                        guard case .multipathdDisableQueueing(let name) = cmd else { continue }
                        s += "      $ \(NodeCommand.disableQueueing(name).display)   (only if multipathd's command fails)\n"
                        s += "        wait for the stuck readers to exit with EIO (bounded), then (procedure step 1.3):\n"
                        if let pids = c.stuckReaders {
                            let list = pids.isEmpty ? "none seen by the scan" : pids.map(String.init).joined(separator: ", ")
                            s += "      $ kill -9 <each stuck reader still there: \(list)>\n"
                        } else {
                            s += "      $ kill -9 <pid of any dd still reading /dev/\(c.dm)>\n"
                        }
                        s += "        re-read the open count: only at 0 go on; otherwise stop here, no disk deleted\n"
                    }
                } else {
                    for st in m.steps {
                        let rc = st.exitCode.map { " exit \($0)" } ?? ""
                        var line = "      $ \(st.command)   [\(st.outcome.rawValue)\(rc)\(st.durationMS > 0 ? ", \(st.durationMS) ms" : "")]"
                        let err = st.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                        if st.outcome != .ok, !err.isEmpty { line += " \(err.split(separator: "\n").last.map(String.init) ?? "")" }
                        if let note = st.note, st.outcome != .ok || note.hasPrefix("attempt") { line += " (\(note))" }
                        s += line + "\n"
                    }
                }
            }
            // Healthy maps on one line (the JSON has each with its reasons); every other map
            // left alone gets its own line with every reason.
            let healthy = n.left.filter { $0.verdict == .healthy && $0.reasons.count <= 2 }
            if !healthy.isEmpty {
                s += "  LEAVE    healthy: " + healthy.map { "\($0.name ?? "?") (\($0.dm ?? "?"))" }.joined(separator: ", ") + "\n"
            }
            for l in n.left where !healthy.contains(l) {
                s += "  LEAVE    \(l.name ?? "?") (\(l.wwid ?? "no WWID")) \(l.dm ?? "?") \(l.verdict.rawValue) — \(l.reasons.map(\.description).joined(separator: "; "))\n"
            }
        }
        s += "\n" + summary() + "\n"
        return s
    }

    public func summary() -> String {
        var parts: [String] = []
        if execute {
            parts.append("run \(run): \(mapsCleaned) map(s) cleaned, \(mapsFailed) failed, \(mapsAborted) aborted (changed since plan)")
            if mapsPlanned > 0 { parts.append("\(mapsPlanned) not started") }
        } else {
            parts.append("dry run \(run): \(mapsPlanned) map(s) to clean on \(nodes.filter { !$0.maps.isEmpty }.count) node(s)")
        }
        parts.append("\(mapsLeft) left alone")
        if mapsWaiting > 0 { parts.append("\(mapsWaiting) waiting for confirmation") }
        let unscanned = nodes.filter { $0.status != .ok }.count
        if unscanned > 0 { parts.append("\(unscanned) node(s) failed or unreachable") }
        var s = parts.joined(separator: ", ") + "."
        switch end {
        case .maxFailures: s += " Stopped: failures exceeded --max-failures; \(notStarted.count) node(s) not started."
        case .interrupted: s += " Interrupted by a signal; \(notStarted.count) node(s) not started."
        case .completed: break
        }
        if let k = kubernetesUnavailable {
            s += " NOTHING CLEANED: \(k); fix access (docs/kubernetes.md) or pass --no-kubernetes."
        } else if let src = kubernetesSource {
            s += " Kubernetes: \(src)."
        }
        if !execute, mapsPlanned > 0 { s += " Nothing was changed; run again with --execute to act." }
        return s
    }

    public func json() -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return String(decoding: (try? e.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
