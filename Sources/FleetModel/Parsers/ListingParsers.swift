/// One symlink line of `ls -l`: `lrwxrwxrwx 1 root root 0 Nov 29 17:07 dm-0 -> ../devices/virtual/block/dm-0`.
public struct SymlinkEntry: Sendable, Hashable, Codable {
    public var name: String
    public var target: String
    public init(name: String, target: String) { self.name = name; self.target = target }

    /// Last path component of the target (`dm-0` for `../../dm-0`).
    public var targetBase: String {
        String(target.split(separator: "/").last ?? Substring(target))
    }

    /// For a /sys/block entry of a SCSI disk: the `H:C:T:L` directory in its device path.
    public var hctl: String? {
        let comps = target.split(separator: "/")
        guard let b = comps.lastIndex(of: "block"), b > 0 else { return nil }
        let c = comps[b - 1]
        return MultipathParser.isHCTL(c) ? String(c) : nil
    }
}

/// Parses `ls -l /sys/block/` and `ls -l /dev/disk/by-id/` (both are symlink listings).
public enum SymlinkListingParser {
    private static let arrowBytes = Array(" -> ".utf8)
    public static func parse(_ text: String) -> Parsed<[SymlinkEntry]> {
        ASCIIText.read(text, parseBytes) ?? parseGeneral(text)
    }

    /// ``parseGeneral(_:)`` on an ASCII text's bytes (perf: ~7 M instructions of a 50-map
    /// node went to its Substrings); `ByteReaderTests` compares the two.
    static func parseBytes(_ t: ASCIIText) -> Parsed<[SymlinkEntry]> {
        var out: [SymlinkEntry] = []
        var warnings: [ParseWarning] = []
        var lines = t.lines
        while let (n, line) = lines.next() {
            if t.isBlank(line) || t.hasPrefix(line, "total ") { continue }
            guard let arrow = t.firstIndex(of: " -> ", in: line) else {
                warnings.append(ParseWarning(line: n, text: t.string(line))); continue
            }
            let target = t.trimmed((arrow + 4)..<line.upperBound)
            // perms links owner group size month day time name…
            var i = line.lowerBound
            var first: Range<Int>?, ninth: Range<Int>?, count = 0
            while let tok = t.nextToken(&i, arrow) {
                count += 1
                if count == 1 { first = tok } else if count == 9 { ninth = tok }
            }
            guard count >= 9, let first, let ninth, t[first.lowerBound] == UInt8(ascii: "l"), !target.isEmpty else {
                warnings.append(ParseWarning(line: n, text: t.string(line))); continue
            }
            let name = count == 9 ? t.string(ninth) : t.joined(t.tokens(ninth.lowerBound..<arrow)[...])
            out.append(SymlinkEntry(name: name, target: t.string(target)))
        }
        return Parsed(value: out, warnings: warnings)
    }

    /// Any text: Substrings and Characters (what a non-ASCII line needs).
    static func parseGeneral(_ text: String) -> Parsed<[SymlinkEntry]> {
        var out: [SymlinkEntry] = []
        var warnings: [ParseWarning] = []
        for (n, line) in TextLines.split(text) {
            if TextLines.isBlank(line) || line.hasPrefix("total ") { continue }
            // Byte search, not Foundation's range(of:) (perf: it bridged every line).
            guard let arrow = TextLines.firstRange(of: arrowBytes, in: line) else {
                warnings.append(ParseWarning(line: n, text: String(line))); continue
            }
            let target = TextLines.trimmed(line[arrow.upperBound...])
            // Every name in /sys/block and /dev/disk/by-id is one word: taken without
            // splitting the line into an array (perf); the rest as before.
            if !target.isEmpty, let name = oneWordName(line[..<arrow.lowerBound]) {
                out.append(SymlinkEntry(name: String(name), target: String(target)))
                continue
            }
            let left = TextLines.tokens(line[..<arrow.lowerBound])
            // perms links owner group size month day time name…
            guard left.count >= 9, left[0].hasPrefix("l"), !target.isEmpty else {
                warnings.append(ParseWarning(line: n, text: String(line))); continue
            }
            out.append(SymlinkEntry(name: left[8...].joined(separator: " "), target: String(target)))
        }
        return Parsed(value: out, warnings: warnings)
    }

    /// The 9th and last token of `perms links owner group size month day time name` when
    /// there are exactly 9 and the first starts with `l` (what `left[8...].joined` gives
    /// then); nil for anything else.
    static func oneWordName(_ left: Substring) -> Substring? {
        let u = left.utf8
        var i = u.startIndex, count = 0
        var last = i..<i
        while true {
            while i != u.endIndex, TextLines.isSpace(u[i]) { i = u.index(after: i) }
            if i == u.endIndex { break }
            let start = i
            // `hasPrefix("l")` on bytes: an ASCII byte after the `l` (no combining mark).
            if count == 0 {
                let next = u.index(after: start)
                guard u[start] == UInt8(ascii: "l"), next == u.endIndex || u[next] < 0x80 else { return nil }
            }
            while i != u.endIndex, !TextLines.isSpace(u[i]) { i = u.index(after: i) }
            count += 1
            if count > 9 { return nil }
            last = start..<i
        }
        return count == 9 ? Substring(u[last]) : nil
    }
}

/// One line of /proc/mounts, octal escapes (`\040` …) decoded.
public struct MountEntry: Sendable, Hashable, Codable {
    public var source: String
    public var mountpoint: String
    public var fstype: String
    public var options: String
    public init(source: String, mountpoint: String, fstype: String, options: String) {
        self.source = source; self.mountpoint = mountpoint; self.fstype = fstype; self.options = options
    }
}

/// Parses /proc/mounts. A bind mount repeats its source device: every line is kept.
public enum ProcMountsParser {
    public static func parse(_ text: String) -> Parsed<[MountEntry]> {
        var out: [MountEntry] = []
        var warnings: [ParseWarning] = []
        for (n, line) in TextLines.split(text) {
            if TextLines.isBlank(line) { continue }
            let t = TextLines.tokens(line)
            guard t.count >= 4 else { warnings.append(ParseWarning(line: n, text: String(line))); continue }
            out.append(MountEntry(source: unescape(t[0]), mountpoint: unescape(t[1]), fstype: unescape(t[2]),
                                  options: String(t[3])))
        }
        return Parsed(value: out, warnings: warnings)
    }

    /// The kernel escapes space, tab, newline and backslash as `\ooo`.
    static func unescape(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        let u = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        var i = 0
        func oct(_ c: UInt8) -> UInt8? { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "7") ? c - UInt8(ascii: "0") : nil }
        while i < u.count {
            if u[i] == UInt8(ascii: "\\"), i + 3 < u.count,
               let a = oct(u[i + 1]), let b = oct(u[i + 2]), let c = oct(u[i + 3]), a <= 3 {
                out.append(a << 6 | b << 3 | c); i += 4; continue
            }
            out.append(u[i]); i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
