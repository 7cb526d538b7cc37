/// Reads the result of the readability probe
/// `timeout -s KILL T dd if=/dev/dm-N of=/dev/null count=1 bs=1M iflag=direct` (vendor step 1.2).
public enum ProbeParser {
    /// - Parameters:
    ///   - stderr: dd's statistics or error (dd writes nothing useful on stdout).
    ///   - exitCode: nil when the command never returned.
    public static func parse(stderr: String, exitCode: Int32?) -> ProbeResult {
        let lines = TextLines.split(stderr).map { String(TextLines.trimmed($0.text)) }.filter { !$0.isEmpty }
        let detail = lines.isEmpty ? nil : lines.prefix(4).joined(separator: "; ")
        guard let code = exitCode else {
            return ProbeResult(outcome: .hung, detail: detail ?? "no exit status: still reading when the capture moved on")
        }
        // timeout -s KILL kills its own process group, itself included: 137 = 128 + SIGKILL.
        // 124 is timeout's own "timed out" code (a TERM-based variant).
        if code == 137 || code == 124 {
            return ProbeResult(outcome: .hung, detail: detail ?? "killed after the time limit (exit \(code))")
        }
        let ioError = lines.contains { $0.contains("Input/output error") }
        if ioError {
            // The vendor procedure's residual signature: EIO and 0 bytes copied.
            return ProbeResult(outcome: .ioError, detail: detail)
        }
        if code == 0 {
            if let recs = lines.first(where: { $0.hasSuffix("records in") }) {
                if recs.hasPrefix("0+0") {
                    return ProbeResult(outcome: .otherError, detail: "exit 0 but nothing read: \(detail ?? "")")
                }
                return ProbeResult(outcome: .readOK, detail: detail)
            }
            return ProbeResult(outcome: .otherError, detail: "exit 0 without dd statistics: \(detail ?? "no output")")
        }
        return ProbeResult(outcome: .otherError, detail: "exit \(code): \(detail ?? "no output")")
    }
}
