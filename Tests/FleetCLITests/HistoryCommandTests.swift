import Foundation
import FleetModel
import FleetStore
import Testing
@testable import FleetCLI

/// A small history written through the store API:
///  run 1 (scan, t0): worker-1 has mpatha residual (both paths failed faulty) and mpathb
///    healthy; worker-2 timed out.
///  run 2 (clean, t0+1h): multipath -f mpatha on worker-1 ok; delete sdg failed.
///  run 3 (scan, t0+2h): worker-1 only mpathb (mpatha gone); worker-2 has mpathz residual.
/// "now" is t0+3h.
struct HistoryFixture {
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18T11:06:40.000Z
    static let now = t0.addingTimeInterval(3 * 3600)
    static let mpatha = "36001405ae3a4a2b307ccf2a518e52df9"
    static let mpathb = "360014052df940906efa8efc931101de3"
    static let mpathz = "3600a098038303052342445a4a6f0001"
    let dir: String
    let path: String
    let db: FleetDatabase
    var runs: [Int64] = []

    static func map(_ name: String, _ wwid: String, _ dm: String, failed: Bool) -> MapFinding {
        let st: (DMPathState, CheckerState) = failed ? (.failed, .faulty) : (.active, .ready)
        let m = MultipathMap(name: name, wwid: wwid, dm: dm, vendor: "LIO-ORG", product: "lun1", size: "1.0G", features: "0",
                             hwhandler: "1 alua", wp: "rw", pathGroups: [PathGroup(policy: "service-time 0", prio: failed ? 0 : 50, status: "active", paths: [
                                 Path(hctl: "6:0:0:1", dev: "sdg", majorMinor: "8:96", dmState: st.0, checkerState: st.1, deviceState: "running"),
                                 Path(hctl: "7:0:0:1", dev: "sdh", majorMinor: "8:112", dmState: st.0, checkerState: st.1, deviceState: "running"),
                             ])])
        return MapFinding(map: m, verdict: failed ? .residual : .healthy,
                          reasons: failed ? ["all 2 paths failed faulty, probe: Input/output error"] : ["all 2 paths active ready"])
    }

    init() throws {
        dir = NSTemporaryDirectory() + "fleet-history-cli-" + UUID().uuidString
        path = dir + "/h.sqlite"
        db = try FleetDatabase(path: path)
        let t0 = Self.t0
        let r1 = try db.beginRun(kind: .scan, inventory: "nodes.yaml", options: ["forks": 64], version: "0.1.0", startedAt: t0)
        try db.recordNode(run: r1, NodeScan(node: "worker-1", address: "10.0.0.1", status: .ok, startedAt: t0, duration: .milliseconds(800),
                                            findings: [Self.map("mpatha", Self.mpatha, "dm-0", failed: true), Self.map("mpathb", Self.mpathb, "dm-1", failed: false)]))
        try db.recordNode(run: r1, NodeScan(node: "worker-2", address: "10.0.0.2", status: .connectTimeout,
                                            error: "worker-2: connect timed out after 10s, \"retry\" later", startedAt: t0, duration: .seconds(10)))
        try db.finishRun(r1, status: .partial, exitCode: 2, endedAt: t0.addingTimeInterval(12))

        let r2 = try db.beginRun(kind: .clean, inventory: "nodes.yaml", options: ["batch": 1], version: "0.1.0", startedAt: t0.addingTimeInterval(3600))
        let a1 = try db.recordPlannedAction(run: r2, node: "worker-1", wwid: Self.mpatha, mapName: "mpatha", dm: "dm-0",
                                            command: .flushMap(MapName("mpatha")!), plannedAt: t0.addingTimeInterval(3601))
        try db.recordActionStarted(id: a1, at: t0.addingTimeInterval(3602))
        try db.recordActionOutcome(id: a1, outcome: .ok, exitCode: 0, stdout: "", stderr: "", duration: .milliseconds(40), reason: nil,
                                   endedAt: t0.addingTimeInterval(3603))
        let a2 = try db.recordPlannedAction(run: r2, node: "worker-1", wwid: Self.mpatha, mapName: "mpatha", dm: "dm-0",
                                            command: .deleteSCSIDevice(BlockDeviceName("sdg")!), plannedAt: t0.addingTimeInterval(3604))
        try db.recordActionStarted(id: a2, at: t0.addingTimeInterval(3605))
        try db.recordActionOutcome(id: a2, outcome: .failed, exitCode: 1, stdout: "", stderr: "sh: 1: cannot create: Permission denied",
                                   duration: .milliseconds(5), reason: "permission denied, needs root", endedAt: t0.addingTimeInterval(3606))
        try db.finishRun(r2, status: .failed, exitCode: 3, endedAt: t0.addingTimeInterval(3610))

        let r3 = try db.beginRun(kind: .scan, inventory: "nodes.yaml", options: ["forks": 64], version: "0.1.0", startedAt: t0.addingTimeInterval(7200))
        try db.recordNode(run: r3, NodeScan(node: "worker-1", address: "10.0.0.1", status: .ok, startedAt: t0.addingTimeInterval(7200),
                                            duration: .milliseconds(700), findings: [Self.map("mpathb", Self.mpathb, "dm-1", failed: false)]))
        try db.recordNode(run: r3, NodeScan(node: "worker-2", address: "10.0.0.2", status: .ok, startedAt: t0.addingTimeInterval(7201),
                                            duration: .milliseconds(900), findings: [Self.map("mpathz", Self.mpathz, "dm-5", failed: true)]))
        try db.finishRun(r3, status: .ok, exitCode: 1, endedAt: t0.addingTimeInterval(7210))
        runs = [r1, r2, r3]
    }

    func render(_ args: [String]) throws -> String {
        let parsed = try Fleet.parseAsRoot(["history"] + args + ["--db", path])
        let command = try #require(parsed as? any HistoryRendering, "\(type(of: parsed)) is not a history listing")
        return try command.render(db, now: Self.now)
    }

    func json(_ args: [String]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(try render(args + ["--format", "json"]).utf8))
    }

    /// CSV rows as dictionaries keyed by the header (RFC 4180 parsing).
    func csv(_ args: [String]) throws -> [[String: String]] {
        let text = try render(args + ["--format", "csv"])
        let rows = HistoryCSV.parse(text)
        guard let header = rows.first else { return [] }
        return rows.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    func table(_ args: [String]) throws -> [String] {
        try render(args + ["--format", "table"]).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}

enum HistoryCSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var it = Array(text).makeIterator()
        var pending: Character? = nil
        while let c = pending ?? it.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let n = it.next() {
                        if n == "\"" { field.append("\"") } else { quoted = false; pending = n }
                    } else { quoted = false }
                } else { field.append(c) }
                continue
            }
            switch c {
            case "\"": quoted = true
            case ",": row.append(field); field = ""
            case "\r\n", "\n": row.append(field); rows.append(row); row = []; field = ""
            default: field.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}

@Suite struct HistoryCommandTests {
    @Test func runs() throws {
        let h = try HistoryFixture()
        let json = try #require(try h.json(["runs"]) as? [[String: Any]])
        #expect(json.map { $0["id"] as? Int } == h.runs.reversed().map { Int($0) })
        #expect(json.map { $0["kind"] as? String } == ["scan", "clean", "scan"])
        #expect(json.map { $0["status"] as? String } == ["ok", "failed", "partial"])
        #expect(json.map { $0["residual_maps"] as? Int } == [1, 0, 1])
        #expect(json.map { $0["actions"] as? Int } == [0, 2, 0])
        #expect(json.last?["started_at"] as? String == "2026-11-18T11:06:40.000Z")
        #expect(json.last?["nodes_ok"] as? Int == 1)
        // Options are printed as the JSON object they were stored as.
        #expect((json.last?["options"] as? [String: Any])?["forks"] as? Int == 64)
        #expect((json[1]["options"] as? [String: Any])?["batch"] as? Int == 1)

        let csv = try h.csv(["runs"])
        #expect(csv.map { $0["ID"] } == h.runs.reversed().map { String($0) })
        #expect(csv.map { $0["EXIT"] } == ["1", "3", "2"])
        #expect(csv.last?["ENDED"] == "2026-11-18T11:06:52.000Z")

        let table = try h.table(["runs", "--limit", "1"])
        #expect(table.count == 3)  // header, one run, final newline
        #expect(table[0].hasPrefix("ID") && table[0].contains("RESIDUAL"))
        #expect(table[1].split(separator: " ", omittingEmptySubsequences: true).prefix(2) == ["\(h.runs[2])", "scan"])

        #expect(try h.csv(["runs", "--kind", "clean"]).map { $0["ID"] } == ["\(h.runs[1])"])
        #expect(try h.csv(["runs", "--since", "90m"]).map { $0["ID"] } == ["\(h.runs[2])"])
    }

    @Test func run() throws {
        let h = try HistoryFixture()
        let json = try #require(try h.json(["run", "\(h.runs[0])"]) as? [String: Any])
        #expect((json["run"] as? [String: Any])?["status"] as? String == "partial")
        #expect(((json["run"] as? [String: Any])?["options"] as? [String: Any])?["forks"] as? Int == 64)
        #expect(json["verdicts"] as? [String: Int] == ["residual": 1, "healthy": 1])
        let nodes = try #require(json["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["node"] as? String } == ["worker-1", "worker-2"])
        #expect(nodes.map { $0["status"] as? String } == ["ok", "connect-timeout"])

        let csv = try h.csv(["run", "\(h.runs[0])"])
        #expect(csv.map { $0["NODE"] } == ["worker-1", "worker-2"])
        // A field with a comma and quotes survives the CSV round trip.
        #expect(csv[1]["ERROR"] == "worker-2: connect timed out after 10s, \"retry\" later")
        #expect(csv[0]["RESIDUAL"] == "1" && csv[0]["MAPS"] == "2")

        let table = try h.table(["run", "\(h.runs[1])"])
        #expect(table[0] == "run \(h.runs[1]): clean, failed (exit 3)")
        #expect(table.contains("actions: failed 1, ok 1"))
        #expect(throws: (any Error).self) { try h.render(["run", "999"]) }
    }

    @Test func node() throws {
        let h = try HistoryFixture()
        let json = try #require(try h.json(["node", "worker-1"]) as? [[String: Any]])
        #expect(json.map { $0["run_id"] as? Int } == [Int(h.runs[2]), Int(h.runs[0])])
        let oldest = try #require(json.last?["maps"] as? [[String: Any]])
        #expect(oldest.map { $0["name"] as? String } == ["mpatha", "mpathb"])
        #expect(oldest.map { $0["verdict"] as? String } == ["residual", "healthy"])
        #expect(oldest.first?["all_failed"] as? Bool == true)

        let csv = try h.csv(["node", "worker-2"])
        #expect(csv.map { $0["STATUS"] } == ["ok", "connect-timeout"])
        #expect(csv.map { $0["MAP"] } == ["mpathz", ""])
        #expect(csv[1]["REASON"] == "worker-2: connect timed out after 10s, \"retry\" later")

        let table = try h.table(["node", "worker-1", "--limit", "1"])
        #expect(table.count == 3)  // header, mpathb of run 3, final newline
        #expect(table[1].contains("mpathb") && table[1].contains("healthy") && !table[1].contains("mpatha"))
        #expect(try h.table(["node", "worker-1", "--since", "30m"]) == ["(none)", ""])
    }

    @Test func residuals() throws {
        let h = try HistoryFixture()
        // Now: only worker-2's mpathz (worker-1's mpatha is gone from its latest scan).
        let now = try #require(try h.json(["residuals"]) as? [[String: Any]])
        #expect(now.map { $0["wwid"] as? String } == [HistoryFixture.mpathz])
        #expect(now.first?["first_seen"] as? String == "2026-11-18T13:06:41.000Z")
        #expect(now.first?["residual_now"] as? Bool == true)

        let window = try h.csv(["residuals", "--since", "4h"])
        #expect(window.map { $0["NODE"] } == ["worker-1", "worker-2"])
        #expect(window.map { $0["NOW"] } == ["no", "yes"])
        #expect(window[0]["WWID"] == HistoryFixture.mpatha && window[0]["RUNS"] == "1")
        #expect(window[0]["FIRST_SEEN"] == "2026-11-18T11:06:40.000Z" && window[0]["LAST_SEEN"] == "2026-11-18T11:06:40.000Z")

        let table = try h.table(["residuals", "--since", "2h30m"])
        #expect(table.count == 3)
        #expect(table[1].hasPrefix("worker-2") && table[1].hasSuffix("yes"))
        #expect(throws: (any Error).self) { try h.render(["residuals", "--since", "7"]) }
    }

    @Test func actions() throws {
        let h = try HistoryFixture()
        let json = try #require(try h.json(["actions"]) as? [[String: Any]])
        #expect(json.map { $0["command"] as? String } == ["echo 1 > /sys/block/sdg/device/delete", "multipath -f mpatha"])
        #expect(json.map { $0["outcome"] as? String } == ["failed", "ok"])
        #expect(json.first?["reason"] as? String == "permission denied, needs root")
        #expect(json.first?["stderr"] as? String == "sh: 1: cannot create: Permission denied")

        let csv = try h.csv(["actions", "--node", "worker-1", "--limit", "1"])
        #expect(csv.count == 1)
        #expect(csv[0]["KIND"] == "delete-device" && csv[0]["EXIT"] == "1" && csv[0]["REASON"] == "permission denied, needs root")
        #expect(try h.csv(["actions", "--node", "worker-2"]).isEmpty)
        #expect(try h.csv(["actions", "--since", "1h"]).isEmpty)

        let table = try h.table(["actions"])
        #expect(table.count == 4)
        #expect(table[2].contains("multipath -f mpatha") && table[2].contains(" ok "))
    }

    @Test func aMissingDatabaseIsAnErrorNotANewEmptyFile() throws {
        let path = NSTemporaryDirectory() + "fleet-history-missing-" + UUID().uuidString + "/h.sqlite"
        let parsed = try Fleet.parseAsRoot(["history", "runs", "--db", path])
        let command = try #require(parsed as? HistoryRuns)
        #expect(throws: (any Error).self) { try command.listing.openExisting() }
        #expect(!FileManager.default.fileExists(atPath: path))
        let h = try HistoryFixture()
        let existing = try #require(try Fleet.parseAsRoot(["history", "runs", "--db", h.path]) as? HistoryRuns)
        #expect(try existing.listing.openExisting().path == h.path)
    }

    @Test func pruneInEachFormat() throws {
        // Prune older than 90m (cutoff t0+1h30m): runs 1 and 2 go (with worker-1/2 node_runs, 2 maps, 4 paths, 2 actions).
        let h1 = try HistoryFixture()
        let json = try #require(try h1.json(["prune", "--older-than", "90m"]) as? [String: Any])
        #expect(json["runs"] as? Int == 2 && json["node_runs"] as? Int == 2 && json["maps"] as? Int == 2)
        #expect(json["paths"] as? Int == 4 && json["actions"] as? Int == 2 && json["raw_outputs"] as? Int == 0)
        #expect(try h1.csv(["runs"]).map { $0["ID"] } == ["\(h1.runs[2])"])

        let h2 = try HistoryFixture()
        let csv = try h2.csv(["prune", "--older-than", "90m"])
        #expect(csv.map { $0["TABLE"] } == ["runs", "node_runs", "maps", "paths", "raw_outputs", "actions", "node_states", "contents"])
        // worker-1's state of run 1 (mpatha + mpathb) is stored once and no later run has it;
        // no raw outputs, so no texts.
        #expect(csv.map { $0["REMOVED"] } == ["2", "2", "2", "4", "0", "2", "1", "0"])
        #expect(try h2.csv(["actions"]).isEmpty)

        let h3 = try HistoryFixture()
        let table = try h3.table(["prune", "--older-than", "1d"])
        #expect(table[0] == "removed runs started before 2026-11-17T14:06:40.000Z:")
        #expect(table.contains { $0.hasPrefix("runs") && $0.hasSuffix(" 0") })
        #expect(try h3.csv(["runs"]).count == 3)
    }
}
