import Testing
@testable import FleetSSH

/// known_hosts matching rules as documented in sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT".
@Suite struct KnownHostsTests {
    // Two distinct ed25519 public key blobs (type string + 32 key bytes), built by hand.
    static func blob(_ fill: UInt8) -> [UInt8] {
        let type = Array("ssh-ed25519".utf8)
        return [0, 0, 0, UInt8(type.count)] + type + [0, 0, 0, 32] + Array(repeating: fill, count: 32)
    }
    static let keyA = blob(1), keyB = blob(2)

    static func file(_ lines: [String]) -> KnownHostsFile {
        KnownHostsFile.parse(path: "t", text: lines.joined(separator: "\n"), signature: [])
    }

    @Test func literalPortAndWildcardNames() {
        let a = base64Encode(Self.keyA)
        let f = Self.file([
            "# comment",
            "node1,10.0.0.1 ssh-ed25519 \(a)",
            "[node2]:2222 ssh-ed25519 \(a)",
            "web-* ssh-ed25519 \(a) comment here",
            "db-*,!db-secret ssh-ed25519 \(a)",
        ])
        #expect(f.matching("node1").count == 1)
        #expect(f.matching("10.0.0.1").count == 1)
        #expect(f.matching("node2").isEmpty)          // only [node2]:2222 is listed
        #expect(f.matching("[node2]:2222").count == 1)
        #expect(f.matching("web-17").count == 1)
        #expect(f.matching("db-1").count == 1)
        #expect(f.matching("db-secret").isEmpty)      // negated pattern wins
        #expect(f.matching("other").isEmpty)
    }

    @Test func lookupNameFollowsOpenSSH() {
        #expect(KnownHostsStore.lookupName(host: "n1", port: 22) == "n1")
        #expect(KnownHostsStore.lookupName(host: "n1", port: 2222) == "[n1]:2222")
    }

    @Test func revokedAndCertAuthorityLines() {
        let f = Self.file([
            "@revoked node1 ssh-ed25519 \(base64Encode(Self.keyB))",
            "@cert-authority * ssh-ed25519 \(base64Encode(Self.keyA))",
        ])
        let m = f.matching("node1")
        #expect(m.count == 1)
        #expect(m.first?.revoked == true)
        #expect(f.entries.count == 1)                 // @cert-authority is skipped (no certificates in libssh2 1.10)
    }

    @Test func fingerprintFormat() {
        // SHA-256 of the empty string, base64 without padding, as OpenSSH prints digests.
        #expect(sha256Fingerprint([]) == "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")
    }

    @Test func privateKeyKinds() {
        #expect(PrivateKeyInfo.parse("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n").isRSA)
        #expect(PrivateKeyInfo.parse("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n").encrypted)
    }
}
