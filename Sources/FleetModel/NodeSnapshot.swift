/// Everything one node said in one scan, parsed: the facts the classifier and the cleaner
/// read. Built from the raw ``CommandOutput``s, so the same value can be rebuilt from the
/// history or from a capture folder (`fleet explain`).
///
/// A fact that was not captured is `nil` (or absent from its dictionary), never an empty
/// default: "no holders" and "holders unknown" must not look alike.
public struct NodeSnapshot: Sendable {
    /// A parser warning and the capture it came from.
    public struct SourcedWarning: Sendable, Hashable {
        public var command: NodeCommand
        public var warning: ParseWarning
        public init(command: NodeCommand, warning: ParseWarning) { self.command = command; self.warning = warning }
    }

    public private(set) var outputs: [CommandOutput]
    /// `multipath -ll` maps, in output order; empty when it was not captured.
    public private(set) var maps: [MultipathMap] = []
    public private(set) var multipathCaptured = false
    public private(set) var multipathdMaps: [MultipathdMap]?
    public private(set) var dmInfo: [DMInfoRow]?
    public private(set) var dmStatus: [DMStatusRow]?
    public private(set) var lsblk: [BlockDeviceNode]?
    public private(set) var sysBlock: [SymlinkEntry]?
    public private(set) var diskByID: [SymlinkEntry]?
    public private(set) var mounts: [MountEntry]?
    /// /proc/self/mountinfo: the only place a bind of a device node (a raw block volume)
    /// names its device. nil when not captured (older scans, capture folders).
    public private(set) var mountInfo: [MountInfoEntry]?
    public private(set) var deviceStates: [BlockDeviceName: DeviceState] = [:]
    public private(set) var slavesHolders: [DMDeviceName: SlavesHolders] = [:]
    public private(set) var dmNames: [DMDeviceName: DMNameUUID] = [:]
    public private(set) var probes: [DMDeviceName: ProbeResult] = [:]
    public private(set) var processes: [ProcessRow]?
    /// Who holds dm/sd devices open (the discovery script's `proc-openers` section, or a
    /// capture folder's `proc-fd-block-links` + `proc-PID-*` files). nil when not captured.
    public private(set) var openersCapture: OpenersCapture?
    private var procLinks: [ProcFDLinksParser.Link]?
    private var procFiles: [Int32: [ProcFile: String]] = [:]
    /// Each path disk's own identity, `/sys/block/sdX/device/wwid` (`naa.6001405…`).
    public private(set) var deviceWWIDs: [BlockDeviceName: String] = [:]
    /// kubelet's CSI staging/publish records on the node; nil when not captured (older
    /// scans, capture folders), empty when the node has none.
    public private(set) var kubeletVolumes: [KubeletVolume]?
    public private(set) var sourcedWarnings: [SourcedWarning] = []
    /// Commands the node does not have (exit 127).
    public private(set) var missingCommands: [NodeCommand] = []
    /// The facts above by the keys the per-map look-ups use, built once all outputs are read.
    private var index = Index()

    public init(outputs: [CommandOutput]) {
        self.outputs = outputs
        for o in outputs { ingest(o) }
        if openersCapture == nil, let links = procLinks { openersCapture = assembleOpeners(links) }
        index = Index(self)
    }

    /// Each map's facts found by key instead of a scan of every row (perf: the scans made a
    /// node's cost quadratic in its map count). Every look-up answers exactly as the scan it
    /// replaces: the first row with the key, in the order the scan met them.
    private struct Index: Sendable {
        var dmInfoByUUID: [String: Int] = [:], dmInfoByName: [String: Int] = [:]
        var dmStatusByName: [String: Int] = [:]
        var multipathdByWWID: [String: Int] = [:], multipathdByName: [String: Int] = [:]
        /// ``deviceBase(_:)`` of each /proc/mounts source, and of each mountinfo source and
        /// bound device node, in their order.
        var mountBases: [String] = []
        var mountInfoBases: [(source: String, node: String?)] = []
        /// lsblk roots by KNAME (NAME when KNAME is missing): the first root with each.
        var lsblkRoot: [String: Int] = [:]
        /// Every lsblk device in the order ``lsblkMountpoints(of:)``'s walk (a stack, last
        /// root first) meets it when it descends everywhere, with its parent's position
        /// (-1 for a root), and the positions by KNAME, and by NAME for devices without one.
        var lsblkWalk: [(node: BlockDeviceNode, parent: Int)] = []
        var lsblkByKname: [String: [Int]] = [:]
        var lsblkByNameWithoutKname: [String?: [Int]] = [:]
        /// The `ps` rows of the `dd`s reading each device, in row order.
        var ddRows: [String: [Int]] = [:]
        /// Where each device is open: (opener, fd) positions in `openersCapture.openers`, in
        /// the order a walk of every opener's fds meets them (perf: multipathd holds every
        /// path disk open, so filtering all fds for each map made openers quadratic in maps).
        var openerFDs: [String: [(opener: Int, fd: Int)]] = [:]

        init() {}

        init(_ s: NodeSnapshot) {
            func firsts<T>(_ rows: [T]?, _ key: (T) -> String?) -> [String: Int] {
                var out: [String: Int] = [:]
                for (i, r) in (rows ?? []).enumerated() { if let k = key(r), out[k] == nil { out[k] = i } }
                return out
            }
            dmInfoByUUID = firsts(s.dmInfo) { $0.uuid }
            dmInfoByName = firsts(s.dmInfo) { $0.name }
            dmStatusByName = firsts(s.dmStatus) { $0.name }
            multipathdByWWID = firsts(s.multipathdMaps) { $0.wwid }
            multipathdByName = firsts(s.multipathdMaps) { $0.name }
            mountBases = (s.mounts ?? []).map { NodeSnapshot.deviceBase($0.source) }
            mountInfoBases = (s.mountInfo ?? []).map {
                (NodeSnapshot.deviceBase($0.source), $0.boundDeviceNode.map(NodeSnapshot.deviceBase))
            }
            lsblkRoot = firsts(s.lsblk) { $0.kname ?? $0.name }
            var stack = (s.lsblk ?? []).map { (node: $0, parent: -1) }
            while let e = stack.popLast() {
                let n = e.node, at = lsblkWalk.count
                lsblkWalk.append(e)
                if let k = n.kname { lsblkByKname[k, default: []].append(at) }
                else { lsblkByNameWithoutKname[n.name, default: []].append(at) }
                stack.append(contentsOf: n.children.map { (node: $0, parent: at) })
            }
            for (i, row) in (s.processes ?? []).enumerated() {
                var seen = Set<String>()
                for d in row.ddInputs where seen.insert(d).inserted { ddRows[d, default: []].append(i) }
            }
            for (i, o) in (s.openersCapture?.openers ?? []).enumerated() {
                for (j, fd) in o.fds.enumerated() { openerFDs[fd.device, default: []].append((i, j)) }
            }
        }
    }

    // MARK: - Ingest

    private mutating func warn(_ c: NodeCommand, _ ws: [ParseWarning]) {
        sourcedWarnings.append(contentsOf: ws.map { SourcedWarning(command: c, warning: $0) })
    }

    private mutating func ingest(_ o: CommandOutput) {
        let c = o.command
        if o.commandMissing {
            missingCommands.append(c)
            warn(c, [ParseWarning(line: 0, text: "command not found (exit 127): \(c.display)")])
            return
        }
        // A failing read-only command still may have printed something useful (multipath
        // prints maps and then complains); parse it and record the failure.
        if let code = o.exitCode, code != 0, !c.isProbe, !(c == .stuckProbes && code == 1) {
            let err = TextLines.split(o.stderr).first.map { String($0.text.prefix(200)) } ?? ""
            warn(c, [ParseWarning(line: 0, text: "exit \(code)\(err.isEmpty ? "" : ": " + err)")])
        }
        switch c {
        case .multipathList:
            let r = MultipathParser.parse(o.stdout)
            maps = r.maps; multipathCaptured = true; warn(c, r.warnings)
        case .multipathdMapsJSON:
            let r = MultipathdJSONParser.parse(o.stdout); multipathdMaps = r.value; warn(c, r.warnings)
        case .dmsetupInfo:
            let r = DmsetupInfoParser.parse(o.stdout); dmInfo = r.value; warn(c, r.warnings)
        case .dmsetupStatus:
            let r = DmsetupStatusParser.parse(o.stdout); dmStatus = r.value; warn(c, r.warnings)
        case .lsblk:
            let r = LsblkParser.parse(o.stdout); lsblk = r.value; warn(c, r.warnings)
        case .sysBlockListing:
            let r = SymlinkListingParser.parse(o.stdout); sysBlock = r.value; warn(c, r.warnings)
        case .diskByIDListing:
            let r = SymlinkListingParser.parse(o.stdout); diskByID = r.value; warn(c, r.warnings)
        case .procMounts:
            let r = ProcMountsParser.parse(o.stdout); mounts = r.value; warn(c, r.warnings)
        case .mountInfo:
            let r = MountInfoParser.parse(o.stdout); mountInfo = r.value; warn(c, r.warnings)
        case .deviceState(let d):
            guard o.exitCode == 0 else { return }
            let r = DeviceStateParser.parse(o.stdout)
            if let s = r.value { deviceStates[d] = DeviceState(rawValue: s) }
            warn(c, r.warnings)
        case .slavesHolders(let d):
            let r = SlavesHoldersParser.parse(o.stdout); warn(c, r.warnings)
            // A missing directory (exit 2) leaves that side unknown; what ls did list still counts.
            slavesHolders[d] = r.value
        case .dmNameUUID(let d):
            guard o.exitCode == 0 else { return }
            let r = DMNameUUIDParser.parse(o.stdout); dmNames[d] = r.value; warn(c, r.warnings)
        case .deviceWWID(let d):
            guard o.exitCode == 0 else { return }
            // Byte trim (perf: Foundation's trimmingCharacters was ~2% of a 50-map node).
            let v = TextLines.trimmedWhitespaceAndNewlines(o.stdout)
            if !v.isEmpty { deviceWWIDs[d] = String(v) }
        case .kubeletVolumes:
            let r = KubeletVolumeParser.parse(o.stdout); kubeletVolumes = r.value; warn(c, r.warnings)
        case .probe(let d, _):
            probes[d] = ProbeParser.parse(stderr: o.stderr, exitCode: o.exitCode)
        case .stuckProbes:
            let r = PsParser.parse(o.stdout); processes = r.value; warn(c, r.warnings)
        case .openers:
            guard o.exitCode == 0 else {
                openersCapture = OpenersCapture(incomplete: ["openers section exit \(o.exitCode.map(String.init) ?? "none")"])
                return
            }
            let r = OpenersParser.parse(o.stdout); openersCapture = r.value; warn(c, r.warnings)
        case .procFDLinks:
            let r = ProcFDLinksParser.parse(o.stdout); procLinks = r.value; warn(c, r.warnings)
        case .procFile(let pid, let f):
            guard o.exitCode == 0 else { return }
            procFiles[pid.rawValue, default: [:]][f] = o.stdout
        case .killProcess, .multipathdDisableQueueing, .disableQueueing, .flushMap, .flushBuffers, .deleteSCSIDevice, .removeWWID:
            break  // actions carry no discovery facts
        }
    }

    /// The openers of a capture folder: its `proc-fd-block-links` listing, each opener's
    /// state and name from `proc-PID-stat` (else `-status`), and its fds' flags from
    /// `proc-PID-fdinfo`. A pid without those files keeps the facts unknown.
    private mutating func assembleOpeners(_ links: [ProcFDLinksParser.Link]) -> OpenersCapture {
        var order: [Int32] = []
        var byPID: [Int32: Opener] = [:]
        for l in links {
            if byPID[l.pid] == nil { order.append(l.pid); byPID[l.pid] = Opener(pid: l.pid) }
            byPID[l.pid]!.fds.append(OpenFD(fd: l.fd, target: l.target))
        }
        for pid in order {
            var o = byPID[pid]!
            let files = procFiles[pid] ?? [:]
            let cmd = ProcessID(String(pid)).map { NodeCommand.procFile($0, .stat) }
            if let text = files[.stat] {
                let r = ProcStatParser.parse(text)
                if let s = r.value { o.comm = s.comm; o.state = s.state }
                if let cmd { warn(cmd, r.warnings) }
            } else if let text = files[.status] {
                let s = ProcStatusParser.parse(text).value
                o.comm = s.name; o.state = s.state
            }
            if let w = files[.wchan] { o.wchan = String(TextLines.trimmed(Substring(w))) }
            if let c = files[.cmdline] { o.cmdline = CmdlineParser.parse(c) }
            if let text = files[.fdinfo] {
                let blocks = FdinfoParser.parseBlocks(text)
                for i in o.fds.indices { o.fds[i].flags = blocks.value.first { $0.fd == o.fds[i].fd }?.flags }
            }
            byPID[pid] = o
        }
        return OpenersCapture(openers: order.map { byPID[$0]! })
    }

    // MARK: - Warnings

    /// Every warning, its text prefixed with the capture it came from (`multipath-ll: …`).
    public var warnings: [ParseWarning] {
        sourcedWarnings.map { ParseWarning(line: $0.warning.line, text: "\($0.command.captureName): \($0.warning.text)") }
    }

    // MARK: - Maps

    /// Maps whose every path is failed in the dm table's view (multipath's first state
    /// column): the ones that get the readability probe.
    public var allFailedMaps: [DMDeviceName] {
        maps.compactMap { m in
            guard m.allPathsFailed, let dm = m.dm.flatMap(DMDeviceName.init) else { return nil }
            return dm
        }
    }

    public func map(wwid: String) -> MultipathMap? { maps.first { $0.wwid == wwid } }
    public func map(dm: DMDeviceName) -> MultipathMap? { maps.first { $0.dm == dm.rawValue } }
    public func map(named name: String) -> MultipathMap? { maps.first { $0.name == name } }

    // MARK: - Per-device facts

    public func slaves(of dm: DMDeviceName) -> [String]? { slavesHolders[dm]?.slaves }
    public func holders(of dm: DMDeviceName) -> [String]? { slavesHolders[dm]?.holders }
    public func sysfsState(of disk: BlockDeviceName) -> DeviceState? { deviceStates[disk] }

    /// lsblk's STATE of a disk (lsblk reads the same sysfs file): a second witness.
    public func lsblkState(of disk: BlockDeviceName) -> DeviceState? {
        guard let roots = lsblk, let i = index.lsblkRoot[disk.rawValue] else { return nil }
        return roots[i].state.map(DeviceState.init(rawValue:))
    }
    public func probe(of dm: DMDeviceName) -> ProbeResult? { probes[dm] }
    public func nameUUID(of dm: DMDeviceName) -> DMNameUUID? { dmNames[dm] }

    /// Why the disks or the dm device are not this map's LUN (sysfs `device/wwid` of a path,
    /// or the dm uuid, names another WWID): the array reused a LUN number. Empty when every
    /// identity read agrees (identities not read, or in formats fleet does not compare, are
    /// not a mismatch).
    public func identityMismatches(of m: MultipathMap) -> [String] {
        guard let wwid = m.wwid else { return [] }
        var out: [String] = []
        for p in m.paths {
            guard let d = p.dev.flatMap(BlockDeviceName.init), let raw = deviceWWIDs[d],
                  let w = WWIDRule.wwid(fromSysfs: raw) else { continue }
            if !Self.sameIgnoringCase(w, wwid) { out.append("\(d) is \(raw) (WWID \(w)), not the map's \(wwid)") }
        }
        if let dm = m.dm.flatMap(DMDeviceName.init), let uuid = nameUUID(of: dm)?.uuid,
           uuid.hasPrefix("mpath-"), uuid != "mpath-\(wwid)" {
            out.append("\(dm) has dm uuid \(uuid), not mpath-\(wwid)")
        }
        return out
    }

    /// `a.lowercased() == b.lowercased()`, on bytes when both are ASCII (perf: two lower-cased
    /// copies per path disk of every map, ~1 M instructions of a 50-map node).
    static func sameIgnoringCase(_ a: String, _ b: String) -> Bool {
        if a.utf8.allSatisfy({ $0 < 0x80 }), b.utf8.allSatisfy({ $0 < 0x80 }) {
            func lower(_ c: UInt8) -> UInt8 { c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c + 32 : c }
            return a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { lower($0) == lower($1) }
        }
        return a.lowercased() == b.lowercased()
    }

    /// The `dmsetup info -c` row of a map: by uuid (`mpath-<wwid>`) first, then by name.
    public func dmInfo(for map: MultipathMap) -> DMInfoRow? {
        guard let rows = dmInfo else { return nil }
        if let w = map.wwid, let i = index.dmInfoByUUID["mpath-\(w)"] { return rows[i] }
        if let n = map.name, let i = index.dmInfoByName[n] { return rows[i] }
        return nil
    }

    public func openCount(of map: MultipathMap) -> Int? { dmInfo(for: map)?.openCount }

    /// The `dmsetup status` row of a map, by name.
    public func dmStatus(for map: MultipathMap) -> DMStatusRow? {
        guard let n = map.name, let rows = dmStatus, let i = index.dmStatusByName[n] else { return nil }
        return rows[i]
    }

    /// multipathd's view of a map, by WWID then name.
    public func multipathdMap(for map: MultipathMap) -> MultipathdMap? {
        guard let all = multipathdMaps else { return nil }
        if let w = map.wwid, let i = index.multipathdByWWID[w] { return all[i] }
        if let n = map.name, let i = index.multipathdByName[n] { return all[i] }
        return nil
    }

    /// multipathd's "queueing" for a map (`off`, `on`, `12 chk`, `39 sec`).
    public func queueing(of map: MultipathMap) -> String? { multipathdMap(for: map)?.queueing }

    /// Mounts of a map: its `/dev/mapper/NAME`, `/dev/dm-N`, its kpartx partitions
    /// (`NAME-part1`, `NAMEp1`, `NAME1`), its holders, and its path disks. Bind mounts
    /// show up once per mount point. Binds of one of those device nodes (raw block volumes,
    /// from /proc/self/mountinfo) are included with the node as source (`/dev/dm-3`), so
    /// every caller that asks "is it mounted" (the classifier, the cleaner's re-check) sees
    /// them. nil when neither /proc/mounts nor /proc/self/mountinfo was captured.
    public func mounts(of map: MultipathMap) -> [MountEntry]? {
        guard mounts != nil || mountInfo != nil else { return nil }
        let isMine = baseMatcher(for: map)
        var out: [MountEntry] = []
        for (e, base) in zip(mounts ?? [], index.mountBases) where isMine(base) { out.append(e) }
        for (e, bases) in zip(mountInfo ?? [], index.mountInfoBases) {
            let source: String
            if let node = e.boundDeviceNode, let base = bases.node, isMine(base) { source = node }
            else if isMine(bases.source) { source = e.source }
            else { continue }
            if !out.contains(where: { $0.mountpoint == e.mountpoint && ($0.source == source || $0.source == e.source) }) {
                out.append(MountEntry(source: source, mountpoint: e.mountpoint, fstype: e.fstype, options: e.mountOptions))
            }
        }
        return out
    }

    /// Binds of the map's device nodes (or of its partitions', holders', path disks') out of
    /// devtmpfs: kubelet's publish of a CSI raw block volume. Such a bind does not open the
    /// device, so the open count stays 0 and /proc/mounts shows only `udev` on the path.
    /// nil when /proc/self/mountinfo was not captured.
    public func deviceNodeBinds(of map: MultipathMap) -> [MountInfoEntry]? {
        guard let all = mountInfo else { return nil }
        let isMine = baseMatcher(for: map)
        return zip(all, index.mountInfoBases).compactMap { e, bases in bases.node.map(isMine) == true ? e : nil }
    }

    /// Whether a device path's ``deviceBase(_:)`` (`mpatha-part1` of `/dev/mapper/mpatha-part1`,
    /// `dm-0`, `sdg`) is the map, one of its partitions or holders, or one of its path disks.
    func baseMatcher(for map: MultipathMap) -> (String) -> Bool {
        var devs = Set<String>()
        if let n = map.name { devs.insert(n) }
        if let d = map.dm {
            devs.insert(d)
            if let dm = DMDeviceName(d), let hs = holders(of: dm) { devs.formUnion(hs) }
        }
        for p in map.paths { if let d = p.dev { devs.insert(d) } }
        let name = map.name
        return { base in
            if devs.contains(base) { return true }
            if let name, base.hasPrefix(name) {
                let rest = base.dropFirst(name.count)
                if rest.hasPrefix("-part") || (rest.hasPrefix("p") && TextLines.isDigits(rest.dropFirst()))
                    || TextLines.isDigits(rest) { return true }
            }
            return false
        }
    }

    /// Mount points lsblk shows for a map's dm device and everything below it (partitions,
    /// LVs), wherever it appears in the tree. nil when lsblk was not captured.
    public func lsblkMountpoints(of map: MultipathMap) -> [String]? {
        guard lsblk != nil else { return nil }
        guard let dm = map.dm else { return [] }
        let walk = index.lsblkWalk
        func matches(_ n: BlockDeviceNode) -> Bool { n.kname == dm || (n.kname == nil && n.name == map.name) }
        // The devices the walk takes (it does not descend below one it takes), in its order.
        let taken = ((index.lsblkByKname[dm] ?? []) + (index.lsblkByNameWithoutKname[map.name] ?? [])).sorted().filter { at in
            var up = walk[at].parent
            while up >= 0 { if matches(walk[up].node) { return false }; up = walk[up].parent }
            return true
        }
        var out: [String] = []
        for at in taken {
            for d in walk[at].node.flattened { for m in d.mountpoints where !out.contains(m) { out.append(m) } }
        }
        return out
    }

    /// Whether mounts can be ruled out: /proc/mounts, /proc/self/mountinfo or lsblk was captured.
    public var mountsKnown: Bool { mounts != nil || lsblk != nil || mountInfo != nil }

    /// `/dev/mapper/mpatha` → `mpatha`, `/dev/dm-0` → `dm-0`, `/dev/sdg1` → `sdg1`.
    static func deviceBase(_ source: String) -> String {
        guard source.hasPrefix("/") else { return source }
        return String(source.split(separator: "/").last ?? "")
    }

    /// dd processes reading this dm device (left over from an earlier probe, or anyone's).
    public func stuckDD(reading dm: DMDeviceName) -> [ProcessRow]? {
        processes.map { rows in (index.ddRows[dm.rawValue] ?? []).map { rows[$0] } }
    }

    /// A probe from an earlier scan still blocked in D state on this device: the same evidence
    /// as a probe that hangs now, since its read has not completed. Discovery does not probe
    /// such a device again (each probe would leave one more stuck dd), so without this a
    /// residual-hung map could never be seen residual-hung twice and confirmed for cleanup.
    public func earlierBlockedProbe(of dm: DMDeviceName) -> ProbeResult? {
        // /proc says it too: fleet's own probe (its FLEET_PROBE marker) blocked on the device.
        if let o = openersCapture?.openers.first(where: { o in
            o.probeNonce != nil && o.state == "D" && o.fds.contains { $0.device == dm.rawValue }
        }) {
            return ProbeResult(outcome: .hung, detail: "earlier probe still blocked: dd \(o.pid) in D state", stuckPID: o.pid)
        }
        guard let row = stuckDD(reading: dm)?.first(where: { Classifier.isOurProbe($0) && $0.stat.hasPrefix("D") })
        else { return nil }
        return ProbeResult(outcome: .hung, detail: "earlier probe still blocked: dd \(row.pid) in D state", stuckPID: row.pid)
    }

    /// The processes holding this map's dm device (as dm-N or /dev/mapper/NAME) or one of its
    /// path disks open, each with only its fds on those devices. nil when openers were not
    /// captured.
    public func openers(of map: MultipathMap) -> [Opener]? {
        guard let all = openersCapture?.openers else { return nil }
        // The fds on the map's devices and path disks, in opener order and each opener's fd
        // order: what filtering every opener's fds gives (an fd has one device, so a device
        // in both sets is taken once).
        var at: [(opener: Int, fd: Int)] = []
        for d in Self.mapDevices(map).union(Self.pathDisks(map)) { at += index.openerFDs[d] ?? [] }
        at.sort { $0.opener != $1.opener ? $0.opener < $1.opener : $0.fd < $1.fd }
        var out: [Opener] = []
        var k = 0
        while k < at.count {
            let i = at[k].opener
            var mine = all[i]
            mine.fds = []
            while k < at.count, at[k].opener == i { mine.fds.append(all[i].fds[at[k].fd]); k += 1 }
            out.append(mine)
        }
        return out
    }

    static func mapDevices(_ m: MultipathMap) -> Set<String> { Set([m.dm, m.name].compactMap { $0 }) }
    static func pathDisks(_ m: MultipathMap) -> Set<String> { Set(m.paths.compactMap(\.dev)) }

    /// Every opener of the map with its role by ``OpenerRule``.
    public func openerRoles(of map: MultipathMap, queues: Bool) -> [(opener: Opener, role: OpenerRole)]? {
        let devices = Self.mapDevices(map), disks = Self.pathDisks(map)
        return openers(of: map).map { list in
            list.map { ($0, OpenerRule.role(of: $0, mapDevices: devices, pathDisks: disks, queues: queues)) }
        }
    }

    /// Mount points from /proc/mounts (bind mounts included) and lsblk, without duplicates.
    public func allMountpoints(of map: MultipathMap) -> [String] {
        var out = (mounts(of: map) ?? []).map(\.mountpoint)
        for m in lsblkMountpoints(of: map) ?? [] where !out.contains(m) { out.append(m) }
        return out
    }

    /// The evidence record stored with a finding.
    public func evidence(for map: MultipathMap) -> MapEvidence {
        let dm = map.dm.flatMap(DMDeviceName.init)
        var states: [String: DeviceState] = [:]
        for p in map.paths {
            if let d = p.dev.flatMap(BlockDeviceName.init), let s = deviceStates[d] { states[d.rawValue] = s }
        }
        var probe = dm.flatMap { probes[$0] ?? earlierBlockedProbe(of: $0) }
        if var p = probe, let dm, p.outcome == .hung, let stuck = stuckDD(reading: dm)?.first {
            p.stuckPID = stuck.pid
            probe = p
        }
        return MapEvidence(
            queueing: queueing(of: map), openCount: openCount(of: map),
            holders: dm.flatMap { holders(of: $0) } ?? [], slaves: dm.flatMap { slaves(of: $0) } ?? [],
            mountpoints: allMountpoints(of: map), sysfsStates: states, probe: probe,
            openers: openerRoles(of: map, queues: queues(map)).map { $0.map { MapOpener($0.opener, $0.role) } })
    }

    /// Whether the map queues I/O with no path: multipathd says `on`, or (multipathd not
    /// read) the table has `queue_if_no_path`. Only then can a reader be stuck on it.
    public func queues(_ map: MultipathMap) -> Bool {
        switch queueing(of: map).map(QueueingState.init) {
        case .on?: return true
        case nil: return map.features?.contains("queue_if_no_path") ?? false
        default: return false
        }
    }
}

extension NodeCommand {
    var isProbe: Bool { if case .probe = self { true } else { false } }
}
