// fleet-cpu-bench: the client's own CPU per node of `fleet scan`, without the SSH transport
// (issue 17: CPU per map). bench/cpu.sh drives it.
//
//   fleet-cpu-bench record DIR [FORKS]   `fleet scan` of DIR/inventory.yaml over real SSH (a
//                                        farm); every exec's reply is kept in DIR/replies.json;
//                                        then a second `fleet scan` into the same history (two
//                                        phases: phase 1 against the first one's rows), kept apart
//   fleet-cpu-bench replay DIR ROUNDS [FORKS]
//                                        `fleet scan` of the same nodes ROUNDS times, each into a
//                                        fresh history, every exec answered from DIR/replies.json
//   fleet-cpu-bench replay2 DIR ROUNDS [FORKS]
//                                        the same, and each round then replays the second scan
//                                        into the round's history (recordings made before the
//                                        second scan was kept have none: an error)
//
// A replay runs the whole `fleet scan` in this process (inventory, framing, parsers,
// classifier, witnesses, the history's rows and digests, the JSON report), only the SSH
// session is replaced; it prints the CPU (getrusage user+sys) per node of the rounds.
// Instruction counts: run a replay with ROUNDS=k and with ROUNDS=0 under
// `valgrind --tool=callgrind`; the difference over k × nodes is the per-node count.
//
// main is synchronous on purpose (the work runs in a Task, main waits on a semaphore):
// valgrind 3.19 dies with SIGSEGV at the first Dispatch worker thread of a Swift async main
// (`dispatch_main`), not of a program whose main thread just waits.
import Foundation
import ArgumentParser
import FleetCLI
import FleetModel
import FleetSSH

/// Every exec's reply, per node, in the order the node got them.
struct Replies: Codable {
    struct Exec: Codable {
        var command: String
        var stdout: Data
        var stderr: Data
        var exitCode: Int32?
        var signal: String?
        var truncated: Bool
        /// Where the recorded run's nonce occurs in stdout: a replay writes its own there.
        var nonceOffsets: [Int]
    }
    var nodes: [String: [Exec]]
    /// The second scan's replies (into the first scan's history); nil in older recordings.
    var second: [String: [Exec]]?
}

/// The `N=<nonce>` line of a node script (``NodeScript``'s prologue), found in the bytes
/// (a replay pays for this on every exec, so no String of the whole script).
func nonce(of request: ExecRequest) -> [UInt8]? {
    let s = request.stdin, key: [UInt8] = Array("\nN=".utf8)
    guard let at = offsets(of: key, in: s).first else { return nil }
    var end = at + key.count
    while end < s.count, s[end] != UInt8(ascii: "\n") { end += 1 }
    return Array(s[(at + key.count)..<end])
}

func offsets(of needle: [UInt8], in hay: [UInt8]) -> [Int] {
    guard !needle.isEmpty, hay.count >= needle.count else { return [] }
    var out: [Int] = []
    var i = 0
    while i + needle.count <= hay.count {
        if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { out.append(i); i += needle.count } else { i += 1 }
    }
    return out
}

/// Wraps the real executor and keeps each reply.
final class RecordingExecutor: RemoteExecutor, @unchecked Sendable {
    // @unchecked: `nodes` is only touched under `lock`; `inner` is immutable.
    let inner: any RemoteExecutor
    private let lock = NSLock()
    private var nodes: [String: [Replies.Exec]] = [:]
    init(_ inner: any RemoteExecutor) { self.inner = inner }

    var replies: [String: [Replies.Exec]] { lock.withLock { nodes } }

    func add(_ node: String, _ request: ExecRequest, _ result: ExecResult) {
        var code: Int32?, signal: String?
        switch result.exit {
        case .exited(let c): code = c
        case .signalled(let s): signal = s
        case .missing: fatalError("fleet-cpu-bench record: \(node): no exit status; record a farm without faults")
        }
        let e = Replies.Exec(command: request.command, stdout: Data(result.stdout), stderr: Data(result.stderr),
                             exitCode: code, signal: signal, truncated: result.truncated,
                             nonceOffsets: nonce(of: request).map { offsets(of: $0, in: result.stdout) } ?? [])
        lock.withLock { nodes[node, default: []].append(e) }
    }

    func withSession<T: Sendable>(to target: NodeTarget, _ body: @Sendable (any RemoteSession) async throws -> T) async throws -> T {
        try await inner.withSession(to: target) { s in try await body(RecordingSession(node: target.name, inner: s, owner: self)) }
    }
}

struct RecordingSession: RemoteSession {
    let node: String
    let inner: any RemoteSession
    let owner: RecordingExecutor
    func exec(_ request: ExecRequest) async throws(NodeFailure) -> ExecResult {
        let r = try await inner.exec(request)
        owner.add(node, request, r)
        return r
    }
}

/// Answers each node's execs from the recording, in order; anything else stops the process.
final class ReplayExecutor: RemoteExecutor {
    /// One recorded reply, its texts already as bytes (decoded once, before the rounds).
    struct Reply: Sendable {
        var command: String
        var stdout: [UInt8]
        var stderr: [UInt8]
        var exit: RemoteExit
        var truncated: Bool
        var nonceOffsets: [Int]
    }
    let replies: [String: [Reply]]
    init(_ nodes: [String: [Replies.Exec]]) {
        replies = nodes.mapValues { execs in
            execs.map { e in
                Reply(command: e.command, stdout: [UInt8](e.stdout), stderr: [UInt8](e.stderr),
                      exit: e.signal.map(RemoteExit.signalled) ?? .exited(e.exitCode ?? 0), truncated: e.truncated,
                      nonceOffsets: e.nonceOffsets)
            }
        }
    }

    func withSession<T: Sendable>(to target: NodeTarget, _ body: @Sendable (any RemoteSession) async throws -> T) async throws -> T {
        guard let execs = replies[target.name] else { fatalError("fleet-cpu-bench replay: no recording for \(target.name)") }
        return try await body(ReplaySession(node: target.name, execs: execs))
    }
}

final class ReplaySession: RemoteSession, @unchecked Sendable {
    // @unchecked: `next` is only touched under `lock`.
    let node: String
    let execs: [ReplayExecutor.Reply]
    private let lock = NSLock()
    private var next = 0
    init(node: String, execs: [ReplayExecutor.Reply]) { self.node = node; self.execs = execs }

    func exec(_ request: ExecRequest) async throws(NodeFailure) -> ExecResult {
        let i = lock.withLock { let i = next; next += 1; return i }
        guard i < execs.count, execs[i].command == request.command else {
            fatalError("fleet-cpu-bench replay: \(node): exec \(i + 1) `\(request.command)` was not recorded")
        }
        let e = execs[i]
        var out = e.stdout
        if !e.nonceOffsets.isEmpty {
            guard let n = nonce(of: request) else { fatalError("fleet-cpu-bench replay: \(node): script without N=") }
            out.withUnsafeMutableBufferPointer { b in
                for o in e.nonceOffsets { for k in 0..<n.count { b[o + k] = n[k] } }
            }
        }
        return ExecResult(stdout: out, stderr: e.stderr, exit: e.exit, truncated: e.truncated)
    }
}

func cpuSeconds() -> Double {
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    return Double(ru.ru_utime.tv_sec) + Double(ru.ru_utime.tv_usec) / 1e6
        + Double(ru.ru_stime.tv_sec) + Double(ru.ru_stime.tv_usec) / 1e6
}

/// `fleet scan` as bench/scan.sh runs it; the JSON report is rendered and dropped.
func scan(_ dir: URL, forks: Int, db: String, _ executor: any RemoteExecutor) async -> Int32 {
    let args = ["--inventory", dir.appendingPathComponent("inventory.yaml").path, "--db", db,
                "--forks", String(forks), "--format", "json"]
    let ctx = FleetContext(makeExecutor: { _ in executor },
                           output: FleetOutput(out: { _ in }, err: { _ in }, progress: false))
    do {
        try await Fleet.scan(args, ctx)
        return 0
    } catch let e as ExitCode {
        return e.rawValue
    } catch {
        FileHandle.standardError.write(Data("fleet-cpu-bench: \(error)\n".utf8))
        return 70
    }
}

func main(_ a: [String]) async -> Int32 {
    guard a.count >= 3, ["record", "replay", "replay2"].contains(a[1]) else {
        print("usage: fleet-cpu-bench record DIR [FORKS] | replay DIR ROUNDS [FORKS] | replay2 DIR ROUNDS [FORKS]")
        return 64
    }
    let dir = URL(fileURLWithPath: a[2])
    let repliesFile = dir.appendingPathComponent("replies.json")
    if a[1] == "record" {
        let forks = a.count > 3 ? Int(a[3]) ?? 200 : 200
        let ssh = SSHExecutor(options: SSHOptions(maxConcurrentSessions: forks))
        let db = dir.appendingPathComponent("record.sqlite").path
        let rec = RecordingExecutor(ssh), rec2 = RecordingExecutor(ssh)
        let code = await scan(dir, forks: forks, db: db, rec)
        let code2 = await scan(dir, forks: forks, db: db, rec2)
        let r = Replies(nodes: rec.replies, second: rec2.replies)
        do { try JSONEncoder().encode(r).write(to: repliesFile) } catch {
            print("fleet-cpu-bench: cannot write \(repliesFile.path): \(error)"); return 74
        }
        let execs = r.nodes.values.reduce(0) { $0 + $1.count }
        let bytes = r.nodes.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.stdout.count } }
        print("recorded \(r.nodes.count) nodes, \(execs) execs, \(bytes / max(1, r.nodes.count)) stdout bytes/node (scan exit \(code), second scan exit \(code2))")
        return code <= 1 && code2 <= 1 ? 0 : max(code, code2)
    }
    guard a.count >= 4, let rounds = Int(a[3]), rounds >= 0 else { print("replay DIR ROUNDS [FORKS]"); return 64 }
    let forks = a.count > 4 ? Int(a[4]) ?? 200 : 200
    let replies: Replies
    do { replies = try JSONDecoder().decode(Replies.self, from: Data(contentsOf: repliesFile)) } catch {
        print("fleet-cpu-bench: cannot read \(repliesFile.path): \(error)"); return 66
    }
    let executor = ReplayExecutor(replies.nodes)
    var second: ReplayExecutor?
    if a[1] == "replay2" {
        guard let s = replies.second else {
            print("fleet-cpu-bench: \(repliesFile.path) has no second scan (recorded before it was kept): record again"); return 66
        }
        second = ReplayExecutor(s)
    }
    let cpu0 = cpuSeconds()
    var codes: Set<Int32> = []
    for r in 0..<rounds {
        let db = dir.appendingPathComponent("replay-\(r).sqlite").path
        codes.insert(await scan(dir, forks: forks, db: db, executor))
        if let second { codes.insert(await scan(dir, forks: forks, db: db, second)) }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
    }
    let cpu = cpuSeconds() - cpu0
    let n = replies.nodes.count
    var ru = rusage()
    getrusage(RUSAGE_SELF.rawValue, &ru)
    if rounds > 0 {
        let head = (second == nil ? "replay" : "replay2 (first + second scan)") + String(format: ": %d nodes x %d rounds, forks %d: client CPU %.2f s, %.3f ms/node, peak RSS %.1f MiB",
                          n, rounds, forks, cpu, cpu * 1000 / Double(n * rounds), Double(ru.ru_maxrss) / 1024)
        print(head + ", scan exit " + codes.sorted().map(String.init).joined(separator: ","))
    }
    return codes.allSatisfy { $0 <= 1 } ? 0 : 1
}

final class ExitBox: @unchecked Sendable {
    // @unchecked: written by the task before `done.signal()`, read by main after `done.wait()`.
    var status: Int32 = 0
}
let done = DispatchSemaphore(value: 0)
let box = ExitBox()
// Detached: top-level code is on the main actor, and a task that inherited it would wait
// for the main thread, which waits for the task.
Task.detached {
    box.status = await main(CommandLine.arguments)
    done.signal()
}
done.wait()
exit(box.status)
