import struct Foundation.Data

/// How to reach one node. Built from the inventory; consumed by a ``RemoteExecutor``.
public struct NodeTarget: Hashable, Sendable, Codable {
    public var name: String
    public var host: String
    public var port: Int
    public var user: String
    /// Private key files to try, in order (OpenSSH format). Empty: agent only.
    public var identityFiles: [String]
    /// known_hosts files to check the host key against (OpenSSH format).
    public var knownHostsFiles: [String]
    /// Run commands through `sudo -n`.
    public var sudo: Bool
    /// Jump hosts (OpenSSH ProxyJump, flattened), outermost first: fleet connects to
    /// `jumps[0]`, reaches `jumps[1]` through a `direct-tcpip` channel of it, …, and this
    /// node through the last. Each hop's host key is checked under its own name and port.
    public var jumps: [NodeTarget] = []
    /// Per-node transport settings from ssh_config; nil: the executor's options.
    public var connectTimeout: Duration? = nil
    public var keepaliveInterval: Duration? = nil
    /// Unanswered keepalives after which an idle session counts as dropped (ServerAliveCountMax).
    public var keepaliveCountMax: Int? = nil
    /// Offer only agent keys that match one of `identityFiles` (IdentitiesOnly).
    public var identitiesOnly: Bool = false
    /// ssh-agent socket for this node; `""` none; nil the executor's (`SSH_AUTH_SOCK`).
    public var identityAgent: String? = nil
    public var hostKeyPolicy: HostKeyPolicy? = nil
    /// Ciphers to offer, in order (already limited to what libssh2 supports); nil: fleet's.
    public var ciphers: [String]? = nil
    /// Why this node cannot be reached as configured (an ssh_config directive fleet cannot
    /// honour, named by file and line): the executor fails it with this, without connecting.
    public var unusable: String? = nil

    public init(name: String, host: String, port: Int = 22, user: String = "root",
                identityFiles: [String] = [], knownHostsFiles: [String] = [], sudo: Bool = false) {
        self.name = name; self.host = host; self.port = port; self.user = user
        self.identityFiles = identityFiles; self.knownHostsFiles = knownHostsFiles; self.sudo = sudo
    }

    /// `host:port`, `[v6]:port`: how messages name this target.
    public var label: String {
        host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Unknown host keys (OpenSSH StrictHostKeyChecking). A changed key is always refused.
public enum HostKeyPolicy: String, Sendable, Hashable, CaseIterable, Codable {
    /// Unknown hosts and changed keys are per-node failures (`yes`, and `ask`: fleet cannot ask).
    case strict
    /// Unknown hosts are recorded in the first known_hosts file; a changed key still fails.
    case acceptNew = "accept-new"
}

/// One command execution on an open session.
public struct ExecRequest: Sendable, Hashable {
    /// POSIX sh command line, run by the login shell (and through `sudo -n` when the target says so).
    public var command: String
    /// Bytes written to the command's stdin, then EOF (e.g. a script for `sh -s`).
    public var stdin: [UInt8]
    /// Deadline over the whole command, from the channel open to the exit status.
    public var timeout: Duration
    /// Output cap per stream; beyond it the result is marked truncated.
    public var outputLimit: Int

    public init(command: String, stdin: [UInt8] = [], timeout: Duration = .seconds(60), outputLimit: Int = 16 << 20) {
        self.command = command; self.stdin = stdin; self.timeout = timeout; self.outputLimit = outputLimit
    }
}

/// How a remote command ended, as the SSH server reported it (RFC 4254 §6.10).
///
/// `exit-status` and `exit-signal` are separate messages, and a server may close the channel
/// with neither: that is ``missing``, never `exited(0)` (libssh2 1.10 reads it as 0).
public enum RemoteExit: Sendable, Hashable, CustomStringConvertible {
    /// The server's `exit-status` message.
    case exited(Int32)
    /// The server's `exit-signal` message: the signal name without `SIG` (e.g. `KILL`).
    case signalled(String)
    /// The channel ended with neither message: whatever the command did, fleet was not told.
    case missing(MissingExitStatus)

    /// The code of an `exit-status` message; nil for a signal or no status.
    public var code: Int32? {
        if case .exited(let c) = self { return c }
        return nil
    }

    public var isMissing: Bool {
        if case .missing = self { return true }
        return false
    }

    /// `exit 3`, `signal KILL`, `no exit status (…)`: for messages.
    public var description: String {
        switch self {
        case .exited(let c): return "exit \(c)"
        case .signalled(let s): return "signal \(s)"
        case .missing(let why): return "no exit status (\(why.rawValue))"
        }
    }
}

/// Why a command's channel ended without an exit status.
public enum MissingExitStatus: String, Sendable, Hashable, Codable {
    /// The server closed the channel without `exit-status` or `exit-signal` (OpenSSH does
    /// this when its `ChannelTimeout` cuts a session, for one).
    case closedWithoutStatus = "the server closed the channel without an exit status"
    /// The SSH library in use cannot tell an `exit-status` of 0 from none at all
    /// (see docs/ssh.md); fleet does not guess.
    case indistinguishable = "this libssh2 cannot tell exit status 0 from none"
}

public struct ExecResult: Sendable, Hashable {
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    /// How the command ended: exit status, signal, or neither.
    public var exit: RemoteExit
    /// True when stdout or stderr went past the request's outputLimit.
    public var truncated: Bool
    public var duration: Duration

    public init(stdout: [UInt8] = [], stderr: [UInt8] = [], exit: RemoteExit = .exited(0),
                truncated: Bool = false, duration: Duration = .zero) {
        self.stdout = stdout; self.stderr = stderr; self.exit = exit
        self.truncated = truncated; self.duration = duration
    }

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
}

/// The per-node outcome of talking to a node. Everything but `ok` is a failure that is
/// recorded as data; none of them aborts a run.
public enum NodeStatus: String, Sendable, Codable, CaseIterable {
    case ok
    case refused                 // TCP RST
    case unreachable             // no route, DNS failure, host down
    case connectTimeout = "connect-timeout"
    case handshakeTimeout = "handshake-timeout"
    case authTimeout = "auth-timeout"
    case commandTimeout = "command-timeout"
    /// The session went silent: no answer to `keepaliveCountMax` keepalives in a row
    /// (the node froze, or a firewall dropped the connection without a reset).
    case keepaliveTimeout = "keepalive-timeout"
    case hostKeyUnknown = "host-key-unknown"
    case hostKeyChanged = "host-key-changed"
    case authFailed = "auth-failed"
    case sudoNeedsPassword = "sudo-needs-password"
    case truncated               // output went past the cap
    case disconnected            // the connection dropped mid-command
    case protocolError = "protocol-error"
    case nodeError = "node-error" // the node answered, but not with what fleet needs (e.g. no multipath-tools)
    /// A script's channel ended without an exit status (``RemoteExit/missing(_:)``): its
    /// outcome is not known, so it is not success.
    case noExitStatus = "no-exit-status"
}

/// A node-level failure: its status plus a message that names the node and the cause.
public struct NodeFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: NodeStatus
    public var message: String
    public init(_ status: NodeStatus, _ message: String) {
        self.status = status; self.message = message
    }
    public var description: String { "\(status.rawValue): \(message)" }
}

/// An authenticated session on one node. Calls are serialized by the implementation.
public protocol RemoteSession: Sendable {
    /// Runs one command. Throws ``NodeFailure`` for transport-level failures (timeout,
    /// dropped connection); a non-zero exit status is a normal result.
    func exec(_ request: ExecRequest) async throws(NodeFailure) -> ExecResult
}

/// Opens sessions to nodes. The SSH implementation lives in FleetSSH; tests use doubles
/// from FleetTestSupport that fail loudly on anything they were not told to expect.
public protocol RemoteExecutor: Sendable {
    /// Connects, verifies the host key, authenticates, runs `body` with the session and
    /// closes it, whatever `body` does. Throws ``NodeFailure`` when the session cannot be
    /// opened; rethrows what `body` throws.
    func withSession<T: Sendable>(
        to target: NodeTarget,
        _ body: @Sendable (any RemoteSession) async throws -> T
    ) async throws -> T
}
