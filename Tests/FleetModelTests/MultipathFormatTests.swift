import Foundation
import Testing
import FleetModel
import FleetTestSupport

/// The vendor document's samples (fixtures/vendor, one file per sample) and hand-written
/// samples of each format case.
@Suite struct MultipathFormatTests {
    @Test func vendorResidualSample() throws {
        let r = MultipathParser.parse(try Fixtures.vendor("step-1.1-multipath-ll-residual.txt"))
        #expect(r.warnings.isEmpty)
        let m = try #require(r.maps.first)
        #expect(r.maps.count == 1)
        #expect(m.name == "mpathb")
        #expect(m.wwid == "3618cf24100f8f457014a764c000001f6")
        #expect(m.dm == "dm-12")
        #expect(m.vendor == "HUAWEI")  // printed padded: `HUAWEI  ,XSG1            `
        #expect(m.product == "XSG1")
        #expect(m.size == "100G")
        #expect(m.hwhandler == "0")
        #expect(m.pathGroups.first?.prio == -1)
        #expect(m.paths.map(\.dev) == ["sdi", "sdj"])
        #expect(m.paths.map(\.hctl) == ["39:0:0:1", "38:0:0:1"])
        #expect(m.paths.allSatisfy { $0.dmState == "failed" && $0.checkerState == "faulty" && $0.deviceState == "running" })
    }

    @Test func vendorAfterCleanupSample() throws {
        let r = MultipathParser.parse(try Fixtures.vendor("step-2.3-multipath-ll-after.txt"))
        #expect(r.warnings.isEmpty)
        #expect(r.maps.map(\.name) == ["mpathb", "mpathn"])
        #expect(r.maps.map(\.dm) == ["dm-3", "dm-5"])
        #expect(r.maps[1].wwid == "3618cf24100f8f457315a764c000001f6")
        #expect(r.maps[1].paths.map(\.dev) == ["sdc", "sdb"])
        #expect(r.maps.allSatisfy { $0.paths.allSatisfy { $0.dmState == "active" } })
    }

    @Test func vendorSysBlockAndByID() throws {
        let sys = SymlinkListingParser.parse(try Fixtures.vendor("step-2.3-ls-sys-block-after.txt"))
        #expect(sys.warnings.isEmpty)
        #expect(sys.value.map(\.name) == ["dm-0", "dm-1", "dm-2", "dm-3", "sdb", "sdc", "sdd", "sde", "sdh", "sdi"])
        #expect(sys.value[4].hctl == "35:0:0:1")
        #expect(sys.value[5].hctl == "34:65535:5692:0")
        #expect(sys.value[0].hctl == nil)
        let byID = SymlinkListingParser.parse(try Fixtures.vendor("step-2.3-ls-dev-disk-by-id-after.txt"))
        #expect(byID.warnings.isEmpty)
        #expect(byID.value.count == 12)
        #expect(byID.value.first { $0.name == "dm-uuid-mpath-3618cf24100f8f457315a764c000001f6" }?.targetBase == "dm-5")
        #expect(byID.value.last?.targetBase == "sdc")
    }

    /// A name of several words is kept with single spaces between them (one-word names take
    /// a shorter path); a line whose first field is not a link's, or with fewer fields, is a warning.
    @Test func symlinkNamesOfSeveralWords() {
        let r = SymlinkListingParser.parse("""
            total 0
            lrwxrwxrwx 1 root root 0 Nov 29 17:07 dm-0 -> ../devices/virtual/block/dm-0
            lrwxrwxrwx 1 root root 0 Nov 29 17:07 odd   name -> ../../sdb
            -rw-r--r-- 1 root root 0 Nov 29 17:07 file -> x
            lrwxrwxrwx 1 root root 0 Nov 29 17:07 -> ../../sdc

            """)
        #expect(r.value == [SymlinkEntry(name: "dm-0", target: "../devices/virtual/block/dm-0"),
                            SymlinkEntry(name: "odd name", target: "../../sdb")])
        #expect(r.warnings.map(\.line) == [4, 5])
    }

    @Test func vendorProbeSample() throws {
        let p = ProbeParser.parse(stderr: try Fixtures.vendor("step-1.2-dd-io-error.stderr.txt"), exitCode: 1)
        #expect(p.outcome == .ioError)
    }

    @Test func vendorPsSample() throws {
        let line = "root     21725  9748  0 10:33 pts/10   00:00:00 dd if=/dev/dm-12 of=/dev/null count=1 bs=10M iflag=direct"
        #expect(try Fixtures.vendor("step-1.3-ps-ef-dd.txt") == line + "\n")
        // The vendor uses `ps -ef`; fleet runs `ps -eo pid,ppid,stat,wchan:32,etime,cmd`.
        let rows = PsParser.parse("  21725  9748 D    submit_bio_wait  00:17 dd if=/dev/dm-12 of=/dev/null count=1 bs=10M iflag=direct\n").value
        #expect(PsParser.ddProcesses(reading: DMDeviceName("dm-12")!, in: rows).map(\.pid) == [21725])
        #expect(PsParser.ddProcesses(reading: DMDeviceName("dm-1")!, in: rows).isEmpty)
    }

    // MARK: - 0.4.x bracket format

    @Test func bracketFormat048() {
        let text = """
        mpath0 (3600a0b800011a1ee0000e8f54bbf1a0e) dm-0 IBM,1815      FAStT
        [size=20G][features=1 queue_if_no_path][hwhandler=1 rdac][rw]
        \\_ round-robin 0 [prio=0][enabled]
         \\_ 2:0:0:0 sdb 8:16  [active][ghost]
        \\_ round-robin 0 [prio=6][active]
         \\_ 1:0:0:0 sda 8:0   [active][ready]
        """
        let r = MultipathParser.parse(text)
        #expect(r.warnings.isEmpty)
        let m = r.maps[0]
        #expect(m.name == "mpath0")
        #expect(m.product == "1815      FAStT")
        #expect(m.size == "20G")
        #expect(m.features == "1 queue_if_no_path")
        #expect(m.hwhandler == "1 rdac")
        #expect(m.wp == "rw")
        #expect(m.pathGroups.map(\.policy) == ["round-robin 0", "round-robin 0"])
        #expect(m.pathGroups.map(\.prio) == [0, 6])
        #expect(m.pathGroups.map(\.status) == ["enabled", "active"])  // the active group is second
        #expect(m.pathGroups[0].paths[0].checkerState == "ghost")
        #expect(m.pathGroups[1].paths[0].dev == "sda")
        #expect(m.pathGroups[1].paths[0].dmState == "active")
        #expect(m.pathGroups[1].paths[0].deviceState == nil)
    }

    @Test func bracketFormat045NoDM() {
        let text = """
        mpath1 (3600508b4001059f40000600002a00000)
        [size=10 GB][features="0"][hwhandler="0"]
        \\_ round-robin 0 [active]
         \\_ 0:0:0:1 sda 8:0   [failed][faulty]
         \\_ 1:0:0:1 sdc 8:32  [failed][faulty]
        """
        let r = MultipathParser.parse(text)
        #expect(r.warnings.isEmpty)
        let m = r.maps[0]
        #expect(m.dm == nil)
        #expect(m.vendor == nil)
        #expect(m.size == "10 GB")
        #expect(m.features == "0")
        #expect(m.pathGroups[0].prio == nil)
        #expect(m.pathGroups[0].status == "active")
        #expect(m.paths.map(\.dmState) == ["failed", "failed"])
        #expect(m.paths.map(\.checkerState) == ["faulty", "faulty"])
    }

    // MARK: - tree format cases

    @Test func wwidNamedMapNoAlias() {
        let text = """
        3600508b400105e210000900000490000 dm-1 HP,HSV210
        size=50G features='1 queue_if_no_path' hwhandler='0' wp=rw
        `-+- policy='round-robin 0' prio=1 status=active
          `- 0:0:0:1 sda 8:0 active ready running
        """
        let m = MultipathParser.parse(text).maps[0]
        #expect(m.name == "3600508b400105e210000900000490000")
        #expect(m.wwid == "3600508b400105e210000900000490000")
        #expect(m.dm == "dm-1")
        #expect(m.vendor == "HP")
    }

    @Test func severalGroupsActiveNotFirstAndSpacesInProduct() {
        let text = """
        data01 (360060e80166b8b0000016b8b00000012) dm-4 NETAPP  ,LUN C-Mode
        size=2.0T features='3 queue_if_no_path pg_init_retries 50' hwhandler='1 alua' wp=rw
        |-+- policy='service-time 0' prio=10 status=enabled
        | |- 3:0:1:4 sdm 8:192 active ready running
        | `- 4:0:1:4 sdq 65:0  active ready running
        `-+- policy='service-time 0' prio=50 status=active
          |- 3:0:0:4 sdk 8:160 active ready running
          `- 4:0:0:4 sdo 8:224 active ready running
        """
        let r = MultipathParser.parse(text)
        #expect(r.warnings.isEmpty)
        let m = r.maps[0]
        #expect(m.vendor == "NETAPP")
        #expect(m.product == "LUN C-Mode")
        #expect(m.features == "3 queue_if_no_path pg_init_retries 50")
        #expect(m.pathGroups.map(\.status) == ["enabled", "active"])
        #expect(m.pathGroups.map { $0.paths.map { $0.dev! } } == [["sdm", "sdq"], ["sdk", "sdo"]])
        #expect(m.pathGroups[0].paths[1].majorMinor == "65:0")
    }

    @Test func zeroPathsAndNoVendor() {
        let text = """
        mpathz (36001405deadbeef0000000000000000) dm-7 ##,##
        size=10G features='0' hwhandler='0' wp=rw
        mpathy (36001405deadbeef0000000000000001) dm-8
        size=10G features='0' hwhandler='0' wp=rw
        """
        let r = MultipathParser.parse(text)
        #expect(r.warnings.isEmpty)
        #expect(r.maps.map(\.name) == ["mpathz", "mpathy"])
        #expect(r.maps.allSatisfy { $0.paths.isEmpty && $0.vendor == nil && $0.product == nil })
        #expect(r.maps.map(\.line) == [1, 3])
    }

    @Test func orphanPlaceholderPaths() {
        let text = """
        mpatha (36001405ae3a4a2b307ccf2a518e52df9) dm-0 LIO-ORG,lun1
        size=1.0G features='0' hwhandler='1 alua' wp=rw
        `-+- policy='service-time 0' prio=0 status=enabled
          |- #:#:#:# -   #:#   active faulty running
          `- 7:0:0:1 sdh 8:112 failed faulty running
        """
        let m = MultipathParser.parse(text).maps[0]
        #expect(m.paths[0].hctl == "#:#:#:#")
        #expect(m.paths[0].dev == nil)
        #expect(m.paths[0].majorMinor == nil)
        #expect(m.paths[0].dmState == "active")
        #expect(m.paths[1].dev == "sdh")
    }

    @Test func nvmeForeignRows() {
        let text = """
        uuid.3b3f7f3c-2c3a-4f5c-9e2e-1f2a3b4c5d6e [nvme]:nvme0n1 NVMe,Linux,5.15.0
        size=2097152 features='n/a' hwhandler='ANA' wp=rw
        |-+- policy='n/a' prio=50 status=optimized
        | `- 0:1:1 nvme0c0n1 0:0 n/a optimized live
        `-+- policy='n/a' prio=10 status=non-optimized
          `- 0:2:1 nvme0c2n1 0:0 n/a non-optimized live
        """
        let r = MultipathParser.parse(text)
        #expect(r.warnings.isEmpty)
        let m = r.maps[0]
        #expect(m.wwid == "uuid.3b3f7f3c-2c3a-4f5c-9e2e-1f2a3b4c5d6e")
        #expect(m.dm == nil)
        #expect(m.vendor == "NVMe")
        #expect(m.product == "Linux")
        #expect(m.paths.map(\.dev) == ["nvme0c0n1", "nvme0c2n1"])
        #expect(m.paths.map(\.dmState) == ["n/a", "n/a"])
        #expect(m.paths.map(\.checkerState) == ["optimized", "non-optimized"])
        #expect(m.paths.map(\.deviceState) == ["live", "live"])
    }

    @Test func everyStateWord() {
        let rows: [(String, String?, String?, String?)] = [
            ("active ready running", "active", "ready", "running"),
            ("failed faulty offline", "failed", "faulty", "offline"),
            ("failed faulty blocked", "failed", "faulty", "blocked"),
            ("failed faulty transport-offline", "failed", "faulty", "transport-offline"),
            ("active ghost running", "active", "ghost", "running"),
            ("active shaky running", "active", "shaky", "running"),
            ("failed undef unknown", "failed", "undef", "unknown"),
            ("active i/o pending running", "active", "i/o pending", "running"),
            ("active i/o pending", "active", "i/o pending", nil),
            ("undef undef running", "undef", "undef", "running"),
            ("active delayed running", "active", "delayed", "running"),
        ]
        for (states, dm, chk, dev) in rows {
            let text = "m (3600a) dm-1 V,P\nsize=1G features='0' hwhandler='0' wp=rw\n`-+- policy='round-robin 0' prio=1 status=enabled\n  `- 1:0:0:1 sdb 8:16 \(states)\n"
            let p = MultipathParser.parse(text).maps[0].paths[0]
            #expect(p.dmState?.rawValue == dm, "\(states)")
            #expect(p.checkerState?.rawValue == chk, "\(states)")
            #expect(p.deviceState?.rawValue == dev, "\(states)")
        }
    }

    @Test func logLinesBeforeBetweenAfterAndNoFinalNewline() {
        let text = """
        Jul 16 10:00:00 | sdd: alua not supported
        2327.197855 | sdg: prio = const (setting: emergency fallback - alua failed)
        mpatha (36001405ae3a4a2b307ccf2a518e52df9) dm-0 LIO-ORG,lun1
        size=1.0G features='0' hwhandler='1 alua' wp=rw
        Jul 16 10:00:01 | sdh: alua not supported
        `-+- policy='service-time 0' prio=0 status=active
          |- 6:0:0:1 sdg 8:96  failed faulty running
          `- 7:0:0:1 sdh 8:112 failed faulty running
        DM multipath kernel driver not loaded
        mpathb (360014052df940906efa8efc931101de3) dm-1 LIO-ORG,lun3
        size=1.0G features='1 queue_if_no_path' hwhandler='1 alua' wp=rw
        `-+- policy='service-time 0' prio=50 status=active
          `- 6:0:0:3 sde 8:64 active ready running
        Jul 16 10:00:02 | unloading const prioritizer
        """
        let r = MultipathParser.parse(text)
        #expect(r.maps.map(\.name) == ["mpatha", "mpathb"])
        #expect(r.maps[0].paths.count == 2)
        #expect(r.maps[1].paths.map(\.dev) == ["sde"])
        #expect(r.maps[1].line == 10)
        #expect(r.warnings.map(\.line) == [1, 2, 5, 9, 14])
        #expect(r.warnings[3].text == "DM multipath kernel driver not loaded")
    }

    @Test func crlfLines() {
        let text = "mpatha (3600a) dm-0 LIO-ORG,lun1\r\nsize=1.0G features='0' hwhandler='0' wp=rw\r\n`-+- policy='service-time 0' prio=0 status=active\r\n  `- 6:0:0:1 sdg 8:96 failed faulty running\r\n"
        let r = MultipathParser.parse(text)
        #expect(r.warnings.isEmpty)
        #expect(r.maps[0].vendor == "LIO-ORG")
        #expect(r.maps[0].product == "lun1")
        #expect(r.maps[0].paths[0].deviceState == "running")
    }

    @Test func verboseDumpPathsListIsNotMapPaths() {
        let text = """
        Jul 16 10:00:00 | set open fds limit to 1048576/1048576
        Jul 16 10:00:00 | loading /lib/x86_64-linux-gnu/multipath/libchecktur.so checker
        ===== paths list =====
        uuid                              hcil    dev dev_t pri dm_st  chk_st vend/prod/rev dev_st
        36001405ae3a4a2b307ccf2a518e52df9 6:0:0:1 sdg 8:96  0   undef  undef  LIO-ORG,lun1  unknown
                                          7:0:0:1 sdh 8:112 0   undef  undef  LIO-ORG,lun1  unknown
        Jul 16 10:00:00 | mpatha: disassemble map [1 queue_if_no_path 1 alua 1 1 service-time 0 2 1 8:96 1 8:112 1 ]
        Jul 16 10:00:00 | mpatha: disassemble status [2 0 1 0 1 1 A 0 2 2 8:96 F 1 0 1 8:112 F 1 0 1 ]
        mpatha (36001405ae3a4a2b307ccf2a518e52df9) dm-0 LIO-ORG,lun1
        size=1.0G features='0' hwhandler='1 alua' wp=rw
        `-+- policy='service-time 0' prio=0 status=active
          |- 6:0:0:1 sdg 8:96  failed faulty running
          `- 7:0:0:1 sdh 8:112 failed faulty running
        """
        let r = MultipathParser.parse(text)
        #expect(r.maps.count == 1)
        #expect(r.maps[0].paths.map(\.dev) == ["sdg", "sdh"])
        #expect(!r.warnings.contains { $0.line >= 3 && $0.line <= 6 })
        #expect(r.warnings.map(\.line) == [1, 2, 7, 8])
    }

    @Test func actionPrefixedHeader() {
        let text = """
        create: mpatha (36001405ae3a4a2b307ccf2a518e52df9) undef LIO-ORG,lun1
        size=1.0G features='0' hwhandler='1 alua' wp=undef
        `-+- policy='service-time 0' prio=50 status=undef
          `- 6:0:0:1 sdg 8:96 undef ready running
        """
        let m = MultipathParser.parse(text).maps[0]
        #expect(m.name == "mpatha")
        #expect(m.dm == nil)
        #expect(m.vendor == "LIO-ORG")
        #expect(m.wp == "undef")
    }

    @Test func garbageIsWarningsNotMaps() {
        let r = MultipathParser.parse("hello world\n  |- 6:0:0:1 sdg 8:96 failed faulty running\nsize=1G\n\n")
        #expect(r.maps.isEmpty)
        #expect(r.warnings.map(\.line) == [1, 2, 3])
        #expect(MultipathParser.parse("").maps.isEmpty)
    }
}
