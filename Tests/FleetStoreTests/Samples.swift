import Foundation
import FleetModel
import FleetTestSupport

/// Node scans built by hand from the real captures in fixtures/real (values read
/// from `residual/multipath-ll.txt`, `_lab-luns.txt` and `meta.tsv`), so the store is tested
/// without depending on the parsers.
enum Samples {
    /// A fixed, whole-millisecond time (the store keeps milliseconds).
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000.250)

    static func path(_ hctl: String, _ dev: String, _ mm: String, _ dm: String, _ chk: String) -> Path {
        Path(hctl: hctl, dev: dev, majorMinor: mm, dmState: DMPathState(rawValue: dm), checkerState: CheckerState(rawValue: chk), deviceState: .running)
    }

    /// `residual/multipath-ll.txt`: mpatha (LUN 1, unmapped, no_path_retry fail) has both paths
    /// `failed faulty running`; mpathb/c/d are healthy.
    static func residualMaps(mpathaVerdict: Verdict = .residual) -> [MapFinding] {
        let mpatha = MultipathMap(
            name: "mpatha", wwid: "36001405ae3a4a2b307ccf2a518e52df9", dm: "dm-0", vendor: "LIO-ORG", product: "lun1",
            size: "1.0G", features: "0", hwhandler: "1 alua", wp: "rw",
            pathGroups: [PathGroup(policy: "service-time 0", prio: 0, status: "active", paths: [
                path("6:0:0:1", "sdg", "8:96", "failed", "faulty"),
                path("7:0:0:1", "sdh", "8:112", "failed", "faulty"),
            ])], line: 1)
        func healthy(_ name: String, _ wwid: String, _ dm: String, _ product: String, line: Int,
                     _ p1: (String, String, String), _ p2: (String, String, String)) -> MapFinding {
            MapFinding(map: MultipathMap(
                name: name, wwid: wwid, dm: dm, vendor: "LIO-ORG", product: product, size: "1.0G",
                features: "1 queue_if_no_path", hwhandler: "1 alua", wp: "rw",
                pathGroups: [PathGroup(policy: "service-time 0", prio: 50, status: "active", paths: [
                    path(p1.0, p1.1, p1.2, "active", "ready"), path(p2.0, p2.1, p2.2, "active", "ready"),
                ])], line: line), verdict: .healthy, reasons: ["all 2 paths active ready"])
        }
        return [
            MapFinding(map: mpatha, verdict: mpathaVerdict,
                       reasons: ["all 2 paths failed faulty", "probe: Input/output error"],
                       evidence: MapEvidence(queueing: "off", openCount: 0, holders: [], slaves: ["sdg", "sdh"],
                                             mountpoints: [], sysfsStates: ["sdg": "running", "sdh": "running"],
                                             probe: ProbeResult(outcome: .ioError, detail: "dd: error reading '/dev/dm-0': Input/output error"))),
            healthy("mpathb", "360014052df940906efa8efc931101de3", "dm-1", "lun3", line: 6,
                    ("7:0:0:3", "sdc", "8:32"), ("6:0:0:3", "sde", "8:64")),
            healthy("mpathc", "360014058be0b4a9a2035d5c98c88bafe", "dm-2", "lun2", line: 11,
                    ("6:0:0:2", "sdf", "8:80"), ("7:0:0:2", "sdd", "8:48")),
            healthy("mpathd", "36001405066467663edf050e13a29b6dd", "dm-3", "lun0", line: 16,
                    ("6:0:0:0", "sdb", "8:16"), ("7:0:0:0", "sda", "8:0")),
        ]
    }

    /// The real outputs of the residual capture: multipath -ll (with its stderr) and the dd probe of dm-0.
    static func residualOutputs() throws -> [CommandOutput] {
        [
            CommandOutput(command: .multipathList, stdout: try Fixtures.real("residual", "multipath-ll.txt"),
                          stderr: try Fixtures.real("residual", "multipath-ll.stderr.txt"), exitCode: 0),
            CommandOutput(command: .probe(DMDeviceName("dm-0")!, seconds: 15), stdout: try Fixtures.real("residual", "dd-dm-0.txt"),
                          stderr: try Fixtures.real("residual", "dd-dm-0.stderr.txt"), exitCode: 1),
        ]
    }

    static func residualScan(node: String = "worker-1", at: Date = t0, mpathaVerdict: Verdict = .residual) throws -> NodeScan {
        NodeScan(node: node, address: "10.0.0.1", status: .ok, startedAt: at, duration: .milliseconds(1234),
                 outputs: try residualOutputs(), findings: residualMaps(mpathaVerdict: mpathaVerdict),
                 warnings: [ParseWarning(line: 3, text: "example warning")])
    }

    /// The same node before the unmap (`healthy/`): mpatha with both paths active.
    static func healthyScan(node: String = "worker-1", at: Date) -> NodeScan {
        var maps = residualMaps()
        maps[0].verdict = .healthy
        maps[0].reasons = ["all 2 paths active ready"]
        maps[0].evidence = MapEvidence()
        for i in maps[0].map.pathGroups[0].paths.indices {
            maps[0].map.pathGroups[0].paths[i].dmState = "active"
            maps[0].map.pathGroups[0].paths[i].checkerState = "ready"
        }
        return NodeScan(node: node, address: "10.0.0.1", status: .ok, startedAt: at, duration: .milliseconds(900), findings: maps)
    }

    static func unreachable(node: String, at: Date) -> NodeScan {
        NodeScan(node: node, address: "10.0.0.9", status: .connectTimeout, error: "\(node): connect timed out after 10s",
                 startedAt: at, duration: .seconds(10))
    }
}
