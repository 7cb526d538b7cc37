import ArgumentParser
import Testing
import FleetRollout
@testable import FleetCLI

/// `fleet clean` and `fleet sweep --clean` take the same pacing options and build the same policy.
@Suite struct RolloutPacingOptionsTests {
    static func pacing(_ command: String, _ extra: [String]) throws -> RolloutPacingOptions {
        switch try Fleet.parseAsRoot([command, "--inventory", "nodes.yaml"] + extra) {
        case let c as Clean: return c.pacing
        case let c as Sweep: return c.pacing
        case let other: Issue.record("unexpected command \(type(of: other))"); throw ExitCode.failure
        }
    }

    @Test(arguments: ["clean", "sweep"])
    func defaultsAndValues(_ command: String) throws {
        let d = try Self.pacing(command, [])
        #expect(d.confirmAfter.value.duration == .seconds(300))
        #expect(d.policy.maxInFlight == 8)
        let p = try Self.pacing(command, ["--batch", "2,50%", "--max-in-flight", "3", "--rate", "30/min",
                                          "--pause", "1m", "--max-failures", "2", "--confirm-after", "0s"]).policy
        #expect(p.maxInFlight == 3)
        #expect(p.pause == .seconds(60))
        #expect(p.batches.count == 2)
        #expect(p.rate != nil)
        #expect(p.maxFailures != nil)
    }

    @Test(arguments: ["clean", "sweep"])
    func badValuesAreUsageErrors(_ command: String) {
        for bad in [["--batch", "1,x"], ["--max-in-flight", "0"], ["--rate", "fast"], ["--max-failures", "many"]] {
            #expect(throws: (any Error).self, "\(bad)") { try Fleet.parseAsRoot([command, "--inventory", "n.yaml"] + bad) }
        }
    }
}
