import ArgumentParser
import Foundation
import FleetModel
import FleetStore

private typealias T = HistoryTable

private func start(of window: DurationArgument?, now: Date) -> Date? {
    window.map { now.addingTimeInterval(-$0.duration.timeInterval) }
}

struct HistoryRuns: HistoryRendering {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List runs, newest first.",
        discussion: "  $ fleet history runs --kind sweep --since 7d")
    @OptionGroup var listing: HistoryListingOptions
    @Option(help: "Only runs of this kind: scan, clean or sweep.")
    var kind: RunKind?
    @Option(help: "Only runs started within this long (e.g. 7d).")
    var since: DurationArgument?

    func validate() throws { try DurationArgument.requirePositive(since, "--since") }
    @Option(help: "At most this many runs (0: all).")
    var limit: Int = 20

    func run() async throws { try renderToStandardOutput() }

    func render(_ db: FleetDatabase, now: Date) throws -> String {
        let runs = try db.runs(limit: limit, kind: kind, since: start(of: since, now: now))
        var t = T(columns: ["ID", "KIND", "STARTED", "ENDED", "STATUS", "EXIT", "NODES", "NODES_OK", "RESIDUAL", "ACTIONS", "INVENTORY"])
        t.rows = runs.map { r in
            [String(r.id), r.kind.rawValue, T.time(r.startedAt), T.time(r.endedAt), r.status.rawValue, T.cell(r.exitCode),
             String(r.nodes), String(r.nodesOK), String(r.residualMaps), String(r.actions), T.cell(r.inventory)]
        }
        return try t.render(listing.format) { try HistoryJSON.encode(runs.map(HistoryRunJSON.init)) }
    }
}

/// A run in JSON: the record with its options as a JSON object rather than a string.
/// (Object keys are not snake_cased by the encoder: they are the options as stored.)
struct HistoryRunJSON: Encodable {
    var run: RunRecord
    func encode(to encoder: any Encoder) throws {
        try run.encode(to: encoder)
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(HistoryJSONValue(text: run.options), forKey: Key(stringValue: "options")!)
    }
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension RunKind: ExpressibleByArgument {}

struct HistoryRun: HistoryRendering {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Summary of one run: its nodes, verdict counts and actions.",
        discussion: "  $ fleet history run 42 --format json")
    @OptionGroup var listing: HistoryListingOptions
    @Argument(help: "Run id (see `fleet history runs`).")
    var id: Int64

    struct JSONShape: Encodable {
        var run: HistoryRunJSON
        var verdicts: [String: Int]
        var actionOutcomes: [String: Int]
        var nodes: [NodeRunRecord]
    }

    func run() async throws { try renderToStandardOutput() }

    func render(_ db: FleetDatabase, now: Date) throws -> String {
        guard let d = try db.runDetail(id: id) else {
            throw ValidationError("no run \(id) in \(db.path)")
        }
        var t = T(columns: ["NODE", "ADDRESS", "STATUS", "STARTED", "DURATION_MS", "MAPS", "RESIDUAL", "ERROR"])
        t.rows = d.nodes.map { n in
            [n.node, n.address, n.status.rawValue, T.time(n.startedAt), String(n.durationMS), String(n.maps),
             String(n.residualMaps), T.cell(n.error)]
        }
        switch listing.format {
        case .json:
            return try HistoryJSON.encode(JSONShape(
                run: HistoryRunJSON(run: d.run),
                verdicts: Dictionary(uniqueKeysWithValues: d.verdicts.map { ($0.key.rawValue, $0.value) }),
                actionOutcomes: Dictionary(uniqueKeysWithValues: d.actionOutcomes.map { ($0.key.rawValue, $0.value) }),
                nodes: d.nodes))
        case .csv:
            return t.csv()
        case .table:
            let r = d.run
            var head = "run \(r.id): \(r.kind.rawValue), \(r.status.rawValue)"
            if let e = r.exitCode { head += " (exit \(e))" }
            head += "\nstarted \(T.time(r.startedAt))"
            if let e = r.endedAt { head += ", ended \(T.time(e))" }
            head += ", fleet \(r.fleetVersion)"
            if let inv = r.inventory { head += ", inventory \(inv)" }
            head += "\nnodes: \(r.nodes) (\(r.nodesOK) ok)"
            let byStatus = Dictionary(grouping: d.nodes, by: \.status).map { "\($0.key.rawValue) \($0.value.count)" }.sorted()
            if !byStatus.isEmpty { head += ": " + byStatus.joined(separator: ", ") }
            let verdicts = d.verdicts.sorted { $0.key < $1.key }.map { "\($0.key.rawValue) \($0.value)" }
            head += "\nmaps: " + (verdicts.isEmpty ? "none" : verdicts.joined(separator: ", "))
            let actions = d.actionOutcomes.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }
            head += "\nactions: " + (actions.isEmpty ? "none" : actions.joined(separator: ", "))
            return head + "\n\n" + t.table()
        }
    }
}

struct HistoryNode: HistoryRendering {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Timeline of one node: its maps and verdicts in each scan, newest first.",
        discussion: "  $ fleet history node worker-17 --since 14d")
    @OptionGroup var listing: HistoryListingOptions
    @Argument(help: "Node name as in the inventory.")
    var name: String
    @Option(help: "Only scans within this long (e.g. 14d).")
    var since: DurationArgument?

    func validate() throws { try DurationArgument.requirePositive(since, "--since") }
    @Option(help: "At most this many scans (0: all).")
    var limit: Int = 30

    func run() async throws { try renderToStandardOutput() }

    func render(_ db: FleetDatabase, now: Date) throws -> String {
        let entries = try db.nodeTimeline(node: name, since: start(of: since, now: now), limit: limit)
        var t = T(columns: ["RUN", "KIND", "TIME", "STATUS", "MAP", "WWID", "DM", "VERDICT", "REASON"])
        for e in entries {
            let head = [String(e.runID), e.runKind.rawValue, T.time(e.startedAt), e.status.rawValue]
            if e.maps.isEmpty {
                t.rows.append(head + ["", "", "", "", T.cell(e.error)])
            }
            for m in e.maps {
                t.rows.append(head + [T.cell(m.name), T.cell(m.wwid), T.cell(m.dm), m.verdict.rawValue, m.reasons.first ?? ""])
            }
        }
        return try t.render(listing.format) { try HistoryJSON.encode(entries) }
    }
}

struct HistoryResiduals: HistoryRendering {
    static let configuration = CommandConfiguration(
        commandName: "residuals",
        abstract: "Maps residual now, or at any time in a window, per node and WWID.",
        discussion: """
            Without --since: maps residual in each node's latest successful scan, with first and
            last seen and run count over the whole history. With --since: maps residual at least
            once in the window (counts within it); NOW says whether they still are.

              $ fleet history residuals --since 7d
            """)
    @OptionGroup var listing: HistoryListingOptions
    @Option(help: "Window (e.g. 7d); default: residual now.")
    var since: DurationArgument?

    func validate() throws { try DurationArgument.requirePositive(since, "--since") }
    @Option(help: "At most this many rows (0: all).")
    var limit: Int = 0

    func run() async throws { try renderToStandardOutput() }

    func render(_ db: FleetDatabase, now: Date) throws -> String {
        let rows = try db.residuals(since: start(of: since, now: now), limit: limit)
        var t = T(columns: ["NODE", "WWID", "NAME", "DM", "VERDICT", "FIRST_SEEN", "LAST_SEEN", "RUNS", "NOW"])
        t.rows = rows.map { r in
            [r.node, r.wwid, T.cell(r.name), T.cell(r.dm), r.verdict.rawValue, T.time(r.firstSeen), T.time(r.lastSeen),
             String(r.runs), r.residualNow ? "yes" : "no"]
        }
        return try t.render(listing.format) { try HistoryJSON.encode(rows) }
    }
}

struct HistoryActions: HistoryRendering {
    static let configuration = CommandConfiguration(
        commandName: "actions",
        abstract: "Clean actions (what was run, on what, with what outcome), newest first.",
        discussion: "  $ fleet history actions --since 30d --node worker-17")
    @OptionGroup var listing: HistoryListingOptions
    @Option(help: "Only actions planned within this long (e.g. 30d).")
    var since: DurationArgument?

    func validate() throws { try DurationArgument.requirePositive(since, "--since") }
    @Option(help: "Only this node.")
    var node: String?
    @Option(help: "At most this many actions (0: all).")
    var limit: Int = 50

    func run() async throws { try renderToStandardOutput() }

    func render(_ db: FleetDatabase, now: Date) throws -> String {
        let rows = try db.actions(since: start(of: since, now: now), node: node, limit: limit)
        var t = T(columns: ["ID", "RUN", "NODE", "PLANNED", "MAP", "WWID", "KIND", "OUTCOME", "EXIT", "COMMAND", "REASON"])
        t.rows = rows.map { a in
            [String(a.id), String(a.runID), a.node, T.time(a.plannedAt), T.cell(a.mapName), a.wwid, a.kind,
             a.outcome.rawValue, T.cell(a.exitCode), a.command, T.cell(a.reason)]
        }
        return try t.render(listing.format) { try HistoryJSON.encode(rows) }
    }
}

struct HistoryPrune: HistoryRendering {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete runs older than a duration, with everything recorded under them.",
        discussion: """
            Runs still marked running are kept. One transaction per run, oldest first: an
            interrupted prune leaves whole runs, and a sweep starting meanwhile is not held up.

              $ fleet history prune --older-than 90d
            """)
    @OptionGroup var listing: HistoryListingOptions
    @Option(name: .customLong("older-than"), help: "Delete runs started before now minus this (e.g. 90d).")
    var olderThan: DurationArgument

    func validate() throws { try DurationArgument.requirePositive(olderThan, "--older-than") }

    func run() async throws { try renderToStandardOutput() }

    func render(_ db: FleetDatabase, now: Date) throws -> String {
        let cutoff = now.addingTimeInterval(-olderThan.duration.timeInterval)
        let r = try db.prune(olderThan: cutoff)
        var t = T(columns: ["TABLE", "REMOVED"])
        t.rows = [["runs", String(r.runs)], ["node_runs", String(r.nodeRuns)], ["maps", String(r.maps)],
                  ["paths", String(r.paths)], ["raw_outputs", String(r.rawOutputs)], ["actions", String(r.actions)],
                  ["node_states", String(r.states)], ["contents", String(r.contents)]]
        switch listing.format {
        case .json: return try HistoryJSON.encode(r)
        case .csv: return t.csv()
        case .table: return "removed runs started before \(T.time(cutoff)):\n" + t.table()
        }
    }
}
