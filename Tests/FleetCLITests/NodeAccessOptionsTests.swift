import ArgumentParser
import Testing
import FleetSSH
@testable import FleetCLI

/// The node access options (`--host-key-policy`, `--connect-timeout`, …) reach the transport
/// options of every command that talks to nodes, with the same names and limits.
@Suite struct NodeAccessOptionsTests {
    static func options(_ command: String, _ extra: [String]) throws -> SSHOptions {
        let parsed = try Fleet.parseAsRoot([command, "--inventory", "nodes.yaml"] + extra)
        let args: NodeAccessOptions
        switch parsed {
        case let c as Scan: args = c.access
        case let c as Clean: args = c.access
        case let c as Sweep: args = c.access
        default: Issue.record("unexpected command \(type(of: parsed))"); throw ExitCode.failure
        }
        return args.sshOptions(sessions: 7)
    }

    @Test(arguments: ["scan", "clean", "sweep"])
    func strictByDefaultAcceptNewOnRequest(_ command: String) throws {
        let d = try Self.options(command, ["--connect-timeout", "3s"])
        #expect(d.hostKeyPolicy == .strict)
        #expect(d.connectTimeout == .seconds(3))
        #expect(d.handshakeTimeout == .seconds(6))
        #expect(d.maxConcurrentSessions == 7)
        #expect(try Self.options(command, ["--host-key-policy", "accept-new"]).hostKeyPolicy == .acceptNew)
    }

    @Test(arguments: ["scan", "clean", "sweep"])
    func badValuesAreUsageErrors(_ command: String) {
        for bad in [["--host-key-policy", "yes"], ["--forks", "0"], ["--connect-timeout", "0s"], ["--probe-timeout", "soon"]] {
            #expect(throws: (any Error).self, "\(bad)") { try Fleet.parseAsRoot([command, "--inventory", "n.yaml"] + bad) }
        }
    }
}
