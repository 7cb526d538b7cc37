import ArgumentParser
import FleetSSH

/// SSH options shared by every command that talks to nodes (scan, clean, sweep).
struct SSHArguments: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Unknown host keys: strict refuses the node (default); accept-new records the key in the first known_hosts file. A changed key is always refused.",
        valueName: "strict|accept-new"))
    var hostKeyPolicy: SSHOptions.HostKeyPolicy = .strict

    /// The transport options for a run: handshake and auth get twice the connect limit, and
    /// as many sessions may be open as nodes are worked on at once.
    func options(connectTimeout: Duration, sessions: Int) -> SSHOptions {
        var ssh = SSHOptions(connectTimeout: connectTimeout, handshakeTimeout: connectTimeout * 2)
        ssh.maxConcurrentSessions = sessions
        ssh.hostKeyPolicy = hostKeyPolicy
        return ssh
    }
}

extension SSHOptions.HostKeyPolicy: ExpressibleByArgument {}
