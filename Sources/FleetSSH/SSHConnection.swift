import CLibSSH2
import FleetModel
#if canImport(Glibc)
import Glibc
#endif

/// One node's TCP socket + libssh2 session, driven as a state machine by one ``EventLoop``.
///
/// Every method runs on the loop's thread (callers reach it through `loop.submit`), so the
/// session is never used from two threads at once and no libssh2 call ever blocks.
final class SSHConnection: LoopClient, @unchecked Sendable {
    // @unchecked: after init, all state is read and written only on `loop`'s thread.

    typealias ConnectCont = CheckedContinuation<Result<Void, NodeFailure>, Never>
    typealias ExecCont = CheckedContinuation<Result<ExecResult, NodeFailure>, Never>

    private enum Phase { case new, connecting, handshaking, authenticating, ready, execing, forwarding, closing, closed }

    private enum AuthStep {
        case file(path: String, info: PrivateKeyInfo?, signer: Ed25519Signer?)
        case agent
    }

    private final class Exec {
        enum Step { case open, start, write, eof, read, close, waitClosed, free }
        let request: ExecRequest
        let commandLine: [CChar]
        let cont: ExecCont
        var step = Step.open
        var channel: OpaquePointer?
        var written = 0
        var out: [UInt8] = []
        var err: [UInt8] = []
        var truncated = false
        /// The channel's exit-status slot holds fleet's "none arrived" marker (see
        /// `fleet_channel_mark_no_exit_status`): false only with an unknown libssh2 layout.
        var statusMarked = false
        let started = ContinuousClock.now
        let deadline: ContinuousClock.Instant
        init(_ r: ExecRequest, line: String, cont: ExecCont) {
            request = r; commandLine = Array(line.utf8CString); self.cont = cont
            deadline = started.advanced(by: r.timeout)
        }
    }

    let loop: EventLoop
    let target: NodeTarget
    let options: SSHOptions
    let config: SSHExecutor.Shared
    let label: String

    private var phase = Phase.new
    private var fd: Int32 = -1
    private var session: OpaquePointer?
    /// The session's read buffer and EAGAIN memo (see fleet_recv_cb); lives as long as `session`.
    private var recvState: UnsafeMutablePointer<fleet_recv_state>?
    private var agent: OpaquePointer?
    private var agentIdentity: UnsafeMutablePointer<libssh2_agent_publickey>?
    private var agentListed = false
    private var addresses: [SocketAddress] = []
    private var addressIndex = 0
    private var lastConnectError = ""
    private var connectCont: ConnectCont?
    private var authSteps: [AuthStep] = []
    private var authNotes: [String] = []
    private var triedRSA = false
    private var execs: [Exec] = []
    private var closeConts: [CheckedContinuation<Void, Never>] = []
    private var poisoned: NodeFailure?
    private var registered = false
    private var knownEntries: [KnownHostEntry] = []
    /// Keepalive bookkeeping (see ``tick()``): bytes the server had sent at the last tick
    /// they grew, keepalives sent since then, and when the last one was counted.
    private var heardBytes: Int64 = -1
    private var unanswered = 0
    private var lastKeepalive: ContinuousClock.Instant?

    private(set) var pollEvents: Int16 = 0
    private(set) var deadline: ContinuousClock.Instant?
    var pollFD: Int32 { fd }
    private(set) var pollToken: UInt64 = 0

    init(loop: EventLoop, target: NodeTarget, options: SSHOptions, config: SSHExecutor.Shared) {
        self.loop = loop; self.target = target; self.options = options; self.config = config
        label = target.label
        connectTimeout = target.connectTimeout ?? options.connectTimeout
        handshakeTimeout = target.connectTimeout.map { $0 * 2 } ?? options.handshakeTimeout
        keepaliveInterval = target.keepaliveInterval ?? options.keepaliveInterval
        keepaliveCountMax = target.keepaliveCountMax ?? options.keepaliveCountMax
        agentSocket = target.identityAgent.map { $0.isEmpty ? nil : $0 } ?? config.agentSocket
    }

    /// Per node (ssh_config's ConnectTimeout, ServerAliveInterval, IdentityAgent) or the executor's.
    let connectTimeout: Duration
    let handshakeTimeout: Duration
    let keepaliveInterval: Duration
    /// ssh_config's ServerAliveCountMax, or the executor's.
    let keepaliveCountMax: Int
    let agentSocket: String?

    deinit { teardown() }

    // MARK: - Entry points (on the loop thread)

    /// Over a socket that is already connected to the node's sshd: one end of a socketpair
    /// whose other end a jump host's `direct-tcpip` channel pumps (``Tunnel``).
    func start(tunnel: Int32, _ cont: ConnectCont) {
        if let p = poisoned { Glibc.close(tunnel); cont.resume(returning: .failure(p)); return }
        connectCont = cont
        loop.register(self)
        registered = true
        fd = tunnel
        pollToken = nextSocketToken()
        startSession()
    }

    func start(addresses: [SocketAddress], _ cont: ConnectCont) {
        if let p = poisoned { cont.resume(returning: .failure(p)); return }  // cancelled before it began
        self.addresses = addresses
        connectCont = cont
        loop.register(self)
        registered = true
        connectNextAddress()
    }

    func enqueue(_ request: ExecRequest, line: String, _ cont: ExecCont) {
        if let p = poisoned { cont.resume(returning: .failure(p)); return }
        guard phase == .ready || phase == .execing else {
            cont.resume(returning: .failure(NodeFailure(.disconnected, "\(label): session is closed")))
            return
        }
        execs.append(Exec(request, line: line, cont: cont))
        if phase == .ready { phase = .execing; stepExec() }
    }

    func close(_ cont: CheckedContinuation<Void, Never>) {
        closeConts.append(cont)
        switch phase {
        case .ready:
            phase = .closing
            deadline = .now.advanced(by: .seconds(2))
            stepClose()
        case .closing:
            break
        case .execing:
            // withSession's body ended (or threw) with commands still running in child tasks:
            // fail them rather than leave their continuations waiting forever.
            fail(NodeFailure(.disconnected, "\(label): session closed while a command was still running"))
        default:
            finishClosed()
        }
    }

    /// The caller's task was cancelled: drop the connection now, so its slot and socket are
    /// free at once instead of at the next deadline.
    func cancel() {
        guard phase != .closed else { return }
        fail(NodeFailure(.disconnected, "\(label): cancelled by fleet (the caller stopped waiting)"))
    }

    // MARK: - LoopClient

    func ready() {
        // The loop saw the socket ready: recv(2) may have something again.
        if let r = recvState { fleet_recv_rearm(r) }
        switch phase {
        case .connecting: finishTCPConnect()
        case .handshaking: stepHandshake()
        case .authenticating: stepAuth()
        case .execing: stepExec()
        case .forwarding: pumpAll()
        case .closing: stepClose()
        case .new, .ready, .closed: pollEvents = 0
        }
    }

    func deadlinePassed() {
        switch phase {
        case .connecting:
            lastConnectError = "no answer within \(seconds(connectTimeout))"
            closeSocket()
            addressIndex += 1
            if addressIndex < addresses.count { connectNextAddress() } else {
                fail(NodeFailure(.connectTimeout, "\(label): TCP connect timed out after \(seconds(connectTimeout))"))
            }
        case .handshaking:
            fail(NodeFailure(.handshakeTimeout, "\(label): no SSH handshake within \(seconds(handshakeTimeout)) (the port accepted TCP but the server did not complete the key exchange)"))
        case .authenticating:
            fail(NodeFailure(.authTimeout, "\(label): authentication as \(target.user) did not finish within \(seconds(handshakeTimeout)) of connecting"))
        case .execing:
            let cmd = execs.first.map { " (\($0.request.command))" } ?? ""
            let e = execs.first.map { seconds($0.request.timeout) } ?? "?"
            fail(NodeFailure(.commandTimeout, "\(label): command did not finish within \(e)\(cmd); channel closed, the node's own timeout kills it"))
        case .forwarding:
            openDeadlinePassed()
        case .closing:
            finishClosed()
        case .new, .ready, .closed:
            // The executor is stopping.
            fail(NodeFailure(.disconnected, "\(label): SSH executor shut down"))
        }
    }

    /// About once a second, for an open session (idle or running a command): sends an SSH
    /// keepalive every `keepaliveInterval` and cuts the session once `keepaliveCountMax` of
    /// them went out with nothing at all coming back from the server (OpenSSH's
    /// ServerAliveCountMax). Any byte from the server counts as an answer (OpenSSH answers a
    /// keepalive with REQUEST_FAILURE), so a command that prints nothing for minutes keeps
    /// its session, while a node that froze after the handshake is cut long before the
    /// command deadline.
    func tick() {
        guard phase == .ready || phase == .execing, let s = session, let r = recvState,
              keepaliveInterval > .zero, keepaliveCountMax > 0 else { return }
        let heard = fleet_bytes_from_server(fd, r)
        if heard != heardBytes { heardBytes = heard; unanswered = 0 }
        // libssh2 1.10 keeps a half-sent packet by the caller's pointer, and a keepalive's is a
        // stack buffer: never start one behind a half-sent packet (the socket is not draining).
        let outbound = fleet_block_outbound()
        guard libssh2_session_block_directions(s) & outbound == 0 else { return }
        var next: Int32 = 0
        let rc = libssh2_keepalive_send(s, &next)
        if rc == 0, libssh2_session_block_directions(s) & outbound != 0 {
            // The keepalive itself is half-sent: the server stopped reading long ago (the
            // socket buffer is full), and libssh2 could send nothing else on this session.
            fail(NodeFailure(.keepaliveTimeout, "\(label): the node stopped reading (an SSH keepalive could not be sent); connection cut"))
            return
        }
        let now = ContinuousClock.now
        // libssh2 reports a keepalive sent just now as `next == interval`; it counts seconds
        // with time(), so count at most one per second.
        if rc == 0, next == keepaliveSeconds, lastKeepalive.map({ $0.duration(to: now) >= .seconds(1) }) ?? true {
            lastKeepalive = now
            if unanswered >= keepaliveCountMax {
                fail(NodeFailure(.keepaliveTimeout, "\(label): no answer to \(unanswered) SSH keepalives sent every \(keepaliveSeconds) s; the node went silent, connection cut"))
                return
            }
            unanswered += 1
        }
    }

    /// libssh2 turns an interval of 1 s into 2 s.
    private var keepaliveSeconds: Int32 {
        let s = Int32(clamping: max(1, keepaliveInterval.components.seconds))
        return s == 1 ? 2 : s
    }

    // MARK: - TCP

    private func connectNextAddress() {
        phase = .connecting
        let a = addresses[addressIndex]
        fd = socket(a.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        pollToken = nextSocketToken()
        guard fd >= 0 else {
            fail(NodeFailure(.unreachable, "\(label): socket(): \(String(cString: strerror(errno)))")); return
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = a.storage.withUnsafeBytes {
            Glibc.connect(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
        }
        if rc == 0 { startSession(); return }
        if errno == EINPROGRESS {
            pollEvents = Int16(POLLOUT)
            deadline = .now.advanced(by: connectTimeout)
            return
        }
        connectFailed(errno)
    }

    private func finishTCPConnect() {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        if err == 0 { startSession() } else { connectFailed(err) }
    }

    private func connectFailed(_ err: Int32) {
        lastConnectError = String(cString: strerror(err))
        closeSocket()
        addressIndex += 1
        if addressIndex < addresses.count { connectNextAddress(); return }
        let status: NodeStatus = err == ECONNREFUSED ? .refused : (err == ETIMEDOUT ? .connectTimeout : .unreachable)
        fail(NodeFailure(status, "\(label): TCP connect failed: \(lastConnectError)"))
    }

    // MARK: - SSH handshake and host key

    private func startSession() {
        if recvState == nil { recvState = .allocate(capacity: 1) }
        guard let s = fleet_session_init_buffered(recvState) else {
            fail(NodeFailure(.protocolError, "\(label): libssh2_session_init failed")); return
        }
        session = s
        libssh2_session_set_blocking(s, 0)
        knownEntries = config.knownHosts.entries(host: target.host, port: target.port, files: knownHostsFiles)
        let knownTypes = KnownHostsStore.knownKeyTypes(knownEntries)
        for (method, list) in config.methodPreferences(knownHostKeyTypes: knownTypes) {
            if let c = target.ciphers, method == LIBSSH2_METHOD_CRYPT_CS || method == LIBSSH2_METHOD_CRYPT_SC {
                _ = libssh2_session_method_pref(s, method, c.joined(separator: ","))
                continue
            }
            _ = libssh2_session_method_pref(s, method, list)
        }
        if keepaliveInterval > .zero {
            libssh2_keepalive_config(s, 1, UInt32(max(1, keepaliveInterval.components.seconds)))
        }
        phase = .handshaking
        deadline = .now.advanced(by: handshakeTimeout)
        stepHandshake()
    }

    private var knownHostsFiles: [String] {
        target.knownHostsFiles.isEmpty ? options.defaultKnownHostsFiles : target.knownHostsFiles
    }

    private func stepHandshake() {
        guard let s = session else { return }
        let rc = libssh2_session_handshake(s, fd)
        if rc == LIBSSH2_ERROR_EAGAIN { waitOnSession(); return }
        guard rc == 0 else {
            let status: NodeStatus = [LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND,
                                      LIBSSH2_ERROR_BANNER_RECV].contains(rc) ? .disconnected : .protocolError
            fail(NodeFailure(status, "\(label): SSH handshake failed: \(lastError(rc))")); return
        }
        if let failure = verifyHostKey(s) { fail(failure); return }
        phase = .authenticating
        authSteps = target.identityFiles.map { path in
            let k = config.keyInfo(path: path)
            return .file(path: path, info: k?.info, signer: k?.signer)
        }
        if agentSocket != nil { authSteps.append(.agent) }
        stepAuth()
    }

    private func verifyHostKey(_ s: OpaquePointer) -> NodeFailure? {
        var len = 0
        var type: Int32 = 0
        guard let raw = libssh2_session_hostkey(s, &len, &type) else {
            return NodeFailure(.protocolError, "\(label): server sent no host key")
        }
        let blob = Array(UnsafeRawBufferPointer(start: raw, count: len).bindMemory(to: UInt8.self))
        let keyType = keyTypeOfBlob(blob) ?? "unknown"
        let fp = sha256Fingerprint(blob)
        let files = knownHostsFiles
        var verdict = KnownHostsStore.verdict(knownEntries, keyBlob: blob)
        if verdict == .unknown, (target.hostKeyPolicy ?? options.hostKeyPolicy) == .acceptNew, let first = files.first {
            switch config.knownHosts.appendIfUnknown(host: target.host, port: target.port, files: files, path: first,
                                                     keyType: keyType, keyBlob: blob) {
            case .success(let v): verdict = v == .unknown ? .match : v
            case .failure(let why):
                return NodeFailure(.hostKeyUnknown, "\(label): unknown host key \(keyType) \(fp); accept-new could not record it: \(why)")
            }
        }
        switch verdict {
        case .match: return nil
        case .unknown:
            return NodeFailure(.hostKeyUnknown, "\(label): host key \(keyType) \(fp) is not in known_hosts (\(files.joined(separator: ", "))); verify it and add it, or use --host-key-policy accept-new")
        case .changed(let known):
            return NodeFailure(.hostKeyChanged, "\(label): HOST KEY CHANGED: server offered \(keyType) \(fp), known_hosts has a different \(known.joined(separator: "/")) key for it; possible man-in-the-middle, refusing")
        case .revoked:
            return NodeFailure(.hostKeyChanged, "\(label): host key \(keyType) \(fp) is marked @revoked in known_hosts; refusing")
        }
    }

    // MARK: - Authentication

    private func stepAuth() {
        guard let s = session else { return }
        while let stepItem = authSteps.first {
            switch stepItem {
            case .file(let path, let info, let signer):
                guard let info else {
                    authNotes.append("\(path): cannot read key file")
                    authSteps.removeFirst(); continue
                }
                if info.isRSA { triedRSA = true }
                let pass = config.passphrase
                if info.encrypted && pass == nil {
                    authNotes.append("\(path): key is encrypted and \(options.passphraseEnvironmentVariable.map { "$" + $0 } ?? "no passphrase variable") is not set")
                    authSteps.removeFirst(); continue
                }
                let rc = if let signer {
                    fleet_userauth_ed25519(s, target.user, signer.publicBlob.baseAddress, signer.publicBlob.count, signer.abstract)
                } else {
                    fleet_userauth_publickey_fromfile(s, target.user, path, pass ?? "")
                }
                if rc == LIBSSH2_ERROR_EAGAIN { waitOnSession(); return }
                if rc == 0 { authenticated(); return }
                authNotes.append("\(path) (\(info.keyType ?? "unknown type")): \(rc == LIBSSH2_ERROR_FILE ? "cannot load key: " : "")\(lastError(rc))")
                authSteps.removeFirst()
            case .agent:
                switch stepAgent(s) {
                case .wait: waitOnSession(); return
                case .done: authenticated(); return
                case .exhausted: authSteps.removeFirst()
                }
            }
        }
        var msg = "\(label): authentication as \(target.user) failed"
        if target.identityFiles.isEmpty && agentSocket == nil {
            msg += ": no identity files and no ssh-agent (SSH_AUTH_SOCK unset)"
        } else if !authNotes.isEmpty {
            msg += ": " + authNotes.joined(separator: "; ")
        }
        if triedRSA {
            msg += ". RSA keys cannot work here: libssh2 1.10 signs RSA only with SHA-1 `ssh-rsa`, which OpenSSH >= 8.8 refuses by default; use an ed25519 or ecdsa key"
        }
        fail(NodeFailure(.authFailed, msg))
    }

    private enum AgentProgress { case wait, done, exhausted }

    private func stepAgent(_ s: OpaquePointer) -> AgentProgress {
        if agent == nil {
            guard let path = agentSocket, let a = libssh2_agent_init(s) else { return .exhausted }
            agent = a
            libssh2_agent_set_identity_path(a, path)
            // The agent is a local unix socket: these calls are short and do not touch the node.
            guard libssh2_agent_connect(a) == 0 else {
                authNotes.append("ssh-agent at \(path): cannot connect")
                return .exhausted
            }
            guard libssh2_agent_list_identities(a) == 0 else {
                authNotes.append("ssh-agent: cannot list identities")
                return .exhausted
            }
            agentListed = true
            guard advanceAgentIdentity(a) else {
                authNotes.append("ssh-agent: no identities")
                return .exhausted
            }
        }
        guard let a = agent, agentListed else { return .exhausted }
        while let id = agentIdentity {
            if target.identitiesOnly {
                // IdentitiesOnly: only agent keys that belong to one of the node's key files.
                let blob = Array(UnsafeBufferPointer(start: id.pointee.blob, count: Int(id.pointee.blob_len)))
                if !allowedAgentBlobs.contains(blob) {
                    if !advanceAgentIdentity(a) { break }
                    continue
                }
            }
            let rc = libssh2_agent_userauth(a, target.user, id)
            if rc == LIBSSH2_ERROR_EAGAIN { return .wait }
            if rc == 0 { return .done }
            let blob = Array(UnsafeBufferPointer(start: id.pointee.blob, count: Int(id.pointee.blob_len)))
            let type = keyTypeOfBlob(blob) ?? "unknown"
            if type == "ssh-rsa" { triedRSA = true }
            authNotes.append("agent key \(type) \(sha256Fingerprint(blob)): \(lastError(rc))")
            if !advanceAgentIdentity(a) { break }
        }
        return .exhausted
    }

    /// Public keys of the node's identity files (`FILE.pub`, or the key file's own public part).
    private lazy var allowedAgentBlobs: Set<[UInt8]> = Set(target.identityFiles.compactMap { path in
        if let text = readWholeFile(path + ".pub"), let b64 = text.split(separator: " ").dropFirst().first,
           let blob = base64Decode(String(b64)) { return blob }
        return config.keyInfo(path: path)?.info.publicBlob
    })

    private func advanceAgentIdentity(_ a: OpaquePointer) -> Bool {
        var next: UnsafeMutablePointer<libssh2_agent_publickey>?
        let rc = libssh2_agent_get_identity(a, &next, agentIdentity)
        agentIdentity = rc == 0 ? next : nil
        return agentIdentity != nil
    }

    private func authenticated() {
        releaseAgent()
        if let r = recvState { heardBytes = fleet_bytes_from_server(fd, r) }
        if jump != nil {
            phase = .forwarding
            let c = connectCont
            connectCont = nil
            c?.resume(returning: .success(()))
            pumpAll()
            return
        }
        phase = .ready
        pollEvents = 0
        deadline = nil
        let c = connectCont
        connectCont = nil
        c?.resume(returning: .success(()))
    }

    // MARK: - Exec

    private func stepExec() {
        guard let s = session, let x = execs.first else { pollEvents = 0; return }
        deadline = x.deadline
        while true {
            switch x.step {
            case .open:
                guard let ch = fleet_channel_open_session(s) else {
                    let rc = libssh2_session_last_errno(s)
                    if rc == LIBSSH2_ERROR_EAGAIN { waitOnSession(); return }
                    fail(NodeFailure(.protocolError, "\(label): cannot open an SSH channel: \(lastError(rc))")); return
                }
                x.channel = ch
                x.statusMarked = fleet_channel_mark_no_exit_status(ch) == 1
                x.step = .start
            case .start:
                let rc = x.commandLine.withUnsafeBufferPointer { fleet_channel_exec(x.channel, $0.baseAddress) }
                if rc == LIBSSH2_ERROR_EAGAIN { waitOnSession(); return }
                guard rc == 0 else { fail(NodeFailure(.protocolError, "\(label): exec request refused: \(lastError(rc))")); return }
                x.step = x.request.stdin.isEmpty ? .eof : .write
            case .write:
                guard drain(x) else { return }
                // The command ended (or closed its output) without reading all of stdin: stop
                // writing, or we would wait for window space that never comes.
                if libssh2_channel_eof(x.channel) != 0 { x.step = .read; continue }
                let n = x.request.stdin.withUnsafeBytes { b in
                    fleet_channel_write(x.channel, b.baseAddress!.advanced(by: x.written).assumingMemoryBound(to: CChar.self),
                                        b.count - x.written)
                }
                if n == Int(LIBSSH2_ERROR_EAGAIN) { waitOnSession(); return }
                if n == Int(LIBSSH2_ERROR_CHANNEL_CLOSED) || n == Int(LIBSSH2_ERROR_CHANNEL_EOF_SENT) { x.step = .read; continue }
                guard n >= 0 else { fail(transportFailure(Int32(n), "writing stdin")); return }
                x.written += n
                if x.written >= x.request.stdin.count { x.step = .eof }
            case .eof:
                guard drain(x) else { return }
                let rc = libssh2_channel_send_eof(x.channel)
                if rc == LIBSSH2_ERROR_EAGAIN { waitOnSession(); return }
                // A command that exited before reading stdin closes its side first: not an error.
                x.step = .read
            case .read:
                guard drain(x) else { return }
                if libssh2_channel_eof(x.channel) == 0 { waitOnSession(); return }
                x.step = .close
            case .close:
                let rc = libssh2_channel_close(x.channel)
                if rc == LIBSSH2_ERROR_EAGAIN { waitOnSession(); return }
                guard rc == 0 else { fail(transportFailure(rc, "closing the channel")); return }
                x.step = .waitClosed
            case .waitClosed:
                guard drain(x) else { return }
                let rc = libssh2_channel_wait_closed(x.channel)
                if rc == LIBSSH2_ERROR_EAGAIN { waitOnSession(); return }
                // The exit status arrives before the server's close: without the close it is
                // unknown, and the transport is broken anyway.
                guard rc == 0 else { fail(transportFailure(rc, "waiting for the channel to close")); return }
                x.step = .free
            case .free:
                finishExec(x)
                return
            }
        }
    }

    /// Reads what is available on stdout and stderr; false when the session failed.
    private func drain(_ x: Exec) -> Bool {
        let buf = loop.scratch
        let base = buf.baseAddress!.assumingMemoryBound(to: CChar.self)
        for stream: Int32 in [0, 1] {
            while true {
                let n = fleet_channel_read(x.channel, stream, base, buf.count)
                if n > 0 {
                    let room = x.request.outputLimit - (stream == 0 ? x.out.count : x.err.count)
                    let keep = min(n, max(0, room))
                    if keep < n { x.truncated = true }
                    if keep > 0 {
                        let bytes = UnsafeRawBufferPointer(start: buf.baseAddress, count: keep)
                        if stream == 0 { x.out.append(contentsOf: bytes) } else { x.err.append(contentsOf: bytes) }
                    }
                    continue
                }
                if n == 0 || n == Int(LIBSSH2_ERROR_EAGAIN) { break }
                fail(transportFailure(Int32(n), "reading output"))
                return false
            }
        }
        return true
    }

    private func finishExec(_ x: Exec) {
        var exit = RemoteExit.missing(.closedWithoutStatus)
        if let ch = x.channel {
            exit = Self.exitStatus(ch, marked: x.statusMarked, session: session)
            // The channel is closed on both sides: freeing it does no network I/O.
            _ = libssh2_channel_free(ch)
            x.channel = nil
        }
        execs.removeFirst()
        let result = ExecResult(stdout: x.out, stderr: x.err, exit: exit,
                                truncated: x.truncated, duration: x.started.duration(to: .now))
        x.cont.resume(returning: .success(result))
        if execs.isEmpty {
            phase = .ready; pollEvents = 0; deadline = nil
        } else {
            stepExec()
        }
    }

    /// What the server said about a closed channel: `exit-signal`, else `exit-status`, else
    /// nothing (the marker is still in the slot; unmarked, a 0 cannot be told from nothing).
    static func exitStatus(_ ch: OpaquePointer, marked: Bool, session: OpaquePointer?) -> RemoteExit {
        var sig: UnsafeMutablePointer<CChar>?
        var siglen = 0
        var signal: String?
        if libssh2_channel_get_exit_signal(ch, &sig, &siglen, nil, nil, nil, nil) == 0, let sig, siglen > 0 {
            signal = String(decoding: UnsafeRawBufferPointer(start: sig, count: siglen), as: UTF8.self)
        }
        if let sig, let session { libssh2_free(session, sig) }
        if let signal { return .signalled(signal) }
        let code = libssh2_channel_get_exit_status(ch)
        if marked { return code == Int32(FLEET_NO_EXIT_STATUS) ? .missing(.closedWithoutStatus) : .exited(code) }
        return code == 0 ? .missing(.indistinguishable) : .exited(code)
    }

    // MARK: - Close

    private func stepClose() {
        guard let s = session else { finishClosed(); return }
        let rc = fleet_session_disconnect(s, "fleet done")
        if rc == LIBSSH2_ERROR_EAGAIN { waitOnSession(); return }
        finishClosed()
    }

    private func finishClosed() {
        teardown()
        phase = .closed
        let cs = closeConts
        closeConts = []
        for c in cs { c.resume() }
    }

    // MARK: - Failure and teardown

    private func fail(_ failure: NodeFailure) {
        if jump != nil { failTunnels(failure) }
        teardown()
        phase = .closed
        poisoned = failure
        if let c = connectCont { connectCont = nil; c.resume(returning: .failure(failure)) }
        let pending = execs
        execs = []
        for (i, x) in pending.enumerated() {
            x.cont.resume(returning: .failure(i == 0 ? failure
                : NodeFailure(failure.status, "\(label): not run, the session failed earlier: \(failure.message)")))
        }
        let cs = closeConts
        closeConts = []
        for c in cs { c.resume() }
    }

    private func releaseAgent() {
        if let a = agent {
            libssh2_agent_disconnect(a)
            libssh2_agent_free(a)
            agent = nil
            agentIdentity = nil
        }
    }

    /// Frees everything without waiting for the peer: the socket is shut down first so
    /// libssh2's close messages fail at once instead of returning EAGAIN.
    private func teardown() {
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
        for x in execs { if let ch = x.channel { _ = libssh2_channel_free(ch); x.channel = nil } }
        releaseAgent()
        if let s = session { _ = libssh2_session_free(s); session = nil }
        if let r = recvState { r.deallocate(); recvState = nil }
        closeSocket()
        pollEvents = 0
        deadline = nil
        // Only on the loop thread: a registered connection is retained by its loop, so
        // deinit (on any thread) only ever sees `registered == false`.
        if registered { loop.unregister(self); registered = false }
    }

    private func closeSocket() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        pollEvents = 0
    }

    private func waitOnSession() {
        guard let s = session else { return }
        let d = libssh2_session_block_directions(s)
        var ev: Int16 = 0
        if d & fleet_block_inbound() != 0 { ev |= Int16(POLLIN) }
        if d & fleet_block_outbound() != 0 { ev |= Int16(POLLOUT) }
        pollEvents = ev == 0 ? Int16(POLLIN) : ev
    }

    private func lastError(_ rc: Int32) -> String {
        guard let s = session else { return "libssh2 error \(rc)" }
        var msg: UnsafeMutablePointer<CChar>?
        var len: Int32 = 0
        libssh2_session_last_error(s, &msg, &len, 0)
        let text = msg.map { String(cString: $0) } ?? ""
        return text.isEmpty ? "libssh2 error \(rc)" : text
    }

    private func transportFailure(_ rc: Int32, _ doing: String) -> NodeFailure {
        let dropped = [LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND].contains(rc)
        return NodeFailure(dropped ? .disconnected : .protocolError, "\(label): connection failed while \(doing): \(lastError(rc))")
    }

    // MARK: - Jump host side: direct-tcpip channels pumped to socketpairs

    /// Set when this connection is a jump host (bastion) for other nodes' sessions.
    var jump: JumpPool.Handle?
    private var tunnels: [ObjectIdentifier: Tunnel] = [:]
    private var opens: [OpenRequest] = []
    /// libssh2 keeps one partly sent packet per session; a non-blocking call that stopped
    /// with it half sent must be repeated, with the same arguments, before any other call
    /// sends anything (another channel's write would flush it and be reported as sent).
    private var stalled: Stalled?
    /// No new channels (one open timed out: libssh2 cannot abandon it); closed when empty.
    private(set) var draining = false

    private enum Stalled { case open, write(Tunnel), read(Tunnel), close(Tunnel) }

    struct OpenRequest {
        var host: String
        var port: Int
        var deadline: ContinuousClock.Instant
        var conn: SSHConnection
        var node: String { conn.label }
        var cont: ConnectCont
    }

    /// Opens a `direct-tcpip` channel from this jump host to `node`'s host and port, then
    /// starts `node`'s own SSH session over a socketpair whose other end the channel is
    /// pumped to; `cont` gets the node session's outcome.
    func openTunnel(for node: SSHConnection, deadline: ContinuousClock.Instant, _ cont: ConnectCont) {
        guard phase == .forwarding, !draining else {
            jump?.release()
            cont.resume(returning: .failure(NodeFailure(.connectTimeout, JumpPool.retryMarker)))
            return
        }
        opens.append(OpenRequest(host: node.target.host, port: node.target.port, deadline: deadline, conn: node, cont: cont))
        pumpAll()
    }

    var channelCount: Int { tunnels.count + opens.count }

    private func pumpAll() {
        guard phase == .forwarding, let s = session else { return }
        if let st = stalled {
            stalled = nil
            switch st {
            case .open: break  // retried below, first in line
            case .write(let t), .read(let t): if !pump(t, s, resuming: st) { return }
            case .close(let t): if !closeTunnel(t, s) { return }
            }
        }
        if !pumpOpens(s) { return finishPump(s) }
        for t in Array(tunnels.values) where stalled == nil {
            if !(t.closing ? closeTunnel(t, s) : pump(t, s)) { break }
        }
        finishPump(s)
    }

    private func finishPump(_ s: OpaquePointer) {
        guard phase == .forwarding else { return }
        let d = libssh2_session_block_directions(s)
        // Read while channels are open (data for any of them can arrive at any time; each
        // channel read consumes every packet waiting). With none, nothing would consume
        // what arrives, and level-triggered epoll would spin on it: wait for the next open.
        let busy = !tunnels.isEmpty || !opens.isEmpty
        pollEvents = (busy ? Int16(POLLIN) : 0) | (d & fleet_block_outbound() != 0 ? Int16(POLLOUT) : 0)
        deadline = opens.first?.deadline
        if draining && tunnels.isEmpty && opens.isEmpty {
            phase = .closing
            deadline = .now.advanced(by: .seconds(2))
            stepClose()
        }
    }

    /// False when the session is stalled on a half-sent packet (nothing else may send).
    private func sendBlocked(_ s: OpaquePointer) -> Bool {
        libssh2_session_block_directions(s) & fleet_block_outbound() != 0
    }

    private func pumpOpens(_ s: OpaquePointer) -> Bool {
        while let r = opens.first {
            let ch = libssh2_channel_direct_tcpip_ex(s, r.host, Int32(r.port), "127.0.0.1", 22)
            guard let ch else {
                let rc = libssh2_session_last_errno(s)
                if rc == LIBSSH2_ERROR_EAGAIN {
                    if sendBlocked(s) { stalled = .open; return false }
                    return true  // waiting for the jump host's answer; others may go on
                }
                opens.removeFirst()
                if [LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND].contains(rc) {
                    r.cont.resume(returning: .failure(NodeFailure(.disconnected, "\(r.node): jump host \(label) connection lost: \(lastError(rc))")))
                    fail(NodeFailure(.disconnected, "\(label): connection lost: \(lastError(rc))"))
                    return false
                }
                r.cont.resume(returning: .failure(NodeFailure(.unreachable,
                    "\(r.node): jump host \(label) cannot connect to \(r.host):\(r.port): \(lastError(rc))")))
                jump?.release()
                continue
            }
            opens.removeFirst()
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                _ = libssh2_channel_free(ch)
                r.cont.resume(returning: .failure(NodeFailure(.unreachable, "\(r.node): socketpair(): \(String(cString: strerror(errno)))")))
                jump?.release()
                continue
            }
            let t = Tunnel(bastion: self, channel: ch, fd: pair[0])
            t.node = r.conn
            tunnels[ObjectIdentifier(t)] = t
            loop.register(t)
            r.conn.start(tunnel: pair[1], r.cont)
        }
        return true
    }

    /// Moves what is ready in both directions for one tunnel; false when the session is
    /// stalled (the caller must not touch the session until the socket is ready again).
    private func pump(_ t: Tunnel, _ s: OpaquePointer, resuming: Stalled? = nil) -> Bool {
        guard let ch = t.channel else { return true }
        let buf = loop.scratch
        let base = buf.baseAddress!.assumingMemoryBound(to: CChar.self)
        var rounds = 0
        // A stalled write is retried before anything else touches the session.
        var writeFirst = if case .write = resuming { true } else { false }
        while rounds < 16 {
            rounds += 1
            var moved = false
            if writeFirst {
                writeFirst = false
                switch writeUp(t, ch, s) {
                case .stalled: return false
                case .failed: return false
                case .ok(let m): moved = moved || m
                }
            }
            // Jump host -> node.
            if t.downSent < t.down.count {
                let n = t.down.withUnsafeBytes { Glibc.write(t.fd, $0.baseAddress!.advanced(by: t.downSent), $0.count - t.downSent) }
                if n > 0 { t.downSent += n; moved = true } else if n < 0 && errno != EAGAIN { t.nodeGone = true }
                if t.downSent >= t.down.count { t.down.removeAll(keepingCapacity: true); t.downSent = 0 }
            }
            if t.down.isEmpty && !t.channelEOF && !t.nodeGone {
                let n = fleet_channel_read(ch, 0, base, buf.count)
                if n > 0 {
                    t.down.append(contentsOf: UnsafeRawBufferPointer(start: buf.baseAddress, count: n)); moved = true
                } else if n == Int(LIBSSH2_ERROR_EAGAIN) {
                    if sendBlocked(s) { stalled = .read(t); return false }
                } else if n == 0 {
                    if libssh2_channel_eof(ch) != 0 { t.channelEOF = true; shutdown(t.fd, Int32(SHUT_WR)) }
                } else if isTransportError(Int32(n)) {
                    fail(transportFailure(Int32(n), "forwarding"))
                    return false
                } else {
                    t.channelEOF = true; t.nodeGone = true
                }
            }
            // Node -> jump host.
            if t.up.isEmpty && !t.nodeEOF && !t.nodeGone {
                let n = Glibc.read(t.fd, buf.baseAddress, buf.count)
                if n > 0 { t.up.append(contentsOf: UnsafeRawBufferPointer(start: buf.baseAddress, count: n)); moved = true }
                else if n == 0 { t.nodeEOF = true }
                else if errno != EAGAIN { t.nodeGone = true }
            }
            switch writeUp(t, ch, s) {
            case .stalled, .failed: return false
            case .ok(let m): moved = moved || m
            }
            if t.nodeEOF && t.up.isEmpty || t.nodeGone || (t.channelEOF && t.down.isEmpty) {
                return closeTunnel(t, s)
            }
            if !moved { break }
        }
        return true
    }

    private enum WriteOutcome { case ok(moved: Bool), stalled, failed }

    /// Node -> jump host: what the node's session wrote, into the channel.
    private func writeUp(_ t: Tunnel, _ ch: OpaquePointer, _ s: OpaquePointer) -> WriteOutcome {
        var moved = false
        while t.upSent < t.up.count && !t.nodeGone {
            let n = t.up.withUnsafeBytes { b in
                fleet_channel_write(ch, b.baseAddress!.advanced(by: t.upSent).assumingMemoryBound(to: CChar.self), b.count - t.upSent)
            }
            if n > 0 { t.upSent += n; moved = true; continue }
            if n == Int(LIBSSH2_ERROR_EAGAIN) {
                if sendBlocked(s) { stalled = .write(t); return .stalled }
                break  // the channel's window is full: the jump host's adjust will wake us
            }
            if isTransportError(Int32(n)) { fail(transportFailure(Int32(n), "forwarding")); return .failed }
            t.nodeGone = true  // channel closed under us
        }
        if t.upSent >= t.up.count { t.up.removeAll(keepingCapacity: true); t.upSent = 0 }
        return .ok(moved: moved)
    }

    private func isTransportError(_ rc: Int32) -> Bool {
        [LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_TIMEOUT].contains(rc)
    }

    /// Closes the node's end at once and the channel as libssh2 allows: `channel_close`
    /// waits for the jump host's CLOSE (EAGAIN meanwhile) and `channel_free` before that
    /// would not free it, so the tunnel stays listed as closing until both are done.
    private func closeTunnel(_ t: Tunnel, _ s: OpaquePointer) -> Bool {
        if !t.closing {
            t.closing = true
            if t.fd >= 0 { Glibc.close(t.fd); t.fd = -1 }
            loop.unregister(t)
        }
        if let ch = t.channel {
            let rc = libssh2_channel_close(ch)
            if rc == LIBSSH2_ERROR_EAGAIN {
                if sendBlocked(s) { stalled = .close(t) ; return false }
                return true  // the jump host's CLOSE is on its way
            }
            if libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN {
                if sendBlocked(s) { stalled = .close(t); return false }
                return true
            }
            t.channel = nil
        }
        dropTunnel(t)
        return true
    }

    private func dropTunnel(_ t: Tunnel) {
        if t.fd >= 0 { Glibc.close(t.fd); t.fd = -1 }
        loop.unregister(t)
        if tunnels.removeValue(forKey: ObjectIdentifier(t)) != nil { jump?.release() }
    }

    private func openDeadlinePassed() {
        let now = ContinuousClock.now
        guard let r = opens.first, r.deadline <= now else { deadline = opens.first?.deadline; return }
        // libssh2 cannot abandon a channel open in flight: this connection takes no new
        // channels; the nodes queued behind it are sent to another connection.
        opens.removeFirst()
        draining = true
        jump?.drain()
        r.cont.resume(returning: .failure(NodeFailure(.connectTimeout,
            "\(r.node): jump host \(label) did not connect to \(r.host):\(r.port) within \(seconds(connectTimeout))")))
        jump?.release()
        let rest = opens
        opens = []
        for q in rest {
            q.cont.resume(returning: .failure(NodeFailure(.connectTimeout, JumpPool.retryMarker)))
            jump?.release()
        }
        deadline = nil
    }

    /// The jump host connection failed: every node session running through it, and every
    /// node waiting for a channel, fails naming it; the pool forgets this connection.
    private func failTunnels(_ f: NodeFailure) {
        let j = jump
        jump = nil
        j?.lost()
        for q in opens {
            q.cont.resume(returning: .failure(NodeFailure(.disconnected, "\(q.node): jump host \(label) connection lost: \(f.message)")))
        }
        opens = []
        for t in Array(tunnels.values) {
            if let ch = t.channel { _ = libssh2_channel_free(ch); t.channel = nil }
            t.node?.jumpLost("jump host \(label) connection lost: \(f.message)")
            if t.fd >= 0 { Glibc.close(t.fd); t.fd = -1 }
            loop.unregister(t)
        }
        tunnels = [:]
    }

    /// Node side: the jump host this session runs through is gone.
    func jumpLost(_ why: String) {
        guard phase != .closed else { return }
        fail(NodeFailure(.disconnected, "\(label): \(why)"))
    }
}

/// One node's `direct-tcpip` channel on a jump host connection and the socketpair end that
/// carries it to the node's own SSH session, on the same event loop (no thread per node).
final class Tunnel: LoopClient {
    unowned let bastion: SSHConnection
    weak var node: SSHConnection?
    var channel: OpaquePointer?
    var fd: Int32
    let pollToken = nextSocketToken()
    var up: [UInt8] = [], upSent = 0
    var down: [UInt8] = [], downSent = 0
    var nodeEOF = false, channelEOF = false, nodeGone = false
    /// The node's end is closed; the channel is waiting for the jump host's CLOSE.
    var closing = false

    init(bastion: SSHConnection, channel: OpaquePointer, fd: Int32) {
        self.bastion = bastion; self.channel = channel; self.fd = fd
    }

    var pollFD: Int32 { fd }
    var pollEvents: Int16 {
        guard fd >= 0 else { return 0 }
        var e: Int16 = 0
        if up.isEmpty && !nodeEOF && !nodeGone { e |= Int16(POLLIN) }
        if downSent < down.count { e |= Int16(POLLOUT) }
        return e
    }
    var deadline: ContinuousClock.Instant? { nil }
    func ready() { bastion.ready() }
    func deadlinePassed() {}
    func tick() {}
}

func seconds(_ d: Duration) -> String {
    let s = d.timeInterval
    return s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
}
