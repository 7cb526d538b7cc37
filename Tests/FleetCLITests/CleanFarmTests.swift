import Foundation
import FleetModel
import FleetStore
import FleetTestSupport
import Testing

/// `fleet clean` over real SSH against the simulated farm (tools/farm/farm), checked on the
/// farm's own state afterwards, not only on fleet's output. Addresses 127.0.4.x.
@Suite(.serialized) struct CleanFarmTests {
    struct Ran { var status: Int32; var out: String; var err: String }

    /// A Process for `exe args` whose signal mask is cleared before exec: children of the test
    /// process inherit blocked signals (SIGCHLD among them), which hung the farm's own forks.
    static func process(_ exe: String, _ args: [String]) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
                       exe] + args
        return p
    }

    /// Serializes farm tests across processes: several engineers (and CI) may run this suite
    /// at once, and the farm's addresses are fixed.
    /// The wait happens on a thread of its own, never on a thread of Swift's cooperative pool:
    /// on a 2-core machine that pool has 2 threads, and two farm tests blocked in flock there
    /// starved the async farm test holding the lock, which then never finished (a CI run hung).
    static func lockFarm() async throws -> Int32 {
        let fd = open("/tmp/fleet-clean-farm-tests.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw FarmError("cannot open the farm test lock: errno \(errno)") }
        let err: Int32 = await withCheckedContinuation { done in
            Thread.detachNewThread {
                var e: Int32 = 0
                while flock(fd, LOCK_EX) != 0 { if errno != EINTR { e = errno; break } }
                done.resume(returning: e)
            }
        }
        guard err == 0 else { close(fd); throw FarmError("cannot lock the farm test lock: errno \(err)") }
        return fd
    }

    @discardableResult
    static func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> Ran {
        let p = process(exe, args)
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let o = Pipe(), r = Pipe()
        p.standardOutput = o; p.standardError = r
        try p.run()
        // Read both pipes while the child runs (a full pipe would block it).
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter(); DispatchQueue.global().async { outData = o.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { errData = r.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        p.waitUntilExit()
        group.wait()
        return Ran(status: p.terminationStatus, out: String(decoding: outData, as: UTF8.self), err: String(decoding: errData, as: UTF8.self))
    }

    /// A farm in a temp folder, always brought down.
    final class Farm {
        let dir: String
        let tool = Fixtures.repoRoot.appendingPathComponent("tools/farm/farm").path
        var up = false
        let lock: Int32
        init(scenario: String, nodes: Int, base: String) async throws {
            lock = try await CleanFarmTests.lockFarm()
            dir = NSTemporaryDirectory() + "fleet-clean-farm-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try scenario.write(toFile: dir + "/scenario.yaml", atomically: true, encoding: .utf8)
            let r = try CleanFarmTests.run(tool, ["up", String(nodes), "--dir", dir + "/farm", "--base", base,
                                                  "--scenario", dir + "/scenario.yaml"])
            guard r.status == 0 else {
                _ = try? CleanFarmTests.run(tool, ["down", "--dir", dir + "/farm"])
                close(lock)
                throw FarmError("farm up failed: \(r.err)\(r.out)")
            }
            up = true
        }
        deinit { down(); close(lock) }
        func down() {
            if up { _ = try? CleanFarmTests.run(tool, ["down", "--dir", dir + "/farm"]); up = false }
            try? FileManager.default.removeItem(atPath: dir)
        }
        var inventory: String { dir + "/farm/inventory.yaml" }
        var db: String { dir + "/history.sqlite" }
        func set(_ node: String, _ actions: String...) throws {
            let r = try CleanFarmTests.run(tool, ["set", node] + actions + ["--dir", dir + "/farm"])
            guard r.status == 0 else { throw FarmError("farm set \(node) \(actions): \(r.err)") }
        }
        /// The node's current state (`farm state`), which also applies pending deletes.
        func state(_ node: String) throws -> [String: Any] {
            let r = try CleanFarmTests.run(tool, ["state", node, "--dir", dir + "/farm"])
            guard r.status == 0, let obj = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
            else { throw FarmError("farm state \(node): \(r.err)") }
            return obj
        }
        func wwids(_ node: String) throws -> Set<String> {
            Set(((try state(node))["maps"] as? [[String: Any]] ?? []).compactMap { $0["wwid"] as? String })
        }
        /// WWID → expected verdict as the farm was brought up (farm.json).
        func expected(_ node: String) throws -> [String: String] {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/farm/farm.json"))
            let json = try JSONSerialization.jsonObject(with: data)
            let nodes: [[String: Any]]
            if let d = json as? [String: Any], let n = d["nodes"] as? [[String: Any]] { nodes = n }
            else if let n = json as? [[String: Any]] { nodes = n } else { throw FarmError("farm.json: unknown layout") }
            guard let n = nodes.first(where: { $0["name"] as? String == node }) else { throw FarmError("no \(node) in farm.json") }
            return n["expected"] as? [String: String] ?? [:]
        }
        func wwid(_ node: String, _ verdict: String) throws -> String {
            guard let w = try expected(node).first(where: { $0.value == verdict })?.key else { throw FarmError("\(node) has no \(verdict) map") }
            return w
        }
        /// Disks of a map (by WWID) from the current state.
        func disks(_ node: String, _ wwid: String) throws -> [String] {
            let maps = (try state(node))["maps"] as? [[String: Any]] ?? []
            guard let m = maps.first(where: { $0["wwid"] as? String == wwid }) else { return [] }
            return (m["groups"] as? [[String: Any]] ?? []).flatMap { ($0["paths"] as? [[String: Any]] ?? []).compactMap { $0["dev"] as? String } }
        }
        func sysBlock(_ node: String) throws -> Set<String> {
            _ = try state(node)  // settles pending deletes
            return Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/farm/nodes/\(node)/root/sys/block"))
        }
        func byID(_ node: String) throws -> [String: String] {
            let d = dir + "/farm/nodes/\(node)/root/dev/disk/by-id"
            var out: [String: String] = [:]
            for n in try FileManager.default.contentsOfDirectory(atPath: d) {
                out[n] = (try? FileManager.default.destinationOfSymbolicLink(atPath: d + "/" + n)) ?? ""
            }
            return out
        }
    }

    struct FarmError: Error, CustomStringConvertible { var description: String; init(_ d: String) { description = d } }

    static let scenario = """
        seed: 11
        nodes:
          - {name: node-0001, maps: [healthy, residual, residual-hung, degraded]}
          - {name: node-0002, maps: [in-use, residual]}
          - {name: node-0003, maps: [residual, healthy]}
          - {name: node-0004, maps: [residual, healthy]}
          - {name: node-0005, maps: [residual, healthy]}
          - {name: node-0006, maps: [path-loss, in-use-holder, in-use-open, needs-review]}
        """

    @Test func residualMapsGoAndNothingElseIsTouched() async throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let farm = try await Farm(scenario: Self.scenario, nodes: 6, base: "127.0.4.1")
        defer { farm.down() }

        // node-0003's residual map is protected by the inventory.
        let protectedWWID = try farm.wwid("node-0003", "residual")
        let inventory = farm.dir + "/inventory.yaml"
        try (try String(contentsOfFile: farm.inventory, encoding: .utf8) + "protect:\n  - {wwid: \"\(protectedWWID)\"}\n")
            .write(toFile: inventory, atomically: true, encoding: .utf8)

        let before = try (1...6).map { n in try farm.wwids(String(format: "node-%04d", n)) }
        // Two scans: two all-failed observations (--confirm-after 0s).
        for _ in 0..<2 {
            let s = try Self.run(bin, ["scan", "--inventory", inventory, "--db", farm.db])
            #expect(s.status == 1, "scan: residual maps found; got \(s.status): \(s.err)")
        }
        let db = try FleetDatabase(path: farm.db)
        // Plan from the second scan (the first is the earlier observation); its residual-hung
        // map was not probed again: fleet's first probe is still stuck on it.
        let scanRun = try #require(try db.runs(limit: 0, kind: .scan).map(\.id).max())

        // Between plan and action: node-0004's paths come back, node-0005's name and dm are reused.
        let recovering = try farm.wwid("node-0004", "residual")
        let renamed = try farm.wwid("node-0005", "residual")
        try farm.set("node-0004", "recover-paths", recovering)
        try farm.set("node-0005", "reuse-dm", renamed)
        let after5 = try farm.wwids("node-0005")

        // Dry run: prints the commands, changes nothing.
        let dry = try Self.run(bin, ["clean", "--no-kubernetes", "--inventory", inventory, "--db", farm.db, "--from-run", String(scanRun),
                                     "--confirm-after", "0s"])
        #expect(dry.status == 0, "dry run: \(dry.err)")
        #expect(dry.out.contains("$ multipath -f "))
        #expect(dry.out.contains("$ dmsetup message "))
        #expect(dry.out.contains("protected by inventory rule wwid=\(protectedWWID)"))
        #expect(try (1...6).map { n in try farm.wwids(String(format: "node-%04d", n)) } == [before[0], before[1], before[2], before[3], after5, before[5]])

        let residual1 = try farm.wwid("node-0001", "residual"), hung1 = try farm.wwid("node-0001", "residual-hung")
        let residual2 = try farm.wwid("node-0002", "residual")
        let disks1 = try farm.disks("node-0001", residual1) + farm.disks("node-0001", hung1)
        #expect(disks1.count == 4)

        let ex = try Self.run(bin, ["clean", "--no-kubernetes", "--inventory", inventory, "--db", farm.db, "--from-run", String(scanRun),
                                    "--confirm-after", "0s", "--execute", "--batch", "1,2", "--max-in-flight", "2",
                                    "--format", "json"])
        #expect(ex.status == 0, "clean --execute: \(ex.status) \(ex.err)")

        // The farm's state: residual and residual-hung maps gone with their disks and links.
        let n1 = try farm.wwids("node-0001")
        #expect(n1 == before[0].subtracting([residual1, hung1]))
        let sys1 = try farm.sysBlock("node-0001")
        #expect(sys1.isDisjoint(with: disks1), "disks left: \(sys1.intersection(disks1))")
        let links1 = try farm.byID("node-0001")
        #expect(!links1.keys.contains { $0.contains(residual1.dropFirst()) || $0.contains(hung1.dropFirst()) })
        #expect(!links1.values.contains { t in disks1.contains { t.hasSuffix("/" + $0) } })
        #expect(try farm.wwids("node-0002") == before[1].subtracting([residual2]))
        // Never touched: in-use, protected, recovering, renamed, path-loss, holders, open, needs-review.
        #expect(try farm.wwids("node-0003") == before[2])
        #expect(try farm.wwids("node-0004") == before[3])
        #expect(try farm.wwids("node-0005") == after5)
        #expect(try farm.wwids("node-0006") == before[5])
        let inUse = try farm.wwid("node-0002", "in-use")
        #expect(try farm.disks("node-0002", inUse).count == 2)
        #expect(((try farm.state("node-0002"))["mounts"] as? [Any])?.count ?? 0 >= 2, "mounts (incl. the bind mount) intact")

        // fleet's report and audit agree.
        let report = try #require(try JSONSerialization.jsonObject(with: Data(ex.out.utf8)) as? [String: Any])
        #expect(report["exitCode"] as? Int == 0)
        let cleanRun = try #require(try db.runs(limit: 1, kind: .clean).first)
        #expect(cleanRun.status == .ok && cleanRun.exitCode == 0)
        let actions = try db.actions(limit: 0).filter { $0.runID == cleanRun.id }
        #expect(Set(actions.filter { $0.outcome == .ok }.map(\.wwid)) == [residual1, hung1, residual2])
        #expect(actions.filter { $0.node == "node-0004" }.allSatisfy { $0.outcome == .aborted && $0.startedAt == nil })
        #expect(actions.filter { $0.node == "node-0005" }.allSatisfy { $0.outcome == .aborted && $0.startedAt == nil })
        #expect(!actions.contains { ["node-0003", "node-0006"].contains($0.node) })
        #expect(try db.unfinishedActions(node: nil).isEmpty)
    }

    /// Many nodes (the report is streamed node by node, issue 13): every node is in the
    /// printed report once, in inventory order, the summary's counts are those of the nodes'
    /// sections, and the history has every node's scan and commands for the run.
    /// Addresses 127.0.21.x.
    @Test func manyNodesAreEachReportedOnceAndTheHistoryHasThemAll() async throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        // 40 nodes: odd ones with a residual map, even ones with nothing to clean.
        let farm = try await Farm(scenario: "seed: 21\nnodes:\n  - {maps: [residual, healthy]}\n  - {maps: [healthy, degraded]}\n",
                            nodes: 40, base: "127.0.21.1")
        defer { farm.down() }
        let names = (1...40).map { String(format: "node-%04d", $0) }
        let residual = try Dictionary(uniqueKeysWithValues: names.enumerated().filter { $0.offset % 2 == 0 }.map {
            ($0.element, try farm.wwid($0.element, "residual"))
        })
        #expect(residual.count == 20)
        let s = try Self.run(bin, ["scan", "--inventory", farm.inventory, "--db", farm.db])
        #expect(s.status == 1, "scan: \(s.err)")

        // Dry run, fresh scan (the second observation), table.
        let dry = try Self.run(bin, ["clean", "--no-kubernetes", "--inventory", farm.inventory, "--db", farm.db, "--confirm-after", "0s"])
        #expect(dry.status == 0, "dry run: \(dry.err)")
        let heads = dry.out.split(separator: "\n").filter { $0.hasPrefix("node-") }
        #expect(heads.map { String($0.prefix(9)) } == names)
        #expect(heads.filter { $0.hasSuffix(": 1 to clean, 1 left alone") }.map { String($0.prefix(9)) } == residual.keys.sorted())
        #expect(dry.out.contains("\ndry run "))
        // Left alone: each odd node's healthy map, each even node's healthy and degraded maps.
        #expect(dry.out.contains(": 20 map(s) to clean on 20 node(s), 60 left alone. "), "\(dry.out.suffix(300))")

        // Execute, fresh scan again, JSON.
        let ex = try Self.run(bin, ["clean", "--no-kubernetes", "--inventory", farm.inventory, "--db", farm.db, "--confirm-after", "0s",
                                    "--execute", "--batch", "100%", "--max-in-flight", "8", "--format", "json"])
        #expect(ex.status == 0, "clean --execute: \(ex.status) \(ex.err)")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(ex.out.utf8)) as? [String: Any])
        let nodes = doc["nodes"] as? [[String: Any]] ?? []
        #expect(nodes.compactMap { $0["node"] as? String } == names)
        let cleaned = nodes.filter { (($0["maps"] as? [[String: Any]]) ?? []).contains { $0["outcome"] as? String == "cleaned" } }
        #expect(cleaned.compactMap { $0["node"] as? String } == residual.keys.sorted())
        #expect(doc["exitCode"] as? Int == 0 && (doc["notStarted"] as? [Any])?.isEmpty == true)
        for (node, wwid) in residual { #expect(!(try farm.wwids(node)).contains(wwid), "\(node)") }

        // The history: the clean's scan of every node, and each cleaned map's commands.
        let db = try FleetDatabase(path: farm.db)
        let cleanRun = try #require(try db.runs(limit: 1, kind: .clean).first)
        let detail = try #require(try db.runDetail(id: cleanRun.id))
        #expect(detail.nodes.map(\.node).sorted() == names)
        let actions = try db.actions(limit: 0).filter { $0.runID == cleanRun.id }
        #expect(Dictionary(grouping: actions.filter { $0.kind == "flush-map" && $0.outcome == .ok }, by: \.node).mapValues { $0.map(\.wwid) }
                == residual.mapValues { [$0] })
        #expect(actions.allSatisfy { $0.outcome == .ok }, "\(actions.filter { $0.outcome != .ok })")
    }

    @Test func sigkillMidCleanupThenRunAgainCompletes() async throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let farm = try await Farm(scenario: "seed: 5\nnodes:\n  - {name: node-0001, maps: [residual, healthy]}\n", nodes: 1, base: "127.0.4.101")
        defer { farm.down() }
        let w = try farm.wwid("node-0001", "residual")
        let disks = try farm.disks("node-0001", w)
        #expect(disks.count == 2)
        let s = try Self.run(bin, ["scan", "--inventory", farm.inventory, "--db", farm.db])
        #expect(s.status == 1)

        // Every farm command now takes 0.3 s, so `multipath -f` is in flight long enough to
        // kill fleet while it runs (its audit row says `started`).
        try farm.set("node-0001", "fault", "slow", "0.3")
        let child = Self.process(bin, ["clean", "--no-kubernetes", "--inventory", farm.inventory, "--db", farm.db, "--confirm-after", "0s", "--execute"])
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        let db = try FleetDatabase(path: farm.db)
        var killedDuring: ActionRecord?
        let deadline = Date().addingTimeInterval(120)
        while child.isRunning, Date() < deadline {
            if let a = try? db.actions(limit: 0).first(where: { $0.outcome == .started && $0.kind == "flush-map" }) {
                kill(child.processIdentifier, SIGKILL)
                killedDuring = a
                break
            }
            usleep(20_000)
        }
        child.waitUntilExit()
        let during = try #require(killedDuring, "fleet finished before multipath -f was seen in flight")
        #expect(child.terminationReason == .uncaughtSignal)
        let firstRun = during.runID

        // The killed run's `multipath -f` may still be running on the node (a remote process
        // outlives its dropped channel, bounded only by the node-side `timeout`): let it end
        // before the next run reads the node, as an operator would.
        try await Task.sleep(for: .seconds(3))
        try farm.set("node-0001", "clear-fault", "slow")
        let again = try Self.run(bin, ["clean", "--no-kubernetes", "--inventory", farm.inventory, "--db", farm.db, "--confirm-after", "0s", "--execute"])
        #expect(again.status == 0, "second clean: \(again.status) \(again.out) \(again.err)")

        #expect(!(try farm.wwids("node-0001")).contains(w))
        #expect(try farm.sysBlock("node-0001").isDisjoint(with: disks), "second clean: \(again.out)")
        let reopened = try FleetDatabase(path: farm.db)
        let runs = try reopened.runs(limit: 0, kind: .clean)
        #expect(runs.first { $0.id == firstRun }?.status == .interrupted)
        let secondRun = try #require(runs.first { $0.id != firstRun })
        #expect(secondRun.status == .ok)
        let actions = try reopened.actions(limit: 0)
        let first = actions.filter { $0.runID == firstRun }, second = actions.filter { $0.runID == secondRun.id }
        #expect(first.contains { $0.kind == "flush-map" && $0.startedAt != nil }, "the killed run's flush is in the audit")
        #expect(first.allSatisfy { $0.outcome == .aborted || $0.outcome == .ok })
        #expect(first.filter { $0.outcome == .aborted }.allSatisfy { $0.reason?.contains("run \(firstRun) ended") == true })
        #expect(second.contains { $0.kind == "delete-device" && $0.outcome == .ok })
        #expect(try reopened.unfinishedActions(node: nil).isEmpty)
    }
}
