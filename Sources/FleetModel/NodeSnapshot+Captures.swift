extension NodeSnapshot {
    /// Rebuilds command outputs from a capture folder's files, given as file name → contents
    /// (the caller reads the folder; this stays pure). `<name>.txt` is stdout of the command
    /// whose ``NodeCommand/captureName`` is `<name>`, `<name>.stderr.txt` its stderr, and
    /// `meta.tsv` (name, exit code, …; `none (…)` = never returned) its exit code; without a
    /// meta line the exit code is 0. Files that name no read-only command are ignored.
    public static func outputs(fromCaptureFiles files: [String: String]) -> [CommandOutput] {
        var exitCodes: [String: Int32?] = [:]
        if let meta = files["meta.tsv"] {
            for (_, line) in TextLines.split(meta) {
                let f = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard f.count >= 2 else { continue }
                exitCodes[String(f[0])] = Int32(TextLines.trimmed(f[1]))
            }
        }
        var outs: [CommandOutput] = []
        for name in files.keys.sorted() where name.hasSuffix(".txt") && !name.hasSuffix(".stderr.txt") {
            let base = String(name.dropLast(4))
            guard let cmd = NodeCommand(captureName: base), let stdout = files[name] else { continue }
            let code: Int32?
            if let entry = exitCodes[base] { code = entry } else { code = 0 }
            outs.append(CommandOutput(command: cmd, stdout: stdout, stderr: files[base + ".stderr.txt"] ?? "", exitCode: code))
        }
        return outs
    }
}
