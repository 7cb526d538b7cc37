import Testing
import FleetModel

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
}
