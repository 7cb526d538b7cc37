import ArgumentParser
import FleetModel
import FleetRollout
import FleetStore
import FleetTestSupport
import Foundation
import Testing
@testable import FleetCLI

/// `--full` and `--full-after` (DiscoveryPhaseOptions) on `fleet sweep`, by flag and by
/// `--config` file: a sweep run in-process at times the test sets, over a real history file,
/// one node answered by a ScriptedExecutor with the real `healthy` captures (fixtures/real:
/// every path active, so phase 1 may carry it). Each sweep's replies say which discovery
/// the node must get; an exec no reply expects fails the run.
@Suite struct DiscoveryPhaseOptionsTests {
    let files: SweepConfigTests
    let db: String
    let inventory: String

    init() throws {
        files = try SweepConfigTests()
        db = files.dir + "/history.sqlite"
        inventory = try files.write("nodes.yaml", "nodes:\n  - {name: node-1, address: 127.0.121.1}\n")
    }

    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)
    static let hour: TimeInterval = 3600

    /// The full discovery of `healthy`.
    static func full() throws -> ScriptedExecutor.Reply { try SweepTests.discovery("healthy") }

    /// Phase 1 of `healthy`: only the frames of the commands phase 1 runs, for a script
    /// that is not the full discovery.
    static func phase1() throws -> ScriptedExecutor.Reply {
        let frames = try Fixtures.discoveryFrames("healthy").filter { f in
            NodeCommand(captureName: f.name).map(PhaseOne.reads) ?? false
        }
        return .framing("phase 1 of healthy", matches: { !String(decoding: $0.stdin, as: UTF8.self).contains("r multipath-ll ") }) { _ in
            frames
        }
    }

    /// `fleet sweep ARGS` at time `at` with node-1 answering `replies` in order; returns the
    /// run's node-1 scan as the history has it and the run's recorded options.
    func sweep(_ args: [String], at: Date, _ replies: [ScriptedExecutor.Reply],
               sourceLocation: SourceLocation = #_sourceLocation) async throws -> (scan: NodeScan, options: String) {
        let ex = ScriptedExecutor(["node-1": .replies(replies)])
        let (output, capture) = FleetOutput.capture()
        let ctx = FleetContext(makeExecutor: { _ in ex }, now: { at }, output: output, environment: [:])
        var cmd = try Sweep.parse(args + ["--db", db, "--no-kubernetes"])
        var code: Int32 = 0
        do { try await cmd.run(ctx) } catch let e as ExitCode { code = e.rawValue }
        #expect(code == 0, "\(capture.stderr)", sourceLocation: sourceLocation)
        #expect(ex.unconsumed.isEmpty, "replies not asked for: \(ex.unconsumed)", sourceLocation: sourceLocation)
        let store = try FleetDatabase(path: db)
        let run = try #require(try store.runs(limit: 1).first, sourceLocation: sourceLocation)
        let scan = try #require(try store.nodeScans(run: run.id).first, sourceLocation: sourceLocation)
        return (scan, run.options)
    }

    @Test func fullByFlagOrByConfigFileRunsTheFullDiscoveryAndNoFullBeatsTheFile() async throws {
        let inv = ["--inventory", inventory]
        let first = try await sweep(inv, at: Self.t0, [try Self.full()])
        #expect(first.scan.phase == .full && first.scan.phaseNote?.contains("no earlier scan") == true)
        #expect(first.scan.findings.count == 4 && first.scan.findings.allSatisfy { $0.verdict == .healthy })
        let quick = try await sweep(inv, at: Self.t0 + Self.hour, [try Self.phase1()])
        #expect(quick.scan.phase == .phase1)
        #expect(quick.scan.findings == first.scan.findings)

        let config = try files.write("sweep.yaml", "inventory: nodes.yaml\ndiscovery:\n  full: true\n")
        let forced = try await sweep(["--config", config], at: Self.t0 + 2 * Self.hour, [try Self.full()])
        #expect(forced.scan.phase == .full && forced.scan.phaseNote == nil, "\(forced.scan.phaseNote ?? "")")
        #expect(forced.options.contains("\"full\":true"), "\(forced.options)")
        let byFlag = try await sweep(inv + ["--full"], at: Self.t0 + 3 * Self.hour, [try Self.full()])
        #expect(byFlag.scan.phase == .full && byFlag.scan.phaseNote == nil)
        let overridden = try await sweep(["--config", config, "--no-full"], at: Self.t0 + 4 * Self.hour, [try Self.phase1()])
        #expect(overridden.scan.phase == .phase1)
        #expect(overridden.options.contains("\"full\":false"), "\(overridden.options)")
    }

    @Test func aStateOlderThanFullAfterGetsTheFullDiscoveryWithTheReason() async throws {
        let inv = ["--inventory", inventory]
        _ = try await sweep(inv, at: Self.t0, [try Self.full()])
        // The default bound is a day: 23 h later phase 1 still carries the state of t0.
        let carried = try await sweep(inv, at: Self.t0 + 23 * Self.hour, [try Self.phase1()])
        #expect(carried.scan.phase == .phase1)
        #expect(carried.options.contains("\"fullAfter\":\"24h\""), "\(carried.options)")
        // 25 h after the full discovery (2 h after the phase-1 run, which did not renew it).
        let aged = try await sweep(inv, at: Self.t0 + 25 * Self.hour, [try Self.full()])
        #expect(aged.scan.phase == .full)
        #expect(aged.scan.phaseNote == "the last full discovery was 1d1h ago, more than --full-after 1d", "\(aged.scan.phaseNote ?? "")")

        // From the config file: 30 minutes; an hour after the last full discovery.
        let config = try files.write("sweep.yaml", "inventory: nodes.yaml\ndiscovery: {full_after: 30m}\n")
        let short = try await sweep(["--config", config], at: Self.t0 + 26 * Self.hour, [try Self.full()])
        #expect(short.scan.phaseNote == "the last full discovery was 1h ago, more than --full-after 30m", "\(short.scan.phaseNote ?? "")")
        #expect(short.options.contains("\"fullAfter\":\"30m\""), "\(short.options)")
        // The flag beats the file.
        let long = try await sweep(["--config", config, "--full-after", "2h"], at: Self.t0 + 27 * Self.hour, [try Self.phase1()])
        #expect(long.scan.phase == .phase1)
    }

    @Test func fullAfterMustBeAPositiveDurationByFlagAndByFile() throws {
        #expect(throws: (any Error).self) { try Sweep.parse(["--inventory", "n.yaml", "--full-after", "0"]) }
        #expect(throws: (any Error).self) { try Scan.parse(["--inventory", "n.yaml", "--full-after", "soon"]) }
        let text = "inventory: nodes.yaml\ndiscovery:\n  full_after: 0s\n"
        let file = try files.write("zero.yaml", text)
        let place = try SweepConfigTests.position(of: "0s", in: text)
        do {
            _ = try OptionSourceTests.fromFile(["--config", file])
            Issue.record("full_after: 0s accepted")
        } catch let f as SweepConfig.Failure {
            #expect(f.error.line == place.line && f.error.column == place.column, "\(f)")
            #expect(f.error.message.contains("discovery.full_after: must be positive (as --full-after); found '0s'"), "\(f)")
        }
    }
}
