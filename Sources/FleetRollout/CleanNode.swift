import Foundation
import FleetModel
import FleetStore

/// Cleans one node in ONE session: re-reads the node, checks each planned map still is
/// what the plan saw, runs the vendor procedure's steps with every command audited before
/// it is sent, then checks (procedure step 2.3) that the map, its disks and their by-id
/// links are gone.
public struct NodeCleaner: Sendable {
    public struct Options: Sendable, Hashable {
        /// Bound on each command on the node (and the re-reads).
        public var commandTimeout: Duration
        /// `multipath -f` attempts before giving up (a udev probe can hold a map briefly).
        public var flushAttempts: Int
        public var flushRetryDelay: Duration
        /// Re-reads for the final check (udev removes by-id links asynchronously).
        public var verifyAttempts: Int
        public var verifyDelay: Duration
        public var outputLimit: Int
        /// After disabling queueing: how long the stuck readers get to exit with their I/O
        /// error before the rest are `kill -9`ed, and again how long the open count gets to
        /// reach 0 after that; polled every `readerPollInterval`.
        public var readerExitWait: Duration = .seconds(5)
        public var readerPollInterval: Duration = .seconds(1)

        public init(commandTimeout: Duration = .seconds(60), flushAttempts: Int = 3, flushRetryDelay: Duration = .seconds(2),
                    verifyAttempts: Int = 3, verifyDelay: Duration = .seconds(2), outputLimit: Int = 16 << 20) {
            self.commandTimeout = commandTimeout; self.flushAttempts = max(1, flushAttempts)
            self.flushRetryDelay = flushRetryDelay; self.verifyAttempts = max(1, verifyAttempts)
            self.verifyDelay = verifyDelay; self.outputLimit = outputLimit
        }
    }

    public var executor: any RemoteExecutor
    public var audit: any CleanAudit
    public var options: Options
    public var sleep: @Sendable (Duration) async -> Void
    public var nonce: @Sendable () -> String

    public init(executor: any RemoteExecutor, audit: any CleanAudit, options: Options = Options(),
                sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) },
                nonce: @escaping @Sendable () -> String = { NodeScript.newNonce() }) {
        self.executor = executor; self.audit = audit; self.options = options; self.sleep = sleep; self.nonce = nonce
    }

    public func clean(_ plan: NodeCleanPlan) async -> NodeCleanResult {
        let clock = ContinuousClock()
        let t0 = clock.now
        let address = plan.target.port == 22 ? plan.target.host : "\(plan.target.host):\(plan.target.port)"
        var result = NodeCleanResult(node: plan.node, address: address, left: plan.left)
        guard plan.hasWork else { return result }
        let initial = result
        do {
            result = try await executor.withSession(to: plan.target) { session in
                await self.work(plan, session: session, result: initial)
            }
        } catch let f as NodeFailure {
            result.status = f.status
            result.error = f.message
            result.maps = plan.cleanups.map { MapCleanResult(cleanup: $0, outcome: .failed, reason: "no session: \(f.message)") }
        } catch {
            result.status = .protocolError
            result.error = "\(plan.node): \(error)"
            result.maps = plan.cleanups.map { MapCleanResult(cleanup: $0, outcome: .failed, reason: "no session: \(error)") }
        }
        result.durationMS = (clock.now - t0).milliseconds
        return result
    }

    /// Thrown inside a map's steps when the session broke: the rest of the node is lost.
    struct SessionLost: Error { var failure: NodeFailure }

    func work(_ plan: NodeCleanPlan, session: any RemoteSession, result: NodeCleanResult) async -> NodeCleanResult {
        var r = result
        let snapshot: NodeSnapshot
        do {
            snapshot = try await reread(session, node: plan.node)
        } catch {
            r.status = error.status
            r.error = "\(plan.node): re-read before acting: \(error.message)"
            r.maps = plan.cleanups.map { MapCleanResult(cleanup: $0, outcome: .failed, reason: "re-read failed: \(error.message)") }
            return r
        }
        // An earlier run was killed with these rows open: this run has re-read the node and
        // plans from what is there now, so close them saying so.
        for u in plan.unfinished {
            let why = "run \(u.runID) ended before this action finished" +
                (u.started ? " (it was sent; its result is unknown)" : " (it was never sent)") +
                "; the node was re-read by a later run"
            if (try? audit.finished(u.id, outcome: .aborted, exitCode: nil, stdout: nil, stderr: nil, duration: nil, reason: why)) != nil {
                r.closedUnfinished.append(u.id)
            }
        }
        var lost: NodeFailure?
        for c in plan.cleanups {
            if let lost {
                r.maps.append(MapCleanResult(cleanup: c, outcome: .failed, reason: "not attempted: session lost: \(lost.message)"))
                continue
            }
            do {
                r.maps.append(try await cleanMap(c, plan: plan, snapshot: snapshot, session: session))
            } catch let e as SessionLost {
                lost = e.failure
                r.status = e.failure.status
                r.error = "\(plan.node): \(e.failure.message)"
                r.maps.append(MapCleanResult(cleanup: c, outcome: .failed, reason: "session lost during the cleanup: \(e.failure.message)"))
            } catch {
                r.maps.append(MapCleanResult(cleanup: c, outcome: .failed, reason: "\(error)"))
            }
        }
        if lost == nil { await verify(&r, session: session, node: plan.node) }
        return r
    }

    // MARK: - Re-read and checks

    /// The discovery script (no probes: probing a queueing map would leave another stuck dd)
    /// plus `ps`, parsed into a snapshot.
    func reread(_ session: any RemoteSession, node: String) async throws(NodeFailure) -> NodeSnapshot {
        let framed: FramedOutputs
        do { framed = try await run(.discovery, what: "re-read", session: session) } catch { throw error.failure }
        guard let ll = framed.outputs.first(where: { $0.command == .multipathList }), ll.exitCode == 0 else {
            throw NodeFailure(.nodeError, "re-read: multipath -ll did not run or failed")
        }
        let framedPS: FramedOutputs
        do {
            framedPS = try await run(.sequence([.stuckProbes], pauseAfterActions: 0), what: "ps", session: session)
        } catch {
            throw error.failure
        }
        return NodeSnapshot(outputs: framed.outputs + framedPS.outputs)
    }

    /// Why the map on the node no longer matches the plan, or nil when it still does.
    static func mismatch(_ c: MapCleanup, snapshot s: NodeSnapshot, protect: [ProtectRule]) -> Mismatch? {
        let wwid = c.wwid.rawValue
        if c.resumeOnly {
            if let m = s.map(wwid: wwid) { return .mapBack(wwid: c.wwid, name: m.name, dm: m.dm) }
            for d in c.disks where s.sysBlock?.contains(where: { $0.name == d.rawValue }) ?? false {
                if let owner = s.maps.first(where: { $0.paths.contains { $0.dev == d.rawValue } }) {
                    return .diskInMap(d, mapName: owner.name, wwid: owner.wwid)
                }
                if let dm = s.slavesHolders.first(where: { $0.value.slaves?.contains(d.rawValue) ?? false })?.key {
                    return .diskIsSlave(d, of: dm)
                }
                guard let mounts = s.mounts else { return .mountsUnknown }
                if let mnt = mounts.first(where: { Self.isPartition(String($0.source.split(separator: "/").last ?? ""), of: d.rawValue) }) {
                    return .diskMounted(d, on: mnt.mountpoint)
                }
                // sdX names are reused: the disk must still be this LUN (lsblk's WWN is the
                // WWID without its NAA type digit: 3600140… → 0x600140…).
                let wwn = s.lsblk?.first { $0.name == d.rawValue || $0.kname == d.rawValue }?.wwn
                guard let wwn else { return .diskWWNUnknown(d, wwid: c.wwid) }
                if wwn.lowercased() != "0x" + wwid.dropFirst().lowercased() {
                    return .diskIsOtherLUN(d, wwn: wwn, wwid: c.wwid)
                }
            }
            if s.sysBlock == nil { return .sysBlockMissing }
            return nil
        }
        guard let m = s.map(wwid: wwid) else { return .mapGone(c.wwid) }
        if m.name != c.name.rawValue { return .renamed(c.wwid, now: m.name, planned: c.name) }
        if m.dm != c.dm.rawValue { return .dmChanged(c.wwid, now: m.dm, planned: c.dm) }
        if let other = s.maps.first(where: { $0.name == c.name.rawValue && $0.wwid != wwid }) {
            return .nameTaken(c.name, byWWID: other.wwid)
        }
        if let other = s.maps.first(where: { $0.dm == c.dm.rawValue && $0.wwid != wwid }) {
            return .dmTaken(c.dm, byWWID: other.wwid, name: other.name)
        }
        if let nu = s.nameUUID(of: c.dm) {
            if nu.name != c.name.rawValue || nu.uuid != "mpath-\(wwid)" {
                return .sysfsIdentity(c.dm, name: nu.name, uuid: nu.uuid, plannedName: c.name, wwid: c.wwid)
            }
        }
        let foreign = s.identityMismatches(of: m)
        if !foreign.isEmpty { return .lunIdentity(foreign) }
        if let staged = s.kubeletVolumes?.first(where: { $0.names(wwid, pvWWIDs: [:]) }) {
            return .kubeletStaged(path: staged.path)
        }
        let disks = m.paths.map { $0.dev ?? "-" }
        if Set(disks) != Set(c.disks.map(\.rawValue)) || disks.count != c.disks.count {
            return .pathDisksChanged(now: disks, planned: c.disks)
        }
        if let slaves = s.slaves(of: c.dm), Set(slaves) != Set(c.disks.map(\.rawValue)) {
            return .slavesChanged(c.dm, now: slaves, planned: c.disks)
        }
        let back = m.paths.filter { $0.dmState != .failed }
        if !back.isEmpty { return .pathsRecovering(back) }
        for d in c.disks {
            let state = s.sysfsState(of: d) ?? m.paths.first { $0.dev == d.rawValue }?.deviceState
            if state != .running { return .deviceState(d, state) }
        }
        guard let mounts = s.mounts(of: m) else { return .mountsUnknown }
        if !mounts.isEmpty { return .mounted(mounts.map(\.mountpoint)) }
        guard let holders = s.holders(of: c.dm) else { return .holdersUnknown(c.dm) }
        if !holders.isEmpty { return .held(by: holders) }
        guard let open = s.openCount(of: m) else { return .openCountUnknown(c.name) }
        if let roles = s.openerRoles(of: m, queues: s.queues(m)) {
            // Who holds it now, by the same rule as the scan: only the stuck readers the plan
            // saw are accepted; anyone else (a user, a reader that came since) stops the map.
            for (o, role) in roles {
                switch role {
                case .pathChecker: continue
                case .unknown(let why): return .openersUnknown(why)
                case .user(let why): return .newOpener(why)
                case .stuckReader:
                    if let planned = c.stuckReaders, !planned.contains(o.pid) { return .newOpener(MapOpener(o, role).summary) }
                }
            }
            if open > 0, let gaps = s.openersCapture?.incomplete, !gaps.isEmpty { return .openersUnknown(gaps.joined(separator: "; ")) }
            let seen = roles.flatMap(\.opener.fds).filter { $0.device == c.dm.rawValue || $0.device == c.name.rawValue }.count
            if open > seen { return .open(count: open, stuckDD: seen) }
        } else {
            // No /proc read: a dd stuck on a queueing map holds it open; disabling queueing frees it.
            let stuck = c.queueing ? (s.stuckDD(reading: c.dm)?.count ?? 0) : 0
            if open > stuck { return .open(count: open, stuckDD: stuck) }
        }
        if let rule = protect.first(where: { $0.matches(m) }) { return .protected(rule) }
        return nil
    }

    static func isPartition(_ base: String, of disk: String) -> Bool {
        base == disk || (base.hasPrefix(disk) && base.dropFirst(disk.count).allSatisfy(\.isNumber))
    }

    /// What is still there of a cleaned map (procedure step 2.3), or nil when all is gone.
    static func remains(_ c: MapCleanup, snapshot s: NodeSnapshot) -> String? {
        var left: [String] = []
        if s.map(wwid: c.wwid.rawValue) != nil { left.append("map still in multipath -ll") }
        if let sys = s.sysBlock {
            let still = c.disks.filter { d in sys.contains { $0.name == d.rawValue } }
            if !still.isEmpty { left.append("disks still in /sys/block: \(still.map(\.rawValue).joined(separator: ","))") }
        } else {
            left.append("/sys/block not listed")
        }
        if let links = s.diskByID {
            let wwid = c.wwid.rawValue
            let tail = wwid.count > 8 ? String(wwid.dropFirst()) : wwid
            let disks = Set(c.disks.map(\.rawValue))
            let still = links.filter { e in
                disks.contains(e.targetBase) || e.name.contains(tail)
                    || (e.name == "dm-name-\(c.name)" && e.targetBase == c.dm.rawValue)
            }
            if !still.isEmpty { left.append("by-id links remain: \(still.map(\.name).joined(separator: ","))") }
        } else {
            left.append("/dev/disk/by-id not listed")
        }
        return left.isEmpty ? nil : left.joined(separator: "; ")
    }

    // MARK: - Acting

    func cleanMap(_ c: MapCleanup, plan: NodeCleanPlan, snapshot: NodeSnapshot,
                  session: any RemoteSession) async throws -> MapCleanResult {
        var result = MapCleanResult(cleanup: c, outcome: .failed)
        // Resumed cleanups: disks already deleted by the earlier run are simply gone.
        var cleanup = c
        if c.resumeOnly, let sys = snapshot.sysBlock {
            cleanup.disks = c.disks.filter { d in sys.contains { $0.name == d.rawValue } }
            result.cleanup = cleanup
            if cleanup.disks.isEmpty {
                result.outcome = .cleaned
                result.reason = "nothing left: the earlier run's disks \(c.disks.map(\.rawValue).joined(separator: ",")) are gone"
                return result
            }
        }
        // 1. Write the whole plan for this map before anything is sent.
        var planned: [(NodeCommand, Int64)] = []
        do {
            for cmd in cleanup.commands { planned.append((cmd, try audit.planned(node: plan.node, cleanup: cleanup, command: cmd))) }
        } catch {
            for (_, id) in planned { try? audit.finished(id, outcome: .aborted, exitCode: nil, stdout: nil, stderr: nil, duration: nil, reason: "audit write failed") }
            result.reason = "could not write the audit, nothing done: \(error)"
            return result
        }
        // 2. Re-verify on the fresh read.
        if let why = Self.mismatch(cleanup, snapshot: snapshot, protect: plan.protect) {
            for (cmd, id) in planned {
                try? audit.finished(id, outcome: .aborted, exitCode: nil, stdout: nil, stderr: nil, duration: nil, reason: "changed since plan: \(why)")
                result.steps.append(CleanStep(command: cmd.display, outcome: .aborted, note: why.description))
            }
            result.outcome = .aborted
            result.reason = "changed since plan: \(why)"
            return result
        }
        // 3. Run the steps in order; the first failure skips everything after it.
        var queue = planned[...]
        do {
            try await runSteps(&queue, cleanup: cleanup, plan: plan, session: session, result: &result)
        } catch let lost as SessionLost {
            skip(&queue, &result, "session lost: \(lost.failure.message)")
            throw lost
        }
        return result
    }

    /// Closes every remaining planned step of a map as skipped, in the audit and the result.
    func skip(_ queue: inout ArraySlice<(NodeCommand, Int64)>, _ result: inout MapCleanResult, _ why: String) {
        for (cmd, id) in queue {
            try? audit.finished(id, outcome: .skipped, exitCode: nil, stdout: nil, stderr: nil, duration: nil, reason: why)
            result.steps.append(CleanStep(command: cmd.display, outcome: .skipped, note: why))
        }
        queue = []
    }

    /// The steps of one map in order; returns the result once a step fails or all succeeded.
    func runSteps(_ queue: inout ArraySlice<(NodeCommand, Int64)>, cleanup: MapCleanup, plan: NodeCleanPlan,
                  session: any RemoteSession, result: inout MapCleanResult) async throws {
        while let (cmd, id) = queue.first {
            queue = queue.dropFirst()
            switch cmd {
            case .multipathdDisableQueueing(let name), .disableQueueing(let name):
                var step = try await act(cmd, id: id, session: session)
                result.steps.append(step)
                // multipathd answers `fail` when it cannot: fall back to the kernel message.
                if case .multipathdDisableQueueing = cmd, step.outcome != .ok || step.stdout.trimmed == "fail" {
                    let fallback = NodeCommand.disableQueueing(name)
                    let fid: Int64
                    do { fid = try audit.planned(node: plan.node, cleanup: cleanup, command: fallback) } catch {
                        result.reason = "could not write the audit for \(fallback.display): \(error)"
                        skip(&queue, &result, "audit write failed")
                        return
                    }
                    step = try await act(fallback, id: fid, session: session, note: "fallback: \(cmd.display) gave \(step.brief)")
                    result.steps.append(step)
                }
                if step.outcome != .ok {
                    result.reason = "disabling queueing failed: \(step.brief)"
                    skip(&queue, &result, "queueing could not be disabled: nothing flushed")
                    return
                }
                if let stop = try await endStuckReaders(cleanup, plan: plan, session: session, into: &result) {
                    result.reason = stop
                    skip(&queue, &result, stop)
                    return
                }
            case .flushMap:
                var step = try await act(cmd, id: id, session: session)
                result.steps.append(step)
                var attempt = 1
                while step.outcome != .ok, attempt < options.flushAttempts {
                    attempt += 1
                    await sleep(options.flushRetryDelay)
                    let retryID: Int64
                    do { retryID = try audit.planned(node: plan.node, cleanup: cleanup, command: cmd) } catch {
                        result.reason = "could not write the audit for retry \(attempt): \(error)"
                        skip(&queue, &result, "audit write failed")
                        return
                    }
                    step = try await act(cmd, id: retryID, session: session, note: "attempt \(attempt) of \(options.flushAttempts)")
                    result.steps.append(step)
                }
                if step.outcome != .ok {
                    result.reason = "\(cmd.display) failed after \(attempt) attempt\(attempt == 1 ? "" : "s"): \(step.brief)"
                    skip(&queue, &result, "\(cmd.display) failed: no disk of this map is deleted")
                    return
                }
            case .flushBuffers:
                // All flushes first; one failure and no disk of this map is deleted.
                var failures: [String] = []
                var step = try await act(cmd, id: id, session: session)
                result.steps.append(step)
                if step.outcome != .ok { failures.append("\(cmd.display): \(step.brief)") }
                while let (next, nid) = queue.first, case .flushBuffers = next {
                    queue = queue.dropFirst()
                    step = try await act(next, id: nid, session: session)
                    result.steps.append(step)
                    if step.outcome != .ok { failures.append("\(next.display): \(step.brief)") }
                }
                if !failures.isEmpty {
                    result.reason = "flushbufs failed: " + failures.joined(separator: "; ")
                    skip(&queue, &result, "flushbufs failed: no disk of this map is deleted")
                    return
                }
            case .removeWWID:
                // Bookkeeping after the flush: a failure is noted, it does not fail the map.
                var step = try await act(cmd, id: id, session: session)
                if step.outcome != .ok { step.note = "not fatal: the map is flushed; /etc/multipath/wwids keeps the entry" }
                result.steps.append(step)
            case .deleteSCSIDevice:
                let step = try await act(cmd, id: id, session: session)
                result.steps.append(step)
                if step.outcome != .ok {
                    result.reason = "\(cmd.display) failed: \(step.brief)"
                    skip(&queue, &result, "an earlier delete failed")
                    return
                }
            default:
                let step = try await act(cmd, id: id, session: session)
                result.steps.append(step)
                if step.outcome != .ok {
                    result.reason = "\(cmd.display) failed: \(step.brief)"
                    skip(&queue, &result, "\(cmd.display) failed")
                    return
                }
            }
        }
        // Steps all succeeded; `verify` decides between cleaned and failed.
        result.outcome = .cleaned
    }

    /// Procedure step 1.3 for a queueing map once queueing is off: the stuck readers get a
    /// bounded wait to exit with their I/O error, those still there are `kill -9`ed (each
    /// audited; only the pids the scan called stuck readers, and only while the rule still
    /// says so), then the open count is re-read. Returns why the map stops here (open count
    /// still above 0: nothing flushed, no disk deleted, queueing left disabled), or nil.
    func endStuckReaders(_ c: MapCleanup, plan: NodeCleanPlan, session: any RemoteSession,
                         into result: inout MapCleanResult) async throws -> String? {
        let left = "queueing was left disabled on \(c.name) (the one change this cleanup leaves behind)"
        // Bounded by a number of looks, not the clock: each look is one exec.
        let looks = max(1, Int(options.readerExitWait / options.readerPollInterval))
        func waitForZero() async throws -> Result<(open: Int, openers: [Opener]?), ScriptFailure> {
            var n = 0
            while true {
                n += 1
                let look = await lookAtOpeners(c, session: session)
                switch look {
                case .failure(let f) where f.sessionLost: throw SessionLost(failure: f.failure)
                case .failure: return look
                case .success(let l) where l.open == 0 || n >= looks: return look
                case .success: await sleep(options.readerPollInterval)
                }
            }
        }
        var look: (open: Int, openers: [Opener]?)
        switch try await waitForZero() {
        case .success(let l): look = l
        case .failure(let f): return "could not re-read the open count after disabling queueing: \(f.message); not flushed, no disk deleted; \(left)"
        }
        if look.open == 0 { return nil }
        var killed: [String] = []
        if let openers = look.openers {
            let devices: Set<String> = [c.dm.rawValue, c.name.rawValue], disks = Set(c.disks.map(\.rawValue))
            for o in openers {
                // queues: true — the readers blocked before queueing went off are still finishing.
                guard case .stuckReader = OpenerRule.role(of: o, mapDevices: devices, pathDisks: disks, queues: true),
                      c.stuckReaders?.contains(o.pid) ?? (o.comm == "dd"),
                      let pid = ProcessID(String(o.pid)) else { continue }
                let cmd = NodeCommand.killProcess(pid)
                let id: Int64
                do { id = try audit.planned(node: plan.node, cleanup: c, command: cmd) } catch { continue }
                let summary = MapOpener(o, .stuckReader).summary
                result.steps.append(try await act(cmd, id: id, session: session,
                                                  note: "stuck reader still there after disabling queueing: \(summary)"))
                killed.append(o.label)
            }
        } else if let failure = try await killStuckProbes(c, plan: plan, session: session, into: &result) {
            return "looking for stuck probes after disabling queueing: \(failure.message); not flushed, no disk deleted; \(left)"
        }
        switch try await waitForZero() {
        case .success(let l): look = l
        case .failure(let f): return "could not re-read the open count after kill -9: \(f.message); not flushed, no disk deleted; \(left)"
        }
        if look.open == 0 { return nil }
        let holders = (look.openers ?? []).filter { o in o.fds.contains { $0.device == c.dm.rawValue || $0.device == c.name.rawValue } }
        return "open count of \(c.name) still \(look.open) after disabling queueing"
            + (killed.isEmpty ? "" : " and kill -9 of " + killed.joined(separator: ", "))
            + (holders.isEmpty ? "" : "; still open by " + holders.map(\.label).joined(separator: ", "))
            + ": not flushed, no disk deleted; \(left)"
    }

    /// The map's open count (`dmsetup info -c`) and who holds it or its disks (the openers
    /// section), in one exec.
    func lookAtOpeners(_ c: MapCleanup, session: any RemoteSession) async -> Result<(open: Int, openers: [Opener]?), ScriptFailure> {
        let framed: FramedOutputs
        switch await runCatching([.dmsetupInfo, .openers], session: session) {
        case .success(let f): framed = f
        case .failure(let f): return .failure(f)
        }
        let s = NodeSnapshot(outputs: framed.outputs)
        guard let open = s.dmInfo?.first(where: { $0.name == c.name.rawValue })?.openCount else {
            // The map is gone from dmsetup: nothing holds it.
            if s.dmInfo != nil { return .success((0, [])) }
            return .failure(ScriptFailure(kind: .endedEarly, failure: NodeFailure(.nodeError, "dmsetup info -c gave no answer"), partial: framed))
        }
        let mine: Set<String> = Set([c.dm.rawValue, c.name.rawValue] + c.disks.map(\.rawValue))
        let openers = s.openersCapture.map { $0.openers.filter { o in o.fds.contains { mine.contains($0.device) } } }
        return .success((open, openers))
    }

    /// Finds dd processes still reading the map's dm device and kills each (audited).
    /// Returns the failure when the `ps` output came back cut short: nothing is killed on
    /// the strength of a partial process list, and the map's later steps are not sent.
    func killStuckProbes(_ c: MapCleanup, plan: NodeCleanPlan, session: any RemoteSession,
                         into result: inout MapCleanResult) async throws -> ScriptFailure? {
        let ps: FramedOutputs
        switch await runCatching([.stuckProbes], session: session) {
        case .success(let f): ps = f
        case .failure(let f) where f.sessionLost: throw SessionLost(failure: f.failure)
        case .failure(let f): return f
        }
        guard let out = ps.outputs.first, out.exitCode == 0 else { return nil }
        let pids = PsParser.ddProcesses(reading: c.dm, in: PsParser.parse(out.stdout).value)
            .compactMap { ProcessID(String($0.pid)) }
        for pid in pids {
            let cmd = NodeCommand.killProcess(pid)
            let id: Int64
            do { id = try audit.planned(node: plan.node, cleanup: c, command: cmd) } catch { continue }
            // A failed kill is not fatal: a dd in D state dies once queueing is off, and
            // `multipath -f` (with retries) tells whether the map is still held.
            result.steps.append(try await act(cmd, id: id, session: session, note: "stuck probe on \(c.dm)"))
        }
        return nil
    }

    /// Runs one action in its own framed exec: started → command → outcome, all audited.
    func act(_ cmd: NodeCommand, id: Int64, session: any RemoteSession, note: String? = nil) async throws -> CleanStep {
        do { try audit.started(id) } catch {
            try? audit.finished(id, outcome: .aborted, exitCode: nil, stdout: nil, stderr: nil, duration: nil, reason: "audit write failed")
            return CleanStep(command: cmd.display, outcome: .aborted, note: "not sent: could not write the audit: \(error)")
        }
        let clock = ContinuousClock()
        let t0 = clock.now
        let sent = await runCatching([cmd], session: session)
        // A whole output decides by its exit code; one cut short is a failed step whose
        // frame (if any arrived) is kept for the audit.
        let framed: FramedOutputs
        var cutShort: String?
        switch sent {
        case .success(let f): framed = f
        case .failure(let f) where f.sessionLost:
            try? audit.finished(id, outcome: .failed, exitCode: nil, stdout: nil, stderr: nil, duration: clock.now - t0,
                                reason: "session failed, result unknown: \(f.message)")
            throw SessionLost(failure: f.failure)
        case .failure(let f):
            framed = f.partial
            cutShort = f.message
        }
        let elapsed = clock.now - t0
        let out = framed.outputs.first
        let outcome: ActionOutcome = cutShort == nil && out?.exitCode == 0 ? .ok : .failed
        var notes = [note, cutShort].compactMap { $0 }
        if out == nil { notes.append("no output frame: the command's result is unknown") }
        let reason: String? = notes.isEmpty ? nil : notes.joined(separator: "; ")
        try? audit.finished(id, outcome: outcome, exitCode: out?.exitCode, stdout: out?.stdout, stderr: out?.stderr,
                            duration: elapsed, reason: reason)
        return CleanStep(command: cmd.display, outcome: outcome, exitCode: out?.exitCode,
                         stdout: out?.stdout ?? "", stderr: out?.stderr ?? "", durationMS: elapsed.milliseconds, note: reason)
    }

    func runCatching(_ commands: [NodeCommand], session: any RemoteSession) async -> Result<FramedOutputs, ScriptFailure> {
        do {
            return .success(try await run(.sequence(commands, pauseAfterActions: 0),
                                          what: commands.map(\.display).joined(separator: "; "), session: session))
        } catch {
            return .failure(error)
        }
    }

    /// Every script of a cleanup goes through the session's one runner (truncation and
    /// completeness checked there), bounded by the command timeout.
    func run(_ kind: NodeScriptKind, what: String, session: any RemoteSession) async throws(ScriptFailure) -> FramedOutputs {
        try await session.run(kind, what: what, timeout: options.commandTimeout, outputLimit: options.outputLimit, nonce: nonce())
    }

    /// Procedure step 2.3 for every map whose steps all succeeded, re-reading a few times
    /// because udev removes by-id links asynchronously.
    func verify(_ r: inout NodeCleanResult, session: any RemoteSession, node: String) async {
        let pending = r.maps.indices.filter { r.maps[$0].outcome == .cleaned && !r.maps[$0].steps.isEmpty }
        guard !pending.isEmpty else { return }
        var last: [Int: String] = [:]
        for attempt in 1...options.verifyAttempts {
            if attempt > 1 { await sleep(options.verifyDelay) }
            let snapshot: NodeSnapshot
            do { snapshot = try await reread(session, node: node) } catch {
                for i in pending { last[i] = "re-read after cleanup failed: \(error.message)" }
                continue
            }
            last = [:]
            for i in pending { if let why = Self.remains(r.maps[i].cleanup, snapshot: snapshot) { last[i] = why } }
            if last.isEmpty { break }
        }
        for i in pending {
            if let why = last[i] {
                r.maps[i].outcome = .failed
                r.maps[i].reason = "steps succeeded but the check failed: \(why)"
            } else {
                r.maps[i].reason = "verified gone: map, disks \(r.maps[i].cleanup.disks.map(\.rawValue).joined(separator: ",")) and their by-id links"
            }
            // The history says "cleaned" only on this row: without it a map whose steps
            // succeeded but which is still there would read as cleaned in `fleet report`.
            do {
                try audit.verified(node: node, cleanup: r.maps[i].cleanup, ok: r.maps[i].outcome == .cleaned, reason: r.maps[i].reason ?? "")
            } catch {
                // The map is what the check saw either way; only the history misses the row.
                r.maps[i].reason = (r.maps[i].reason ?? "") + "; this check could not be written to the history: \(error)"
            }
        }
    }
}

extension CleanStep {
    /// `exit 1: map in use` for messages.
    var brief: String {
        let text = (stderr.isEmpty ? stdout : stderr).split(separator: "\n").last.map(String.init) ?? ""
        return "exit \(exitCode.map(String.init) ?? "none")" + (text.isEmpty ? "" : ": \(text)") + (note.map { " (\($0))" } ?? "")
    }
}

