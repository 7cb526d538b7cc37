import FleetInventory
import FleetModel
import FleetTestSupport
import Foundation
import Testing

private let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
private let examples = Fixtures.repoRoot.appendingPathComponent("inventory").path

/// Parses `text` as if it were the file /etc/fleet/nodes.yaml.
private func parse(_ text: String) throws(InventoryError) -> Inventory {
    try Inventory.parse(text: text, file: "/etc/fleet/nodes.yaml")
}

/// The error `text` raises; fails the test when it parses.
private func failure(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> InventoryError? {
    do {
        let inv = try parse(text)
        Issue.record("expected an error, parsed \(inv.nodes.map(\.name))", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

@Suite struct FleetLayoutTests {
    @Test func nodesExample() throws {
        let inv = try Inventory.load(path: examples + "/nodes.example.yaml")
        #expect(inv.nodes.map(\.name) == ["worker-1", "worker-2", "worker-7", "db-1"])
        let netapp = ProtectRule.vendorProduct(vendor: "NETAPP*", product: "*")
        let globalWWID = ProtectRule.wwid("3600a098038303053453f463045727a41")
        #expect(inv.protect == [globalWWID, netapp])

        let w1 = inv.nodes[0]
        #expect(w1.target == NodeTarget(name: "worker-1", host: "10.0.1.11", port: 22, user: "fleet",
                                        identityFiles: [home + "/.ssh/id_ed25519"],
                                        knownHostsFiles: [home + "/.ssh/known_hosts"], sudo: true))
        #expect(w1.groups == ["rack-a"])
        #expect(w1.labels == ["site": "par1", "rack": "a", "role": "worker"])
        #expect(w1.protect == [globalWWID, netapp])

        // Listed identically in rack-a and storage-admins: one node in both groups.
        let w2 = inv.nodes[1]
        #expect(w2.groups == ["rack-a", "storage-admins"])
        #expect(w2.labels == ["site": "par1", "rack": "a", "role": "worker", "gpu": "true"])
        #expect(w2.target.user == "fleet")

        let w7 = inv.nodes[2]
        #expect(w7.target == NodeTarget(name: "worker-7", host: "worker-7.rack-b.example.net", port: 2222, user: "root",
                                        identityFiles: [home + "/.ssh/fleet_ed25519", home + "/.ssh/id_ed25519"],
                                        knownHostsFiles: [home + "/.ssh/known_hosts"], sudo: false))
        #expect(w7.protect == [.wwid("36001405ae3a4a2b307ccf2a518e52df9"), globalWWID, netapp])
        #expect(w7.isProtected(MultipathMap(name: "mpatha", wwid: "36001405ae3a4a2b307ccf2a518e52df9",
                                            vendor: "LIO-ORG", product: "lun1")))
        #expect(!w1.isProtected(MultipathMap(name: "mpatha", wwid: "36001405ae3a4a2b307ccf2a518e52df9",
                                             vendor: "LIO-ORG", product: "lun1")))

        let db = inv.nodes[3]
        #expect(db.target == NodeTarget(name: "db-1", host: "10.0.2.21", port: 22, user: "admin",
                                        identityFiles: [home + "/.ssh/id_ed25519"],
                                        knownHostsFiles: ["/etc/fleet/known_hosts"], sudo: true))
        #expect(db.groups == [])
        #expect(db.labels == ["site": "par1", "role": "database"])
        #expect(db.protect == [.vendorProduct(vendor: "PURE", product: "FlashArray"), globalWWID, netapp])
    }

    @Test func minimalNodeGetsDefaults() throws {
        let inv = try parse("nodes:\n  - name: n1\n    address: 127.0.0.1\n")
        #expect(inv.nodes == [InventoryNode(target: NodeTarget(name: "n1", host: "127.0.0.1", port: 22, user: "root",
                                                               identityFiles: [],
                                                               knownHostsFiles: [home + "/.ssh/known_hosts"], sudo: false),
                                             access: AccessSettings(address: "127.0.0.1"))])
    }

    /// What the inventory itself sets is kept apart from fleet's defaults, so ssh_config can
    /// fill the rest (docs/inventory.md); `jump` is inherited like the other settings.
    @Test func ansibleDefaultAddressIsNotAnOverride() throws {
        let inv = try parse("all:\n  vars: {fleet_jump: bastion}\n  hosts:\n    w1: {}\n    w2: {ansible_host: 10.0.0.2, ansible_port: 2200}\n")
        #expect(inv.nodes[0].target.host == "w1")      // Ansible's default: the inventory name
        #expect(inv.nodes[0].access.address == nil)    // ... which ssh_config's HostName may replace
        #expect(inv.nodes[0].access.jump == "bastion")
        #expect(inv.nodes[1].access == AccessSettings(address: "10.0.0.2", port: 2200, jump: "bastion"))
    }

    @Test func explicitAccessSettingsAndJump() throws {
        let inv = try parse("defaults: {jump: ops@bastion:2022}\nnodes:\n  - {name: n1, address: 10.0.0.1, user: core}\n  - {name: n2, address: 10.0.0.2, jump: none}\n")
        #expect(inv.nodes[0].access == AccessSettings(address: "10.0.0.1", user: "core", jump: "ops@bastion:2022"))
        #expect(inv.nodes[0].target.user == "core")
        #expect(inv.nodes[1].access.jump == "none")
        #expect(inv.nodes[1].access.user == nil)
        #expect(inv.nodes[1].target.user == "root")
    }

    @Test func relativePathsAreRelativeToTheInventoryFile() throws {
        let inv = try parse("defaults:\n  identity_file: keys/id\n  known_hosts: [kh, ~/kh2]\nnodes:\n  - {name: n1, address: h}\n")
        #expect(inv.nodes[0].target.identityFiles == ["/etc/fleet/keys/id"])
        #expect(inv.nodes[0].target.knownHostsFiles == ["/etc/fleet/kh", home + "/kh2"])
    }

    @Test func precedenceNodeOverGroupOverDefaults() throws {
        let inv = try parse("""
        defaults: {port: 2200, user: u0, sudo: true, labels: {a: d, b: d}}
        groups:
          g:
            port: 2300
            user: u1
            labels: {b: g, c: g}
            nodes:
              - {name: n1, address: h1, port: 2400}
              - {name: n2, address: h2}
        nodes:
          - {name: n3, address: h3, sudo: false}
        """)
        #expect(inv.nodes.map(\.target.port) == [2400, 2300, 2200])
        #expect(inv.nodes.map(\.target.user) == ["u1", "u1", "u0"])
        #expect(inv.nodes.map(\.target.sudo) == [true, true, false])
        #expect(inv.nodes[0].labels == ["a": "d", "b": "g", "c": "g"])
        #expect(inv.nodes[2].labels == ["a": "d", "b": "d"])
    }
}

@Suite struct InventoryErrorTests {
    @Test func malformedYAML() {
        // A tab cannot indent YAML: libyaml stops at line 3, column 1.
        let e = failure("nodes:\n  - name: a\n\taddress: b\n")
        #expect(e?.file == "/etc/fleet/nodes.yaml")
        #expect(e?.line == 3)
        #expect(e?.description.hasPrefix("/etc/fleet/nodes.yaml:3:") == true)
        #expect(e?.message.contains("malformed YAML") == true)
    }

    @Test func wrongTypeNamesTheValue() {
        let e = failure("nodes:\n  - name: a\n    address: h\n    port: ssh\n")
        #expect(e?.description.hasPrefix("/etc/fleet/nodes.yaml:4:11: node a.port: expected a port number 1-65535") == true)
    }

    @Test func badPort() {
        let e = failure("defaults:\n  port: 70000\nnodes:\n  - {name: a, address: h}\n")
        #expect(e?.description == "/etc/fleet/nodes.yaml:2:9: defaults.port: expected a port number 1-65535, found 70000")
    }

    @Test func unknownKeySuggests() {
        let e = failure("nodes:\n  - name: a\n    adress: h\n")
        #expect(e?.description == "/etc/fleet/nodes.yaml:3:5: node a: unknown key 'adress'; did you mean 'address'?")
        let top = failure("node:\n  - {name: a, address: h}\n")
        #expect(top?.description == "/etc/fleet/nodes.yaml:1:1: inventory: unknown key 'node'; did you mean 'nodes'?")
        let far = failure("nodes:\n  - {name: a, address: h, colour: red}\n")
        #expect(far?.line == 2)
        #expect(far?.column == 27)
        #expect(far?.message.contains("expected one of: name, address, port") == true)
    }

    @Test func duplicateNodeName() {
        let e = failure("nodes:\n  - name: a\n    address: h1\n  - name: a\n    address: h2\n")
        #expect(e?.line == 4)
        #expect(e?.column == 11)
        #expect(e?.message == "duplicate node 'a' (first defined at line 2, column 11); node names must be unique")
        // Top-level and in a group, even written identically: still two definitions.
        let mixed = failure("groups:\n  g:\n    nodes: [{name: a, address: h}]\nnodes:\n  - {name: a, address: h}\n")
        #expect(mixed?.line == 5)
        #expect(mixed?.column == 12)
        #expect(mixed?.message.hasSuffix("node names must be unique") == true)
    }

    @Test func sameNodeInTwoGroupsMustBeIdentical() {
        let e = failure("""
        groups:
          g1:
            nodes: [{name: a, address: h1}]
          g2:
            nodes: [{name: a, address: h2}]
        """)
        #expect(e?.line == 5)
        #expect(e?.column == 20)
        #expect(e?.message == "duplicate node 'a' (first defined at line 3, column 20); a node listed in several groups must be written identically each time")
        // Identical entries, but the groups give the node different users: also refused.
        let e2 = failure("""
        groups:
          g1:
            user: x
            nodes: [{name: a, address: h}]
          g2:
            user: y
            nodes: [{name: a, address: h}]
        """)
        #expect(e2?.line == 7)
        #expect(e2?.message.contains("sets user differently") == true)
    }

    @Test func missingAddress() {
        let e = failure("nodes:\n  - name: worker-3\n    port: 22\n")
        #expect(e?.description == "/etc/fleet/nodes.yaml:2:11: node 'worker-3': missing 'address' (host name or IP address to connect to)")
    }

    @Test func addressOutsideANode() {
        let e = failure("defaults:\n  address: h\nnodes:\n  - {name: a, address: h}\n")
        #expect(e?.description == "/etc/fleet/nodes.yaml:2:3: defaults: 'address' belongs on a node, not here")
    }

    @Test func duplicateKeyInOneMapping() {
        let e = failure("nodes:\n  - name: a\n    address: h\n    address: h2\n")
        #expect(e?.line == 3)
        #expect(e?.message.contains("duplicate key 'address'") == true)
    }

    @Test func badProtectRules() {
        let mixed = failure("protect:\n  - {wwid: '3600', vendor: X}\nnodes:\n  - {name: a, address: h}\n")
        #expect(mixed?.line == 2)
        #expect(mixed?.column == 5)
        let typo = failure("protect:\n  - {vendr: X}\nnodes:\n  - {name: a, address: h}\n")
        #expect(typo?.description == "/etc/fleet/nodes.yaml:2:6: protect entry: unknown key 'vendr'; did you mean 'vendor'?")
        let badWWID = failure("protect:\n  - wwid: \"36 00\"\nnodes:\n  - {name: a, address: h}\n")
        #expect(badWWID?.line == 2)
    }

    @Test func notAMapping() {
        let e = failure("- a\n- b\n")
        #expect(e?.line == 1)
        #expect(e?.column == 1)
        #expect(e?.message.contains("found a list") == true)
        let empty = failure("")
        #expect(empty?.message.contains("empty inventory") == true)
    }

    @Test func missingFile() {
        #expect(throws: InventoryError.self) { try Inventory.load(path: "/nonexistent/nodes.yaml") }
    }
}

@Suite struct AnsibleLayoutTests {
    @Test func ansibleExample() throws {
        let inv = try Inventory.load(path: examples + "/ansible.example.yaml")
        #expect(inv.nodes.map(\.name) == ["bastion-1", "worker-01", "worker-02", "worker-03", "worker-07"])
        let netapp = ProtectRule.vendorProduct(vendor: "NETAPP*", product: "*")
        #expect(inv.protect == [netapp])

        let bastion = inv.nodes[0]
        #expect(bastion.target == NodeTarget(name: "bastion-1", host: "192.0.2.10", port: 22, user: "root",
                                             identityFiles: [home + "/.ssh/id_ed25519"],
                                             knownHostsFiles: [home + "/.ssh/known_hosts"], sudo: false))
        #expect(bastion.groups == [])

        let w2 = inv.nodes[2]
        #expect(w2.target == NodeTarget(name: "worker-02", host: "worker-02", port: 22, user: "fleet",
                                        identityFiles: [home + "/.ssh/id_ed25519"],
                                        knownHostsFiles: [home + "/.ssh/known_hosts"], sudo: true))
        #expect(w2.groups == ["k8s_workers", "rack_a", "gpu"])
        #expect(w2.labels == ["role": "worker", "rack": "a"])
        #expect(w2.protect == [netapp])
        #expect(inv.nodes[1].groups == ["k8s_workers", "rack_a"])

        let w7 = inv.nodes[4]
        #expect(w7.target.host == "10.0.2.17")
        #expect(w7.target.port == 2222)
        #expect(w7.target.user == "root")
        #expect(w7.target.sudo == false)
        #expect(w7.labels == ["role": "worker", "rack": "b"])
        #expect(w7.protect == [.wwid("36001405ae3a4a2b307ccf2a518e52df9"), netapp])
    }

    @Test func varsInheritDeepestGroupWinsThenHost() throws {
        let inv = try parse("""
        all:
          vars: {ansible_port: 2201, ansible_user: top}
          children:
            parent:
              vars: {ansible_port: 2202}
              children:
                child:
                  vars: {ansible_port: 2203}
                  hosts:
                    h1:
                    h2: {ansible_port: 2299}
              hosts:
                h3:
            a_side:
              vars: {ansible_user: alpha}
              hosts: {h4: }
            b_side:
              vars: {ansible_user: bravo}
              hosts: {h4: }
        """)
        let port = Dictionary(uniqueKeysWithValues: inv.nodes.map { ($0.name, $0.target.port) })
        #expect(port == ["h1": 2203, "h2": 2299, "h3": 2202, "h4": 2201])
        let users = Dictionary(uniqueKeysWithValues: inv.nodes.map { ($0.name, $0.target.user) })
        // Same depth: groups apply in name order, so b_side's value wins (as in Ansible).
        #expect(users == ["h1": "top", "h2": "top", "h3": "top", "h4": "bravo"])
        #expect(inv.nodes.first { $0.name == "h1" }?.groups == ["parent", "child"])
        #expect(inv.nodes.first { $0.name == "h4" }?.groups == ["a_side", "b_side"])
    }

    @Test func groupDefinedTwiceMerges() throws {
        let inv = try parse("""
        all:
          children:
            web:
              hosts: {w1: }
            prod:
              children:
                web:
                  hosts: {w2: {ansible_become: "yes"}}
        """)
        #expect(inv.nodes.map(\.name) == ["w1", "w2"])
        #expect(inv.nodes.map(\.groups) == [["web", "prod"], ["web", "prod"]])
        #expect(inv.nodes.map(\.target.sudo) == [false, true])
    }

    @Test func errors() {
        let typo = failure("all:\n  host:\n    a:\n")
        #expect(typo?.description == "/etc/fleet/nodes.yaml:2:3: group all: unknown key 'host'; did you mean 'hosts'?")
        let port = failure("all:\n  hosts:\n    a:\n      ansible_port: twenty\n")
        #expect(port?.line == 4)
        #expect(port?.column == 21)
        #expect(port?.message.contains("expected a port number") == true)
        let cycle = failure("all:\n  children:\n    x:\n      children:\n        y:\n          children:\n            x:\n          hosts: {h: }\n")
        #expect(cycle?.message.contains("its own ancestor") == true)
        let range = failure("all:\n  hosts:\n    web[3:1]:\n")
        #expect(range?.line == 3)
        #expect(range?.column == 5)
        let fleetTypo = failure("all:\n  hosts:\n    a:\n      fleet_label: {rack: a}\n")
        #expect(fleetTypo?.description == "/etc/fleet/nodes.yaml:4:20: host a: unknown key 'fleet_label'; did you mean 'fleet_labels'?")
        let template = failure("all:\n  hosts:\n    a:\n      ansible_host: \"{{ lookup('x') }}\"\n")
        #expect(template?.line == 4)
        #expect(template?.message.contains("Jinja") == true)
    }
}

@Suite struct LimitTests {
    let inv: Inventory
    init() throws { inv = try Inventory.load(path: examples + "/nodes.example.yaml") }

    func names(_ limit: String?) throws -> [String] { try inv.select(limit).map(\.name) }

    @Test func noLimitSelectsEverything() throws {
        #expect(try names(nil) == ["worker-1", "worker-2", "worker-7", "db-1"])
        #expect(try names("  ") == ["worker-1", "worker-2", "worker-7", "db-1"])
        #expect(try names("all") == ["worker-1", "worker-2", "worker-7", "db-1"])
    }

    @Test func termsUnionThenExclude() throws {
        #expect(try names("rack-a") == ["worker-1", "worker-2"])
        #expect(try names("storage-admins") == ["worker-2"])
        #expect(try names("worker-*") == ["worker-1", "worker-2", "worker-7"])
        #expect(try names("role=worker,!worker-7") == ["worker-1", "worker-2"])
        #expect(try names("rack-a,role=database") == ["worker-1", "worker-2", "db-1"])
        #expect(try names("!rack-a") == ["worker-7", "db-1"])
        #expect(try names("rack-b, db-1") == ["worker-7", "db-1"])
        #expect(try names("gpu=true") == ["worker-2"])
        #expect(try names("role=w*") == ["worker-1", "worker-2", "worker-7"])
        #expect(try names("rack-a,!role=worker,db-1") == ["db-1"])
    }

    @Test func ansibleParentGroupsSelectTheirChildrensHosts() throws {
        let ansible = try Inventory.load(path: examples + "/ansible.example.yaml")
        #expect(try ansible.select("k8s_workers,!rack=b").map(\.name) == ["worker-01", "worker-02", "worker-03"])
        #expect(try ansible.select("gpu").map(\.name) == ["worker-02"])
        #expect(try ansible.select("!k8s_workers").map(\.name) == ["bastion-1"])
    }

    @Test func termMatchingNothingIsAnError() {
        #expect { try inv.select("rack-a,rack-z") } throws: { e in
            "\(e)" == "--limit 'rack-a,rack-z': 'rack-z' matches no node name, group or label=value in the inventory"
        }
        #expect(throws: InventoryError.self) { try inv.select("!nosuch") }
        #expect(throws: InventoryError.self) { try inv.select("rack=c") }
        #expect(throws: InventoryError.self) { try inv.select("rack-a,,db-1") }
        #expect { try inv.select("worker-*,!role=worker") } throws: { e in "\(e)".hasSuffix("selects no node") }
    }
}
