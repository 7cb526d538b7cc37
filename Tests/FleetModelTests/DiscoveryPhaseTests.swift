import Foundation
import Testing
import FleetModel
import FleetTestSupport

/// Phase 1's decision (``PhaseOne``) on the real captures: the phase-1 reads of one state
/// (`multipathd show maps json`, `sys-block-sdX-device-state`) against the last full scan of
/// another. Expectations from fixtures/real/MANIFEST.md: `healthy` has every path active;
/// `residual` has mpatha's sdg/sdh failed; `partial` one path of mpathb unmapped;
/// `after-cleanup` lacks mpatha (3 maps); `portal-down-recovering` has the TPG 2 paths failed.
@Suite struct DiscoveryPhaseTests {
    static func phase1(_ state: String) throws -> [CommandOutput] {
        try Fixtures.realOutputs(state).filter { PhaseOne.reads($0.command) }
    }

    /// The time of the last full discovery in ``previous(_:)``; `now` in the tests is an
    /// hour later unless a test says otherwise.
    static let fullAt = Date(timeIntervalSince1970: 1_795_000_000)
    static let now = fullAt.addingTimeInterval(3600)

    static func previous(_ state: String) throws -> PreviousNodeState {
        let outputs = try Fixtures.realOutputs(state)
        return PreviousNodeState(rows: CarriedRows(stateID: 1, outputSetID: 1),
                                 findings: Classifier.classify(NodeSnapshot(outputs: outputs)),
                                 phase1Outputs: outputs.filter { PhaseOne.reads($0.command) }, fullDiscoveryAt: fullAt)
    }

    /// ``PhaseOne/precheck(previous:kubernetes:now:fullAfter:)`` an hour after the last full
    /// discovery, with the 24 h bound of `--full-after`'s default.
    static func precheck(_ previous: PreviousNodeState?, kubernetes: KubeNodeView? = nil) -> PhaseDecision {
        PhaseOne.precheck(previous: previous, kubernetes: kubernetes, now: now, fullAfter: .seconds(24 * 3600))
    }

    func reason(_ d: PhaseDecision) -> String? {
        if case .full(let why) = d { return why }
        return nil
    }

    @Test func theRealCapturesHoldWhatPhaseOneReads() throws {
        let reads = try Self.phase1("healthy")
        #expect(reads.contains { $0.command == .multipathdMapsJSON })
        // 8 path disks sda…sdh, each `running`.
        #expect(reads.filter { if case .deviceState = $0.command { true } else { false } }.count == 8)
    }

    @Test func healthyAndUnchangedIsPhaseOneOnly() throws {
        let prev = try Self.previous("healthy")
        #expect(prev.findings.count == 4 && prev.findings.allSatisfy { $0.verdict == .healthy })
        #expect(Self.precheck(prev) == .carry)
        #expect(PhaseOne.decide(outputs: try Self.phase1("healthy"), framingWarnings: [], previous: prev) == .carry)
    }

    @Test func noPreviousScanIsFull() {
        #expect(reason(Self.precheck(nil))?.contains("no earlier scan") == true)
    }

    @Test func aPreviousScanWithAResidualMapIsFull() throws {
        let why = reason(Self.precheck(try Self.previous("residual")))
        #expect(why?.contains("residual") == true, "\(why ?? "carry")")
    }

    @Test(arguments: ["residual", "partial", "portal-down-recovering", "mixed", "hung"])
    func aFailedPathIsFull(now: String) throws {
        let why = reason(PhaseOne.decide(outputs: try Self.phase1(now), framingWarnings: [], previous: try Self.previous("healthy")))
        #expect(why != nil)
        #expect(why?.contains("path") == true || why?.contains("dm state") == true, "\(why ?? "carry")")
    }

    @Test func residualNamesTheFailedMapAndPath() throws {
        let why = try #require(reason(PhaseOne.decide(outputs: try Self.phase1("residual"), framingWarnings: [],
                                                      previous: try Self.previous("healthy"))))
        #expect(why.contains("mpatha"))
        #expect(why.contains("sdg") || why.contains("sdh"))
        #expect(why.contains("failed"))
    }

    @Test func aNewMapIsFull() throws {
        // after-cleanup (3 healthy maps) last time, healthy (4) now: mpatha and its disks are new.
        let prev = try Self.previous("after-cleanup")
        #expect(prev.findings.allSatisfy { $0.verdict == .healthy })
        #expect(Self.precheck(prev) == .carry)
        #expect(reason(PhaseOne.decide(outputs: try Self.phase1("healthy"), framingWarnings: [], previous: prev)) != nil)
    }

    @Test func aMapGoneIsFull() throws {
        #expect(reason(PhaseOne.decide(outputs: try Self.phase1("after-cleanup"), framingWarnings: [],
                                       previous: try Self.previous("healthy"))) != nil)
    }

    @Test func aChangedTableIsFull() throws {
        // The same maps and paths, one map's features changed (no_path_retry fail: features='0').
        var now = try Self.phase1("healthy")
        let i = try #require(now.firstIndex { $0.command == .multipathdMapsJSON })
        let json = now[i].stdout
        let first = try #require(json.range(of: "\"features\" : \"1 queue_if_no_path\""))
        now[i].stdout = json.replacingCharacters(in: first, with: "\"features\" : \"0\"")
        let why = reason(PhaseOne.decide(outputs: now, framingWarnings: [], previous: try Self.previous("healthy")))
        #expect(why?.contains("multipathd show maps json differs") == true, "\(why ?? "carry")")
    }

    @Test func aDiskNotRunningInSysfsIsFull() throws {
        var now = try Self.phase1("healthy")
        let i = try #require(now.firstIndex { $0.command == .deviceState(BlockDeviceName("sda")!) })
        now[i].stdout = "transport-offline\n"
        let why = reason(PhaseOne.decide(outputs: now, framingWarnings: [], previous: try Self.previous("healthy")))
        #expect(why?.contains("sda") == true && why?.contains("transport-offline") == true, "\(why ?? "carry")")
    }

    @Test func aFramingWarningOrAFailedReadIsFull() throws {
        let prev = try Self.previous("healthy")
        #expect(reason(PhaseOne.decide(outputs: try Self.phase1("healthy"), framingWarnings: ["12 bytes outside any frame"],
                                       previous: prev)) != nil)
        var now = try Self.phase1("healthy")
        let i = try #require(now.firstIndex { $0.command == .multipathdMapsJSON })
        now[i].exitCode = 1
        #expect(reason(PhaseOne.decide(outputs: now, framingWarnings: [], previous: prev)) != nil)
        now[i].exitCode = 0
        now[i].stdout = "fail\n"  // multipathd's answer when it cannot serve the query
        #expect(reason(PhaseOne.decide(outputs: now, framingWarnings: [], previous: prev)) != nil)
    }

    @Test func kubernetesSayingSomethingNewIsFull() throws {
        // The last scan did not ask the API (no kubernetes evidence); this one does.
        let prev = try Self.previous("healthy")
        let view = KubeNodeView(source: "ctx cluster https://k", nodeName: "worker-1")
        #expect(reason(Self.precheck(prev, kubernetes: view))?.contains("Kubernetes") == true)
        // The same answer as recorded: phase 1 stands.
        var same = prev
        for i in same.findings.indices { same.findings[i].evidence.kubernetes = Witnesses.witness(same.findings[i].map.wwid!, view) }
        #expect(Self.precheck(same, kubernetes: view) == .carry)
    }

    /// `--full-after`: a carried state may be as old as the bound, not older. The times are
    /// the test's own: the last full discovery at `fullAt`, the bound 24 h.
    @Test func aStateWhoseFullDiscoveryIsOlderThanTheBoundIsFull() throws {
        let prev = try Self.previous("healthy")
        let day = Duration.seconds(24 * 3600)
        func at(_ seconds: Double) -> PhaseDecision {
            PhaseOne.precheck(previous: prev, kubernetes: nil, now: Self.fullAt.addingTimeInterval(seconds), fullAfter: day)
        }
        #expect(at(0) == .carry)
        #expect(at(24 * 3600) == .carry, "exactly the bound is not older than it")
        let why = try #require(reason(at(24 * 3600 + 1)))
        #expect(why == "the last full discovery was 1d1s ago, more than --full-after 1d", "\(why)")
        #expect(reason(at(3 * 86400 + 2 * 3600))?.contains("3d2h ago") == true)
        // No bound: phase 1 carries a state however old (the behaviour before --full-after).
        #expect(PhaseOne.precheck(previous: prev, kubernetes: nil, now: Self.fullAt.addingTimeInterval(400 * 86400),
                                  fullAfter: nil) == .carry)
        // Ahead of this run's clock (the admin host's clock was set back): not trusted; less
        // than a second ahead is the history's millisecond rounding.
        #expect(reason(at(-120))?.contains("2m ahead of this run's clock") == true, "\(reason(at(-120)) ?? "carry")")
        #expect(at(-0.0004) == .carry)
    }

    @Test func aStateWithoutAFullDiscoveryTimeIsFullUnderABound() throws {
        var prev = try Self.previous("healthy")
        prev.fullDiscoveryAt = nil
        #expect(reason(Self.precheck(prev))?.contains("no time for the last full discovery") == true)
        #expect(PhaseOne.precheck(previous: prev, kubernetes: nil, now: Self.now, fullAfter: nil) == .carry)
    }

    /// A map not healthy says more than the age: its reason is the one recorded.
    @Test func anUnhealthyStateSaysSoEvenWhenOld() throws {
        let old = Self.fullAt.addingTimeInterval(30 * 86400)
        let why = reason(PhaseOne.precheck(previous: try Self.previous("residual"), kubernetes: nil, now: old,
                                           fullAfter: .seconds(86400)))
        #expect(why?.contains("not healthy") == true, "\(why ?? "carry")")
    }

    @Test func durationsAreWrittenInTheUnitsTheOptionsRead() throws {
        #expect(Duration.seconds(0).compactText == "0s")
        #expect(Duration.seconds(90).compactText == "1m30s")
        #expect(Duration.seconds(86400).compactText == "1d")
        #expect(Duration.seconds(86400 + 2 * 3600 + 5).compactText == "1d2h5s")
        #expect(Duration.milliseconds(1999).compactText == "1s")
        // What the note says parses back as the same duration (DurationParser).
        for s in [59, 3600, 90061, 7 * 86400] {
            #expect(try DurationParser.parse(Duration.seconds(s).compactText) == .seconds(s))
        }
    }
}
