import Testing
import FleetModel
import FleetTestSupport

/// /proc/self/mountinfo read on this build machine (Debian 12 container, 2026-11-29) while
/// `/dev/null` and `/dev/zero` were bind-mounted onto files (`mount --bind /dev/null
/// /tmp/h2scratch/pub`; the second target has spaces), then cleaned up.
let machineMountInfo = #"""
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12334460k,nr_inodes=3083615,mode=755
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,resv_strict,resuid=65534,resgid=65534
29 26 0:26 / /dev/pts rw,relatime - devpts devpts rw,mode=600,ptmxmode=000
30 25 0:27 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24684084k
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 27 0:6 /null /tmp/h2scratch/pub rw,relatime - devtmpfs devtmpfs rw,size=12334460k,nr_inodes=3083615,mode=755
43 27 0:6 /zero /tmp/h2scratch/a\040b/c\040d rw,relatime - devtmpfs devtmpfs rw,size=12334460k,nr_inodes=3083615,mode=755

"""#

/// Hand-made in kubelet's shape (proc(5) format, optional fields as on a systemd host):
/// the CSI publish path and the pod's volumeDevices path, both binds of a device node.
let kubeletPublishDM0 = """
1391 29 0:5 /dm-0 /var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/pvc-8a1f/6c2e0d1b rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=4008260k,nr_inodes=1002065,mode=755
1402 29 0:5 /dm-0 /var/lib/kubelet/pods/6c2e0d1b-77aa/volumeDevices/kubernetes.io~csi/pvc-8a1f rw,nosuid,relatime shared:2 master:7 - devtmpfs udev rw,size=4008260k,nr_inodes=1002065,mode=755

"""

@Suite struct MountInfoParserTests {
    @Test func machineSampleParsesEveryLine() {
        let r = MountInfoParser.parse(machineMountInfo)
        #expect(r.warnings.isEmpty)
        #expect(r.value.count == 21)
        let root = r.value.first { $0.mountpoint == "/" }
        #expect(root == MountInfoEntry(mountID: 27, parentID: 1, majorMinor: "254:0", root: "/", mountpoint: "/",
                                       mountOptions: "rw,relatime", optionalFields: [], fstype: "ext4", source: "/dev/vda",
                                       superOptions: "rw,discard,resv_strict,resuid=65534,resgid=65534"))
        // /dev itself is devtmpfs but binds no single node.
        let dev = r.value.first { $0.mountpoint == "/dev" }
        #expect(dev?.isDevtmpfs == true)
        #expect(dev?.boundDeviceNode == nil)
        let null = r.value.first { $0.mountID == 42 }
        #expect(null?.root == "/null")
        #expect(null?.boundDeviceNode == "/dev/null")
        #expect(null?.majorMinor == "0:6")
        // \040 is a space, in the mount point.
        #expect(r.value.first { $0.mountID == 43 }?.mountpoint == "/tmp/h2scratch/a b/c d")
        #expect(r.value.filter { $0.boundDeviceNode != nil }.map(\.mountID) == [42, 43])
    }

    @Test func optionalFieldsUpToTheSeparator() {
        let r = MountInfoParser.parse(kubeletPublishDM0)
        #expect(r.warnings.isEmpty)
        #expect(r.value.map(\.optionalFields) == [["shared:2"], ["shared:2", "master:7"]])
        #expect(r.value.map(\.source) == ["udev", "udev"])
        #expect(r.value.map(\.boundDeviceNode) == ["/dev/dm-0", "/dev/dm-0"])
        #expect(r.value[1].mountpoint == "/var/lib/kubelet/pods/6c2e0d1b-77aa/volumeDevices/kubernetes.io~csi/pvc-8a1f")
    }

    @Test func badLinesAreWarningsWithTheirNumbers() {
        let text = """
        22 27 0:21 / /proc rw,relatime - proc proc rw
        23 27 0:22 / /sys rw,relatime shared:3 sysfs sysfs rw
        x 27 0:22 / /sys rw,relatime - sysfs sysfs rw
        24 27 0-6 / /dev rw,relatime - devtmpfs devtmpfs rw
        25 24 0:23 / /dev/shm rw,relatime - tmpfs
        26 24 0:24 / /dev/pts rw,relatime - devpts devpts
        27 24 0:6 /zero /z rw - devtmpfs devtmpfs rw 28 24 0:6 /null /n rw - devtmpfs devtmpfs rw
        """
        let r = MountInfoParser.parse(text)
        // Line 7: two lines run together (a lost newline) are refused, not half-read.
        #expect(r.warnings.map(\.line) == [2, 3, 4, 5, 7])
        // Super options missing is tolerated: fstype and source are what fleet reads.
        #expect(r.value.map(\.mountID) == [22, 26])
        #expect(r.value.last?.superOptions == "")
    }

    @Test func totalOnJunk() {
        for junk in ["-", " - - - - - - - - -", "1 2 3:4 / / rw - ", "\u{0}\n\\0777 \\", String(repeating: "9", count: 40) + " 1 1:1 / / rw - a b c"] {
            let r = MountInfoParser.parse(junk)
            #expect(r.value.isEmpty, "\(junk)")
        }
    }

    @Test func commandAndCaptureName() {
        #expect(NodeCommand.mountInfo.captureName == "proc-self-mountinfo")
        #expect(NodeCommand(captureName: "proc-self-mountinfo") == .mountInfo)
        #expect(NodeCommand.mountInfo.shell == #"cat "$R/proc/self/mountinfo""#)
        #expect(NodeCommand.mountInfo.display.hasPrefix("cat /proc/self/mountinfo"))
        #expect(!NodeCommand.mountInfo.isAction)
    }
}

/// The residual capture (mpatha = dm-0, residual) with a mountinfo added.
@Suite struct RawBlockClassifierTests {
    static func residual(mountInfo: String?) throws -> MapFinding {
        var outputs = try Fixtures.realOutputs("residual")
        if let mountInfo { outputs.append(CommandOutput(command: .mountInfo, stdout: mountInfo)) }
        return try #require(Classifier.classify(NodeSnapshot(outputs: outputs)).first { $0.map.wwid == lun1 })
    }

    static let publish = "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/pvc-8a1f/6c2e0d1b"
    static let pod = "/var/lib/kubelet/pods/6c2e0d1b-77aa/volumeDevices/kubernetes.io~csi/pvc-8a1f"

    @Test func unrelatedMountInfoKeepsResidual() throws {
        let f = try Self.residual(mountInfo: machineMountInfo)
        #expect(f.verdict == .residual)
        #expect(f.evidence.mountpoints == [])
    }

    @Test func dmNodeBindIsInUse() throws {
        let f = try Self.residual(mountInfo: machineMountInfo + kubeletPublishDM0)
        #expect(f.verdict == .inUse)
        #expect(f.reasons.contains("device node bind-mounted on \(Self.publish) (raw block volume)"))
        #expect(f.reasons.contains("device node bind-mounted on \(Self.pod) (raw block volume)"))
        #expect(!f.reasons.contains { $0.hasPrefix("mounted on") })
        #expect(f.evidence.mountpoints == [Self.publish, Self.pod])
    }

    @Test func mapperNodeBindIsInUse() throws {
        let line = "1391 29 0:5 /mapper/mpatha \(Self.publish) rw,nosuid,relatime shared:2 - devtmpfs udev rw,mode=755\n"
        let f = try Self.residual(mountInfo: machineMountInfo + line)
        #expect(f.verdict == .inUse)
        #expect(f.reasons.contains("device node bind-mounted on \(Self.publish) (raw block volume)"))
        // A partition's node too; a longer name that only starts with mpatha does not count.
        let part = try Self.residual(mountInfo: line.replacingOccurrences(of: "/mapper/mpatha ", with: "/mapper/mpatha-part1 "))
        #expect(part.verdict == .inUse)
        let other = try Self.residual(mountInfo: line.replacingOccurrences(of: "/mapper/mpatha ", with: "/mapper/mpathab "))
        #expect(other.verdict == .residual)
    }

    @Test func otherNodesAndOtherMapsStayResidual() throws {
        // /null bound (the machine sample), dm-1 (mpathb) published, /dev itself: none is mpatha.
        let lines = kubeletPublishDM0.replacingOccurrences(of: "/dm-0 ", with: "/dm-1 ")
            + "1500 29 0:5 /null /var/lib/kubelet/x rw - devtmpfs udev rw\n"
            + "1501 29 0:5 /dm-00 /var/lib/kubelet/y rw - devtmpfs udev rw\n"
        let f = try Self.residual(mountInfo: machineMountInfo + lines)
        #expect(f.verdict == .residual)
        let snap = NodeSnapshot(outputs: try Fixtures.realOutputs("residual") + [CommandOutput(command: .mountInfo, stdout: lines)])
        let mpathb = try #require(snap.map(named: "mpathb"))
        #expect(snap.deviceNodeBinds(of: mpathb)?.count == 2)
    }

    @Test func staleBindOfADeletedNodeStillCounts() throws {
        // Root as this machine showed it after mknod /dev/h2test-null, mount --bind, rm:
        // `42 27 0:6 /h2test-null//deleted FILE … - devtmpfs devtmpfs …`.
        let line = "1391 29 0:5 /dm-0//deleted \(Self.publish) rw,nosuid,relatime shared:2 - devtmpfs udev rw,mode=755\n"
        let e = try #require(MountInfoParser.parse(line).value.first)
        #expect(e.isDeletedNode)
        #expect(e.boundDeviceNode == "/dev/dm-0")
        let f = try Self.residual(mountInfo: line)
        #expect(f.verdict == .inUse)
        #expect(f.reasons.contains { $0.hasPrefix("device node bind-mounted on \(Self.publish) (raw block volume): stale bind of a deleted /dev/dm-0") })
        // `//deleted` alone (a deleted node named nothing) is no device.
        #expect(MountInfoParser.parse("1 2 0:5 //deleted /x rw - devtmpfs udev rw\n").value.first?.boundDeviceNode == nil)
    }

    @Test func sameRootOnAnotherFilesystemIsNotADeviceBind() throws {
        // A tmpfs directory that happens to be called /dm-0 is not the device node.
        let f = try Self.residual(mountInfo: "1391 29 0:44 /dm-0 /var/lib/x rw - tmpfs tmpfs rw\n")
        #expect(f.verdict == .residual)
    }

    @Test func mountSourceInMountInfoIsInUse() throws {
        // Without /proc/mounts, mountinfo's source field still shows a filesystem on the map.
        var outputs = try Fixtures.realOutputs("residual")
        outputs.removeAll { $0.command == .procMounts }
        outputs.append(CommandOutput(command: .mountInfo, stdout: "1391 29 253:0 / /data rw - xfs /dev/mapper/mpatha rw\n"))
        let snap = NodeSnapshot(outputs: outputs)
        let f = try #require(Classifier.classify(snap).first { $0.map.wwid == lun1 })
        #expect(f.verdict == .inUse)
        #expect(f.reasons.contains("mounted on /data (/dev/mapper/mpatha)"))
    }

    @Test func cleanerRecheckSeesTheBind() throws {
        // The cleaner's re-verify asks mounts(of:): the bind must be there, with the node as source.
        let snap = NodeSnapshot(outputs: try Fixtures.realOutputs("residual") + [CommandOutput(command: .mountInfo, stdout: kubeletPublishDM0)])
        let m = try #require(snap.map(named: "mpatha"))
        #expect(snap.mounts(of: m)?.map(\.mountpoint) == [Self.publish, Self.pod])
        #expect(snap.mounts(of: m)?.map(\.source) == ["/dev/dm-0", "/dev/dm-0"])
        let plain = NodeSnapshot(outputs: try Fixtures.realOutputs("residual"))
        // The lab capture has no /proc/mounts (lsblk is its mount witness) and no mountinfo.
        #expect(plain.mounts(of: m) == nil)
        #expect(plain.deviceNodeBinds(of: m) == nil)
    }
}

@Suite struct MountInfoFuzzTests {
    /// Mutations of real and kubelet-shaped lines: the parser never traps, every warning points
    /// into the input, and nothing is read from a line it also warned about.
    @Test func mutatedInputs() {
        var rng = SplitMix64(state: 0x6d6f_756e_7469_6e66)
        let base = Array((machineMountInfo + kubeletPublishDM0).utf8)
        let pieces: [[UInt8]] = [" - ", "-", " ", "\n", "\\040", "\\", ":", "0:5", "/dm-0", "\t", "\r\n", "shared:1", "é", "\u{0}",
                                 "99999999999999999999999"].map { Array($0.utf8) }
        var sawBinds = 0
        for _ in 0..<20_000 {
            var b = base
            for _ in 0..<Int(rng.next() % 6) {
                let at = Int(rng.next() % UInt64(b.count + 1))
                switch rng.next() % 3 {
                case 0: b.insert(contentsOf: pieces[Int(rng.next() % UInt64(pieces.count))], at: at)
                case 1: if at < b.count { b.remove(at: at) }
                default: if at < b.count { b[at] = UInt8(truncatingIfNeeded: rng.next()) }
                }
            }
            let input = String(decoding: b, as: UTF8.self)
            let r = MountInfoParser.parse(input)
            let lines = TextLinesCount.count(input)
            #expect(r.warnings.allSatisfy { $0.line >= 1 && $0.line <= lines })
            #expect(r.value.count + r.warnings.count <= lines)
            #expect(r.value.allSatisfy { $0.boundDeviceNode.map { $0.hasPrefix("/dev/") } ?? true })
            sawBinds += r.value.filter { $0.boundDeviceNode != nil }.count
        }
        #expect(sawBinds > 0)
    }
}

enum TextLinesCount {
    /// Lines as TextLines numbers them: split on \n, a final empty line not counted.
    static func count(_ s: String) -> Int {
        let u = Array(s.utf8)
        let n = u.reduce(0) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        return n + ((u.last.map { $0 != UInt8(ascii: "\n") } ?? false) ? 1 : 0)
    }
}
