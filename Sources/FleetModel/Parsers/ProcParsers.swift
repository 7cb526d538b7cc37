/// Parsers for the /proc files that say who holds a device open: the per-process files as the
/// kernel prints them (`stat`, `status`, `wchan`, `cmdline`, `comm`, `fdinfo`), the capture
/// folders' `proc-fd-block-links` listing, and the discovery script's `proc-openers` section
/// that carries all of them in one compact frame.

/// `/proc/PID/stat`'s leading fields.
public struct ProcStat: Sendable, Hashable {
    public var pid: Int32
    /// Field 2 without its parentheses. It may contain spaces and `)`: it ends at the LAST `)`.
    public var comm: String
    /// Field 3: `R`, `S`, `D`, `Z`, `T`, `t`, `X`, `I`, …
    public var state: String
    public var ppid: Int32?
}

public enum ProcStatParser {
    public static func parse(_ text: String) -> Parsed<ProcStat?> {
        let u = Array(text.utf8)
        guard let open = u.firstIndex(of: UInt8(ascii: "(")), let close = u.lastIndex(of: UInt8(ascii: ")")), open < close,
              let pid = Int32(String(decoding: u[..<open], as: UTF8.self).trimmingSpaces)
        else { return Parsed(value: nil, warnings: [ParseWarning(line: 1, text: "not a /proc/PID/stat line: \(text.prefix(80))")]) }
        let comm = String(decoding: u[(open + 1)..<close], as: UTF8.self)
        let rest = String(decoding: u[(close + 1)...], as: UTF8.self)
            .split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        guard let state = rest.first, state.count == 1, state.first!.isLetter else {
            return Parsed(value: nil, warnings: [ParseWarning(line: 1, text: "no state after the name in /proc/\(pid)/stat")])
        }
        return Parsed(value: ProcStat(pid: pid, comm: comm, state: state, ppid: rest.count > 1 ? Int32(rest[1]) : nil), warnings: [])
    }
}

/// `/proc/PID/status`: `Name:` (the comm, with `\n` and `\\` escaped by the kernel), `State:`
/// (`D (disk sleep)`) and `Pid:`; the other lines are not needed.
public enum ProcStatusParser {
    public struct Status: Sendable, Hashable { public var name: String?; public var state: String?; public var pid: Int32? }

    public static func parse(_ text: String) -> Parsed<Status> {
        var s = Status()
        var warnings: [ParseWarning] = []
        for (n, line) in TextLines.split(text) {
            guard let colon = line.firstIndex(of: ":") else { warnings.append(ParseWarning(line: n, text: String(line))); continue }
            let key = line[..<colon]
            let value = TextLines.trimmed(line[line.index(after: colon)...])
            switch key {
            case "Name": s.name = String(value)
            case "State": s.state = value.first.map { String($0) }
            case "Pid": s.pid = Int32(value)
            default: break
            }
        }
        return Parsed(value: s, warnings: warnings)
    }
}

/// `/proc/PID/fdinfo/FD` (`pos:`, `flags:` in octal, `mnt_id:`, `ino:`), alone or as the
/// capture folders' `proc-PID-fdinfo.txt` blocks, each after a `== FD /dev/…` line.
public enum FdinfoParser {
    /// The `flags:` value of one fdinfo file.
    public static func flags(_ text: String) -> UInt32? {
        for (_, line) in TextLines.split(text) {
            let t = TextLines.tokens(line)
            if t.count == 2, t[0] == "flags:" { return UInt32(t[1], radix: 8) }
        }
        return nil
    }

    /// The blocks of a capture folder's `proc-PID-fdinfo.txt`: one ``OpenFD`` per block.
    public static func parseBlocks(_ text: String) -> Parsed<[OpenFD]> {
        var out: [OpenFD] = []
        var warnings: [ParseWarning] = []
        for (n, line) in TextLines.split(text) {
            if line.hasPrefix("== ") {
                let t = line.dropFirst(3)
                guard let sp = t.firstIndex(of: " "), let fd = Int32(t[..<sp]) else {
                    warnings.append(ParseWarning(line: n, text: String(line))); continue
                }
                out.append(OpenFD(fd: fd, target: String(t[t.index(after: sp)...])))
                continue
            }
            let tk = TextLines.tokens(line)
            guard tk.count == 2, tk[0].hasSuffix(":"), !out.isEmpty else {
                warnings.append(ParseWarning(line: n, text: String(line))); continue
            }
            if tk[0] == "flags:" {
                guard let f = UInt32(tk[1], radix: 8) else { warnings.append(ParseWarning(line: n, text: String(line))); continue }
                out[out.count - 1].flags = f
            }
        }
        return Parsed(value: out, warnings: warnings)
    }
}

public enum CmdlineParser {
    /// `/proc/PID/cmdline`: arguments each ended by a NUL (the last NUL may be missing when a
    /// process rewrote its arguments).
    public static func parse(_ text: String) -> [String] {
        var parts = text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        if parts.last == "" { parts.removeLast() }
        return parts
    }
}

/// A capture folder's `proc-fd-block-links.txt`: `PID FD LINK` per fd on a block device.
public enum ProcFDLinksParser {
    public struct Link: Sendable, Hashable { public var pid: Int32; public var fd: Int32; public var target: String }

    public static func parse(_ text: String) -> Parsed<[Link]> {
        var out: [Link] = []
        var warnings: [ParseWarning] = []
        for (n, line) in TextLines.split(text) where !TextLines.isBlank(line) {
            let t = TextLines.tokens(line)
            guard t.count >= 3, let pid = Int32(t[0]), let fd = Int32(t[1]) else {
                warnings.append(ParseWarning(line: n, text: String(line))); continue
            }
            out.append(Link(pid: pid, fd: fd, target: String(line[t[2].startIndex...])))
        }
        return Parsed(value: out, warnings: warnings)
    }
}

/// What the discovery script's `proc-openers` section (``NodeCommand/openers``) says.
public struct OpenersCapture: Sendable, Hashable {
    public var openers: [Opener]
    /// Why the list may miss an opener (find timed out, a /proc directory was not readable,
    /// the line limit was reached). Empty when the list is complete.
    public var incomplete: [String]
    public init(openers: [Opener] = [], incomplete: [String] = []) { self.openers = openers; self.incomplete = incomplete }
}

/// The `proc-openers` section, one record per line (designed for POSIX sh without forks per
/// fd; remote text arrives hex-encoded so no byte in it can break a line or a field):
///
///     O 1                                          version
///     P PID WCHAN NONCE|- HEX…                     per process: wchan, fleet probe nonce, /proc/PID/stat as hex bytes
///     C PID HEX…                                   per process: /proc/PID/cmdline as hex bytes
///     F PID FD FLAGS|- TARGET                      per fd on /dev/dm-*, /dev/sd*, /dev/mapper/*
///     X REASON…                                    the list may be incomplete (find timed out, permission denied, limit)
///
/// A `P` line whose stat is empty means the process went away (or could not be read): its
/// state stays unknown and the rule says needs-review, never a guess.
public enum OpenersParser {
    public static func parse(_ text: String) -> Parsed<OpenersCapture> {
        ASCIIText.read(text, parseBytes) ?? parseGeneral(text)
    }

    /// ``parseGeneral(_:)`` on an ASCII text's bytes (perf: a Substring per line and token
    /// for multipathd's one `F` line per path disk); numbers through the same initializers.
    static func parseBytes(_ t: ASCIIText) -> Parsed<OpenersCapture> {
        var warnings: [ParseWarning] = []
        var byPID: [Int32: Opener] = [:]
        var order: [Int32] = []
        var incomplete: [String] = []
        var sawVersion = false
        func opener(_ pid: Int32) -> Opener {
            if let o = byPID[pid] { return o }
            order.append(pid)
            return Opener(pid: pid)
        }
        func hex(_ tokens: ArraySlice<Range<Int>>) -> [UInt8]? {
            var out: [UInt8] = []
            out.reserveCapacity(tokens.count)
            for r in tokens {
                guard r.count == 2, let b = UInt8(t.string(r), radix: 16) else { return nil }
                out.append(b)
            }
            return out
        }
        var lines = t.lines
        var tk: [Range<Int>] = []
        while let (n, line) = lines.next() {
            if t.isBlank(line) { continue }
            tk.removeAll(keepingCapacity: true)
            var i = line.lowerBound
            while let r = t.nextToken(&i, line.upperBound) { tk.append(r) }
            func bad() { warnings.append(ParseWarning(line: n, text: t.string(line.lowerBound..<min(line.upperBound, line.lowerBound + 200)))) }
            if t.equals(tk[0], "O") {
                if tk.count == 2, t.equals(tk[1], "1") { sawVersion = true } else { bad() }
            } else if t.equals(tk[0], "X") {
                incomplete.append(t.joined(tk[1...]))
            } else if t.equals(tk[0], "P") {
                guard tk.count >= 4, let pid = Int32(t.string(tk[1])) else { bad(); continue }
                var o = opener(pid)
                o.wchan = t.equals(tk[2], "-") ? nil : t.string(tk[2])
                if !t.equals(tk[3], "-") {
                    guard tk[3].count == 32, tk[3].allSatisfy({ isHex(t[$0]) }) else { bad(); continue }
                    o.probeNonce = t.string(tk[3])
                }
                if tk.count > 4 {
                    guard let bytes = hex(tk[4...]) else { bad(); continue }
                    let stat = ProcStatParser.parse(String(decoding: bytes, as: UTF8.self))
                    if let s = stat.value, s.pid == pid { o.comm = s.comm; o.state = s.state } else { bad() }
                }
                byPID[pid] = o
            } else if t.equals(tk[0], "C") {
                guard tk.count >= 2, let pid = Int32(t.string(tk[1])), let bytes = hex(tk[2...]) else { bad(); continue }
                var o = opener(pid)
                o.cmdline = CmdlineParser.parse(String(decoding: bytes, as: UTF8.self))
                byPID[pid] = o
            } else if t.equals(tk[0], "F") {
                guard tk.count >= 5, let pid = Int32(t.string(tk[1])), let fd = Int32(t.string(tk[2])) else { bad(); continue }
                let flags: UInt32? = t.equals(tk[3], "-") ? nil : UInt32(t.string(tk[3]), radix: 8)
                if !t.equals(tk[3], "-") && flags == nil { bad(); continue }
                if byPID[pid] == nil { order.append(pid); byPID[pid] = Opener(pid: pid) }
                byPID[pid]!.fds.append(OpenFD(fd: fd, target: t.string(tk[4].lowerBound..<line.upperBound), flags: flags))
            } else {
                bad()
            }
        }
        if !sawVersion { incomplete.append("no openers header: the section did not run") }
        return Parsed(value: OpenersCapture(openers: order.compactMap { byPID[$0] }, incomplete: incomplete), warnings: warnings)
    }

    /// Any text: Substrings and Characters (what a non-ASCII line needs).
    static func parseGeneral(_ text: String) -> Parsed<OpenersCapture> {
        var warnings: [ParseWarning] = []
        var byPID: [Int32: Opener] = [:]
        var order: [Int32] = []
        var incomplete: [String] = []
        var sawVersion = false
        func opener(_ pid: Int32) -> Opener {
            if let o = byPID[pid] { return o }
            order.append(pid)
            return Opener(pid: pid)
        }
        for (n, line) in TextLines.split(text) where !TextLines.isBlank(line) {
            let t = TextLines.tokens(line)
            func bad() { warnings.append(ParseWarning(line: n, text: String(line.prefix(200)))) }
            switch t[0] {
            case "O":
                if t.count == 2, t[1] == "1" { sawVersion = true } else { bad() }
            case "X":
                incomplete.append(t.dropFirst().joined(separator: " "))
            case "P":
                guard t.count >= 4, let pid = Int32(t[1]) else { bad(); continue }
                var o = opener(pid)
                o.wchan = t[2] == "-" ? nil : String(t[2])
                if t[3] != "-" {
                    guard t[3].utf8.count == 32, t[3].utf8.allSatisfy(isHex) else { bad(); continue }
                    o.probeNonce = String(t[3])
                }
                if t.count > 4 {
                    guard let bytes = hex(t[4...]) else { bad(); continue }
                    let stat = ProcStatParser.parse(String(decoding: bytes, as: UTF8.self))
                    if let s = stat.value, s.pid == pid { o.comm = s.comm; o.state = s.state } else { bad() }
                }
                byPID[pid] = o
            case "C":
                guard t.count >= 2, let pid = Int32(t[1]), let bytes = hex(t[2...]) else { bad(); continue }
                var o = opener(pid)
                o.cmdline = CmdlineParser.parse(String(decoding: bytes, as: UTF8.self))
                byPID[pid] = o
            case "F":
                guard t.count >= 5, let pid = Int32(t[1]), let fd = Int32(t[2]) else { bad(); continue }
                let flags: UInt32? = t[3] == "-" ? nil : UInt32(t[3], radix: 8)
                if t[3] != "-" && flags == nil { bad(); continue }
                // In place (perf: a copy of the opener made each append copy its fds, quadratic
                // in multipathd's one fd per path disk); the same order and value as `opener`.
                if byPID[pid] == nil { order.append(pid); byPID[pid] = Opener(pid: pid) }
                byPID[pid]!.fds.append(OpenFD(fd: fd, target: String(line[t[4].startIndex...]), flags: flags))
            default:
                bad()
            }
        }
        if !sawVersion { incomplete.append("no openers header: the section did not run") }
        return Parsed(value: OpenersCapture(openers: order.compactMap { byPID[$0] }, incomplete: incomplete), warnings: warnings)
    }

    static func isHex(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
    }

    /// `od -An -tx1` bytes: two hex digits per token.
    static func hex(_ tokens: ArraySlice<Substring>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(tokens.count)
        for t in tokens {
            guard t.utf8.count == 2, let b = UInt8(t, radix: 16) else { return nil }
            out.append(b)
        }
        return out
    }
}

private extension String {
    var trimmingSpaces: Substring { TextLines.trimmed(Substring(self)) }
}
