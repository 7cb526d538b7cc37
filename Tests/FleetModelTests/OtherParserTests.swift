import Testing
import FleetModel
import FleetTestSupport

@Suite struct OtherParserTests {
    @Test func multipathdJSONQueueing() throws {
        let r = MultipathdJSONParser.parse(try Fixtures.real("residual-retry-queueing", "multipathd-show-maps-json.txt"))
        #expect(r.warnings.isEmpty)
        let b = try #require(r.value.first { $0.name == "mpathb" })
        #expect(b.wwid == lun3)
        #expect(b.dm == "dm-0")
        #expect(b.queueing == "39 sec")
        #expect(b.paths.map(\.dev) == ["sde", "sdb"] || b.paths.map(\.dev) == ["sdb", "sde"])
        #expect(b.paths.allSatisfy { $0.dmState == "failed" })
        #expect(QueueingState(b.queueing!) == .retrying("39 sec"))
        let hung = MultipathdJSONParser.parse(try Fixtures.real("hung", "multipathd-show-maps-json.txt")).value
        #expect(hung.first { $0.name == "mpathc" }?.queueing == "on")
        #expect(hung.first { $0.name == "mpatha" }?.queueing == "12 chk")
        let expired = MultipathdJSONParser.parse(try Fixtures.real("residual-retry-expired", "multipathd-show-maps-json.txt")).value
        #expect(expired.first { $0.name == "mpathb" }?.queueing == "off")
        #expect(QueueingState("off") == .off)
        #expect(QueueingState("on") == .on)
        #expect(QueueingState("12 chk") == .retrying("12 chk"))
        #expect(QueueingState("-") == .unknown("-"))
    }

    @Test func multipathdNotJSON() {
        let r = MultipathdJSONParser.parse("timeout receiving packet\n")
        #expect(r.value.isEmpty)
        #expect(r.warnings.count == 1)
        #expect(MultipathdJSONParser.parse(String(repeating: "[", count: 100_000)).warnings.count == 1)
    }

    @Test func dmsetupInfo() throws {
        let r = DmsetupInfoParser.parse(try Fixtures.real("cleanup-hung", "dmsetup-info-c-map.txt"))
        #expect(r.warnings.isEmpty)
        #expect(r.value == [DMInfoRow(name: "mpathc", major: 253, minor: 2, stat: "L--w", openCount: 1, targets: 1, events: 2,
                                      uuid: "mpath-" + lun2)])
        #expect(r.value[0].dm == DMDeviceName("dm-2"))
        let all = DmsetupInfoParser.parse(try Fixtures.real("residual", "dmsetup-info-c.txt"))
        #expect(all.value.map(\.name) == ["mpatha", "mpathb", "mpathc", "mpathd"])
        #expect(all.value.map(\.openCount) == [0, 0, 0, 0])
        #expect(DmsetupInfoParser.parse("No devices found\n").value.isEmpty)
    }

    @Test func dmsetupStatus() throws {
        let r = DmsetupStatusParser.parse(try Fixtures.real("residual", "dmsetup-status.txt"))
        #expect(r.warnings.isEmpty)
        let a = try #require(r.value.first)
        #expect(a.name == "mpatha")
        #expect(a.target == "multipath")
        #expect(a.featureArgs == ["0", "1"])
        #expect(a.paths == [DMStatusPath(majorMinor: "8:96", active: false, failCount: 1),
                            DMStatusPath(majorMinor: "8:112", active: false, failCount: 1)])
        #expect(r.value[1].paths?.allSatisfy(\.active) == true)
        let cut = DmsetupStatusParser.parse("mpatha: 0 2097152 multipath 2 0 1 0 1 1 A 0 2 2 8:96 F\n")
        #expect(cut.value.first?.paths == nil)
        #expect(cut.warnings.count == 1)
        let linear = DmsetupStatusParser.parse("vg-root: 0 41934848 linear \n")
        #expect(linear.value.first?.target == "linear")
        #expect(linear.warnings.isEmpty)
    }

    @Test func lsblkTree() throws {
        let r = LsblkParser.parse(try Fixtures.real("residual", "lsblk-json.txt"))
        #expect(r.warnings.isEmpty)
        let sdg = try #require(r.value.first { $0.name == "sdg" })
        #expect(sdg.hctl == "6:0:0:1")
        #expect(sdg.wwn == "0x6001405ae3a4a2b307ccf2a518e52df9")
        #expect(sdg.children.map(\.kname) == ["dm-0"])
        #expect(sdg.children.first?.type == "mpath")
        let mounted = LsblkParser.parse("""
        {"blockdevices": [{"name":"sdb","kname":"sdb","type":"disk","size":"1G","wwn":null,"hctl":"1:0:0:1","state":"running","mountpoint":null,"pkname":null,
          "children":[{"name":"mpathb","kname":"dm-1","type":"mpath","size":"1G","wwn":null,"hctl":null,"state":"running","mountpoint":"/var/lib/kubelet/pods/x/mount","pkname":"sdb"}]}]}
        """)
        #expect(mounted.value[0].flattened.flatMap(\.mountpoints) == ["/var/lib/kubelet/pods/x/mount"])
    }

    @Test func sysBlockListing() throws {
        let r = SymlinkListingParser.parse(try Fixtures.real("residual", "ls-sys-block.txt"))
        #expect(r.warnings.isEmpty)
        let sdg = try #require(r.value.first { $0.name == "sdg" })
        #expect(sdg.hctl == "6:0:0:1")
        #expect(r.value.filter { $0.name.hasPrefix("dm-") }.map(\.name) == ["dm-0", "dm-1", "dm-2", "dm-3"])
        let ids = SymlinkListingParser.parse(try Fixtures.real("residual", "ls-dev-disk-by-id.txt"))
        #expect(ids.warnings.isEmpty)
        #expect(ids.value.first { $0.name == "dm-uuid-mpath-" + lun1 }?.targetBase == "dm-0")
        let after = SymlinkListingParser.parse(try Fixtures.real("after-cleanup", "ls-sys-block.txt")).value
        #expect(!after.contains { $0.name == "sdg" || $0.name == "sdh" || $0.name == "dm-0" })
    }

    @Test func procMountsBindAndEscapes() {
        let text = """
        /dev/vda1 / ext4 rw,relatime 0 0
        /dev/mapper/mpatha /var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-1/globalmount ext4 rw,relatime 0 0
        /dev/mapper/mpatha /var/lib/kubelet/pods/abc/volumes/kubernetes.io~csi/pvc-1/mount ext4 rw,relatime 0 0
        /dev/dm-3 /mnt/with\\040space xfs rw 0 0
        broken
        """
        let r = ProcMountsParser.parse(text)
        #expect(r.value.filter { $0.source == "/dev/mapper/mpatha" }.count == 2)
        #expect(r.value[3].mountpoint == "/mnt/with space")
        #expect(r.warnings.map(\.line) == [5])
        #expect(ProcMountsParser.parse("a /b\\134c\\011 t o 0 0").value[0].mountpoint == "/b\\c\t")
        #expect(ProcMountsParser.parse("a /b\\04 t o 0 0").value[0].mountpoint == "/b\\04")
    }

    @Test func slavesHolders() throws {
        let r = SlavesHoldersParser.parse(try Fixtures.real("residual", "sys-block-dm-0-slaves-holders.txt"))
        #expect(r.warnings.isEmpty)
        #expect(r.value == SlavesHolders(slaves: ["sdg", "sdh"], holders: []))
        let withHolder = SlavesHoldersParser.parse("/tmp/farm/n1/sys/block/dm-4/holders:\ndm-5\n\n/tmp/farm/n1/sys/block/dm-4/slaves:\nsdb\nsdc\n")
        #expect(withHolder.value == SlavesHolders(slaves: ["sdb", "sdc"], holders: ["dm-5"]))
        #expect(SlavesHoldersParser.parse("").value == SlavesHolders(slaves: nil, holders: nil))
    }

    @Test func nameUUIDAndDeviceState() throws {
        let r = DMNameUUIDParser.parse(try Fixtures.real("residual", "sys-block-dm-0-dm-name-uuid.txt"))
        #expect(r.value.name == "mpatha")
        #expect(r.value.wwid == lun1)
        #expect(r.warnings.isEmpty)
        #expect(DeviceStateParser.parse(try Fixtures.real("portal-down-recovering", "sys-block-sdh-device-state.txt")).value == "transport-offline")
        #expect(DeviceStateParser.parse(try Fixtures.real("residual", "sys-block-sdg-device-state.txt")).value == "running")
        #expect(DeviceStateParser.parse("").value == nil)
        #expect(DeviceStateParser.parse("rm -rf /\n").value == nil)
    }

    @Test func probeOutcomes() throws {
        #expect(ProbeParser.parse(stderr: try Fixtures.real("residual", "dd-dm-0.stderr.txt"), exitCode: 1).outcome == .ioError)
        #expect(ProbeParser.parse(stderr: try Fixtures.real("residual", "dd-dm-1.stderr.txt"), exitCode: 0).outcome == .readOK)
        #expect(ProbeParser.parse(stderr: try Fixtures.real("hung", "dd-dm-2.stderr.txt"), exitCode: 137).outcome == .hung)
        #expect(ProbeParser.parse(stderr: "", exitCode: nil).outcome == .hung)
        #expect(ProbeParser.parse(stderr: "dd: failed to open '/dev/dm-9': No such file or directory\n", exitCode: 1).outcome == .otherError)
        #expect(ProbeParser.parse(stderr: "sh: 1: timeout: not found\n", exitCode: 127).outcome == .otherError)
        #expect(ProbeParser.parse(stderr: "0+0 records in\n0+0 records out\n0 bytes copied\n", exitCode: 0).outcome == .otherError)
    }

    @Test func psStuckDD() throws {
        let rows = PsParser.parse(try Fixtures.real("hung", "ps-dd-wchan.txt"))
        #expect(rows.warnings.isEmpty)
        #expect(rows.value == [ProcessRow(pid: 8410, ppid: 1, stat: "D", wchan: "submit_bio_wait", etime: "00:17",
                                          cmd: "dd if=/dev/dm-2 of=/dev/null count=1 bs=1M iflag=direct")])
        #expect(rows.value[0].isUninterruptible)
        let text = """
            PID    PPID STAT WCHAN                            ELAPSED CMD
              1       0 Ss   -                                  01:00 /sbin/init
            900       1 D    submit_bio_wait                    00:17 dd if=/tmp/farm/node7/dev/dm-2 of=/dev/null count=1 bs=1M iflag=direct
            901       1 D    submit_bio_wait                    00:17 dd if=/dev/dm-21 of=/dev/null count=1 bs=1M iflag=direct
            902     900 S    -                                  00:17 timeout -s KILL 15 dd if=/dev/dm-2 of=/dev/null
            903       1 D    -                                  00:10 /usr/bin/dd of=/dev/null if=/dev/dm-2
            904       1 S    -                                  00:10 grep dd if=/dev/dm-2
        """
        let all = PsParser.parse(text)
        #expect(all.warnings.isEmpty)
        #expect(PsParser.ddProcesses(reading: DMDeviceName("dm-2")!, in: all.value).map(\.pid) == [900, 903])
        #expect(PsParser.ddProcesses(reading: DMDeviceName("dm-21")!, in: all.value).map(\.pid) == [901])
    }
}
