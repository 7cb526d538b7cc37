import Foundation
import Testing
import FleetModel
import FleetSSH
import FleetTestSupport

/// Integration tests against a real OpenSSH sshd started per test on 127.0.6.x (each test
/// has its own server, address and files, so they may run in parallel).
@Suite struct SSHExecutorTests {
    static func target(_ d: TestSSHD, user: String = "root", keys: [String]? = nil, knownHosts: String? = nil,
                       sudo: Bool = false) -> NodeTarget {
        NodeTarget(name: "node", host: d.address, port: d.port, user: user,
                   identityFiles: keys ?? [d.clientKeyPath], knownHostsFiles: [knownHosts ?? d.knownHostsPath], sudo: sudo)
    }

    static func options(_ f: (inout SSHOptions) -> Void = { _ in }) -> SSHOptions {
        var o = SSHOptions(connectTimeout: .seconds(5), handshakeTimeout: .seconds(10), agentSocket: "")
        f(&o)
        return o
    }

    /// Runs `command` once and returns the result or the node failure.
    static func run(_ ex: SSHExecutor, _ t: NodeTarget, _ command: String,
                    timeout: Duration = .seconds(30), limit: Int = 16 << 20) async -> Result<ExecResult, NodeFailure> {
        do {
            let r = try await ex.withSession(to: t) { s in
                try await s.exec(ExecRequest(command: command, timeout: timeout, outputLimit: limit))
            }
            return .success(r)
        } catch let f as NodeFailure {
            return .failure(f)
        } catch {
            Issue.record("unexpected error \(error)")
            return .failure(NodeFailure(.protocolError, "\(error)"))
        }
    }

    static func failure(_ r: Result<ExecResult, NodeFailure>) -> NodeFailure? {
        if case .failure(let f) = r { return f }
        return nil
    }

    /// A non-root user with /bin/sh as login shell, no sudo rule and no rc files: root's rc
    /// files on a dev box (pyenv init, …) make every login slow and serialised.
    static let userLock = NSLock()

    static func throwawayUser() throws -> String {
        userLock.lock()
        defer { userLock.unlock() }
        let user = "fleetsshtest"
        if (try? TestSSHD.run("/usr/bin/id", [user])) == nil {
            _ = try? TestSSHD.run("/usr/sbin/useradd", ["-m", "-s", "/bin/sh", user])
        }
        // UsePAM no refuses locked accounts ("!" in shadow); "*" is "no password" but unlocked.
        try TestSSHD.run("/usr/sbin/usermod", ["-p", "*", user])
        return user
    }

    @Test func stdoutStderrExitCodeAndStdin() async throws {
        let d = try TestSSHD(address: "127.0.6.10")
        defer { d.stop() }
        let ex = SSHExecutor(options: Self.options())
        let (a, b, c) = try await ex.withSession(to: Self.target(d)) { s in
            let a = try await s.exec(ExecRequest(command: "echo out; echo err >&2; exit 3"))
            let b = try await s.exec(ExecRequest(command: "tr a-z A-Z", stdin: Array("hello from stdin\n".utf8)))
            let c = try await s.exec(ExecRequest(command: "kill -TERM $$"))
            return (a, b, c)
        }
        #expect(a.stdoutText == "out\n")
        #expect(a.stderrText == "err\n")
        #expect(a.exit == .exited(3))
        #expect(a.truncated == false)
        #expect(b.stdoutText == "HELLO FROM STDIN\n")
        #expect(b.exit == .exited(0))
        // The shell died by SIGTERM: sshd reports the signal (or a shell in between, 128+15).
        #expect(c.exit == .signalled("TERM") || c.exit == .exited(143))
    }

    @Test func oneMebibyteComplete() async throws {
        let d = try TestSSHD(address: "127.0.6.11")
        defer { d.stop() }
        let r = try await Self.run(SSHExecutor(options: Self.options()), Self.target(d),
                                   "head -c 1048576 /dev/zero | tr '\\0' a; echo done >&2").get()
        #expect(r.stdout.count == 1 << 20)
        #expect(r.stdout.allSatisfy { $0 == UInt8(ascii: "a") })
        #expect(r.stderrText == "done\n")
        #expect(r.truncated == false)
        #expect(r.exit == .exited(0))
    }

    @Test func thirtyTwoMebibytesTruncatedAtSixteen() async throws {
        let d = try TestSSHD(address: "127.0.6.12")
        defer { d.stop() }
        let r = try await Self.run(SSHExecutor(options: Self.options()), Self.target(d),
                                   "head -c 33554432 /dev/zero", limit: 16 << 20).get()
        #expect(r.stdout.count == 16 << 20)
        #expect(r.truncated)
        // Output beyond the cap is read and discarded, so the command still ends normally.
        #expect(r.exit == .exited(0))
    }

    @Test func unknownHostNamesFingerprint() async throws {
        let d = try TestSSHD(address: "127.0.6.13")
        defer { d.stop() }
        let empty = d.dir.appendingPathComponent("empty_known_hosts").path
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        let fp = try TestSSHD.fingerprint(publicKeyFile: d.hostKeyPath + ".pub")
        let f = Self.failure(await Self.run(SSHExecutor(options: Self.options()), Self.target(d, knownHosts: empty), "true"))
        #expect(f?.status == .hostKeyUnknown)
        #expect(f?.message.contains(fp) == true)
        #expect(f?.message.contains("\(d.address):\(d.port)") == true)
    }

    @Test func changedHostKeyRefusedEvenWithAcceptNew() async throws {
        let d = try TestSSHD(address: "127.0.6.14")
        defer { d.stop() }
        let other = d.dir.appendingPathComponent("other_ed25519").path
        try TestSSHD.keygen(type: "ed25519", path: other)
        let otherPub = try String(contentsOfFile: other + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let kh = d.dir.appendingPathComponent("changed_known_hosts").path
        let content = "[\(d.address)]:\(d.port) \(otherPub)\n"
        try content.write(toFile: kh, atomically: true, encoding: .utf8)
        let fp = try TestSSHD.fingerprint(publicKeyFile: d.hostKeyPath + ".pub")
        for policy in SSHOptions.HostKeyPolicy.allCases {
            let ex = SSHExecutor(options: Self.options { $0.hostKeyPolicy = policy })
            let f = Self.failure(await Self.run(ex, Self.target(d, knownHosts: kh), "true"))
            #expect(f?.status == .hostKeyChanged, "policy \(policy)")
            #expect(f?.message.contains(fp) == true)
        }
        #expect(try String(contentsOfFile: kh, encoding: .utf8) == content)
    }

    @Test func acceptNewRecordsKeyThenStrictAccepts() async throws {
        let d = try TestSSHD(address: "127.0.6.15")
        defer { d.stop() }
        let kh = d.dir.appendingPathComponent("new_known_hosts").path
        let accept = SSHExecutor(options: Self.options { $0.hostKeyPolicy = .acceptNew })
        let r = try await Self.run(accept, Self.target(d, knownHosts: kh), "echo ok").get()
        #expect(r.stdoutText == "ok\n")
        let hostPub = try String(contentsOfFile: d.hostKeyPath + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        #expect(try String(contentsOfFile: kh, encoding: .utf8) == "[\(d.address)]:\(d.port) \(hostPub)\n")
        let strict = try await Self.run(SSHExecutor(options: Self.options()), Self.target(d, knownHosts: kh), "echo again").get()
        #expect(strict.stdoutText == "again\n")
    }

    @Test func hashedKnownHosts() async throws {
        let d = try TestSSHD(address: "127.0.6.16")
        defer { d.stop() }
        let kh = d.dir.appendingPathComponent("hashed_known_hosts").path
        try FileManager.default.copyItem(atPath: d.knownHostsPath, toPath: kh)
        try TestSSHD.run("/usr/bin/ssh-keygen", ["-q", "-H", "-f", kh])
        let text = try String(contentsOfFile: kh, encoding: .utf8)
        #expect(text.hasPrefix("|1|"))
        let r = try await Self.run(SSHExecutor(options: Self.options()), Self.target(d, knownHosts: kh), "echo hashed").get()
        #expect(r.stdoutText == "hashed\n")
    }

    @Test func wrongKeyIsAuthFailed() async throws {
        let d = try TestSSHD(address: "127.0.6.17")
        defer { d.stop() }
        let stranger = d.dir.appendingPathComponent("stranger_ed25519").path
        try TestSSHD.keygen(type: "ed25519", path: stranger)
        let f = Self.failure(await Self.run(SSHExecutor(options: Self.options()), Self.target(d, keys: [stranger]), "true"))
        #expect(f?.status == .authFailed)
        #expect(f?.message.contains(stranger) == true)
    }

    @Test func rsaKeyExplainsSHA1() async throws {
        let d = try TestSSHD(address: "127.0.6.18")
        defer { d.stop() }
        let rsa = d.dir.appendingPathComponent("client_rsa").path
        try TestSSHD.keygen(type: "rsa", path: rsa)
        try d.authorize(publicKeyFile: rsa + ".pub")
        let f = Self.failure(await Self.run(SSHExecutor(options: Self.options()), Self.target(d, keys: [rsa]), "true"))
        #expect(f?.status == .authFailed)
        #expect(f?.message.contains("SHA-1") == true)
        #expect(f?.message.contains("ed25519") == true)
    }

    @Test func encryptedKeyWithPassphraseFromEnvironment() async throws {
        let d = try TestSSHD(address: "127.0.6.19")
        defer { d.stop() }
        // The passphrase is the value of a variable that is already set (HOME): setenv while
        // other suites' threads read the environment is not thread-safe.
        let variable = "HOME"
        let passphrase = try #require(ProcessInfo.processInfo.environment[variable])
        let key = d.dir.appendingPathComponent("locked_ed25519").path
        try TestSSHD.keygen(type: "ed25519", path: key, passphrase: passphrase)
        try d.authorize(publicKeyFile: key + ".pub")
        let ex = SSHExecutor(options: Self.options { $0.passphraseEnvironmentVariable = variable })
        let r = try await Self.run(ex, Self.target(d, keys: [key]), "echo unlocked").get()
        #expect(r.stdoutText == "unlocked\n")
        let noPass = SSHExecutor(options: Self.options { $0.passphraseEnvironmentVariable = "FLEET_SSH_TEST_UNSET_VARIABLE" })
        let f = Self.failure(await Self.run(noPass, Self.target(d, keys: [key]), "true"))
        #expect(f?.status == .authFailed)
        #expect(f?.message.contains("FLEET_SSH_TEST_UNSET_VARIABLE") == true)
    }

    @Test func agentAuth() async throws {
        let d = try TestSSHD(address: "127.0.6.20")
        defer { d.stop() }
        let agent = try TestSSHAgent(dir: d.dir)
        defer { agent.stop() }
        try agent.add(keyFile: d.clientKeyPath)
        let ex = SSHExecutor(options: Self.options { $0.agentSocket = agent.socketPath })
        let r = try await Self.run(ex, Self.target(d, keys: []), "echo via-agent").get()
        #expect(r.stdoutText == "via-agent\n")
    }

    @Test func connectionRefused() async throws {
        let port = try TestSSHD.freePort("127.0.6.21")
        let t = NodeTarget(name: "n", host: "127.0.6.21", port: port, identityFiles: [], knownHostsFiles: [])
        let f = Self.failure(await Self.run(SSHExecutor(options: Self.options()), t, "true"))
        #expect(f?.status == .refused)
        #expect(f?.message.contains("127.0.6.21:\(port)") == true)
    }

    @Test func silentListenerIsHandshakeTimeout() async throws {
        let l = try SilentListener(address: "127.0.6.22")
        let t = NodeTarget(name: "n", host: l.address, port: l.port, identityFiles: [], knownHostsFiles: [])
        let ex = SSHExecutor(options: Self.options { $0.handshakeTimeout = .seconds(1) })
        let f = Self.failure(await Self.run(ex, t, "true"))
        #expect(f?.status == .handshakeTimeout)
    }

    @Test func sleepForeverTimesOutAndLeavesNothingRunning() async throws {
        let d = try TestSSHD(address: "127.0.6.23")
        defer { d.stop() }
        let marker = "fleet-ssh-test-\(UUID().uuidString)"
        let f = Self.failure(await Self.run(SSHExecutor(options: Self.options()), Self.target(d),
                                            "sleep 86400; : \(marker)", timeout: .seconds(1)))
        #expect(f?.status == .commandTimeout)
        // The node's own `timeout -s KILL` (request timeout + 2 s) must remove it.
        var alive = true
        for _ in 0..<100 where alive {
            alive = (try? TestSSHD.run("/usr/bin/pgrep", ["-f", marker])) != nil
            if alive { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(!alive, "remote command still running after the timeout")
    }

    @Test func sudoWithoutPasswordRuleIsReported() async throws {
        let user = try Self.throwawayUser()
        let d = try TestSSHD(address: "127.0.6.24")
        defer { d.stop() }
        let ex = SSHExecutor(options: Self.options())
        let plain = try await Self.run(ex, Self.target(d, user: user), "id -un").get()
        #expect(plain.stdoutText == "\(user)\n")
        let f = Self.failure(await Self.run(ex, Self.target(d, user: user, sudo: true), "id -u"))
        #expect(f?.status == .sudoNeedsPassword)
        #expect(f?.message.contains(user) == true)
    }

    @Test func fiveHundredSessionsAtConcurrencyTwoHundred() async throws {
        let d = try TestSSHD(address: "127.0.6.25")
        defer { d.stop() }
        // Generous deadlines: CI boxes are small and shared; this test is about completeness.
        let ex = SSHExecutor(options: Self.options {
            $0.maxConcurrentSessions = 200; $0.connectTimeout = .seconds(30); $0.handshakeTimeout = .seconds(120)
        })
        let t = Self.target(d, user: try Self.throwawayUser())
        let results = await withTaskGroup(of: (Int, Result<ExecResult, NodeFailure>).self) { g in
            for i in 0..<500 {
                g.addTask { (i, await Self.run(ex, t, "echo \(i)", timeout: .seconds(120))) }
            }
            var all: [Int: Result<ExecResult, NodeFailure>] = [:]
            for await (i, r) in g { all[i] = r }
            return all
        }
        #expect(results.count == 500)
        let failures = results.values.compactMap(Self.failure)
        #expect(failures.count == 0, "first failure: \(failures.first.map(\.description) ?? "")")
        for (i, r) in results {
            if case .success(let e) = r { #expect(e.stdoutText == "\(i)\n") }
        }
    }

    @Test func hostNameIsResolved() async throws {
        // localhost resolves to 127.0.0.1 here; the sshd has a random free port there.
        let d = try TestSSHD(address: "127.0.0.1")
        defer { d.stop() }
        let hostPub = try String(contentsOfFile: d.hostKeyPath + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let kh = d.dir.appendingPathComponent("name_known_hosts").path
        try "[localhost]:\(d.port) \(hostPub)\n".write(toFile: kh, atomically: true, encoding: .utf8)
        let t = NodeTarget(name: "n", host: "localhost", port: d.port, identityFiles: [d.clientKeyPath], knownHostsFiles: [kh])
        let r = try await Self.run(SSHExecutor(options: Self.options()), t, "echo by-name").get()
        #expect(r.stdoutText == "by-name\n")
    }

    @Test func unresolvableNameIsUnreachable() async throws {
        let t = NodeTarget(name: "n", host: "fleet-no-such-node.invalid", port: 22, identityFiles: [], knownHostsFiles: [])
        let f = Self.failure(await Self.run(SSHExecutor(options: Self.options()), t, "true"))
        #expect(f?.status == .unreachable)
        #expect(f?.message.contains("fleet-no-such-node.invalid") == true)
    }

    @Test func ecdsaKeyFile() async throws {
        let d = try TestSSHD(address: "127.0.6.26")
        defer { d.stop() }
        let key = d.dir.appendingPathComponent("client_ecdsa").path
        try TestSSHD.keygen(type: "ecdsa", path: key)
        try d.authorize(publicKeyFile: key + ".pub")
        let r = try await Self.run(SSHExecutor(options: Self.options()), Self.target(d, keys: [key]), "echo ecdsa").get()
        #expect(r.stdoutText == "ecdsa\n")
    }

    @Test func hostKnownOnlyByItsECDSAKey() async throws {
        // The server has ed25519 and ecdsa host keys; known_hosts lists only the ecdsa one.
        // OpenSSH then negotiates ecdsa; so must fleet, instead of calling the host changed.
        let keyDir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-ecdsa-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: keyDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: keyDir) }
        let ecdsaHost = keyDir.appendingPathComponent("host_ecdsa").path
        try TestSSHD.keygen(type: "ecdsa", path: ecdsaHost)
        let d = try TestSSHD(address: "127.0.6.27", extraConfig: ["HostKey \(ecdsaHost)"])
        defer { d.stop() }
        let pub = try String(contentsOfFile: ecdsaHost + ".pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let kh = d.dir.appendingPathComponent("ecdsa_known_hosts").path
        try "[\(d.address)]:\(d.port) \(pub)\n".write(toFile: kh, atomically: true, encoding: .utf8)
        let r = try await Self.run(SSHExecutor(options: Self.options()), Self.target(d, knownHosts: kh), "echo known").get()
        #expect(r.stdoutText == "known\n")
    }

    @Test func commandThatIgnoresLargeStdinStillFinishes() async throws {
        let d = try TestSSHD(address: "127.0.6.28")
        defer { d.stop() }
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 8 << 20)  // beyond every SSH window
        let r = try await SSHExecutor(options: Self.options()).withSession(to: Self.target(d)) { s in
            try await s.exec(ExecRequest(command: "head -c 10 >/dev/null; echo read-ten", stdin: big, timeout: .seconds(60)))
        }
        #expect(r.stdoutText == "read-ten\n")
        #expect(r.exit == .exited(0))
    }

    @Test func cancellationDropsTheSessionAtOnce() async throws {
        let d = try TestSSHD(address: "127.0.6.29")
        defer { d.stop() }
        let ex = SSHExecutor(options: Self.options())
        let t = Self.target(d)
        let task = Task { await Self.run(ex, t, "echo started; sleep 20", timeout: .seconds(600)) }
        try await Task.sleep(for: .seconds(1))
        task.cancel()
        // Without cancellation support this would end normally (exit 0) 20 s later.
        let f = Self.failure(await task.value)
        #expect(f?.status == .disconnected)
        #expect(f?.message.contains("cancelled") == true)
    }

    @Test func commandStillRunningWhenBodyReturnsIsFailedNotLeftHanging() async throws {
        let d = try TestSSHD(address: "127.0.6.30")
        defer { d.stop() }
        let ex = SSHExecutor(options: Self.options())
        let pending = try await ex.withSession(to: Self.target(d)) { s in
            let task = Task { try await s.exec(ExecRequest(command: "sleep 20", timeout: .seconds(60))) }
            try await Task.sleep(for: .seconds(1))
            return task
        }
        let result = await pending.result
        var status: NodeStatus?
        if case .failure(let f as NodeFailure) = result { status = f.status }
        #expect(status == .disconnected)
    }

    @Test func saturatedListenerIsConnectTimeout() async throws {
        let l = try SilentListener(address: "127.0.6.31", saturated: true)
        let t = NodeTarget(name: "n", host: l.address, port: l.port, identityFiles: [], knownHostsFiles: [])
        let ex = SSHExecutor(options: Self.options { $0.connectTimeout = .seconds(1) })
        let f = Self.failure(await Self.run(ex, t, "true"))
        #expect(f?.status == .connectTimeout)
        #expect(f?.message.contains("127.0.6.31:\(l.port)") == true)
    }
}
