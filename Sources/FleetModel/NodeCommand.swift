/// Every command fleet ever runs on a node, as a typed value.
///
/// Arguments are validated names (``BlockDeviceName``, ``DMDeviceName``, ``MapName``),
/// never remote text, and ``shell`` renders each with single-quote escaping anyway. Paths
/// under `/sys`, `/dev` and `/proc` are prefixed with `$R`, which the node-side script sets
/// from `FLEET_SYSROOT` (empty on a real node). That is the simulator's testing seam and the
/// only one: nothing else in fleet knows whether it talks to a simulated node.
public enum NodeCommand: Hashable, Sendable {
    // Discovery (read-only)
    case multipathList                       // multipath -ll
    case multipathdMapsJSON                  // multipathd show maps json
    case dmsetupInfo                         // dmsetup info -c
    case dmsetupStatus                       // dmsetup status
    case lsblk                               // lsblk -J -o …
    case sysBlockListing                     // ls -l /sys/block/
    case diskByIDListing                     // ls -l /dev/disk/by-id/
    case procMounts                          // cat /proc/mounts
    case mountInfo                           // cat /proc/self/mountinfo (raw block binds)
    case deviceState(BlockDeviceName)        // cat /sys/block/sdX/device/state
    case slavesHolders(DMDeviceName)         // ls /sys/block/dm-N/slaves /sys/block/dm-N/holders
    case dmNameUUID(DMDeviceName)            // cat /sys/block/dm-N/dm/name /sys/block/dm-N/dm/uuid
    case deviceWWID(BlockDeviceName)         // read /sys/block/sdX/device/wwid (the LUN's own identity)
    case kubeletVolumes                      // kubelet's CSI vol_data.json records (staged/published volumes)
    case probe(DMDeviceName, seconds: Int)   // timeout -s KILL S dd if=/dev/dm-N … iflag=direct
    case stuckProbes                         // ps -eo pid,ppid,stat,wchan:32,etime,cmd
    case openers                             // who holds dm-*/sd* open: /proc/[0-9]*/fd links (one framed section)
    // The same facts as the capture folders hold them (`fleet explain DIR`; fleet does not run these)
    case procFDLinks                         // pid fd link, per fd on a block device
    case procFile(ProcessID, ProcFile)       // cat /proc/PID/{stat,status,wchan,cmdline,comm}, fdinfo blocks
    // Actions (change state; printed verbatim by a dry run)
    case killProcess(ProcessID)              // kill -9 PID (procedure step 1.3)
    case multipathdDisableQueueing(MapName)  // multipathd disablequeueing map MAP (multipathd keeps it off)
    case disableQueueing(MapName)            // dmsetup message MAP 0 fail_if_no_path (the fallback)
    case flushMap(MapName)                   // multipath -f MAP
    case flushBuffers(BlockDeviceName)       // blockdev --flushbufs /dev/sdX
    case deleteSCSIDevice(BlockDeviceName)   // echo 1 > /sys/block/sdX/device/delete
    case removeWWID(WWID)                    // multipath -w WWID (after a flush: /etc/multipath/wwids)

    /// True for commands that change the node.
    public var isAction: Bool { actionKind != nil }

    /// The audit's kind of a command that changes the node; nil for a read.
    public var actionKind: ActionKind? {
        switch self {
        case .killProcess: .kill
        case .multipathdDisableQueueing, .disableQueueing: .disableQueueing
        case .flushMap: .flushMap
        case .flushBuffers: .flushBuffers
        case .deleteSCSIDevice: .deleteDevice
        case .removeWWID: .removeWWID
        default: nil
        }
    }

    /// The name of the file this command's stdout has in a capture folder such as
    /// `fixtures/real/<state>/` (without `.txt`), so `fleet explain DIR` and the
    /// scanner share one mapping.
    public var captureName: String {
        switch self {
        case .multipathList: "multipath-ll"
        case .multipathdMapsJSON: "multipathd-show-maps-json"
        case .dmsetupInfo: "dmsetup-info-c"
        case .dmsetupStatus: "dmsetup-status"
        case .lsblk: "lsblk-json"
        case .sysBlockListing: "ls-sys-block"
        case .diskByIDListing: "ls-dev-disk-by-id"
        case .procMounts: "proc-mounts"
        case .mountInfo: "proc-self-mountinfo"
        case .deviceState(let d): "sys-block-\(d)-device-state"
        case .slavesHolders(let d): "sys-block-\(d)-slaves-holders"
        case .dmNameUUID(let d): "sys-block-\(d)-dm-name-uuid"
        case .deviceWWID(let d): "sys-block-\(d)-device-wwid"
        case .kubeletVolumes: "kubelet-csi-vol-data"
        case .probe(let d, _): "dd-\(d)"
        case .stuckProbes: "ps-dd-wchan"
        case .openers: "proc-openers"
        case .procFDLinks: "proc-fd-block-links"
        case .procFile(let p, let f): "proc-\(p)-\(f.rawValue)"
        case .killProcess(let p): "kill-\(p)"
        case .multipathdDisableQueueing(let m): "multipathd-disablequeueing-\(m)"
        case .disableQueueing(let m): "dmsetup-message-\(m)"
        case .flushMap(let m): "multipath-f-\(m)"
        case .flushBuffers(let d): "blockdev-flushbufs-\(d)"
        case .deleteSCSIDevice(let d): "delete-\(d)"
        case .removeWWID(let w): "multipath-w-\(w)"
        }
    }

    /// The inverse of ``captureName`` for the read-only commands (used by `fleet explain`).
    public init?(captureName name: String) {
        if let c = Self.fixedByCaptureName[name] { self = c; return }
        if let found = ASCIIText.read(name, Self.perDeviceCommand), let c = found { self = c; return }
        func middle(_ prefix: String, _ suffix: String) -> String? {
            guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
            return String(name.dropFirst(prefix.count).dropLast(suffix.count))
        }
        if let d = middle("sys-block-", "-device-state").flatMap(BlockDeviceName.init) { self = .deviceState(d); return }
        if let d = middle("sys-block-", "-slaves-holders").flatMap(DMDeviceName.init) { self = .slavesHolders(d); return }
        if let d = middle("sys-block-", "-dm-name-uuid").flatMap(DMDeviceName.init) { self = .dmNameUUID(d); return }
        if let d = middle("sys-block-", "-device-wwid").flatMap(BlockDeviceName.init) { self = .deviceWWID(d); return }
        if let d = middle("dd-", "").flatMap(DMDeviceName.init) { self = .probe(d, seconds: 0); return }
        for f in ProcFile.allCases {
            if let p = middle("proc-", "-" + f.rawValue).flatMap(ProcessID.init) { self = .procFile(p, f); return }
        }
        return nil
    }

    /// The per-disk and per-map commands of ``init(captureName:)``, the same steps on an ASCII
    /// name's bytes (perf: 300 names per 50-map node, ~8,000 instructions each as Characters);
    /// nil for any other name, which the general steps then read.
    static func perDeviceCommand(_ t: ASCIIText) -> NodeCommand? {
        let all = 0..<t.bytes.count
        func middle(_ prefix: StaticString, _ suffix: StaticString) -> String? {
            let a = prefix.utf8CodeUnitCount, b = suffix.utf8CodeUnitCount
            guard t.hasPrefix(all, prefix), t.hasSuffix(all, suffix), all.count > a + b else { return nil }
            return t.string(a..<(all.count - b))
        }
        if let d = middle("sys-block-", "-device-state").flatMap(BlockDeviceName.init) { return .deviceState(d) }
        if let d = middle("sys-block-", "-slaves-holders").flatMap(DMDeviceName.init) { return .slavesHolders(d) }
        if let d = middle("sys-block-", "-dm-name-uuid").flatMap(DMDeviceName.init) { return .dmNameUUID(d) }
        if let d = middle("sys-block-", "-device-wwid").flatMap(BlockDeviceName.init) { return .deviceWWID(d) }
        if let d = middle("dd-", "").flatMap(DMDeviceName.init) { return .probe(d, seconds: 0) }
        return nil
    }

    /// The commands without a device or process in their name, by capture name (built once:
    /// every output of every node is resolved through it).
    private static let fixedByCaptureName: [String: NodeCommand] = Dictionary(
        [NodeCommand.multipathList, .multipathdMapsJSON, .dmsetupInfo, .dmsetupStatus, .lsblk, .sysBlockListing,
         .diskByIDListing, .procMounts, .mountInfo, .stuckProbes, .openers, .procFDLinks, .kubeletVolumes]
            .map { ($0.captureName, $0) },
        uniquingKeysWith: { first, _ in first })

    /// POSIX sh text. `$R` is the sysroot prefix set by the node-side script.
    public var shell: String {
        switch self {
        case .multipathList: "multipath -ll"
        case .multipathdMapsJSON: "multipathd show maps json"
        case .dmsetupInfo: "dmsetup info -c"
        case .dmsetupStatus: "dmsetup status"
        case .lsblk: "lsblk -J -o NAME,KNAME,TYPE,SIZE,WWN,HCTL,STATE,MOUNTPOINT,PKNAME"
        case .sysBlockListing: "ls -l \"$R/sys/block/\""
        case .diskByIDListing: "ls -l \"$R/dev/disk/by-id/\""
        case .procMounts: "cat \"$R/proc/mounts\""
        case .mountInfo: "cat \"$R/proc/self/mountinfo\""
        case .deviceState, .dmNameUUID, .deviceWWID:
            // The read builtin: no process per disk or map (the same bytes `cat` prints).
            Self.readBuiltin(sysfsLines)
        case .slavesHolders(let d):
            // Globs and printf when both folders are there: no process per map (a node with
            // 50 maps ran 50 `ls`). Anything else is the real `ls`, with its own message and
            // exit code.
            Self.listingBuiltin(folders: ["\"$R/sys/block/\"\(q(d.rawValue))/slaves", "\"$R/sys/block/\"\(q(d.rawValue))/holders"])
        case .kubeletVolumes:
            // kubelet's records under the same sysroot seam; none (no kubelet) prints nothing.
            "for f in \"$R\"/var/lib/kubelet/plugins/kubernetes.io/csi/pv/*/vol_data.json \"$R\"/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/*/data/vol_data.json; do [ -f \"$f\" ] || continue; printf '== %s\\n' \"${f#\"$R\"}\"; cat \"$f\"; echo; done"
        case .probe(let d, let s):
            // Output redirected: a dd left in D state must not hold the SSH channel open.
            "timeout -s KILL \(s) dd if=\"$R/dev/\"\(q(d.rawValue)) of=/dev/null count=1 bs=1M iflag=direct"
        case .stuckProbes: "ps -eo pid,ppid,stat,wchan:32,etime,cmd"
        case .openers: Self.openersScript
        case .procFDLinks:
            "for p in \"$R\"/proc/[0-9]*; do for f in $p/fd/*; do l=$(readlink \"$f\" 2>/dev/null) || continue; case $l in /dev/dm-*|/dev/sd*|/dev/mapper/*) echo \"${p##*/} ${f##*/} $l\";; esac; done; done"
        case .procFile(let p, .fdinfo):
            "for f in \"$R\"/proc/\(p)/fd/*; do l=$(readlink $f); case $l in /dev/dm-*|/dev/sd*|/dev/mapper/*) echo \"== ${f##*/} $l\"; cat \"$R\"/proc/\(p)/fdinfo/${f##*/};; esac; done"
        case .procFile(let p, let f): "cat \"$R/proc/\(p)/\(f.rawValue)\""
        case .killProcess(let p): "kill -9 \(p.rawValue)"
        case .multipathdDisableQueueing(let m): "multipathd disablequeueing map \(q(m.rawValue))"
        case .disableQueueing(let m): "dmsetup message \(q(m.rawValue)) 0 fail_if_no_path"
        case .flushMap(let m): "multipath -f \(q(m.rawValue))"
        case .flushBuffers(let d): "blockdev --flushbufs \"$R/dev/\"\(q(d.rawValue))"
        case .deleteSCSIDevice(let d): "echo 1 > \"$R/sys/block/\"\(q(d.rawValue))/device/delete"
        case .removeWWID(let w): "multipath -w \(q(w.rawValue))"
        }
    }

    /// The one-line sysfs files this command prints, in order (`$R`-prefixed, quoted for
    /// sh); empty for every other command. Such a command is `read` of each file and one
    /// `printf '%s\n'` of the lines: the bytes `cat` prints for a one-line file, with no
    /// process per disk or map. A missing file or a line without its newline is a nonzero
    /// exit, and the parsers take nothing from a failed read. Phase 1 reads the disks' files
    /// with the same builtin into a variable.
    public var sysfsLines: [String] {
        switch self {
        case .deviceState(let d): ["\"$R/sys/block/\"\(q(d.rawValue))/device/state"]
        case .deviceWWID(let d): ["\"$R/sys/block/\"\(q(d.rawValue))/device/wwid"]
        case .dmNameUUID(let d): ["\"$R/sys/block/\"\(q(d.rawValue))/dm/name", "\"$R/sys/block/\"\(q(d.rawValue))/dm/uuid"]
        default: []
        }
    }

    /// `ls F1 F2` of two folders, written with the shell's own globs and printf: the bytes
    /// GNU ls prints to a pipe under LC_ALL=C (the script sets it): the operands in name
    /// order, each as `NAME:` then its entries one per line (dot files left out, sorted
    /// bytewise, as the shell sorts a glob in the C locale; a dangling link listed too), a
    /// blank line between them, exit 0. When a folder is missing or not readable, the
    /// real `ls`, so its message and exit code are ls's own.
    private static func listingBuiltin(folders: [String]) -> String {
        // ls lists directory operands in name order; the folders differ after a common prefix.
        let sorted = folders.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        let ready = sorted.map { "[ -d \($0) ] && [ -r \($0) ] && [ -x \($0) ]" }.joined(separator: " && ")
        let lists = sorted.enumerated().map { k, f in
            "printf '\(k == 0 ? "" : "\\n")%s:\\n' \(f); for w0 in \(f)/*; do if [ -e \"$w0\" ] || [ -L \"$w0\" ]; then printf '%s\\n' \"${w0##*/}\"; fi; done"
        }.joined(separator: "; ")
        return "if \(ready); then \(lists); else ls \(folders.joined(separator: " ")); fi"
    }

    /// `read -r w0 < F0 && read -r w1 < F1 && printf '%s\n%s\n' "$w0" "$w1"`.
    private static func readBuiltin(_ files: [String]) -> String {
        let vars = files.indices.map { "w\($0)" }
        let reads = zip(vars, files).map { "read -r \($0) < \($1)" }.joined(separator: " && ")
        let format = String(repeating: "%s\\n", count: files.count)
        return reads + " && printf '\(format)' " + vars.map { "\"$\($0)\"" }.joined(separator: " ")
    }

    /// The command as an operator would type it on a real node (no `$R`), for dry runs and logs.
    public var display: String {
        // The openers section is a script of its own: show what it reads, not its sh text.
        if case .openers = self {
            return "find /proc/[0-9]*/fd -lname '/dev/dm-*' -o -lname '/dev/sd*' -o -lname '/dev/mapper/*' + per opener /proc/PID/{stat,wchan,cmdline,fdinfo/FD} (openers)"
        }
        // A builtin read is shown as the `cat` an operator types, which prints the same bytes;
        // the builtin listing of a map's slaves and holders as the `ls` it stands for.
        let files = sysfsLines
        if !files.isEmpty { return Self.displayText("cat " + files.joined(separator: " ")) }
        if case .slavesHolders(let d) = self {
            return Self.displayText("ls \"$R/sys/block/\"\(q(d.rawValue))/slaves \"$R/sys/block/\"\(q(d.rawValue))/holders")
        }
        return Self.displayText(shell)
    }

    private static func displayText(_ shell: String) -> String {
        // The same chain of replacements as Foundation's replacingOccurrences would do, on
        // bytes (perf: the Foundation chain was ~5% of a scan's CPU, once per stored output).
        var b = Array(shell.utf8)
        for (from, to) in displayRewrites { b = replaceAll(b, from, to) }
        return String(decoding: b, as: UTF8.self)
    }
}

private let displayRewrites: [([UInt8], [UInt8])] = [
    // The last rule drops the closing quote of a path with no word after it
    // (`cat "$R/proc/mounts"` → `cat /proc/mounts`).
    ("\"$R/", "/"), ("/\"'", "/"), ("'/", "/"), ("\"'", ""), ("'", ""), ("\"", ""),
].map { (Array($0.0.utf8), Array($0.1.utf8)) }

/// Left to right, non-overlapping, like `replacingOccurrences(of:with:)` on ASCII text.
private func replaceAll(_ s: [UInt8], _ from: [UInt8], _ to: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(s.count)
    var i = 0
    let n = s.count, m = from.count
    while i < n {
        if i + m <= n, s[i] == from[0] {
            var k = 1
            while k < m, s[i + k] == from[k] { k += 1 }
            if k == m { out.append(contentsOf: to); i += m; continue }
        }
        out.append(s[i]); i += 1
    }
    return out
}

/// Single-quotes a word for POSIX sh. Validated names never need it; this is defence in depth.
@inline(__always)
public func q(_ s: String) -> String {
    // No quote inside (always, for validated names): skip Foundation (perf: per node script).
    if !s.utf8.contains(UInt8(ascii: "'")) { return "'" + s + "'" }
    return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
