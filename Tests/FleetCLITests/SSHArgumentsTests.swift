import ArgumentParser
import Testing
import FleetSSH
@testable import FleetCLI

/// `--host-key-policy` reaches the transport options of every command that talks to nodes.
@Suite struct SSHArgumentsTests {
    static func options(_ command: String, _ extra: [String]) throws -> SSHOptions {
        let parsed = try Fleet.parseAsRoot([command, "--inventory", "nodes.yaml"] + extra)
        let args: SSHArguments
        switch parsed {
        case let c as Scan: args = c.sshArguments
        case let c as Clean: args = c.sshArguments
        case let c as Sweep: args = c.sshArguments
        default: Issue.record("unexpected command \(type(of: parsed))"); throw ExitCode.failure
        }
        return args.options(connectTimeout: .seconds(3), sessions: 7)
    }

    @Test(arguments: ["scan", "clean", "sweep"])
    func strictByDefaultAcceptNewOnRequest(_ command: String) throws {
        let d = try Self.options(command, [])
        #expect(d.hostKeyPolicy == .strict)
        #expect(d.connectTimeout == .seconds(3))
        #expect(d.handshakeTimeout == .seconds(6))
        #expect(d.maxConcurrentSessions == 7)
        #expect(try Self.options(command, ["--host-key-policy", "accept-new"]).hostKeyPolicy == .acceptNew)
    }

    @Test func unknownPolicyIsAUsageError() {
        #expect(throws: (any Error).self) { try Fleet.parseAsRoot(["scan", "--inventory", "n.yaml", "--host-key-policy", "yes"]) }
    }
}
