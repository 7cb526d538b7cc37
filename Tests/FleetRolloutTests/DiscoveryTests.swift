import Foundation
import Testing
import FleetModel
import FleetTestSupport
@testable import FleetRollout

/// Discovery over a ScriptedExecutor that answers with the real captures of one state.
@Suite struct DiscoveryTests {
    static let target = NodeTarget(name: "node-1", host: "127.0.0.1")

    /// The discovery frames a node in `state` would send (FleetTestSupport's reading of the captures).
    static func discoveryFrames(_ state: String) throws -> [ScriptedExecutor.FrameSpec] {
        try Fixtures.discoveryFrames(state)
    }

    /// `ps` with no dd on any device (the fixtures' own ps capture shows the stuck one).
    static let psNothingStuck = """
            PID    PPID STAT WCHAN                                ELAPSED CMD
              1       0 Ss   -                                   01:02:03 /sbin/init
            """

    static func discovery(_ state: String) throws -> ScriptedExecutor.Reply {
        let frames = try discoveryFrames(state)
        return .framing("discovery script", matches: { String(decoding: $0.stdin, as: UTF8.self).contains("r multipath-ll ") }) { _ in frames }
    }

    func run(_ ex: ScriptedExecutor, options: DiscoveryOptions = DiscoveryOptions(probeTimeout: .seconds(9))) async throws -> NodeDiscovery {
        try await ex.withSession(to: Self.target) { s in
            try await Discovery.run(on: s, node: "node-1", options: options)
        }
    }

    @Test func residualStateProbesOnlyTheFailedMapAndCallsItResidual() async throws {
        let ddErr = try Fixtures.real("residual", "dd-dm-0.stderr.txt")
        let ex = ScriptedExecutor(["node-1": .replies([
            try Self.discovery("residual"),
            .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, Self.psNothingStuck, "")]),
            .framing("probe of dm-0 only", matches: { r in
                let s = String(decoding: r.stdin, as: UTF8.self)
                return s.contains("p dd-dm-0 ") && !s.contains("dd-dm-1") && !s.contains("dd-dm-2") && !s.contains("dd-dm-3")
            }) { _ in [.init(name: "dd-dm-0", exitCode: 1, stdout: "", stderr: ddErr)] },
        ])])
        let d = try await run(ex)
        #expect(ex.unconsumed.isEmpty)
        #expect(d.status == .ok)
        #expect(d.error == nil)
        // _lab-luns.txt: LUN 1 (mpatha, dm-0, no_path_retry=fail) unmapped on both portals.
        let byName = Dictionary(uniqueKeysWithValues: d.findings.map { ($0.map.name ?? "?", $0) })
        #expect(byName["mpatha"]?.verdict == .residual, "\(byName["mpatha"]?.reasons ?? [])")
        #expect(byName["mpatha"]?.evidence.probe?.outcome == .ioError)
        #expect(byName["mpathb"]?.verdict == .healthy)
        #expect(byName["mpathc"]?.verdict == .healthy)
        #expect(byName["mpathd"]?.verdict == .healthy)
        // Every exec goes through `sh -s` with its deadline; the probe one allows the probe time.
        #expect(ex.requests.map(\.request.command) == ["sh -s", "sh -s", "sh -s"])
        #expect(ex.requests[2].request.timeout >= .seconds(9))
        #expect(String(decoding: ex.requests[2].request.stdin, as: UTF8.self).contains("timeout -s KILL 9 dd"))
        #expect(d.outputs.contains { $0.command == .probe(DMDeviceName("dm-0")!, seconds: 9) })
    }

    @Test func hungProbeFindsKillsAndRechecksTheStuckDD() async throws {
        let ps = try Fixtures.real("hung", "ps-dd-wchan.txt")  // pid 8410, D state, reading /dev/dm-2
        let ex = ScriptedExecutor(["node-1": .replies([
            try Self.discovery("hung"),
            .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, Self.psNothingStuck, "")]),
            .framed(stdinContaining: "p dd-dm-2 ", [("dd-dm-2", 137, "", "")]),
            .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, ps, "")]),
            .framing("kill -9 8410 then ps", matches: { r in
                let s = String(decoding: r.stdin, as: UTF8.self)
                return s.contains("r kill-8410 'kill -9 8410'") && s.contains("r ps-dd-wchan ")
                    && s.range(of: "kill-8410")!.lowerBound < s.range(of: "r ps-dd-wchan")!.lowerBound
            }) { _ in [.init(name: "kill-8410", exitCode: 0, stdout: ""), .init(name: "ps-dd-wchan", stdout: ps)] },
        ])])
        let d = try await run(ex)
        #expect(ex.unconsumed.isEmpty)
        #expect(d.status == .ok)
        // _lab-luns.txt: LUN 2 (mpathc, dm-2, no_path_retry=queue) unmapped: the hung case.
        let c = try #require(d.findings.first { $0.map.name == "mpathc" })
        #expect(c.verdict == .residualHung, "\(c.reasons)")
        #expect(c.evidence.probe?.outcome == .hung)
        #expect(c.evidence.probe?.stuckPID == 8410)
        #expect(c.evidence.probe?.stuckAfterKill == true)
        #expect(d.findings.filter { $0.map.name != "mpathc" }.allSatisfy { $0.verdict == .healthy })
        #expect(d.outputs.contains { $0.command == .killProcess(ProcessID("8410")!) })
    }

    @Test func aStuckDDThatDiesIsRecordedAsKilled() async throws {
        let ps = try Fixtures.real("hung", "ps-dd-wchan.txt")
        let ex = ScriptedExecutor(["node-1": .replies([
            try Self.discovery("hung"),
            .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, Self.psNothingStuck, "")]),
            .framed(stdinContaining: "p dd-dm-2 ", [("dd-dm-2", 137, "", "")]),
            .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, ps, "")]),
            .framed(stdinContaining: "kill -9 8410", [("kill-8410", 0, "", ""), ("ps-dd-wchan", 0, "", "")]),
        ])])
        let d = try await run(ex)
        let c = try #require(d.findings.first { $0.map.name == "mpathc" })
        #expect(c.evidence.probe?.stuckPID == 8410)
        #expect(c.evidence.probe?.stuckAfterKill == false)
    }

    @Test func aDeviceWithAnOldStuckDDIsNotProbedAgain() async throws {
        let ps = try Fixtures.real("hung", "ps-dd-wchan.txt")  // dd 8410 still stuck on dm-2
        let ex = ScriptedExecutor(["node-1": .replies([
            try Self.discovery("hung"),
            .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, ps, "")]),
        ])])
        let d = try await run(ex)
        #expect(ex.unconsumed.isEmpty)
        #expect(ex.requests.count == 2)   // no probe exec: it would only leave another dd behind
        let c = try #require(d.findings.first { $0.map.name == "mpathc" })
        // The earlier probe's dd still blocked in D state is the hung probe: the map stays
        // residual-hung scan after scan, so clean can confirm it (two observations).
        #expect(c.verdict == .residualHung)
        #expect(c.evidence.probe?.stuckPID == 8410)
        #expect(c.reasons.contains { $0.contains("earlier probe still blocked: dd 8410") })
        #expect(c.reasons.contains { $0.contains("not probed again: dd 8410") })
    }

    @Test func healthyNodeIsOneExec() async throws {
        let ex = ScriptedExecutor(["node-1": .replies([try Self.discovery("healthy")])])
        let d = try await run(ex)
        #expect(ex.requests.count == 1)
        #expect(d.status == .ok)
        #expect(d.findings.count == 4)
        #expect(d.findings.allSatisfy { $0.verdict == .healthy })
    }

    @Test func missingMultipathToolsIsANodeErrorWithTheReason() async throws {
        let ex = ScriptedExecutor(["node-1": .replies([
            .framed([("multipath-ll", 127, "", "sh: 1: multipath: not found\n"),
                     ("multipathd-show-maps-json", 127, "", "sh: 1: multipathd: not found\n")]),
        ])])
        let d = try await run(ex)
        #expect(d.status == .nodeError)
        #expect(d.error?.contains("multipath-tools not installed") == true)
        #expect(d.error?.contains("multipath: not found") == true)
        #expect(d.outputs.count == 2)
        #expect(d.findings.isEmpty)
    }

    @Test func scriptKilledMidwayIsACommandTimeoutKeepingWhatArrived() async throws {
        let ex = ScriptedExecutor(["node-1": .replies([
            .framed([("multipath-ll", 0, "", "")], complete: false, exit: .exited(137)),
        ])])
        let d = try await run(ex)
        #expect(d.status == .commandTimeout)
        #expect(d.outputs.map(\.command) == [.multipathList])
    }

    @Test func transportFailureDuringDiscoveryIsThrownAsTheNodeStatus() async throws {
        let ex = ScriptedExecutor(["node-1": .replies([
            .failure(containing: "sh -s", NodeFailure(.disconnected, "127.0.0.1:22: connection reset")),
        ])])
        await #expect(throws: NodeFailure(.disconnected, "127.0.0.1:22: connection reset")) { try await run(ex) }
    }

    /// Every frame arrived, but the channel ended without an exit status: the node is not
    /// scanned (its own status, exit code 2), its outputs are kept for the history, and no
    /// map finding is made from them.
    @Test func discoveryWithoutExitStatusIsANodeStatusNotSuccess() async throws {
        let frames = try Self.discoveryFrames("healthy").map { ($0.name, $0.exitCode, $0.stdout, $0.stderr) }
        let ex = ScriptedExecutor(["node-1": .replies([
            .framed(frames, complete: true, exit: .missing(.closedWithoutStatus)),
        ])])
        let d = try await run(ex)
        #expect(d.status == .noExitStatus)
        #expect(d.error == "node-1: discovery: no exit status (the server closed the channel without an exit status); its output arrived complete but is not trusted")
        #expect(d.outputs.count == frames.count)
        #expect(d.findings.isEmpty)
    }

    /// The same for the probe phase: discovery stands, the node says why it is not ok, and the
    /// all-failed map is not cleanable without its probe.
    @Test func probePhaseWithoutExitStatusKeepsDiscoveryAndSaysWhy() async throws {
        let ex = ScriptedExecutor(["node-1": .replies([
            try Self.discovery("residual"),
            .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, Self.psNothingStuck, "")],
                    exit: .missing(.closedWithoutStatus)),
        ])])
        let d = try await run(ex)
        #expect(ex.unconsumed.isEmpty)
        #expect(d.status == .noExitStatus)
        #expect(d.error?.contains("probe phase") == true)
        #expect(d.findings.count == 4)
        #expect(d.findings.first { $0.map.name == "mpatha" }?.verdict.isCleanable == false)
    }

    @Test func lostProbePhaseKeepsDiscoveryAndSaysWhy() async throws {
        let ex = ScriptedExecutor(["node-1": .replies([
            try Self.discovery("residual"),
            .failure(containing: "sh -s", NodeFailure(.commandTimeout, "127.0.0.1:22: no exit status within 24s")),
        ])])
        let d = try await run(ex)
        #expect(d.status == .commandTimeout)
        #expect(d.error?.contains("probe phase") == true)
        #expect(d.findings.count == 4)
        #expect(d.findings.first { $0.map.name == "mpatha" }?.verdict.isCleanable == false)
    }
}
