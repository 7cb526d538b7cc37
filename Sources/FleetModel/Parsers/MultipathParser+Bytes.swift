/// ``MultipathParser/parse(_:)`` on an ASCII text's bytes: the same steps as the general
/// reading, line for line, on byte ranges (perf: that reading made a Substring per line and
/// token, compared them as Characters and tried eight prefixes per header: ~8 M
/// instructions of a 50-map node). `ByteReaderTests` compares the two.
extension MultipathParser {
    static func parseBytes(_ t: ASCIIText) -> MultipathParseResult {
        var lines: [(number: Int, range: Range<Int>)] = []
        var it = t.lines
        while let l = it.next() { lines.append(l) }
        var maps: [MultipathMap] = []
        var warnings: [ParseWarning] = []
        var current: MultipathMap?
        var inPathsList = false

        func finish() {
            if let m = current { maps.append(m) }
            current = nil
        }
        func warn(_ n: Int, _ r: Range<Int>, _ why: String? = nil) {
            let s = t.string(r)
            warnings.append(ParseWarning(line: n, text: why.map { "\($0): \(s)" } ?? s))
        }
        /// The general reading's look-ahead, only taken when a header needs it.
        func nextNonBlank(from: Int) -> Range<Int>? {
            var i = from
            while i < lines.count, i < from + 4 {
                if !t.isBlank(lines[i].range), !isLogLine(t, lines[i].range) { return lines[i].range }
                i += 1
            }
            return nil
        }

        var idx = 0
        while idx < lines.count {
            let (n, line) = lines[idx]
            idx += 1
            if t.isBlank(line) { inPathsList = false; continue }
            if isLogLine(t, line) {
                inPathsList = t.firstIndex(of: "===== paths list =====", in: line) != nil
                warn(n, line)
                continue
            }
            let trimmed = t.trimmed(line)
            if t.hasPrefix(trimmed, "=====") {
                inPathsList = t.firstIndex(of: "paths list", in: trimmed) != nil
                continue
            }
            let after = idx
            if let header = parseHeader(t, line, nextLine: { nextNonBlank(from: after) }) {
                inPathsList = false
                finish()
                var m = header
                m.line = n
                current = m
                continue
            }
            if isSizeLine(t, trimmed) {
                inPathsList = false
                guard current != nil else { warn(n, line, "size line outside a map"); continue }
                applySizeLine(t, trimmed, to: &current!)
                continue
            }
            if inPathsList { continue }
            let body = stripTree(t, trimmed)
            if let path = parsePath(t, body) {
                guard current != nil else { warn(n, line, "path outside a map"); continue }
                if current!.pathGroups.isEmpty { current!.pathGroups.append(PathGroup()) }
                current!.pathGroups[current!.pathGroups.count - 1].paths.append(path)
                continue
            }
            if let group = parseGroup(t, trimmed: trimmed, body: body) {
                guard current != nil else { warn(n, line, "path group outside a map"); continue }
                current!.pathGroups.append(group)
                continue
            }
            warn(n, line)
        }
        finish()
        return MultipathParseResult(maps: maps, warnings: warnings)
    }

    private static func isLogLine(_ t: ASCIIText, _ r: Range<Int>) -> Bool {
        isLogLine(bytes: UnsafeBufferPointer(rebasing: t.bytes[r]))
    }

    private static func isSizeLine(_ t: ASCIIText, _ trimmed: Range<Int>) -> Bool {
        t.hasPrefix(trimmed, "size=") || t.hasPrefix(trimmed, "[size=")
    }

    private static func stripTree(_ t: ASCIIText, _ r: Range<Int>) -> Range<Int> {
        var i = r.lowerBound
        while i < r.upperBound {
            switch t[i] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "|"), UInt8(ascii: "`"),
                 UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "\\"), UInt8(ascii: "_"):
                i += 1
            default:
                return i..<r.upperBound
            }
        }
        return i..<r.upperBound
    }

    private static func isMapName(_ t: ASCIIText, _ r: Range<Int>) -> Bool {
        guard !r.isEmpty, r.count <= 128, t[r.lowerBound] != UInt8(ascii: "-") else { return false }
        for i in r where !MapName.allowed(t[i]) { return false }
        return true
    }

    private static func isDigits(_ t: ASCIIText, _ r: Range<Int>) -> Bool {
        guard !r.isEmpty else { return false }
        for i in r where !(t[i] >= UInt8(ascii: "0") && t[i] <= UInt8(ascii: "9")) { return false }
        return true
    }

    /// ``parseHeader(_:nextLine:)``.
    private static func parseHeader(_ t: ASCIIText, _ line: Range<Int>, nextLine: () -> Range<Int>?) -> MultipathMap? {
        guard !line.isEmpty else { return nil }
        let first = t[line.lowerBound]
        guard !TextLines.isSpace(first),
              first != UInt8(ascii: "|"), first != UInt8(ascii: "`"), first != UInt8(ascii: "\\"),
              first != UInt8(ascii: "["), first != UInt8(ascii: "#")
        else { return nil }
        var body = t.trimmed(line)
        // The action prefixes of ``actionPrefixes``, in its order; each ends in ": ".
        for p in actionPrefixBytes where t.hasPrefix(body, p) {
            body = t.trimmed((body.lowerBound + p.utf8CodeUnitCount)..<body.upperBound)
            break
        }
        var toks: [Range<Int>] = []
        var i = body.lowerBound
        while let tok = t.nextToken(&i, body.upperBound) { toks.append(tok) }
        guard let nameTok = toks.first, isMapName(t, nameTok) else { return nil }
        var map = MultipathMap(name: t.string(nameTok))
        var k = 1
        var confirmed = false
        if k < toks.count, t[toks[k].lowerBound] == UInt8(ascii: "("), t[toks[k].upperBound - 1] == UInt8(ascii: ")"),
           toks[k].count > 2 {
            let w = (toks[k].lowerBound + 1)..<(toks[k].upperBound - 1)
            guard isMapName(t, w) else { return nil }
            map.wwid = t.string(w)
            k += 1
            confirmed = true
        } else {
            // Without an alias multipath prints the WWID once, as the name.
            map.wwid = map.name
        }
        if k < toks.count {
            let tk = toks[k]
            if t.hasPrefix(tk, "dm-"), isDigits(t, (tk.lowerBound + 3)..<tk.upperBound) {
                map.dm = t.string(tk); k += 1; confirmed = true
            } else if t.equals(tk, "undef") {
                k += 1; confirmed = true
            } else if t[tk.lowerBound] == UInt8(ascii: "["), t.firstIndex(of: "]:", in: tk) != nil {
                k += 1; confirmed = true
            }
        }
        if !confirmed {
            // Last resort for unusual headers: the next line is the map's size line.
            guard let next = nextLine(), isSizeLine(t, t.trimmed(next)) else { return nil }
        }
        if k < toks.count {
            // `vendor,product[,rest]` from the token to the end of the line.
            let rest = toks[k].lowerBound..<body.upperBound
            func clean(_ r: Range<Int>) -> String? {
                let c = t.trimmed(r)
                return c.isEmpty || t.equals(c, "##") ? nil : t.string(c)
            }
            if let c1 = t.firstIndex(of: UInt8(ascii: ","), in: rest) {
                map.vendor = clean(rest.lowerBound..<c1)
                let tail = (c1 + 1)..<rest.upperBound
                map.product = clean(tail.lowerBound..<(t.firstIndex(of: UInt8(ascii: ","), in: tail) ?? tail.upperBound))
            } else {
                map.vendor = clean(rest)
                map.product = nil
            }
        }
        return map
    }

    private static let actionPrefixBytes: [StaticString] = ["create: ", "reload: ", "switchpg: ", "rename: ", "resize: ",
                                                            "load: ", "reject: ", ": "]

    /// ``applySizeLine(_:to:)``.
    private static func applySizeLine(_ t: ASCIIText, _ s: Range<Int>, to map: inout MultipathMap) {
        for (key, value) in keyValueRanges(t, s) {
            if t.equals(key, "size") { map.size = t.string(value) }
            else if t.equals(key, "features") { map.features = t.string(value) }
            else if t.equals(key, "hwhandler") { map.hwhandler = t.string(value) }
            else if t.equals(key, "wp") { map.wp = t.string(value) }
            else if key.isEmpty, t.equals(value, "rw") || t.equals(value, "ro") { map.wp = t.string(value) }
        }
    }

    /// ``keyValues(_:)`` as ranges: a bare word's key is empty. Byte by byte, so any text's
    /// bytes, not only ASCII ones.
    static func keyValueRanges(_ t: ASCIIText, _ s: Range<Int>) -> [(key: Range<Int>, value: Range<Int>)] {
        var out: [(key: Range<Int>, value: Range<Int>)] = []
        func unquote(_ r: Range<Int>) -> Range<Int> {
            var a = r.lowerBound, b = r.upperBound
            while a < b, TextLines.isSpace(t[a]) { a += 1 }
            while a < b, TextLines.isSpace(t[b - 1]) { b -= 1 }
            if b - a >= 2, t[a] == t[b - 1], t[a] == UInt8(ascii: "'") || t[a] == UInt8(ascii: "\"") {
                a += 1; b -= 1
            }
            return a..<b
        }
        func pair(_ r: Range<Int>) {
            if let eq = t.firstIndex(of: UInt8(ascii: "="), in: r) {
                out.append((unquote(r.lowerBound..<eq), unquote((eq + 1)..<r.upperBound)))
            } else {
                let w = unquote(r)
                if !w.isEmpty { out.append((w.lowerBound..<w.lowerBound, w)) }
            }
        }
        let end = s.upperBound
        var i = s.lowerBound
        while i < end {
            if TextLines.isSpace(t[i]) { i += 1; continue }
            if t[i] == UInt8(ascii: "[") {
                var j = i + 1
                while j < end, t[j] != UInt8(ascii: "]") { j += 1 }
                pair((i + 1)..<j)
                i = j + 1
                continue
            }
            // key=value, where value may be quoted and contain spaces.
            var j = i
            var quote: UInt8? = nil
            while j < end {
                let c = t[j]
                if let qc = quote {
                    if c == qc { quote = nil }
                } else if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") {
                    quote = c
                } else if TextLines.isSpace(c) || c == UInt8(ascii: "[") {
                    break
                }
                j += 1
            }
            pair(i..<j)
            i = max(j, i + 1)
        }
        return out
    }

    /// ``parseGroup(trimmed:body:)``.
    private static func parseGroup(_ t: ASCIIText, trimmed: Range<Int>, body: Range<Int>) -> PathGroup? {
        if t.hasPrefix(body, "policy=") || t.hasPrefix(body, "prio=") || t.hasPrefix(body, "status=") {
            var g = PathGroup()
            for (k, v) in keyValueRanges(t, body) {
                if t.equals(k, "policy") { g.policy = t.string(v) }
                else if t.equals(k, "prio") { g.prio = Int(t.string(v)) }
                else if t.equals(k, "status") { g.status = t.string(v) }
            }
            return g
        }
        guard t.hasPrefix(trimmed, "\\_") else { return nil }
        var g = PathGroup()
        let bracket = t.firstIndex(of: UInt8(ascii: "["), in: body) ?? body.upperBound
        let policy = t.trimmed(body.lowerBound..<bracket)
        g.policy = policy.isEmpty ? nil : t.string(policy)
        for (k, v) in keyValueRanges(t, bracket..<body.upperBound) {
            if t.equals(k, "prio") || t.equals(k, "pri") { g.prio = Int(t.string(v)) }
            else if k.isEmpty { if g.status == nil { g.status = t.string(v) } }
        }
        return g
    }

    /// ``isHCTL(_:)``: 3 or 4 `:`-separated parts, each 1-10 digits or `#`.
    private static func isHCTL(_ t: ASCIIText, _ r: Range<Int>) -> Bool {
        var parts = 0
        var start = r.lowerBound
        var i = r.lowerBound
        while true {
            if i == r.upperBound || t[i] == UInt8(ascii: ":") {
                let p = start..<i
                guard !p.isEmpty, p.count <= 10, isDigits(t, p) || t.equals(p, "#") else { return false }
                parts += 1
                if parts > 4 { return false }
                if i == r.upperBound { break }
                start = i + 1
            }
            i += 1
        }
        return parts == 3 || parts == 4
    }

    /// ``TextLines/isMajorMinor(_:)``.
    private static func isMajorMinor(_ t: ASCIIText, _ r: Range<Int>) -> Bool {
        guard let colon = t.firstIndex(of: UInt8(ascii: ":"), in: r) else { return false }
        return isDigits(t, r.lowerBound..<colon) && isDigits(t, (colon + 1)..<r.upperBound)
    }

    /// ``parsePath(_:)``.
    private static func parsePath(_ t: ASCIIText, _ body: Range<Int>) -> Path? {
        var i = body.lowerBound
        guard let hctl = t.nextToken(&i, body.upperBound), isHCTL(t, hctl),
              let dev = t.nextToken(&i, body.upperBound)
        else { return nil }
        var p = Path(hctl: t.string(hctl))
        p.dev = t.equals(dev, "-") ? nil : t.string(dev)
        var tok = t.nextToken(&i, body.upperBound)
        if let mm = tok, isMajorMinor(t, mm) || t.equals(mm, "#:#") {
            p.majorMinor = t.equals(mm, "#:#") ? nil : t.string(mm)
            tok = t.nextToken(&i, body.upperBound)
        }
        guard let restStart = tok else { return p }
        // Only the first three words are read.
        var words: [String] = []
        if t[restStart.lowerBound] == UInt8(ascii: "[") {
            for (key, v) in keyValueRanges(t, restStart.lowerBound..<body.upperBound) where key.isEmpty {
                words.append(t.string(v))
                if words.count == 3 { break }
            }
        } else {
            var cur: Range<Int>? = restStart
            while let w = cur, words.count < 3 {
                cur = t.nextToken(&i, body.upperBound)
                if t.equals(w, "i/o"), let nx = cur, t.equals(nx, "pending") {
                    words.append("i/o pending")
                    cur = t.nextToken(&i, body.upperBound)
                } else {
                    words.append(t.string(w))
                }
            }
        }
        if words.count > 0 { p.dmState = DMPathState(rawValue: words[0]) }
        if words.count > 1 { p.checkerState = CheckerState(rawValue: words[1]) }
        if words.count > 2 { p.deviceState = DeviceState(rawValue: words[2]) }
        return p
    }
}
