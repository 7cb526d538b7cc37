import FleetModel
import Foundation
import Yams

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
