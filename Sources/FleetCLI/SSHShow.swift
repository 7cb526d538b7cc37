import FleetInventory
import FleetModel
import FleetSSH

/// `fleet scan --show-ssh NODE`: what fleet resolved for one node and where each value
/// came from (inventory, a config file's line, or fleet's default).
enum SSHShow {
    static func render(node: InventoryNode, config: SSHConfig, access: NodeAccessOptions) -> String {
        let overrides = access.overrides(node)
        let r = config.resolve(host: node.name, overrides: overrides)
        let t = config.target(for: node.target, overrides: overrides)
        var lines = ["\(node.name): how fleet reaches it",
                     "  ssh config      \(config.paths.isEmpty ? "none" : config.paths.joined(separator: ", "))"]
        func row(_ key: String, _ value: String, _ source: SSHConfig.Source?, fallback: String = "fleet default") {
            let pad = key.padding(toLength: 15, withPad: " ", startingAt: 0)
            lines.append("  \(pad) \(value)    (\(source.map { "\($0)" } ?? fallback))")
        }
        describe(t, r, row)
        if !t.jumps.isEmpty {
            row("proxyjump", r.proxyJump?.value ?? "", r.proxyJump?.source)
            for (i, hop) in t.jumps.enumerated() {
                lines.append("  jump \(i + 1)/\(t.jumps.count)      \(hop.name) -> \(hop.user)@\(hop.label), keys \(hop.identityFiles.isEmpty ? "agent only" : hop.identityFiles.joined(separator: ", ")), known_hosts \(hop.knownHostsFiles.joined(separator: " "))")
            }
        } else {
            row("proxyjump", "none (direct)", r.proxyJump?.source)
        }
        for v in r.ignored { lines.append("  ignored         \(v.value)    (\(v.source): no effect on fleet's sessions)") }
        if let why = t.unusable { lines.append("  CANNOT REACH    \(why)") }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func describe(_ t: NodeTarget, _ r: SSHConfig.Resolved,
                                 _ row: (String, String, SSHConfig.Source?, String) -> Void) {
        row("hostname", t.host, r.hostName?.source, "inventory name")
        row("port", String(t.port), r.port?.source, "fleet default")
        row("user", t.user, r.user?.source, "fleet default")
        row("identityfile", t.identityFiles.isEmpty ? "none (ssh-agent only)" : t.identityFiles.joined(separator: ", "),
            r.identityFiles.first?.source, "inventory default")
        row("identitiesonly", t.identitiesOnly ? "yes" : "no", r.identitiesOnly?.source, "fleet default")
        row("identityagent", t.identityAgent.map { $0.isEmpty ? "none" : $0 } ?? "$SSH_AUTH_SOCK", r.identityAgent?.source, "fleet default")
        row("knownhosts", t.knownHostsFiles.joined(separator: " "), r.userKnownHostsFiles?.source, "inventory default")
        row("hostkeypolicy", t.hostKeyPolicy?.rawValue ?? "--host-key-policy", r.strictHostKeyChecking?.source, "command line")
        row("connecttimeout", t.connectTimeout.map { "\($0.components.seconds)s" } ?? "--connect-timeout", r.connectTimeout?.source, "command line")
        row("serveralive", "\(t.keepaliveInterval.map { "\($0.components.seconds)s" } ?? "15s") x \(t.keepaliveCountMax ?? 3)",
            r.serverAliveInterval?.source ?? r.serverAliveCountMax?.source, "fleet default")
        if let c = t.ciphers { row("ciphers", c.joined(separator: ","), r.ciphers?.source, "") }
    }
}
