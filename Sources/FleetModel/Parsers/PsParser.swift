/// One row of `ps -eo pid,ppid,stat,wchan:32,etime,cmd`.
public struct ProcessRow: Sendable, Hashable, Codable {
    public var pid: Int32
    public var ppid: Int32?
    /// `D` = uninterruptible sleep: a dd stuck on a queueing map cannot be killed.
    public var stat: String
    public var wchan: String?
    public var etime: String?
    public var cmd: String

    public init(pid: Int32, ppid: Int32? = nil, stat: String, wchan: String? = nil, etime: String? = nil, cmd: String) {
        self.pid = pid; self.ppid = ppid; self.stat = stat; self.wchan = wchan; self.etime = etime; self.cmd = cmd
    }

    public var isUninterruptible: Bool { stat.hasPrefix("D") }

    /// True when this is a `dd` whose `if=` is `…/dev/dm-N` for exactly this device
    /// (`dm-2` does not match `dm-21`; a sysroot prefix before `/dev` is allowed).
    public func isDD(reading dm: DMDeviceName) -> Bool { ddInputs.contains(dm.rawValue) }

    /// The devices this process reads as a `dd` (`X` of each `if=…/dev/X`); empty when it is
    /// not a dd. ``NodeSnapshot`` reads it once per process, not once per map.
    public var ddInputs: [String] {
        let words = cmd.split(separator: " ", omittingEmptySubsequences: true)
        guard let prog = words.first, prog.split(separator: "/").last == "dd" else { return [] }
        return words.dropFirst().compactMap { w in
            guard w.hasPrefix("if=") else { return nil }
            let comps = w.dropFirst(3).split(separator: "/", omittingEmptySubsequences: true)
            guard comps.count >= 2, comps[comps.count - 2] == "dev" else { return nil }
            return String(comps[comps.count - 1])
        }
    }
}

public enum PsParser {
    public static func parse(_ text: String) -> Parsed<[ProcessRow]> {
        var rows: [ProcessRow] = []
        var warnings: [ParseWarning] = []
        for (n, line) in TextLines.split(text) {
            if TextLines.isBlank(line) { continue }
            let t = TextLines.tokens(line)
            if t.first == "PID" { continue }
            guard t.count >= 6, let pid = Int32(t[0]), let ppid = Int32(t[1]) else {
                warnings.append(ParseWarning(line: n, text: String(line))); continue
            }
            let cmd = line[t[5].startIndex...]
            rows.append(ProcessRow(pid: pid, ppid: ppid, stat: String(t[2]), wchan: t[3] == "-" ? nil : String(t[3]),
                                   etime: String(t[4]), cmd: String(TextLines.trimmed(cmd))))
        }
        return Parsed(value: rows, warnings: warnings)
    }

    /// The dd processes reading `dm` (vendor step 1.3: the suspended probe to kill).
    public static func ddProcesses(reading dm: DMDeviceName, in rows: [ProcessRow]) -> [ProcessRow] {
        rows.filter { $0.isDD(reading: dm) }
    }
}
