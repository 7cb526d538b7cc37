import Foundation
import Testing
import FleetModel
@testable import FleetRollout

/// The generated scripts run by a real /bin/sh against a fake sysroot (FLEET_SYSROOT) and
/// stub tools, then parsed back: what a node would send.
@Suite struct DiscoveryScriptTests {
    final class Node {
        let root: URL, stubs: URL, dir: URL
        init() throws {
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-script-\(UUID().uuidString)")
            root = dir.appendingPathComponent("root"); stubs = dir.appendingPathComponent("bin")
            try FileManager.default.createDirectory(at: stubs, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: dir) }

        func file(_ path: String, _ text: String) throws {
            let u = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: u, atomically: true, encoding: .utf8)
        }
        func dir(_ path: String) throws {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(path), withIntermediateDirectories: true)
        }
        func stub(_ name: String, _ body: String) throws {
            let u = stubs.appendingPathComponent(name)
            try "#!/bin/sh\n\(body)\n".write(to: u, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: u.path)
        }
        func run(_ script: String) throws -> [UInt8] { try runBoth(script).stdout }

        /// `path`: the PATH the script starts with (the stubs only: no program from
        /// /usr/bin or /bin can run, as the script adds only the sbin folders).
        func runBoth(_ script: String, path: String? = nil) throws -> (stdout: [UInt8], stderr: [UInt8]) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-s"]
            // No /usr/sbin or /sbin here; the script appends them, and this machine has no multipath-tools.
            p.environment = ["FLEET_SYSROOT": root.path, "PATH": path ?? stubs.path + ":/usr/bin:/bin", "HOME": dir.path]
            let input = Pipe(), output = Pipe(), errors = Pipe()
            p.standardInput = input; p.standardOutput = output; p.standardError = errors
            try p.run()
            input.fileHandleForWriting.write(Data(script.utf8))
            try input.fileHandleForWriting.close()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let err = errors.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (Array(data), Array(err))
        }
    }

    func typicalNode() throws -> Node {
        let n = try Node()
        try n.file("sys/block/sda/device/state", "running\n")
        try n.file("sys/block/sdb/device/state", "transport-offline\n")
        try n.file("sys/block/sda/device/wwid", "naa.6001405ae3a4a2b307ccf2a518e52df9\n")
        // kubelet's staging record, under the same sysroot seam as /sys.
        try n.file("var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-1/vol_data.json",
                   #"{"driverName":"csi.example.com","specVolID":"pvc-1","volumeHandle":"h-1"}"#)
        try n.dir("sys/block/sdq;touch pwned")            // not a kernel name: skipped on the node
        try n.file("sys/block/sdzzzzzzzzz/device/state", "running\n")  // too long: rejected by the parser
        try n.file("sys/block/dm-0/slaves/sda", ""); try n.file("sys/block/dm-0/slaves/sdb", "")
        try n.dir("sys/block/dm-0/holders")
        try n.file("sys/block/dm-0/dm/name", "mpatha\n")
        try n.file("sys/block/dm-0/dm/uuid", "mpath-36001405ae3a4a2b307ccf2a518e52df9\n")
        try n.file("proc/mounts", "/dev/sda1 / ext4 rw 0 0\n")
        try n.dir("dev/disk/by-id")
        // Every stub drains stdin first: if a command could read the script, the rest of
        // the script would vanish and the test would see missing frames.
        try n.stub("multipath", "cat >/dev/null; echo 'mpatha (36001405ae3a4a2b307ccf2a518e52df9) dm-0 LIO-ORG,lun1'; echo 'prio alua failed' >&2")
        try n.stub("multipathd", "cat >/dev/null; echo '{\"maps\":[]}'")
        try n.stub("dmsetup", "cat >/dev/null; echo \"dmsetup $*\"")
        try n.stub("lsblk", "cat >/dev/null; echo '{\"blockdevices\":[]}'")
        return n
    }

    @Test func discoveryScriptFramesEveryCommandAndEveryDevice() throws {
        let n = try typicalNode()
        let nonce = NodeScript.newNonce()
        let r = Framing.parse(try n.run(NodeScript.discovery(nonce: nonce)), nonce: nonce)
        #expect(r.complete)
        let sda = BlockDeviceName("sda")!, sdb = BlockDeviceName("sdb")!, dm0 = DMDeviceName("dm-0")!
        #expect(Set(r.outputs.map(\.command)) == Set(NodeScript.fixedDiscovery + [
            .deviceState(sda), .deviceState(sdb), .deviceWWID(sda), .deviceWWID(sdb), .slavesHolders(dm0), .dmNameUUID(dm0), .openers]))
        #expect(r.outputs.first { $0.command == .deviceWWID(sda) }?.stdout == "naa.6001405ae3a4a2b307ccf2a518e52df9\n")
        // sdb has no wwid file: a failed read, nothing invented.
        #expect(r.outputs.first { $0.command == .deviceWWID(sdb) }.map { $0.exitCode != 0 && $0.stdout.isEmpty } == true)
        let kubelet = NodeSnapshot(outputs: r.outputs).kubeletVolumes
        #expect(kubelet == [KubeletVolume(path: "/var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-1/vol_data.json",
                                          specVolID: "pvc-1", volumeHandle: "h-1", driverName: "csi.example.com")])
        func out(_ c: NodeCommand) -> CommandOutput? { r.outputs.first { $0.command == c } }
        #expect(out(.multipathList)?.stdout == "mpatha (36001405ae3a4a2b307ccf2a518e52df9) dm-0 LIO-ORG,lun1\n")
        #expect(out(.multipathList)?.stderr == "prio alua failed\n")
        #expect(out(.dmsetupInfo)?.stdout == "dmsetup info -c\n")
        #expect(out(.deviceState(sdb))?.stdout == "transport-offline\n")
        #expect(out(.dmNameUUID(dm0))?.stdout == "mpatha\nmpath-36001405ae3a4a2b307ccf2a518e52df9\n")
        #expect(out(.slavesHolders(dm0))?.stdout.contains("sda\nsdb") == true)
        #expect(out(.procMounts)?.stdout == "/dev/sda1 / ext4 rw 0 0\n")
        // The too-long name reached the parser and was refused there (its state and its wwid
        // capture); the hostile one never ran.
        #expect(r.warnings.count == 2)
        #expect(r.warnings.allSatisfy { $0.contains("sdzzzzzzzzz") })
        #expect(!FileManager.default.fileExists(atPath: n.dir.appendingPathComponent("pwned").path))
        #expect(!FileManager.default.fileExists(atPath: "pwned"))
    }

    @Test func missingMultipathToolsIsExit127NotACrash() throws {
        let n = try typicalNode()
        try FileManager.default.removeItem(at: n.stubs.appendingPathComponent("multipath"))
        try FileManager.default.removeItem(at: n.stubs.appendingPathComponent("multipathd"))
        let nonce = NodeScript.newNonce()
        let r = Framing.parse(try n.run(NodeScript.discovery(nonce: nonce)), nonce: nonce)
        #expect(r.complete)
        #expect(r.outputs.first { $0.command == .multipathList }?.commandMissing == true)
        #expect(r.outputs.first { $0.command == .multipathdMapsJSON }?.commandMissing == true)
        #expect(r.outputs.first { $0.command == .dmsetupInfo }?.exitCode == 0)
    }

    @Test func probesRunTogetherAndReportEachExitCode() throws {
        let n = try typicalNode()
        // A stub `timeout` that runs its command (dropping "-s KILL S"), and a dd that fails
        // on dm-1 like an unmapped LUN and reads dm-0.
        try n.stub("timeout", "shift 3; exec \"$@\"")
        try n.stub("dd", """
            case "$1" in
            *dm-1) printf "dd: error reading '%s': Input/output error\\n0+0 records in\\n" "${1#if=}" >&2; exit 1;;
            *) printf '1+0 records in\\n1+0 records out\\n' >&2; exit 0;;
            esac
            """)
        let nonce = NodeScript.newNonce()
        let devs = [DMDeviceName("dm-0")!, DMDeviceName("dm-1")!]
        let byName = Dictionary(uniqueKeysWithValues: devs.map { (NodeCommand.probe($0, seconds: 7).captureName, NodeCommand.probe($0, seconds: 7)) })
        let r = Framing.parse(try n.run(NodeScript.probes(devs, seconds: 7, nonce: nonce)), nonce: nonce, resolve: { byName[$0] })
        #expect(r.complete)
        #expect(r.outputs.map(\.command) == devs.map { .probe($0, seconds: 7) })
        #expect(r.outputs.map(\.exitCode) == [0, 1])
        #expect(r.outputs[1].stderr.contains("Input/output error"))
        #expect(r.outputs[1].stderr.contains(n.root.path + "/dev/dm-1"))
    }
    /// Phase 1 keeps its framing in shell variables: it must send, byte for byte, what the
    /// full discovery (temp files, `wc`, `cat`) sends for the same reads, while running no
    /// program but `multipathd` (the PATH holds only the stubs folder: a `mktemp`, `cat`,
    /// `wc` or `rm` would be "not found" and the frames would be missing).
    @Test func phaseOneSendsTheFullDiscoverysBytesAndRunsOnlyMultipathd() throws {
        let n = try typicalNode()
        // Builtins only, and output whose trailing newlines a plain $(...) would strip.
        try n.stub("multipathd", #"printf '{"maps":[]}\n\n\n'"#)
        try n.file("sys/block/sdc/device/state", "running\n")
        try n.file("sys/block/sdc/device/wwid", "t10.LIO-ORG  lun2   \n")  // inner blanks kept, trailing ones not
        let nonce = NodeScript.newNonce()
        let (out1, err1) = try n.runBoth(NodeScript.phase1(nonce: nonce), path: n.stubs.path)
        let one = Framing.parse(out1, nonce: nonce, resolve: NodeScriptKind.phase1.resolver)
        #expect(one.complete)
        let full = Framing.parse(try n.run(NodeScript.discovery(nonce: nonce)), nonce: nonce)
        let expected = full.outputs.filter { PhaseOne.reads($0.command) }
        let sda = BlockDeviceName("sda")!, sdb = BlockDeviceName("sdb")!, sdc = BlockDeviceName("sdc")!
        #expect(Set(one.outputs.map(\.command)) == [.multipathdMapsJSON, .deviceState(sda), .deviceState(sdb), .deviceState(sdc),
                                                    .deviceWWID(sda), .deviceWWID(sdb), .deviceWWID(sdc)])
        func byName(_ o: [CommandOutput]) -> [String: CommandOutput] {
            Dictionary(o.map { ($0.command.captureName, $0) }, uniquingKeysWith: { a, _ in a })
        }
        // Stdout and exit code framed byte for byte alike; stderr is not framed by phase 1.
        func framed(_ o: [CommandOutput]) -> [String: String] {
            byName(o).mapValues { "\($0.exitCode.map(String.init) ?? "-") \($0.stdout)" }
        }
        #expect(framed(one.outputs) == framed(expected))
        #expect(one.outputs.allSatisfy { $0.stderr.isEmpty })
        #expect(byName(one.outputs)[NodeCommand.multipathdMapsJSON.captureName]?.stdout == "{\"maps\":[]}\n\n\n")
        #expect(byName(one.outputs)[NodeCommand.deviceWWID(sdc).captureName]?.stdout == "t10.LIO-ORG  lun2\n")
        // sdb has no wwid file: a nonzero exit in both, and the shell's complaint went to
        // the channel's stderr (which makes phase 1 a framing warning: the full discovery).
        #expect(byName(one.outputs)[NodeCommand.deviceWWID(sdb).captureName].map { $0.exitCode != 0 && $0.stdout.isEmpty } == true)
        // The missing wwid files (sdb's, and the too-long name's) are the only stderr: a program
        // the script tried to start (a `cat`, a `mktemp`) would add its "not found" here.
        let complaints = String(decoding: err1, as: UTF8.self).split(separator: "\n")
        #expect(complaints.count == 2, "\(complaints)")
        #expect(complaints.contains { $0.contains("sdb/device/wwid") })
        #expect(complaints.allSatisfy { $0.contains("/device/wwid") && !$0.contains("not found") }, "\(complaints)")
        // The too-long name is refused by the parser here too, and the hostile one never ran.
        #expect(one.warnings.count == 2 && one.warnings.allSatisfy { $0.contains("sdzzzzzzzzz") })
        #expect(!FileManager.default.fileExists(atPath: n.dir.appendingPathComponent("pwned").path))
    }

    /// multipathd's own exit code and stderr: the code is framed, the stderr is on the channel.
    @Test func phaseOneFramesMultipathdsExitCodeAndLeavesItsStderrOnTheChannel() throws {
        let n = try typicalNode()
        try FileManager.default.removeItem(at: n.root.appendingPathComponent("sys/block/sdb"))
        try FileManager.default.removeItem(at: n.root.appendingPathComponent("sys/block/sdzzzzzzzzz"))
        try n.stub("multipathd", #"printf 'partial'; printf 'multipathd: timeout receiving packet\n' >&2; exit 1"#)
        let nonce = NodeScript.newNonce()
        let (out, err) = try n.runBoth(NodeScript.phase1(nonce: nonce), path: n.stubs.path)
        let r = Framing.parse(out, nonce: nonce, resolve: NodeScriptKind.phase1.resolver)
        #expect(r.complete && r.warnings.isEmpty)
        let mpd = r.outputs.first { $0.command == .multipathdMapsJSON }
        #expect(mpd?.exitCode == 1 && mpd?.stdout == "partial" && mpd?.stderr == "")
        #expect(String(decoding: err, as: UTF8.self) == "multipathd: timeout receiving packet\n")
        #expect(r.outputs.first { $0.command == .deviceState(BlockDeviceName("sda")!) }?.stdout == "running\n")
    }

    /// A map's slaves and holders are listed with globs and printf, not one `ls` per map: the
    /// bytes, stderr and exit code must be what GNU `ls` prints for the same two folders
    /// (under LC_ALL=C, as the script runs), on its own and inside the full discovery's
    /// per-map loop; a missing or odd folder falls back to the real `ls`.
    @Test func slavesHoldersListingIsWhatLsPrints() throws {
        let n = try Node()
        let fm = FileManager.default
        func link(_ path: String, to target: String) throws {
            let u = n.root.appendingPathComponent(path)
            try fm.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: u.path, withDestinationPath: target)
        }
        // dm-0: two slaves, no holder (a residual map).
        try link("sys/block/dm-0/slaves/sdb", to: "../../sdb"); try link("sys/block/dm-0/slaves/sda", to: "../../sda")
        try n.dir("sys/block/dm-0/holders")
        // dm-1: names whose order differs between bytewise and other collations, a dot file,
        // a dangling link, a folder; a holder.
        for name in ["sdb", "sdB", "sd_1", "1x", "sdaa", "sda"] { try link("sys/block/dm-1/slaves/\(name)", to: "../../\(name)") }
        try n.file("sys/block/dm-1/slaves/.hidden", "")
        try link("sys/block/dm-1/slaves/sdgone", to: "/nonexistent/sdgone")
        try n.dir("sys/block/dm-1/slaves/sdq")
        try link("sys/block/dm-1/holders/dm-5", to: "../../dm-5")
        // dm-2: no holders folder; dm-3: nothing at all; dm-4: slaves is a file.
        try link("sys/block/dm-2/slaves/sdc", to: "../../sdc")
        try n.dir("sys/block/dm-3")
        try n.file("sys/block/dm-4/slaves", "not a folder\n"); try n.dir("sys/block/dm-4/holders")

        func sh(_ command: String, path: String = "/usr/bin:/bin") throws -> (out: String, err: String, code: Int32) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "LC_ALL=C; export LC_ALL; R=\"$FLEET_SYSROOT\"; " + command]
            p.environment = ["FLEET_SYSROOT": n.root.path, "PATH": path]
            let o = Pipe(), e = Pipe()
            p.standardOutput = o; p.standardError = e; p.standardInput = FileHandle.nullDevice
            try p.run()
            let out = o.fileHandleForReading.readDataToEndOfFile(), err = e.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self), p.terminationStatus)
        }
        let nonce = NodeScript.newNonce()
        let discovery = Framing.parse(try n.run(NodeScript.discovery(nonce: nonce)), nonce: nonce)
        for k in 0...4 {
            let dm = DMDeviceName("dm-\(k)")!
            let ls = try sh("ls \"$R/sys/block/dm-\(k)/slaves\" \"$R/sys/block/dm-\(k)/holders\"")
            let builtin = try sh(NodeCommand.slavesHolders(dm).shell)
            #expect(builtin.out == ls.out && builtin.err == ls.err && builtin.code == ls.code, "dm-\(k): \(builtin) against ls \(ls)")
            let framed = discovery.outputs.first { $0.command == .slavesHolders(dm) }
            #expect(framed?.stdout == ls.out && framed?.exitCode == ls.code && framed?.stderr == ls.err, "dm-\(k) in the discovery: \(String(describing: framed))")
        }
        // What was read from the folders (not only that the two agree): ls's order and entries.
        let root = n.root.path
        #expect(try sh(NodeCommand.slavesHolders(DMDeviceName("dm-1")!).shell).out
                == "\(root)/sys/block/dm-1/holders:\ndm-5\n\n\(root)/sys/block/dm-1/slaves:\n1x\nsdB\nsd_1\nsda\nsdaa\nsdb\nsdgone\nsdq\n")
        #expect(try sh("ls \"$R/sys/block/dm-2/slaves\" \"$R/sys/block/dm-2/holders\"").code == 2)
        // The usual case runs no program: the same bytes with nothing on PATH.
        let empty = n.dir.appendingPathComponent("empty-bin")
        try fm.createDirectory(at: empty, withIntermediateDirectories: true)
        let alone = try sh(NodeCommand.slavesHolders(DMDeviceName("dm-0")!).shell, path: empty.path)
        #expect(alone.out == "\(root)/sys/block/dm-0/holders:\n\n\(root)/sys/block/dm-0/slaves:\nsda\nsdb\n" && alone.err.isEmpty && alone.code == 0,
                "\(alone)")
    }
}
