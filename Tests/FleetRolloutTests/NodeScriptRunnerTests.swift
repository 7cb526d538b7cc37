import Testing
import FleetModel
import FleetTestSupport
@testable import FleetRollout

/// The one node-script runner: a whole output comes back; anything cut short is a typed
/// failure that still carries the frames that arrived.
@Suite struct NodeScriptRunnerTests {
    static let target = NodeTarget(name: "node-1", host: "127.0.106.1")
    static let ps = NodeCommand.stuckProbes

    static func run(_ reply: ScriptedExecutor.Reply) async throws -> Result<FramedOutputs, ScriptFailure> {
        let ex = ScriptedExecutor(["node-1": .replies([reply])])
        let result = try await ex.withSession(to: target) { s in
            do throws(ScriptFailure) {
                return Result<FramedOutputs, ScriptFailure>.success(try await s.run(
                    .sequence([ps], pauseAfterActions: 0), what: "ps", timeout: .milliseconds(1500),
                    outputLimit: 1 << 20, nonce: "00ff"))
            } catch {
                return .failure(error)
            }
        }
        #expect(ex.unconsumed.isEmpty)
        return result
    }

    @Test func wholeOutputIsReturned() async throws {
        let r = try await Self.run(.framed([("ps-dd-wchan", 0, "PID\n", "")]))
        let f = try r.get()
        #expect(f.complete)
        #expect(f.outputs == [CommandOutput(command: Self.ps, stdout: "PID\n", stderr: "", exitCode: 0)])
    }

    @Test func killedByTimeoutIsTimedOutWithThePartialFrames() async throws {
        let r = try await Self.run(.framed([("ps-dd-wchan", 0, "PID\n", "")], complete: false, exit: .exited(137)))
        guard case .failure(let f) = r else { Issue.record("an output without END was accepted"); return }
        #expect(f.kind == .timedOut)
        #expect(f.status == .commandTimeout)
        #expect(f.message == "ps did not finish within 2s on the node (killed by timeout)", "1.5s rounds up to whole seconds")
        #expect(f.partial.outputs.map(\.command) == [Self.ps])
        #expect(!f.sessionLost)
    }

    /// Every frame and the END marker arrived, but the channel ended without an exit status:
    /// not a result, whatever the frames say; the frames are kept as evidence.
    @Test func completeOutputWithoutExitStatusIsNotAccepted() async throws {
        let r = try await Self.run(.framed([("ps-dd-wchan", 0, "PID\n", "")], complete: true, exit: .missing(.closedWithoutStatus)))
        guard case .failure(let f) = r else { Issue.record("an output without an exit status was accepted"); return }
        #expect(f.kind == .noExitStatus)
        #expect(f.status == .noExitStatus)
        #expect(f.message == "ps: no exit status (the server closed the channel without an exit status); its output arrived complete but is not trusted")
        #expect(f.partial.complete)
        #expect(f.partial.outputs.map(\.command) == [Self.ps])
        #expect(!f.sessionLost)
    }

    @Test func endedEarlyAndCannotRunAreTold() async throws {
        let early = try await Self.run(.framed([], complete: false, exit: .exited(1)))
        guard case .failure(let e) = early else { Issue.record("accepted"); return }
        #expect(e.kind == .endedEarly && e.status == .nodeError)
        let missing = try await Self.run(.exec(containing: "sh -s", ExecResult(stderr: Array("sh: not found\n".utf8), exit: .exited(127))))
        guard case .failure(let m) = missing else { Issue.record("accepted"); return }
        #expect(m.kind == .cannotRun && m.status == .nodeError)
    }

    @Test func truncatedOutputIsRejectedEvenWithItsEndMarker() async throws {
        let r = try await Self.run(Self.truncatedReply())
        guard case .failure(let f) = r else { Issue.record("a truncated output was accepted"); return }
        #expect(f.kind == .truncated && f.status == .truncated && f.sessionLost)
    }

    @Test func transportFailureCarriesTheNodeFailure() async throws {
        let lost = NodeFailure(.disconnected, "node-1: connection reset")
        let r = try await Self.run(.failure(containing: "sh -s", lost))
        guard case .failure(let f) = r else { Issue.record("accepted"); return }
        #expect(f.kind == .transport && f.failure == lost && f.partial == FramedOutputs())
    }

    static func truncatedReply() -> ScriptedExecutor.Reply {
        ScriptedExecutor.Reply("node script, truncated", matches: { $0.command.contains("sh -s") }, respond: { r in
            let bytes = ScriptedExecutor.frame([.init(name: "ps-dd-wchan", stdout: "PID\n")],
                                               nonce: ScriptedExecutor.nonce(in: r) ?? "", complete: true)
            return .success(ExecResult(stdout: bytes, truncated: true))
        })
    }
}
