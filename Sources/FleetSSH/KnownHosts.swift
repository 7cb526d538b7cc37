import CLibSSH2
import FleetModel
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One parsed known_hosts line that can apply to hosts.
struct KnownHostEntry: Sendable {
    enum Names: Sendable {
        case patterns([String])                    // comma list; `!` negates, `*`/`?` wildcards
        case hashed(HashedName)                    // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
    }
    var names: Names
    var keyType: String
    var keyBlob: [UInt8]
    var revoked: Bool

    func applies(to name: String) -> Bool {
        switch names {
        case .hashed(let h):
            return h.matches(name)
        case .patterns(let patterns):
            var matched = false
            for p in patterns {
                if p.hasPrefix("!") {
                    if fnmatch(String(p.dropFirst()), name, 0) == 0 { return false }
                } else if p == name || fnmatch(p, name, 0) == 0 {
                    matched = true
                }
            }
            return matched
        }
    }
}

/// A hashed known_hosts name with its HMAC key schedule done once (see the shim).
struct HashedName: @unchecked Sendable {
    // @unchecked: `state` is a plain C struct of integers, copied by value and never shared mutably.
    let state: fleet_hmac_sha1_state
    let hash: [UInt8]

    init(salt: [UInt8], hash: [UInt8]) {
        var st = fleet_hmac_sha1_state()
        salt.withUnsafeBufferPointer { fleet_hmac_sha1_prepare(&st, $0.baseAddress, $0.count) }
        state = st
        self.hash = hash
    }

    func matches(_ name: String) -> Bool {
        var out = [UInt8](repeating: 0, count: 20)
        var st = state
        Array(name.utf8).withUnsafeBufferPointer { fleet_hmac_sha1_finish(&st, $0.baseAddress, $0.count, &out) }
        return out == hash
    }
}

/// A known_hosts file, parsed once and reused until the file changes (mtime, size, inode).
struct KnownHostsFile: Sendable {
    var path: String
    var signature: [Int]
    var entries: [KnownHostEntry]
    /// Entries by literal host name, so a 5,000-line file costs a dictionary lookup per
    /// session; hashed and wildcard entries still need a scan (HMAC / fnmatch each).
    var byName: [String: [Int]] = [:]
    var scanned: [Int] = []

    init(path: String, signature: [Int], entries: [KnownHostEntry]) {
        self.path = path; self.signature = signature; self.entries = entries
        for (i, e) in entries.enumerated() {
            if case .patterns(let ps) = e.names,
               ps.allSatisfy({ !$0.hasPrefix("!") && !$0.contains("*") && !$0.contains("?") }) {
                for p in Set(ps) { byName[p, default: []].append(i) }
            } else {
                scanned.append(i)
            }
        }
    }

    /// Entries that apply to `name`, in file order.
    func matching(_ name: String) -> [KnownHostEntry] {
        var idx = byName[name] ?? []
        idx += scanned.filter { entries[$0].applies(to: name) }
        return idx.sorted().map { entries[$0] }
    }

    static func signature(of path: String) -> [Int]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return [Int(st.st_ino), Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)]
    }

    static func parse(path: String, text: String, signature: [Int]) -> KnownHostsFile {
        var entries: [KnownHostEntry] = []
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            var fields = raw.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            var revoked = false
            if first.hasPrefix("@") {
                // @cert-authority lines need certificate support, which libssh2 1.10 lacks.
                guard first == "@revoked" else { continue }
                revoked = true
                fields.removeFirst()
            }
            guard fields.count >= 3, let blob = base64Decode(fields[2]) else { continue }
            let names: KnownHostEntry.Names
            if fields[0].hasPrefix("|1|") {
                let parts = fields[0].dropFirst(3).split(separator: "|", omittingEmptySubsequences: false)
                guard parts.count == 2, let salt = base64Decode(String(parts[0])),
                      let hash = base64Decode(String(parts[1])), hash.count == 20 else { continue }
                names = .hashed(HashedName(salt: salt, hash: hash))
            } else {
                names = .patterns(fields[0].split(separator: ",").map(String.init))
            }
            entries.append(KnownHostEntry(names: names, keyType: fields[1], keyBlob: blob, revoked: revoked))
        }
        return KnownHostsFile(path: path, signature: signature, entries: entries)
    }
}

/// What the known_hosts files say about one host's presented key.
enum HostKeyVerdict: Equatable {
    case match
    case unknown
    case changed(knownTypes: [String])
    case revoked
}

/// Parsed known_hosts files shared by all event loops, plus serialized accept-new appends.
final class KnownHostsStore: Sendable {
    private let cache = Mutex<[String: KnownHostsFile]>([:])
    private let appendLock = Mutex<Void>(())

    /// The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise.
    static func lookupName(host: String, port: Int) -> String {
        port == 22 ? host : "[\(host)]:\(port)"
    }

    func file(_ path: String) -> KnownHostsFile? {
        guard let sig = KnownHostsFile.signature(of: path) else { return nil }
        if let cached = cache.withLock({ $0[path] }), cached.signature == sig { return cached }
        guard let text = readWholeFile(path) else { return nil }
        let parsed = KnownHostsFile.parse(path: path, text: text, signature: sig)
        cache.withLock { $0[path] = parsed }
        return parsed
    }

    /// The entries for `host:port` across `files`, in file order.
    func entries(host: String, port: Int, files: [String]) -> [KnownHostEntry] {
        let name = Self.lookupName(host: host, port: port)
        var out: [KnownHostEntry] = []
        for path in files {
            guard let f = file(path) else { continue }
            out.append(contentsOf: f.matching(name))
        }
        return out
    }

    /// Key types known for the host, for the host-key algorithm preference (as OpenSSH does),
    /// so a host known by its ECDSA key is not asked for its Ed25519 key and reported changed.
    static func knownKeyTypes(_ es: [KnownHostEntry]) -> [String] {
        var seen: [String] = []
        for e in es where !e.revoked && !seen.contains(e.keyType) { seen.append(e.keyType) }
        return seen
    }

    func verdict(host: String, port: Int, files: [String], keyBlob: [UInt8]) -> HostKeyVerdict {
        Self.verdict(entries(host: host, port: port, files: files), keyBlob: keyBlob)
    }

    /// From the host's entries, looked up once per session (each hashed entry costs an HMAC).
    static func verdict(_ es: [KnownHostEntry], keyBlob: [UInt8]) -> HostKeyVerdict {
        if es.contains(where: { $0.revoked && $0.keyBlob == keyBlob }) { return .revoked }
        let live = es.filter { !$0.revoked }
        if live.contains(where: { $0.keyBlob == keyBlob }) { return .match }
        if live.isEmpty { return .unknown }
        return .changed(knownTypes: Array(Set(live.map(\.keyType))).sorted())
    }

    /// accept-new: appends the key for an unknown host to `path` (created 0600 if missing).
    /// Re-checks under the lock so two sessions to one new host append it once; a key that
    /// turned out to conflict is never written.
    func appendIfUnknown(host: String, port: Int, files: [String], path: String,
                         keyType: String, keyBlob: [UInt8]) -> Result<HostKeyVerdict, Reason> {
        appendLock.withLock { _ in
            let v = verdict(host: host, port: port, files: files, keyBlob: keyBlob)
            guard v == .unknown else { return .success(v) }
            let line = "\(Self.lookupName(host: host, port: port)) \(keyType) \(base64Encode(keyBlob))\n"
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return .failure(Reason("cannot open \(path): \(String(cString: strerror(errno)))")) }
            defer { close(fd) }
            let bytes = Array(line.utf8)
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n == bytes.count else { return .failure(Reason("cannot append to \(path): \(String(cString: strerror(errno)))")) }
            return .success(.unknown)
        }
    }
}

/// A failure explained in words, for messages.
struct Reason: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func readWholeFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        if n == 0 { break }
        data.append(contentsOf: buf[0..<n])
    }
    return String(decoding: data, as: UTF8.self)
}

// MARK: - base64 and fingerprints

private let b64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
private let b64Reverse: [Int16] = {
    var t = [Int16](repeating: -1, count: 256)
    for (i, c) in b64Alphabet.enumerated() { t[Int(c)] = Int16(i) }
    return t
}()

func base64Encode(_ bytes: [UInt8], padding: Bool = true) -> String {
    var out: [UInt8] = []
    out.reserveCapacity((bytes.count + 2) / 3 * 4)
    var i = 0
    while i + 2 < bytes.count {
        let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        for s in [18, 12, 6, 0] { out.append(b64Alphabet[Int((v >> UInt32(s)) & 63)]) }
        i += 3
    }
    let rest = bytes.count - i
    if rest > 0 {
        var v = UInt32(bytes[i]) << 16
        if rest == 2 { v |= UInt32(bytes[i + 1]) << 8 }
        out.append(b64Alphabet[Int((v >> 18) & 63)])
        out.append(b64Alphabet[Int((v >> 12) & 63)])
        if rest == 2 { out.append(b64Alphabet[Int((v >> 6) & 63)]) }
        if padding { out.append(contentsOf: Array(repeating: UInt8(ascii: "="), count: 3 - rest)) }
    }
    return String(decoding: out, as: UTF8.self)
}

func base64Decode(_ text: String) -> [UInt8]? {
    var out: [UInt8] = []
    var acc: UInt32 = 0, bits = 0
    for c in text.utf8 {
        if c == UInt8(ascii: "=") { break }
        let v = b64Reverse[Int(c)]
        guard v >= 0 else { return nil }
        acc = acc << 6 | UInt32(v); bits += 6
        if bits >= 8 { bits -= 8; out.append(UInt8((acc >> UInt32(bits)) & 0xff)) }
    }
    return out
}

/// `SHA256:` + unpadded base64 of the key blob's SHA-256, exactly as `ssh-keygen -lf` prints it.
func sha256Fingerprint(_ blob: [UInt8]) -> String {
    var md = [UInt8](repeating: 0, count: 32)
    _ = blob.withUnsafeBufferPointer { fleet_sha256($0.baseAddress, $0.count, &md) }
    return "SHA256:" + base64Encode(md, padding: false)
}

/// The key type name at the start of an SSH public key blob (`ssh-ed25519`, …).
func keyTypeOfBlob(_ blob: [UInt8]) -> String? {
    guard blob.count >= 4 else { return nil }
    let n = Int(blob[0]) << 24 | Int(blob[1]) << 16 | Int(blob[2]) << 8 | Int(blob[3])
    guard n > 0, n <= 64, blob.count >= 4 + n else { return nil }
    return String(decoding: blob[4..<(4 + n)], as: UTF8.self)
}
