import FleetModel
#if canImport(Glibc)
import Glibc
#endif

/// An error in an ssh_config file that OpenSSH itself would refuse (`ssh` stops for every
/// host), named as `FILE:LINE: message`.
public struct SSHConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String
    public init(file: String, line: Int?, message: String) { self.file = file; self.line = line; self.message = message }
    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

/// OpenSSH client configuration (ssh_config(5)), read as OpenSSH 9.2's `ssh -G` resolves it.
///
/// Why a parser here and not `ssh -G` at run time: one `ssh -G` process per node costs a
/// fork+exec and ~5 ms per node (5 s for 1,000 nodes before the first connection), would
/// make the installed OpenSSH client a run-time dependency of a libssh2 tool, and gives no
/// file:line for the directives fleet cannot honour. `ssh -G` stays the reference: the
/// tests compare this resolver's values with its output (Tests/FleetSSHTests/SSHConfigTests).
/// No Swift package parses ssh_config (none of the local package copies does).
///
/// Parsing is host-independent (done once per run, Includes expanded at parse time); each
/// node's values come from ``resolve(host:overrides:)``, first value wins.
public struct SSHConfig: Sendable {
    /// Where a value came from: a config line, or fleet's inventory/command line (which act
    /// like `ssh -o`: they come first, so they win).
    public enum Source: Sendable, Hashable, CustomStringConvertible {
        case config(file: String, line: Int)
        case override(String)
        public var description: String {
            switch self {
            case .config(let f, let l): "\(f):\(l)"
            case .override(let what): what
            }
        }
    }

    struct Line: Sendable {
        var file: String
        var number: Int
        /// Lowercased.
        var keyword: String
        var args: [String]
        var source: Source { .config(file: file, line: number) }
    }

    enum MatchCriterion: Sendable {
        case all
        case host([String], negated: Bool)
        case originalHost([String], negated: Bool)
        case user([String], negated: Bool)
        case localUser([String], negated: Bool)
    }

    indirect enum Entry: Sendable {
        case host(Line, patterns: [String])
        case match(Line, [MatchCriterion])
        case include(Line, [ParsedFile])
        case directive(Line)
    }

    struct ParsedFile: Sendable {
        var path: String
        var entries: [Entry]
    }

    let files: [ParsedFile]
    let home: String
    let localUser: String
    /// The file(s) read, for `--show-ssh` and messages (empty for `none`).
    public var paths: [String] { files.map(\.path) }

    /// Nothing: `--ssh-config none`.
    public static let empty = SSHConfig(files: [], home: "", localUser: "")

    init(files: [ParsedFile], home: String, localUser: String) {
        self.files = files; self.home = home; self.localUser = localUser
    }

    /// What `ssh` reads: `path` alone when given (as `ssh -F`), otherwise `~/.ssh/config`
    /// then `/etc/ssh/ssh_config`, each only if it exists. `"none"` reads nothing.
    public static func load(path: String?, home: String? = nil, localUser: String? = nil,
                            systemConfig: String = "/etc/ssh/ssh_config") throws(SSHConfigError) -> SSHConfig {
        let home = home ?? getenvString("HOME") ?? "/"
        let user = localUser ?? currentUserName()
        if path == "none" { return SSHConfig(files: [], home: home, localUser: user) }
        var files: [ParsedFile] = []
        if let path {
            let p = expandTilde(path, home: home)
            guard let text = readWholeFile(p) else {
                throw SSHConfigError(file: path, line: nil, message: "cannot read ssh config: \(String(cString: strerror(errno)))")
            }
            files.append(try parse(text: text, file: p, userConfig: true, home: home, depth: 0))
        } else {
            let userFile = home + "/.ssh/config"
            if let text = readWholeFile(userFile) {
                files.append(try parse(text: text, file: userFile, userConfig: true, home: home, depth: 0))
            }
            if let text = readWholeFile(systemConfig) {
                files.append(try parse(text: text, file: systemConfig, userConfig: false, home: home, depth: 0))
            }
        }
        return SSHConfig(files: files, home: home, localUser: user)
    }

    /// Parses one file's text (tests; Includes are read from disk).
    public static func parse(text: String, file: String, home: String, localUser: String) throws(SSHConfigError) -> SSHConfig {
        SSHConfig(files: [try parse(text: text, file: file, userConfig: true, home: home, depth: 0)], home: home, localUser: localUser)
    }

    // MARK: - Parsing

    static func parse(text: String, file: String, userConfig: Bool, home: String, depth: Int) throws(SSHConfigError) -> ParsedFile {
        var entries: [Entry] = []
        var number = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            func fail(_ m: String) -> SSHConfigError { SSHConfigError(file: file, line: number, message: m) }
            guard let (keyword, args) = try splitLine(String(raw), fail) else { continue }
            let line = Line(file: file, number: number, keyword: keyword, args: args)
            switch keyword {
            case "host":
                guard !args.isEmpty else { throw fail("Host needs at least one pattern") }
                entries.append(.host(line, patterns: args))
            case "match":
                entries.append(.match(line, try parseMatch(args, fail)))
            case "include":
                guard depth < 16 else { throw fail("Include nested too deep (more than 16 levels)") }
                guard !args.isEmpty else { throw fail("Include needs a file name") }
                var included: [ParsedFile] = []
                for a in args {
                    if a.hasPrefix("~") && !userConfig { throw fail("Include: a system config file may not use ~ paths") }
                    let anchored = a.hasPrefix("/") || a.hasPrefix("~") ? a : (userConfig ? "~/.ssh/" : "/etc/ssh/") + a
                    for p in globPaths(expandTilde(anchored, home: home)) {
                        guard let t = readWholeFile(p) else { throw fail("Include: cannot read \(p)") }
                        included.append(try parse(text: t, file: p, userConfig: userConfig, home: home, depth: depth + 1))
                    }
                }
                entries.append(.include(line, included))
            default:
                guard knownKeywords.contains(keyword) else {
                    throw fail("Bad configuration option: \(keyword) (ssh refuses this file too)")
                }
                entries.append(.directive(line))
            }
        }
        return ParsedFile(path: file, entries: entries)
    }

    /// Keyword and arguments as OpenSSH's readconf splits them: `Keyword value`,
    /// `Keyword=value` or `Keyword = value`; double or single quotes group words; a word
    /// starting with `#` ends the line. nil for blank and comment lines.
    static func splitLine(_ line: String, _ fail: (String) -> SSHConfigError) throws(SSHConfigError) -> (String, [String])? {
        var chars = Array(line.unicodeScalars)
        while let last = chars.last, last == "\r" || last == " " || last == "\t" || last == "\u{0C}" { chars.removeLast() }
        var i = 0
        func skipBlank() { while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 } }
        skipBlank()
        guard i < chars.count, chars[i] != "#" else { return nil }
        var keyword = ""
        while i < chars.count, chars[i] != " ", chars[i] != "\t", chars[i] != "=" { keyword.unicodeScalars.append(chars[i]); i += 1 }
        skipBlank()
        if i < chars.count, chars[i] == "=" { i += 1; skipBlank() }
        var args: [String] = []
        while i < chars.count {
            skipBlank()
            guard i < chars.count else { break }
            if chars[i] == "#" { break }
            var word = ""
            var quote: Unicode.Scalar? = nil
            while i < chars.count {
                let c = chars[i]
                if let q = quote {
                    if c == q { quote = nil; i += 1; continue }
                    if c == "\\", i + 1 < chars.count, chars[i + 1] == q || chars[i + 1] == "\\" { word.unicodeScalars.append(chars[i + 1]); i += 2; continue }
                    word.unicodeScalars.append(c); i += 1; continue
                }
                if c == " " || c == "\t" { break }
                if c == "\"" || c == "'" { quote = c; i += 1; continue }
                if c == "\\", i + 1 < chars.count, [" ", "\\", "\"", "'"].contains(chars[i + 1]) {
                    word.unicodeScalars.append(chars[i + 1]); i += 2; continue
                }
                word.unicodeScalars.append(c); i += 1
            }
            if quote != nil { throw fail("invalid quotes") }
            args.append(word)
        }
        return (keyword.lowercased(), args)
    }

    static func parseMatch(_ args: [String], _ fail: (String) -> SSHConfigError) throws(SSHConfigError) -> [MatchCriterion] {
        guard !args.isEmpty else { throw fail("Match needs criteria") }
        var out: [MatchCriterion] = []
        var i = 0
        while i < args.count {
            var word = args[i].lowercased()
            let negated = word.hasPrefix("!")
            if negated { word.removeFirst() }
            i += 1
            if word == "all" {
                guard args.count == 1, !negated else { throw fail("Match all must appear alone") }
                out.append(.all); continue
            }
            if ["canonical", "final", "exec", "localnetwork"].contains(word) {
                throw fail("Match \(word): fleet cannot evaluate this criterion (it resolves hosts without running commands or canonicalising names)")
            }
            guard i < args.count else { throw fail("Missing Match criteria for \(word)") }
            let list = args[i].split(separator: ",").map(String.init)
            i += 1
            switch word {
            case "host": out.append(.host(list, negated: negated))
            case "originalhost": out.append(.originalHost(list, negated: negated))
            case "user": out.append(.user(list, negated: negated))
            case "localuser": out.append(.localUser(list, negated: negated))
            default: throw fail("Unsupported Match attribute \(word)")
            }
        }
        return out
    }

    // MARK: - Resolution

    /// Everything the config says about one host, before tokens and `~` are expanded.
    /// nil: not set anywhere (fleet's or OpenSSH's default applies).
    public struct Resolved: Sendable, Hashable {
        public var hostName: Valued<String>?
        public var port: Valued<Int>?
        public var user: Valued<String>?
        public var identityFiles: [Valued<String>] = []
        public var identitiesOnly: Valued<Bool>?
        public var identityAgent: Valued<String>?
        public var userKnownHostsFiles: Valued<[String]>?
        public var globalKnownHostsFiles: Valued<[String]>?
        public var strictHostKeyChecking: Valued<String>?
        public var connectTimeout: Valued<Duration>?
        public var serverAliveInterval: Valued<Duration>?
        public var serverAliveCountMax: Valued<Int>?
        public var proxyJump: Valued<String>?
        public var ciphers: Valued<String>?
        public var kexAlgorithms: Valued<String>?
        public var macs: Valued<String>?
        public var hostKeyAlgorithms: Valued<String>?
        /// Directives that apply to this host and change how it is reached, which fleet
        /// cannot do (ProxyCommand, CertificateFile, …): each makes the node fail.
        public var cannotHonour: [Valued<String>] = []
        /// Directives that apply but do not affect fleet's sessions (ForwardAgent, LogLevel, …).
        public var ignored: [Valued<String>] = []
        /// Malformed values (bad port, bad time …), reported like `cannotHonour`.
        public var invalid: [Valued<String>] = []
    }

    public struct Valued<T: Sendable & Hashable>: Sendable, Hashable {
        public var value: T
        public var source: Source
    }

    /// Values fleet's inventory or command line give for a node; they win over the config,
    /// as `ssh -o` options do (and as Ansible passes its variables).
    public struct Overrides: Sendable, Hashable {
        public var hostName: String?
        public var port: Int?
        public var user: String?
        public var identityFiles: [String]?
        public var userKnownHostsFiles: [String]?
        public var proxyJump: String?
        public var strictHostKeyChecking: String?
        public var connectTimeout: Duration?
        /// Named in `--show-ssh` as the source of these values.
        public var origin: String
        public init(hostName: String? = nil, port: Int? = nil, user: String? = nil, identityFiles: [String]? = nil,
                    userKnownHostsFiles: [String]? = nil, proxyJump: String? = nil, strictHostKeyChecking: String? = nil,
                    connectTimeout: Duration? = nil, origin: String = "inventory") {
            self.hostName = hostName; self.port = port; self.user = user; self.identityFiles = identityFiles
            self.userKnownHostsFiles = userKnownHostsFiles; self.proxyJump = proxyJump
            self.strictHostKeyChecking = strictHostKeyChecking; self.connectTimeout = connectTimeout; self.origin = origin
        }
    }

    /// The values that apply to `host` (the name as typed: `ssh host`), first value wins,
    /// with `overrides` first.
    public func resolve(host: String, overrides: Overrides = Overrides()) -> Resolved {
        var r = Resolved()
        let o = Source.override(overrides.origin)
        if let v = overrides.hostName { r.hostName = Valued(value: v, source: o) }
        if let v = overrides.port { r.port = Valued(value: v, source: o) }
        if let v = overrides.user { r.user = Valued(value: v, source: o) }
        // IdentityFile adds up in OpenSSH; an inventory key list replaces the config's, as
        // Ansible's ansible_ssh_private_key_file (passed as -i, tried first) effectively does
        // for the key that works. fleet tries the inventory's first, then the config's.
        for f in overrides.identityFiles ?? [] { r.identityFiles.append(Valued(value: f, source: o)) }
        if let v = overrides.userKnownHostsFiles { r.userKnownHostsFiles = Valued(value: v, source: o) }
        if let v = overrides.proxyJump { r.proxyJump = Valued(value: v, source: o) }
        if let v = overrides.strictHostKeyChecking { r.strictHostKeyChecking = Valued(value: v, source: o) }
        if let v = overrides.connectTimeout { r.connectTimeout = Valued(value: v, source: o) }
        for f in files {
            var active = true
            apply(f, host: host, into: &r, active: &active, neverMatch: false)
        }
        return r
    }

    private func apply(_ file: ParsedFile, host: String, into r: inout Resolved, active: inout Bool, neverMatch: Bool) {
        for e in file.entries {
            switch e {
            case .host(_, let patterns):
                active = false
                if neverMatch { continue }
                for p in patterns {
                    let neg = p.hasPrefix("!")
                    if globMatch(neg ? String(p.dropFirst()) : p, host) {
                        if neg { active = false; break }
                        active = true
                    }
                }
            case .match(_, let criteria):
                active = !neverMatch && criteria.allSatisfy { matches($0, host: host, r: r) }
            case .include(_, let included):
                let outer = active
                for f in included {
                    apply(f, host: host, into: &r, active: &active, neverMatch: neverMatch || !outer)
                    active = outer
                }
            case .directive(let line):
                if active { set(line, into: &r) }
            }
        }
    }

    private func matches(_ c: MatchCriterion, host: String, r: Resolved) -> Bool {
        switch c {
        case .all: return true
        case .host(let list, let neg):
            let current = r.hostName.map { expandHostName($0.value, host: host) } ?? host
            return patternList(list, current.lowercased(), lower: true) != neg
        case .originalHost(let list, let neg): return patternList(list, host.lowercased(), lower: true) != neg
        case .user(let list, let neg): return patternList(list, r.user?.value ?? localUser, lower: false) != neg
        case .localUser(let list, let neg): return patternList(list, localUser, lower: false) != neg
        }
    }

    /// OpenSSH's match_pattern_list: true only when a positive pattern matches and no
    /// negated one does.
    private func patternList(_ list: [String], _ s: String, lower: Bool) -> Bool {
        var got = false
        for p in list {
            let neg = p.hasPrefix("!")
            var pat = neg ? String(p.dropFirst()) : p
            if lower { pat = pat.lowercased() }
            if globMatch(pat, s) {
                if neg { return false }
                got = true
            }
        }
        return got
    }

    private func set(_ line: Line, into r: inout Resolved) {
        let a = line.args
        let src = line.source
        let joined = a.joined(separator: " ")
        func one() -> String? {
            guard a.count == 1 else {
                r.invalid.append(Valued(value: "\(line.keyword): expected one value, found \(a.count)", source: src)); return nil
            }
            return a[0]
        }
        func bool(_ v: String) -> Bool? {
            switch v.lowercased() {
            case "yes", "true": return true
            case "no", "false": return false
            default:
                r.invalid.append(Valued(value: "\(line.keyword): expected yes or no, found '\(v)'", source: src)); return nil
            }
        }
        func time(_ v: String) -> Duration? {
            guard let d = parseSSHTime(v) else {
                r.invalid.append(Valued(value: "\(line.keyword): not a time ('\(v)'; e.g. 10, 30s, 1m)", source: src)); return nil
            }
            return d
        }
        switch line.keyword {
        case "hostname":
            if r.hostName == nil, let v = one() { r.hostName = Valued(value: v, source: src) }
        case "port":
            if r.port == nil, let v = one() {
                if let p = Int(v), (1...65535).contains(p) { r.port = Valued(value: p, source: src) } else {
                    r.invalid.append(Valued(value: "Port: expected 1-65535, found '\(v)'", source: src))
                }
            }
        case "user":
            if r.user == nil, let v = one() { r.user = Valued(value: v, source: src) }
        case "identityfile":
            if let v = one() { r.identityFiles.append(Valued(value: v, source: src)) }
        case "identitiesonly":
            if r.identitiesOnly == nil, let v = one(), let b = bool(v) { r.identitiesOnly = Valued(value: b, source: src) }
        case "identityagent":
            if r.identityAgent == nil, let v = one() { r.identityAgent = Valued(value: v, source: src) }
        case "userknownhostsfile":
            if r.userKnownHostsFiles == nil, !a.isEmpty { r.userKnownHostsFiles = Valued(value: a, source: src) }
        case "globalknownhostsfile":
            if r.globalKnownHostsFiles == nil, !a.isEmpty { r.globalKnownHostsFiles = Valued(value: a, source: src) }
        case "stricthostkeychecking":
            if r.strictHostKeyChecking == nil, let v = one() {
                let l = v.lowercased()
                if ["yes", "true", "no", "false", "off", "ask", "accept-new"].contains(l) {
                    r.strictHostKeyChecking = Valued(value: l, source: src)
                } else {
                    r.invalid.append(Valued(value: "StrictHostKeyChecking: unknown value '\(v)'", source: src))
                }
            }
        case "connecttimeout":
            if r.connectTimeout == nil, let v = one(), let d = time(v) { r.connectTimeout = Valued(value: d, source: src) }
        case "serveraliveinterval":
            if r.serverAliveInterval == nil, let v = one(), let d = time(v) { r.serverAliveInterval = Valued(value: d, source: src) }
        case "serveralivecountmax":
            if r.serverAliveCountMax == nil, let v = one() {
                if let n = Int(v), n >= 0 { r.serverAliveCountMax = Valued(value: n, source: src) } else {
                    r.invalid.append(Valued(value: "ServerAliveCountMax: expected a number, found '\(v)'", source: src))
                }
            }
        case "proxyjump":
            // ProxyJump and ProxyCommand exclude each other: the first one seen wins.
            if r.proxyJump == nil, !r.cannotHonour.contains(where: { $0.value.hasPrefix("ProxyCommand") }), let v = one() {
                r.proxyJump = Valued(value: v, source: src)
            }
        case "proxycommand":
            if r.proxyJump == nil, !r.cannotHonour.contains(where: { $0.value.hasPrefix("ProxyCommand") }) {
                if joined.lowercased() == "none" {
                    r.proxyJump = Valued(value: "none", source: src)
                } else {
                    r.cannotHonour.append(Valued(value: "ProxyCommand \(joined): fleet cannot run a command per node to reach it (no process per node); use ProxyJump", source: src))
                }
            }
        case "certificatefile":
            r.cannotHonour.append(Valued(value: "CertificateFile \(joined): libssh2 1.10 cannot authenticate with certificates", source: src))
        case "ciphers": if r.ciphers == nil { r.ciphers = Valued(value: joined, source: src) }
        case "kexalgorithms": if r.kexAlgorithms == nil { r.kexAlgorithms = Valued(value: joined, source: src) }
        case "macs": if r.macs == nil { r.macs = Valued(value: joined, source: src) }
        case "hostkeyalgorithms": if r.hostKeyAlgorithms == nil { r.hostKeyAlgorithms = Valued(value: joined, source: src) }
        case let k where Self.unhonourable[k] != nil:
            if let why = Self.unhonourable[k]!(a) {
                r.cannotHonour.append(Valued(value: "\(Self.displayName(k)) \(joined): \(why)", source: src))
            }
        default:
            r.ignored.append(Valued(value: "\(Self.displayName(line.keyword)) \(joined)", source: src))
        }
    }

    /// Directives that change where or how OpenSSH would connect and that fleet cannot
    /// follow; the closure says why for a value, or nil when the value changes nothing.
    static let unhonourable: [String: @Sendable ([String]) -> String?] = [
        "hostkeyalias": { _ in "fleet checks known_hosts under the node's own name and port" },
        "canonicalizehostname": { a in a.first?.lowercased() == "no" ? nil : "fleet does not canonicalise host names" },
        "pkcs11provider": { a in a.first?.lowercased() == "none" ? nil : "libssh2 has no PKCS#11 support" },
        "securitykeyprovider": { _ in nil },
        "knownhostscommand": { a in a.first?.lowercased() == "none" ? nil : "fleet does not run commands to find host keys" },
        "bindaddress": { _ in "fleet does not bind its client sockets" },
        "bindinterface": { _ in "fleet does not bind its client sockets" },
        "pubkeyauthentication": { a in ["no", "false"].contains(a.first?.lowercased() ?? "") ? "fleet authenticates only with public keys" : nil },
        "remotecommand": { a in a.first?.lowercased() == "none" ? nil : "fleet runs its own commands" },
        "addressfamily": { a in a.first?.lowercased() == "any" ? nil : "fleet connects to every address the name resolves to" },
    ]

    static func displayName(_ lower: String) -> String {
        keywordNames.first { $0.lowercased() == lower } ?? lower
    }

    static let keywordNames: [String] = """
    Host Match AddKeysToAgent AddressFamily BatchMode BindAddress BindInterface CanonicalDomains CanonicalizeFallbackLocal \
    CanonicalizeHostname CanonicalizeMaxDots CanonicalizePermittedCNAMEs CASignatureAlgorithms CertificateFile CheckHostIP \
    Ciphers ClearAllForwardings Compression ConnectionAttempts ConnectTimeout ControlMaster ControlPath ControlPersist \
    DynamicForward EnableEscapeCommandline EnableSSHKeysign EscapeChar ExitOnForwardFailure FingerprintHash \
    ForkAfterAuthentication ForwardAgent ForwardX11 ForwardX11Timeout ForwardX11Trusted GatewayPorts GlobalKnownHostsFile \
    GSSAPIAuthentication GSSAPIClientIdentity GSSAPIDelegateCredentials GSSAPIKeyExchange GSSAPIRenewalForcesRekey \
    GSSAPIServerIdentity GSSAPITrustDns GSSAPIKexAlgorithms HashKnownHosts HostbasedAcceptedAlgorithms \
    HostbasedAuthentication HostKeyAlgorithms HostKeyAlias HostName IdentitiesOnly IdentityAgent IdentityFile IgnoreUnknown \
    Include IPQoS KbdInteractiveAuthentication KbdInteractiveDevices KexAlgorithms KnownHostsCommand LocalCommand \
    LocalForward LogLevel LogVerbose MACs NoHostAuthenticationForLocalhost NumberOfPasswordPrompts PasswordAuthentication \
    PermitLocalCommand PermitRemoteOpen PKCS11Provider Port PreferredAuthentications ProxyCommand ProxyJump ProxyUseFdpass \
    PubkeyAcceptedAlgorithms PubkeyAcceptedKeyTypes PubkeyAuthentication RekeyLimit RemoteCommand RemoteForward RequestTTY \
    RequiredRSASize RevokedHostKeys SecurityKeyProvider SendEnv ServerAliveCountMax ServerAliveInterval SessionType SetEnv \
    StdinNull StreamLocalBindMask StreamLocalBindUnlink StrictHostKeyChecking SyslogFacility TCPKeepAlive Tunnel \
    TunnelDevice UpdateHostKeys User UserKnownHostsFile VerifyHostKeyDNS VisualHostKey XAuthLocation \
    ChallengeResponseAuthentication HostbasedKeyTypes UseRoaming
    """.split(separator: " ").map { String($0).trimmingBlanks() }.filter { !$0.isEmpty }

    static let knownKeywords: Set<String> = Set(keywordNames.map { $0.lowercased() })

    /// HostName's only token is %h (and %%), as in OpenSSH.
    func expandHostName(_ v: String, host: String) -> String {
        (try? expandTokens(v, ["h": host])) ?? v
    }
}

/// ssh's glob: `*` any run, `?` one character; whole string.
func globMatch(_ pattern: String, _ s: String) -> Bool {
    let p = Array(pattern.unicodeScalars), t = Array(s.unicodeScalars)
    var pi = 0, ti = 0, star = -1, mark = 0
    while ti < t.count {
        if pi < p.count, p[pi] == "?" || p[pi] == t[ti] { pi += 1; ti += 1; continue }
        if pi < p.count, p[pi] == "*" { star = pi; mark = ti; pi += 1; continue }
        if star >= 0 { pi = star + 1; mark += 1; ti = mark; continue }
        return false
    }
    while pi < p.count, p[pi] == "*" { pi += 1 }
    return pi == p.count
}

struct TokenError: Error { var token: Character }

/// `%x` tokens from `values`, `%%` as `%`; an unknown token is an error (OpenSSH fails too).
func expandTokens(_ s: String, _ values: [Character: String]) throws(TokenError) -> String {
    var out = ""
    var it = s.makeIterator()
    while let c = it.next() {
        guard c == "%" else { out.append(c); continue }
        guard let t = it.next() else { throw TokenError(token: "%") }
        if t == "%" { out.append("%"); continue }
        guard let v = values[t] else { throw TokenError(token: t) }
        out += v
    }
    return out
}

func expandTilde(_ path: String, home: String) -> String {
    if path == "~" { return home }
    if path.hasPrefix("~/") { return home + path.dropFirst(1) }
    return path
}

/// OpenSSH's convtime: a bare number is seconds (`0` allowed), otherwise fleet's own
/// duration syntax, which is OpenSSH's (`30s`, `5m`, `1h30m`, d, w).
func parseSSHTime(_ s: String) -> Duration? {
    if !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }) { return Int(s).map { .seconds($0) } }
    return try? DurationParser.parse(s.lowercased())
}

func globPaths(_ pattern: String) -> [String] {
    var g = glob_t()
    defer { globfree(&g) }
    guard glob(pattern, 0, nil, &g) == 0 else { return [] }
    return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
}

func currentUserName() -> String {
    if let pw = getpwuid(getuid()), let n = pw.pointee.pw_name { return String(cString: n) }
    return getenvString("USER") ?? "root"
}

extension String {
    func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
