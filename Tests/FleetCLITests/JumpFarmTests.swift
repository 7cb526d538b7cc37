import ArgumentParser
import Foundation
import Testing
import FleetModel
import FleetTestSupport
@testable import FleetCLI

/// `fleet scan` and `fleet clean` through jump hosts, on a farm that runs inside a network
/// namespace the test creates (its nodes on the namespace's own loopback, 127.0.104.20+):
/// from the test's namespace the only way in is the bastion's sshd on the namespace's end of
/// the veth link. The route to the nodes comes from an ssh_config file (`--ssh-config`), as
/// an operator's ~/.ssh/config would give it. Needs root; run under /work/.test.lock.
@Suite(.serialized, .enabled(if: ScanFarmAvailability.available))
struct JumpFarmTests {
    final class Lab {
        let ns: TestNetNS
        let farm: ScanFarmTests.Farm
        let bastion: TestSSHD
        let inner: TestSSHD
        let config: String
        let db: String

        init(index: Int, nodes: Int, mix: String) throws {
            ns = try TestNetNS(index: index)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-jumpfarm-\(UUID().uuidString.prefix(8))").path
            let (rc, out) = try ScanFarmTests.sh(["/usr/sbin/ip", "netns", "exec", ns.name, "python3", ScanFarmTests.farm, "up", String(nodes),
                                                  "--dir", dir, "--base", "127.0.104.20", "--seed", "7", "--mix", mix])
            guard rc == 0 else {
                _ = try? ScanFarmTests.sh(["python3", ScanFarmTests.farm, "down", "--dir", dir])
                throw ScanFarmTests.FarmError(text: "farm up in \(ns.name) failed: \(out)")
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/farm.json"))
            farm = ScanFarmTests.Farm(dir: dir, json: try JSONSerialization.jsonObject(with: data) as! [String: Any])
            bastion = try TestSSHD(address: ns.inside, extraConfig: ["AllowTcpForwarding yes"], netns: ns.name)
            inner = try TestSSHD(address: "127.0.104.11", extraConfig: ["AllowTcpForwarding yes"], netns: ns.name)
            for d in [bastion, inner] { try d.authorize(publicKeyFile: dir + "/id_ed25519.pub") }
            config = dir + "/ssh_config"
            db = dir + "/history.sqlite"
        }

        /// An operator's config: nodes go through `jumps`; each bastion has its own known_hosts.
        func writeConfig(jumps: String) throws {
            let text = """
            Host bastion
              HostName \(bastion.address)
              User root
              IdentityFile \(farm.dir)/id_ed25519
              UserKnownHostsFile \(bastion.knownHostsPath)
            Host inner
              HostName \(inner.address)
              User root
              IdentityFile \(farm.dir)/id_ed25519
              UserKnownHostsFile \(inner.knownHostsPath)
            Match originalhost node-*
              ProxyJump \(jumps)

            """
            try text.write(toFile: config, atomically: true, encoding: .utf8)
        }

        deinit {
            inner.stop(); bastion.stop()
            _ = try? ScanFarmTests.sh(["python3", ScanFarmTests.farm, "down", "--dir", farm.dir])
            try? FileManager.default.removeItem(atPath: farm.dir)
            ns.remove()
        }
    }

    static func run(_ args: [String]) async throws -> (code: Int32, out: String, err: String) {
        let (output, capture) = FleetOutput.capture()
        let ctx = FleetContext(makeExecutor: FleetContext.live().makeExecutor, output: output)
        var cmd = try Fleet.parseAsRoot(args)
        do {
            if let s = cmd as? Scan { try await s.run(ctx) } else if let c = cmd as? Clean { try await c.run(ctx) } else { try cmd.run() }
            return (0, capture.stdout, capture.stderr)
        } catch let e as ExitCode {
            return (e.rawValue, capture.stdout, capture.stderr)
        }
    }

    /// Nodes (by name) whose expected verdicts include a residual map, from farm.json.
    static func residualNodes(_ f: ScanFarmTests.Farm) -> Set<String> {
        Set(f.nodes.filter { n in ((n["expected"] as? [String: String]) ?? [:]).values.contains("residual") }.compactMap { $0["name"] as? String })
    }

    @Test func scanAndCleanThroughOneBastion() async throws {
        let lab = try Lab(index: 8, nodes: 6, mix: "residual=0.5")
        try lab.writeConfig(jumps: "bastion")
        let residual = Self.residualNodes(lab.farm)
        #expect(!residual.isEmpty)
        let common = ["--inventory", lab.farm.inventory, "--db", lab.db, "--connect-timeout", "5s"]

        // Without the config the nodes cannot be reached at all.
        let direct = try await Self.run(["scan"] + common + ["--ssh-config", "none", "--format", "json"])
        #expect(direct.code == 2)
        #expect(direct.out.components(separatedBy: "\"status\":\"refused\"").count - 1 == 6)

        let shown = try await Self.run(["scan"] + common + ["--ssh-config", lab.config, "--show-ssh", "node-0001"])
        #expect(shown.out.contains("jump 1/1      bastion -> root@\(lab.bastion.address):22"))
        #expect(shown.out.contains("(\(lab.config):12)"))  // the ProxyJump line

        let scan = try await Self.run(["scan"] + common + ["--ssh-config", lab.config, "--format", "json"])
        #expect(scan.code == 1, "\(scan.err)")
        #expect(scan.out.components(separatedBy: "\"status\":\"ok\"").count - 1 == 6)

        let clean = try await Self.run(["clean", "--no-kubernetes"] + common + ["--ssh-config", lab.config, "--confirm-after", "0s", "--execute"])
        #expect(clean.code == 0, "\(clean.out)\(clean.err)")
        let after = try await Self.run(["scan"] + common + ["--ssh-config", lab.config])
        #expect(after.code == 0, "\(after.out)\(after.err)")  // nothing residual left
    }

    @Test func scanAndCleanThroughTwoHops() async throws {
        let lab = try Lab(index: 9, nodes: 4, mix: "residual=0.5")
        try lab.writeConfig(jumps: "bastion,inner")
        let common = ["--inventory", lab.farm.inventory, "--db", lab.db, "--connect-timeout", "5s", "--ssh-config", lab.config]
        let shown = try await Self.run(["scan"] + common + ["--show-ssh", "node-0002"])
        #expect(shown.out.contains("jump 2/2      inner -> root@127.0.104.11:22"))
        let scan = try await Self.run(["scan"] + common)
        #expect(scan.code == 1, "\(scan.out)\(scan.err)")
        let clean = try await Self.run(["clean", "--no-kubernetes"] + common + ["--confirm-after", "0s", "--execute"])
        #expect(clean.code == 0, "\(clean.out)\(clean.err)")
        #expect(try await Self.run(["scan"] + common).code == 0)
    }

    @Test func jumpOptionAndUnusableDirective() async throws {
        let lab = try Lab(index: 10, nodes: 2, mix: "residual=0.0")
        let common = ["--inventory", lab.farm.inventory, "--db", lab.db, "--ssh-config", lab.config, "--format", "json"]
        // --jump wins over the config's ProxyJump.
        try lab.writeConfig(jumps: "nowhere-at-all")
        let r = try await Self.run(["scan"] + common + ["--jump", "bastion"])
        #expect(r.code == 0, "\(r.out)\(r.err)")
        // A ProxyCommand that applies fails its node alone, naming the file and line.
        try lab.writeConfig(jumps: "bastion")
        try ("Host node-0002\n  ProxyCommand nc %h %p\n" + (try String(contentsOfFile: lab.config, encoding: .utf8)))
            .write(toFile: lab.config, atomically: true, encoding: .utf8)
        let p = try await Self.run(["scan"] + common)
        #expect(p.code == 2)
        #expect(p.out.contains("\(lab.config):2: ProxyCommand nc %h %p"))
        #expect(p.out.components(separatedBy: "\"status\":\"ok\"").count - 1 == 1)
    }
}
