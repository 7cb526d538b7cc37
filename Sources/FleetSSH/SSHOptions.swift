import FleetModel

/// How ``SSHExecutor`` connects, verifies and authenticates.
public struct SSHOptions: Sendable, Hashable {
    public typealias HostKeyPolicy = FleetModel.HostKeyPolicy

    /// TCP connect, per address tried.
    public var connectTimeout: Duration
    /// SSH banner + key exchange + host key check + authentication, together.
    public var handshakeTimeout: Duration
    /// SSH keepalive interval while a session is open; `.zero` disables.
    public var keepaliveInterval: Duration
    /// Keepalives sent in a row with nothing coming back before the session is cut as
    /// `keepalive-timeout` (OpenSSH's ServerAliveCountMax); 0 never cuts.
    public var keepaliveCountMax: Int
    public var hostKeyPolicy: HostKeyPolicy
    /// Environment variable holding the passphrase of encrypted key files (nil: none).
    public var passphraseEnvironmentVariable: String?
    /// ssh-agent socket; nil reads `SSH_AUTH_SOCK`. An empty string disables the agent.
    public var agentSocket: String?
    /// Sessions open at once across all nodes; callers beyond it wait.
    public var maxConcurrentSessions: Int
    /// Threads that multiplex the non-blocking libssh2 sessions.
    public var eventLoopThreads: Int
    /// Node channels carried by one jump host connection before fleet opens another.
    public var channelsPerJumpConnection: Int = 32
    /// known_hosts files used when a target lists none.
    public var defaultKnownHostsFiles: [String]

    public init(connectTimeout: Duration = .seconds(10),
                handshakeTimeout: Duration = .seconds(30),
                keepaliveInterval: Duration = .seconds(15),
                keepaliveCountMax: Int = 3,
                hostKeyPolicy: HostKeyPolicy = .strict,
                passphraseEnvironmentVariable: String? = "FLEET_SSH_PASSPHRASE",
                agentSocket: String? = nil,
                maxConcurrentSessions: Int = 64,
                eventLoopThreads: Int = 2,
                defaultKnownHostsFiles: [String]? = nil) {
        self.connectTimeout = connectTimeout
        self.handshakeTimeout = handshakeTimeout
        self.keepaliveInterval = keepaliveInterval
        self.keepaliveCountMax = keepaliveCountMax
        self.hostKeyPolicy = hostKeyPolicy
        self.passphraseEnvironmentVariable = passphraseEnvironmentVariable
        self.agentSocket = agentSocket
        self.maxConcurrentSessions = maxConcurrentSessions
        self.eventLoopThreads = eventLoopThreads
        self.defaultKnownHostsFiles = defaultKnownHostsFiles ?? SSHOptions.standardKnownHostsFiles
    }

    /// `~/.ssh/known_hosts` and `/etc/ssh/ssh_known_hosts`, like OpenSSH.
    public static var standardKnownHostsFiles: [String] {
        var files: [String] = []
        if let home = getenvString("HOME") { files.append(home + "/.ssh/known_hosts") }
        files.append("/etc/ssh/ssh_known_hosts")
        return files
    }
}
