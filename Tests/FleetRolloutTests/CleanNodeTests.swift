import Foundation
import Testing
import FleetModel
import FleetStore
import FleetTestSupport
@testable import FleetRollout

/// NodeCleaner against the scripted executor: the node answers with the lab's real captures
/// (residual → after-cleanup, hung → after-cleanup-hung). Any exec not scripted stops the
/// test process, so "no delete was sent" is checked by not scripting one.
@Suite struct CleanNodeTests {
    typealias Frame = (name: String, exitCode: Int32, stdout: String, stderr: String)
    static let t = Date(timeIntervalSince1970: 1_800_000_000)
    static let mpatha = "36001405ae3a4a2b307ccf2a518e52df9"
    static let mpathc = "360014058be0b4a9a2035d5c98c88bafe"

    static func frames(_ specs: [ScriptedExecutor.FrameSpec]) -> [Frame] {
        specs.map { ($0.name, $0.exitCode, $0.stdout, $0.stderr) }
    }
    static func reread(_ state: String, ps: String = CleanFixtures.psEmpty,
                       edit: @escaping (String, String) -> String = { _, s in s }) throws -> [ScriptedExecutor.Reply] {
        [.framed(stdinContaining: "r multipath-ll ", frames(try CleanFixtures.discoveryFrames(state, edit: edit))),
         .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, ps, "")])]
    }
    static func action(_ capture: String, exit: Int32 = 0, stderr: String = "") -> ScriptedExecutor.Reply {
        .framed(stdinContaining: "r \(capture) ", [(capture, exit, "", stderr)])
    }

    /// The plan a scan of the `residual` captures gives, confirmed by an observation 10 minutes earlier.
    static func residualPlan() throws -> NodeCleanPlan {
        let scan = try CleanFixtures.scan("residual", probes: ["dm-0"], at: t)
        return CleanPlanner.plan(scan: scan, target: NodeTarget(name: "node-1", host: "127.0.4.1"), protect: [],
                                 observations: [mpatha: [t.addingTimeInterval(-600)]], confirmAfter: .seconds(300))
    }

    /// One look at the openers before the kill and one after (readerExitWait / readerPollInterval).
    static let options: NodeCleaner.Options = {
        var o = NodeCleaner.Options(flushRetryDelay: .zero, verifyAttempts: 1, verifyDelay: .zero)
        o.readerExitWait = .seconds(1); o.readerPollInterval = .seconds(1)
        return o
    }()

    /// The cleaner's look after disabling queueing: `dmsetup info -c` with mpathc's open count
    /// set to `open` (the `hung` capture, taken before its probe, says 0), and the openers
    /// section holding `openers` — the stuck dd of `hung/ps-dd-wchan.txt` (pid 8410, D,
    /// submit_bio_wait, dd if=/dev/dm-2 …) as the node script prints it (stat and cmdline in hex).
    static func look(open: Int, openers: [Int32]) throws -> ScriptedExecutor.Reply {
        .framed(stdinContaining: "r dmsetup-info-c ", try lookFrames(open: open, openers: openers))
    }

    static func lookFrames(open: Int, openers: [Int32]) throws -> [(name: String, exitCode: Int32, stdout: String, stderr: String)] {
        let info = try Fixtures.real("hung", "dmsetup-info-c.txt").replacingOccurrences(
            of: "mpathc           253   2 L--w    0", with: "mpathc           253   2 L--w    \(open)")
        func hex(_ s: String) -> String { s.utf8.map { String(format: "%02x", $0) }.joined(separator: " ") }
        var section = "O 1\n"
        for pid in openers {
            section += "P \(pid) submit_bio_wait - \(hex("\(pid) (dd) D 1 \(pid) \(pid) 0 -1 4194304\n"))\n"
            section += "C \(pid) \(hex("dd\0if=/dev/dm-2\0of=/dev/null\0count=1\0bs=1M\0iflag=direct\0"))\n"
            section += "F \(pid) 0 0140000 /dev/dm-2\n"
        }
        return [("dmsetup-info-c", 0, info, ""), ("proc-openers", 0, section, "")]
    }

    struct Harness {
        let history: TempHistory
        let run: Int64
        let cleaner: NodeCleaner
        let executor: ScriptedExecutor
        init(_ replies: [ScriptedExecutor.Reply]) throws {
            history = try TempHistory()
            run = try history.db.beginRun(kind: .clean, inventory: nil, options: ["test": "clean"], version: "test")
            executor = ScriptedExecutor(["node-1": .replies(replies)])
            cleaner = NodeCleaner(executor: executor, audit: DatabaseCleanAudit(database: history.db, run: run),
                                  options: CleanNodeTests.options, sleep: { _ in })
        }
        func actions() throws -> [ActionRecord] { try history.db.actions(node: "node-1", limit: 0).sorted { $0.id < $1.id } }
    }

    /// `multipath -f` printed exit code 0 in its frame, but the script's channel ended without
    /// an exit status: the step failed (every attempt), nothing after it was sent, and the
    /// audit says why.
    @Test func stepWithoutExitStatusIsAFailedStepAndNothingAfterItIsSent() async throws {
        let flush = ScriptedExecutor.Reply.framed(stdinContaining: "r multipath-f-mpatha ", [("multipath-f-mpatha", 0, "", "")],
                                                  exit: .missing(.closedWithoutStatus))
        let h = try Harness(try Self.reread("residual") + [flush, flush, flush])
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.residualPlan())
        #expect(h.executor.unconsumed.isEmpty)
        let m = try #require(r.maps.first)
        #expect(m.outcome == .failed)
        #expect(m.reason?.contains("multipath -f mpatha failed after 3 attempts") == true)
        let rows = try h.actions()
        let flushes = rows.filter { $0.kind == "flush-map" }
        #expect(flushes.count == 3)
        #expect(flushes.allSatisfy { $0.outcome == .failed && $0.exitCode == 0 })
        #expect(flushes.allSatisfy { $0.reason?.contains("no exit status") == true })
        // flushbufs x2, delete x2, and issue #15's closing `multipath -w`: none sent.
        #expect(rows.filter { $0.kind != "flush-map" }.map(\.outcome) == [.skipped, .skipped, .skipped, .skipped, .skipped])
    }

    @Test func planFromRealResidualCaptures() throws {
        let p = try Self.residualPlan()
        let c = try #require(p.cleanups.first)
        #expect(p.cleanups.count == 1)
        #expect(c.wwid.rawValue == Self.mpatha && c.name.rawValue == "mpatha" && c.dm.rawValue == "dm-0")
        #expect(c.disks.map(\.rawValue) == ["sdg", "sdh"])
        #expect(Set(p.left.compactMap(\.name)) == ["mpathb", "mpathc", "mpathd"])
    }

    /// The node's answers to cleaning mpatha of the `residual` captures: every step ok, then
    /// the `after-cleanup` captures.
    static func residualCleanupReplies() throws -> [ScriptedExecutor.Reply] {
        try reread("residual") + [
            action("multipath-f-mpatha"),
            action("blockdev-flushbufs-sdg"), action("blockdev-flushbufs-sdh"),
            action("delete-sdg"), action("delete-sdh"),
            action("multipath-w-\(mpatha)"),
        ] + (try reread("after-cleanup"))
    }

    @Test func residualMapIsCleanedAndVerifiedWithEveryStepAudited() async throws {
        let h = try Harness(try Self.residualCleanupReplies())
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.residualPlan())
        #expect(h.executor.unconsumed.isEmpty)
        #expect(h.executor.sessions == ["node-1"], "one session per node")
        #expect(r.status == .ok)
        let m = try #require(r.maps.first)
        #expect(m.outcome == .cleaned)
        #expect(m.reason?.hasPrefix("verified gone") == true)
        let all = try h.actions()
        // The steps, then the check that found the map gone (procedure step 2.3).
        let verify = try #require(all.last)
        #expect(verify.kind == "verify" && verify.outcome == .ok && verify.reason == m.reason)
        let rows = all.dropLast()
        #expect(rows.map(\.kind) == ["flush-map", "flush-buffers", "flush-buffers", "delete-device", "delete-device", "remove-wwid"])
        #expect(rows.map(\.command) == ["multipath -f mpatha", "blockdev --flushbufs /dev/sdg", "blockdev --flushbufs /dev/sdh",
                                        "echo 1 > /sys/block/sdg/device/delete", "echo 1 > /sys/block/sdh/device/delete",
                                        "multipath -w \(Self.mpatha)"])
        #expect(rows.allSatisfy { $0.outcome == .ok && $0.exitCode == 0 && $0.startedAt != nil && $0.endedAt != nil })
        #expect(rows.allSatisfy { $0.wwid == Self.mpatha && $0.runID == h.run })
    }

    @Test func failedFlushbufsDeletesNoDiskOfThatMap() async throws {
        // No delete is scripted: sending one would stop the test process.
        let h = try Harness(try Self.reread("residual") + [
            Self.action("multipath-f-mpatha"),
            Self.action("blockdev-flushbufs-sdg"),
            Self.action("blockdev-flushbufs-sdh", exit: 1, stderr: "blockdev: BLKFLSBUF: Input/output error\n"),
        ])
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.residualPlan())
        #expect(h.executor.unconsumed.isEmpty)
        let m = try #require(r.maps.first)
        #expect(m.outcome == .failed)
        #expect(r.failed)
        #expect(m.reason?.contains("flushbufs failed") == true)
        #expect(m.reason?.contains("BLKFLSBUF") == true)
        let rows = try h.actions()
        #expect(rows.map(\.outcome) == [.ok, .ok, .failed, .skipped, .skipped, .skipped])
        #expect(rows.filter { $0.kind == "delete-device" }.allSatisfy { $0.startedAt == nil })
    }

    @Test func busyMapIsRetriedBoundedTimes() async throws {
        let busy = "Nov 29 17:14:02 | mpatha: map in use\n"
        let h = try Harness(try Self.reread("residual") + [
            Self.action("multipath-f-mpatha", exit: 1, stderr: busy),
            Self.action("multipath-f-mpatha", exit: 1, stderr: busy),
            Self.action("multipath-f-mpatha"),
            Self.action("blockdev-flushbufs-sdg"), Self.action("blockdev-flushbufs-sdh"),
            Self.action("delete-sdg"), Self.action("delete-sdh"),
            Self.action("multipath-w-\(Self.mpatha)"),
        ] + (try Self.reread("after-cleanup")))
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.residualPlan())
        #expect(h.executor.unconsumed.isEmpty)
        #expect(r.maps.first?.outcome == .cleaned)
        let flushes = try h.actions().filter { $0.kind == "flush-map" }
        #expect(flushes.map(\.outcome) == [.failed, .failed, .ok])
        #expect(flushes.first?.stderr == busy)
    }

    @Test func flushThatKeepsFailingStopsBeforeAnyDisk() async throws {
        let h = try Harness(try Self.reread("residual") + [
            Self.action("multipath-f-mpatha", exit: 1, stderr: "map in use\n"),
            Self.action("multipath-f-mpatha", exit: 1, stderr: "map in use\n"),
            Self.action("multipath-f-mpatha", exit: 1, stderr: "map in use\n"),
        ])
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.residualPlan())
        #expect(h.executor.unconsumed.isEmpty)
        #expect(r.maps.first?.outcome == .failed)
        #expect(r.maps.first?.reason?.contains("after 3 attempts") == true)
        let rows = try h.actions()
        #expect(rows.filter { $0.kind == "flush-map" }.map(\.outcome) == [.failed, .failed, .failed])
        #expect(rows.filter { $0.kind != "flush-map" }.allSatisfy { $0.outcome == .skipped })
    }

    @Test func pathsBackSinceThePlanAbortsWithoutSendingAnything() async throws {
        // The re-read shows the `healthy` captures: mpatha's paths are active again.
        let h = try Harness(try Self.reread("healthy"))
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.residualPlan())
        #expect(h.executor.unconsumed.isEmpty)
        let m = try #require(r.maps.first)
        #expect(m.outcome == .aborted)
        #expect(m.reason?.contains("paths recovering") == true)
        #expect(!r.failed, "refusing to act on a changed map is not a failure")
        let rows = try h.actions()
        #expect(rows.count == 6)
        #expect(rows.allSatisfy { $0.outcome == .aborted && $0.startedAt == nil && $0.reason?.contains("paths recovering") == true })
    }

    @Test func mapNameTakenByAnotherWWIDAborts() async throws {
        // Between scan and clean, mpatha/dm-0 were removed and reused for another LUN.
        let other = "36001405ffffffffffffffffffffffff0"
        let h = try Harness(try Self.reread("residual") { _, text in text.replacingOccurrences(of: Self.mpatha, with: other) })
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.residualPlan())
        #expect(h.executor.unconsumed.isEmpty)
        #expect(r.maps.first?.outcome == .aborted)
        #expect(r.maps.first?.reason?.contains("no longer in multipath -ll") == true)
    }

    static func hungPlan() throws -> NodeCleanPlan {
        let scan = try CleanFixtures.scan("hung", probes: ["dm-2"], at: Self.t)
        return CleanPlanner.plan(scan: scan, target: NodeTarget(name: "node-1", host: "127.0.4.1"), protect: [],
                                 observations: [Self.mpathc: [Self.t.addingTimeInterval(-600)]], confirmAfter: .seconds(300))
    }

    @Test func hungMapGetsQueueingDisabledAndItsStuckProbeKilled() async throws {
        let plan = try Self.hungPlan()
        let c = try #require(plan.cleanups.first)
        #expect(c.name.rawValue == "mpathc" && c.verdict == .residualHung && c.queueing)
        let stuck = try Fixtures.real("hung", "ps-dd-wchan.txt")  // pid 8410, D state, dd if=/dev/dm-2
        // The dd is still there after the wait, is killed, and then the open count is 0.
        let h = try Harness(try Self.reread("hung", ps: stuck) + [
            Self.action("multipathd-disablequeueing-mpathc"),
            try Self.look(open: 1, openers: [8410]),
            Self.action("kill-8410"),
            try Self.look(open: 0, openers: []),
            Self.action("multipath-f-mpathc"),
            Self.action("blockdev-flushbufs-sdf"), Self.action("blockdev-flushbufs-sdd"),
            Self.action("delete-sdf"), Self.action("delete-sdd"),
            Self.action("multipath-w-\(Self.mpathc)"),
        ] + (try Self.reread("after-cleanup-hung")))
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(plan)
        #expect(h.executor.unconsumed.isEmpty)
        #expect(r.maps.first?.outcome == .cleaned)
        #expect(try h.actions().filter { $0.kind != "verify" }.map(\.command) == [
            "multipathd disablequeueing map mpathc", "multipath -f mpathc",
            "blockdev --flushbufs /dev/sdf", "blockdev --flushbufs /dev/sdd",
            "echo 1 > /sys/block/sdf/device/delete", "echo 1 > /sys/block/sdd/device/delete",
            "multipath -w \(Self.mpathc)", "kill -9 8410",
        ])
        #expect(try h.actions().last { $0.kind != "verify" }?.reason?.contains("stuck reader still there after disabling queueing: pid 8410 dd (D, submit_bio_wait)") == true)
    }

    @Test func multipathdFailingFallsBackAndAnOpenCountAbove0StopsTheMap() async throws {
        // multipathd answers `fail`; the kernel message works; the dd survives kill -9 (still
        // D) and the open count stays 1: no flush, no delete (none is scripted: sending one
        // would stop the test process), and the reason says queueing was left disabled.
        let stuck = try Fixtures.real("hung", "ps-dd-wchan.txt")
        let h = try Harness(try Self.reread("hung", ps: stuck) + [
            .framed(stdinContaining: "r multipathd-disablequeueing-mpathc ", [("multipathd-disablequeueing-mpathc", 1, "fail\n", "")]),
            Self.action("dmsetup-message-mpathc"),
            try Self.look(open: 1, openers: [8410]),
            Self.action("kill-8410"),
            try Self.look(open: 1, openers: [8410]),
        ])
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.hungPlan())
        #expect(h.executor.unconsumed.isEmpty)
        let m = try #require(r.maps.first)
        #expect(m.outcome == .failed)
        let reason = try #require(m.reason)
        #expect(reason.contains("open count of mpathc still 1 after disabling queueing and kill -9 of pid 8410 dd"))
        #expect(reason.contains("no disk deleted") && reason.contains("queueing was left disabled on mpathc"))
        let rows = try h.actions()
        // The plan's closing `multipath -w` (#15) is skipped with the flush and deletes.
        #expect(rows.map(\.kind) == ["disable-queueing", "flush-map", "flush-buffers", "flush-buffers", "delete-device", "delete-device",
                                      "remove-wwid", "disable-queueing", "kill"])
        #expect(rows.map(\.outcome) == [.failed, .skipped, .skipped, .skipped, .skipped, .skipped, .skipped, .ok, .ok])
        #expect(rows[7].command == "dmsetup message mpathc 0 fail_if_no_path")
        #expect(rows[1...5].allSatisfy { $0.startedAt == nil && $0.reason?.contains("queueing was left disabled") == true })
        #expect(rows[6].startedAt == nil)
    }

    @Test func cutShortLookAtTheOpenersStopsTheMapBeforeAnyKillOrFlush() async throws {
        // The look after disabling queueing names the stuck dd (pid 8410) but the script was
        // killed before its END marker (exit 137): a partial listing is not acted on.
        // No kill, flush or delete is scripted: sending one would stop the test process.
        let stuck = try Fixtures.real("hung", "ps-dd-wchan.txt")
        let frames = try Self.lookFrames(open: 1, openers: [8410])
        let h = try Harness(try Self.reread("hung", ps: stuck) + [
            Self.action("multipathd-disablequeueing-mpathc"),
            .framed(stdinContaining: "r dmsetup-info-c ", frames, complete: false, exit: .exited(137)),
        ])
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.hungPlan())
        #expect(h.executor.unconsumed.isEmpty)
        #expect(r.status == .ok, "the session is fine; only this map's steps stop")
        #expect(r.maps.first?.outcome == .failed)
        let rows = try h.actions()
        #expect(rows.map(\.kind) == ["disable-queueing", "flush-map", "flush-buffers", "flush-buffers", "delete-device", "delete-device",
                                      "remove-wwid"])
        #expect(rows.map(\.outcome) == [.ok, .skipped, .skipped, .skipped, .skipped, .skipped, .skipped])
        #expect(rows.dropFirst().allSatisfy { $0.startedAt == nil })
        #expect(r.maps.first?.steps.map(\.outcome) == [.ok, .skipped, .skipped, .skipped, .skipped, .skipped, .skipped])
    }

    @Test func stepsOkButMapStillThereIsAFailure() async throws {
        // The node says every command worked but the re-read still shows the map: not cleaned.
        let h = try Harness(try Self.reread("residual") + [
            Self.action("multipath-f-mpatha"),
            Self.action("blockdev-flushbufs-sdg"), Self.action("blockdev-flushbufs-sdh"),
            Self.action("delete-sdg"), Self.action("delete-sdh"),
            Self.action("multipath-w-\(Self.mpatha)"),
        ] + (try Self.reread("residual")))
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.residualPlan())
        #expect(h.executor.unconsumed.isEmpty)
        #expect(r.maps.first?.outcome == .failed)
        #expect(r.maps.first?.reason?.contains("map still in multipath -ll") == true)
        // The history says so too: every step's row is ok, the check's row is not, and the
        // map's cleanup reads as failed (what `fleet report` and `history` show).
        let rows = try h.actions()
        #expect(rows.dropLast().allSatisfy { $0.outcome == .ok })
        #expect(rows.last?.kind == "verify" && rows.last?.outcome == .failed)
        #expect(try h.history.db.mapCleanups().map(\.outcome) == [.failed])
    }

    @Test func sessionLostMidCleanupLeavesNoPlannedRowOpen() async throws {
        let h = try Harness(try Self.reread("residual") + [
            Self.action("multipath-f-mpatha"),
            .failure(containing: "sh -s", NodeFailure(.disconnected, "node-1: connection reset")),
        ])
        defer { h.history.cleanup() }
        let r = await h.cleaner.clean(try Self.residualPlan())
        #expect(r.status == .disconnected)
        #expect(r.maps.first?.outcome == .failed)
        let rows = try h.actions()
        #expect(rows.map(\.outcome) == [.ok, .failed, .skipped, .skipped, .skipped, .skipped])
        #expect(rows[1].reason?.contains("result unknown") == true)
        #expect(try h.history.db.unfinishedActions(node: "node-1").isEmpty)
    }

    @Test func resumedDisksMustStillBeTheSameLUN() throws {
        // The node after an interrupted run's `multipath -f mpatha`: the map and dm-0 are
        // gone, sdg and sdh remain (lab captures of `residual` with mpatha removed).
        let frames = try CleanFixtures.discoveryFrames("residual") { name, text in
            name == "multipath-ll" ? text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(5).joined(separator: "\n") : text
        }.filter { !$0.name.hasPrefix("sys-block-dm-0-") }
        let snapshot = NodeSnapshot(outputs: frames.map {
            CommandOutput(command: NodeCommand(captureName: $0.name)!, stdout: $0.stdout, stderr: $0.stderr, exitCode: $0.exitCode)
        })
        #expect(snapshot.map(wwid: Self.mpatha) == nil)
        let disks = [BlockDeviceName("sdg")!, BlockDeviceName("sdh")!]
        let same = MapCleanup(wwid: WWID(Self.mpatha)!, name: MapName("mpatha")!, dm: DMDeviceName("dm-0")!, disks: disks,
                              verdict: .residual, queueing: false, resumeOnly: true)
        #expect(NodeCleaner.mismatch(same, snapshot: snapshot, protect: []) == nil)
        // Another LUN's name for the same disks (sdX reused): refused.
        var other = same
        other.wwid = WWID("36001405ffffffffffffffffffffffff0")!
        #expect(NodeCleaner.mismatch(other, snapshot: snapshot, protect: [])
            == .diskIsOtherLUN(BlockDeviceName("sdg")!, wwn: "0x6001405ae3a4a2b307ccf2a518e52df9", wwid: other.wwid))
        // sdc belongs to mpathb: never deleted by a resume.
        var inMap = same
        inMap.disks = [BlockDeviceName("sdc")!]
        #expect(NodeCleaner.mismatch(inMap, snapshot: snapshot, protect: [])
            == .diskInMap(BlockDeviceName("sdc")!, mapName: "mpathb", wwid: "360014052df940906efa8efc931101de3"))
    }

    @Test func unreachableNodeFailsWithoutAnyAuditRow() async throws {
        let history = try TempHistory()
        defer { history.cleanup() }
        let run = try history.db.beginRun(kind: .clean, inventory: nil, options: ["test": "clean"], version: "test")
        let ex = ScriptedExecutor(["node-1": .fails(NodeFailure(.refused, "node-1: connection refused"))])
        let cleaner = NodeCleaner(executor: ex, audit: DatabaseCleanAudit(database: history.db, run: run))
        let r = await cleaner.clean(try Self.residualPlan())
        #expect(r.status == .refused && r.failed)
        #expect(try history.db.actions(node: "node-1", limit: 0).isEmpty)
    }
}
