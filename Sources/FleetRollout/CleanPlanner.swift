import Foundation
import FleetModel

/// Decides, from one node's scan, its protect rules and the history's all-failed
/// observations, which maps may be cleaned and why every other one is left alone. Pure.
///
/// A map is eligible only when every check passes: verdict residual or residual-hung;
/// every name valid (WWID and alias → ``MapName``, dm → ``DMDeviceName``, disks →
/// ``BlockDeviceName``); at least one path and every path `failed`; each path's SCSI device
/// `running` (not blocked / transport-offline); sysfs slaves agree with multipath's paths;
/// not mounted, no holders, open count 0; no protect rule matches; and seen all-failed in
/// at least two observations at least `confirmAfter` apart.
public enum CleanPlanner {
    /// What `clean` knows from Kubernetes for this run.
    public enum KubernetesGate: Sendable, Hashable {
        /// `--no-kubernetes`: the API is not a witness (node-local witnesses still are).
        case notAsked
        /// The API answered: a map is cleaned only when its witness is `clear`.
        case required
        /// The API could not be asked: nothing is cleaned.
        case unavailable(String)
    }

    /// An observation this close to the scan's time is the scan itself, read back from the
    /// history (which keeps milliseconds). Two real scans are never this close.
    static let sameObservation: TimeInterval = 0.002

    public static func plan(
        scan: NodeScan, target: NodeTarget, protect: [ProtectRule],
        observations: [String: [Date]], confirmAfter: Duration, unfinished: [UnfinishedAction] = [],
        kubernetes: KubernetesGate = .notAsked
    ) -> NodeCleanPlan {
        var plan = NodeCleanPlan(node: scan.node, target: target, scannedAt: scan.startedAt, protect: protect)
        guard scan.status == .ok else {
            plan.scanError = scan.error ?? scan.status.rawValue
            plan.scanStatus = scan.status
            return plan
        }
        if let e = scan.error { plan.scanError = e }
        for finding in scan.findings {
            let seen = finding.map.wwid.flatMap { observations[$0] } ?? []
            switch evaluate(finding, protect: protect, observations: seen, scannedAt: scan.startedAt,
                            confirmAfter: confirmAfter, kubernetes: kubernetes) {
            case .success(let c): plan.cleanups.append(c)
            case .failure(let left): plan.left.append(left.map)
            }
        }
        plan.unfinished = unfinished
        let (resumes, stuck) = resume(unfinished, scan: scan)
        if case .unavailable(let why) = kubernetes {
            plan.left += resumes.map { LeftMap(wwid: $0.wwid.rawValue, name: $0.name.rawValue, dm: $0.dm.rawValue,
                                               verdict: $0.verdict, reasons: [.kubernetesUnavailable(why)]) }
        } else {
            plan.cleanups += resumes
        }
        plan.left += stuck
        return plan
    }

    /// Cleanups an interrupted run left half done: its map is gone from this scan (so its
    /// `multipath -f` went through) but the disks it was about to delete may remain. Only
    /// their flush + delete are planned, and the cleaner checks on the node that each disk
    /// still exists and belongs to no map. When the earlier run had not even started
    /// `multipath -f`, someone else removed the map: its disks are left for review.
    static func resume(_ unfinished: [UnfinishedAction], scan: NodeScan) -> ([MapCleanup], [LeftMap]) {
        var cleanups: [MapCleanup] = [], left: [LeftMap] = []
        var order: [String] = []
        var byWWID: [String: [UnfinishedAction]] = [:]
        for a in unfinished {
            if byWWID[a.wwid] == nil { order.append(a.wwid) }
            byWWID[a.wwid, default: []].append(a)
        }
        for w in order {
            let actions = byWWID[w]!
            guard !scan.findings.contains(where: { $0.map.wwid == w }) else { continue }  // planned afresh
            var disks: [BlockDeviceName] = []
            for a in actions where a.kind == .flushBuffers || a.kind == .deleteDevice {
                if let d = a.disk, !disks.contains(d) { disks.append(d) }
            }
            guard !disks.isEmpty else { continue }
            let a0 = actions[0]
            let runs = Set(actions.map(\.runID)).sorted().map(String.init).joined(separator: ",")
            let flushNeverSent = actions.contains { $0.kind == .flushMap && !$0.started }
            guard !flushNeverSent, let wwid = WWID(w), let dm = a0.dm.flatMap(DMDeviceName.init),
                  let name = a0.mapName.flatMap(MapName.init) ?? WWID(w)
            else {
                left.append(LeftMap(wwid: w, name: a0.mapName, dm: a0.dm, verdict: .needsReview, reasons: [
                    .inconsistent("run \(runs) was interrupted before `multipath -f`, and the map is gone now: its disks \(disks.map(\.rawValue).joined(separator: ",")) are left for review"),
                ]))
                continue
            }
            cleanups.append(MapCleanup(
                wwid: wwid, name: name, dm: dm, disks: disks, verdict: .residual, queueing: false,
                reasons: ["resuming run \(runs), interrupted after `multipath -f`: disks \(disks.map(\.rawValue).joined(separator: ",")) still to delete"],
                resumeOnly: true))
        }
        return (cleanups, left)
    }

    struct Left: Error { var map: LeftMap }

    /// One map's decision: a cleanup, or the map left alone with all its reasons.
    static func evaluate(
        _ f: MapFinding, protect: [ProtectRule], observations: [Date], scannedAt: Date, confirmAfter: Duration,
        kubernetes: KubernetesGate = .notAsked
    ) -> Result<MapCleanup, Left> {
        let m = f.map
        var reasons: [LeaveReason] = []
        if !f.verdict.isCleanable {
            // Who holds it open is the reason an operator needs: name each such opener too.
            let holders = f.reasons.filter { $0.contains(" holds it: ") }
            reasons.append(.verdict(f.verdict, ([f.reasons.first].compactMap { $0 } + holders).joined(separator: "; ")))
        }
        if let rule = protect.first(where: { $0.matches(m) }) {
            reasons.append(.protected(rule.description))
        }
        let wwid = m.wwid.flatMap(WWID.init)
        if wwid == nil { reasons.append(.invalidName(field: "WWID", value: m.wwid)) }
        let name = m.name.flatMap(MapName.init)
        if name == nil { reasons.append(.invalidName(field: "map name", value: m.name)) }
        let dm = m.dm.flatMap(DMDeviceName.init)
        if dm == nil { reasons.append(.invalidName(field: "dm device", value: m.dm)) }
        var disks: [BlockDeviceName] = []
        for p in m.paths {
            if let d = p.dev.flatMap(BlockDeviceName.init) {
                if !disks.contains(d) { disks.append(d) }
            } else {
                reasons.append(.invalidName(field: "path disk", value: p.dev))
            }
        }
        if m.paths.isEmpty { reasons.append(.noPaths) }
        let notFailed = m.paths.filter { $0.dmState != .failed }.map { $0.dev ?? $0.hctl ?? "?" }
        if !notFailed.isEmpty { reasons.append(.pathsNotAllFailed(notFailed)) }
        let ev = f.evidence
        let blocked = m.paths.compactMap { p -> String? in
            let state = p.dev.flatMap { ev.sysfsStates[$0] } ?? p.deviceState
            return state == .running ? nil : "\(p.dev ?? "?")=\(state?.rawValue ?? "unknown")"
        }
        if !blocked.isEmpty { reasons.append(.pathsBlocked(blocked)) }
        if !ev.slaves.isEmpty, Set(ev.slaves) != Set(m.paths.compactMap(\.dev)) {
            reasons.append(.inconsistent("sysfs slaves \(ev.slaves.sorted().joined(separator: ",")) differ from multipath paths \(m.paths.compactMap(\.dev).sorted().joined(separator: ","))"))
        }
        if !ev.mountpoints.isEmpty { reasons.append(.mounted(ev.mountpoints)) }
        if !ev.holders.isEmpty { reasons.append(.holders(ev.holders)) }
        // A residual-hung map is held open by fleet's own earlier probe, stuck in D state: the
        // classifier only says residual-hung when the open count equals those stuck probes
        // (anything more is in-use), disabling queueing frees them, and the node cleaner
        // re-checks open count <= stuck dds against a fresh `ps` before it acts.
        let openByOwnProbe = f.verdict == .residualHung && (ev.probe?.stuckPID != nil || !ev.stuckReaderPIDs.isEmpty)
        if ev.openCount != 0, !(openByOwnProbe && (ev.openCount ?? 0) > 0) { reasons.append(.openCount(ev.openCount)) }

        // Kubernetes, when it is a witness: only a `clear` answer lets a map go.
        switch kubernetes {
        case .notAsked: break
        case .unavailable(let why): if f.verdict.isCleanable { reasons.append(.kubernetesUnavailable(why)) }
        case .required:
            if f.verdict.isCleanable, ev.kubernetes?.state != .clear {
                reasons.append(.kubernetes(ev.kubernetes?.detail ?? "no Kubernetes witness recorded for this map"))
            }
        }

        // Confirmation comes last: it is the only reason that goes away by waiting.
        // The current scan is one observation, whether or not the history holds it already.
        var seen = observations.filter { abs($0.timeIntervalSince(scannedAt)) >= sameObservation } + [scannedAt]
        seen.sort()
        var confirmation: String?
        if reasons.isEmpty {
            let first = seen.first!, last = seen.last!
            let needed = confirmAfter.timeInterval
            if seen.count >= 2, last.timeIntervalSince(first) >= needed {
                confirmation = "all paths failed in \(seen.count) observations over \(CleanFormat.span(last.timeIntervalSince(first)))"
            } else {
                let until = max(first.addingTimeInterval(needed), seen.count >= 2 ? first : scannedAt)
                reasons.append(.waitingForConfirmation(until: until, observations: seen.count))
            }
        }
        guard reasons.isEmpty, let wwid, let name, let dm else {
            return .failure(Left(map: LeftMap(wwid: m.wwid, name: m.name, dm: m.dm, verdict: f.verdict, reasons: reasons)))
        }
        let queueing = (m.features ?? "").contains("queue_if_no_path")
            || (ev.queueing.map { $0 != "off" } ?? false) || f.verdict == .residualHung
        var why = ["\(f.verdict.rawValue): " + (f.reasons.isEmpty ? "classifier gave no reason" : f.reasons.joined(separator: "; "))]
        if let confirmation { why.append(confirmation) }
        return .success(MapCleanup(wwid: wwid, name: name, dm: dm, disks: disks, verdict: f.verdict,
                                   queueing: queueing, reasons: why,
                                   stuckReaders: ev.openers == nil ? nil : ev.stuckReaderPIDs))
    }
}



extension CleanFormat {
    /// `45s`, `12m`, `3h05m`, `2d04h`.
    static func span(_ t: TimeInterval) -> String {
        let s = Int(t.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" + (s % 60 == 0 ? "" : String(format: "%02ds", s % 60)) }
        if s < 86400 { return "\(s / 3600)h" + String(format: "%02dm", (s % 3600) / 60) }
        return "\(s / 86400)d" + String(format: "%02dh", (s % 86400) / 3600)
    }
}
