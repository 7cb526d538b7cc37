/// What ``MultipathParser/parse(_:)`` found: the maps in output order, and every line it
/// did not turn into a map field (multipath's own log lines included, so nothing it said
/// is lost).
public struct MultipathParseResult: Sendable, Hashable {
    public var maps: [MultipathMap]
    public var warnings: [ParseWarning]
    public init(maps: [MultipathMap] = [], warnings: [ParseWarning] = []) {
        self.maps = maps; self.warnings = warnings
    }
}

/// Parses `multipath -ll`, `multipath -l` and `multipathd show topology` output of every
/// multipath-tools generation: the 0.4.x bracket format (`[size=…][features=…]`,
/// `\_ round-robin 0 [prio=1][active]`, `\_ 2:0:0:1 sdb 8:16 [active][ready]`) and the
/// 0.4.9+ tree format (`|-+- policy=… prio=… status=…`, `` `- 6:0:0:1 sdg 8:96 failed faulty running``).
///
/// Total: any text gives a result. Lines it does not understand, and multipath's log lines
/// (`Jul 16 10:00:00 | sdd: …`, `2327.19 | sdg: …`), become warnings with their line number.
/// The `===== paths list =====` table of `-v3` dumps is skipped: its rows are discovered
/// devices, not map paths.
public enum MultipathParser {
    public static func parse(_ text: String) -> MultipathParseResult {
        ASCIIText.read(text, parseBytes) ?? parseGeneral(text)
    }

    /// Any text: Substrings and Characters (what a non-ASCII line needs).
    static func parseGeneral(_ text: String) -> MultipathParseResult {
        let lines = TextLines.split(text)
        var maps: [MultipathMap] = []
        var warnings: [ParseWarning] = []
        var current: MultipathMap?
        var inPathsList = false

        func finish() {
            if let m = current { maps.append(m) }
            current = nil
        }
        func warn(_ n: Int, _ s: Substring, _ why: String? = nil) {
            let t = String(s)
            warnings.append(ParseWarning(line: n, text: why.map { "\($0): \(t)" } ?? t))
        }

        var idx = 0
        while idx < lines.count {
            let (n, line) = lines[idx]
            idx += 1
            if TextLines.isBlank(line) { inPathsList = false; continue }
            if isLogLine(line) {
                inPathsList = false
                if line.contains("===== paths list =====") { inPathsList = true }
                warn(n, line)
                continue
            }
            let trimmed = TextLines.trimmed(line)
            if trimmed.hasPrefix("=====") {
                inPathsList = trimmed.contains("paths list")
                continue
            }
            if let header = parseHeader(line, nextLine: nextNonBlank(lines, from: idx)) {
                inPathsList = false
                finish()
                var m = header
                m.line = n
                current = m
                continue
            }
            if isSizeLine(trimmed) {
                inPathsList = false
                guard current != nil else { warn(n, line, "size line outside a map"); continue }
                applySizeLine(trimmed, to: &current!)
                continue
            }
            if inPathsList { continue }
            let body = stripTree(trimmed)
            if let path = parsePath(body) {
                guard current != nil else { warn(n, line, "path outside a map"); continue }
                if current!.pathGroups.isEmpty { current!.pathGroups.append(PathGroup()) }
                current!.pathGroups[current!.pathGroups.count - 1].paths.append(path)
                continue
            }
            if let group = parseGroup(trimmed: trimmed, body: body) {
                guard current != nil else { warn(n, line, "path group outside a map"); continue }
                current!.pathGroups.append(group)
                continue
            }
            warn(n, line)
        }
        finish()
        return MultipathParseResult(maps: maps, warnings: warnings)
    }

    // MARK: - Line kinds

    /// `Jul 16 10:00:00 | sdd: alua not supported`, `2327.197855 | sdg: prio = const …`.
    static func isLogLine(_ line: Substring) -> Bool {
        line.utf8.withContiguousStorageIfAvailable { isLogLine(bytes: $0) } ?? Array(line.utf8).withUnsafeBufferPointer { isLogLine(bytes: $0) }
    }

    static func isLogLine(bytes u: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = min(u.count, 48)
        guard n >= 4 else { return false }
        var sawDigit = false
        var i = 0
        while i + 2 < n {
            let c = u[i]
            if c == UInt8(ascii: " "), u[i + 1] == UInt8(ascii: "|"), u[i + 2] == UInt8(ascii: " ") {
                return sawDigit && i > 0
            }
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sawDigit = true
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: " "), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "-"), UInt8(ascii: "+"):
                break
            default: return false
            }
            i += 1
        }
        return false
    }

    static func isSizeLine(_ trimmed: Substring) -> Bool {
        trimmed.hasPrefix("size=") || trimmed.hasPrefix("[size=")
    }

    private static func nextNonBlank(_ lines: [(number: Int, text: Substring)], from: Int) -> Substring? {
        var i = from
        // Bounded look-ahead: a header is followed by its size line, at most after a few log lines.
        while i < lines.count, i < from + 4 {
            if !TextLines.isBlank(lines[i].text), !isLogLine(lines[i].text) { return lines[i].text }
            i += 1
        }
        return nil
    }

    /// Removes the tree drawing (`|-+-`, `` `- ``, `\_`) in front of a path or group.
    static func stripTree(_ s: Substring) -> Substring {
        let u = s.utf8
        var i = u.startIndex
        while i != u.endIndex {
            switch u[i] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "|"), UInt8(ascii: "`"),
                 UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "\\"), UInt8(ascii: "_"):
                i = u.index(after: i)
            default:
                return Substring(u[i..<u.endIndex])
            }
        }
        return Substring(u[i..<u.endIndex])
    }

    // MARK: - Map header

    private static let actionPrefixes = ["create: ", "reload: ", "switchpg: ", "rename: ", "resize: ",
                                         "load: ", "reject: ", ": "]

    /// `mpatha (3600…) dm-0 LIO-ORG,lun1`, `3600… dm-0 LIO-ORG,lun1` (no alias),
    /// `mpath0 (3600…)` (0.4.x), `create: mpatha (3600…) undef LIO-ORG,lun1`,
    /// `uuid.… [nvme]:nvme0n1 NVMe,Model,Rev` (foreign NVMe).
    static func parseHeader(_ line: Substring, nextLine: Substring?) -> MultipathMap? {
        guard let first = line.utf8.first, !TextLines.isSpace(first),
              first != UInt8(ascii: "|"), first != UInt8(ascii: "`"), first != UInt8(ascii: "\\"),
              first != UInt8(ascii: "["), first != UInt8(ascii: "#")
        else { return nil }
        var body = TextLines.trimmed(line)
        for p in actionPrefixes where body.hasPrefix(p) {
            body = TextLines.trimmed(body.dropFirst(p.count))
            break
        }
        let toks = TextLines.tokens(body)
        guard let nameTok = toks.first, MapName(String(nameTok)) != nil else { return nil }
        var map = MultipathMap(name: String(nameTok))
        var k = 1
        var confirmed = false
        if k < toks.count, toks[k].hasPrefix("("), toks[k].hasSuffix(")"), toks[k].utf8.count > 2 {
            let w = String(toks[k].dropFirst().dropLast())
            guard MapName(w) != nil else { return nil }
            map.wwid = w
            k += 1
            confirmed = true
        } else {
            // Without an alias multipath prints the WWID once, as the name.
            map.wwid = map.name
        }
        if k < toks.count {
            let t = toks[k]
            if t.hasPrefix("dm-"), TextLines.isDigits(t.dropFirst(3)) {
                map.dm = String(t); k += 1; confirmed = true
            } else if t == "undef" {
                k += 1; confirmed = true
            } else if t.hasPrefix("["), t.contains("]:") {
                k += 1; confirmed = true
            }
        }
        if !confirmed {
            // Last resort for unusual headers: the next line is the map's size line.
            guard let next = nextLine, isSizeLine(TextLines.trimmed(next)) else { return nil }
        }
        if k < toks.count {
            let rest = body[toks[k].startIndex...]
            let parts = rest.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
            func clean(_ s: Substring?) -> String? {
                guard let s else { return nil }
                let t = TextLines.trimmed(s)
                return t.isEmpty || t == "##" ? nil : String(t)
            }
            map.vendor = clean(parts.first)
            map.product = parts.count > 1 ? clean(parts[1]) : nil
        }
        return map
    }

    // MARK: - Size line

    /// `size=1.0G features='0' hwhandler='1 alua' wp=rw` or
    /// `[size=20 GB][features="1 queue_if_no_path"][hwhandler="0"][rw]`.
    static func applySizeLine(_ s: Substring, to map: inout MultipathMap) {
        for (key, value) in keyValues(s) {
            switch key {
            case "size": map.size = value
            case "features": map.features = value
            case "hwhandler": map.hwhandler = value
            case "wp": map.wp = value
            case "": if value == "rw" || value == "ro" { map.wp = value }
            default: break
            }
        }
    }

    /// Splits `k=v k='v w' [k=v][word]` into pairs; a bare word has key "". On the bytes
    /// (``keyValueRanges(_:_:)``), whatever the text.
    static func keyValues(_ s: Substring) -> [(String, String)] {
        Array(s.utf8).withUnsafeBufferPointer { b in
            let t = ASCIIText(bytes: b)
            return keyValueRanges(t, 0..<b.count).map { (t.string($0.key), t.string($0.value)) }
        }
    }

    // MARK: - Path group

    /// `policy='service-time 0' prio=50 status=active` (tree) or
    /// `\_ round-robin 0 [prio=1][active]` (bracket).
    static func parseGroup(trimmed: Substring, body: Substring) -> PathGroup? {
        if body.hasPrefix("policy=") || body.hasPrefix("prio=") || body.hasPrefix("status=") {
            var g = PathGroup()
            for (k, v) in keyValues(body) {
                switch k {
                case "policy": g.policy = v
                case "prio": g.prio = Int(v)
                case "status": g.status = v
                default: break
                }
            }
            return g
        }
        guard trimmed.hasPrefix("\\_") else { return nil }
        var g = PathGroup()
        let bracket = body.firstIndex(of: "[") ?? body.endIndex
        let policy = TextLines.trimmed(body[body.startIndex..<bracket])
        g.policy = policy.isEmpty ? nil : String(policy)
        for (k, v) in keyValues(body[bracket...]) {
            switch k {
            case "prio", "pri": g.prio = Int(v)
            case "": if g.status == nil { g.status = v }
            default: break
            }
        }
        return g
    }

    // MARK: - Path

    /// `6:0:0:1 sdg 8:96 failed faulty running`, `#:#:#:# - #:# active faulty running`,
    /// `2:0:0:1 sdb 8:16 [active][ready]`, `0:1:1 nvme0c0n1 0:0 n/a optimized live`.
    static func parsePath(_ body: Substring) -> Path? {
        let toks = TextLines.tokens(body)
        guard toks.count >= 2, isHCTL(toks[0]) else { return nil }
        var p = Path(hctl: String(toks[0]))
        p.dev = toks[1] == "-" ? nil : String(toks[1])
        var k = 2
        if k < toks.count, TextLines.isMajorMinor(toks[k]) || toks[k] == "#:#" {
            p.majorMinor = toks[k] == "#:#" ? nil : String(toks[k])
            k += 1
        }
        guard k < toks.count else { return p }
        var words: [String] = []
        let rest = body[toks[k].startIndex...]
        if rest.hasPrefix("[") {
            for (key, v) in keyValues(rest) where key.isEmpty { words.append(v) }
        } else {
            var i = k
            while i < toks.count {
                if toks[i] == "i/o", i + 1 < toks.count, toks[i + 1] == "pending" {
                    words.append("i/o pending"); i += 2
                } else {
                    words.append(String(toks[i])); i += 1
                }
            }
        }
        if words.count > 0 { p.dmState = DMPathState(rawValue: words[0]) }
        if words.count > 1 { p.checkerState = CheckerState(rawValue: words[1]) }
        if words.count > 2 { p.deviceState = DeviceState(rawValue: words[2]) }
        return p
    }

    /// `6:0:0:1`, `#:#:#:#`, or NVMe's `0:1:1`.
    static func isHCTL(_ t: Substring) -> Bool {
        let parts = t.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 3 || parts.count == 4 else { return false }
        return parts.allSatisfy { p in
            !p.isEmpty && p.count <= 10 && (p.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
                || p.elementsEqual([UInt8(ascii: "#")]))
        }
    }
}
