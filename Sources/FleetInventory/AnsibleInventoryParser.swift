import FleetModel
import Yams

/// Ansible's YAML inventory (`all: {hosts:, children:, vars:}`), read the way Ansible
/// reads it: groups nest through `children`, a group may be mentioned in several places
/// (its definitions merge), a host in several groups is one node in all of them, and vars
/// apply from `all` down to the deepest group (same depth: by group name), then host vars.
/// fleet reads the connection variables and its own `fleet_*` ones; other variables are
/// the playbooks' business and are ignored.
struct AnsibleInventoryParser {
    let y: YAMLReader

    static let groupKeys = ["hosts", "children", "vars"]

    final class Group {
        let name: String
        let nameNode: Node
        var hosts: [String] = []
        var children: [String] = []
        var parents: [String] = []
        var vars: [(key: String, value: Node)] = []
        init(name: String, nameNode: Node) { self.name = name; self.nameNode = nameNode }
    }

    final class State {
        var groups: [String: Group] = [:]
        var groupOrder: [String] = []
        var hostOrder: [String] = []
        var hostNode: [String: Node] = [:]
        var hostVars: [String: [(key: String, value: Node)]] = [:]
    }

    func parse(_ root: Node) throws(InventoryError) -> Inventory {
        let st = State()
        for (g, gn, gv) in try y.mapping(root, "inventory") {
            // Top-level groups besides `all` are children of `all`, as in Ansible.
            try visit(g, gn, gv, parent: g == "all" ? nil : "all", st)
        }
        guard !st.hostOrder.isEmpty else {
            throw y.error(root, "no hosts: expected at least one host under all.hosts or a group's hosts")
        }
        var depth: [String: Int] = ["all": 0]
        for g in st.groupOrder {
            _ = try depthOf(g, st, &depth, visiting: [])
        }

        var nodes: [InventoryNode] = []
        var global: [ProtectRule] = []
        if let all = st.groups["all"] {
            for (k, v) in all.vars where k == "fleet_protect" {
                global += try y.protectRules(v, "all.vars.fleet_protect")
            }
        }
        for host in st.hostOrder {
            var groups = Set<String>()
            var stack = st.groupOrder.filter { st.groups[$0]!.hosts.contains(host) }
            while let g = stack.popLast() {
                if groups.insert(g).inserted { stack += st.groups[g]?.parents ?? [] }
            }
            groups.insert("all")
            let ordered = groups.sorted { (depth[$0] ?? 0, $0) < (depth[$1] ?? 0, $1) }
            var vars: [(key: String, value: Node, where: String)] = []
            for g in ordered { vars += st.groups[g]!.vars.map { ($0.key, $0.value, "group \(g) vars") } }
            vars += (st.hostVars[host] ?? []).map { ($0.key, $0.value, "host \(host)") }
            var s = Settings()
            var protect: [ProtectRule] = []
            for (k, v, w) in vars {
                if case .scalar(let sc) = v, sc.string.contains("{{") {
                    if k.hasPrefix("ansible_") || k.hasPrefix("fleet_") {
                        throw y.error(v, "\(w): \(k): Jinja templates are not evaluated by fleet; write the value itself")
                    }
                    continue
                }
                switch k {
                case "ansible_host", "ansible_ssh_host": s.address = try y.word(v, "\(w): \(k)"); s.addressGiven = true
                case "ansible_port", "ansible_ssh_port": s.port = try y.port(v, "\(w): \(k)")
                case "ansible_user", "ansible_ssh_user": s.user = try y.word(v, "\(w): \(k)")
                case "ansible_ssh_private_key_file", "ansible_private_key_file":
                    s.identityFiles = try y.paths(v, "\(w): \(k)")
                case "ansible_become": s.sudo = try y.bool(v, "\(w): \(k)", lenient: true)
                case "fleet_known_hosts": s.knownHosts = try y.paths(v, "\(w): \(k)")
                case "fleet_jump": s.jump = try y.word(v, "\(w): \(k)")
                case "fleet_labels":
                    // Merged key by key across levels (not replaced), so a rack group can add
                    // `rack: a` to the `role: worker` a parent group set.
                    s.labels.merge(try y.labels(v, "\(w): \(k)")) { _, new in new }
                case "fleet_protect":
                    // Unioned across levels, never overridden: a deeper group cannot unprotect.
                    for r in try y.protectRules(v, "\(w): \(k)") where !protect.contains(r) { protect.insert(r, at: 0) }
                default:
                    if k.hasPrefix("fleet_") {
                        throw y.unknownKey(v, k, in: w,
                                           known: ["fleet_known_hosts", "fleet_jump", "fleet_labels", "fleet_protect"])
                    }
                }
            }
            if s.address == nil { s.address = host }  // Ansible's default: the inventory name.
            s.protect = protect + global.filter { !protect.contains($0) }
            let memberOf = st.groupOrder.filter { groups.contains($0) && $0 != "all" }
            nodes.append(try makeNode(name: host, nameNode: st.hostNode[host]!, settings: s, groups: memberOf, y: y,
                                      missingAddress: "host '\(host)': no address"))
        }
        return Inventory(nodes: nodes, protect: global, path: y.file)
    }

    func visit(_ name: String, _ nameNode: Node, _ node: Node, parent: String?, _ st: State) throws(InventoryError) {
        _ = try y.groupName(nameNode, name, "group")
        let g: Group
        if let existing = st.groups[name] {
            g = existing
        } else {
            g = Group(name: name, nameNode: nameNode)
            st.groups[name] = g
            st.groupOrder.append(name)
        }
        if let parent {
            if name == "all" { throw y.error(nameNode, "group 'all' cannot be a child of '\(parent)'") }
            if !g.parents.contains(parent) { g.parents.append(parent) }
            if let p = st.groups[parent], !p.children.contains(name) { p.children.append(name) }
        }
        for (k, kn, v) in try y.mapping(node, "group \(name)") {
            switch k {
            case "hosts":
                for (h, hn, hv) in try y.mapping(v, "group \(name) hosts") {
                    guard let expanded = HostPattern.expand(h) else {
                        throw y.error(hn, "group \(name) hosts: bad host range in '\(h)' (expected e.g. web[01:20] or db-[a:f])")
                    }
                    for host in expanded {
                        guard Names.isNodeName(host) else {
                            throw y.error(hn, "group \(name) hosts: '\(host)' is not a valid node name (letters, digits, '_', '.', ':', '-')")
                        }
                        if !g.hosts.contains(host) { g.hosts.append(host) }
                        if st.hostNode[host] == nil {
                            st.hostOrder.append(host)
                            st.hostNode[host] = hn
                        }
                        st.hostVars[host, default: []] += try y.mapping(hv, "host \(host)").map { ($0.key, $0.value) }
                    }
                }
            case "children":
                for (c, cn, cv) in try y.mapping(v, "group \(name) children") {
                    try visit(c, cn, cv, parent: name, st)
                }
            case "vars":
                g.vars += try y.mapping(v, "group \(name) vars").map { ($0.key, $0.value) }
            default:
                throw y.unknownKey(kn, k, in: "group \(name)", known: Self.groupKeys)
            }
        }
    }

    /// Distance from `all` along the longest parent chain (Ansible's group depth).
    func depthOf(_ g: String, _ st: State, _ depth: inout [String: Int], visiting: Set<String>) throws(InventoryError) -> Int {
        if let d = depth[g] { return d }
        guard !visiting.contains(g) else {
            throw y.error(st.groups[g]?.nameNode, "group '\(g)' is its own ancestor through 'children'")
        }
        var d = 1
        for p in st.groups[g]?.parents ?? [] {
            d = max(d, try depthOf(p, st, &depth, visiting: visiting.union([g])) + 1)
        }
        depth[g] = d
        return d
    }
}

/// Ansible host ranges: `web[01:20]`, `web[1:20:5]`, `db-[a:c]`; several ranges multiply.
enum HostPattern {
    static func expand(_ s: String) -> [String]? {
        guard let open = s.firstIndex(of: "[") else { return [s] }
        guard let close = s[open...].firstIndex(of: "]") else { return nil }
        let prefix = String(s[..<open])
        let spec = s[s.index(after: open)..<close].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard spec.count == 2 || spec.count == 3, let rest = expand(String(s[s.index(after: close)...])) else { return nil }
        let stride = spec.count == 3 ? Int(spec[2]) : 1
        guard let step = stride, step > 0 else { return nil }
        var items: [String] = []
        if let a = Int(spec[0]), let b = Int(spec[1]), a <= b {
            let width = spec[0].hasPrefix("0") ? spec[0].count : 0
            for i in Swift.stride(from: a, through: b, by: step) {
                let digits = String(i)
                items.append(String(repeating: "0", count: max(0, width - digits.count)) + digits)
            }
        } else if spec[0].count == 1, spec[1].count == 1,
                  let a = spec[0].unicodeScalars.first, let b = spec[1].unicodeScalars.first,
                  a.properties.isAlphabetic, b.properties.isAlphabetic, a.value <= b.value {
            for v in Swift.stride(from: a.value, through: b.value, by: step) {
                items.append(String(Character(Unicode.Scalar(v)!)))
            }
        } else {
            return nil
        }
        guard items.count * rest.count <= 100_000 else { return nil }
        return items.flatMap { i in rest.map { prefix + i + $0 } }
    }
}
