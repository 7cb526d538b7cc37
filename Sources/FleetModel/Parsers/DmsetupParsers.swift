/// One row of `dmsetup info -c`.
public struct DMInfoRow: Sendable, Hashable, Codable {
    public var name: String
    public var major: Int?
    public var minor: Int?
    public var stat: String?
    /// The Open column: how many openers the device has (a mount, a process, a holder).
    public var openCount: Int?
    public var targets: Int?
    public var events: Int?
    /// `mpath-<wwid>` for multipath maps, `part1-mpath-<wwid>` for kpartx partitions.
    public var uuid: String?

    public init(name: String, major: Int? = nil, minor: Int? = nil, stat: String? = nil, openCount: Int? = nil,
                targets: Int? = nil, events: Int? = nil, uuid: String? = nil) {
        self.name = name; self.major = major; self.minor = minor; self.stat = stat
        self.openCount = openCount; self.targets = targets; self.events = events; self.uuid = uuid
    }

    /// `dm-<minor>`, the kernel name (device-mapper's major is dynamic, its minor is N).
    public var dm: DMDeviceName? { minor.flatMap { DMDeviceName("dm-\($0)") } }
}

/// Parses `dmsetup info -c` by its header, so column order or extra columns do not matter.
public enum DmsetupInfoParser {
    public static func parse(_ text: String) -> Parsed<[DMInfoRow]> {
        ASCIIText.read(text, parseBytes) ?? parseGeneral(text)
    }

    private enum Column { case maj, min, stat, open, targ, event, uuid, other }

    private static func column(_ t: ASCIIText, _ c: Range<Int>) -> Column {
        if t.equals(c, "Maj") { return .maj }
        if t.equals(c, "Min") { return .min }
        if t.equals(c, "Stat") { return .stat }
        if t.equals(c, "Open") { return .open }
        if t.equals(c, "Targ") { return .targ }
        if t.equals(c, "Event") { return .event }
        if t.equals(c, "UUID") { return .uuid }
        return .other
    }

    /// ``parseGeneral(_:)`` on an ASCII text's bytes.
    static func parseBytes(_ t: ASCIIText) -> Parsed<[DMInfoRow]> {
        var rows: [DMInfoRow] = []
        var warnings: [ParseWarning] = []
        var columns: [Column]?
        var toks: [Range<Int>] = []
        var lines = t.lines
        while let (n, line) = lines.next() {
            if t.isBlank(line) { continue }
            toks.removeAll(keepingCapacity: true)
            var i = line.lowerBound
            while let tok = t.nextToken(&i, line.upperBound) { toks.append(tok) }
            if t.equals(toks[0], "Name") {
                columns = toks.map { column(t, $0) }
                continue
            }
            if t.hasPrefix(line, "No devices found") { continue }
            guard let cols = columns else { warnings.append(ParseWarning(line: n, text: t.string(line))); continue }
            // UUID is the last column and may be empty.
            guard toks.count == cols.count || (toks.count == cols.count - 1 && cols.last == .uuid) else {
                warnings.append(ParseWarning(line: n, text: t.string(line))); continue
            }
            var row = DMInfoRow(name: t.string(toks[0]))
            for (i, c) in cols.enumerated() where i < toks.count {
                let v = toks[i]
                switch c {
                case .maj: row.major = t.int(v)
                case .min: row.minor = t.int(v)
                case .stat: row.stat = t.string(v)
                case .open: row.openCount = t.int(v)
                case .targ: row.targets = t.int(v)
                case .event: row.events = t.int(v)
                case .uuid: row.uuid = t.string(v)
                case .other: break
                }
            }
            if row.openCount == nil { warnings.append(ParseWarning(line: n, text: "no open count: \(t.string(line))")) }
            rows.append(row)
        }
        return Parsed(value: rows, warnings: warnings)
    }

    /// Any text: Substrings and Characters (what a non-ASCII line needs).
    static func parseGeneral(_ text: String) -> Parsed<[DMInfoRow]> {
        var rows: [DMInfoRow] = []
        var warnings: [ParseWarning] = []
        var columns: [String]?
        for (n, line) in TextLines.split(text) {
            if TextLines.isBlank(line) { continue }
            let toks = TextLines.tokens(line)
            if toks.first == "Name" {
                columns = toks.map { String($0) }
                continue
            }
            if line.hasPrefix("No devices found") { continue }
            guard let cols = columns else { warnings.append(ParseWarning(line: n, text: String(line))); continue }
            // UUID is the last column and may be empty.
            guard toks.count == cols.count || (toks.count == cols.count - 1 && cols.last == "UUID") else {
                warnings.append(ParseWarning(line: n, text: String(line))); continue
            }
            var row = DMInfoRow(name: String(toks[0]))
            for (i, c) in cols.enumerated() where i < toks.count {
                let v = toks[i]
                switch c {
                case "Maj": row.major = TextLines.int(v)
                case "Min": row.minor = TextLines.int(v)
                case "Stat": row.stat = String(v)
                case "Open": row.openCount = TextLines.int(v)
                case "Targ": row.targets = TextLines.int(v)
                case "Event": row.events = TextLines.int(v)
                case "UUID": row.uuid = String(v)
                default: break
                }
            }
            if row.openCount == nil { warnings.append(ParseWarning(line: n, text: "no open count: \(line)")) }
            rows.append(row)
        }
        return Parsed(value: rows, warnings: warnings)
    }
}

/// One path as the kernel's multipath target reports it in `dmsetup status`.
public struct DMStatusPath: Sendable, Hashable, Codable {
    public var majorMinor: String
    /// `A` active or `F` failed.
    public var active: Bool
    public var failCount: Int?
    public init(majorMinor: String, active: Bool, failCount: Int? = nil) {
        self.majorMinor = majorMinor; self.active = active; self.failCount = failCount
    }
}

/// One line of `dmsetup status`.
public struct DMStatusRow: Sendable, Hashable, Codable {
    public var name: String
    public var target: String?
    /// Everything after the target type, as printed.
    public var params: String
    /// For a multipath target: the feature arguments (first: queue_if_no_path in effect).
    public var featureArgs: [String]?
    /// For a multipath target: every path of every group, in order.
    public var paths: [DMStatusPath]?
    public init(name: String, target: String? = nil, params: String = "", featureArgs: [String]? = nil, paths: [DMStatusPath]? = nil) {
        self.name = name; self.target = target; self.params = params; self.featureArgs = featureArgs; self.paths = paths
    }
}

/// Parses `dmsetup status`. For multipath targets it decodes the kernel's status line
/// (`2 0 1 0 1 1 A 0 2 2 8:96 F 1 0 1 8:112 F 1 0 1`) into per-path A/F states, checking
/// every count against what is left, so a truncated line is a warning, not a crash.
public enum DmsetupStatusParser {
    public static func parse(_ text: String) -> Parsed<[DMStatusRow]> {
        ASCIIText.read(text, parseBytes) ?? parseGeneral(text)
    }

    /// ``parseGeneral(_:)`` on an ASCII text's bytes (perf: ~3.6 M instructions of a 50-map
    /// node went to its Substrings and the params' `joined`).
    static func parseBytes(_ t: ASCIIText) -> Parsed<[DMStatusRow]> {
        var rows: [DMStatusRow] = []
        var warnings: [ParseWarning] = []
        var lines = t.lines
        var toks: [Range<Int>] = []
        while let (n, line) = lines.next() {
            if t.isBlank(line) { continue }
            if t.hasPrefix(line, "No devices found") { continue }
            guard let colon = t.firstIndex(of: UInt8(ascii: ":"), in: line), colon + 1 < line.upperBound,
                  t[colon + 1] == UInt8(ascii: " ")
            else {
                warnings.append(ParseWarning(line: n, text: t.string(line))); continue
            }
            toks.removeAll(keepingCapacity: true)
            var i = colon + 1
            while let tok = t.nextToken(&i, line.upperBound) { toks.append(tok) }
            guard toks.count >= 3 else { warnings.append(ParseWarning(line: n, text: t.string(line))); continue }
            var row = DMStatusRow(name: t.string(line.lowerBound..<colon), target: t.string(toks[2]),
                                  params: t.joined(toks[3...]))
            if t.equals(toks[2], "multipath") {
                if let (f, p) = decodeMultipath(Array(toks[3...]), int: t.int, string: t.string, isA: { t.equals($0, "A") }) {
                    row.featureArgs = f; row.paths = p
                } else {
                    warnings.append(ParseWarning(line: n, text: "multipath status not understood: \(t.string(line))"))
                }
            }
            rows.append(row)
        }
        return Parsed(value: rows, warnings: warnings)
    }

    /// Any text: Substrings and Characters (what a non-ASCII line needs).
    static func parseGeneral(_ text: String) -> Parsed<[DMStatusRow]> {
        var rows: [DMStatusRow] = []
        var warnings: [ParseWarning] = []
        for (n, line) in TextLines.split(text) {
            if TextLines.isBlank(line) { continue }
            if line.hasPrefix("No devices found") { continue }
            guard let colon = line.firstIndex(of: ":"), line[line.index(after: colon)...].hasPrefix(" ") else {
                warnings.append(ParseWarning(line: n, text: String(line))); continue
            }
            let name = String(line[..<colon])
            let toks = TextLines.tokens(line[line.index(after: colon)...])
            guard toks.count >= 3 else { warnings.append(ParseWarning(line: n, text: String(line))); continue }
            var row = DMStatusRow(name: name, target: String(toks[2]),
                                  params: toks.dropFirst(3).joined(separator: " "))
            if toks[2] == "multipath" {
                if let (f, p) = decodeMultipath(Array(toks.dropFirst(3))) {
                    row.featureArgs = f; row.paths = p
                } else {
                    warnings.append(ParseWarning(line: n, text: "multipath status not understood: \(line)"))
                }
            }
            rows.append(row)
        }
        return Parsed(value: rows, warnings: warnings)
    }

    static func decodeMultipath(_ t: [Substring]) -> ([String], [DMStatusPath])? {
        decodeMultipath(t, int: TextLines.int, string: String.init, isA: { $0 == "A" })
    }

    /// The status tokens however they are held (Substrings, or byte ranges of an ASCII text).
    static func decodeMultipath<Token>(_ t: [Token], int: (Token) -> Int?, string: (Token) -> String,
                                       isA: (Token) -> Bool) -> ([String], [DMStatusPath])? {
        var i = 0
        func next() -> Token? { guard i < t.count else { return nil }; defer { i += 1 }; return t[i] }
        func count() -> Int? { next().flatMap { int($0) }.flatMap { $0 >= 0 && $0 <= t.count ? $0 : nil } }
        guard let nf = count(), i + nf <= t.count else { return nil }
        let features = t[i..<(i + nf)].map(string); i += nf
        guard let nh = count(), i + nh <= t.count else { return nil }
        i += nh
        guard let ngroups = count(), next() != nil else { return nil }
        var paths: [DMStatusPath] = []
        for _ in 0..<ngroups {
            guard next() != nil, let npg = count(), i + npg <= t.count else { return nil }
            i += npg
            guard let npaths = count(), let nsel = count() else { return nil }
            for _ in 0..<npaths {
                guard let dev = next(), let st = next(), let fc = next(), i + nsel <= t.count else { return nil }
                i += nsel
                paths.append(DMStatusPath(majorMinor: string(dev), active: isA(st), failCount: int(fc)))
            }
        }
        return (features, paths)
    }
}
