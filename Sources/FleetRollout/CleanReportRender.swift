import Foundation
import FleetModel

/// What `fleet clean` prints: per node what was (or would be) done and why, what was left and
/// why, then a summary line (table); or one JSON document (json).
///
/// Built while the clean runs, so that memory does not grow with the fleet: each node's part
/// (its table section, or its JSON object) is rendered once the node's result is final and
/// appended to a ``ReportSpool`` (an unlinked temporary file); only an offset and a length per
/// node stay in memory. ``write(_:to:)`` copies the parts out in selection order, a chunk at
/// a time, with the summary (or the JSON document's header, which needs the final counts).
/// The text is the same as when the whole report was built in memory.
public final class CleanReport: CleanSink {
    public let json: Bool
    public let execute: Bool
    private let spool: ReportSpool
    /// Per selection index: where the node's part is in the spool.
    private var parts: [Part]
    private struct Part { var offset: Int64 = 0; var length: UInt32 = 0 }
    private let encoder: JSONEncoder

    public init(json: Bool, execute: Bool, nodes: Int, spool: ReportSpool = ReportSpool()) {
        self.json = json
        self.execute = execute
        self.spool = spool
        parts = [Part](repeating: Part(), count: nodes)
        encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
    }

    /// Bytes of node parts written so far (in the spool, not in memory).
    public var spooledBytes: Int64 { spool.size }
    /// Bytes of the spool held in memory: at most one flush threshold while the file works.
    public var bufferedBytes: Int { spool.bufferedBytes }

    public func add(_ result: NodeCleanResult, at index: Int) {
        let bytes: [UInt8] = json ? Array(Self.indented((try? encoder.encode(result)).map { String(decoding: $0, as: UTF8.self) } ?? "{}").utf8)
            : Array(Self.section(result, execute: execute).utf8)
        parts[index] = Part(offset: spool.size, length: spool.append(bytes))
    }

    /// Prints the whole report through `out`, in chunks of about 64 KiB.
    public func write(_ report: CleanRunReport, to out: @escaping (String) -> Void) {
        var chunk = ChunkedOutput(out: out)
        defer { chunk.flush() }
        if !json {
            for p in parts { chunk.add(String(decoding: spool.read(offset: p.offset, length: Int(p.length)), as: UTF8.self)) }
            chunk.add("\n" + report.summaryLine() + "\n")
            return
        }
        // The document with an empty node list, split where the nodes go: the header is
        // encoded exactly as the whole document was, and the empty list's text (with its line
        // breaks) cannot occur inside a string value.
        let text = (try? encoder.encode(Header(report))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let empty = "\"nodes\" : [\n\n  ]"
        guard !parts.isEmpty, let hole = text.range(of: empty) else { chunk.add(text + "\n"); return }
        chunk.add(String(text[..<hole.lowerBound]) + "\"nodes\" : [\n")
        for (k, p) in parts.enumerated() {
            if k > 0 { chunk.add(",\n") }
            chunk.add(String(decoding: spool.read(offset: p.offset, length: Int(p.length)), as: UTF8.self))
        }
        chunk.add("\n  ]" + String(text[hole.upperBound...]) + "\n")
    }

    /// A node's pretty-printed object as it sits in the document's `nodes` list: two levels
    /// down, every line but the blank ones (an empty list's) indented by four spaces.
    static func indented(_ object: String) -> String {
        object.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : "    " + $0 }.joined(separator: "\n")
    }

    /// The JSON document's fields besides the nodes (as `CleanRunReport` was encoded whole).
    struct Header: Encodable {
        var run: Int64
        var execute: Bool
        var fromRun: Int64?
        var confirmAfterSeconds: Int64
        var nodes: [NodeCleanResult] = []
        var end: RolloutEnd
        var notStarted: [String]
        var exitCode: Int32
        var kubernetesUnavailable: String?
        var kubernetesSource: String?
        init(_ r: CleanRunReport) {
            run = r.run; execute = r.execute; fromRun = r.fromRun; confirmAfterSeconds = r.confirmAfterSeconds
            end = r.end; notStarted = r.notStarted; exitCode = r.exitCode
            kubernetesUnavailable = r.kubernetesUnavailable; kubernetesSource = r.kubernetesSource
        }
    }

    /// One node's part of the table: its line, its maps (with the commands run or to run),
    /// the maps left alone.
    public static func section(_ n: NodeCleanResult, execute: Bool) -> String {
        var s = ""
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
        return s
    }
}


extension CleanRunReport {
    /// The last line of the table: what was done (or would be) over every node, how the run ended.
    public func summaryLine() -> String {
        var parts: [String] = []
        if execute {
            parts.append("run \(run): \(mapsCleaned) map(s) cleaned, \(mapsFailed) failed, \(mapsAborted) aborted (changed since plan)")
            if mapsPlanned > 0 { parts.append("\(mapsPlanned) not started") }
        } else {
            parts.append("dry run \(run): \(mapsPlanned) map(s) to clean on \(summary.nodesWithMaps) node(s)")
        }
        parts.append("\(mapsLeft) left alone")
        if mapsWaiting > 0 { parts.append("\(mapsWaiting) waiting for confirmation") }
        let unscanned = summary.nodesNotOK
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
}
