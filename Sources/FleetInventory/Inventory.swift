import FleetModel

/// A parsed inventory: fleet's own YAML layout (`defaults`, `groups`, `nodes`, `protect`)
/// or Ansible's YAML inventory (`all: {hosts:, children:, vars:}`), detected by the
/// top-level `all` key. Node order follows the file.
public struct Inventory: Sendable, Hashable {
    public var nodes: [InventoryNode]
    /// Global rules (top-level `protect` and `defaults.protect`); already included in
    /// every node's ``InventoryNode/protect``.
    public var protect: [ProtectRule]
    /// The file this came from, as given.
    public var path: String

    public init(nodes: [InventoryNode], protect: [ProtectRule], path: String) {
        self.nodes = nodes; self.protect = protect; self.path = path
    }

    /// Reads and parses `path`. `~` in file paths inside expands to `$HOME`; relative
    /// identity and known_hosts paths are taken relative to the inventory file's folder.
    public static func load(path: String) throws(InventoryError) -> Inventory {
        let text: String
        do {
            text = try readText(path)
        } catch {
            throw InventoryError(file: path, line: nil, column: nil, message: "cannot read inventory: \(error)")
        }
        return try parse(text: text, file: path)
    }

    /// Parses inventory text; `file` names it in errors and anchors relative paths.
    public static func parse(text: String, file: String) throws(InventoryError) -> Inventory {
        try InventoryParser(text: text, file: file).parse()
    }

    /// Nodes selected by a `--limit` expression such as `rack-a,role=worker,!worker-7`:
    /// comma-separated terms, each a node-name glob, a group name or `label=value`
    /// (value may be a glob); `!term` excludes. Result: the union of the positive terms
    /// (every node when there is none) minus the negative ones, in inventory order.
    /// A term that matches no node is an error (a typo must not silently shrink a run).
    public func select(_ limit: String?) throws(InventoryError) -> [InventoryNode] {
        try NodeSelector(limit: limit).select(from: self)
    }
}

/// One node to connect to, with everything fleet needs about it.
public struct InventoryNode: Sendable, Hashable {
    public var target: NodeTarget
    /// Groups the node belongs to (for Ansible also every ancestor group but `all`).
    public var groups: [String]
    public var labels: [String: String]
    /// The node's own rules, then its groups', then the global ones.
    public var protect: [ProtectRule]
    /// What the inventory itself set for reaching the node (`target` has fleet's defaults
    /// filled in too): these win over ssh_config, which fills the rest.
    public var access: AccessSettings

    public init(target: NodeTarget, groups: [String] = [], labels: [String: String] = [:], protect: [ProtectRule] = [],
                access: AccessSettings = AccessSettings()) {
        self.target = target; self.groups = groups; self.labels = labels; self.protect = protect; self.access = access
    }

    public var name: String { target.name }

    /// True when any of the node's protect rules matches `map`.
    public func isProtected(_ map: MultipathMap) -> Bool {
        protect.contains { $0.matches(map) }
    }
}

/// Connection settings the inventory gave explicitly for a node (nil: no level set it).
public struct AccessSettings: Sendable, Hashable {
    /// `address` / `ansible_host`; not Ansible's default (the inventory name).
    public var address: String?
    public var port: Int?
    public var user: String?
    public var identityFiles: [String]?
    public var knownHosts: [String]?
    /// `jump` / `fleet_jump`: ProxyJump spec, `[user@]host[:port]`, comma-separated hops.
    public var jump: String?

    public init(address: String? = nil, port: Int? = nil, user: String? = nil, identityFiles: [String]? = nil,
                knownHosts: [String]? = nil, jump: String? = nil) {
        self.address = address; self.port = port; self.user = user
        self.identityFiles = identityFiles; self.knownHosts = knownHosts; self.jump = jump
    }
}

/// An inventory problem. `description` is `FILE:LINE:COLUMN: message` when the place is
/// known (`FILE: message` otherwise), the form editors and CI logs link to.
public struct InventoryError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(file: String, line: Int?, column: Int?, message: String) {
        self.file = file; self.line = line; self.column = column; self.message = message
    }

    public var description: String {
        if let line, let column { return "\(file):\(line):\(column): \(message)" }
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}
