import CLibSSH2

/// What fleet can tell about a private key file without decrypting it.
struct PrivateKeyInfo: Sendable, Equatable {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, … (nil: format not recognised).
    var keyType: String?
    var encrypted: Bool
    /// The public key blob, when the file holds it unencrypted (OpenSSH format).
    var publicBlob: [UInt8]? = nil
    /// Unencrypted OpenSSH-format Ed25519 keys: the public key blob and the 32-byte seed,
    /// so fleet can sign itself instead of libssh2 re-reading the file per session.
    var ed25519: (publicBlob: [UInt8], seed: [UInt8])? = nil

    static func == (a: Self, b: Self) -> Bool {
        a.keyType == b.keyType && a.encrypted == b.encrypted && a.ed25519?.publicBlob == b.ed25519?.publicBlob
    }

    var isRSA: Bool { keyType == "ssh-rsa" }

    static func read(path: String) -> PrivateKeyInfo? {
        guard let text = readWholeFile(path) else { return nil }
        return parse(text)
    }

    static func parse(_ text: String) -> PrivateKeyInfo {
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----") {
            let body = text.split(separator: "\n")
                .filter { !$0.hasPrefix("-----") }
                .joined()
            guard let bytes = base64Decode(body) else { return PrivateKeyInfo(keyType: nil, encrypted: false) }
            var r = SSHBufferReader(bytes)
            guard r.skip(Array("openssh-key-v1\0".utf8).count),
                  let cipher = r.string(), r.string() != nil, r.string() != nil,
                  let n = r.uint32(), n >= 1, let pub = r.bytes()
            else { return PrivateKeyInfo(keyType: nil, encrypted: false) }
            let encrypted = String(decoding: cipher, as: UTF8.self) != "none"
            var info = PrivateKeyInfo(keyType: keyTypeOfBlob(pub), encrypted: encrypted, publicBlob: pub)
            // Unencrypted private section: check1, check2, type, pub(32), priv(64 = seed + pub), comment.
            if !encrypted, info.keyType == "ssh-ed25519", let section = r.bytes() {
                var p = SSHBufferReader(section)
                if let c1 = p.uint32(), let c2 = p.uint32(), c1 == c2, let t = p.string(),
                   String(decoding: t, as: UTF8.self) == "ssh-ed25519", let pk = p.bytes(), pk.count == 32,
                   let sk = p.bytes(), sk.count == 64, Array(sk[32...]) == pk {
                    info.ed25519 = (pub, Array(sk[0..<32]))
                }
            }
            return info
        }
        let encrypted = text.contains("ENCRYPTED")
        if text.contains("BEGIN RSA PRIVATE KEY") { return PrivateKeyInfo(keyType: "ssh-rsa", encrypted: encrypted) }
        if text.contains("BEGIN EC PRIVATE KEY") { return PrivateKeyInfo(keyType: "ecdsa-sha2", encrypted: encrypted) }
        if text.contains("BEGIN DSA PRIVATE KEY") { return PrivateKeyInfo(keyType: "ssh-dss", encrypted: encrypted) }
        return PrivateKeyInfo(keyType: nil, encrypted: encrypted)
    }
}

/// An Ed25519 private key loaded once into OpenSSL, shared by every session that uses it.
final class Ed25519Signer: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is never mutated after creation and OpenSSL allows concurrent
    // signing with one key (each signature uses its own EVP_MD_CTX); `abstract` and
    // `publicBlob` are written once here and only read by libssh2 afterwards.
    let publicBlob: UnsafeMutableBufferPointer<UInt8>
    let abstract: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let pkey: OpaquePointer

    init?(publicBlob blob: [UInt8], seed: [UInt8]) {
        guard seed.count == 32, let k = seed.withUnsafeBufferPointer({ fleet_ed25519_key($0.baseAddress) }) else { return nil }
        pkey = k
        publicBlob = .allocate(capacity: blob.count)
        _ = publicBlob.initialize(from: blob)
        abstract = .allocate(capacity: 1)
        abstract.initialize(to: UnsafeMutableRawPointer(k))
    }

    deinit {
        fleet_pkey_free(pkey)
        publicBlob.deallocate()
        abstract.deallocate()
    }
}

/// Reads SSH wire-format fields (uint32, length-prefixed strings).
struct SSHBufferReader {
    let data: [UInt8]
    var at = 0
    init(_ data: [UInt8]) { self.data = data }

    mutating func skip(_ n: Int) -> Bool {
        guard at + n <= data.count else { return false }
        at += n; return true
    }
    mutating func uint32() -> UInt32? {
        guard at + 4 <= data.count else { return nil }
        defer { at += 4 }
        return UInt32(data[at]) << 24 | UInt32(data[at + 1]) << 16 | UInt32(data[at + 2]) << 8 | UInt32(data[at + 3])
    }
    mutating func bytes() -> [UInt8]? {
        guard let n = uint32().map(Int.init), at + n <= data.count else { return nil }
        defer { at += n }
        return Array(data[at..<(at + n)])
    }
    mutating func string() -> [UInt8]? { bytes() }
}
