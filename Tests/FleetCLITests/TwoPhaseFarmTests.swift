import Foundation
import Testing
import FleetModel
import FleetStore
import FleetTestSupport
@testable import FleetCLI

/// Two-phase discovery end to end (issue #17): `fleet scan` over real SSH against the farm
/// (127.0.23.x). Ground truth: the farm's farm.json (each map's kind and expected verdict).
@Suite(.serialized, .enabled(if: ScanFarmAvailability.available))
struct TwoPhaseFarmTests {
    typealias S = ScanFarmTests

    static func up(_ n: Int, mix: String, seed: Int) throws -> S.Farm {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-twophase-\(UUID().uuidString.prefix(8))").path
        let (rc, out) = try S.sh(["python3", S.farm, "up", String(n), "--dir", dir, "--base", "127.0.23.1",
                                  "--seed", String(seed), "--mix", mix])
        guard rc == 0 else {
            _ = try? S.sh(["python3", S.farm, "down", "--dir", dir])
            throw S.FarmError(text: "farm up failed: \(out)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/farm.json"))
        return S.Farm(dir: dir, json: try JSONSerialization.jsonObject(with: data) as! [String: Any])
    }

    /// node -> (phase, phase_note) of one run.
    static func phases(_ db: String, run: Int) throws -> [String: (phase: String, note: String)] {
        var out: [String: (String, String)] = [:]
        for r in try S.sqlite(db, "SELECT node, phase, coalesce(phase_note, '') FROM node_runs WHERE run_id = \(run)") {
            out[r[0]] = (r[1], r[2])
        }
        return out
    }

    @Test func aSecondScanOfAnUnchangedFarmReadsHealthyNodesWithPhaseOneOnlyAndRecordsWhatAFullScanWould() async throws {
        let f = try Self.up(30, mix: "residual=0.2,degraded=0.1", seed: 7)
        defer { S.down(f) }
        let db = f.dir + "/history.sqlite"
        let args = ["--inventory", f.inventory, "--db", db, "--forks", "16", "--no-kubernetes",
                    "--connect-timeout", "5s", "--command-timeout", "20s", "--probe-timeout", "2s"]
        // Run 1: no history, every node full. Run 2: phase 1 where allowed. Run 3: --full.
        let r1 = try await S.scan(args)
        let r2 = try await S.scan(args)
        let r3 = try await S.scan(args + ["--full"])
        #expect(r1.code == r2.code && r2.code == r3.code)

        let p1 = try Self.phases(db, run: 1), p2 = try Self.phases(db, run: 2), p3 = try Self.phases(db, run: 3)
        #expect(p1.count == 30 && p2.count == 30 && p3.count == 30)
        #expect(p1.values.allSatisfy { $0.phase == "full" && $0.note.contains("no earlier scan") })
        #expect(p3.values.allSatisfy { $0.phase == "full" && $0.note.isEmpty })
        var quick = 0
        for spec in f.nodes {
            let name = spec["name"] as! String
            let verdicts = ((spec["maps"] as? [[String: Any]]) ?? []).map { $0["verdict"] as! String }
            let got = try #require(p2[name])
            if verdicts.allSatisfy({ $0 == "healthy" }) {
                #expect(got.phase == "phase1", "\(name): \(got)")
                quick += 1
            } else {
                #expect(got.phase == "full", "\(name) \(verdicts): \(got)")
                #expect(got.note.contains("not healthy"), "\(name): \(got.note)")
            }
        }
        #expect(quick > 0 && quick < 30)

        // What the history gives back for run 2 equals what the forced full run 3 recorded.
        let store = try FleetDatabase(path: db)
        let two = Dictionary(uniqueKeysWithValues: try store.nodeScans(run: 2).map { ($0.node, $0) })
        let three = Dictionary(uniqueKeysWithValues: try store.nodeScans(run: 3).map { ($0.node, $0) })
        for (name, a) in two {
            let b = try #require(three[name])
            #expect(a.status == b.status)
            #expect(a.findings == b.findings, "\(name)")
            // A phase-1 node's outputs are the last full discovery's; a healthy farm node prints
            // the same bytes every time, so they equal run 3's.
            if a.phase == .phase1 { #expect(a.outputs == b.outputs, "\(name)") }
        }
        // Every query answers as for a full scan: the same maps seen in run 2 as in run 3.
        let seen = try S.sqlite(db, "SELECT node_run_id IN (SELECT id FROM node_runs WHERE run_id = 2), count(*) FROM map_observations WHERE node_run_id IN (SELECT id FROM node_runs WHERE run_id IN (2, 3)) GROUP BY 1 ORDER BY 1")
        #expect(seen.count == 2 && seen[0][1] == seen[1][1], "\(seen)")
        #expect(try store.consistencyProblems().isEmpty)
    }

    @Test func aPathThatFailsSinceTheLastScanGetsTheFullDiscovery() async throws {
        let f = try Self.up(4, mix: "residual=0,degraded=0", seed: 3)
        defer { S.down(f) }
        let db = f.dir + "/history.sqlite"
        let args = ["--inventory", f.inventory, "--db", db, "--forks", "4", "--no-kubernetes", "--format", "json",
                    "--connect-timeout", "5s", "--command-timeout", "20s", "--probe-timeout", "2s"]
        _ = try await S.scan(args)
        let victim = f.nodes[1]
        let name = victim["name"] as! String
        let wwid = ((victim["maps"] as! [[String: Any]])[0])["wwid"] as! String
        let (rc, out) = try S.sh(["python3", S.farm, "set", name, "fail-paths", wwid, "--dir", f.dir])
        #expect(rc == 0, "\(out)")
        let r2 = try await S.scan(args)
        let p2 = try Self.phases(db, run: 2)
        #expect(p2[name]?.phase == "full")
        #expect(p2[name]?.note.contains("failed") == true, "\(p2[name]?.note ?? "")")
        for spec in f.nodes where spec["name"] as! String != name {
            #expect(p2[spec["name"] as! String]?.phase == "phase1")
        }
        // The failed map is no longer healthy in this run's result.
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r2.out.utf8)) as? [String: Any])
        let node = try #require((doc["nodes"] as? [[String: Any]])?.first { $0["node"] as? String == name })
        let maps = try #require(node["maps"] as? [[String: Any]])
        let map = try #require(maps.first { $0["wwid"] as? String == wwid })
        #expect(map["verdict"] as? String != "healthy", "\(map)")
    }
}
