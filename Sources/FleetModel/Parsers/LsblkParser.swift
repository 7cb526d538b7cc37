import Foundation

/// One device of `lsblk -J -o NAME,KNAME,TYPE,SIZE,WWN,HCTL,STATE,MOUNTPOINT,PKNAME`.
/// lsblk prints a map once under each of its path disks; ``LsblkParser`` keeps that tree.
public struct BlockDeviceNode: Sendable, Hashable, Codable {
    public var name: String?
    public var kname: String?
    public var type: String?
    public var size: String?
    public var wwn: String?
    public var hctl: String?
    public var state: String?
    /// MOUNTPOINT, or the non-null entries of MOUNTPOINTS (lsblk ≥ 2.37 prints both shapes).
    public var mountpoints: [String]
    public var pkname: String?
    public var children: [BlockDeviceNode]

    public init(name: String? = nil, kname: String? = nil, type: String? = nil, size: String? = nil, wwn: String? = nil,
                hctl: String? = nil, state: String? = nil, mountpoints: [String] = [], pkname: String? = nil,
                children: [BlockDeviceNode] = []) {
        self.name = name; self.kname = kname; self.type = type; self.size = size; self.wwn = wwn
        self.hctl = hctl; self.state = state; self.mountpoints = mountpoints; self.pkname = pkname; self.children = children
    }

    /// This node and all its descendants, depth first.
    public var flattened: [BlockDeviceNode] {
        var out: [BlockDeviceNode] = []
        var stack: [BlockDeviceNode] = [self]
        while let n = stack.popLast() {
            out.append(n)
            stack.append(contentsOf: n.children.reversed())
        }
        return out
    }
}

public enum LsblkParser {
    public static func parse(_ text: String) -> Parsed<[BlockDeviceNode]> {
        // Byte trim (perf: Foundation's trimmingCharacters was ~10% of scan CPU).
        let trimmed = TextLines.trimmedWhitespaceAndNewlines(text)
        guard !trimmed.isEmpty else { return Parsed(value: []) }
        // Perf: the strict byte reader first; JSONSerialization for anything it leaves.
        if let doc = FastJSON.parse(trimmed), let fast = try? fastDevices(doc) { return Parsed(value: fast) }
        return parseWithFoundation(text)
    }

    /// The reference reading (JSONSerialization): every input the fast reader leaves, and
    /// the tests' oracle for the ones it takes.
    static func parseWithFoundation(_ text: String) -> Parsed<[BlockDeviceNode]> {
        let trimmed = TextLines.trimmedWhitespaceAndNewlines(text)
        guard !trimmed.isEmpty else { return Parsed(value: []) }
        guard JSONDepth.max(trimmed.utf8) <= 32 else {
            return Parsed(value: [], warnings: [ParseWarning(line: 1, text: "JSON nested too deeply")])
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed]),
              let root = obj as? [String: Any], let devs = root["blockdevices"] as? [Any]
        else {
            let first = TextLines.split(text).first.map { String($0.text.prefix(200)) } ?? ""
            return Parsed(value: [], warnings: [ParseWarning(line: 1, text: "not lsblk JSON: \(first)")])
        }
        return Parsed(value: devs.compactMap { node($0, depth: 0) })
    }

    /// The same tree as the JSONSerialization path, from a document ``FastJSON`` read;
    /// throws (caller falls back) where that path would warn or read loosely.
    static func fastDevices(_ doc: FastJSON.Document) throws(FastJSON.Bail) -> [BlockDeviceNode] {
        guard case .array(let devs)? = doc.value(doc.root, "blockdevices") else { throw FastJSON.Bail() }
        var out: [BlockDeviceNode] = []
        out.reserveCapacity(devs.count)
        for d in devs {
            if let n = try fastNode(d, depth: 0, doc) { out.append(n) }
        }
        return out
    }

    private static func fastNode(_ d: FastJSON.Value, depth: Int, _ doc: FastJSON.Document) throws(FastJSON.Bail) -> BlockDeviceNode? {
        guard case .object = d, depth < 16 else { return nil }
        var n = BlockDeviceNode()
        n.name = try doc.string(doc.value(d, "name"))
        n.kname = try doc.string(doc.value(d, "kname"))
        n.type = try doc.string(doc.value(d, "type"))
        n.size = try doc.string(doc.value(d, "size"))
        n.wwn = try doc.string(doc.value(d, "wwn"))
        n.hctl = try doc.string(doc.value(d, "hctl"))
        n.state = try doc.string(doc.value(d, "state"))
        n.pkname = try doc.string(doc.value(d, "pkname"))
        if let m = try doc.string(doc.value(d, "mountpoint")) { n.mountpoints.append(m) }
        if case .array(let ms)? = doc.value(d, "mountpoints") {
            for m in ms {
                switch m {
                case .string:
                    if let s = try doc.string(m), !n.mountpoints.contains(s) { n.mountpoints.append(s) }
                case .null, .array, .object: break
                // JSONSerialization makes NSNumbers of these; whether `as String` takes them is its business.
                case .int, .bool: throw FastJSON.Bail()
                }
            }
        }
        if case .array(let cs)? = doc.value(d, "children") {
            for c in cs {
                if let child = try fastNode(c, depth: depth + 1, doc) { n.children.append(child) }
            }
        }
        return n
    }

    private static func node(_ v: Any, depth: Int) -> BlockDeviceNode? {
        guard let d = v as? [String: Any], depth < 16 else { return nil }
        var n = BlockDeviceNode()
        n.name = JSONDepth.string(d["name"])
        n.kname = JSONDepth.string(d["kname"])
        n.type = JSONDepth.string(d["type"])
        n.size = JSONDepth.string(d["size"])
        n.wwn = JSONDepth.string(d["wwn"])
        n.hctl = JSONDepth.string(d["hctl"])
        n.state = JSONDepth.string(d["state"])
        n.pkname = JSONDepth.string(d["pkname"])
        if let m = JSONDepth.string(d["mountpoint"]) { n.mountpoints.append(m) }
        for case let m as String in (d["mountpoints"] as? [Any]) ?? [] where !n.mountpoints.contains(m) {
            n.mountpoints.append(m)
        }
        n.children = ((d["children"] as? [Any]) ?? []).compactMap { node($0, depth: depth + 1) }
        return n
    }
}
