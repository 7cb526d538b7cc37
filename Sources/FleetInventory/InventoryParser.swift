import FleetModel
import Foundation
import Yams

func readText(_ path: String) throws -> String {
    try String(contentsOfFile: path, encoding: .utf8)
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
