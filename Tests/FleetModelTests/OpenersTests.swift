import Foundation
import Testing
import FleetModel
import FleetTestSupport

/// Who holds a map open, on the real captures of fixtures/real/hung-openers (MANIFEST.md,
/// state `hung-openers`): mpatha (dm-0, LUN 2, no_path_retry queue) is held by a stuck
/// `blkid -p` (5730), the vendor's `timeout -s KILL 10 dd … iflag=direct` (5733) and the
/// capture's own dd probe (6188), all in D state; mpathc (dm-2, LUN 1, no_path_retry fail)
/// by `bash -c 'exec 3<>/dev/dm-N; exec sleep 100000'` (5731, state S, read-write fd 3);
/// multipathd (233) holds every path disk.
@Suite struct OpenersTests {
    static let state = "hung-openers"

    // MARK: - The per-process files as captured

    @Test func statOfTheStuckDD() throws {
        let s = try #require(ProcStatParser.parse(try Fixtures.real(Self.state, "proc-5733-stat.txt")).value)
        #expect(s.pid == 5733 && s.comm == "dd" && s.state == "D" && s.ppid == 1)
        let m = try #require(ProcStatParser.parse(try Fixtures.real(Self.state, "proc-233-stat.txt")).value)
        #expect(m.comm == "multipathd" && m.state == "S")
        let sleeper = try #require(ProcStatParser.parse(try Fixtures.real(Self.state, "proc-5731-stat.txt")).value)
        #expect(sleeper.comm == "sleep" && sleeper.state == "S")
    }

    @Test func statWithParenthesesInTheName() throws {
        let s = try #require(ProcStatParser.parse("77 (a) b) (c) D 1 77 77 0").value)
        #expect(s.comm == "a) b) (c" && s.state == "D" && s.ppid == 1)
        #expect(ProcStatParser.parse("garbage").value == nil)
        #expect(!ProcStatParser.parse("garbage").warnings.isEmpty)
    }

    @Test func statusNameAndState() throws {
        let blkid = ProcStatusParser.parse(try Fixtures.real(Self.state, "proc-5730-status.txt"))
        #expect(blkid.value.name == "blkid" && blkid.value.state == "D" && blkid.value.pid == 5730)
        #expect(blkid.warnings.isEmpty)
        let sleeper = ProcStatusParser.parse(try Fixtures.real(Self.state, "proc-5731-status.txt")).value
        #expect(sleeper.name == "sleep" && sleeper.state == "S")
    }

    @Test func fdinfoBlocksGiveTheAccessMode() throws {
        let mpd = FdinfoParser.parseBlocks(try Fixtures.real(Self.state, "proc-233-fdinfo.txt"))
        #expect(mpd.warnings.isEmpty)
        // 8 path disks read-only (flags 0100000), /dev/mapper/control twice read-write (0100002).
        #expect(mpd.value.count == 10)
        #expect(mpd.value.filter { $0.target.hasPrefix("/dev/sd") }.allSatisfy { $0.access == .readOnly })
        #expect(mpd.value.filter { $0.target == "/dev/mapper/control" }.map(\.access) == [.readWrite, .readWrite])
        let sleeper = FdinfoParser.parseBlocks(try Fixtures.real(Self.state, "proc-5731-fdinfo.txt")).value
        #expect(sleeper == [OpenFD(fd: 3, target: "/dev/dm-2", flags: 0o100002)])
        #expect(sleeper.first?.access == .readWrite)
        // dd's O_DIRECT (0140000) and blkid's O_NONBLOCK|O_CLOEXEC (02104000): both read-only.
        #expect(FdinfoParser.parseBlocks(try Fixtures.real(Self.state, "proc-5733-fdinfo.txt")).value.first?.access == .readOnly)
        #expect(FdinfoParser.parseBlocks(try Fixtures.real(Self.state, "proc-5730-fdinfo.txt")).value.first?.flags == 0o2104000)
    }

    @Test func cmdlineSplitsAtNULs() throws {
        #expect(CmdlineParser.parse(try Fixtures.real(Self.state, "proc-5733-cmdline.txt"))
                == ["dd", "if=/dev/dm-0", "of=/dev/null", "count=1", "bs=1M", "iflag=direct"])
        #expect(CmdlineParser.parse(try Fixtures.real(Self.state, "proc-5730-cmdline.txt")) == ["blkid", "-p", "/dev/dm-0"])
        #expect(CmdlineParser.parse(try Fixtures.real(Self.state, "proc-233-cmdline.txt")) == ["/sbin/multipathd", "-d", "-s"])
    }

    @Test func fdLinksListing() throws {
        let r = ProcFDLinksParser.parse(try Fixtures.real(Self.state, "proc-fd-block-links.txt"))
        #expect(r.warnings.isEmpty)
        #expect(r.value.count == 14)
        #expect(r.value.filter { $0.target == "/dev/dm-0" }.map(\.pid) == [5730, 5733, 6188])
    }

    // MARK: - Assembled from the capture folder, classified

    @Test func snapshotAssemblesEveryOpener() throws {
        let snap = NodeSnapshot(outputs: try Fixtures.realOutputs(Self.state))
        #expect(snap.warnings.isEmpty, "\(snap.warnings)")
        let openers = try #require(snap.openersCapture?.openers)
        #expect(openers.map(\.pid) == [233, 5730, 5731, 5733, 6188])
        let dd = try #require(openers.first { $0.pid == 5733 })
        #expect(dd.comm == "dd" && dd.state == "D" && dd.wchan == "submit_bio_wait")
        #expect(dd.fds == [OpenFD(fd: 0, target: "/dev/dm-0", flags: 0o140000)])
        let mpatha = try #require(snap.map(named: "mpatha"))
        #expect(snap.openers(of: mpatha)?.map(\.pid) == [233, 5730, 5733, 6188])  // multipathd via sde, sdg
    }

    @Test func queueingMapWithOnlyStuckReadersIsResidualHungNamingThem() throws {
        let findings = Classifier.classify(NodeSnapshot(outputs: try Fixtures.realOutputs(Self.state)))
        let a = try #require(findings.first { $0.map.name == "mpatha" })
        #expect(a.verdict == .residualHung, "\(a.reasons)")
        let text = a.reasons.joined(separator: "\n")
        for name in ["pid 5730 blkid (D, msleep)", "pid 5733 dd (D, submit_bio_wait)", "pid 6188 dd (D, submit_bio_wait)"] {
            #expect(text.contains(name), "\(name) not in \(a.reasons)")
        }
        #expect(text.contains("open count 3 = stuck readers only"))
        #expect(!text.contains("multipathd"), "multipathd's path checker is not an opener to name: \(a.reasons)")
        let roles = try #require(a.evidence.openers)
        #expect(roles.first { $0.opener.pid == 233 }?.role == .pathChecker)
        #expect(Set(a.evidence.stuckReaderPIDs) == [5730, 5733, 6188])
    }

    @Test func mapHeldByTheReadWriteSleeperIsInUseNamingIt() throws {
        let findings = Classifier.classify(NodeSnapshot(outputs: try Fixtures.realOutputs(Self.state)))
        let c = try #require(findings.first { $0.map.name == "mpathc" })
        #expect(c.verdict == .inUse)
        let user = try #require(c.reasons.first { $0.contains("pid 5731") })
        #expect(user.contains("sleep") && user.contains("read-write fd 3 on dm-2") && user.contains("state S"))
        #expect(c.evidence.openers?.first { $0.opener.pid == 5731 }?.role == .user)
        // The healthy maps stay healthy although multipathd holds their paths.
        #expect(findings.filter { $0.map.name == "mpathb" || $0.map.name == "mpathd" }.map(\.verdict) == [.healthy, .healthy])
    }

    // MARK: - The rule, case by case (each condition alone turns a stuck reader into a user)

    static let dm0 = OpenFD(fd: 0, target: "/dev/dm-0", flags: 0o140000)
    static func role(_ o: Opener, queues: Bool = true) -> OpenerRole {
        OpenerRule.role(of: o, mapDevices: ["dm-0", "mpatha"], pathDisks: ["sde", "sdg"], queues: queues)
    }

    @Test func ruleNeedsDStateReadOnlyAndAListedProgram() {
        #expect(Self.role(Opener(pid: 10, comm: "dd", state: "D", fds: [Self.dm0])) == .stuckReader)
        #expect(Self.role(Opener(pid: 10, comm: "(udev-worker)", state: "D", fds: [Self.dm0])) == .stuckReader)
        guard case .user(let rw) = Self.role(Opener(pid: 10, comm: "dd", state: "D", fds: [OpenFD(fd: 1, target: "/dev/dm-0", flags: 0o100001)]))
        else { Issue.record("a write-only dd is a user"); return }
        #expect(rw.contains("write-only fd 1 on dm-0"))
        guard case .user(let sleeping) = Self.role(Opener(pid: 10, comm: "dd", state: "S", fds: [Self.dm0])) else {
            Issue.record("a dd not in D state is a user"); return
        }
        #expect(sleeping.contains("state S"))
        guard case .user(let offList) = Self.role(Opener(pid: 10, comm: "postgres", state: "D", fds: [Self.dm0])) else {
            Issue.record("a program off the list is a user"); return
        }
        #expect(offList.contains("postgres is not on the stuck-reader list"))
        guard case .user = Self.role(Opener(pid: 10, comm: "dd", state: "D", fds: [Self.dm0]), queues: false) else {
            Issue.record("nothing is stuck on a map that does not queue"); return
        }
    }

    @Test func missingProcDataIsUnknownNeverAGuess() {
        guard case .unknown = Self.role(Opener(pid: 10, comm: nil, state: nil, fds: [Self.dm0])) else {
            Issue.record("no stat: unknown"); return
        }
        guard case .unknown = Self.role(Opener(pid: 10, comm: "dd", state: "D", fds: [OpenFD(fd: 0, target: "/dev/dm-0")])) else {
            Issue.record("no fdinfo flags: unknown"); return
        }
    }

    @Test func multipathdOnAPathDiskIsItsCheckerButOnTheMapAUser() {
        let onDisk = Opener(pid: 233, comm: "multipathd", state: "S", fds: [OpenFD(fd: 12, target: "/dev/sde", flags: 0o100000)])
        #expect(Self.role(onDisk) == .pathChecker)
        let onMap = Opener(pid: 233, comm: "multipathd", state: "S", fds: [OpenFD(fd: 12, target: "/dev/dm-0", flags: 0o100000)])
        guard case .user = Self.role(onMap) else { Issue.record("multipathd holding the map itself is not expected"); return }
        let other = Opener(pid: 99, comm: "qemu", state: "S", fds: [OpenFD(fd: 5, target: "/dev/sdg", flags: 0o100002)])
        guard case .user = Self.role(other) else { Issue.record("someone using a path disk directly is a user"); return }
    }

    // MARK: - The discovery section's format

    /// The section as the node script prints it for the real files: `od -An -tx1` of stat and
    /// cmdline, fdinfo flags, links. It must give the same openers as the capture folder.
    @Test func sectionFormatCarriesTheSameFactsAsTheCaptureFiles() throws {
        let files = try Fixtures.realFiles(Self.state)
        func hex(_ s: String) -> String { s.utf8.map { String(format: "%02x", $0) }.joined(separator: " ") }
        var text = "O 1\n"
        var seen = Set<Int32>()
        for l in ProcFDLinksParser.parse(files["proc-fd-block-links.txt"]!).value {
            if seen.insert(l.pid).inserted {
                let w = files["proc-\(l.pid)-wchan.txt"]!
                text += "P \(l.pid) \(w) - \(hex(files["proc-\(l.pid)-stat.txt"]!))\n"
                text += "C \(l.pid) \(hex(files["proc-\(l.pid)-cmdline.txt"]!))\n"
            }
            let flags = FdinfoParser.parseBlocks(files["proc-\(l.pid)-fdinfo.txt"]!).value.first { $0.fd == l.fd }!.flags!
            text += "F \(l.pid) \(l.fd) 0\(String(flags, radix: 8)) \(l.target)\n"
        }
        let parsed = OpenersParser.parse(text)
        #expect(parsed.warnings.isEmpty)
        #expect(parsed.value.incomplete.isEmpty)
        let fromFolder = try #require(NodeSnapshot(outputs: try Fixtures.realOutputs(Self.state)).openersCapture)
        #expect(parsed.value.openers == fromFolder.openers)
    }

    @Test func sectionMarksIncompleteListsAndFleetProbes() {
        let nonce = String(repeating: "ab", count: 16)
        let r = OpenersParser.parse("O 1\nX find exit 137\nP 42 0 \(nonce) 34 32 20 28 64 64 29 20 44 20 31\nC 42\nF 42 0 0140000 /dev/dm-0\n")
        #expect(r.warnings.isEmpty)
        #expect(r.value.incomplete == ["find exit 137"])
        #expect(r.value.openers == [Opener(pid: 42, comm: "dd", state: "D", wchan: "0", cmdline: [],
                                           fds: [OpenFD(fd: 0, target: "/dev/dm-0", flags: 0o140000)], probeNonce: nonce)])
        // No header: the section did not run; a bad nonce or hex is a warning, not an opener fact.
        #expect(OpenersParser.parse("").value.incomplete.count == 1)
        #expect(!OpenersParser.parse("O 1\nP 42 0 nothex 41\n").warnings.isEmpty)
        #expect(!OpenersParser.parse("O 1\nP 42 0 - zz\n").warnings.isEmpty)
    }

    @Test func openCountAboveTheFilesSeenIsAUser() throws {
        // mpatha's open count is 3; drop one of its openers from the listing.
        var outputs = try Fixtures.realOutputs(Self.state)
        let i = try #require(outputs.firstIndex { $0.command == .procFDLinks })
        outputs[i].stdout = outputs[i].stdout.split(separator: "\n").filter { !$0.hasPrefix("6188 ") }.map { $0 + "\n" }.joined()
        let a = try #require(Classifier.classify(NodeSnapshot(outputs: outputs)).first { $0.map.name == "mpatha" })
        #expect(a.verdict == .inUse)
        #expect(a.reasons.contains { $0.contains("open count 3 but 2 open files") })
    }
}
