import CLibSSH2
import FleetModel
#if canImport(Glibc)
import Glibc
#endif

extension SSHConfig {
    /// The node as fleet will reach it: `base` is the inventory's target (fleet's defaults
    /// filled in), `overrides` what the inventory or command line set explicitly (they win,
    /// as `ssh -o` options would). The config fills what the inventory left unset; fleet's
    /// defaults (user root, port 22, the inventory's known_hosts) fill the rest.
    ///
    /// `Host` patterns match the inventory name (what an operator types after `ssh`). A
    /// directive fleet cannot honour makes the target ``NodeTarget/unusable``, naming file
    /// and line; the executor then fails that node alone.
    public func target(for base: NodeTarget, overrides: Overrides) -> NodeTarget {
        var problems: [String] = []
        var t = build(name: base.name, base: base, overrides: overrides, problems: &problems)
        if t.unusable == nil {
            t.jumps = jumpChain(for: t.name, spec: resolve(host: base.name, overrides: overrides).proxyJump,
                                base: base, depth: 0, problems: &problems)
        }
        if !problems.isEmpty, t.unusable == nil { t.unusable = problems.joined(separator: "; ") }
        return t
    }

    private func build(name: String, base: NodeTarget, overrides: Overrides, problems: inout [String]) -> NodeTarget {
        let r = resolve(host: name, overrides: overrides)
        var t = base
        t.name = name
        for v in r.cannotHonour + r.invalid { problems.append("\(v.source): \(v.value)") }
        t.host = (r.hostName.map { expandHostName($0.value, host: name) } ?? base.host).lowercased()
        t.port = r.port?.value ?? base.port
        t.user = r.user?.value ?? base.user
        var tokens: [Character: String] = ["h": t.host, "p": String(t.port), "r": t.user, "u": localUser,
                                           "d": home, "n": name]
        tokens["l"] = localHostName()
        func expand(_ v: Valued<String>, _ what: String) -> String? {
            do {
                return expandTilde(try expandTokens(v.value, tokens), home: home)
            } catch {
                problems.append("\(v.source): \(what) \(v.value): fleet does not know the token %\(error.token)")
                return nil
            }
        }
        if !r.identityFiles.isEmpty {
            t.identityFiles = r.identityFiles.compactMap { expand($0, "IdentityFile") }
        }
        t.identitiesOnly = r.identitiesOnly?.value ?? false
        if let a = r.identityAgent {
            switch a.value {
            case "none": t.identityAgent = ""
            case "SSH_AUTH_SOCK": t.identityAgent = nil
            case let v where v.hasPrefix("$"):
                t.identityAgent = getenvString(String(v.dropFirst()).trimmingCharacters(in: "{}")) ?? ""
            default: t.identityAgent = expand(a, "IdentityAgent")
            }
        }
        if let files = r.userKnownHostsFiles {
            var list = files.value.compactMap { expand(Valued(value: $0, source: files.source), "UserKnownHostsFile") }
            if let global = r.globalKnownHostsFiles { list += global.value }
            t.knownHostsFiles = list
        } else if let global = r.globalKnownHostsFiles {
            t.knownHostsFiles = base.knownHostsFiles + global.value
        }
        if let s = r.strictHostKeyChecking {
            switch s.value {
            case "yes", "true", "ask": t.hostKeyPolicy = .strict
            case "accept-new": t.hostKeyPolicy = .acceptNew
            default:
                problems.append("\(s.source): StrictHostKeyChecking \(s.value): fleet always checks host keys (use accept-new to record unknown ones, or --host-key-policy)")
            }
        }
        t.connectTimeout = r.connectTimeout?.value
        t.keepaliveInterval = r.serverAliveInterval?.value
        t.keepaliveCountMax = r.serverAliveCountMax?.value
        if let c = r.ciphers {
            switch Self.pickAlgorithms(c.value, fleet: ["aes128-ctr", "aes256-ctr", "aes192-ctr"],
                                       supported: libssh2Algorithms(LIBSSH2_METHOD_CRYPT_CS)) {
            case .some(let list): t.ciphers = list
            case .none: problems.append("\(c.source): Ciphers \(c.value): libssh2 1.10 supports none of these (it has \(libssh2Algorithms(LIBSSH2_METHOD_CRYPT_CS).sorted().joined(separator: ",")))")
            }
        }
        for (v, method, name) in [(r.kexAlgorithms, LIBSSH2_METHOD_KEX, "KexAlgorithms"),
                                  (r.macs, LIBSSH2_METHOD_MAC_CS, "MACs"),
                                  (r.hostKeyAlgorithms, LIBSSH2_METHOD_HOSTKEY, "HostKeyAlgorithms")] {
            guard let v else { continue }
            let have = libssh2Algorithms(method)
            if Self.pickAlgorithms(v.value, fleet: Array(have), supported: have) == nil {
                problems.append("\(v.source): \(name) \(v.value): libssh2 1.10 supports none of these")
            }
        }
        if !problems.isEmpty { t.unusable = problems.joined(separator: "; ") }
        return t
    }

    /// An OpenSSH algorithm list against what fleet offers: `+x` adds (fleet's list stays),
    /// `-x` removes, `^x` puts first, a plain list replaces. nil when nothing is left.
    static func pickAlgorithms(_ spec: String, fleet: [String], supported: Set<String>) -> [String]? {
        let first = spec.first
        let body = first == "+" || first == "-" || first == "^" ? String(spec.dropFirst()) : spec
        let pats = body.split(separator: ",").map(String.init)
        func hit(_ a: String) -> Bool { pats.contains { globMatch($0, a) } }
        let list: [String]
        switch first {
        case "+": list = fleet
        case "-": list = fleet.filter { !hit($0) }
        case "^": list = pats.filter(supported.contains) + fleet.filter { !pats.contains($0) }
        default: list = pats.filter(supported.contains)
        }
        return list.isEmpty ? nil : list
    }

    /// ProxyJump `a,b` as OpenSSH follows it (`ssh -J a,b node` runs `ssh -W node b`
    /// through `ssh -W b a`): the first hop's own ProxyJump applies, the later hops' do not.
    private func jumpChain(for name: String, spec: Valued<String>?, base: NodeTarget, depth: Int,
                           problems: inout [String]) -> [NodeTarget] {
        guard let spec, spec.value.lowercased() != "none" else { return [] }
        guard depth < 8 else {
            problems.append("\(spec.source): ProxyJump \(spec.value): more than 8 jump hosts (a loop?)"); return []
        }
        var chain: [NodeTarget] = []
        for (i, hopText) in spec.value.split(separator: ",").enumerated() {
            guard let hop = Self.parseJumpHop(String(hopText)) else {
                problems.append("\(spec.source): ProxyJump \(spec.value): cannot read '\(hopText)' as [user@]host[:port]"); return []
            }
            var hopBase = NodeTarget(name: hop.host, host: hop.host, port: 22, user: localUser,
                                     identityFiles: base.identityFiles, knownHostsFiles: base.knownHostsFiles)
            hopBase.hostKeyPolicy = base.hostKeyPolicy
            let o = Overrides(port: hop.port, user: hop.user, proxyJump: i == 0 ? nil : "none", origin: "ProxyJump \(spec.source)")
            var hopProblems: [String] = []
            var t = build(name: hop.host, base: hopBase, overrides: o, problems: &hopProblems)
            if i == 0 {
                chain += jumpChain(for: hop.host, spec: resolve(host: hop.host, overrides: o).proxyJump, base: base,
                                   depth: depth + 1, problems: &hopProblems)
            }
            t.jumps = []
            for p in hopProblems { problems.append("jump host \(hop.host): \(p)") }
            chain.append(t)
        }
        return chain
    }

    /// `[user@]host[:port]`, `ssh://[user@]host[:port]`, `[v6addr]:port`.
    static func parseJumpHop(_ s: String) -> (user: String?, host: String, port: Int?)? {
        var rest = Substring(s)
        if rest.hasPrefix("ssh://") { rest = rest.dropFirst(6) }
        var user: String? = nil
        if let at = rest.lastIndex(of: "@") { user = String(rest[..<at]); rest = rest[rest.index(after: at)...] }
        var host = String(rest), port: Int? = nil
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = Int(after.dropFirst()) ; if port == nil { return nil } }
            else if !after.isEmpty { return nil }
        } else if let colon = rest.firstIndex(of: ":"), rest.filter({ $0 == ":" }).count == 1 {
            host = String(rest[..<colon])
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
        }
        guard !host.isEmpty, user.map({ !$0.isEmpty }) ?? true else { return nil }
        return (user, host, port)
    }
}

func localHostName() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    guard gethostname(&buf, buf.count) == 0 else { return "" }
    let full = String(cString: buf)
    return String(full.split(separator: ".").first ?? Substring(full))
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
