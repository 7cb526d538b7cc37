import Foundation
import FleetModel
import FleetTestSupport
import Testing
@testable import FleetSSH

/// ssh_config resolution against OpenSSH's own resolver: for each (config, host), what
/// fleet resolves equals what `ssh -G -F config host` prints, for the directives fleet uses.
/// Expected values come from ssh -G (the reference), never from fleet's output.
@Suite struct SSHConfigTests {
    static let home: String = {
        if let pw = getpwuid(getuid()) { return String(cString: pw.pointee.pw_dir) }  // ssh's ~ is the passwd home
        return NSHomeDirectory()
    }()
    static let localUser: String = String(cString: getpwuid(getuid())!.pointee.pw_name)

    /// A temp folder with the config (and its Include files), removed after the test.
    final class ConfigDir {
        let url: URL
        init(_ files: [String: String]) throws {
            url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fleet-sshcfg-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            for (name, text) in files {
                let p = url.appendingPathComponent(name)
                try FileManager.default.createDirectory(at: p.deletingLastPathComponent(), withIntermediateDirectories: true)
                let body = text.replacingOccurrences(of: "@DIR@", with: url.path)
                try body.write(to: p, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: p.path)
            }
        }
        var config: String { url.appendingPathComponent("config").path }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    /// `ssh -G` output as keyword → values (identityfile repeats).
    static func sshG(_ config: String, _ host: String, _ extra: [String] = []) throws -> [String: [String]] {
        let out = try TestSSHD.run("/usr/bin/ssh", ["-G", "-F", config] + extra + [host])
        var d: [String: [String]] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            d[parts[0], default: []].append(parts[1])
        }
        return d
    }

    static let openSSHDefaultKeys = ["id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk", "id_xmss", "id_dsa"]
        .map { "~/.ssh/" + $0 }

    /// OpenSSH's defaults as the base, so fleet's result is comparable with ssh -G's.
    static func openSSHBase(_ name: String) -> NodeTarget {
        NodeTarget(name: name, host: name, port: 22, user: localUser, identityFiles: [],
                   knownHostsFiles: [home + "/.ssh/known_hosts", home + "/.ssh/known_hosts2"])
    }

    /// ssh -G prints IdentityFile before expansion; expand it here as ssh_config(5)
    /// TOKENS says (%h %p %r %u %d %n %%, leading ~).
    static func expandAsManPage(_ s: String, host: String, port: String, user: String, name: String) -> String {
        var out = "", it = s.makeIterator()
        while let c = it.next() {
            guard c == "%", let t = it.next() else { out.append(c); continue }
            switch t {
            case "h": out += host
            case "p": out += port
            case "r": out += user
            case "u": out += localUser
            case "d": out += home
            case "n": out += name
            default: out.append(t)
            }
        }
        return out.hasPrefix("~/") ? home + out.dropFirst() : out
    }

    func check(_ dir: ConfigDir, _ host: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let g = try Self.sshG(dir.config, host)
        let cfg = try SSHConfig.load(path: dir.config, home: Self.home, localUser: Self.localUser)
        let t = cfg.target(for: Self.openSSHBase(host), overrides: SSHConfig.Overrides())
        let r = cfg.resolve(host: host)
        let ctx = Comment(rawValue: "host \(host)")
        #expect(t.host == g["hostname"]?.first, ctx, sourceLocation: sourceLocation)
        #expect(String(t.port) == g["port"]?.first, ctx, sourceLocation: sourceLocation)
        #expect(t.user == g["user"]?.first, ctx, sourceLocation: sourceLocation)
        let keys = g["identityfile"] ?? []
        if keys != Self.openSSHDefaultKeys {
            #expect(r.identityFiles.map(\.value) == keys, ctx, sourceLocation: sourceLocation)
            #expect(t.identityFiles == keys.map { Self.expandAsManPage($0, host: t.host, port: String(t.port), user: t.user, name: host) },
                    ctx, sourceLocation: sourceLocation)
        } else {
            #expect(t.identityFiles.isEmpty, ctx, sourceLocation: sourceLocation)
        }
        #expect((t.identitiesOnly ? "yes" : "no") == g["identitiesonly"]?.first, ctx, sourceLocation: sourceLocation)
        let known = (g["userknownhostsfile"]?.first ?? "").split(separator: " ").map(String.init)
        #expect(Array(t.knownHostsFiles.prefix(known.count)) == known, ctx, sourceLocation: sourceLocation)
        switch g["stricthostkeychecking"]?.first {
        case "ask", "true": #expect(t.hostKeyPolicy == .strict || (t.hostKeyPolicy == nil && r.strictHostKeyChecking == nil), ctx, sourceLocation: sourceLocation)
        case "accept-new": #expect(t.hostKeyPolicy == .acceptNew, ctx, sourceLocation: sourceLocation)
        default: #expect(t.unusable?.contains("StrictHostKeyChecking") == true, ctx, sourceLocation: sourceLocation)
        }
        let ct = g["connecttimeout"]?.first
        #expect(t.connectTimeout == (ct == "none" ? nil : ct.flatMap(Int.init).map { Duration.seconds($0) }), ctx, sourceLocation: sourceLocation)
        #expect((t.keepaliveInterval ?? .zero) == .seconds(Int(g["serveraliveinterval"]?.first ?? "") ?? -1), ctx, sourceLocation: sourceLocation)
        #expect((t.keepaliveCountMax ?? 3) == Int(g["serveralivecountmax"]?.first ?? ""), ctx, sourceLocation: sourceLocation)
        if let agent = g["identityagent"]?.first {
            #expect(t.identityAgent == (agent == "none" ? "" : agent), ctx, sourceLocation: sourceLocation)
        } else {
            #expect(t.identityAgent == nil, ctx, sourceLocation: sourceLocation)
        }
        #expect(r.proxyJump?.value == g["proxyjump"]?.first, ctx, sourceLocation: sourceLocation)
        // Each hop of fleet's chain is what ssh -G says for that hop, as ssh -J would reach it.
        if let spec = g["proxyjump"]?.first {
            let hops = spec.split(separator: ",").compactMap { SSHConfig.parseJumpHop(String($0)) }
            for (hop, fleetHop) in zip(hops.reversed(), t.jumps.reversed()) {
                let extra = (hop.user.map { ["-l", $0] } ?? []) + (hop.port.map { ["-p", String($0)] } ?? [])
                let hg = try Self.sshG(dir.config, hop.host, extra)
                #expect(fleetHop.host == hg["hostname"]?.first, ctx, sourceLocation: sourceLocation)
                #expect(String(fleetHop.port) == hg["port"]?.first, ctx, sourceLocation: sourceLocation)
                #expect(fleetHop.user == hg["user"]?.first, ctx, sourceLocation: sourceLocation)
            }
        }
    }

    static let mainConfig = """
    # Comments, blank lines, several patterns per Host, negation, = syntax, quotes
    Host web-* db-? !web-secret
        User = deploy
        Port 2201
        IdentityFile ~/.ssh/k_%h_%p_%r_%u_%%
        IdentityFile "@DIR@/second key"

    Host web-secret
      HostName   secret.internal
      IdentitiesOnly yes

    Host jumped-*
      HostName %h.dc1
      ProxyJump ops@bastion-1:2022,bastion-2
      UserKnownHostsFile @DIR@/kh_%h_%p @DIR@/kh2
      ServerAliveInterval 1m
      ServerAliveCountMax 5

    Match originalhost web-1 user deploy
      ConnectTimeout 7
      IdentityAgent none

    Match host *.dc1,!x.dc1
      User dcuser
      StrictHostKeyChecking accept-new

    Match !host *.dc1
      ConnectTimeout 3

    Host bastion-1
      HostName 10.9.9.1
      User ignored-from-config
      ProxyJump outer
    Host bastion-2
      Port 2222
      ProxyJump never-used
    Host outer
      User outeruser

    Include @DIR@/conf.d/*.conf

    Host *
      User fallback
      Port 22
      IdentityFile ~/.ssh/id_ed25519
      StrictHostKeyChecking yes
    """

    @Test(arguments: ["web-1", "web-2", "web-secret", "db-1", "db-12", "jumped-a", "x", "inc-1", "other"])
    func matchesSSHG(host: String) throws {
        let dir = try ConfigDir([
            "config": Self.mainConfig,
            "conf.d/10-inc.conf": "Host inc-*\n  HostName included.example\n  IdentityAgent @DIR@/agent-%h.sock\n  StrictHostKeyChecking no\n",
            "conf.d/20-more.conf": "Host x\n  HostName x.dc1\n",
        ])
        try check(dir, host)
    }

    @Test func includeInsideInactiveHostBlockDoesNotApply() throws {
        let dir = try ConfigDir([
            "config": "Host a\n  Include @DIR@/inc\nHost *\n  User z\n",
            "inc": "User fromInclude\nHost *\n  Port 2000\n",
        ])
        for h in ["a", "b"] { try check(dir, h) }
    }

    @Test func firstValueWinsAndMatchAll() throws {
        let dir = try ConfigDir([
            "config": "Port 1000\nHost h\n  Port 2000\n  User u1\nMatch all\n  User u2\n  ServerAliveInterval 10\n",
        ])
        for h in ["h", "k"] { try check(dir, h) }
    }

    // MARK: - What fleet cannot honour, and inventory overrides

    @Test func unhonourableDirectivesNameFileAndLine() throws {
        let dir = try ConfigDir([
            "config": "Host pc\n  ProxyCommand nc %h %p\nHost cert\n  CertificateFile ~/.ssh/id-cert.pub\nHost chacha\n  Ciphers chacha20-poly1305@openssh.com\nHost fine\n  Ciphers chacha20-poly1305@openssh.com,aes256-ctr\n",
        ])
        let cfg = try SSHConfig.load(path: dir.config, home: Self.home, localUser: Self.localUser)
        func t(_ h: String) -> NodeTarget { cfg.target(for: Self.openSSHBase(h), overrides: .init()) }
        #expect(t("pc").unusable?.contains("\(dir.config):2: ProxyCommand nc %h %p") == true)
        #expect(t("cert").unusable?.contains("\(dir.config):4: CertificateFile") == true)
        #expect(t("chacha").unusable?.contains("\(dir.config):6: Ciphers chacha20-poly1305@openssh.com: libssh2 1.10 supports none") == true)
        #expect(t("fine").unusable == nil)
        #expect(t("fine").ciphers == ["aes256-ctr"])
        #expect(t("other").unusable == nil)
    }

    @Test func syntaxErrorsStopLikeSSH() throws {
        for (text, line) in [("Host a\n  Bogus yes\n", 2), ("Match host\n", 1), ("Host a\nUser \"open\n", 2), ("Match exec true\n", 1)] {
            let dir = try ConfigDir(["config": text])
            #expect(throws: SSHConfigError.self) { _ = try SSHConfig.load(path: dir.config, home: Self.home, localUser: Self.localUser) }
            do { _ = try SSHConfig.load(path: dir.config, home: Self.home, localUser: Self.localUser) } catch {
                #expect(error.line == line)
            }
            // ssh refuses the same file (except Match exec, which ssh runs and fleet will not).
            if !text.contains("exec") {
                #expect(throws: (any Error).self) { try TestSSHD.run("/usr/bin/ssh", ["-G", "-F", dir.config, "a"]) }
            }
        }
    }

    /// Inventory values act as `ssh -o` options: compared with ssh -G given the same -o.
    @Test func inventoryOverridesActLikeDashO() throws {
        let dir = try ConfigDir(["config": Self.mainConfig, "conf.d/x.conf": ""])
        let cfg = try SSHConfig.load(path: dir.config, home: Self.home, localUser: Self.localUser)
        let o = SSHConfig.Overrides(hostName: "10.1.2.3", port: 2999, user: "invuser", proxyJump: "none")
        let t = cfg.target(for: Self.openSSHBase("jumped-b"), overrides: o)
        let g = try Self.sshG(dir.config, "jumped-b", ["-o", "HostName=10.1.2.3", "-o", "Port=2999", "-o", "User=invuser", "-o", "ProxyJump=none"])
        #expect(t.host == g["hostname"]?.first)
        #expect(String(t.port) == g["port"]?.first)
        #expect(t.user == g["user"]?.first)
        #expect(t.jumps.isEmpty)
        #expect(g["proxyjump"] == nil)
    }

    @Test func noneReadsNothing() throws {
        let cfg = try SSHConfig.load(path: "none")
        #expect(cfg.paths.isEmpty)
        let base = NodeTarget(name: "n", host: "10.0.0.1", port: 22, user: "root")
        #expect(cfg.target(for: base, overrides: .init()) == base)
    }

    @Test func jumpHopSyntax() {
        func text(_ s: String) -> String? { SSHConfig.parseJumpHop(s).map { "\($0.user ?? "-") \($0.host) \($0.port ?? 0)" } }
        #expect(text("a") == "- a 0")
        #expect(text("u@a:2022") == "u a 2022")
        #expect(text("ssh://u@[::1]:22") == "u ::1 22")
        #expect(SSHConfig.parseJumpHop("a:notaport") == nil)
    }
}
