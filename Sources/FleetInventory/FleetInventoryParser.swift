import FleetModel
import Yams

/// fleet's own layout:
///
///     defaults: {user: root, identity_file: ~/.ssh/id_ed25519, ...}
///     protect: [{wwid: 3600...}, {vendor: "NETAPP*", product: "*"}]
///     groups:
///       rack-a:
///         labels: {rack: a}
///         nodes: [{name: worker-1, address: 10.0.0.1}]
///     nodes: [{name: db-1, address: 10.0.1.1, port: 2222}]
struct FleetInventoryParser {
    let y: YAMLReader

    static let topKeys = ["defaults", "groups", "nodes", "protect"]
    static let settingKeys = ["port", "user", "identity_file", "known_hosts", "sudo", "jump", "labels", "protect"]
    static let nodeKeys = ["name", "address"] + settingKeys
    static let groupKeys = settingKeys + ["nodes"]

    /// One appearance of a node in the file.
    struct Entry {
        var name: String
        var nameNode: Node
        var own: Settings
        var group: String?
        /// The group's own settings (empty outside groups).
        var groupSettings: Settings
    }

    func parse(_ root: Node) throws(InventoryError) -> Inventory {
        var defaults = Settings()
        var global: [ProtectRule] = []
        var groupsNode: Node?
        var nodesNode: Node?
        for (k, kn, v) in try y.mapping(root, "inventory") {
            switch k {
            case "defaults": defaults = try settings(v, "defaults", allowed: Self.settingKeys)
            case "protect": global = try y.protectRules(v, "protect")
            case "groups": groupsNode = v
            case "nodes": nodesNode = v
            default: throw y.unknownKey(kn, k, in: "inventory", known: Self.topKeys)
            }
        }
        // Global rules apply to every node: they sit at the bottom of the precedence chain.
        let allGlobal = global + defaults.protect.filter { !global.contains($0) }
        defaults.protect = allGlobal

        var entries: [Entry] = []
        if let groupsNode {
            for (g, gn, gv) in try y.mapping(groupsNode, "groups") {
                let group = try y.groupName(gn, g, "groups")
                let groupSettings = try settings(gv, "groups.\(group)", allowed: Self.groupKeys, skip: ["nodes"])
                guard let nodesList = try y.mapping(gv, "groups.\(group)").first(where: { $0.key == "nodes" })?.value else {
                    throw y.error(gn, "groups.\(group): missing 'nodes' (a list of {name:, address:, ...})")
                }
                for item in try y.list(nodesList, "groups.\(group).nodes") {
                    entries.append(try entry(item, "groups.\(group).nodes", group: group, groupSettings: groupSettings))
                }
            }
        }
        if let nodesNode {
            for item in try y.list(nodesNode, "nodes") {
                entries.append(try entry(item, "nodes", group: nil, groupSettings: Settings()))
            }
        }
        guard !entries.isEmpty else {
            throw InventoryError(file: y.file, line: root.mark?.line, column: root.mark?.column,
                                 message: "no nodes: expected 'nodes:' or 'groups:' with at least one node")
        }

        // Fold repeated appearances of one node: allowed only when written identically each
        // time; it then gets the settings of all its groups, which must not contradict
        // each other (no "which group wins" guessing).
        var order: [String] = []
        var byName: [String: (first: Entry, groups: [String], settings: Settings)] = [:]
        for e in entries {
            guard var existing = byName[e.name] else {
                order.append(e.name)
                byName[e.name] = (e, e.group.map { [$0] } ?? [], e.groupSettings)
                continue
            }
            let firstAt = existing.first.nameNode.mark.map { "line \($0.line), column \($0.column)" } ?? "earlier"
            guard existing.first.own == e.own, e.group != nil, existing.first.group != nil, e.group != existing.first.group else {
                let why = e.group != nil && existing.first.group != nil && e.group != existing.first.group
                    ? "a node listed in several groups must be written identically each time"
                    : "node names must be unique"
                throw y.error(e.nameNode, "duplicate node '\(e.name)' (first defined at \(firstAt)); \(why)")
            }
            if let conflict = existing.settings.conflict(with: e.groupSettings) {
                let here = e.group.map { "group '\($0)'" } ?? "the top-level nodes"
                throw y.error(e.nameNode, "node '\(e.name)': \(here) sets \(conflict) differently from its other groups (\(existing.groups.joined(separator: ", "))); set it on the node instead")
            }
            existing.settings = e.groupSettings.over(existing.settings)
            if let g = e.group, !existing.groups.contains(g) { existing.groups.append(g) }
            byName[e.name] = existing
        }
        var nodes: [InventoryNode] = []
        for name in order {
            let (first, groups, groupSettings) = byName[name]!
            nodes.append(try makeNode(name: name, nameNode: first.nameNode,
                                      settings: first.own.over(groupSettings).over(defaults), groups: groups, y: y,
                                      missingAddress: "node '\(name)': missing 'address' (host name or IP address to connect to)"))
        }
        return Inventory(nodes: nodes, protect: allGlobal, path: y.file)
    }

    func entry(_ item: Node, _ what: String, group: String?, groupSettings: Settings) throws(InventoryError) -> Entry {
        let fields = try y.mapping(item, "\(what) entry")
        guard let nameField = fields.first(where: { $0.key == "name" }) else {
            throw y.error(item, "\(what) entry: missing 'name'")
        }
        let name = try y.nodeName(nameField.value, "\(what).name")
        let own = try settings(item, "node \(name)", allowed: Self.nodeKeys, skip: ["name"])
        return Entry(name: name, nameNode: nameField.value, own: own, group: group, groupSettings: groupSettings)
    }

    func settings(_ node: Node, _ what: String, allowed: [String], skip: Set<String> = []) throws(InventoryError) -> Settings {
        var s = Settings()
        for (k, kn, v) in try y.mapping(node, what) where !skip.contains(k) {
            guard allowed.contains(k) else {
                if k == "address" {
                    throw y.error(kn, "\(what): 'address' belongs on a node, not here")
                }
                throw y.unknownKey(kn, k, in: what, known: allowed)
            }
            switch k {
            case "address": s.address = try y.word(v, "\(what).address"); s.addressGiven = true
            case "port": s.port = try y.port(v, "\(what).port")
            case "user": s.user = try y.word(v, "\(what).user")
            case "identity_file": s.identityFiles = try y.paths(v, "\(what).identity_file")
            case "known_hosts": s.knownHosts = try y.paths(v, "\(what).known_hosts")
            case "sudo": s.sudo = try y.bool(v, "\(what).sudo")
            case "jump": s.jump = try y.word(v, "\(what).jump")
            case "labels": s.labels = try y.labels(v, "\(what).labels")
            case "protect": s.protect = try y.protectRules(v, "\(what).protect")
            default: break
            }
        }
        return s
    }
}
