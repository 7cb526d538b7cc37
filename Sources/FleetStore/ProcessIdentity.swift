import Foundation

/// Identifies the process that writes a run: host, pid and the pid's start time (boot id +
/// start tick from /proc), so a reused pid is not mistaken for the original writer.
struct ProcessIdentity {
    var host: String
    var pid: Int32
    var start: String?

    static let current: ProcessIdentity = {
        let pid = getpid()
        // gethostname, not ProcessInfo.hostName: no resolver lookup when DNS is broken.
        var buf = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buf, buf.count) == 0 ? String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        return ProcessIdentity(host: host, pid: pid, start: start(of: pid))
    }()

    static func start(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after "comm)": state is field 3, starttime field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // A zombie (killed, not yet reaped) writes nothing more: it counts as gone.
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return "\(boot):\(fields[19])"
    }
}
