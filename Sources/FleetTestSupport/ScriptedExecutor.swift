import Foundation
import FleetModel

/// A ``RemoteExecutor`` double for unit tests of logic: each node gets an ordered list of
/// expected execs and the reply to each. Anything not scripted — an unknown node, one exec
/// more than expected, an exec that does not match — stops the test process with a message
/// naming the node and the command (`fatalError`, like swiftly's unmocked doubles), so a
/// test can never pass by accident on an unscripted path.
///
///     let ex = ScriptedExecutor([
///         "node-1": .replies([.framed(matching: "sh -s", [("multipath-ll", 0, text, "")])]),
///         "node-2": .fails(NodeFailure(.refused, "node-2: connection refused")),
///     ])
public final class ScriptedExecutor: RemoteExecutor, @unchecked Sendable {
    // @unchecked: all mutable state is behind `lock`.

    /// One expected exec and how the node answers it.
    public struct Reply: Sendable {
        /// Shown when the exec does not match.
        public var expectation: String
        public var matches: @Sendable (ExecRequest) -> Bool
        public var respond: @Sendable (ExecRequest) -> Result<ExecResult, NodeFailure>

        public init(_ expectation: String, matches: @escaping @Sendable (ExecRequest) -> Bool,
                    respond: @escaping @Sendable (ExecRequest) -> Result<ExecResult, NodeFailure>) {
            self.expectation = expectation; self.matches = matches; self.respond = respond
        }

        /// An exec whose command line contains `fragment` (and, when given, whose stdin does
        /// too) answered with `result`.
        public static func exec(containing fragment: String, stdinContaining: String? = nil,
                                _ result: ExecResult) -> Reply {
            Reply("exec containing \(fragment.debugDescription)" + (stdinContaining.map { " with stdin containing \($0.debugDescription)" } ?? ""),
                  matches: { r in
                      r.command.contains(fragment)
                          && (stdinContaining.map { String(decoding: r.stdin, as: UTF8.self).contains($0) } ?? true)
                  },
                  respond: { _ in .success(result) })
        }

        /// An exec that fails at the transport level.
        public static func failure(containing fragment: String, _ failure: NodeFailure) -> Reply {
            Reply("exec containing \(fragment.debugDescription) (fails)", matches: { $0.command.contains(fragment) },
                  respond: { _ in .failure(failure) })
        }

        /// A fleet node script (`sh -s` with `N=<nonce>` on stdin) answered in fleet's framing:
        /// one frame per (capture name, exit code, stdout, stderr), then the END trailer
        /// unless `complete` is false. `stdinContaining` narrows which script this answers.
        public static func framed(stdinContaining: String? = nil,
                                  _ frames: [(name: String, exitCode: Int32, stdout: String, stderr: String)],
                                  complete: Bool = true, exit: RemoteExit = .exited(0)) -> Reply {
            let frames = frames.map { FrameSpec(name: $0.name, exitCode: $0.exitCode, stdout: $0.stdout, stderr: $0.stderr) }
            return Reply("node script" + (stdinContaining.map { " containing \($0.debugDescription)" } ?? ""),
                         matches: { r in
                             r.command.contains("sh -s")
                                 && (stdinContaining.map { String(decoding: r.stdin, as: UTF8.self).contains($0) } ?? true)
                         },
                         respond: { r in
                             guard let nonce = ScriptedExecutor.nonce(in: r) else {
                                 fatalError("ScriptedExecutor: script without an N=<nonce> line: \(r.command)")
                             }
                             return .success(ExecResult(stdout: ScriptedExecutor.frame(frames, nonce: nonce, complete: complete),
                                                        exit: exit))
                         })
        }

        /// Like ``framed(stdinContaining:_:complete:exit:)`` but computed from the request.
        public static func framing(_ expectation: String, matches: @escaping @Sendable (ExecRequest) -> Bool,
                                   _ frames: @escaping @Sendable (ExecRequest) -> [FrameSpec]) -> Reply {
            Reply(expectation, matches: matches, respond: { r in
                guard let nonce = ScriptedExecutor.nonce(in: r) else {
                    fatalError("ScriptedExecutor: script without an N=<nonce> line: \(r.command)")
                }
                return .success(ExecResult(stdout: ScriptedExecutor.frame(frames(r), nonce: nonce, complete: true)))
            })
        }
    }

    public struct FrameSpec: Sendable, Hashable {
        public var name: String, exitCode: Int32, stdout: String, stderr: String
        public init(name: String, exitCode: Int32 = 0, stdout: String, stderr: String = "") {
            self.name = name; self.exitCode = exitCode; self.stdout = stdout; self.stderr = stderr
        }
    }

    public enum Node: Sendable {
        /// Opening the session fails with this (refused, host key changed, …).
        case fails(NodeFailure)
        /// The session opens; these execs are expected in this order.
        case replies([Reply])
        /// Opening the session never completes until the task is cancelled (a silent node).
        case hangs
    }

    private let lock = NSLock()
    private var nodes: [String: Node]
    private var pending: [String: [Reply]] = [:]
    private var log: [(node: String, request: ExecRequest)] = []
    private var sessionsOpened: [String] = []

    public init(_ nodes: [String: Node]) {
        self.nodes = nodes
        for (name, n) in nodes { if case .replies(let r) = n { pending[name] = r } }
    }

    /// Every exec received, in order of arrival.
    public var requests: [(node: String, request: ExecRequest)] { lock.withLock { log } }
    /// Node names in the order sessions were opened.
    public var sessions: [String] { lock.withLock { sessionsOpened } }
    /// Expectations not consumed, as "node: expectation" (a test should expect this empty).
    public var unconsumed: [String] {
        lock.withLock { pending.sorted { $0.key < $1.key }.flatMap { k, v in v.map { "\(k): \($0.expectation)" } } }
    }

    public func withSession<T: Sendable>(
        to target: NodeTarget, _ body: @Sendable (any RemoteSession) async throws -> T
    ) async throws -> T {
        let node: Node? = lock.withLock {
            sessionsOpened.append(target.name)
            return nodes[target.name]
        }
        switch node {
        case nil:
            fatalError("ScriptedExecutor: unexpected session to \(target.name) (\(target.host)); scripted: \(nodes.keys.sorted())")
        case .fails(let f):
            throw f
        case .hangs:
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            throw NodeFailure(.connectTimeout, "\(target.name): cancelled while connecting (scripted hang)")
        case .replies:
            return try await body(Session(owner: self, node: target.name))
        }
    }

    fileprivate func next(_ node: String, _ request: ExecRequest) -> Result<ExecResult, NodeFailure> {
        let reply: Reply = lock.withLock {
            log.append((node, request))
            guard var queue = pending[node], !queue.isEmpty else {
                fatalError("ScriptedExecutor: unexpected exec on \(node): \(request.command)\nstdin:\n\(String(decoding: request.stdin, as: UTF8.self))")
            }
            let r = queue.removeFirst()
            pending[node] = queue
            guard r.matches(request) else {
                fatalError("ScriptedExecutor: on \(node) expected \(r.expectation), got: \(request.command)\nstdin:\n\(String(decoding: request.stdin, as: UTF8.self))")
            }
            return r
        }
        return reply.respond(request)
    }

    private struct Session: RemoteSession {
        let owner: ScriptedExecutor
        let node: String
        func exec(_ request: ExecRequest) async throws(NodeFailure) -> ExecResult {
            try owner.next(node, request).get()
        }
    }

    // MARK: - fleet's node-script framing, written independently of the parser in FleetRollout

    /// The nonce from a node script's `N=<hex>` line.
    public static func nonce(in request: ExecRequest) -> String? {
        for line in String(decoding: request.stdin, as: UTF8.self).split(separator: "\n") where line.hasPrefix("N=") {
            return String(line.dropFirst(2))
        }
        return nil
    }

    public static func frame(_ frames: [FrameSpec], nonce: String, complete: Bool) -> [UInt8] {
        // FLEET2: a header block (one line per command), DATA, the payloads in that order, END.
        var head: [UInt8] = [], body: [UInt8] = []
        for f in frames {
            let o = Array(f.stdout.utf8), e = Array(f.stderr.utf8)
            head += Array("FLEET2:\(nonce):\(f.name):\(f.exitCode):\(o.count):\(e.count)\n".utf8)
            body += o + e
        }
        var out = head + Array("FLEET2:\(nonce):DATA\n".utf8) + body
        if complete { out += Array("FLEET2:\(nonce):END\n".utf8) }
        return out
    }
}
