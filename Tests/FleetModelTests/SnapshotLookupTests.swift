import Testing
import FleetModel
import FleetTestSupport

/// The per-map look-ups of a ``NodeSnapshot`` go through indexes built once per snapshot;
/// these inputs have what a plain index would get wrong: rows sharing a name or uuid (the
/// first one counts), a map printed under each of its path disks, a map nested below
/// another device of the same map, devices without a KNAME, and mounts seen through
/// partitions, holders and path disks.
@Suite struct SnapshotLookupTests {
    static let lsblk = """
        {"blockdevices": [
          {"name": "sda", "kname": "sda", "type": "disk", "state": "running", "mountpoint": null, "children": [
            {"name": "mpatha", "kname": "dm-0", "type": "mpath", "mountpoint": "/mnt/a", "children": [
              {"name": "mpatha-part1", "kname": "dm-2", "type": "part", "mountpoint": "/mnt/a1"}]}]},
          {"name": "sdb", "kname": "sdb", "type": "disk", "state": "offline", "mountpoint": null, "children": [
            {"name": "mpatha", "kname": "dm-0", "type": "mpath", "mountpoint": "/mnt/a", "children": [
              {"name": "mpatha-part1", "kname": "dm-2", "type": "part", "mountpoint": "/mnt/a2"}]}]},
          {"name": "sdb", "kname": "sdb", "type": "disk", "state": "running", "mountpoint": null},
          {"name": "sdc", "type": "disk", "state": "blocked", "mountpoint": null, "children": [
            {"name": "mpathb", "type": "mpath", "mountpoint": "/mnt/b", "children": [
              {"name": "mpathb", "type": "lvm", "mountpoint": "/mnt/b-inner"}]}]}
        ]}
        """

    static func snapshot() -> NodeSnapshot {
        NodeSnapshot(outputs: [
            CommandOutput(command: .lsblk, stdout: lsblk),
            CommandOutput(command: .dmsetupInfo, stdout: """
                Name             Maj Min Stat Open Targ Event  UUID
                mpatha           253   0 L--w    1    1      0 mpath-3600a
                mpathz           253   9 L--w    7    1      0 mpath-3600a
                mpathb           253   1 L--w    2    1      0 mpath-3600b
                mpathb           253   5 L--w    5    1      0 part1-mpath-3600b

                """),
            CommandOutput(command: .procMounts, stdout: """
                /dev/vda1 / ext4 rw 0 0
                /dev/mapper/mpatha-part1 /data ext4 rw 0 0
                /dev/sdc /raw ext4 rw 0 0
                /dev/mapper/mpathab /other ext4 rw 0 0

                """),
        ])
    }

    static let mpatha = MultipathMap(name: "mpatha", wwid: "3600a", dm: "dm-0",
                                     pathGroups: [PathGroup(paths: [Path(dev: "sda"), Path(dev: "sdb")])])
    static let mpathb = MultipathMap(name: "mpathb", wwid: "3600b", dm: "dm-1",
                                     pathGroups: [PathGroup(paths: [Path(dev: "sdc")])])

    @Test func lsblkMountpointsTakeEveryPlaceTheMapIsPrintedAndWhatIsBelowIt() {
        let s = Self.snapshot()
        // The walk starts at the last root: mpathb's device has no KNAME, so it is found by
        // NAME; the lvm of the same name below it is its child (taken with it, not again).
        #expect(s.lsblkMountpoints(of: Self.mpathb) == ["/mnt/b", "/mnt/b-inner"])
        // dm-0 under sdb (met first: a stack), then under sda; /mnt/a once.
        #expect(s.lsblkMountpoints(of: Self.mpatha) == ["/mnt/a", "/mnt/a2", "/mnt/a1"])
    }

    @Test func firstRowWinsForEachKey() {
        let s = Self.snapshot()
        // Two rows with uuid mpath-3600a: the first (mpatha, open 1).
        #expect(s.openCount(of: Self.mpatha) == 1)
        // mpathb by uuid (not the partition's part1-mpath-3600b).
        #expect(s.openCount(of: Self.mpathb) == 2)
        // No uuid match: by name, the first mpathb row.
        var renamed = Self.mpathb
        renamed.wwid = "3600c"
        #expect(s.openCount(of: renamed) == 2)
        // lsblk's state of sdb: the first sdb root (offline); sdc has no KNAME: by NAME.
        #expect(s.lsblkState(of: BlockDeviceName("sdb")!) == .offline)
        #expect(s.lsblkState(of: BlockDeviceName("sdc")!) == .blocked)
        #expect(s.lsblkState(of: BlockDeviceName("sdd")!) == nil)
    }

    @Test func mountsThroughPartitionsAndPathDisks() {
        let s = Self.snapshot()
        // mpatha-part1 is a partition of mpatha; mpathab is another map, not a partition.
        #expect(s.mounts(of: Self.mpatha)?.map(\.mountpoint) == ["/data"])
        // /dev/sdc is mpathb's path disk.
        #expect(s.mounts(of: Self.mpathb)?.map(\.mountpoint) == ["/raw"])
    }

    /// Openers are found through an index of where each device is open; an opener keeps its
    /// fds on the map's devices and path disks in its own fd order, openers stay in capture
    /// order, and fds on other devices are left out.
    @Test func openersKeepCaptureOrderThroughTheDeviceIndex() throws {
        let s = NodeSnapshot(outputs: [CommandOutput(command: .procFDLinks, stdout: """
            10 3 /dev/sdb
            20 7 /dev/dm-9
            10 4 /dev/sdz
            30 1 /dev/dm-0
            10 5 /dev/mapper/mpatha
            10 6 /dev/sda (deleted)

            """)])
        let openers = try #require(s.openers(of: Self.mpatha))
        // pid 10 first (its first link comes first), with fds 3 (sdb), 5 (mpatha), 6 (sda);
        // pid 20 holds only dm-9; pid 30 holds dm-0.
        #expect(openers.map(\.pid) == [10, 30])
        #expect(openers.first?.fds.map(\.fd) == [3, 5, 6])
        #expect(openers.last?.fds.map(\.target) == ["/dev/dm-0"])
        #expect(s.openers(of: Self.mpathb)?.isEmpty == true)
    }

    /// On every real capture with openers, each map's openers are what filtering every
    /// opener's fds by the map's device names gives.
    @Test func openersOnEveryRealCaptureAreTheFilteredFDs() throws {
        var maps = 0
        for state in try Fixtures.realStates() {
            let s = NodeSnapshot(outputs: try Fixtures.realOutputs(state))
            guard let all = s.openersCapture?.openers else { continue }
            for m in s.maps {
                let names = Set([m.dm, m.name].compactMap { $0 } + m.paths.compactMap(\.dev))
                let expected: [Opener] = all.compactMap { o in
                    var mine = o
                    mine.fds = o.fds.filter { names.contains($0.device) }
                    return mine.fds.isEmpty ? nil : mine
                }
                #expect(s.openers(of: m) == expected, "\(state) \(m.name ?? "?")")
                maps += 1
            }
        }
        #expect(maps > 0)
    }
}
