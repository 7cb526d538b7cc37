import CLibSSH2
import Foundation
import Testing
import FleetModel
import FleetSSH
import FleetTestSupport

/// How a command ended (exit status, signal, neither), keepalives against a node that goes
/// silent, and IPv6: against a real OpenSSH sshd per test on 127.0.101.x or `::1`.
@Suite struct ExitKeepaliveIPv6Tests {
    typealias T = SSHExecutorTests

    // MARK: - Exit status, signal, none

    @Test func commandKilledBySignalIsSignalledNotAnExitCode() async throws {
        let d = try TestSSHD(address: "127.0.101.1")
        defer { d.stop() }
        // `$$` is the `sh -c` fleet's wrapper runs; `timeout` re-raises the child's signal on
        // itself and the login shell execs it, so sshd sees a process killed by SIGKILL and
        // sends `exit-signal KILL` (RFC 4254 6.10), no exit-status.
        let r = try await T.run(SSHExecutor(options: T.options()), T.target(d), "echo before; kill -KILL $$; echo after").get()
        #expect(r.stdoutText == "before\n")
        #expect(r.exit == .signalled("KILL"))
        #expect(r.exit.code == nil)
    }

    /// OpenSSH 9.2's `ChannelTimeout session:command=2` closes a command's channel after 2 s
    /// without traffic and sends neither exit-status nor exit-signal (session.c:
    /// session_close_by_channel with force; `ssh` itself then says "Exit status -1").
    static let channelTimeout = ["ChannelTimeout session:command=2"]
    static let silentCommand = "echo started; sleep 30; echo finished"

    @Test func channelClosedByTheServerWithoutExitStatusIsMissingNotZero() async throws {
        let d = try TestSSHD(address: "127.0.101.2", extraConfig: Self.channelTimeout)
        defer { d.stop() }
        // A /bin/sh user: root's rc files can take longer than the 2 s on a loaded machine.
        let user = try T.throwawayUser()
        let r = try await T.run(SSHExecutor(options: T.options()), T.target(d, user: user), Self.silentCommand,
                                timeout: .seconds(60)).get()
        #expect(!r.stdoutText.contains("finished"), "the server cut the command before it finished")
        #expect(r.exit == .missing(.closedWithoutStatus))
        #expect(r.exit != .exited(0))
    }

    /// What fleet reported before (libssh2's own answer for the same channel): exit status 0,
    /// no signal. This is the lie the test above shows is gone.
    @Test func libssh2AloneReportsThatChannelAsExitZero() throws {
        let d = try TestSSHD(address: "127.0.101.3", extraConfig: Self.channelTimeout)
        defer { d.stop() }
        let (status, signal, out) = try Self.blockingLibssh2Exec(d, user: try T.throwawayUser(), Self.silentCommand)
        #expect(!out.contains("finished"), "the server cut the command before it finished")
        #expect(signal == nil)
        #expect(status == 0)
    }

    /// A plain blocking libssh2 session (no fleet code): exec, read to EOF, close, wait for
    /// the server's close, then libssh2's exit status and signal, as fleet used to read them.
    static func blockingLibssh2Exec(_ d: TestSSHD, user: String, _ command: String) throws -> (Int32, String?, String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSSHDError("socket: \(errno)") }
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(d.port).bigEndian)
        inet_pton(AF_INET, d.address, &a.sin_addr)
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw TestSSHDError("connect: \(errno)") }
        #expect(libssh2_init(0) == 0)
        guard let s = fleet_session_init() else { throw TestSSHDError("libssh2_session_init") }
        defer { _ = fleet_session_disconnect(s, "done"); _ = libssh2_session_free(s) }
        guard libssh2_session_handshake(s, fd) == 0 else { throw TestSSHDError("handshake") }
        guard fleet_userauth_publickey_fromfile(s, user, d.clientKeyPath, "") == 0 else { throw TestSSHDError("auth") }
        guard let ch = fleet_channel_open_session(s) else { throw TestSSHDError("channel open") }
        defer { _ = libssh2_channel_free(ch) }
        guard fleet_channel_exec(ch, command) == 0 else { throw TestSSHDError("exec") }
        var out: [UInt8] = []
        var buf = [CChar](repeating: 0, count: 4096)
        while true {
            let n = fleet_channel_read(ch, 0, &buf, buf.count)
            if n > 0 { out += buf[..<n].map { UInt8(bitPattern: $0) }; continue }
            if n < 0 { throw TestSSHDError("read: \(n)") }
            if libssh2_channel_eof(ch) != 0 { break }
        }
        _ = libssh2_channel_close(ch)
        _ = libssh2_channel_wait_closed(ch)
        var sig: UnsafeMutablePointer<CChar>?
        var siglen = 0
        _ = libssh2_channel_get_exit_signal(ch, &sig, &siglen, nil, nil, nil, nil)
        let signal = sig.map { String(cString: $0) }
        if let sig { libssh2_free(s, sig) }
        return (libssh2_channel_get_exit_status(ch), signal, String(decoding: out, as: UTF8.self))
    }

    // MARK: - Keepalives

    /// Keepalives every 2 s (libssh2's least), cut after 3 unanswered.
    static func keepaliveOptions() -> SSHOptions {
        T.options { $0.keepaliveInterval = .seconds(2); $0.keepaliveCountMax = 3 }
    }

    /// A command that prints nothing for longer than two keepalive periods keeps its session:
    /// the server answers every keepalive, and an answer is what counts, not the command's output.
    @Test func silentButAliveCommandKeepsItsSession() async throws {
        let d = try TestSSHD(address: "127.0.101.4")
        defer { d.stop() }
        let r = try await T.run(SSHExecutor(options: Self.keepaliveOptions()), T.target(d), "sleep 12; echo alive",
                                timeout: .seconds(120)).get()
        #expect(r.stdoutText == "alive\n")
        #expect(r.exit == .exited(0))
    }

    /// The first ancestor of the command whose name is `sshd`: the session's own sshd process
    /// (OpenSSH's unprivileged child that speaks SSH on this connection).
    static let sessionSSHD = #"p=$$; while [ "$(cat /proc/$p/comm)" != sshd ]; do p=$(cut -d' ' -f4 /proc/$p/stat); done; echo $p"#

    static func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// A node that goes silent after the handshake (its sshd session process stopped with
    /// SIGSTOP: the kernel still ACKs, nothing answers) is cut by the keepalives, with their
    /// own status, not by the command's 300 s deadline. Without keepalives sent and counted,
    /// the session would end as `command-timeout`.
    @Test func nodeThatGoesSilentAfterTheHandshakeIsCutByKeepalives() async throws {
        let d = try TestSSHD(address: "127.0.101.5")
        defer { d.stop() }
        let ex = SSHExecutor(options: Self.keepaliveOptions())
        let stopped = StoppedProcess()
        defer { stopped.resume() }
        let result: Result<ExecResult, NodeFailure>
        do {
            let r = try await ex.withSession(to: T.target(d)) { s in
                let found = try await s.exec(ExecRequest(command: Self.sessionSSHD, timeout: .seconds(30)))
                guard let pid = Int32(found.stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                    throw TestSSHDError("no session sshd pid in \(found.stdoutText.debugDescription)")
                }
                // Only a process of this test's own sshd: walk up to the daemon it started.
                var p: Int32? = pid
                while let q = p, q != d.pid, q > 1 { p = Self.parent(of: q) }
                guard p == d.pid else { throw TestSSHDError("\(pid) is not a child of the test's sshd \(d.pid)") }
                #expect(kill(pid, SIGSTOP) == 0)
                stopped.set(pid)
                return try await s.exec(ExecRequest(command: "echo still-here", timeout: .seconds(300)))
            }
            result = .success(r)
        } catch let f as NodeFailure {
            result = .failure(f)
        }
        let f = try #require(T.failure(result), "the silent node's command must not succeed")
        #expect(f.status == .keepaliveTimeout)
        #expect(f.message.contains("keepalive"))
        #expect(f.message.contains("127.0.101.5:\(d.port)"))
    }

    // MARK: - IPv6

    @Test func ipv6LoopbackLiteral() async throws {
        let d = try TestSSHD(address: "::1")
        defer { d.stop() }
        // TestSSHD's known_hosts names it `[::1]:port`, as OpenSSH writes it.
        let known = try String(contentsOfFile: d.knownHostsPath, encoding: .utf8)
        #expect(known.hasPrefix("[::1]:\(d.port) ssh-ed25519 "))
        let r = try await T.run(SSHExecutor(options: T.options()), T.target(d), "echo over-ipv6; echo $SSH_CONNECTION").get()
        let lines = r.stdoutText.split(separator: "\n").map(String.init)
        #expect(lines.first == "over-ipv6")
        // sshd says where the connection came from and went to: ::1 on both ends.
        #expect(lines.last?.hasPrefix("::1 ") == true && lines.last?.contains(" ::1 \(d.port)") == true)
        #expect(r.exit == .exited(0))
    }

    @Test func ipv6AcceptNewRecordsBracketedHostThenStrictAccepts() async throws {
        let d = try TestSSHD(address: "::1")
        defer { d.stop() }
        let kh = d.dir.appendingPathComponent("fresh_known_hosts").path
        FileManager.default.createFile(atPath: kh, contents: nil)
        let first = try await T.run(SSHExecutor(options: T.options { $0.hostKeyPolicy = .acceptNew }),
                                    T.target(d, knownHosts: kh), "echo first").get()
        #expect(first.stdoutText == "first\n")
        let recorded = try String(contentsOfFile: kh, encoding: .utf8)
        let hostPub = try String(contentsOfFile: d.hostKeyPath + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        #expect(recorded == "[::1]:\(d.port) \(hostPub)\n")
        let second = try await T.run(SSHExecutor(options: T.options()), T.target(d, knownHosts: kh), "echo second").get()
        #expect(second.stdoutText == "second\n")
    }
}

/// The pid a test stopped with SIGSTOP, continued (SIGCONT) at the end whatever happened.
final class StoppedProcess: @unchecked Sendable {
    // @unchecked: `pid` is only touched under `lock`.
    private let lock = NSLock()
    private var pid: Int32?
    func set(_ p: Int32) { lock.withLock { pid = p } }
    func resume() { if let p = lock.withLock({ pid }) { kill(p, SIGCONT) } }
}
