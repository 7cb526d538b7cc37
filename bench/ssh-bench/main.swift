// fleet-ssh-bench HOST PORT KEY KNOWN_HOSTS N C [COMMAND]
// Opens N sessions (one command each) at concurrency C with SSHExecutor and prints wall s,
// client CPU s (getrusage self: user+sys), CPU ms per node, peak RSS, and failures by status.
import FleetModel
import FleetSSH
#if canImport(Glibc)
import Glibc
#endif

let a = CommandLine.arguments
guard a.count >= 7, let port = Int(a[2]), let n = Int(a[5]), let c = Int(a[6]) else {
    print("usage: fleet-ssh-bench HOST[,HOST…] PORT KEY KNOWN_HOSTS N C [COMMAND]")
    exit(2)
}
let hosts = a[1].split(separator: ",").map(String.init)
let command = a.count > 7 ? a[7] : "echo ok"
let user = getenv("FLEET_BENCH_USER").map { String(cString: $0) } ?? "root"
let threads = Int(getenv("FLEET_SSH_THREADS").map { String(cString: $0) } ?? "") ?? 2
// FLEET_BENCH_AGENT=1: authenticate through $SSH_AUTH_SOCK instead of the key file.
let useAgent = getenv("FLEET_BENCH_AGENT") != nil
let ex = SSHExecutor(options: SSHOptions(handshakeTimeout: .seconds(60), agentSocket: useAgent ? nil : "",
                                         maxConcurrentSessions: c, eventLoopThreads: threads))

func cpuSeconds() -> Double {
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    return Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6
        + Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) / 1e6
}

func f2(_ x: Double) -> String {
    let v = (x * 100).rounded() / 100
    let i = Int(v), f = Int(((v - Double(i)) * 100).rounded())
    return "\(i).\(f < 10 ? "0" : "")\(f)"
}

let cpu0 = cpuSeconds()
let t0 = ContinuousClock.now
let failures = await withTaskGroup(of: NodeFailure?.self) { g in
    for i in 0..<n {
        let t = NodeTarget(name: "n\(i)", host: hosts[i % hosts.count], port: port, user: user, identityFiles: useAgent ? [] : [a[3]], knownHostsFiles: [a[4]])
        g.addTask {
            do {
                let r = try await ex.withSession(to: t) { s in try await s.exec(ExecRequest(command: command)) }
                return r.exit == .exited(0) ? nil : NodeFailure(.nodeError, "\(r.exit): \(r.stderrText)")
            } catch let f as NodeFailure { return f } catch { return NodeFailure(.protocolError, "\(error)") }
        }
    }
    var out: [NodeFailure] = []
    for await f in g { if let f { out.append(f) } }
    return out
}
let wall = t0.duration(to: .now)
let cpu = cpuSeconds() - cpu0
var ru = rusage()
getrusage(RUSAGE_SELF.rawValue, &ru)
let wallS = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
print("fleet-ssh-bench: N=\(n) C=\(c) threads=\(threads) wall=\(f2(wallS))s cpu=\(f2(cpu))s cpu/node=\(f2(cpu * 1000 / Double(n)))ms peakRSS=\(ru.ru_maxrss / 1024)MiB ok=\(n - failures.count) failed=\(failures.count)")
var byStatus: [NodeStatus: Int] = [:]
for f in failures { byStatus[f.status, default: 0] += 1 }
for (s, k) in byStatus.sorted(by: { $0.value > $1.value }) {
    print("  \(s.rawValue): \(k), e.g. \(failures.first { $0.status == s }!.message)")
}
exit(failures.isEmpty ? 0 : 1)
