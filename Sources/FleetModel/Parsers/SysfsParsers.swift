/// `ls /sys/block/dm-N/slaves /sys/block/dm-N/holders`: each is nil when its section is
/// absent from the output (directory missing or output cut), `[]` when it was empty.
public struct SlavesHolders: Sendable, Hashable, Codable {
    public var slaves: [String]?
    public var holders: [String]?
    public init(slaves: [String]? = nil, holders: [String]? = nil) { self.slaves = slaves; self.holders = holders }
}

public enum SlavesHoldersParser {
    public static func parse(_ text: String) -> Parsed<SlavesHolders> {
        ASCIIText.read(text, parseBytes) ?? parseGeneral(text)
    }

    /// ``parseGeneral(_:)`` on an ASCII text's bytes (perf: one per map, ~60,000
    /// instructions each through Substrings).
    static func parseBytes(_ t: ASCIIText) -> Parsed<SlavesHolders> {
        var result = SlavesHolders()
        var warnings: [ParseWarning] = []
        enum Section { case slaves, holders }
        var section: Section?
        var lines = t.lines
        while let (n, line) = lines.next() {
            let r = t.trimmed(line)
            if r.isEmpty { continue }
            if t[r.upperBound - 1] == UInt8(ascii: ":") {
                let path = r.lowerBound..<(r.upperBound - 1)
                if t.hasSuffix(path, "/holders") || t.equals(path, "holders") { section = .holders; if result.holders == nil { result.holders = [] }; continue }
                if t.hasSuffix(path, "/slaves") || t.equals(path, "slaves") { section = .slaves; if result.slaves == nil { result.slaves = [] }; continue }
                section = nil
                warnings.append(ParseWarning(line: n, text: t.string(line)))
                continue
            }
            var i = r.lowerBound
            switch section {
            case .slaves: while let tok = t.nextToken(&i, r.upperBound) { result.slaves!.append(t.string(tok)) }
            case .holders: while let tok = t.nextToken(&i, r.upperBound) { result.holders!.append(t.string(tok)) }
            case nil: warnings.append(ParseWarning(line: n, text: t.string(line)))
            }
        }
        return Parsed(value: result, warnings: warnings)
    }

    /// Any text: Substrings and Characters (what a non-ASCII line needs).
    static func parseGeneral(_ text: String) -> Parsed<SlavesHolders> {
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
        ASCIIText.read(text, parseBytes) ?? parseGeneral(text)
    }

    /// ``parseGeneral(_:)`` on an ASCII text's bytes (one per map).
    static func parseBytes(_ t: ASCIIText) -> Parsed<DMNameUUID> {
        var lines: [(number: Int, range: Range<Int>)] = []
        var it = t.lines
        while let l = it.next() { if !t.isBlank(l.range) { lines.append(l) } }
        var r = DMNameUUID()
        var warnings: [ParseWarning] = []
        if lines.count > 0 { r.name = t.string(t.trimmed(lines[0].range)) }
        if lines.count > 1 { r.uuid = t.string(t.trimmed(lines[1].range)) }
        for extra in lines.dropFirst(2) { warnings.append(ParseWarning(line: extra.number, text: t.string(extra.range))) }
        if lines.count < 2 { warnings.append(ParseWarning(line: max(1, lines.count), text: "expected 2 lines (name, uuid), got \(lines.count)")) }
        return Parsed(value: r, warnings: warnings)
    }

    /// Any text: Substrings and Characters (what a non-ASCII line needs).
    static func parseGeneral(_ text: String) -> Parsed<DMNameUUID> {
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
        ASCIIText.read(text, parseBytes) ?? parseGeneral(text)
    }

    /// ``parseGeneral(_:)`` on an ASCII text's bytes (one per path disk).
    static func parseBytes(_ t: ASCIIText) -> Parsed<String?> {
        var lines: [(number: Int, range: Range<Int>)] = []
        var it = t.lines
        while let l = it.next() { if !t.isBlank(l.range) { lines.append(l) } }
        guard let first = lines.first else {
            return Parsed(value: nil, warnings: [ParseWarning(line: 1, text: "empty device state")])
        }
        let word = t.trimmed(first.range)
        var warnings = lines.dropFirst().map { ParseWarning(line: $0.number, text: t.string($0.range)) }
        let ok = !word.isEmpty && word.count <= 32 && word.allSatisfy {
            (t[$0] >= UInt8(ascii: "a") && t[$0] <= UInt8(ascii: "z")) || t[$0] == UInt8(ascii: "-") || t[$0] == UInt8(ascii: "_")
        }
        guard ok else {
            warnings.insert(ParseWarning(line: first.number, text: "not a device state: \(t.string(first.range))"), at: 0)
            return Parsed(value: nil, warnings: warnings)
        }
        return Parsed(value: t.string(word), warnings: warnings)
    }

    /// Any text: Substrings and Characters (what a non-ASCII line needs).
    static func parseGeneral(_ text: String) -> Parsed<String?> {
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
