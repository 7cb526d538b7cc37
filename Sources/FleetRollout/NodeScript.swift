import FleetModel

/// The POSIX sh scripts fleet pipes into `sh -s` on a node, and the framing that carries
/// each command's output back.
///
/// Every command runs with stdin from `/dev/null` (stdin is the script itself) and its
/// stdout/stderr into files in a private temp folder; only then does the script print a
/// header and the raw bytes:
///
///     FLEET1:<nonce>:<capture-name>:<exit-code>:<stdout-bytes>:<stderr-bytes>\n<stdout><stderr>
///
/// and `FLEET1:<nonce>:END\n` once everything ran. The parser reads the lengths and skips the
/// payload, so nothing a command prints is ever read as a header; the nonce is fresh per
/// run, so text before the first header (a login shell's rc files) or a command that prints
/// a lookalike header cannot forge one either. A process left in D state holds only the temp
/// files, never the SSH channel.
///
/// `R="${FLEET_SYSROOT:-}"` prefixes every path under /sys, /dev and /proc (see
/// ``NodeCommand/shell``). On a real node FLEET_SYSROOT is unset, so `R` is empty; the
/// simulated farm sets it in the node's environment to point at its fake sysfs tree.
/// That is the only testing seam. (`sudo` resets the environment, so on a real node with
/// `sudo: true` it is unset too.)
public enum NodeScript {
    public static let magic = "FLEET1"

    /// 128 random bits as 32 hex digits.
    public static func newNonce() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<4).map { _ in
            let v = g.next() as UInt32
            let s = String(v, radix: 16)
            return String(repeating: "0", count: 8 - s.count) + s
        }.joined()
    }

    /// The command line of every exec: the script comes on stdin. The executor wraps it in
    /// the node's `timeout` (FleetSSH's `remoteCommandLine`), since a remote process
    /// outlives a dropped channel.
    public static let execCommand = "sh -s"

    static func prologue(nonce: String) -> String {
        precondition(nonce.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) } && !nonce.isEmpty,
                     "nonce must be lowercase hex")
        return """
        LC_ALL=C; export LC_ALL
        PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"; export PATH
        R="${FLEET_SYSROOT:-}"
        N=\(nonce)
        T=$(mktemp -d "${TMPDIR:-/tmp}/fleet.XXXXXX") || { printf '\(magic):%s:ERROR:mktemp\\n' "$N"; exit 70; }
        trap 'rm -rf "$T"' EXIT
        trap 'exit 143' HUP INT TERM
        e() { printf '\(magic):%s:%s:%s:%s:%s\\n' "$N" "$1" "$2" $(wc -c <"$T/$1.o") $(wc -c <"$T/$1.e"); cat "$T/$1.o" "$T/$1.e"; }
        r() { eval "$2" >"$T/$1.o" 2>"$T/$1.e" </dev/null; e "$1" $?; }

        """
    }

    static func epilogue() -> String {
        "printf '\(magic):%s:END\\n' \"$N\"\n"
    }

    /// A line running one typed command under its capture name.
    static func run(_ c: NodeCommand) -> String {
        "r \(c.captureName) \(q(c.shell))\n"
    }

    /// `c`'s shell text with the placeholder device replaced by `"$n"` (the loop variable).
    static func template(_ c: NodeCommand, placeholder: String) -> String {
        let quoted = q(placeholder)
        let text = c.shell
        precondition(text.contains(quoted), "template \(c) lacks its placeholder")
        return text.replacingOccurrences(of: quoted, with: "\"$n\"")
    }

    /// The read-only discovery commands, fixed ones first.
    public static let fixedDiscovery: [NodeCommand] = [
        .multipathList, .multipathdMapsJSON, .dmsetupInfo, .dmsetupStatus, .lsblk,
        .sysBlockListing, .diskByIDListing, .procMounts,
        // mountinfo: its root field is the only trace of a raw block volume's device bind.
        .mountInfo,
    ]

    /// The whole discovery: the fixed commands, then per `sd*` its device state and per
    /// `dm-*` its slaves/holders and dm name/uuid. Device names are checked on the node
    /// (letters only after `sd`, digits only after `dm-`) and again by the parser.
    public static func discovery(nonce: String) -> String {
        prologue(nonce: nonce) + discoveryBody
    }

    /// Everything after the prologue: the same for every node, so built once (perf: it was
    /// rebuilt per node, with a Foundation replacingOccurrences per quoted word).
    private static let discoveryBody: String = {
        let sdPlaceholder = "sdzzzzzz", dmPlaceholder = "dm-9999999"
        let sd = BlockDeviceName(sdPlaceholder)!, dm = DMDeviceName(dmPlaceholder)!
        var s = ""
        for c in fixedDiscovery { s += run(c) }
        s += """
        for p in "$R"/sys/block/sd*; do
          n=${p##*/}
          case $n in sd|sd*[!a-z]*) continue;; esac
          r "sys-block-$n-device-state" \(q(template(.deviceState(sd), placeholder: sdPlaceholder)))
        done
        for p in "$R"/sys/block/dm-*; do
          n=${p##*/}
          case ${n#dm-} in ''|*[!0-9]*) continue;; esac
          r "sys-block-$n-slaves-holders" \(q(template(.slavesHolders(dm), placeholder: dmPlaceholder)))
          r "sys-block-$n-dm-name-uuid" \(q(template(.dmNameUUID(dm), placeholder: dmPlaceholder)))
        done

        """
        s += epilogue()
        return s
    }()

    /// The readability probes, all at once (each bounded by its own `timeout -s KILL`), so
    /// a node with several queueing maps waits one probe timeout, not one per map.
    public static func probes(_ devices: [DMDeviceName], seconds: Int, nonce: String) -> String {
        var s = prologue(nonce: nonce)
        s += "p() { eval \"$2\" >\"$T/$1.o\" 2>\"$T/$1.e\" </dev/null; echo $? >\"$T/$1.x\"; mv \"$T/$1.x\" \"$T/$1.rc\"; }\n"
        let cmds = devices.map { NodeCommand.probe($0, seconds: seconds) }
        for c in cmds { s += "p \(c.captureName) \(q(c.shell)) &\n" }
        // Poll for the exit files instead of `wait`: dash's `wait` never returns when the
        // shell inherited a blocked SIGCHLD (seen with a Foundation-spawned sh); polling
        // does not depend on signals at all. Each probe ends by its own `timeout`.
        let names = cmds.map(\.captureName).joined(separator: " ")
        s += "while :; do d=1; for n in \(names); do [ -e \"$T/$n.rc\" ] || d=; done; [ -n \"$d\" ] && break; sleep 0.2 2>/dev/null || sleep 1; done\n"
        for c in cmds { s += "e \(c.captureName) \"$(cat \"$T/\(c.captureName).rc\")\"\n" }
        s += epilogue()
        return s
    }

    /// Commands one after the other (the `ps` look-up, `kill -9` then `ps` again).
    /// `pause` seconds of sleep are inserted after every action, so a re-check sees the
    /// effect of a kill.
    public static func sequence(_ commands: [NodeCommand], nonce: String, pauseAfterActions: Int = 1) -> String {
        var s = prologue(nonce: nonce)
        for c in commands {
            s += run(c)
            if c.isAction && pauseAfterActions > 0 { s += "sleep \(pauseAfterActions)\n" }
        }
        s += epilogue()
        return s
    }
}

/// What ``Framing/parse(_:nonce:resolve:)`` recovered from a script's stdout.
public struct FramedOutputs: Sendable, Hashable {
    public var outputs: [CommandOutput]
    /// The END trailer was seen: every command ran and printed. False when the script was
    /// cut off (timeout, dropped channel, output cap).
    public var complete: Bool
    /// Everything out of the ordinary: bytes outside frames, names that failed validation,
    /// malformed headers. Never a command.
    public var warnings: [String]

    public init(outputs: [CommandOutput] = [], complete: Bool = false, warnings: [String] = []) {
        self.outputs = outputs; self.complete = complete; self.warnings = warnings
    }
}

public enum Framing {
    /// Splits a script's stdout into command outputs.
    ///
    /// `resolve` maps a capture name to the command it stands for; a name it rejects is a
    /// warning and its payload is skipped. The default accepts the read-only discovery
    /// commands, validating device names through ``NodeCommand/init(captureName:)``.
    public static func parse(
        _ bytes: [UInt8], nonce: String,
        resolve: (String) -> NodeCommand? = { NodeCommand(captureName: $0) }
    ) -> FramedOutputs {
        let marker = Array("\(NodeScript.magic):\(nonce):".utf8)
        var result = FramedOutputs()
        var i = 0
        let n = bytes.count

        func startsWithMarker(at p: Int) -> Bool {
            guard p + marker.count <= n else { return false }
            for k in 0..<marker.count where bytes[p + k] != marker[k] { return false }
            return true
        }
        /// The next marker at or after `p` that begins a line (or the text).
        func nextMarker(from p: Int) -> Int? {
            var q = p
            while q + marker.count <= n {
                if (q == 0 || bytes[q - 1] == UInt8(ascii: "\n")) && startsWithMarker(at: q) { return q }
                q += 1
            }
            return nil
        }

        while i < n {
            if !startsWithMarker(at: i) {
                let next = nextMarker(from: i) ?? n
                result.warnings.append("\(next - i) bytes outside any frame at offset \(i): \(preview(bytes[i..<next]))")
                i = next
                continue
            }
            guard let eol = bytes[(i + marker.count)...].firstIndex(of: UInt8(ascii: "\n")) else {
                result.warnings.append("unterminated header at offset \(i)")
                break
            }
            let fields = String(decoding: bytes[(i + marker.count)..<eol], as: UTF8.self)
                .split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if fields == ["END"] {
                result.complete = true
                i = eol + 1
                if i < n {
                    result.warnings.append("\(n - i) bytes after the end marker: \(preview(bytes[i..<n]))")
                }
                break
            }
            if fields.count == 2, fields[0] == "ERROR" {
                result.warnings.append("node-side script error: \(fields[1])")
                i = eol + 1
                continue
            }
            guard fields.count == 4, let rc = Int32(fields[1]), let outLen = Int(fields[2]), let errLen = Int(fields[3]),
                  outLen >= 0, errLen >= 0
            else {
                result.warnings.append("malformed header at offset \(i): \(preview(bytes[i..<eol]))")
                i = eol + 1
                continue
            }
            let start = eol + 1
            guard start + outLen + errLen <= n else {
                result.warnings.append("frame \(fields[0]) cut off: expected \(outLen + errLen) bytes, got \(n - start)")
                break
            }
            let out = String(decoding: bytes[start..<(start + outLen)], as: UTF8.self)
            let err = String(decoding: bytes[(start + outLen)..<(start + outLen + errLen)], as: UTF8.self)
            i = start + outLen + errLen
            guard let command = resolve(fields[0]) else {
                result.warnings.append("ignored output under an unexpected name \(preview(Array(fields[0].utf8)[...]))")
                continue
            }
            result.outputs.append(CommandOutput(command: command, stdout: out, stderr: err, exitCode: rc))
        }
        return result
    }

    static func preview(_ s: ArraySlice<UInt8>) -> String {
        let text = String(decoding: s.prefix(60), as: UTF8.self)
        let escaped = text.unicodeScalars.map { c -> String in
            c.value < 0x20 || c.value == 0x7f ? "\\u{\(String(c.value, radix: 16))}" : String(c)
        }.joined()
        return "\"" + escaped + (s.count > 60 ? "…" : "") + "\""
    }
}
