import Foundation

/// A real OpenSSH sshd on a loopback address, with generated host and client keys, for
/// integration tests. Started in the foreground (`-D`) and stopped by its pid.
///
/// Addresses: loopback only, each suite in its own range (127.0.6.x–127.0.8.x, 127.0.101.x
/// and `::1`), never a non-loopback one.
public final class TestSSHD: @unchecked Sendable {
    // @unchecked: every property is set in init and never mutated; `daemon` locks its own state.
    public let address: String
    public let port: Int
    public let netns: String?
    public let dir: URL
    /// Host key files (`.pub` next to each).
    public let hostKeyPath: String
    /// An ed25519 client key authorised for every user (authorized_keys lives in `dir`).
    public let clientKeyPath: String
    /// A known_hosts file with the host key as `[address]:port`.
    public let knownHostsPath: String
    public let authorizedKeysPath: String
    private let daemon: SpawnedProcess

    /// - Parameters:
    ///   - address: loopback address to listen on (127.0.0.0/8 or `::1`).
    ///   - extraConfig: more sshd_config lines (e.g. `MaxStartups 1000`).
    ///   - netns: run sshd inside this network namespace (one the test created, ``TestNetNS``);
    ///     it then listens on port 22 of `address` there, which may be the namespace's own
    ///     loopback or its end of the namespace's veth link.
    ///   - logLevel: sshd's `LogLevel` (its log is `dir/sshd.log`).
    public init(address: String, extraConfig: [String] = [], netns: String? = nil, logLevel: String = "ERROR") throws {
        precondition(address.hasPrefix("127.") || address == "::1" || (netns != nil && address.hasPrefix("10.251.")),
                     "TestSSHD listens on loopback or inside a test namespace only")
        self.address = address
        self.netns = netns
        dir = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("fleet-sshd-\(address)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // sshd reads authorized_keys as the target user: the throwaway sudo test user too.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        hostKeyPath = dir.appendingPathComponent("host_ed25519").path
        clientKeyPath = dir.appendingPathComponent("client_ed25519").path
        knownHostsPath = dir.appendingPathComponent("known_hosts").path
        authorizedKeysPath = dir.appendingPathComponent("authorized_keys").path
        try Self.keygen(type: "ed25519", path: hostKeyPath)
        try Self.keygen(type: "ed25519", path: clientKeyPath)
        try FileManager.default.copyItem(atPath: clientKeyPath + ".pub", toPath: authorizedKeysPath)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: authorizedKeysPath)

        port = netns == nil ? try Self.freePort(address) : 22
        let hostPub = try String(contentsOfFile: hostKeyPath + ".pub", encoding: .utf8)
            .split(separator: " ").prefix(2).joined(separator: " ")
        try "\(port == 22 ? address : "[\(address)]:\(port)") \(hostPub)\n".write(toFile: knownHostsPath, atomically: true, encoding: .utf8)

        let config = [
            "Port \(port)", "ListenAddress \(address)", "HostKey \(hostKeyPath)",
            "PidFile none", "AuthorizedKeysFile \(authorizedKeysPath)", "StrictModes no", "UsePAM no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "PermitRootLogin yes", "LogLevel \(logLevel)", "UseDNS no",
            "MaxStartups 2000", "MaxSessions 100", "LoginGraceTime 30",
        ] + extraConfig
        let configPath = dir.appendingPathComponent("sshd_config").path
        try (config.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)

        let sshd = ["-D", "-e", "-f", configPath, "-E", dir.appendingPathComponent("sshd.log").path]
        // `ip netns exec` enters the namespace and execs sshd: the pid stays sshd's.
        daemon = try netns.map { try SpawnedProcess("/usr/sbin/ip", ["netns", "exec", $0, "/usr/sbin/sshd"] + sshd) }
            ?? SpawnedProcess("/usr/sbin/sshd", sshd)
        try waitListening()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Kills sshd by pid (its already-forked session children end with their connections).
    public func stop() { daemon.stop() }

    public var pid: Int32 { daemon.pid }

    /// Kills this sshd's session processes (its descendants, by pid: the privileged monitor
    /// and the unprivileged child that holds the socket): every connection to it drops, the
    /// listener stays.
    public func dropConnections() {
        func children(_ p: Int32) -> [Int32] {
            let text = (try? String(contentsOfFile: "/proc/\(p)/task/\(p)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { Int32($0) }
        }
        var all: [Int32] = []
        var stack = children(daemon.pid)
        while let p = stack.popLast() { all.append(p); stack += children(p) }
        for p in all { kill(p, SIGKILL) }
    }

    /// Appends a public key (file contents) to authorized_keys.
    public func authorize(publicKeyFile: String) throws {
        let key = try String(contentsOfFile: publicKeyFile, encoding: .utf8)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: authorizedKeysPath))
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data(key.utf8))
    }

    /// `ssh-keygen -t TYPE -N '' -f PATH` (plus `-b` for RSA).
    public static func keygen(type: String, path: String, passphrase: String = "") throws {
        var args = ["-q", "-t", type, "-N", passphrase, "-C", "fleet-test", "-f", path]
        if type == "rsa" { args += ["-b", "2048"] }
        try run("/usr/bin/ssh-keygen", args)
    }

    /// The fingerprint of a public key file as `ssh-keygen -lf` prints it (`SHA256:…`).
    public static func fingerprint(publicKeyFile: String) throws -> String {
        let out = try run("/usr/bin/ssh-keygen", ["-l", "-E", "sha256", "-f", publicKeyFile])
        return out.split(separator: " ")[1].description
    }

    /// Runs a program to completion; throws with its stderr on a non-zero exit.
    @discardableResult
    public static func run(_ path: String, _ args: [String], environment: [String: String]? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let environment { p.environment = environment }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TestSSHDError("\(path) \(args.joined(separator: " ")) exited \(p.terminationStatus): \(String(decoding: e, as: UTF8.self))")
        }
        return String(decoding: o, as: UTF8.self)
    }

    /// A port nothing listens on right now at `address` (bind to 0, read it back, close).
    public static func freePort(_ address: String) throws -> Int {
        try withSocketAddress(address, 0) { family, sa, len in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw TestSSHDError("socket: \(errno)") }
            defer { close(fd) }
            guard bind(fd, sa, len) == 0 else {
                throw TestSSHDError("bind \(address): errno \(errno)" + (family == AF_INET6 ? " (is IPv6 off on the loopback interface?)" : ""))
            }
            var bound = sockaddr_storage()
            var blen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &blen) } }
            // sin_port and sin6_port are both the two bytes after the family.
            return withUnsafeBytes(of: bound) { Int(UInt16($0[2]) << 8 | UInt16($0[3])) }
        }
    }

    private func waitListening() throws {
        for _ in 0..<200 {
            if !daemon.isRunning {
                let log = (try? String(contentsOf: dir.appendingPathComponent("sshd.log"), encoding: .utf8)) ?? ""
                throw TestSSHDError("sshd exited: \(log)")
            }
            if let netns {
                if (try? Self.run("/usr/sbin/ip", ["netns", "exec", netns, "/bin/bash", "-c", "exec 3<>/dev/tcp/\(address)/\(port)"])) != nil { return }
            } else if Self.canConnect(address, port) { return }
            usleep(25_000)
        }
        stop()
        throw TestSSHDError("sshd did not start listening on \(address):\(port)")
    }

    static func canConnect(_ address: String, _ port: Int) -> Bool {
        (try? withSocketAddress(address, port) { family, sa, len -> Bool in
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            return connect(fd, sa, len) == 0
        }) ?? false
    }

    /// An IPv4 or IPv6 literal and a port as the sockaddr bind(2)/connect(2) take.
    static func withSocketAddress<R>(_ address: String, _ port: Int,
                                     _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) throws -> R) throws -> R {
        if address.contains(":") {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(port).bigEndian)
            guard inet_pton(AF_INET6, address, &a.sin6_addr) == 1 else { throw TestSSHDError("not an IPv6 address: \(address)") }
            return try withUnsafePointer(to: &a) { try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                try body(AF_INET6, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &a.sin_addr) == 1 else { throw TestSSHDError("not an IPv4 address: \(address)") }
        return try withUnsafePointer(to: &a) { try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            try body(AF_INET, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    }
}

/// A TCP listener that accepts connections (the kernel completes them from the backlog) and
/// never says a word: an SSH client must time out in its handshake.
public final class SilentListener: @unchecked Sendable {
    // @unchecked: fd, port and fillers are set once in init; deinit closes them.
    public let address: String
    public let port: Int
    private let fd: Int32
    private var fillers: [Int32] = []

    /// - Parameter saturated: fill the accept queue (listen backlog 0 plus connections that are
    ///   never accepted), so the kernel drops further SYNs and a client's TCP connect hangs:
    ///   a connect timeout on loopback.
    public init(address: String, saturated: Bool = false) throws {
        self.address = address
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = 0
        inet_pton(AF_INET, address, &a.sin_addr)
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0, listen(sock, saturated ? 0 : 16) == 0 else { close(sock); throw TestSSHDError("silent listener on \(address): errno \(errno)") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(sock, $0, &len) } }
        fd = sock
        port = Int(UInt16(bigEndian: a.sin_port))
        if saturated {
            for _ in 0..<3 {
                let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                fillers.append(c)
            }
            usleep(200_000)  // let the handshakes land in the accept queue
        }
    }

    deinit {
        for c in fillers { close(c) }
        close(fd)
    }
}

/// An ssh-agent in the foreground on its own socket, stopped by pid.
public final class TestSSHAgent: @unchecked Sendable {
    // @unchecked: set once in init; stop() runs once.
    public let socketPath: String
    private let daemon: SpawnedProcess

    public init(dir: URL) throws {
        socketPath = dir.appendingPathComponent("agent.sock").path
        daemon = try SpawnedProcess("/usr/bin/ssh-agent", ["-D", "-a", socketPath])
        // The socket file appears at bind(), before listen(): wait until a connect works.
        for _ in 0..<200 where !Self.accepts(socketPath) { usleep(25_000) }
    }

    static func accepts(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: a.sun_path) else { return false }
        withUnsafeMutableBytes(of: &a.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } } == 0
    }

    public func add(keyFile: String) throws {
        try TestSSHD.run("/usr/bin/ssh-add", ["-q", keyFile], environment: ["SSH_AUTH_SOCK": socketPath])
    }

    deinit { stop() }

    public func stop() { daemon.stop() }
}

/// A long-running child started with posix_spawn and stopped by pid. Not Foundation.Process:
/// corelibs Foundation blocks in wait4 on a still-running Process child, which stalls every
/// later Process (ssh-keygen) until the daemon exits.
final class SpawnedProcess: @unchecked Sendable {
    // @unchecked: pid is immutable; `stopped` is guarded by `lock`.
    let pid: pid_t
    private let lock = NSLock()
    private var stopped = false

    init(_ path: String, _ args: [String]) throws {
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        // Spawned from a Dispatch/cooperative thread, which blocks signals: give the child an
        // empty mask and default handlers, or it ignores our SIGTERM.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var p: pid_t = 0
        let rc = posix_spawn(&p, path, &fa, &attr, argv, environ)
        guard rc == 0 else { throw TestSSHDError("posix_spawn \(path): \(rc)") }
        pid = p
    }

    var isRunning: Bool {
        lock.lock(); defer { lock.unlock() }
        if stopped { return false }
        var st: Int32 = 0
        if waitpid(pid, &st, WNOHANG) == pid { stopped = true; return false }
        return true
    }

    func stop() {
        lock.lock(); defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGTERM)
        var st: Int32 = 0
        while waitpid(pid, &st, 0) < 0 && errno == EINTR {}
    }

    deinit { stop() }
}

public struct TestSSHDError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
