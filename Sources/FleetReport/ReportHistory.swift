import Foundation
import FleetModel
import FleetStore

/// The time axis of the heatmap and the trend: one column per run while they fit
/// (``HistoryReport/maxRunColumns``), else one per UTC day (hourly sweeps over a month).
struct Columns {
    var byDay: Bool
    /// Short label (`#42`, `12-03`) and tooltip text per column, oldest first.
    var labels: [String] = []
    var titles: [String] = []
    var columnOfRun: [Int64: Int] = [:]
    var count: Int { labels.count }

    init(runs: [RunRecord]) {  // oldest first
        byDay = runs.count > HistoryReport.maxRunColumns
        if byDay {
            var columnOfDay: [String: Int] = [:]
            for r in runs {
                let day = String(ISOTime.format(r.startedAt).prefix(10))
                if columnOfDay[day] == nil {
                    columnOfDay[day] = labels.count
                    labels.append(String(day.dropFirst(5)))
                    titles.append(day)
                }
                columnOfRun[r.id] = columnOfDay[day]
            }
        } else {
            for r in runs {
                columnOfRun[r.id] = labels.count
                labels.append("#\(r.id)")
                titles.append("run \(r.id) (\(r.kind.rawValue)) \(Format.time(r.startedAt))")
            }
        }
    }
}

/// One node over the window, folded from its node_runs (oldest first).
struct NodeHistory {
    static let noScan = -1
    static let unreachable = -2

    /// Per column: the most residual maps any of the node's scans there saw, or
    /// ``noScan`` / ``unreachable`` (scans in that column, none of them reached the node).
    var cells: [Int]
    /// Residual maps summed over every scan: how much residue the node showed in the window.
    var total = 0
    /// Times residual maps appeared on a node that had none at its previous successful scan
    /// (or at its first): a node that keeps coming back has two or more.
    var episodes = 0
    var lastStatus: NodeStatus = .ok
    var lastError: String?
    /// The node's latest successful scan in the window.
    var lastOK: Date?
    /// Residual maps at the node's latest successful scan in the window.
    var lastResidual = 0

    static func fold(_ residues: [NodeRunResidue], columns: Columns) -> [String: NodeHistory] {
        var out: [String: NodeHistory] = [:]
        var i = residues.startIndex
        while i < residues.endIndex {  // residues are sorted by node, then time
            let node = residues[i].node
            var h = NodeHistory(cells: Array(repeating: noScan, count: columns.count))
            var previous = 0
            while i < residues.endIndex, residues[i].node == node {
                let r = residues[i]
                i += 1
                h.lastStatus = r.status
                h.lastError = r.error
                guard let c = columns.columnOfRun[r.runID] else { continue }
                guard r.status == .ok else {
                    if h.cells[c] == noScan { h.cells[c] = unreachable }
                    continue
                }
                h.lastOK = r.startedAt
                h.cells[c] = max(h.cells[c], r.residualMaps)
                h.total += r.residualMaps
                if r.residualMaps > 0, previous == 0 { h.episodes += 1 }
                previous = r.residualMaps
                h.lastResidual = r.residualMaps
            }
            out[node] = h
        }
        return out
    }
}

/// Text formats of the page. Times are UTC, to the minute (the history's own time zone).
enum Format {
    static func time(_ d: Date) -> String {
        let iso = ISOTime.format(d)  // 2026-11-29T18:20:00.000Z
        return String(iso.prefix(10)) + " " + String(iso.dropFirst(11).prefix(5)) + " UTC"
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let s = Int(seconds.rounded())
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \(s % 3600 / 60) min"
    }

    /// CSS class of a verdict chip: from the typed value, so a verdict added later shows up
    /// (with the neutral chip style until report.mustache gives it a colour).
    static func verdictClass(_ v: Verdict) -> String {
        "v-" + v.rawValue + (v.isCleanable ? " cleanable" : "")
    }

    static func cleanupClass(_ o: MapCleanupOutcome) -> String {
        switch o {
        case .cleaned: "s-ok"
        case .failed: "s-bad"
        case .aborted, .unfinished: "s-other"
        }
    }

    /// A command output, cut at `limit` bytes: a node printing megabytes must not make the
    /// page unusable; the history keeps all of it.
    static func output(_ text: String, limit: Int = 8192) -> String {
        guard text.utf8.count > limit else { return text }
        let head = String(decoding: text.utf8.prefix(limit), as: UTF8.self)
        return head + "\n… \(text.utf8.count - limit) more bytes in the history (fleet history actions --format json)"
    }

    /// A run's stored options (a JSON object) as sorted `key: value` rows; nested objects as
    /// `a.b`, arrays comma-separated. Text that is not a JSON object is shown as one row.
    static func options(_ json: String) -> [KeyValue] {
        var out: [KeyValue] = []
        func flatten(_ prefix: String, _ value: HistoryJSONValue) {
            if case .object(let d) = value {
                for k in d.keys.sorted() { flatten(prefix.isEmpty ? k : prefix + "." + k, d[k]!) }
            } else {
                out.append(KeyValue(key: prefix.isEmpty ? "options" : prefix, value: scalar(value)))
            }
        }
        func scalar(_ v: HistoryJSONValue) -> String {
            switch v {
            case .null: "null"
            case .bool(let b): b ? "true" : "false"
            case .number(let n): n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
            case .string(let s): s
            case .array(let a): a.map(scalar).joined(separator: ", ")
            case .object: ""  // flattened above
            }
        }
        flatten("", HistoryJSONValue(text: json))
        return out
    }
}
