import ArgumentParser
import FleetInventory
import FleetModel
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

    @Option(help: ArgumentHelp(
        "OpenSSH client config, resolved per node as `ssh -G` does (default: ~/.ssh/config then /etc/ssh/ssh_config, as ssh; a file given here is read alone, as `ssh -F`); `none` ignores it. The inventory's settings win over it.",
        valueName: "file"))
    var sshConfig: String?

    @Option(help: ArgumentHelp(
        "Jump host(s) for every node, as `ssh -J`: [user@]host[:port], hops separated by commas; `none` connects directly. Wins over the inventory's jump and ssh_config's ProxyJump.",
        valueName: "hops"))
    var jump: String?

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

extension NodeAccessOptions {
    /// The ssh_config this run reads (`--ssh-config`); throws with the file and line of
    /// a line OpenSSH itself would refuse.
    func loadSSHConfig() throws(SSHConfigError) -> SSHConfig {
        try SSHConfig.load(path: sshConfig)
    }

    /// How fleet reaches each node: the inventory's explicit settings and `--jump` first,
    /// then ssh_config, then fleet's defaults (already in `node.target`).
    func resolve(_ nodes: [InventoryNode], config: SSHConfig) -> [InventoryNode] {
        nodes.map { n in
            var n = n
            n.target = config.target(for: n.target, overrides: overrides(n))
            return n
        }
    }

    func overrides(_ node: InventoryNode) -> SSHConfig.Overrides {
        let a = node.access
        return SSHConfig.Overrides(hostName: a.address, port: a.port, user: a.user, identityFiles: a.identityFiles,
                                   userKnownHostsFiles: a.knownHosts, proxyJump: jump ?? a.jump,
                                   origin: jump != nil ? "inventory or --jump" : "inventory")
    }
}
