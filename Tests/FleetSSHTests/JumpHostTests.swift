import Foundation
import Testing
import FleetModel
import FleetSSH
import FleetTestSupport

/// Jump hosts against real sshds in a network namespace the test creates: nodes listen on
/// the namespace's own loopback (127.0.104.x there), so from the test's namespace they can
/// only be reached through the bastion's sshd (inside, on the namespace's end of the veth
/// link, AllowTcpForwarding yes). Needs root (ip netns); run under /work/.test.lock.
@Suite(.serialized) struct JumpHostTests {
    final class Lab {
        let ns: TestNetNS
        let bastion: TestSSHD
        let node: TestSSHD
        let user: String
        init(index: Int, bastionConfig: [String] = []) throws {
            user = try SSHExecutorTests.throwawayUser()
            ns = try TestNetNS(index: index)
            bastion = try TestSSHD(address: ns.inside, extraConfig: ["AllowTcpForwarding yes", "PermitOpen any"] + bastionConfig,
                                   netns: ns.name)
            node = try TestSSHD(address: "127.0.104.10", netns: ns.name)
            // One key for both, as an operator's agent or key file would serve both.
            try bastion.authorize(publicKeyFile: node.clientKeyPath + ".pub")
        }
        var known: [String] { [node.knownHostsPath, bastion.knownHostsPath] }
        func hop(port: Int = 22, knownHosts: [String]? = nil) -> NodeTarget {
            NodeTarget(name: "bastion", host: bastion.address, port: port, user: user,
                       identityFiles: [node.clientKeyPath], knownHostsFiles: knownHosts ?? known)
        }
        func target(_ name: String = "node", jumps: [NodeTarget]? = nil, port: Int = 22) -> NodeTarget {
            var t = NodeTarget(name: name, host: node.address, port: port, user: user,
                               identityFiles: [node.clientKeyPath], knownHostsFiles: known)
            t.jumps = jumps ?? [hop()]
            return t
        }
        deinit { node.stop(); bastion.stop(); ns.remove() }
    }

    static func options(_ f: (inout SSHOptions) -> Void = { _ in }) -> SSHOptions {
        SSHExecutorTests.options(f)
    }

    static func runAll(_ ex: SSHExecutor, _ targets: [NodeTarget], _ command: String) async -> [Result<ExecResult, NodeFailure>] {
        await withTaskGroup(of: (Int, Result<ExecResult, NodeFailure>).self) { g in
            for (i, t) in targets.enumerated() { g.addTask { (i, await SSHExecutorTests.run(ex, t, command)) } }
            var out = [Result<ExecResult, NodeFailure>?](repeating: nil, count: targets.count)
            for await (i, r) in g { out[i] = r }
            return out.map { $0! }
        }
    }

    @Test func directFailsJumpedSucceeds() async throws {
        let lab = try Lab(index: 1)
        let ex = SSHExecutor(options: Self.options())
        var direct = lab.target()
        direct.jumps = []
        let d = await SSHExecutorTests.run(ex, direct, "echo hi")
        #expect(SSHExecutorTests.failure(d)?.status == .refused)  // 127.0.104.10 here is not the namespace's
        let j = await SSHExecutorTests.run(ex, lab.target(), "echo jumped; cat /proc/net/dev | grep -c ftn")
        let out = try j.get().stdoutText
        #expect(out.hasPrefix("jumped\n"))
        #expect(out.hasSuffix("1\n"))  // the command ran inside the namespace (it has the veth's inner end)
    }

    @Test func manyNodesShareFewBastionConnections() async throws {
        let lab = try Lab(index: 2)
        let ex = SSHExecutor(options: Self.options { $0.channelsPerJumpConnection = 4 })
        let targets = (0..<12).map { lab.target("node-\($0)") }
        let results = await Self.runAll(ex, targets, "echo ok")
        for r in results { #expect((try? r.get().stdoutText) == "ok\n") }
    }

    @Test func twoHops() async throws {
        let lab = try Lab(index: 3)
        let inner = try TestSSHD(address: "127.0.104.11", extraConfig: ["AllowTcpForwarding yes"], netns: lab.ns.name)
        defer { inner.stop() }
        try inner.authorize(publicKeyFile: lab.node.clientKeyPath + ".pub")
        let second = NodeTarget(name: "inner", host: inner.address, port: 22, user: lab.user,
                                identityFiles: [lab.node.clientKeyPath], knownHostsFiles: lab.known + [inner.knownHostsPath])
        let ex = SSHExecutor(options: Self.options())
        var direct = second
        direct.jumps = []
        #expect(SSHExecutorTests.failure(await SSHExecutorTests.run(ex, direct, "true"))?.status == .refused)
        let results = await Self.runAll(ex, (0..<3).map { lab.target("n\($0)", jumps: [lab.hop(), second]) }, "echo two")
        for r in results { #expect((try? r.get().stdoutText) == "two\n") }
    }

    @Test func bastionRefusingFailsEveryNodeNamingIt() async throws {
        let lab = try Lab(index: 4)
        let ex = SSHExecutor(options: Self.options())
        let hop = lab.hop(port: 2)  // nothing listens there
        let results = await Self.runAll(ex, (0..<8).map { lab.target("n\($0)", jumps: [hop]) }, "true")
        for r in results {
            let f = SSHExecutorTests.failure(r)
            #expect(f?.status == .refused)
            #expect(f?.message.contains("through jump host bastion (\(lab.bastion.address):2)") == true)
        }
    }

    @Test func changedBastionHostKeyRefusesAllItsNodes() async throws {
        let lab = try Lab(index: 5)
        let other = lab.bastion.dir.appendingPathComponent("other").path
        try TestSSHD.keygen(type: "ed25519", path: other)
        let pub = try String(contentsOfFile: other + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let wrong = lab.bastion.dir.appendingPathComponent("wrong_known_hosts").path
        try "\(lab.bastion.address) \(pub)\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let ex = SSHExecutor(options: Self.options())
        let hop = lab.hop(knownHosts: [wrong])
        let results = await Self.runAll(ex, (0..<5).map { lab.target("n\($0)", jumps: [hop]) }, "true")
        for r in results {
            let f = SSHExecutorTests.failure(r)
            #expect(f?.status == .hostKeyChanged)
            #expect(f?.message.contains("jump host bastion") == true)
        }
    }

    @Test func nodeTheBastionCannotReach() async throws {
        let lab = try Lab(index: 6)
        let ex = SSHExecutor(options: Self.options())
        let f = SSHExecutorTests.failure(await SSHExecutorTests.run(ex, lab.target(port: 2), "true"))
        #expect(f?.status == .unreachable)
        #expect(f?.message.contains("jump host \(lab.bastion.address):22 cannot connect to 127.0.104.10:2") == true)
        // The bastion connection is still good for the others.
        #expect((try? await SSHExecutorTests.run(ex, lab.target(), "echo ok").get().stdoutText) == "ok\n")
    }

    @Test func bastionLostMidRunFailsItsNodesOthersContinue() async throws {
        let lab = try Lab(index: 7)
        let ex = SSHExecutor(options: Self.options())
        let targets = (0..<3).map { lab.target("n\($0)") }
        let running = Task { await Self.runAll(ex, targets, "echo started; sleep 30") }
        // Wait until all three sessions run through the bastion, then drop its connections.
        for _ in 0..<400 {
            let n = (try? lab.ns.exec(["/bin/sh", "-c", "ps -e -o args | grep -c '^sleep 30'"]))?.trimmingCharacters(in: .whitespacesAndNewlines)
            if n == "3" { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        lab.bastion.dropConnections()
        for r in await running.value {
            let f = SSHExecutorTests.failure(r)
            #expect(f?.status == .disconnected)
            #expect(f?.message.contains("jump host \(lab.bastion.address):22 connection lost") == true)
        }
        // A node started afterwards gets a new bastion connection.
        #expect((try? await SSHExecutorTests.run(ex, lab.target("later"), "echo ok").get().stdoutText) == "ok\n")
    }
}
