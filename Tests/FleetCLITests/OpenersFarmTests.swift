import Foundation
import FleetModel
import FleetStore
import FleetTestSupport
import Testing

/// Hung residual maps held open, cleaned (or not) over real SSH against the simulated farm,
/// checked on the farm's state afterwards. The farm's openers and kernel behaviour
/// (docs/farm.md): disabling queueing ends the D-state readers of a map, unless one is stuck
/// elsewhere too (`on_eio: stay`); a sleeping holder or a writer stays. Addresses 127.0.102.x.
@Suite(.serialized) struct OpenersFarmTests {
    typealias Farm = CleanFarmTests.Farm

    static let scenario = """
        seed: 14
        nodes:
          - name: node-0001
            maps:
              - healthy
              # The vendor's second case: stuck dd (an operator's), udev's blkid, fleet's own earlier probe.
              - kind: residual-hung
                openers: [{comm: dd}, {comm: blkid, args: "blkid -p {dev}", wchan: msleep, fd: 3}, {comm: dd, fleet_probe: true}]
              # A real user: a sleeping process with a read-write fd (the capture's `exec 3<>/dev/dm-N; exec sleep`).
              - kind: residual-hung
                openers: [{comm: sleep, args: "sleep 100000", stat: S, wchan: hrtimer_nanosleep, mode: rw, fd: 3}]
              # Blocked in I/O, read-only, but not a program on the documented list.
              - kind: residual-hung
                openers: [{comm: postgres, args: "postgres -D /var/lib/postgresql", fd: 7}]
              # A stuck reader that stays after queueing is disabled (and after kill -9).
              - kind: residual-hung
                openers: [{comm: dd, on_eio: stay}]
        """

    func maps(_ farm: Farm) throws -> [[String: Any]] { (try farm.state("node-0001"))["maps"] as? [[String: Any]] ?? [] }
    func processes(_ farm: Farm) throws -> [[String: Any]] { (try farm.state("node-0001"))["processes"] as? [[String: Any]] ?? [] }
    func pids(on dm: Int, _ farm: Farm) throws -> [Int] {
        try processes(farm).filter { p in
            (p["dm"] as? String) == "dm-\(dm)" || ((p["fds"] as? [[String: Any]]) ?? []).contains { $0["dev"] as? String == "dm-\(dm)" }
        }.compactMap { $0["pid"] as? Int }
    }

    @Test func stuckReadersAreEndedAndTheMapCleanedUsersAndSurvivorsKeepTheirDisks() async throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let farm = try await Farm(scenario: Self.scenario, nodes: 1, base: "127.0.102.1")
        defer { farm.down() }
        let node = "node-0001"
        // The farm's ground truth, from the documented rule: 1 healthy, 2 residual-hung, 2 in-use.
        let expected = try farm.expected(node)
        #expect(expected.values.sorted() == ["healthy", "in-use", "in-use", "residual-hung", "residual-hung"])
        let ms = try maps(farm)
        func wwid(_ i: Int) -> String { ms[i]["wwid"] as! String }
        func dm(_ i: Int) -> Int { ms[i]["dm"] as! Int }
        let (readers, writer, offList, stubborn) = (1, 2, 3, 4)
        #expect(expected[wwid(readers)] == "residual-hung" && expected[wwid(stubborn)] == "residual-hung")
        #expect(expected[wwid(writer)] == "in-use" && expected[wwid(offList)] == "in-use")
        let disks = (0..<5).map { (try? farm.disks(node, wwid($0))) ?? [] }
        let readerPIDs = try pids(on: dm(readers), farm)
        #expect(readerPIDs.count == 3)

        for _ in 0..<2 {
            let s = try CleanFarmTests.run(bin, ["scan", "--inventory", farm.inventory, "--db", farm.db])
            #expect(s.status == 1, "scan: \(s.err)")
        }
        // fleet's verdicts agree with the farm's, and name the openers.
        let db = try FleetDatabase(path: farm.db)
        let scan = try CleanFarmTests.run(bin, ["scan", "--inventory", farm.inventory, "--db", farm.db, "--format", "json"])
        #expect(scan.status == 1)
        for i in 0..<5 { #expect(scan.out.contains("\"\(wwid(i))\""), "map \(i) in the report") }

        let clean = try CleanFarmTests.run(bin, ["clean", "--no-kubernetes", "--inventory", farm.inventory, "--db", farm.db, "--confirm-after", "0s", "--execute"])
        #expect(clean.status == 3, "one map stopped: \(clean.out) \(clean.err)")

        // 1. Stuck readers: ended by disabling queueing, the map and its disks gone.
        let now = try farm.wwids(node)
        #expect(!now.contains(wwid(readers)))
        let sys = try farm.sysBlock(node)
        #expect(sys.isDisjoint(with: disks[readers]), "disks left: \(sys.intersection(disks[readers]))")
        #expect(try pids(on: dm(readers), farm).isEmpty, "its readers are gone")
        // 2./3. A read-write sleeper and a D-state program off the list: left alone, disks intact, reason given.
        for i in [writer, offList] {
            #expect(now.contains(wwid(i)))
            #expect(Set(disks[i]).isSubset(of: sys))
        }
        #expect(clean.out.contains("sleep (S, hrtimer_nanosleep) holds it: read-write fd 3 on dm-\(dm(writer))"), "\(clean.out)")
        #expect(clean.out.contains("postgres (D, submit_bio_wait) holds it: postgres is not on the stuck-reader list"), "\(clean.out)")
        #expect(try pids(on: dm(writer), farm).count >= 1, "the sleeper still holds its map")
        // 4. The reader that stays: queueing off, kill -9 sent, open count still 1: disks kept.
        #expect(now.contains(wwid(stubborn)))
        #expect(Set(disks[stubborn]).isSubset(of: sys))
        #expect(try maps(farm).first { $0["wwid"] as? String == wwid(stubborn) }?["queueing"] as? String == "off")
        let cleanRun = try #require(try db.runs(limit: 1, kind: .clean).first)
        let rows = try db.actions(limit: 0).filter { $0.runID == cleanRun.id && $0.wwid == wwid(stubborn) }
        #expect(rows.first { $0.kind == "disable-queueing" }?.outcome == .ok)
        #expect(rows.first { $0.kind == "kill" }?.outcome == .ok)
        let skipped = rows.filter { $0.outcome == .skipped }
        #expect(skipped.map(\.kind).sorted() == ["delete-device", "delete-device", "flush-buffers", "flush-buffers", "flush-map", "remove-wwid"])  // with #15's closing multipath -w
        #expect(skipped.allSatisfy { $0.reason?.contains("still 1 after disabling queueing") == true
            && $0.reason?.contains("no disk deleted") == true && $0.reason?.contains("queueing was left disabled") == true })
        // The readers' map: every step ok, the kill list empty (they exited with EIO).
        let done = try db.actions(limit: 0).filter { $0.runID == cleanRun.id && $0.wwid == wwid(readers) }
        #expect(!done.isEmpty && done.allSatisfy { $0.outcome == .ok })
        #expect(!done.contains { $0.kind == "kill" })
        #expect(try db.unfinishedActions(node: nil).isEmpty)
    }
}
