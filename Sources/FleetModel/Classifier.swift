/// Turns a ``NodeSnapshot`` into one ``MapFinding`` per `multipath -ll` map.
///
/// Follows the vendor procedure (all paths `failed faulty running` + the O_DIRECT probe
/// returning EIO = residual; probe suspended = residual, kill the dd) and goes beyond it:
/// a map is only called `residual`/`residual-hung` when every other fact agrees. Anything
/// missing or contradictory gives `needs-review`; something using the map gives `in-use`;
/// paths that may come back (sysfs `transport-offline`/`blocked`, multipathd still inside
/// its no_path_retry window) give `path-loss`. Identity is the WWID, never dm-N.
public enum Classifier {
    public static func classify(_ s: NodeSnapshot) -> [MapFinding] {
        var wwidCount: [String: Int] = [:]
        for m in s.maps { if let w = m.wwid { wwidCount[w, default: 0] += 1 } }
        return s.maps.map { m in
            var (verdict, reasons) = classify(m, in: s)
            if let w = m.wwid, (wwidCount[w] ?? 0) > 1, verdict.isCleanable || verdict == .healthy || verdict == .degraded {
                reasons.insert("WWID \(w) appears in \(wwidCount[w]!) maps", at: 0)
                verdict = .needsReview
            }
            return MapFinding(map: m, verdict: verdict, reasons: reasons, evidence: s.evidence(for: m))
        }
    }

    static func classify(_ m: MultipathMap, in s: NodeSnapshot) -> (Verdict, [String]) {
        let paths = m.paths
        guard let wwid = m.wwid, WWID(wwid) != nil else {
            return (.needsReview, ["no usable WWID: the map cannot be identified"])
        }
        guard !paths.isEmpty else {
            return (.needsReview, ["map has no paths: not the vendor procedure's case"])
        }
        // The disks themselves: a path whose LUN identity is another WWID (a LUN number the
        // array reused) must never be flushed or deleted as this map's.
        let foreign = s.identityMismatches(of: m)
        if !foreign.isEmpty {
            return (.lunReuseHazard, foreign + ["LUN reuse: never cleaned automatically"])
        }
        // Native NVMe multipath (multipath-tools' foreign library): no dm table, nothing to clean.
        if m.dm == nil, paths.allSatisfy({ $0.dmState == .notApplicable }) {
            let notLive = paths.filter { $0.deviceState != .live }
            if notLive.isEmpty { return (.healthy, ["native NVMe multipath: \(allPaths(paths.count)) live"]) }
            return (.needsReview, ["native NVMe multipath, not dm-multipath: " + notLive.map(describe).joined(separator: ", ")])
        }
        let failed = paths.filter { $0.dmState == .failed }
        let active = paths.filter { $0.dmState == .active }
        let unknownDM = paths.filter { $0.dmState != .failed && $0.dmState != .active }
        let dm = m.dm.flatMap(DMDeviceName.init)

        // Not all failed: healthy or degraded; nothing to clean, little to prove.
        if failed.count < paths.count {
            if !unknownDM.isEmpty {
                return (.needsReview, ["unknown path state: " + unknownDM.map(describe).joined(separator: ", ")])
            }
            if failed.isEmpty {
                let notReady = active.filter { $0.checkerState != .ready && $0.checkerState != .ghost }
                let offline = sysfsNotRunning(active, s)
                if notReady.isEmpty && offline.isEmpty {
                    return (.healthy, ["\(allPaths(paths.count)) active"])
                }
                var r = ["\(allPaths(paths.count)) active in the dm table"]
                if !notReady.isEmpty { r.append("checker not ready: " + notReady.map(describe).joined(separator: ", ")) }
                if !offline.isEmpty { r.append("sysfs: " + offline.joined(separator: ", ")) }
                return (.degraded, r)
            }
            var r = ["\(failed.count) of \(paths.count) paths failed: " + failed.map(describe).joined(separator: ", "),
                     "\(active.count) path\(active.count == 1 ? "" : "s") still active"]
            if let dm, let p = s.probe(of: dm), p.outcome != .readOK, p.outcome != .notRun {
                r.append("probe: \(p.detail ?? p.outcome.rawValue)")
                return (.needsReview, ["paths active yet the probe did not read"] + r)
            }
            return (.degraded, r)
        }

        // Every path failed.
        var reasons = ["\(allPaths(paths.count)) failed: " + paths.map(describe).joined(separator: ", ")]

        // 1. Something uses the map: never clean it automatically.
        var users: [String] = []
        let stuck = dm.flatMap { s.stuckDD(reading: $0) }
        let probeLeftovers = (stuck ?? []).filter(isOurProbe)
        if let dm, let hs = s.holders(of: dm), !hs.isEmpty { users.append("holders: " + hs.joined(separator: ", ")) }
        // A raw block volume: kubelet bind-mounts the device node itself for a pod.
        let binds = s.deviceNodeBinds(of: m) ?? []
        for b in binds {
            users.append("device node bind-mounted on \(b.mountpoint) (raw block volume)"
                         + (b.isDeletedNode ? ": stale bind of a deleted \(b.boundDeviceNode ?? "node"), it still reaches this device number" : ""))
        }
        let bound = Set(binds.map(\.mountpoint))
        if let ms = s.mounts(of: m)?.filter({ !bound.contains($0.mountpoint) }), !ms.isEmpty {
            users.append("mounted on " + ms.map { "\($0.mountpoint) (\($0.source))" }.joined(separator: ", "))
        } else if let ms = s.lsblkMountpoints(of: m), !ms.isEmpty {
            users.append("mounted on " + ms.joined(separator: ", ") + " (lsblk)")
        }
        // Who holds it open, by the documented rule (OpenerRule): stuck readers are not users.
        var openerReview: [String] = []
        var stuckReaders: [String] = []
        let roles = s.openerRoles(of: m, queues: s.queues(m))
        for (o, role) in roles ?? [] {
            switch role {
            case .user(let why): users.append(why)
            case .unknown(let why): openerReview.append(why)
            case .stuckReader: stuckReaders.append(MapOpener(o, role).summary)
            case .pathChecker: break
            }
        }
        if let open = s.openCount(of: m), open > 0, let roles {
            let seen = roles.flatMap { $0.opener.fds }.filter { SnapshotDevices.isMapDevice($0.device, m) }.count
            if open > seen {
                users.append("open count \(open) but \(seen) open file\(seen == 1 ? "" : "s") on it in /proc: something /proc does not show holds it")
            } else if let gaps = s.openersCapture?.incomplete, !gaps.isEmpty {
                openerReview.append("the openers list may be incomplete (\(gaps.joined(separator: "; "))): open count \(open) not accounted for")
            } else if !stuckReaders.isEmpty, openerReview.isEmpty {
                reasons.append("open count \(open) = stuck readers only")
            }
        } else if let open = s.openCount(of: m), open > 0 {
            // Our own earlier probe, stuck in D state, keeps the map open: not a user.
            if open == probeLeftovers.count, open > 0 {
                reasons.append("open count \(open) = stuck dd probe(s) pid " + probeLeftovers.map { String($0.pid) }.joined(separator: ","))
            } else {
                users.append("open count \(open)")
            }
        }
        if !users.isEmpty { return (.inUse, reasons + users) }

        // 2. The paths may come back: the network or the node is at fault, not an unmap.
        var lost: [String] = []
        var odd: [String] = []
        var missingState: [String] = []
        for p in paths {
            guard let name = p.dev else { continue }
            if let d = BlockDeviceName(name) {
                if let st = s.lsblkState(of: d), st.isPathLoss { lost.append("\(name) \(st) (lsblk)") }
                if let st = s.sysfsState(of: d) ?? s.lsblkState(of: d) {
                    if st.isPathLoss { lost.append("\(name) \(st)") }
                    else if st != .running { odd.append("\(name) \(st)") }
                } else {
                    missingState.append(name)
                }
            }
            if let ds = p.deviceState, ds.isPathLoss {
                lost.append("\(name) \(ds) (multipath)")
            }
        }
        if !lost.isEmpty { return (.pathLoss, reasons + ["path devices not running: " + lost.joined(separator: ", "), "paths may come back: not an unmap"]) }
        let mpd = s.multipathdMap(for: m)
        let queueingRaw = mpd?.queueing
        let queueing = queueingRaw.map(QueueingState.init)
        if case .retrying(let left)? = queueing {
            return (.pathLoss, reasons + ["multipathd still queueing inside no_path_retry (\(left) left)", "paths may come back: not yet residual"])
        }

        // 3. Evidence a cleanable verdict needs; anything missing or contradictory goes to a human.
        var review: [String] = []
        if dm == nil { review.append("no dm device name") }
        if !odd.isEmpty { review.append("sysfs state not running: " + odd.joined(separator: ", ")) }
        if !missingState.isEmpty { review.append("no sysfs state for " + missingState.joined(separator: ", ")) }
        let notSCSI = paths.filter { $0.dev.flatMap(BlockDeviceName.init) == nil }
        if !notSCSI.isEmpty { review.append("path not a SCSI disk: " + notSCSI.map(describe).joined(separator: ", ")) }
        let notFaulty = paths.filter { $0.checkerState != .faulty }
        if !notFaulty.isEmpty { review.append("checker not faulty: " + notFaulty.map(describe).joined(separator: ", ")) }
        let notRunning = paths.filter { $0.deviceState != .running && $0.deviceState?.isPathLoss != true }
        if !notRunning.isEmpty { review.append("device state not running: " + notRunning.map(describe).joined(separator: ", ")) }
        if let dm {
            if s.holders(of: dm) == nil { review.append("holders of \(dm) unknown") }
            if let sl = s.slaves(of: dm) {
                let devs = Set(paths.compactMap(\.dev))
                if Set(sl) != devs { review.append("slaves of \(dm) (\(sl.joined(separator: ","))) differ from its paths") }
            } else { review.append("slaves of \(dm) unknown") }
            if let nu = s.nameUUID(of: dm), let w = nu.wwid, w != wwid {
                review.append("\(dm) now belongs to WWID \(w)")
            }
        }
        review += openerReview
        if !s.mountsKnown { review.append("mounts unknown (neither /proc/mounts nor lsblk captured)") }
        if s.openCount(of: m) == nil { review.append("open count unknown (dmsetup info)") }
        if let mpd, let mdm = mpd.dm, let d = m.dm, mdm != d { review.append("multipathd says \(mdm), multipath says \(d)") }
        if let st = s.dmStatus(for: m), let sp = st.paths, sp.contains(where: { $0.active }) {
            review.append("kernel dm status still has active paths")
        }
        let queueFeature = m.features?.contains("queue_if_no_path") ?? false
        switch queueing {
        case nil where queueFeature:
            review.append("queue_if_no_path set and multipathd queueing state unknown")
        case .unknown(let raw)?:
            review.append("queueing state not understood: \(raw)")
        default: break
        }

        // 4. The probe decides between residual and residual-hung (vendor step 1.2).
        guard let dm, let probe = s.probe(of: dm) ?? s.earlierBlockedProbe(of: dm) else {
            // Say what multipath -ll alone suggests, so a pasted customer output is still useful.
            let pattern = paths.allSatisfy { $0.checkerState == .faulty && $0.deviceState == .running }
                ? ["looks like the vendor's residual pattern (failed faulty running): the facts below decide"] : []
            return (.needsReview, reasons + pattern + review + ["not probed"])
        }
        let qText = queueingRaw.map { "queueing \($0)" } ?? "features '\(m.features ?? "?")'"
        switch probe.outcome {
        case .ioError:
            reasons.append("probe: Input/output error")
            if case .on? = queueing { review.append("I/O failed although multipathd says queueing on") }
            if !review.isEmpty { return (.needsReview, reasons + review) }
            return (.residual, reasons + [qText, "no holders, not mounted, not open"])
        case .hung:
            reasons.append("probe hung: \(probe.detail ?? "killed after the time limit")")
            switch queueing {
            case .on?: break
            case nil where queueFeature: break
            default: review.append("probe hung although the map does not queue (\(qText))")
            }
            if !review.isEmpty { return (.needsReview, reasons + review) }
            var r = reasons + [qText, "no holders, not mounted"]
            if !stuckReaders.isEmpty {
                r.append("stuck readers (ended by disabling queueing): " + stuckReaders.joined(separator: "; "))
            } else if let st = stuck, !st.isEmpty {
                r.append("stuck dd: " + st.map { "pid \($0.pid) \($0.stat)" }.joined(separator: ", "))
            }
            return (.residualHung, r)
        case .readOK:
            return (.needsReview, reasons + ["all paths failed yet the map reads: contact support"] + review)
        case .otherError:
            return (.needsReview, reasons + ["probe: \(probe.detail ?? "other error"): contact support"] + review)
        case .notRun:
            return (.needsReview, reasons + ["not probed"] + review)
        }
    }

    enum SnapshotDevices {
        /// The map itself (dm-N or /dev/mapper/NAME), not one of its path disks.
        static func isMapDevice(_ device: String, _ m: MultipathMap) -> Bool { device == m.dm || device == m.name }
    }

    /// "all 2 paths" / "the only path".
    static func allPaths(_ n: Int) -> String { n == 1 ? "the only path" : "all \(n) paths" }

    static func describe(_ p: Path) -> String {
        [p.dev ?? "-", p.dmState?.rawValue, p.checkerState?.rawValue, p.deviceState?.rawValue].compactMap { $0 }.joined(separator: " ")
    }

    static func sysfsNotRunning(_ paths: [Path], _ s: NodeSnapshot) -> [String] {
        paths.compactMap { p in
            guard let d = p.dev.flatMap(BlockDeviceName.init), let st = s.sysfsState(of: d), st != .running else { return nil }
            return "\(d) \(st)"
        }
    }

    /// The probe fleet runs: `dd if=…/dev/dm-N of=/dev/null … iflag=direct`.
    static func isOurProbe(_ r: ProcessRow) -> Bool {
        r.cmd.contains("of=/dev/null") && r.cmd.contains("iflag=direct")
    }
}
