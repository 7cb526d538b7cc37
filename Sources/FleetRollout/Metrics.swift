import Foundation
import FleetModel
import FleetStore
#if canImport(Glibc)
import Glibc
#endif

/// What one sweep reports to Prometheus through node_exporter's textfile collector
/// (`--metrics-file /var/lib/prometheus/node-exporter/fleet.prom`). Every value describes
/// the last run (gauges), except the last-success timestamp, which survives failed runs.
public struct SweepMetrics: Sendable, Hashable {
    /// Maps per node and verdict, healthy maps left out (per-node series stay few).
    public var mapsByNode: [String: [Verdict: Int]] = [:]
    /// Selected nodes per transport status.
    public var nodesByStatus: [NodeStatus: Int] = [:]
    public var mapsCleaned: Int = 0
    public var mapsCleanFailed: Int = 0
    /// Maps the scan found cleanable but left alone (no --clean, protected, over budget…).
    public var mapsSkipped: Int = 0
    public var startedAt: Date
    public var duration: Duration = .zero
    /// The run finished with every node scanned and no failed clean action.
    public var success: Bool = false
    public var exitCode: Int32 = 0
    /// When the last successful run finished: this run's end if it succeeded, else the
    /// previous file's value (see ``previousLastSuccess(path:)``).
    public var lastSuccess: Date?

    public init(startedAt: Date) { self.startedAt = startedAt }

    /// Adds one scanned node.
    public mutating func add(_ scan: NodeScan) {
        nodesByStatus[scan.status, default: 0] += 1
        var counts = mapsByNode[scan.node] ?? [:]
        for f in scan.findings where f.verdict != .healthy { counts[f.verdict, default: 0] += 1 }
        mapsByNode[scan.node] = counts
    }

    // MARK: - Text format

    /// Prometheus text exposition format 0.0.4, with HELP and TYPE for every family.
    public func render() -> String {
        var out = ""
        func family(_ name: String, _ help: String, _ samples: [(labels: [(String, String)], value: String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for s in samples {
                let labels = s.labels.isEmpty ? "" :
                    "{" + s.labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
                out += "\(name)\(labels) \(s.value)\n"
            }
        }
        var perNode: [(labels: [(String, String)], value: String)] = []
        for node in mapsByNode.keys.sorted() {
            for (verdict, n) in mapsByNode[node]!.sorted(by: { $0.key < $1.key }) where n > 0 {
                perNode.append(([("node", node), ("verdict", verdict.rawValue)], String(n)))
            }
        }
        family("fleet_sweep_maps", "Multipath maps found by the last sweep, per node and verdict (healthy maps not counted).", perNode)
        var byVerdict: [Verdict: Int] = [:]
        for counts in mapsByNode.values { for (v, n) in counts { byVerdict[v, default: 0] += n } }
        family("fleet_sweep_maps_by_verdict", "Multipath maps found by the last sweep on all nodes, per verdict (healthy maps not counted).",
               Verdict.allCases.filter { $0 != .healthy }.map { ([("verdict", $0.rawValue)], String(byVerdict[$0] ?? 0)) })
        family("fleet_sweep_nodes", "Nodes of the last sweep per status (ok: scanned; anything else: could not be scanned).",
               NodeStatus.allCases.map { ([("status", $0.rawValue)], String(nodesByStatus[$0] ?? 0)) })
        family("fleet_sweep_maps_cleaned", "Maps the last sweep cleaned (flushed and path devices deleted).", [([], String(mapsCleaned))])
        family("fleet_sweep_maps_clean_failed", "Maps the last sweep tried to clean and failed.", [([], String(mapsCleanFailed))])
        family("fleet_sweep_maps_skipped", "Cleanable maps the last sweep left in place (no --clean, protected or over a limit).", [([], String(mapsSkipped))])
        family("fleet_sweep_duration_seconds", "Wall-clock duration of the last sweep.", [([], Self.number(duration))])
        family("fleet_sweep_success", "1 when the last sweep scanned every node and no clean action failed, else 0.", [([], success ? "1" : "0")])
        family("fleet_sweep_exit_code", "Exit code of the last sweep.", [([], String(exitCode))])
        family("fleet_sweep_last_run_timestamp_seconds", "When the last sweep started (Unix time).",
               [([], Self.number(startedAt.timeIntervalSince1970))])
        if let lastSuccess {
            family("fleet_sweep_last_success_timestamp_seconds", "When the last successful sweep ended (Unix time).",
                   [([], Self.number(lastSuccess.timeIntervalSince1970))])
        }
        return out
    }

    /// Writes ``render()`` to `path` atomically (``AtomicFile``: the temporary file's dot name
    /// does not end in `.prom`, so the collector never reads it half-written).
    public func write(to path: String) throws {
        do {
            try AtomicFile.write(Array(render().utf8), to: path)
        } catch let e as AtomicFileError {
            throw MetricsError(e.description)
        }
    }

    /// The last-success timestamp of an earlier metrics file, so a failed run keeps it.
    public static func previousLastSuccess(path: String) -> Date? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("fleet_sweep_last_success_timestamp_seconds ") {
            if let v = Double(line.split(separator: " ").last ?? "") { return Date(timeIntervalSince1970: v) }
        }
        return nil
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ d: Duration) -> String {
        number(d.timeInterval)
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(format: "%.3f", v)
    }
}

public struct MetricsError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ d: String) { description = d }
}
