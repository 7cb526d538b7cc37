import ArgumentParser
import Foundation
import FleetRollout
import Testing
@testable import FleetCLI

/// The typed options: one duration type (zero only where an option allows it), the rollout
/// values parsed once by their own types, and the recorded options built from the groups.
@Suite struct TypedOptionsTests {
    @Test func oneDurationTypeAcceptsZeroAndSums() {
        #expect(DurationArgument(argument: "0")?.duration == .zero)
        #expect(DurationArgument(argument: "0s")?.duration == .zero)
        #expect(DurationArgument(argument: "00m")?.duration == .zero)
        #expect(DurationArgument(argument: "1d12h")?.duration == .seconds(36 * 3600))
        #expect(DurationArgument(argument: "90") == nil, "a bare number other than 0 has no unit")
        #expect(DurationArgument(argument: "10 minutes") == nil)
    }

    @Test func zeroIsRefusedWhereItWouldMeanEverything() {
        #expect(throws: (any Error).self) { try Fleet.parseAsRoot(["history", "prune", "--older-than", "0s"]) }
        #expect(throws: (any Error).self) { try Fleet.parseAsRoot(["history", "runs", "--since", "0"]) }
        #expect(throws: (any Error).self) { try Fleet.parseAsRoot(["scan", "--inventory", "n.yaml", "--command-timeout", "0s"]) }
        #expect((try? Fleet.parseAsRoot(["clean", "--inventory", "n.yaml", "--confirm-after", "0", "--pause", "0s"])) != nil)
    }

    @Test func rolloutValuesAreParsedByTheirOwnTypes() throws {
        let c = try #require(try Fleet.parseAsRoot(["clean", "--inventory", "n.yaml", "--batch", "2,50%", "--rate", "30/min",
                                                    "--max-failures", "10%"]) as? Clean)
        #expect(c.pacing.batch.value.steps == [.count(2), .percent(50)])
        #expect(c.pacing.rate?.value == RateLimit(count: 30, per: .seconds(60)))
        #expect(c.pacing.maxFailures?.value == .percent(10))
    }

    @Test func recordedOptionsAreOneFlatObjectFromTheGroups() throws {
        let c = try #require(try Fleet.parseAsRoot(["clean", "--inventory", "n.yaml", "--limit", "rack-a", "--batch", "1,5",
                                                    "--forks", "8", "--confirm-after", "10m"]) as? Clean)
        let recorded = RecordedOptions(Clean.Recorded(limit: "rack-a", fromRun: nil, wait: false, execute: false,
                                                                      kubernetes: true, kubeconfig: nil, context: nil),
                                       c.pacing.recorded, c.access.recorded)
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        // Keys sorted; nil optionals left out, as the synthesized Encodable does.
        #expect(String(decoding: try e.encode(recorded), as: UTF8.self) == """
            {"batch":"1,5","commandTimeout":"60s","confirmAfter":"10m","connectTimeout":"10s","execute":false,\
            "forks":8,"hostKeyPolicy":"strict","kubernetes":true,"limit":"rack-a","maxInFlight":8,"pause":"0s","probeTimeout":"15s","wait":false}
            """)
    }
}
