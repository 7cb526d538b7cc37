import CLibSSH2
import FleetModel
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}

/// libssh2_init must run once, before any thread uses libssh2. Swift runs a global's
/// initializer exactly once, thread-safely.
private let libssh2Ready: Bool = {
    signal(SIGPIPE, SIG_IGN)  // a node that drops the connection must not kill fleet
    return libssh2_init(0) == 0
}()

/// The algorithms the linked libssh2 implements, per method (kex, host key, cipher, MAC).
let libssh2SupportedAlgorithms: [Int32: Set<String>] = {
    precondition(libssh2Ready, "libssh2_init failed")
    var sup: [Int32: Set<String>] = [:]
    if let s = fleet_session_init() {
        for m in [LIBSSH2_METHOD_KEX, LIBSSH2_METHOD_HOSTKEY, LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_MAC_CS] {
            var algs: UnsafeMutablePointer<UnsafePointer<CChar>?>?
            let n = libssh2_session_supported_algs(s, m, &algs)
            if n > 0, let algs {
                sup[m] = Set((0..<Int(n)).compactMap { algs[$0].map { String(cString: $0) } })
                libssh2_free(s, algs)
            }
        }
        libssh2_session_free(s)
    }
    return sup
}()

func libssh2Algorithms(_ method: Int32) -> Set<String> { libssh2SupportedAlgorithms[method] ?? [] }

/// Runs commands on nodes over SSH (libssh2), many sessions at once on a few event-loop threads.
///
/// Every failure to reach, verify, authenticate or run on a node is a ``NodeFailure``
/// naming `host:port` and the cause; nothing here crashes or hangs on a bad node.
/// Sessions are non-blocking libssh2 sessions owned by one of `options.eventLoopThreads`
/// loop threads that poll their sockets; async callers wait on continuations, so no
/// libssh2 call ever runs on Swift's cooperative pool.
public final class SSHExecutor: RemoteExecutor {
    public let options: SSHOptions
    private let shared: Shared
    private let loops: [EventLoop]
    private let nextLoop = Atomic<Int>(0)
    private let limiter: AsyncLimiter
    private let jumps: JumpPool

    /// What every connection of this executor reads: immutable after init, or internally locked.
    final class Shared: Sendable {
        let knownHosts = KnownHostsStore()
        let passphrase: String?
        let agentSocket: String?
        let supported: [Int32: Set<String>]
        private let keyInfos = Mutex<[String: (signature: [Int], info: PrivateKeyInfo, signer: Ed25519Signer?)]>([:])

        /// A key file's type and encryption (and, for a plain Ed25519 key, a ready signer),
        /// re-read only when the file changes.
        func keyInfo(path: String) -> (info: PrivateKeyInfo, signer: Ed25519Signer?)? {
            guard let sig = KnownHostsFile.signature(of: path) else { return nil }
            if let c = keyInfos.withLock({ $0[path] }), c.signature == sig { return (c.info, c.signer) }
            guard var info = PrivateKeyInfo.read(path: path) else { return nil }
            let signer = info.ed25519.flatMap { Ed25519Signer(publicBlob: $0.publicBlob, seed: $0.seed) }
            info.ed25519 = nil  // the seed lives only inside OpenSSL from here on
            keyInfos.withLock { $0[path] = (sig, info, signer) }
            return (info, signer)
        }

        init(options: SSHOptions) {
            passphrase = options.passphraseEnvironmentVariable.flatMap(getenvString)
            let sock = options.agentSocket ?? getenvString("SSH_AUTH_SOCK")
            agentSocket = (sock?.isEmpty ?? true) ? nil : sock
            supported = libssh2SupportedAlgorithms
        }

        /// Fast, safe algorithms first (curve25519 kex, AES-CTR, SHA-2 ETM MACs), limited to
        /// what this libssh2 supports; host key types already in known_hosts come first.
        func methodPreferences(knownHostKeyTypes: [String]) -> [(Int32, String)] {
            // Perf: the lists depend only on the known key types (one set for a whole fleet,
            // usually); built once per set instead of once per login.
            if let hit = preferenceCache.withLock({ $0[knownHostKeyTypes] }) { return hit }
            let built = buildMethodPreferences(knownHostKeyTypes: knownHostKeyTypes)
            preferenceCache.withLock { if $0.count < 64 { $0[knownHostKeyTypes] = built } }
            return built
        }

        private let preferenceCache = Mutex<[[String]: [(Int32, String)]]>([:])

        private func buildMethodPreferences(knownHostKeyTypes: [String]) -> [(Int32, String)] {
            func pick(_ m: Int32, _ wanted: [String]) -> String? {
                guard let have = supported[m] else { return nil }
                let list = wanted.filter(have.contains)
                return list.isEmpty ? nil : list.joined(separator: ",")
            }
            let kex = ["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
                       "ecdh-sha2-nistp521", "diffie-hellman-group16-sha512", "diffie-hellman-group14-sha256",
                       "diffie-hellman-group-exchange-sha256"]
            let crypt = ["aes128-ctr", "aes256-ctr", "aes192-ctr"]
            let mac = ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"]
            let hostDefault = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                               "rsa-sha2-512", "rsa-sha2-256"]
            var hostKeys: [String] = []
            for t in knownHostKeyTypes {
                let algs = t == "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [t]
                for a in algs where !hostKeys.contains(a) { hostKeys.append(a) }
            }
            for a in hostDefault where !hostKeys.contains(a) { hostKeys.append(a) }
            var out: [(Int32, String)] = []
            if let v = pick(LIBSSH2_METHOD_KEX, kex) { out.append((LIBSSH2_METHOD_KEX, v)) }
            if let v = pick(LIBSSH2_METHOD_HOSTKEY, hostKeys) { out.append((LIBSSH2_METHOD_HOSTKEY, v)) }
            if let v = pick(LIBSSH2_METHOD_CRYPT_CS, crypt) {
                out.append((LIBSSH2_METHOD_CRYPT_CS, v)); out.append((LIBSSH2_METHOD_CRYPT_SC, v))
            }
            if let v = pick(LIBSSH2_METHOD_MAC_CS, mac) {
                out.append((LIBSSH2_METHOD_MAC_CS, v)); out.append((LIBSSH2_METHOD_MAC_SC, v))
            }
            return out
        }
    }

    public init(options: SSHOptions = SSHOptions()) {
        precondition(libssh2Ready, "libssh2_init failed")
        self.options = options
        shared = Shared(options: options)
        Self.raiseOpenFileLimit(toAtLeast: options.maxConcurrentSessions + 256)
        loops = (0..<max(1, options.eventLoopThreads)).map { EventLoop(name: "fleet-ssh-\($0)") }
        limiter = AsyncLimiter(max(1, options.maxConcurrentSessions))
        jumps = JumpPool(channelsPerConnection: options.channelsPerJumpConnection)
    }

    deinit {
        for l in loops { l.stop() }
    }

    /// One socket per session: a soft RLIMIT_NOFILE of 1024 (a common default) would fail
    /// sessions beyond it with EMFILE, so raise the soft limit toward the hard one.
    private static func raiseOpenFileLimit(toAtLeast wanted: Int) {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0, rl.rlim_cur < rlim_t(wanted) else { return }
        rl.rlim_cur = min(rl.rlim_max, rlim_t(wanted))
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
    }

    public func withSession<T: Sendable>(
        to target: NodeTarget,
        _ body: @Sendable (any RemoteSession) async throws -> T
    ) async throws -> T {
        await limiter.acquire()
        defer { limiter.release() }
        let conn = try await open(target)
        let session = SSHRemoteSession(conn)
        do {
            let value = try await body(session)
            await session.close()
            return value
        } catch {
            await session.close()
            throw error
        }
    }

    private func open(_ target: NodeTarget, jumpKey: JumpPool.Key? = nil) async throws(NodeFailure) -> SSHConnection {
        let label = target.label
        if let why = target.unusable {
            throw NodeFailure(.unreachable, "\(target.name) (\(label)): cannot be reached as configured: \(why)")
        }
        if !target.jumps.isEmpty { return try await openThroughJump(target, chain: target.jumps) }
        let addresses: [SocketAddress]
        switch await SocketAddress.resolve(target.host, port: target.port) {
        case .success(let a): addresses = a
        case .failure(let why): throw NodeFailure(.unreachable, "\(label): cannot resolve \(target.host): \(why)")
        }
        let loop = loops[nextLoop.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
        let conn = SSHConnection(loop: loop, target: target, options: options, config: shared)
        if let jumpKey { conn.jump = jumps.handle(jumpKey, conn) }
        if Task.isCancelled { throw NodeFailure(.disconnected, "\(label): cancelled by fleet before connecting") }
        let result: Result<Void, NodeFailure> = await withTaskCancellationHandler {
            await withCheckedContinuation { cont in
                loop.submit { conn.start(addresses: addresses, cont) }
            }
        } onCancel: {
            loop.submit { conn.cancel() }
        }
        try result.get()
        return conn
    }

    /// `target`'s session through the last hop of `chain`: a channel of a shared jump host
    /// connection (itself reached through the hops before it), on that connection's loop.
    private func openThroughJump(_ target: NodeTarget, chain: [NodeTarget]) async throws(NodeFailure) -> SSHConnection {
        let hop = chain.last!
        for _ in 0..<4 {
            let bastion: SSHConnection
            do {
                bastion = try await jumps.acquire(chain) { key throws(NodeFailure) in try await self.connectJumpHost(key) }
            } catch {
                throw NodeFailure(error.status, "\(target.label): through jump host \(hop.name) (\(hop.label)): \(error.message)")
            }
            let conn = SSHConnection(loop: bastion.loop, target: target, options: options, config: shared)
            let deadline = ContinuousClock.now.advanced(by: conn.connectTimeout)
            let result: Result<Void, NodeFailure> = await withTaskCancellationHandler {
                await withCheckedContinuation { cont in
                    bastion.loop.submit { bastion.openTunnel(for: conn, deadline: deadline, cont) }
                }
            } onCancel: {
                bastion.loop.submit { conn.cancel() }
            }
            switch result {
            case .success: return conn
            case .failure(let f) where f.message == JumpPool.retryMarker: continue
            case .failure(let f): throw f
            }
        }
        throw NodeFailure(.connectTimeout, "\(target.label): jump host \(hop.label) kept refusing new channels")
    }

    /// A new authenticated connection to the jump host `key.last`: over TCP for the first
    /// hop, through the previous hop's shared connection otherwise.
    private func connectJumpHost(_ key: JumpPool.Key) async throws(NodeFailure) -> SSHConnection {
        let hop = key.last!
        let before = Array(key.dropLast())
        if let why = hop.unusable { throw NodeFailure(.unreachable, "cannot be reached as configured: \(why)") }
        if before.isEmpty {
            let conn = try await open(hop, jumpKey: key)
            return conn
        }
        var t = hop
        t.jumps = []
        let bastion: SSHConnection
        do {
            bastion = try await jumps.acquire(before) { k throws(NodeFailure) in try await self.connectJumpHost(k) }
        } catch {
            let prev = before.last!
            throw NodeFailure(error.status, "through jump host \(prev.name) (\(prev.label)): \(error.message)")
        }
        let conn = SSHConnection(loop: bastion.loop, target: t, options: options, config: shared)
        conn.jump = jumps.handle(key, conn)
        let deadline = ContinuousClock.now.advanced(by: conn.connectTimeout)
        let result: Result<Void, NodeFailure> = await withCheckedContinuation { cont in
            bastion.loop.submit { bastion.openTunnel(for: conn, deadline: deadline, cont) }
        }
        try result.get()
        return conn
    }

    /// The command line sent to the node: the caller's command under the node's own
    /// `timeout` (so nothing outlives a dropped channel), and through `sudo -n` when asked.
    public static func remoteCommandLine(_ command: String, timeout: Duration, sudo: Bool) -> String {
        let secs = timeout.secondsRoundedUp + 2
        let wrapped = "timeout -s KILL \(secs) sh -c \(q(command))"
        return sudo ? "sudo -n " + wrapped : wrapped
    }
}

/// The ``RemoteSession`` handed to `withSession`'s body. Execs queue on the connection,
/// one at a time.
final class SSHRemoteSession: RemoteSession {
    private let conn: SSHConnection

    init(_ conn: SSHConnection) { self.conn = conn }

    func exec(_ request: ExecRequest) async throws(NodeFailure) -> ExecResult {
        let conn = self.conn
        let line = SSHExecutor.remoteCommandLine(request.command, timeout: request.timeout, sudo: conn.target.sudo)
        let result: Result<ExecResult, NodeFailure> = await withTaskCancellationHandler {
            await withCheckedContinuation { cont in
                conn.loop.submit { conn.enqueue(request, line: line, cont) }
            }
        } onCancel: {
            conn.loop.submit { conn.cancel() }
        }
        let r = try result.get()
        if conn.target.sudo, r.exit == .exited(1),
           r.stderrText.contains("sudo: a password is required") || r.stderrText.contains("sudo: a terminal is required") {
            throw NodeFailure(.sudoNeedsPassword,
                              "\(conn.label): sudo -n needs a password for \(conn.target.user); give it a NOPASSWD sudoers rule for fleet's commands or log in as root")
        }
        return r
    }

    func close() async {
        let conn = self.conn
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            conn.loop.submit { conn.close(cont) }
        }
    }
}

/// A counting semaphore for async callers (FIFO).
final class AsyncLimiter: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }
    private let state: Mutex<State>

    init(_ n: Int) { state = Mutex(State(available: n)) }

    func acquire() async {
        let granted = state.withLock { s -> Bool in
            if s.available > 0 { s.available -= 1; return true }
            return false
        }
        if granted { return }
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.available > 0 { s.available -= 1; return true }
                s.waiters.append(cont)
                return false
            }
            if now { cont.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.head < s.waiters.count {
                let c = s.waiters[s.head]
                s.head += 1
                if s.head > 1024 && s.head * 2 > s.waiters.count { s.waiters.removeFirst(s.head); s.head = 0 }
                return c
            }
            s.available += 1
            return nil
        }
        next?.resume()
    }
}
