/// What fleet can tell about a private key file without decrypting it.
struct PrivateKeyInfo: Sendable, Equatable {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, … (nil: format not recognised).
    var keyType: String?
    var encrypted: Bool

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
            return PrivateKeyInfo(keyType: keyTypeOfBlob(pub), encrypted: String(decoding: cipher, as: UTF8.self) != "none")
        }
        let encrypted = text.contains("ENCRYPTED")
        if text.contains("BEGIN RSA PRIVATE KEY") { return PrivateKeyInfo(keyType: "ssh-rsa", encrypted: encrypted) }
        if text.contains("BEGIN EC PRIVATE KEY") { return PrivateKeyInfo(keyType: "ecdsa-sha2", encrypted: encrypted) }
        if text.contains("BEGIN DSA PRIVATE KEY") { return PrivateKeyInfo(keyType: "ssh-dss", encrypted: encrypted) }
        return PrivateKeyInfo(keyType: nil, encrypted: encrypted)
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
