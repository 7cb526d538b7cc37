import Foundation
import FleetModel
import FleetRollout
#if canImport(Glibc)
import Glibc
#endif

/// The scan's printed result: a table for people, one JSON document for programs.
///
/// Built while the scan runs, so that memory does not grow with the fleet: each node's part
/// (its table rows, or its JSON object) is rendered as the node finishes and appended to a
/// ``ReportSpool`` (an unlinked temporary file); only an offset and lengths per node stay in
/// memory, plus the table's column widths. ``write(run:inventory:database:summary:exitCode:to:)``
/// prints the header, which needs the final counts, then copies the parts out in inventory
/// order, a chunk at a time. The text is the same as when the whole report was built in memory.
final class ScanReport: ScanSink {
    let format: OutputFormat
    private let spool: ReportSpool
    /// Per inventory index: where the node's part is in the spool. Table: map rows, then the
    /// not-scanned row, then the note. JSON: the node object.
    private var parts: [Part]
    private struct Part {
        var offset: Int64 = 0
        var rows: UInt32 = 0, failed: UInt32 = 0, note: UInt32 = 0
    }
    private var rowWidths = ScanReport.rowHeader.map(\.count)
    private var failedWidths = ScanReport.failedHeader.map(\.count)
    private var rowCount = 0, failedCount = 0, noteCount = 0
    private let encoder: JSONEncoder

    /// Verdicts worth a line per map in the table (the counts cover the rest).
    static let listed: Set<Verdict> = [.residual, .residualHung, .inUse, .pathLoss, .needsReview]
    static let rowHeader = ["NODE", "MAP", "WWID", "DM", "VERDICT", "WHY"]
    static let failedHeader = ["NODE", "ADDRESS", "STATUS", "ERROR"]

    init(format: OutputFormat, nodes: Int, spool: ReportSpool = ReportSpool()) {
        self.format = format
        self.spool = spool
        parts = [Part](repeating: Part(), count: nodes)
        encoder = JSONEncoder()
        // Sorted keys: Foundation's JSONEncoder on Linux does not keep declaration order, and
        // a stable order keeps runs diff-able.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    /// Bytes of node parts written so far (in the spool, not in memory).
    var spooledBytes: Int64 { spool.size }
    /// Bytes of the spool held in memory: at most one flush threshold while the file works.
    var bufferedBytes: Int { spool.bufferedBytes }

    // MARK: - Adding nodes (ScanSink)

    func add(_ n: NodeScan, at index: Int) {
        var part = Part(offset: spool.size)
        switch format {
        case .json:
            let node = JSONNode(node: n.node, address: n.address, status: n.status, error: n.error,
                                durationMs: n.duration.milliseconds, maps: n.findings.map(ExplainMap.init(finding:)),
                                warnings: n.warnings)
            part.rows = spool.append(node.encoderJSON() ?? (try? encoder.encode(node)).map { Array($0) } ?? Array("{}".utf8))
        case .table:
            var rows: [[String]] = []
            for f in n.findings.sorted(by: { $0.verdict < $1.verdict }) where Self.listed.contains(f.verdict) {
                rows.append([n.node, f.map.name ?? "-", f.map.wwid ?? "-", f.map.dm ?? "-", f.verdict.rawValue,
                             f.reasons.joined(separator: "; ")])
            }
            if !rows.isEmpty {
                Self.widen(&rowWidths, rows)
                rowCount += rows.count
                part.rows = spool.append(CellCoding.encode(rows))
            }
            if n.status != .ok {
                let row = [n.node, n.address, n.status.rawValue, n.error ?? "-"]
                Self.widen(&failedWidths, [row])
                failedCount += 1
                part.failed = spool.append(CellCoding.encode([row]))
            } else if let e = n.error {
                noteCount += 1
                part.note = spool.append(Array(e.utf8))
            }
        }
        parts[index] = part
    }

    // MARK: - Printing

    /// Prints the whole report through `out`, in chunks of about 64 KiB.
    func write(run: Int64, inventory: String, database: String, summary s: ScanSummary, exitCode: Int32,
               to out: @escaping (String) -> Void) {
        var chunk = ChunkedOutput(out: out)
        defer { chunk.flush() }
        switch format {
        case .table:
            chunk.add("scanned \(s.nodes) nodes in \(Self.seconds(s.elapsed)): ")
            chunk.add("\(s.nodes - s.nodesFailed) ok, \(s.nodesFailed) not scanned; ")
            chunk.add("\(s.maps) maps, \(s.nodesWithResidualMaps) nodes with residual maps (run \(run), \(database))\n")
            if rowCount > 0 {
                chunk.add("\n" + Self.line(Self.rowHeader, rowWidths))
                for p in parts where p.rows > 0 {
                    for r in CellCoding.decode(spool.read(offset: p.offset, length: Int(p.rows))) {
                        chunk.add(Self.line(r, rowWidths))
                    }
                }
            }
            if failedCount > 0 {
                chunk.add("\nnot scanned:\n" + Self.line(Self.failedHeader, failedWidths))
                for p in parts where p.failed > 0 {
                    for r in CellCoding.decode(spool.read(offset: p.offset + Int64(p.rows), length: Int(p.failed))) {
                        chunk.add(Self.line(r, failedWidths))
                    }
                }
            }
            if noteCount > 0 {
                chunk.add("\nnotes:\n")
                for p in parts where p.note > 0 {
                    let bytes = spool.read(offset: p.offset + Int64(p.rows) + Int64(p.failed), length: Int(p.note))
                    chunk.add("  " + String(decoding: bytes, as: UTF8.self) + "\n")
                }
            }
            let byVerdict = Verdict.allCases.sorted().compactMap { v in s.mapsByVerdict[v].map { "\(v.rawValue) \($0)" } }
            let byStatus = NodeStatus.allCases.compactMap { st in s.nodesByStatus[st].map { "\(st.rawValue) \($0)" } }
            chunk.add("\nmaps by verdict: " + (byVerdict.isEmpty ? "none" : byVerdict.joined(separator: ", ")) + "\n")
            chunk.add("nodes by status: " + (byStatus.isEmpty ? "none" : byStatus.joined(separator: ", ")) + "\n")
        case .json:
            // The document with an empty node list, split where the nodes go: the header is
            // encoded exactly as before, and `"nodes":[]` cannot occur inside a string value
            // (a quote there is escaped).
            let doc = JSONDoc(
                run: run, inventory: inventory, database: database, exitCode: exitCode, elapsedMs: s.elapsed.milliseconds,
                nodesByStatus: Dictionary(uniqueKeysWithValues: s.nodesByStatus.map { ($0.key.rawValue, $0.value) }),
                mapsByVerdict: Dictionary(uniqueKeysWithValues: s.mapsByVerdict.map { ($0.key.rawValue, $0.value) }),
                nodesWithResidualMaps: s.nodesWithResidualMaps, nodes: [])
            let text = (try? encoder.encode(doc)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            guard let hole = text.range(of: #""nodes":[]"#) else { chunk.add(text + "\n"); return }
            chunk.add(String(text[..<hole.lowerBound]) + #""nodes":["#)
            var first = true
            for p in parts where p.rows > 0 {
                if !first { chunk.add(",") }
                first = false
                chunk.add(String(decoding: spool.read(offset: p.offset, length: Int(p.rows)), as: UTF8.self))
            }
            chunk.add("]" + String(text[hole.upperBound...]) + "\n")
        }
    }

    struct JSONNode: Encodable {
        var node: String, address: String, status: NodeStatus, error: String?, durationMs: Int64
        var maps: [ExplainMap], warnings: [ParseWarning]
        enum CodingKeys: String, CodingKey { case node, address, status, error, durationMs, maps, warnings }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(node, forKey: .node); try c.encode(address, forKey: .address)
            try c.encode(status, forKey: .status); try c.encode(error, forKey: .error)
            try c.encode(durationMs, forKey: .durationMs); try c.encode(maps, forKey: .maps)
            try c.encode(warnings, forKey: .warnings)
        }

        /// The bytes `encoder` writes for this node (`.sortedKeys, .withoutEscapingSlashes`),
        /// written by hand (perf: JSONEncoder's generic paths were most of the report's CPU);
        /// nil for text ``EncoderJSON`` leaves to the encoder. Keys in the encoder's sorted order.
        func encoderJSON() -> [UInt8]? {
            var out = EncoderJSON(escapesSlashes: false, capacity: 512 + 640 * maps.count)
            do {
                out.raw(#"{"address":"#); try out.string(address)
                out.raw(#","durationMs":"#); out.int(durationMs)
                out.raw(#","error":"#); try out.string(orNull: error)
                out.raw(#","maps":"#)
                try out.array(maps) { (o, m) throws(EncoderJSON.Unsupported) in
                    o.raw(#"{"dm":"#); try o.string(orNull: m.dm)
                    o.raw(#","features":"#); try o.string(orNull: m.features)
                    o.raw(#","hwhandler":"#); try o.string(orNull: m.hwhandler)
                    o.raw(#","name":"#); try o.string(orNull: m.name)
                    o.raw(#","pathGroups":"#)
                    try o.array(m.pathGroups) { (o, g) throws(EncoderJSON.Unsupported) in
                        o.raw(#"{"paths":"#)
                        try o.array(g.paths) { (o, p) throws(EncoderJSON.Unsupported) in
                            o.raw(#"{"checkerState":"#); try o.string(orNull: p.checkerState?.rawValue)
                            o.raw(#","dev":"#); try o.string(orNull: p.dev)
                            o.raw(#","deviceState":"#); try o.string(orNull: p.deviceState?.rawValue)
                            o.raw(#","dmState":"#); try o.string(orNull: p.dmState?.rawValue)
                            o.raw(#","hctl":"#); try o.string(orNull: p.hctl)
                            o.raw(#","majorMinor":"#); try o.string(orNull: p.majorMinor)
                            o.raw("}")
                        }
                        o.raw(#","policy":"#); try o.string(orNull: g.policy)
                        o.raw(#","prio":"#); o.int(orNull: g.prio)
                        o.raw(#","status":"#); try o.string(orNull: g.status)
                        o.raw("}")
                    }
                    o.raw(#","product":"#); try o.string(orNull: m.product)
                    o.raw(#","reasons":"#); try o.strings(m.reasons)
                    o.raw(#","size":"#); try o.string(orNull: m.size)
                    o.raw(#","vendor":"#); try o.string(orNull: m.vendor)
                    o.raw(#","verdict":"#); try o.string(orNull: m.verdict?.rawValue)
                    o.raw(#","wp":"#); try o.string(orNull: m.wp)
                    o.raw(#","wwid":"#); try o.string(orNull: m.wwid)
                    o.raw("}")
                }
                out.raw(#","node":"#); try out.string(node)
                out.raw(#","status":"#); try out.string(status.rawValue)
                out.raw(#","warnings":"#)
                try out.array(warnings) { (o, w) throws(EncoderJSON.Unsupported) in
                    o.raw(#"{"line":"#); o.int(w.line)
                    o.raw(#","text":"#); try o.string(w.text)
                    o.raw("}")
                }
                out.raw("}")
            } catch {
                return nil
            }
            return out.bytes
        }
    }
    struct JSONDoc: Encodable {
        var run: Int64
        var inventory: String
        var database: String
        var exitCode: Int32
        var elapsedMs: Int64
        var nodesByStatus: [String: Int]
        var mapsByVerdict: [String: Int]
        var nodesWithResidualMaps: Int
        var nodes: [JSONNode]
    }

    static func seconds(_ d: Duration) -> String { String(format: "%.1fs", Double(d.milliseconds) / 1000) }

    static func widen(_ widths: inout [Int], _ rows: [[String]]) {
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    }

    /// One table line: cells padded to the column widths plus two spaces, trailing spaces cut.
    static func line(_ r: [String], _ width: [Int]) -> String {
        var line = ""
        for (i, c) in r.enumerated() {
            line += c
            if i < r.count - 1 { line += String(repeating: " ", count: width[i] - c.count + 2) }
        }
        while line.hasSuffix(" ") { line.removeLast() }
        return line + "\n"
    }
}
