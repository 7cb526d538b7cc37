import Testing
import FleetModel

/// What a dry run prints and the audit records: each command as an operator would type it on
/// a real node (the vendor document's spelling), and what the node-side script really runs.
@Suite struct NodeCommandTests {
    static let sdi = BlockDeviceName("sdi")!, dm12 = DMDeviceName("dm-12")!, mpathb = MapName("mpathb")!

    @Test func displayIsWhatAnOperatorTypes() {
        let expected: [(NodeCommand, String)] = [
            (.multipathList, "multipath -ll"),
            (.sysBlockListing, "ls -l /sys/block/"),
            (.diskByIDListing, "ls -l /dev/disk/by-id/"),
            (.procMounts, "cat /proc/mounts"),
            (.mountInfo, "cat /proc/self/mountinfo"),
            (.deviceState(Self.sdi), "cat /sys/block/sdi/device/state"),
            (.slavesHolders(Self.dm12), "ls /sys/block/dm-12/slaves /sys/block/dm-12/holders"),
            (.dmNameUUID(Self.dm12), "cat /sys/block/dm-12/dm/name /sys/block/dm-12/dm/uuid"),
            (.probe(Self.dm12, seconds: 15), "timeout -s KILL 15 dd if=/dev/dm-12 of=/dev/null count=1 bs=1M iflag=direct"),
            (.killProcess(ProcessID("21725")!), "kill -9 21725"),
            (.disableQueueing(Self.mpathb), "dmsetup message mpathb 0 fail_if_no_path"),
            (.flushMap(Self.mpathb), "multipath -f mpathb"),
            (.flushBuffers(Self.sdi), "blockdev --flushbufs /dev/sdi"),
            (.deleteSCSIDevice(Self.sdi), "echo 1 > /sys/block/sdi/device/delete"),
        ]
        for (command, text) in expected {
            #expect(command.display == text)
        }
    }

    /// The per-disk and per-map sysfs reads start no process (a node with 50 maps has 100–200
    /// of them): the `read` builtin, shown as the `cat` an operator would type, which prints
    /// the same bytes (DiscoveryScriptTests runs both forms under a real sh).
    @Test func sysfsReadsAreBuiltinsShownAsCat() {
        #expect(NodeCommand.deviceState(Self.sdi).shell
                == "read -r w0 < \"$R/sys/block/\"'sdi'/device/state && printf '%s\\n' \"$w0\"")
        #expect(NodeCommand.dmNameUUID(Self.dm12).shell
                == "read -r w0 < \"$R/sys/block/\"'dm-12'/dm/name && read -r w1 < \"$R/sys/block/\"'dm-12'/dm/uuid && printf '%s\\n%s\\n' \"$w0\" \"$w1\"")
        #expect(NodeCommand.deviceWWID(Self.sdi).display == "cat /sys/block/sdi/device/wwid")
        #expect(NodeCommand.procMounts.sysfsLines.isEmpty)
    }

    @Test func shellReadsTheSysrootAndQuotesEveryName() {
        #expect(NodeCommand.procMounts.shell == "cat \"$R/proc/mounts\"")
        #expect(NodeCommand.deleteSCSIDevice(Self.sdi).shell == "echo 1 > \"$R/sys/block/\"'sdi'/device/delete")
        #expect(NodeCommand.flushMap(Self.mpathb).shell == "multipath -f 'mpathb'")
    }

    @Test func namesThatCouldBreakOutAreRejectedBeforeAnyCommand() {
        #expect(BlockDeviceName("sdq;touch pwned") == nil)
        #expect(BlockDeviceName("sda1") == nil)
        #expect(DMDeviceName("dm-1 ") == nil)
        #expect(MapName("-f") == nil)
        #expect(MapName("mpath b") == nil)
        #expect(MapName("a'b") == nil)
        #expect(ProcessID("1") == nil)
    }
}
