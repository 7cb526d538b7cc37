/// One line of /proc/self/mountinfo (proc(5)), octal escapes (`\040` …) decoded:
///
///     36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
///     (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
///
/// Unlike /proc/mounts it has the *root* (4th field): the path inside the mounted
/// filesystem. A bind mount of a device node, which is what kubelet does for a CSI raw
/// block volume, is a mount of the devtmpfs whose root names the node (`/dm-3`,
/// `/mapper/mpathb`); /proc/mounts only shows `udev` or `devtmpfs` on the target path.
public struct MountInfoEntry: Sendable, Hashable, Codable {
    public var mountID: Int
    public var parentID: Int
    /// `major:minor` of the mounted filesystem (devtmpfs's own, not the device node's).
    public var majorMinor: String
    public var root: String
    public var mountpoint: String
    public var mountOptions: String
    /// Zero or more `tag[:value]` fields (`shared:1`, `master:2`) before the ` - ` separator.
    public var optionalFields: [String]
    public var fstype: String
    public var source: String
    public var superOptions: String

    public init(mountID: Int, parentID: Int, majorMinor: String, root: String, mountpoint: String,
                mountOptions: String, optionalFields: [String] = [], fstype: String, source: String,
                superOptions: String) {
        self.mountID = mountID; self.parentID = parentID; self.majorMinor = majorMinor; self.root = root
        self.mountpoint = mountpoint; self.mountOptions = mountOptions; self.optionalFields = optionalFields
        self.fstype = fstype; self.source = source; self.superOptions = superOptions
    }

    /// A mount of (part of) the kernel's device filesystem: `/dev` itself or a bind of a node in it.
    public var isDevtmpfs: Bool { fstype == "devtmpfs" || source == "udev" || source == "devtmpfs" }

    /// For a bind of one device node out of devtmpfs: the node as a /dev path (`/dev/dm-3`,
    /// `/dev/mapper/mpathb`). nil for `/dev` itself (root `/`) and for other filesystems.
    /// A node removed since the bind (root `/dm-3//deleted`, as the kernel's dentry_path
    /// writes it; seen here with mknod + mount --bind + rm) still counts: its inode keeps
    /// major:minor, so the bind reaches whatever map has that dm minor now.
    public var boundDeviceNode: String? {
        guard isDevtmpfs, root != "/", root.hasPrefix("/") else { return nil }
        let r = isDeletedNode ? String(root.dropLast(Self.deletedSuffix.count)) : root
        guard r.count > 1 else { return nil }
        return "/dev" + r
    }

    /// The bound node has been deleted from devtmpfs since (root ends in `//deleted`).
    public var isDeletedNode: Bool { isDevtmpfs && root.hasSuffix(Self.deletedSuffix) }

    static let deletedSuffix = "//deleted"
}

/// Parses /proc/self/mountinfo. Total: a line it cannot read is a warning with its line
/// number, never a crash and never a guess.
public enum MountInfoParser {
    public static func parse(_ text: String) -> Parsed<[MountInfoEntry]> {
        var out: [MountInfoEntry] = []
        var warnings: [ParseWarning] = []
        for (n, line) in TextLines.split(text) {
            if TextLines.isBlank(line) { continue }
            let t = TextLines.tokens(line)
            // Six fixed fields, optional fields, then `-`, fstype, source, super options
            // (fields never hold a space: the kernel escapes it, so a longer tail is not mountinfo).
            guard t.count >= 9, let sep = t[6...].firstIndex(of: "-"), (3...4).contains(t.count - sep),
                  let id = TextLines.int(t[0]), let parent = TextLines.int(t[1]), TextLines.isMajorMinor(t[2])
            else {
                warnings.append(ParseWarning(line: n, text: String(line))); continue
            }
            out.append(MountInfoEntry(
                mountID: id, parentID: parent, majorMinor: String(t[2]),
                root: ProcMountsParser.unescape(t[3]), mountpoint: ProcMountsParser.unescape(t[4]),
                mountOptions: String(t[5]), optionalFields: t[6..<sep].map(String.init),
                fstype: ProcMountsParser.unescape(t[sep + 1]), source: ProcMountsParser.unescape(t[sep + 2]),
                superOptions: sep + 3 < t.count ? String(t[sep + 3]) : ""))
        }
        return Parsed(value: out, warnings: warnings)
    }
}
