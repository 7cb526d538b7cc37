import Foundation
import Testing
import FleetModel
@testable import FleetStore
@testable import FleetRollout

/// The residual map of the vendor procedure (step 1.1): mpathb 3618cf24100f8f457014a764c000001f6
/// dm-12 on sdi and sdj, both `failed faulty running`, probe Input/output error.
private func residualFinding(
    name: String? = "mpathb", wwid: String? = "3618cf24100f8f457014a764c000001f6", dm: String? = "dm-12",
    vendor: String = "HUAWEI", product: String = "XSG1", features: String = "0",
    paths: [Path]? = nil, verdict: Verdict = .residual, evidence: MapEvidence? = nil
) -> MapFinding {
    let ps = paths ?? [
        Path(hctl: "39:0:0:1", dev: "sdi", majorMinor: "8:48", dmState: "failed", checkerState: "faulty", deviceState: "running"),
        Path(hctl: "38:0:0:1", dev: "sdj", majorMinor: "8:64", dmState: "failed", checkerState: "faulty", deviceState: "running"),
    ]
    let map = MultipathMap(name: name, wwid: wwid, dm: dm, vendor: vendor, product: product, size: "100G",
                           features: features, hwhandler: "0", wp: "rw",
                           pathGroups: [PathGroup(policy: "service-time 0", prio: -1, status: "active", paths: ps)])
    let ev = evidence ?? MapEvidence(queueing: "off", openCount: 0, holders: [], slaves: ps.compactMap(\.dev),
                                     mountpoints: [], sysfsStates: Dictionary(uniqueKeysWithValues: ps.compactMap(\.dev).map { ($0, "running") }),
                                     probe: ProbeResult(outcome: .ioError, detail: "Input/output error"))
    return MapFinding(map: map, verdict: verdict, reasons: ["all 2 paths failed faulty", "probe: Input/output error"], evidence: ev)
}

private let t0 = Date(timeIntervalSince1970: 1_800_000_000)
private let target = NodeTarget(name: "node-1", host: "127.0.4.1")

private func plan(_ findings: [MapFinding], protect: [ProtectRule] = [], seen: [Date]? = nil,
                  confirmAfter: Duration = .seconds(300), status: NodeStatus = .ok,
                  unfinished: [UnfinishedAction] = []) -> NodeCleanPlan {
    let scan = NodeScan(node: "node-1", address: "127.0.4.1", status: status, error: status == .ok ? nil : "refused",
                        startedAt: t0, duration: .seconds(1), findings: findings)
    var obs: [String: [Date]] = [:]
    for f in findings { if let w = f.map.wwid { obs[w] = seen ?? [t0.addingTimeInterval(-600), t0] } }
    return CleanPlanner.plan(scan: scan, target: target, protect: protect, observations: obs, confirmAfter: confirmAfter,
                             unfinished: unfinished)
}

private func onlyReason(_ p: NodeCleanPlan) -> LeaveReason? {
    #expect(p.cleanups.isEmpty)
    #expect(p.left.count == 1)
    return p.left.first?.reasons.first
}

@Suite struct CleanPlannerTests {
    @Test func eligibleResidualGetsTheVendorProcedure() {
        let p = plan([residualFinding()])
        #expect(p.left.isEmpty)
        let c = try! #require(p.cleanups.first)
        #expect(c.wwid.rawValue == "3618cf24100f8f457014a764c000001f6")
        #expect(c.dm.rawValue == "dm-12")
        #expect(c.disks.map(\.rawValue) == ["sdi", "sdj"])
        #expect(!c.queueing)
        // Procedure steps 2.1 and 2.2 as an operator would type them (doc: `multipath -f`,
        // `echo 1 > /sys/block/sdi/device/delete`), with flushbufs before the deletes.
        #expect(c.commands.map(\.display) == [
            "multipath -f mpathb",
            "blockdev --flushbufs /dev/sdi", "blockdev --flushbufs /dev/sdj",
            "echo 1 > /sys/block/sdi/device/delete", "echo 1 > /sys/block/sdj/device/delete",
            // Issue #15: the flushed WWID leaves /etc/multipath/wwids (dell/csm #1447).
            "multipath -w 3618cf24100f8f457014a764c000001f6",
        ])
        #expect(c.reasons.contains { $0.contains("2 observations over 10m") })
    }

    @Test func queueingMapFailsQueuedIOFirst() {
        var f = residualFinding(features: "1 queue_if_no_path", verdict: .residualHung)
        f.evidence.queueing = "on"
        f.evidence.probe = ProbeResult(outcome: .hung, stuckPID: 21725, stuckAfterKill: true)
        let c = try! #require(plan([f]).cleanups.first)
        #expect(c.queueing)
        // multipathd's own command (issue #14); `dmsetup message … fail_if_no_path` is its fallback, sent only if it fails.
        #expect(c.commands.first == .multipathdDisableQueueing(MapName("mpathb")!))
        #expect(c.commands.first?.display == "multipathd disablequeueing map mpathb")
        #expect(!c.commands.contains(.disableQueueing(MapName("mpathb")!)))
        #expect(c.stuckReaders == nil, "no /proc read in this finding: only fleet's own stuck probes are accepted")
        #expect(c.commands[1] == .flushMap(MapName("mpathb")!))
    }

    @Test(arguments: [Verdict.healthy, .degraded, .inUse, .pathLoss, .needsReview])
    func nonResidualVerdictsAreLeftAlone(_ v: Verdict) {
        let r = onlyReason(plan([residualFinding(verdict: v)]))
        #expect(r == .verdict(v, "all 2 paths failed faulty"))
    }

    @Test func oneObservationWaitsForConfirmation() {
        let r = onlyReason(plan([residualFinding()], seen: [t0]))
        #expect(r == .waitingForConfirmation(until: t0.addingTimeInterval(300), observations: 1))
        #expect(plan([residualFinding()], seen: [t0]).waitingUntil == t0.addingTimeInterval(300))
    }

    @Test func observationsTooCloseWaitUntilFirstPlusConfirmAfter() {
        let first = t0.addingTimeInterval(-120)
        let r = onlyReason(plan([residualFinding()], seen: [first, t0]))
        #expect(r == .waitingForConfirmation(until: first.addingTimeInterval(300), observations: 2))
    }

    @Test func currentScanCountsOnceEvenWhenAlsoInHistory() {
        // The history holds this scan (same time, to the millisecond): still one observation.
        let r = onlyReason(plan([residualFinding()], seen: [t0.addingTimeInterval(0.0004)], confirmAfter: .zero))
        #expect(r == .waitingForConfirmation(until: t0, observations: 1))
        // Two scans 0.6 s apart are two observations.
        #expect(plan([residualFinding()], seen: [t0.addingTimeInterval(-0.6), t0], confirmAfter: .zero).cleanups.count == 1)
    }

    @Test func confirmAfterZeroNeedsTwoScans() {
        #expect(plan([residualFinding()], seen: [t0.addingTimeInterval(-5), t0], confirmAfter: .zero).cleanups.count == 1)
    }

    @Test func mountedIncludingBindMountsIsLeftAlone() {
        var f = residualFinding()
        f.evidence.mountpoints = ["/var/lib/kubelet/pods/x/volumes/y", "/mnt/bind"]
        #expect(onlyReason(plan([f])) == .mounted(["/var/lib/kubelet/pods/x/volumes/y", "/mnt/bind"]))
    }

    @Test func holdersAreLeftAlone() {
        var f = residualFinding()
        f.evidence.holders = ["dm-13"]
        #expect(onlyReason(plan([f])) == .holders(["dm-13"]))
    }

    @Test func residualHungHeldOpenOnlyByItsStuckProbeIsCleaned() {
        // The second scan of a queueing map: open count 1 from fleet's own earlier dd, which
        // the classifier matched against ps before calling it residual-hung.
        var f = residualFinding(features: "1 queue_if_no_path", verdict: .residualHung)
        f.evidence.queueing = "on"
        f.evidence.openCount = 1
        f.evidence.probe = ProbeResult(outcome: .hung, stuckPID: 8410)
        #expect(plan([f]).cleanups.count == 1)
        // Without a stuck probe to account for it, the open count is a user.
        f.evidence.probe = ProbeResult(outcome: .hung)
        #expect(onlyReason(plan([f])) == .openCount(1))
        // And a plain residual map gets no such allowance.
        var g = residualFinding()
        g.evidence.openCount = 1
        g.evidence.probe = ProbeResult(outcome: .ioError, stuckPID: 8410)
        #expect(onlyReason(plan([g])) == .openCount(1))
    }

    @Test func openOrUnknownOpenCountIsLeftAlone() {
        var f = residualFinding()
        f.evidence.openCount = 1
        #expect(onlyReason(plan([f])) == .openCount(1))
        f.evidence.openCount = nil
        #expect(onlyReason(plan([f])) == .openCount(nil))
    }

    @Test func blockedOrOfflinePathIsLeftAlone() {
        var f = residualFinding()
        f.evidence.sysfsStates["sdj"] = "blocked"
        #expect(onlyReason(plan([f])) == .pathsBlocked(["sdj=blocked"]))
        // multipath's dev_st says running, sysfs says transport-offline (portal-down captures): sysfs wins.
        f.evidence.sysfsStates["sdj"] = "transport-offline"
        #expect(onlyReason(plan([f])) == .pathsBlocked(["sdj=transport-offline"]))
    }

    @Test func pathNotFailedIsLeftAlone() {
        let paths = [
            Path(hctl: "39:0:0:1", dev: "sdi", dmState: "failed", checkerState: "faulty", deviceState: "running"),
            Path(hctl: "38:0:0:1", dev: "sdj", dmState: "active", checkerState: "ready", deviceState: "running"),
        ]
        #expect(onlyReason(plan([residualFinding(paths: paths)])) == .pathsNotAllFailed(["sdj"]))
    }

    @Test func mapWithoutPathsIsLeftAlone() {
        #expect(onlyReason(plan([residualFinding(paths: [])])) == .noPaths)
    }

    @Test func protectedByWWIDOrVendorGlob() {
        let byWWID = onlyReason(plan([residualFinding()], protect: [.wwid("3618CF24100F8F457014A764C000001F6")]))
        #expect(byWWID == .protected("wwid=3618CF24100F8F457014A764C000001F6"))
        let byVendor = onlyReason(plan([residualFinding()], protect: [.vendorProduct(vendor: "HUA*", product: "*")]))
        #expect(byVendor == .protected("vendor=HUA* product=*"))
        #expect(plan([residualFinding()], protect: [.vendorProduct(vendor: "NETAPP*", product: "*")]).cleanups.count == 1)
    }

    @Test func invalidNamesAreFindingsNeverCommands() {
        let hostile = residualFinding(name: "mpathb;reboot", wwid: "36$(id)", dm: "dm-1x",
                                      paths: [Path(dev: "sdi/../sda", dmState: "failed", deviceState: "running"),
                                              Path(dev: "nvme0n1", dmState: "failed", deviceState: "running"),
                                              Path(dev: nil, dmState: "failed", deviceState: "running")])
        let p = plan([hostile])
        #expect(p.cleanups.isEmpty)
        let reasons = p.left.first?.reasons ?? []
        #expect(reasons.contains(.invalidName(field: "WWID", value: "36$(id)")))
        #expect(reasons.contains(.invalidName(field: "map name", value: "mpathb;reboot")))
        #expect(reasons.contains(.invalidName(field: "dm device", value: "dm-1x")))
        #expect(reasons.contains(.invalidName(field: "path disk", value: "sdi/../sda")))
        #expect(reasons.contains(.invalidName(field: "path disk", value: "nvme0n1")))
        #expect(reasons.contains(.invalidName(field: "path disk", value: nil)))
    }

    @Test func slavesDisagreeingWithPathsAreLeftAlone() {
        var f = residualFinding()
        f.evidence.slaves = ["sdi", "sdk"]
        guard case .inconsistent = onlyReason(plan([f])) else { Issue.record("expected inconsistent"); return }
    }

    @Test func unscannedNodeGetsNoCleanup() {
        let p = plan([residualFinding()], status: .refused)
        #expect(p.cleanups.isEmpty)
        #expect(p.scanError == "refused")
        #expect(p.scanStatus == .refused)
    }

    @Test func everyMapGetsAnOutcome() {
        var mounted = residualFinding(name: "mpathc", wwid: "3618cf24100f8f457315a764c000001f6", dm: "dm-5")
        mounted.evidence.mountpoints = ["/data"]
        let healthy = residualFinding(name: "mpathn", wwid: "3618cf24100f8f45712345678000103e8", dm: "dm-3", verdict: .healthy)
        let p = plan([residualFinding(), mounted, healthy])
        #expect(p.cleanups.map(\.name.rawValue) == ["mpathb"])
        #expect(p.left.map { $0.name } == ["mpathc", "mpathn"])
    }

    @Test func interruptedRunIsResumedWhenItsMapIsGone() {
        // Run 7 was killed after `multipath -f mpathb` started and before its deletes: the map
        // is gone from this scan, its disks may remain.
        let u = [
            UnfinishedAction(id: 1, runID: 7, wwid: "3618cf24100f8f457014a764c000001f6", mapName: "mpathb", dm: "dm-12",
                             command: "multipath -f mpathb", kind: .flushMap, started: true),
            UnfinishedAction(id: 2, runID: 7, wwid: "3618cf24100f8f457014a764c000001f6", mapName: "mpathb", dm: "dm-12",
                             command: "blockdev --flushbufs /dev/sdi", kind: .flushBuffers, started: false),
            UnfinishedAction(id: 4, runID: 7, wwid: "3618cf24100f8f457014a764c000001f6", mapName: "mpathb", dm: "dm-12",
                             command: "echo 1 > /sys/block/sdj/device/delete", kind: .deleteDevice, started: false),
        ]
        let p = plan([], unfinished: u)
        let c = try! #require(p.cleanups.first)
        #expect(c.resumeOnly)
        #expect(c.disks.map(\.rawValue) == ["sdi", "sdj"])
        #expect(c.commands.map(\.display) == ["blockdev --flushbufs /dev/sdi", "blockdev --flushbufs /dev/sdj",
                                               "echo 1 > /sys/block/sdi/device/delete", "echo 1 > /sys/block/sdj/device/delete"])
        #expect(p.unfinished == u)
    }

    @Test func interruptedBeforeFlushAndMapGoneIsLeftForReview() {
        let u = [
            UnfinishedAction(id: 1, runID: 7, wwid: "3618cf24100f8f457014a764c000001f6", mapName: "mpathb", dm: "dm-12",
                             command: "multipath -f mpathb", kind: .flushMap, started: false),
            UnfinishedAction(id: 2, runID: 7, wwid: "3618cf24100f8f457014a764c000001f6", mapName: "mpathb", dm: "dm-12",
                             command: "echo 1 > /sys/block/sdi/device/delete", kind: .deleteDevice, started: false),
        ]
        let p = plan([], unfinished: u)
        #expect(p.cleanups.isEmpty)
        #expect(p.left.first?.reasons.first?.key == "inconsistent")
    }

    @Test func interruptedRunWhoseMapIsStillThereIsPlannedAfresh() {
        let u = [UnfinishedAction(id: 1, runID: 7, wwid: "3618cf24100f8f457014a764c000001f6", mapName: "mpathb", dm: "dm-12",
                                  command: "echo 1 > /sys/block/sdi/device/delete", kind: .deleteDevice, started: false)]
        let p = plan([residualFinding()], unfinished: u)
        #expect(p.cleanups.count == 1)
        #expect(p.cleanups.first?.resumeOnly == false)
    }

    @Test func streakRestartsAfterAScanThatSawPathsBack() {
        let w = "3618cf24100f8f457014a764c000001f6"
        func entry(_ minutesAgo: Double, allFailed: Bool?) -> TimelineEntry {
            TimelineEntry(runID: 1, runKind: .scan, startedAt: t0.addingTimeInterval(-minutesAgo * 60), status: .ok, error: nil,
                          maps: allFailed.map { [TimelineMap(wwid: w, name: "mpathb", dm: "dm-12", verdict: $0 ? .residual : .healthy,
                                                             allFailed: $0, reasons: [])] } ?? [])
        }
        // Newest first: failed 0 and 2 minutes ago, healthy 4 minutes ago, failed an hour ago.
        let timeline = [entry(0, allFailed: true), entry(2, allFailed: true), entry(4, allFailed: false), entry(60, allFailed: true)]
        let start = CleanRun.streakStart(wwid: w, timeline: timeline)
        #expect(start != nil && start! > t0.addingTimeInterval(-4 * 60) && start! < t0.addingTimeInterval(-2 * 60))
        // A scan without the map at all also restarts it.
        #expect(CleanRun.streakStart(wwid: w, timeline: [entry(0, allFailed: true), entry(3, allFailed: nil)]) != nil)
        #expect(CleanRun.streakStart(wwid: w, timeline: [entry(0, allFailed: true), entry(3, allFailed: true)]) == nil)
    }
}
