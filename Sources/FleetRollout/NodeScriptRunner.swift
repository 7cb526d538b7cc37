import FleetModel

/// Which node script to run: the whole read-only discovery, the readability probes, or
/// typed commands one after another.
public enum NodeScriptKind: Sendable, Hashable {
    case discovery
    /// Phase 1 (``NodeScript/phase1(nonce:)``).
    case phase1
    case probes([DMDeviceName], seconds: Int)
    /// `pauseAfterActions` seconds of sleep follow each action, so a re-check in the same
    /// script sees the effect of a kill.
    case sequence([NodeCommand], pauseAfterActions: Int)

    func script(nonce: String) -> String {
        switch self {
        case .discovery: NodeScript.discovery(nonce: nonce)
        case .phase1: NodeScript.phase1(nonce: nonce)
        case .probes(let devices, let seconds): NodeScript.probes(devices, seconds: seconds, nonce: nonce)
        case .sequence(let commands, let pause): NodeScript.sequence(commands, nonce: nonce, pauseAfterActions: pause)
        }
    }

    /// The script frames no stderr (phase 1 keeps its framing in shell variables): its
    /// commands' stderr and the shell's own go to the channel's stderr, where any byte is a
    /// framing warning. The other scripts frame each command's stderr, so the channel's
    /// stderr holds only what a login shell prints, which says nothing about the outputs.
    var stderrOnChannel: Bool {
        if case .phase1 = self { true } else { false }
    }

    /// The capture names this script may answer under: discovery accepts any read-only
    /// discovery command (device names validated by ``NodeCommand/init(captureName:)``);
    /// the others only the commands they sent.
    var resolver: @Sendable (String) -> NodeCommand? {
        let sent: [NodeCommand]
        switch self {
        case .discovery: return { NodeCommand(captureName: $0) }
        case .phase1: return { NodeCommand(captureName: $0).flatMap { PhaseOne.reads($0) ? $0 : nil } }
        case .probes(let devices, let seconds): sent = devices.map { .probe($0, seconds: seconds) }
        case .sequence(let commands, _): sent = commands
        }
        let byName = Dictionary(sent.map { ($0.captureName, $0) }, uniquingKeysWith: { a, _ in a })
        return { byName[$0] }
    }
}

/// Why a node script's output cannot be used: the one failure of ``RemoteSession/run(_:what:timeout:outputLimit:nonce:)``.
public struct ScriptFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The exec itself failed (dropped connection, deadline): nothing arrived.
        case transport
        /// The output went past the cap.
        case truncated
        /// The node's `timeout` killed the script.
        case timedOut
        /// `timeout` or `sh` could not run on the node.
        case cannotRun
        /// The script stopped before its END marker for another reason.
        case endedEarly
        /// The script's channel ended without an exit status (``RemoteExit/missing(_:)``):
        /// even a complete output is not trusted, since nothing says the script ended the
        /// way it suggests.
        case noExitStatus
    }

    public var kind: Kind
    /// The node status and message this failure makes.
    public var failure: NodeFailure
    /// The frames that arrived whole before the script was cut off (empty for `transport`):
    /// evidence to keep, never a result to act on.
    public var partial: FramedOutputs

    public var status: NodeStatus { failure.status }
    public var message: String { failure.message }
    public var description: String { failure.description }

    /// The session itself can no longer be trusted: a transport failure, or output cut
    /// at the cap mid-stream.
    public var sessionLost: Bool { kind == .transport || kind == .truncated }
}

extension RemoteSession {
    /// Runs one node script (`sh -s`, the script on stdin) and returns its framed outputs,
    /// only when they are whole: the output under the cap and the END marker seen. This is
    /// the one place that checks both, for discovery, re-verify and every cleanup step.
    ///
    /// `what` names the script in messages ("discovery", "re-read", `multipath -f mpatha`);
    /// `timeout` is rounded up to whole seconds (the node's `timeout` takes seconds).
    public func run(
        _ kind: NodeScriptKind, what: String, timeout: Duration, outputLimit: Int, nonce: String
    ) async throws(ScriptFailure) -> FramedOutputs {
        let seconds = NodeScript.wholeSeconds(timeout)
        let raw: ExecResult
        do {
            raw = try await exec(ExecRequest(command: NodeScript.execCommand, stdin: Array(kind.script(nonce: nonce).utf8),
                                             timeout: .seconds(seconds), outputLimit: outputLimit))
        } catch {
            throw ScriptFailure(kind: .transport, failure: error, partial: FramedOutputs())
        }
        var framed = Framing.parse(raw.stdout, nonce: nonce, resolve: kind.resolver)
        if kind.stderrOnChannel, !raw.stderr.isEmpty {
            framed.warnings.append("stderr: \(Framing.preview(raw.stderr[...]))")
        }
        if let (k, status, message) = Self.incomplete(raw, framed, what: what, seconds: seconds) {
            throw ScriptFailure(kind: k, failure: NodeFailure(status, message), partial: framed)
        }
        return framed
    }

    /// Why a script's output cannot be trusted as complete, if it cannot.
    static func incomplete(_ raw: ExecResult, _ framed: FramedOutputs, what: String, seconds: Int)
        -> (ScriptFailure.Kind, NodeStatus, String)?
    {
        if raw.truncated { return (.truncated, .truncated, "\(what) output went past the cap") }
        if raw.exit.isMissing {
            return (.noExitStatus, .noExitStatus,
                    "\(what): \(raw.exit); its output arrived \(framed.complete ? "complete" : "cut off") but is not trusted")
        }
        if framed.complete { return nil }
        if raw.exit == .exited(137) || raw.exit == .signalled("KILL") {
            return (.timedOut, .commandTimeout, "\(what) did not finish within \(seconds)s on the node (killed by timeout)")
        }
        if raw.exit == .exited(126) || raw.exit == .exited(127) {
            return (.cannotRun, .nodeError, "\(what): cannot run `timeout`/`sh` on the node: \(raw.stderrText.trimmed)")
        }
        return (.endedEarly, .nodeError, "\(what) script ended early (\(raw.exit)): \(raw.stderrText.trimmed.prefix(200))")
    }
}

extension NodeScript {
    /// A deadline in whole seconds, rounded up (at least 1): what `timeout` on the node takes.
    static func wholeSeconds(_ d: Duration) -> Int {
        Int(max(1, d.secondsRoundedUp))
    }
}
