import ArgumentParser
import FleetInventory
import FleetModel
import FleetRollout
import FleetSSH

/// How fleet reaches nodes and how long it waits for them: shared by scan, clean and sweep,
/// so the three commands cannot drift apart in names, defaults or limits.
struct NodeAccessOptions: ParsableArguments {
    @Option(help: "Nodes scanned at once (SSH sessions in flight).")
    var forks: Sourced<Int> = .default(64)

    @Option(help: ArgumentHelp("TCP connect limit per node (the SSH handshake and authentication get twice that).", valueName: "duration"))
    var connectTimeout: Sourced<DurationArgument> = .default(DurationArgument(argument: "10s")!)

    @Option(help: ArgumentHelp("Limit for each remote script or command (discovery, ps/kill, each cleanup step).", valueName: "duration"))
    var commandTimeout: Sourced<DurationArgument> = .default(DurationArgument(argument: "60s")!)

    @Option(help: ArgumentHelp("Limit for each readability probe (`timeout -s KILL` on the node).", valueName: "duration"))
    var probeTimeout: Sourced<DurationArgument> = .default(DurationArgument(argument: "15s")!)

    @Option(help: ArgumentHelp(
        "Unknown host keys: strict refuses the node (default); accept-new records the key in the first known_hosts file. A changed key is always refused.",
        valueName: "strict|accept-new"))
    var hostKeyPolicy: Sourced<SSHOptions.HostKeyPolicy> = .default(.strict)

    @Option(help: ArgumentHelp(
        "OpenSSH client config, resolved per node as `ssh -G` does (default: ~/.ssh/config then /etc/ssh/ssh_config, as ssh; a file given here is read alone, as `ssh -F`); `none` ignores it. The inventory's settings win over it.",
        valueName: "file"))
    var sshConfig: Sourced<String>?

    @Option(help: ArgumentHelp(
        "Jump host(s) for every node, as `ssh -J`: [user@]host[:port], hops separated by commas; `none` connects directly. Wins over the inventory's jump and ssh_config's ProxyJump.",
        valueName: "hops"))
    var jump: Sourced<String>?

    func validate() throws {
        guard forks.value >= 1, forks.value <= 4096 else { throw ValidationError("--forks must be between 1 and 4096") }
        for (name, d) in [("--connect-timeout", connectTimeout), ("--command-timeout", commandTimeout),
                          ("--probe-timeout", probeTimeout)] where d.value.duration <= .zero {
            throw ValidationError("\(name) must be positive")
        }
    }

    var scanOptions: ScanOptions {
        ScanOptions(forks: forks.value, connectTimeout: connectTimeout.value.duration,
                    discovery: DiscoveryOptions(commandTimeout: commandTimeout.value.duration,
                                                probeTimeout: probeTimeout.value.duration))
    }

    /// The transport options for a run: handshake and auth get twice the connect limit, and
    /// as many sessions may be open as nodes are worked on at once.
    func sshOptions(sessions: Int) -> SSHOptions {
        var ssh = SSHOptions(connectTimeout: connectTimeout.value.duration, handshakeTimeout: connectTimeout.value.duration * 2)
        ssh.maxConcurrentSessions = sessions
        ssh.hostKeyPolicy = hostKeyPolicy.value
        return ssh
    }
}

extension SSHOptions.HostKeyPolicy: ExpressibleByArgument {}

extension NodeAccessOptions {
    /// The `access:` keys of a config file (``SweepConfigFile/keys``).
    static var configBindings: [ConfigBinding<Self>] {
        [.option("access.forks", \.forks), .option("access.connect_timeout", \.connectTimeout),
         .option("access.command_timeout", \.commandTimeout), .option("access.probe_timeout", \.probeTimeout),
         .option("access.host_key_policy", \.hostKeyPolicy), .option("access.ssh_config", \.sshConfig),
         .option("access.jump", \.jump)]
    }
}

extension NodeAccessOptions {
    /// The ssh_config this run reads (`--ssh-config`); throws with the file and line of
    /// a line OpenSSH itself would refuse.
    func loadSSHConfig() throws(SSHConfigError) -> SSHConfig {
        try SSHConfig.load(path: sshConfig?.value)
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
                                   userKnownHostsFiles: a.knownHosts, proxyJump: jump?.value ?? a.jump,
                                   origin: jump != nil ? "inventory or --jump" : "inventory")
    }
}
