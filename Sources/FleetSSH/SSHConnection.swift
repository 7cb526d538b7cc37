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

    private enum Phase { case new, connecting, handshaking, authenticating, ready, execing, closing, closed }

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
        agentSocket = target.identityAgent.map { $0.isEmpty ? nil : $0 } ?? config.agentSocket
    }

    /// Per node (ssh_config's ConnectTimeout, ServerAliveInterval, IdentityAgent) or the executor's.
    let connectTimeout: Duration
    let handshakeTimeout: Duration
    let keepaliveInterval: Duration
    let agentSocket: String?

    deinit { teardown() }

    // MARK: - Entry points (on the loop thread)

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
        case .closing:
            finishClosed()
        case .new, .ready, .closed:
            // The executor is stopping.
            fail(NodeFailure(.disconnected, "\(label): SSH executor shut down"))
        }
    }

    func tick() {
        guard phase == .ready, let s = session, keepaliveInterval > .zero else { return }
        var next: Int32 = 0
        _ = libssh2_keepalive_send(s, &next)
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
        var status: Int32? = nil
        var signal: String? = nil
        if let ch = x.channel {
            var sig: UnsafeMutablePointer<CChar>?
            var siglen = 0
            if libssh2_channel_get_exit_signal(ch, &sig, &siglen, nil, nil, nil, nil) == 0, let sig, siglen > 0 {
                signal = String(decoding: UnsafeRawBufferPointer(start: sig, count: siglen), as: UTF8.self)
            }
            if let sig, let s = session { libssh2_free(s, sig) }
            if signal == nil { status = libssh2_channel_get_exit_status(ch) }
            // The channel is closed on both sides: freeing it does no network I/O.
            _ = libssh2_channel_free(ch)
            x.channel = nil
        }
        execs.removeFirst()
        let result = ExecResult(stdout: x.out, stderr: x.err, exitStatus: status, exitSignal: signal,
                                truncated: x.truncated, duration: x.started.duration(to: .now))
        x.cont.resume(returning: .success(result))
        if execs.isEmpty {
            phase = .ready; pollEvents = 0; deadline = nil
        } else {
            stepExec()
        }
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
}

func seconds(_ d: Duration) -> String {
    let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    return s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
}
