/// `ls /sys/block/dm-N/slaves /sys/block/dm-N/holders`: each is nil when its section is
/// absent from the output (directory missing or output cut), `[]` when it was empty.
public struct SlavesHolders: Sendable, Hashable, Codable {
    public var slaves: [String]?
    public var holders: [String]?
    public init(slaves: [String]? = nil, holders: [String]? = nil) { self.slaves = slaves; self.holders = holders }
}

public enum SlavesHoldersParser {
    public static func parse(_ text: String) -> Parsed<SlavesHolders> {
        var result = SlavesHolders()
        var warnings: [ParseWarning] = []
        enum Section { case slaves, holders }
        var section: Section?
        for (n, line) in TextLines.split(text) {
            let t = TextLines.trimmed(line)
            if t.isEmpty { continue }
            if t.hasSuffix(":") {
                // `/sys/block/dm-0/holders:` (possibly under a sysroot prefix)
                let path = t.dropLast()
                if path.hasSuffix("/holders") || path == "holders" { section = .holders; if result.holders == nil { result.holders = [] }; continue }
                if path.hasSuffix("/slaves") || path == "slaves" { section = .slaves; if result.slaves == nil { result.slaves = [] }; continue }
                section = nil
                warnings.append(ParseWarning(line: n, text: String(line)))
                continue
            }
            switch section {
            case .slaves: result.slaves!.append(contentsOf: TextLines.tokens(t).map(String.init))
            case .holders: result.holders!.append(contentsOf: TextLines.tokens(t).map(String.init))
            case nil: warnings.append(ParseWarning(line: n, text: String(line)))
            }
        }
        return Parsed(value: result, warnings: warnings)
    }
}

/// `cat /sys/block/dm-N/dm/name /sys/block/dm-N/dm/uuid`.
public struct DMNameUUID: Sendable, Hashable, Codable {
    public var name: String?
    /// `mpath-<wwid>` for a multipath map.
    public var uuid: String?
    public init(name: String? = nil, uuid: String? = nil) { self.name = name; self.uuid = uuid }

    /// The WWID when the uuid is a multipath map's (`mpath-<wwid>`), else nil.
    public var wwid: String? {
        guard let u = uuid, u.hasPrefix("mpath-"), u.count > 6 else { return nil }
        return String(u.dropFirst(6))
    }
}

public enum DMNameUUIDParser {
    public static func parse(_ text: String) -> Parsed<DMNameUUID> {
        let lines = TextLines.split(text).filter { !TextLines.isBlank($0.text) }
        var r = DMNameUUID()
        var warnings: [ParseWarning] = []
        if lines.count > 0 { r.name = String(TextLines.trimmed(lines[0].text)) }
        if lines.count > 1 { r.uuid = String(TextLines.trimmed(lines[1].text)) }
        for extra in lines.dropFirst(2) { warnings.append(ParseWarning(line: extra.number, text: String(extra.text))) }
        if lines.count < 2 { warnings.append(ParseWarning(line: max(1, lines.count), text: "expected 2 lines (name, uuid), got \(lines.count)")) }
        return Parsed(value: r, warnings: warnings)
    }
}

/// `cat /sys/block/sdX/device/state`: `running`, `offline`, `blocked`, `transport-offline`, …
public enum DeviceStateParser {
    public static func parse(_ text: String) -> Parsed<String?> {
        let lines = TextLines.split(text).filter { !TextLines.isBlank($0.text) }
        guard let first = lines.first else {
            return Parsed(value: nil, warnings: [ParseWarning(line: 1, text: "empty device state")])
        }
        let word = TextLines.trimmed(first.text)
        var warnings = lines.dropFirst().map { ParseWarning(line: $0.number, text: String($0.text)) }
        let ok = !word.isEmpty && word.utf8.count <= 32 && word.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_")
        }
        guard ok else {
            warnings.insert(ParseWarning(line: first.number, text: "not a device state: \(first.text)"), at: 0)
            return Parsed(value: nil, warnings: warnings)
        }
        return Parsed(value: String(word), warnings: warnings)
    }
}
