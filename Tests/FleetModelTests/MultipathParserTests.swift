import Testing
import FleetModel
import FleetTestSupport

/// Hand-written expectations: one per map, written from reading the capture and the
/// state's _lab-luns.txt.
struct ExpectedMap {
    var name: String
    var wwid: String
    var dm: String
    /// dev -> "dm checker device"
    var paths: [(String, String)]
}

let lun0 = "36001405066467663edf050e13a29b6dd"
let lun1 = "36001405ae3a4a2b307ccf2a518e52df9"
let lun2 = "360014058be0b4a9a2035d5c98c88bafe"
let lun3 = "360014052df940906efa8efc931101de3"
let up = "active ready running"
let dead = "failed faulty running"

/// multipath -ll of each state (map order as printed).
let expectedMultipath: [String: [ExpectedMap]] = [
    "healthy": [
        ExpectedMap(name: "mpatha", wwid: lun1, dm: "dm-0", paths: [("sdg", up), ("sdh", up)]),
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-1", paths: [("sdc", up), ("sde", up)]),
        ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-2", paths: [("sdf", up), ("sdd", up)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-3", paths: [("sdb", up), ("sda", up)]),
    ],
    "residual": [
        ExpectedMap(name: "mpatha", wwid: lun1, dm: "dm-0", paths: [("sdg", dead), ("sdh", dead)]),
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-1", paths: [("sdc", up), ("sde", up)]),
        ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-2", paths: [("sdf", up), ("sdd", up)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-3", paths: [("sdb", up), ("sda", up)]),
    ],
    "after-cleanup": [
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-1", paths: [("sdc", up), ("sde", up)]),
        ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-2", paths: [("sdf", up), ("sdd", up)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-3", paths: [("sdb", up), ("sda", up)]),
    ],
    "hung": [
        ExpectedMap(name: "mpatha", wwid: lun1, dm: "dm-0", paths: [("sdg", up), ("sdh", up)]),
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-1", paths: [("sdc", up), ("sde", up)]),
        ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-2", paths: [("sdf", dead), ("sdd", dead)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-3", paths: [("sdb", up), ("sda", up)]),
    ],
    "after-cleanup-hung": [
        ExpectedMap(name: "mpatha", wwid: lun1, dm: "dm-0", paths: [("sdg", up), ("sdh", up)]),
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-1", paths: [("sdc", up), ("sde", up)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-3", paths: [("sdb", up), ("sda", up)]),
    ],
    "partial": [
        ExpectedMap(name: "mpatha", wwid: lun1, dm: "dm-0", paths: [("sdg", up), ("sdh", up)]),
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-1", paths: [("sdc", up), ("sde", dead)]),
        ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-2", paths: [("sdf", up), ("sdd", up)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-3", paths: [("sdb", up), ("sda", up)]),
    ],
    "mixed": [
        ExpectedMap(name: "mpatha", wwid: lun1, dm: "dm-0", paths: [("sdg", dead), ("sdh", dead)]),
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-1", paths: [("sdc", up), ("sde", dead)]),
        ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-2", paths: [("sdf", dead), ("sdd", dead)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-3", paths: [("sdb", up), ("sda", up)]),
    ],
    "residual-retry-queueing": [
        ExpectedMap(name: "mpatha", wwid: lun1, dm: "dm-2", paths: [("sdf", up), ("sdh", up)]),
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-0", paths: [("sde", dead), ("sdb", dead)]),
        ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-3", paths: [("sdd", up), ("sdg", up)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-1", paths: [("sda", up), ("sdc", up)]),
    ],
    "residual-retry-expired": [
        ExpectedMap(name: "mpatha", wwid: lun1, dm: "dm-2", paths: [("sdf", up), ("sdh", up)]),
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-0", paths: [("sde", dead), ("sdb", dead)]),
        ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-3", paths: [("sdd", up), ("sdg", up)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-1", paths: [("sda", up), ("sdc", up)]),
    ],
    "portal-down-recovering": [
        ExpectedMap(name: "mpatha", wwid: lun1, dm: "dm-2", paths: [("sdf", up), ("sdh", dead)]),
        ExpectedMap(name: "mpathb", wwid: lun3, dm: "dm-0", paths: [("sde", dead), ("sdb", up)]),
        ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-3", paths: [("sdd", up), ("sdg", dead)]),
        ExpectedMap(name: "mpathd", wwid: lun0, dm: "dm-1", paths: [("sda", up), ("sdc", dead)]),
    ],
]

func check(_ maps: [MultipathMap], _ expected: [ExpectedMap], _ where_: String) {
    #expect(maps.map(\.name) == expected.map(\.name), "\(where_)")
    for (m, e) in zip(maps, expected) {
        #expect(m.wwid == e.wwid, "\(where_) \(e.name)")
        #expect(m.dm == e.dm, "\(where_) \(e.name)")
        #expect(m.vendor == "LIO-ORG", "\(where_) \(e.name)")
        #expect(m.pathGroups.count == 1, "\(where_) \(e.name)")
        #expect(m.paths.map { $0.dev ?? "-" } == e.paths.map(\.0), "\(where_) \(e.name)")
        #expect(m.paths.map { [$0.dmState?.rawValue, $0.checkerState?.rawValue, $0.deviceState?.rawValue].compactMap { $0 }.joined(separator: " ") }
            == e.paths.map(\.1), "\(where_) \(e.name)")
    }
}

@Suite struct MultipathParserFixtureTests {
    @Test(arguments: expectedMultipath.keys.sorted())
    func realCapture(state: String) throws {
        let r = MultipathParser.parse(try Fixtures.real(state, "multipath-ll.txt"))
        check(r.maps, expectedMultipath[state]!, state)
        #expect(r.warnings.isEmpty, "\(state): \(r.warnings)")
        // -v2 prints the same topology on these captures.
        let v2 = MultipathParser.parse(try Fixtures.real(state, "multipath-ll-v2.txt"))
        check(v2.maps, expectedMultipath[state]!, state + " -v2")
    }

    @Test func portalDownTimeoutSameAsRecovering() throws {
        let r = MultipathParser.parse(try Fixtures.real("portal-down-timeout", "multipath-ll.txt"))
        check(r.maps, expectedMultipath["portal-down-recovering"]!, "portal-down-timeout")
    }

    @Test func residualFieldsInDetail() throws {
        let m = MultipathParser.parse(try Fixtures.real("residual", "multipath-ll.txt")).maps[0]
        #expect(m.product == "lun1")
        #expect(m.size == "1.0G")
        #expect(m.features == "0")
        #expect(m.hwhandler == "1 alua")
        #expect(m.wp == "rw")
        #expect(m.line == 1)
        let g = m.pathGroups[0]
        #expect(g.policy == "service-time 0")
        #expect(g.prio == 0)
        #expect(g.status == "active")
        #expect(g.paths[0].hctl == "6:0:0:1")
        #expect(g.paths[0].majorMinor == "8:96")
        #expect(g.paths[1].majorMinor == "8:112")
    }

    @Test func retryExpiredGroupIsEnabled() throws {
        let m = MultipathParser.parse(try Fixtures.real("residual-retry-expired", "multipath-ll.txt")).maps[1]
        #expect(m.features == "0")
        #expect(m.pathGroups[0].status == "enabled")
        #expect(m.pathGroups[0].prio == 0)
    }

    @Test func cleanupHungSingleMap() throws {
        let r = MultipathParser.parse(try Fixtures.real("cleanup-hung", "multipath-ll-map.txt"))
        check(r.maps, [ExpectedMap(name: "mpathc", wwid: lun2, dm: "dm-2", paths: [("sdf", dead), ("sdd", dead)])], "cleanup-hung")
        #expect(r.maps[0].features == "0")
    }

    /// The stderr of multipath -ll is all log lines: no maps, every line a warning.
    @Test func stderrLogLinesAreWarnings() throws {
        let r = MultipathParser.parse(try Fixtures.real("residual", "multipath-ll.stderr.txt"))
        #expect(r.maps.isEmpty)
        #expect(r.warnings.map(\.line) == [1, 2])
        #expect(r.warnings[0].text.contains("sdg: prio = const"))
    }
}
