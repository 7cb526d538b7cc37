import ArgumentParser
import FleetRollout
import FleetSSH

/// How fleet reaches nodes and how long it waits for them: shared by scan, clean and sweep,
/// so the three commands cannot drift apart in names, defaults or limits.
struct NodeAccessOptions: ParsableArguments {
    @Option(help: "Nodes scanned at once (SSH sessions in flight).")
    var forks: Int = 64

    @Option(help: ArgumentHelp("TCP connect limit per node (the SSH handshake and authentication get twice that).", valueName: "duration"))
    var connectTimeout: DurationArgument = DurationArgument(argument: "10s")!

    @Option(help: ArgumentHelp("Limit for each remote script or command (discovery, ps/kill, each cleanup step).", valueName: "duration"))
    var commandTimeout: DurationArgument = DurationArgument(argument: "60s")!

    @Option(help: ArgumentHelp("Limit for each readability probe (`timeout -s KILL` on the node).", valueName: "duration"))
    var probeTimeout: DurationArgument = DurationArgument(argument: "15s")!

    @Option(help: ArgumentHelp(
        "Unknown host keys: strict refuses the node (default); accept-new records the key in the first known_hosts file. A changed key is always refused.",
        valueName: "strict|accept-new"))
    var hostKeyPolicy: SSHOptions.HostKeyPolicy = .strict

    func validate() throws {
        guard forks >= 1, forks <= 4096 else { throw ValidationError("--forks must be between 1 and 4096") }
        for (name, d) in [("--connect-timeout", connectTimeout), ("--command-timeout", commandTimeout),
                          ("--probe-timeout", probeTimeout)] where d.duration <= .zero {
            throw ValidationError("\(name) must be positive")
        }
    }

    var scanOptions: ScanOptions {
        ScanOptions(forks: forks, connectTimeout: connectTimeout.duration,
                    discovery: DiscoveryOptions(commandTimeout: commandTimeout.duration, probeTimeout: probeTimeout.duration))
    }

    /// The transport options for a run: handshake and auth get twice the connect limit, and
    /// as many sessions may be open as nodes are worked on at once.
    func sshOptions(sessions: Int) -> SSHOptions {
        var ssh = SSHOptions(connectTimeout: connectTimeout.duration, handshakeTimeout: connectTimeout.duration * 2)
        ssh.maxConcurrentSessions = sessions
        ssh.hostKeyPolicy = hostKeyPolicy
        return ssh
    }
}

extension SSHOptions.HostKeyPolicy: ExpressibleByArgument {}
