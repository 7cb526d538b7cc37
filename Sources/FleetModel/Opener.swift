/// A process holding a block device open, as /proc on the node shows it: who it is, what it
/// is doing, and per file descriptor on a device how it opened it.
///
/// Read from `/proc/[0-9]*/fd` links in the discovery script (lsof and fuser are not
/// installed on minimal nodes), or assembled from a capture folder's `proc-PID-*` files.
/// A fact that could not be read is nil: the rule in ``OpenerRule`` never guesses it.
public struct Opener: Sendable, Hashable, Codable {
    public var pid: Int32
    /// The kernel's name for the process (`/proc/PID/stat` field 2, `/proc/PID/comm`).
    public var comm: String?
    /// The state letter of `/proc/PID/stat` (`D` = uninterruptible sleep, blocked in I/O).
    public var state: String?
    /// `/proc/PID/wchan`: where it sleeps (`submit_bio_wait` for a read queued on a map).
    public var wchan: String?
    /// `/proc/PID/cmdline`, split at its NULs; empty for kernel threads.
    public var cmdline: [String]?
    public var fds: [OpenFD]
    /// The nonce of the fleet probe this process is (`FLEET_PROBE=<nonce>` in its
    /// environment), or nil when it is not one of fleet's probes.
    public var probeNonce: String?

    public init(pid: Int32, comm: String? = nil, state: String? = nil, wchan: String? = nil,
                cmdline: [String]? = nil, fds: [OpenFD] = [], probeNonce: String? = nil) {
        self.pid = pid; self.comm = comm; self.state = state; self.wchan = wchan
        self.cmdline = cmdline; self.fds = fds; self.probeNonce = probeNonce
    }

    /// `pid 5733 dd (D, submit_bio_wait)`: how reasons name an opener.
    public var label: String {
        var s = "pid \(pid) \(comm ?? "?")"
        if probeNonce != nil { s += " [fleet probe]" }
        s += " (\(state ?? "state unknown")" + (wchan.map { $0 == "0" || $0.isEmpty ? "" : ", \($0)" } ?? "") + ")"
        return s
    }

    /// The command line for display: arguments joined by spaces (NULs are not shown).
    public var commandLine: String? { cmdline.map { $0.joined(separator: " ") } }
}

/// One file descriptor of an ``Opener`` on a block device.
public struct OpenFD: Sendable, Hashable, Codable {
    public var fd: Int32
    /// The `/proc/PID/fd/FD` link text, e.g. `/dev/dm-0`, `/dev/sde`, `/dev/mapper/mpatha`.
    public var target: String
    /// `flags` of `/proc/PID/fdinfo/FD` (octal in the file); nil when it could not be read.
    public var flags: UInt32?

    public init(fd: Int32, target: String, flags: UInt32? = nil) {
        self.fd = fd; self.target = target; self.flags = flags
    }

    /// The device's base name: `dm-0`, `sde`, `mpatha` (for `/dev/mapper/mpatha`); a
    /// ` (deleted)` suffix is dropped (the node was removed, the open file still reaches it).
    public var device: String {
        ASCIIText.read(target, Self.deviceBytes) ?? generalDevice
    }

    /// ``device`` of an ASCII link on its bytes (perf: split as Characters, ~10,000
    /// instructions, for every fd of every opener of every map): the last non-empty
    /// `/`-separated part, ` (deleted)` dropped first.
    static func deviceBytes(_ t: ASCIIText) -> String {
        var end = t.bytes.count
        if t.hasSuffix(0..<end, " (deleted)") { end -= 10 }
        while end > 0, t[end - 1] == UInt8(ascii: "/") { end -= 1 }
        var start = end
        while start > 0, t[start - 1] != UInt8(ascii: "/") { start -= 1 }
        return t.string(start..<end)
    }

    /// Any link text, as Characters.
    var generalDevice: String {
        var t = Substring(target)
        if t.hasSuffix(" (deleted)") { t = t.dropLast(10) }
        return String(t.split(separator: "/").last ?? "")
    }

    /// O_ACCMODE of the flags: 0 read-only, 1 write-only, 2 read-write.
    public var access: FileAccess? {
        guard let f = flags else { return nil }
        switch f & 3 {
        case 0: return .readOnly
        case 1: return .writeOnly
        default: return .readWrite
        }
    }
}

public enum FileAccess: String, Sendable, Hashable, Codable {
    case readOnly = "read-only", writeOnly = "write-only", readWrite = "read-write"
}

/// What one opener of a map is to fleet, by the documented rule (README, docs/clean.md).
public enum OpenerRole: Sendable, Hashable {
    /// A reader blocked in the queued I/O of a map with no path: it goes away once queueing
    /// is disabled (its read fails with EIO). Not a user.
    case stuckReader
    /// multipathd holding a path disk read-only: its path checker, on every path it
    /// monitors; it closes the disk when the disk is deleted. Not a user.
    case pathChecker
    /// A user of the device: the map is in use. The text says which condition failed.
    case user(String)
    /// A /proc fact the rule needs is missing: a human decides.
    case unknown(String)
}

/// The documented rule that tells a stuck reader from a user.
///
/// A **stuck reader** is a process that
/// - is in state `D` (uninterruptible sleep: blocked in I/O),
/// - has every fd on the map's devices open read-only (fdinfo flags, O_ACCMODE 0), and
/// - is one of ``stuckReaderPrograms`` by its kernel name (comm): the programs that read a
///   device by themselves (a probe, udev's identification, LVM and multipath scans) and
///   never hold data of their own on it.
///
/// Why this is safe to clean: a read-only opener cannot have written anything that a flush
/// could lose, a `D`-state one is blocked in the very I/O that cannot complete (every path is
/// failed and the map queues), and the listed programs only look at the device. Anything else
/// — a read-write or write-only fd, a process not blocked in I/O (a shell, a sleeping
/// holder, an application), a program off the list — is a user and the map is `in-use`.
/// A missing fact (state, flags, name) is never guessed: `needs-review`.
public enum OpenerRule {
    /// Kernel process names (comm) of the programs whose stuck reads fleet may end.
    public static let stuckReaderPrograms: [String: String] = [
        "dd": "dd (the vendor's probe, an operator's or fleet's own)",
        "blkid": "blkid (udev's and operators' identification)",
        "(udev-worker)": "udev worker (systemd 250 and later)",
        "systemd-udevd": "udev worker (older systemd names its workers after the daemon)",
        "lvm": "LVM scan", "pvscan": "LVM scan", "vgscan": "LVM scan", "lvs": "LVM scan",
        "multipath": "multipath (the command, not the daemon)",
        "kpartx": "kpartx partition scan",
    ]

    /// The role of `o` for a map whose device names are `mapDevices` (dm-N, the map name)
    /// and whose path disks are `pathDisks`. `queues`: whether the map queues I/O (only
    /// then can a reader be stuck on it for lack of paths).
    public static func role(of o: Opener, mapDevices: Set<String>, pathDisks: Set<String>, queues: Bool) -> OpenerRole {
        let mine = o.fds.filter { mapDevices.contains($0.device) || pathDisks.contains($0.device) }
        guard let comm = o.comm, let state = o.state else {
            return .unknown("\(o.label): /proc/\(o.pid)/stat not readable")
        }
        if let fd = mine.first(where: { $0.flags == nil }) {
            return .unknown("\(o.label): flags of fd \(fd.fd) on \(fd.device) not readable")
        }
        let writable = mine.filter { $0.access != .readOnly }
        let onMap = mine.contains { mapDevices.contains($0.device) }
        // multipathd opens every path it checks (read-only) and closes it when the disk goes.
        if comm == "multipathd", !onMap, writable.isEmpty { return .pathChecker }
        var why: [String] = []
        if let w = writable.first { why.append("\(w.access?.rawValue ?? "?") fd \(w.fd) on \(w.device)") }
        if state != "D" { why.append("state \(state), not blocked in I/O") }
        if stuckReaderPrograms[comm] == nil { why.append("\(comm) is not on the stuck-reader list") }
        if why.isEmpty && !queues { why.append("the map does not queue, so nothing keeps a reader stuck on it") }
        if why.isEmpty { return .stuckReader }
        return .user("\(o.label) holds it: " + why.joined(separator: ", "))
    }
}
