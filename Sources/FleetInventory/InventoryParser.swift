import FleetModel
import Foundation
import Yams

func readText(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
}

/// Connection settings as written at one level (defaults, a group, a node); `nil` means
/// "not set here", so the next level down decides.
struct Settings: Hashable {
    var address: String?
    var port: Int?
    var user: String?
    var identityFiles: [String]?
    var knownHosts: [String]?
    var sudo: Bool?
    /// ProxyJump spec (`[user@]host[:port],…`).
    var jump: String?
    /// Set by the inventory's own `address`/`ansible_host` (not Ansible's default name).
    var addressGiven = false
    var labels: [String: String] = [:]
    var protect: [ProtectRule] = []

    /// `self` over `base`: scalars from the most specific level that sets them, labels
    /// merged key by key, protect rules concatenated (most specific first).
    func over(_ base: Settings) -> Settings {
        Settings(address: address ?? base.address, port: port ?? base.port, user: user ?? base.user,
                 identityFiles: identityFiles ?? base.identityFiles, knownHosts: knownHosts ?? base.knownHosts,
                 sudo: sudo ?? base.sudo, jump: jump ?? base.jump, addressGiven: addressGiven || base.addressGiven, labels: base.labels.merging(labels) { _, mine in mine },
                 protect: protect + base.protect.filter { !protect.contains($0) })
    }

    /// The first setting both levels give with different values (`user`, `label rack`, …).
    func conflict(with other: Settings) -> String? {
        func differ<T: Equatable>(_ a: T?, _ b: T?) -> Bool { a != nil && b != nil && a != b }
        if differ(address, other.address) { return "address" }
        if differ(port, other.port) { return "port" }
        if differ(user, other.user) { return "user" }
        if differ(identityFiles, other.identityFiles) { return "identity_file" }
        if differ(knownHosts, other.knownHosts) { return "known_hosts" }
        if differ(sudo, other.sudo) { return "sudo" }
        if differ(jump, other.jump) { return "jump" }
        for (k, v) in other.labels where labels[k] != nil && labels[k] != v { return "label '\(k)'" }
        return nil
    }
}

/// Shared YAML helpers: every error names the file, line and column of the offending node.
struct YAMLReader {
    let file: String
    let baseDir: String
    let home: String

    init(file: String) {
        self.file = file
        let env = ProcessInfo.processInfo.environment
        home = env["HOME"] ?? "/root"
        let dir = (file as NSString).deletingLastPathComponent
        if dir.hasPrefix("/") {
            baseDir = dir
        } else {
            let cwd = FileManager.default.currentDirectoryPath
            baseDir = dir.isEmpty ? cwd : cwd + "/" + dir
        }
    }

    func error(_ node: Node?, _ message: String) -> InventoryError {
        InventoryError(file: file, line: node?.mark?.line, column: node?.mark?.column, message: message)
    }

    func error(at mark: Mark?, _ message: String) -> InventoryError {
        InventoryError(file: file, line: mark?.line, column: mark?.column, message: message)
    }

    func compose(_ text: String) throws(InventoryError) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let e as YamlError {
            switch e {
            case .scanner(let context, let problem, let mark, _),
                 .parser(let context, let problem, let mark, _),
                 .composer(let context, let problem, let mark, _):
                let ctx = context.map { " (\($0.text) at line \($0.mark.line), column \($0.mark.column))" } ?? ""
                throw error(at: mark, "malformed YAML: \(problem)\(ctx)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                let names = duplicates.map { "'\($0)'" }.joined(separator: ", ")
                throw error(at: context.mark, "duplicate key \(names) in one mapping: each key may appear once")
            case .reader(let problem, let offset, _, _):
                throw InventoryError(file: file, line: nil, column: nil,
                                     message: "malformed YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
            default:
                throw InventoryError(file: file, line: nil, column: nil, message: "malformed YAML: \(e)")
            }
        } catch {
            throw InventoryError(file: file, line: nil, column: nil, message: "malformed YAML: \(error)")
        }
    }

    func kind(_ node: Node) -> String {
        switch node {
        case .scalar:
            if node.tag.rawValue == Tag.Name.null.rawValue { return "null" }
            if node.tag.rawValue == Tag.Name.bool.rawValue { return "a boolean" }
            if node.tag.rawValue == Tag.Name.int.rawValue { return "a number" }
            return "a string"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    func mapping(_ node: Node, _ what: String) throws(InventoryError) -> [(key: String, keyNode: Node, value: Node)] {
        if case .scalar = node, node.tag.rawValue == Tag.Name.null.rawValue { return [] }
        guard case .mapping(let m) = node else { throw error(node, "\(what): expected a mapping, found \(kind(node))") }
        var out: [(key: String, keyNode: Node, value: Node)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw error(k, "\(what): expected a plain key, found \(kind(k))") }
            out.append((ks.string, k, v))
        }
        return out
    }

    func list(_ node: Node, _ what: String) throws(InventoryError) -> [Node] {
        if case .scalar = node, node.tag.rawValue == Tag.Name.null.rawValue { return [] }
        guard case .sequence(let seq) = node else { throw error(node, "\(what): expected a list, found \(kind(node))") }
        return Array(seq)
    }

    func string(_ node: Node, _ what: String) throws(InventoryError) -> String {
        guard case .scalar(let s) = node, node.tag.rawValue != Tag.Name.null.rawValue else {
            throw error(node, "\(what): expected a string, found \(kind(node))")
        }
        let v = s.string.trimmingCharacters(in: .whitespaces)
        guard !v.isEmpty else { throw error(node, "\(what): expected a non-empty string") }
        return v
    }

    func word(_ node: Node, _ what: String) throws(InventoryError) -> String {
        let v = try string(node, what)
        guard !v.contains(where: { $0.isWhitespace }) else {
            throw error(node, "\(what): expected a single word without blanks, found '\(v)'")
        }
        return v
    }

    func port(_ node: Node, _ what: String) throws(InventoryError) -> Int {
        guard case .scalar(let s) = node, let p = Int(s.string), s.string.allSatisfy(\.isNumber) else {
            throw error(node, "\(what): expected a port number 1-65535, found \(kind(node)) '\(node.scalar?.string ?? "")'")
        }
        guard (1...65535).contains(p) else {
            throw error(node, "\(what): expected a port number 1-65535, found \(p)")
        }
        return p
    }

    func bool(_ node: Node, _ what: String, lenient: Bool = false) throws(InventoryError) -> Bool {
        if let b = node.bool { return b }
        if lenient, case .scalar(let s) = node {
            switch s.string.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: break
            }
        }
        throw error(node, "\(what): expected true or false, found \(kind(node)) '\(node.scalar?.string ?? "")'")
    }

    /// A file path, or a list of them. `~` expands to $HOME; relative paths are relative to
    /// the inventory's folder, so a cron job finds the same files as the operator.
    func paths(_ node: Node, _ what: String) throws(InventoryError) -> [String] {
        let items: [Node]
        if case .sequence = node { items = try list(node, what) } else { items = [node] }
        var out: [String] = []
        for item in items {
            out.append(expand(try string(item, what)))
        }
        return out
    }

    func expand(_ p: String) -> String {
        if p == "~" { return home }
        if p.hasPrefix("~/") { return home + p.dropFirst(1) }
        if p.hasPrefix("/") || p.hasPrefix("~") { return p }
        return baseDir + "/" + p
    }

    func labels(_ node: Node, _ what: String) throws(InventoryError) -> [String: String] {
        var out: [String: String] = [:]
        for (k, kn, v) in try mapping(node, what) {
            guard Names.isLabelKey(k) else {
                throw error(kn, "\(what): label name '\(k)' must be letters, digits, '_', '.', '/' or '-'")
            }
            guard case .scalar(let s) = v, v.tag.rawValue != Tag.Name.null.rawValue else {
                throw error(v, "\(what).\(k): expected a label value (string, number or boolean), found \(kind(v))")
            }
            out[k] = s.string
        }
        return out
    }

    func protectRules(_ node: Node, _ what: String) throws(InventoryError) -> [ProtectRule] {
        var rules: [ProtectRule] = []
        for item in try list(node, what) {
            let fields = try mapping(item, "\(what) entry")
            guard !fields.isEmpty else {
                throw error(item, "\(what) entry: expected {wwid: ...} or {vendor: ..., product: ...}")
            }
            var wwid: String?, vendor: String?, product: String?
            for (k, kn, v) in fields {
                switch k {
                case "wwid":
                    let w = try word(v, "\(what).wwid")
                    guard WWID(w) != nil else {
                        throw error(v, "\(what).wwid: '\(w)' is not a WWID (letters, digits, '_.:@+-')")
                    }
                    wwid = w
                case "vendor": vendor = try string(v, "\(what).vendor")
                case "product": product = try string(v, "\(what).product")
                default:
                    throw unknownKey(kn, k, in: "\(what) entry", known: ["wwid", "vendor", "product"])
                }
            }
            if let wwid {
                guard vendor == nil, product == nil else {
                    throw error(item, "\(what) entry: a rule is either {wwid: ...} or {vendor: ..., product: ...}, not both")
                }
                rules.append(.wwid(wwid))
            } else {
                // A missing half means "any": {vendor: NETAPP*} protects every NETAPP product.
                rules.append(.vendorProduct(vendor: vendor ?? "*", product: product ?? "*"))
            }
        }
        return rules
    }

    func unknownKey(_ keyNode: Node, _ key: String, in what: String, known: [String]) -> InventoryError {
        var msg = "\(what): unknown key '\(key)'"
        if let s = Suggest.closest(key, among: known) {
            msg += "; did you mean '\(s)'?"
        } else {
            msg += "; expected one of: \(known.joined(separator: ", "))"
        }
        return error(keyNode, msg)
    }

    func nodeName(_ node: Node, _ what: String) throws(InventoryError) -> String {
        let n = try string(node, what)
        guard Names.isNodeName(n) else {
            throw error(node, "\(what): '\(n)' is not a valid node name (letters, digits, '_', '.', ':', '-'; no blanks, globs, ',', '=' or '!')")
        }
        return n
    }

    func groupName(_ node: Node, _ name: String, _ what: String) throws(InventoryError) -> String {
        guard Names.isNodeName(name) else {
            throw error(node, "\(what): '\(name)' is not a valid group name (letters, digits, '_', '.', ':', '-')")
        }
        return name
    }
}

enum Names {
    static func isNodeName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 253 && s.first != "-" && s.unicodeScalars.allSatisfy {
            (("a"..."z").contains($0) || ("A"..."Z").contains($0)
             || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "." || $0 == ":")
        }
    }

    static func isLabelKey(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 253 && s.unicodeScalars.allSatisfy {
            (("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
             || $0 == "-" || $0 == "_" || $0 == "." || $0 == "/")
        }
    }
}

enum Suggest {
    /// The known word closest to `word` by edit distance, when it is close enough to be a typo.
    static func closest(_ word: String, among known: [String]) -> String? {
        let w = Array(word.lowercased())
        var best: (String, Int)?
        for k in known {
            let d = distance(w, Array(k.lowercased()))
            if d <= max(2, k.count / 3), best == nil || d < best!.1 { best = (k, d) }
        }
        return best?.0
    }

    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}

struct InventoryParser {
    var text: String
    var file: String

    func parse() throws(InventoryError) -> Inventory {
        let y = YAMLReader(file: file)
        guard let root = try y.compose(text) else {
            throw InventoryError(file: file, line: 1, column: 1,
                                 message: "empty inventory: expected a mapping with 'nodes' (or Ansible's 'all')")
        }
        guard case .mapping(let m) = root else {
            throw y.error(root, "expected a mapping with defaults, groups, nodes, protect (or Ansible's 'all'), found \(y.kind(root))")
        }
        if m["all"] != nil {
            return try AnsibleInventoryParser(y: y).parse(root)
        }
        return try FleetInventoryParser(y: y).parse(root)
    }
}

/// Resolves merged settings into a target, or says what is missing.
func makeNode(name: String, nameNode: Node, settings s: Settings, groups: [String], y: YAMLReader,
              missingAddress: String) throws(InventoryError) -> InventoryNode {
    guard let address = s.address else { throw y.error(nameNode, missingAddress) }
    let target = NodeTarget(name: name, host: address, port: s.port ?? 22, user: s.user ?? "root",
                            identityFiles: s.identityFiles ?? [],
                            knownHostsFiles: s.knownHosts ?? [y.home + "/.ssh/known_hosts"],
                            sudo: s.sudo ?? false)
    let access = AccessSettings(address: s.addressGiven ? address : nil, port: s.port, user: s.user,
                                identityFiles: s.identityFiles, knownHosts: s.knownHosts, jump: s.jump)
    return InventoryNode(target: target, groups: groups, labels: s.labels, protect: s.protect, access: access)
}
