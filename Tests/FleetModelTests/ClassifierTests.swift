import Testing
import FleetModel
import FleetTestSupport

/// Verdicts per state, written from MANIFEST.md and each state's _lab-luns.txt.
let expectedVerdicts: [String: [String: Verdict]] = [
    "healthy": [lun0: .healthy, lun1: .healthy, lun2: .healthy, lun3: .healthy],
    "residual": [lun1: .residual, lun0: .healthy, lun2: .healthy, lun3: .healthy],
    "after-cleanup": [lun0: .healthy, lun2: .healthy, lun3: .healthy],
    "hung": [lun2: .residualHung, lun0: .healthy, lun1: .healthy, lun3: .healthy],
    "after-cleanup-hung": [lun0: .healthy, lun1: .healthy, lun3: .healthy],
    "partial": [lun3: .degraded, lun0: .healthy, lun1: .healthy, lun2: .healthy],
    "mixed": [lun1: .residual, lun3: .degraded, lun2: .residualHung, lun0: .healthy],
    "residual-retry-queueing": [lun3: .pathLoss, lun0: .healthy, lun1: .healthy, lun2: .healthy],
    "residual-retry-expired": [lun3: .residual, lun0: .healthy, lun1: .healthy, lun2: .healthy],
    "portal-down-recovering": [lun0: .degraded, lun1: .degraded, lun2: .degraded, lun3: .degraded],
    "portal-down-timeout": [lun0: .degraded, lun1: .degraded, lun2: .degraded, lun3: .degraded],
]

func verdicts(_ findings: [MapFinding]) -> [String: Verdict] {
    Dictionary(findings.map { ($0.map.wwid!, $0.verdict) }, uniquingKeysWith: { a, _ in a })
}

@Suite struct ClassifierFixtureTests {
    @Test(arguments: expectedVerdicts.keys.sorted())
    func realState(state: String) throws {
        let snap = NodeSnapshot(outputs: try Fixtures.realOutputs(state))
        let findings = Classifier.classify(snap)
        #expect(verdicts(findings) == expectedVerdicts[state]!, "\(findings.map { ($0.map.name ?? "", $0.verdict, $0.reasons) })")
        for f in findings { #expect(!f.reasons.isEmpty) }
        #expect(snap.missingCommands.isEmpty)
    }

    @Test func residualEvidenceAndAllFailed() throws {
        let snap = NodeSnapshot(outputs: try Fixtures.realOutputs("residual"))
        #expect(snap.allFailedMaps == [DMDeviceName("dm-0")!])
        let f = try #require(Classifier.classify(snap).first { $0.map.wwid == lun1 })
        #expect(f.map.name == "mpatha")
        #expect(f.evidence.slaves == ["sdg", "sdh"])
        #expect(f.evidence.holders == [])
        #expect(f.evidence.openCount == 0)
        #expect(f.evidence.sysfsStates == ["sdg": "running", "sdh": "running"])
        #expect(f.evidence.probe?.outcome == .ioError)
        #expect(f.evidence.mountpoints == [])
        #expect(f.reasons.contains("probe: Input/output error"))
    }

    @Test func hungEvidenceFindsStuckDD() throws {
        let snap = NodeSnapshot(outputs: try Fixtures.realOutputs("hung"))
        #expect(snap.allFailedMaps == [DMDeviceName("dm-2")!])
        let f = try #require(Classifier.classify(snap).first { $0.map.wwid == lun2 })
        #expect(f.verdict == .residualHung)
        #expect(f.evidence.queueing == "on")
        #expect(f.evidence.probe?.outcome == .hung)
        #expect(f.evidence.probe?.stuckPID == 8410)
    }

    /// multipath prints `failed faulty running` for a portal outage too; only sysfs tells.
    @Test func portalDownAllFailedWouldBePathLoss() throws {
        var outputs = try Fixtures.realOutputs("portal-down-recovering")
        // Make every path of mpatha (dm-2: sdf active, sdh transport-offline) failed in multipath's view.
        let i = try #require(outputs.firstIndex { $0.command == .multipathList })
        outputs[i].stdout = outputs[i].stdout.replacingOccurrences(of: "7:0:0:1 sdf 8:80  active ready  running",
                                                                   with: "7:0:0:1 sdf 8:80  failed faulty running")
        outputs.append(CommandOutput(command: .probe(DMDeviceName("dm-2")!, seconds: 15), stdout: "",
                                     stderr: "dd: error reading '/dev/dm-2': Input/output error\n", exitCode: 1))
        let f = try #require(Classifier.classify(NodeSnapshot(outputs: outputs)).first { $0.map.wwid == lun1 })
        #expect(f.verdict == .pathLoss)
        #expect(f.evidence.sysfsStates["sdh"] == "transport-offline")
    }

    @Test func multipathFileAloneIsNeverCleanable() throws {
        for state in expectedVerdicts.keys {
            let out = CommandOutput(command: .multipathList, stdout: try Fixtures.real(state, "multipath-ll.txt"))
            for f in Classifier.classify(NodeSnapshot(outputs: [out])) {
                #expect(!f.verdict.isCleanable, "\(state) \(f.map.name ?? "")")
                if f.map.paths.allSatisfy({ $0.dmState == "failed" }) {
                    #expect(f.verdict == .needsReview)
                    #expect(f.reasons.contains { $0.hasPrefix("looks like the vendor's residual pattern") })
                }
            }
        }
    }
}

/// Unit tests of the rules on the residual capture with one fact changed each.
@Suite struct ClassifierRuleTests {
    static func residual(_ change: (inout [CommandOutput]) -> Void) throws -> MapFinding {
        var outputs = try Fixtures.realOutputs("residual")
        change(&outputs)
        return try #require(Classifier.classify(NodeSnapshot(outputs: outputs)).first { $0.map.wwid == lun1 })
    }

    static func replace(_ outputs: inout [CommandOutput], _ cmd: NodeCommand, stdout: String, stderr: String = "", exit: Int32? = 0) {
        outputs.removeAll { $0.command == cmd }
        outputs.append(CommandOutput(command: cmd, stdout: stdout, stderr: stderr, exitCode: exit))
    }

    static let dm0 = DMDeviceName("dm-0")!

    @Test func baselineIsResidual() throws {
        #expect(try Self.residual { _ in }.verdict == .residual)
    }

    @Test func mountedIsInUse() throws {
        let f = try Self.residual { o in
            Self.replace(&o, .procMounts, stdout: "/dev/vda1 / ext4 rw 0 0\n/dev/mapper/mpatha /data ext4 rw 0 0\n/dev/mapper/mpatha /bind ext4 rw 0 0\n")
        }
        #expect(f.verdict == .inUse)
        #expect(f.evidence.mountpoints == ["/data", "/bind"])
    }

    @Test func lsblkMountpointIsInUse() throws {
        let f = try Self.residual { o in
            let i = o.firstIndex { $0.command == .lsblk }!
            o[i].stdout = o[i].stdout.replacingOccurrences(
                of: "\"kname\": \"dm-0\",\n               \"type\": \"mpath\",\n               \"size\": \"1G\",\n               \"wwn\": null,\n               \"hctl\": null,\n               \"state\": \"running\",\n               \"mountpoint\": null",
                with: "\"kname\": \"dm-0\",\n               \"type\": \"mpath\",\n               \"size\": \"1G\",\n               \"wwn\": null,\n               \"hctl\": null,\n               \"state\": \"running\",\n               \"mountpoint\": \"/srv/data\"")
        }
        #expect(f.evidence.mountpoints == ["/srv/data"])
        #expect(f.verdict == .inUse)
    }

    @Test func partitionMountedIsInUse() throws {
        let f = try Self.residual { o in Self.replace(&o, .procMounts, stdout: "/dev/mapper/mpatha-part1 /data xfs rw 0 0\n") }
        #expect(f.verdict == .inUse)
        let g = try Self.residual { o in Self.replace(&o, .procMounts, stdout: "/dev/mapper/mpathab /data xfs rw 0 0\n") }
        #expect(g.verdict == .residual)
    }

    @Test func holderIsInUse() throws {
        let f = try Self.residual { o in
            Self.replace(&o, .slavesHolders(Self.dm0), stdout: "/sys/block/dm-0/holders:\ndm-4\n\n/sys/block/dm-0/slaves:\nsdg\nsdh\n")
        }
        #expect(f.verdict == .inUse)
    }

    @Test func openCountIsInUse() throws {
        let f = try Self.residual { o in
            let t = try! Fixtures.real("residual", "dmsetup-info-c.txt")
                .replacingOccurrences(of: "mpatha           253   0 L--w    0", with: "mpatha           253   0 L--w    2")
            Self.replace(&o, .dmsetupInfo, stdout: t)
        }
        #expect(f.verdict == .inUse)
        #expect(f.evidence.openCount == 2)
    }

    @Test func transportOfflineIsPathLoss() throws {
        let f = try Self.residual { o in Self.replace(&o, .deviceState(BlockDeviceName("sdh")!), stdout: "transport-offline\n") }
        #expect(f.verdict == .pathLoss)
        let g = try Self.residual { o in Self.replace(&o, .deviceState(BlockDeviceName("sdg")!), stdout: "blocked\n") }
        #expect(g.verdict == .pathLoss)
    }

    @Test func lsblkStateIsASecondWitness() throws {
        // lsblk alone (no sysfs capture) may stand in for the sysfs state…
        let f = try Self.residual { o in o.removeAll { $0.command == .deviceState(BlockDeviceName("sdh")!) } }
        #expect(f.verdict == .residual)
        // …and lsblk saying transport-offline is path-loss even when the sysfs capture said running.
        let g = try Self.residual { o in
            let i = o.firstIndex { $0.command == .lsblk }!
            o[i].stdout = o[i].stdout.replacingOccurrences(of: "\"hctl\": \"7:0:0:1\",\n         \"state\": \"running\"",
                                                           with: "\"hctl\": \"7:0:0:1\",\n         \"state\": \"transport-offline\"")
        }
        #expect(g.verdict == .pathLoss)
    }

    @Test func missingSysfsStateNeedsReview() throws {
        let f = try Self.residual { o in
            o.removeAll { $0.command == .deviceState(BlockDeviceName("sdh")!) || $0.command == .lsblk }
            o.append(CommandOutput(command: .procMounts, stdout: "/dev/vda1 / ext4 rw 0 0\n"))
        }
        #expect(f.verdict == .needsReview)
        #expect(f.reasons.contains { $0.contains("no sysfs state for sdh") })
    }

    @Test func unknownSysfsStateNeedsReview() throws {
        let f = try Self.residual { o in Self.replace(&o, .deviceState(BlockDeviceName("sdh")!), stdout: "offline\n") }
        #expect(f.verdict == .needsReview)
    }

    @Test func retryWindowIsPathLoss() throws {
        let f = try Self.residual { o in
            let t = try! Fixtures.real("residual", "multipathd-show-maps-json.txt")
            // mpatha is the second map in this capture; set its queueing to a countdown.
            let parts = t.components(separatedBy: "\"name\" : \"mpatha\"")
            let fixed = parts[0] + "\"name\" : \"mpatha\"" + parts[1].replacingOccurrences(of: "\"queueing\" : \"off\"", with: "\"queueing\" : \"39 sec\"")
            Self.replace(&o, .multipathdMapsJSON, stdout: fixed)
        }
        #expect(f.evidence.queueing == "39 sec")
        #expect(f.verdict == .pathLoss)
    }

    @Test func readableNeedsReview() throws {
        let f = try Self.residual { o in
            Self.replace(&o, .probe(Self.dm0, seconds: 15), stdout: "", stderr: "1+0 records in\n1+0 records out\n", exit: 0)
        }
        #expect(f.verdict == .needsReview)
    }

    @Test func notProbedNeedsReview() throws {
        let f = try Self.residual { o in o.removeAll { if case .probe = $0.command { true } else { false } } }
        #expect(f.verdict == .needsReview)
        #expect(f.reasons.contains("not probed"))
    }

    @Test func otherProbeErrorNeedsReview() throws {
        let f = try Self.residual { o in
            Self.replace(&o, .probe(Self.dm0, seconds: 15), stdout: "", stderr: "dd: failed to open '/dev/dm-0': Permission denied\n", exit: 1)
        }
        #expect(f.verdict == .needsReview)
    }

    @Test func hungWithoutQueueingIsContradictory() throws {
        let f = try Self.residual { o in Self.replace(&o, .probe(Self.dm0, seconds: 15), stdout: "", exit: 137) }
        #expect(f.verdict == .needsReview)
    }

    @Test func missingEvidenceNeedsReview() throws {
        for cmd in [NodeCommand.dmsetupInfo, .slavesHolders(Self.dm0)] {
            let f = try Self.residual { o in o.removeAll { $0.command == cmd } }
            #expect(f.verdict == .needsReview, "\(cmd)")
        }
        // Mounts: either /proc/mounts or lsblk is enough; neither is not.
        let f = try Self.residual { o in o.removeAll { $0.command == .procMounts || $0.command == .lsblk } }
        #expect(f.verdict == .needsReview)
        let procOnly = try Self.residual { o in
            o.removeAll { $0.command == .lsblk }
            o.append(CommandOutput(command: .procMounts, stdout: "/dev/vda1 / ext4 rw 0 0\n"))
        }
        #expect(procOnly.verdict == .residual)
    }

    /// Issue #15: the dm uuid must be mpath-<WWID>; another WWID there is LUN reuse, its own
    /// verdict (never cleaned, alarmed), no longer a plain needs-review.
    @Test func dmReusedByAnotherMapIsALunReuseHazard() throws {
        let f = try Self.residual { o in
            Self.replace(&o, .dmNameUUID(Self.dm0), stdout: "mpathq\nmpath-3600000000000000000000000000000aa\n")
        }
        #expect(f.verdict == .lunReuseHazard)
        #expect(f.reasons.contains { $0.contains("mpath-3600000000000000000000000000000aa") })
    }

    @Test func slavesDifferNeedsReview() throws {
        let f = try Self.residual { o in
            Self.replace(&o, .slavesHolders(Self.dm0), stdout: "/sys/block/dm-0/holders:\n\n/sys/block/dm-0/slaves:\nsdg\nsdz\n")
        }
        #expect(f.verdict == .needsReview)
    }

    @Test func kernelStillActiveNeedsReview() throws {
        let f = try Self.residual { o in
            let t = try! Fixtures.real("residual", "dmsetup-status.txt").replacingOccurrences(of: "8:96 F", with: "8:96 A")
            Self.replace(&o, .dmsetupStatus, stdout: t)
        }
        #expect(f.verdict == .needsReview)
    }

    @Test func checkerNotFaultyNeedsReview() throws {
        let f = try Self.residual { o in
            let i = o.firstIndex { $0.command == .multipathList }!
            o[i].stdout = o[i].stdout.replacingOccurrences(of: "sdh 8:112 failed faulty running", with: "sdh 8:112 failed ready running")
        }
        #expect(f.verdict == .needsReview)
    }

    @Test func multipathDeviceStateColumn() throws {
        func with(_ state: String) throws -> Verdict {
            try Self.residual { o in
                let i = o.firstIndex { $0.command == .multipathList }!
                o[i].stdout = o[i].stdout.replacingOccurrences(of: "sdh 8:112 failed faulty running", with: "sdh 8:112 failed faulty \(state)")
            }.verdict
        }
        #expect(try with("transport-offline") == .pathLoss)
        #expect(try with("blocked") == .pathLoss)
        #expect(try with("offline") == .needsReview)
        #expect(try with("running") == .residual)
    }

    @Test func duplicateWWIDNeedsReview() throws {
        let f = try Self.residual { o in
            let i = o.firstIndex { $0.command == .multipathList }!
            o[i].stdout = o[i].stdout.replacingOccurrences(of: "mpathb (360014052df940906efa8efc931101de3)", with: "mpathb (\(lun1))")
        }
        #expect(f.verdict == .needsReview)
    }

    @Test func zeroPathMapNeedsReview() {
        let out = CommandOutput(command: .multipathList, stdout: "mpathz (3600a) dm-7 V,P\nsize=1G features='0' hwhandler='0' wp=rw\n")
        #expect(Classifier.classify(NodeSnapshot(outputs: [out])).map(\.verdict) == [.needsReview])
    }

    @Test func nativeNVMeIsNeverCleanable() {
        let text = """
        uuid.3b3f7f3c [nvme]:nvme0n1 NVMe,Linux,5.15.0
        size=2097152 features='n/a' hwhandler='ANA' wp=rw
        `-+- policy='n/a' prio=50 status=optimized
          |- 0:1:1 nvme0c0n1 0:0 n/a optimized live
          `- 0:2:1 nvme0c2n1 0:0 n/a inaccessible connecting
        """
        let f = Classifier.classify(NodeSnapshot(outputs: [CommandOutput(command: .multipathList, stdout: text)]))
        #expect(f.map(\.verdict) == [.needsReview])
        #expect(NodeSnapshot(outputs: [CommandOutput(command: .multipathList, stdout: text)]).allFailedMaps.isEmpty)
    }

    @Test func missingCommandIsReported() {
        let s = NodeSnapshot(outputs: [CommandOutput(command: .multipathList, stdout: "", stderr: "sh: multipath: not found", exitCode: 127)])
        #expect(s.missingCommands == [.multipathList])
        #expect(s.maps.isEmpty)
        #expect(s.warnings.first?.text.hasPrefix("multipath-ll: ") == true)
    }

    /// After a hung probe the stuck dd keeps the map open (cleanup-hung: Open = 1):
    /// that opener is our probe, not a user.
    @Test func openCountFromStuckProbeIsNotAUser() throws {
        var outputs = try Fixtures.realOutputs("hung")
        let info = try Fixtures.real("hung", "dmsetup-info-c.txt")
            .replacingOccurrences(of: "mpathc           253   2 L--w    0", with: "mpathc           253   2 L--w    1")
        outputs.removeAll { $0.command == .dmsetupInfo }
        outputs.append(CommandOutput(command: .dmsetupInfo, stdout: info))
        let f = try #require(Classifier.classify(NodeSnapshot(outputs: outputs)).first { $0.map.wwid == lun2 })
        #expect(f.verdict == .residualHung)
        // Two openers but one stuck dd: someone else has it open.
        let info2 = info.replacingOccurrences(of: "mpathc           253   2 L--w    1", with: "mpathc           253   2 L--w    2")
        outputs.removeAll { $0.command == .dmsetupInfo }
        outputs.append(CommandOutput(command: .dmsetupInfo, stdout: info2))
        let g = try #require(Classifier.classify(NodeSnapshot(outputs: outputs)).first { $0.map.wwid == lun2 })
        #expect(g.verdict == .inUse)
    }
}

/// A second scan of the `hung` capture's queueing map (LUN 2, mpathc, dm-2): discovery does
/// not probe it again because the first probe's dd is still blocked in D state (ps-dd-wchan.txt:
/// `8410 1 D submit_bio_wait … dd if=/dev/dm-2 of=/dev/null count=1 bs=1M iflag=direct`), and
/// that dd holds the map open (Open 1 in dmsetup info).
@Suite struct EarlierProbeTests {
    static let dm2 = DMDeviceName("dm-2")!

    static func secondScan(ps: String?) throws -> MapFinding {
        var o = try Fixtures.realOutputs("hung")
        o.removeAll { if case .probe(let d, _) = $0.command { return d == dm2 } else { return false } }
        let info = try Fixtures.real("hung", "dmsetup-info-c.txt")
            .replacingOccurrences(of: "mpathc           253   2 L--w    0", with: "mpathc           253   2 L--w    1")
        ClassifierRuleTests.replace(&o, .dmsetupInfo, stdout: info)
        o.removeAll { $0.command == .stuckProbes }
        if let ps { o.append(CommandOutput(command: .stuckProbes, stdout: ps)) }
        return try #require(Classifier.classify(NodeSnapshot(outputs: o)).first { $0.map.wwid == lun2 })
    }

    @Test func blockedEarlierProbeCountsAsHungProbe() throws {
        let f = try Self.secondScan(ps: try Fixtures.real("hung", "ps-dd-wchan.txt"))
        #expect(f.verdict == .residualHung)
        #expect(f.evidence.probe?.outcome == .hung)
        #expect(f.evidence.probe?.stuckPID == 8410)
    }

    @Test func anotherReaderIsAUserNotAProbe() throws {
        let f = try Self.secondScan(ps: "    PID    PPID STAT WCHAN                            ELAPSED CMD\n   8410       1 D    submit_bio_wait                        00:17 dd if=/dev/dm-2 of=/srv/backup.img bs=1M\n")
        #expect(f.verdict == .inUse)
    }

    @Test func withoutPsTheOpenCountIsAUser() throws {
        #expect(try Self.secondScan(ps: nil).verdict == .inUse)
    }
}
