import FleetModel

/// The POSIX sh scripts fleet pipes into `sh -s` on a node, and the framing that carries
/// each command's output back.
///
/// Every command runs with stdin from `/dev/null` (stdin is the script itself) and its
/// stdout/stderr into numbered files in a private temp folder; `r` records its name and exit
/// code with builtins only. At the end ONE `wc -c` sizes every file and ONE `cat` sends them,
/// so the framing costs two processes per exec, not three per command:
///
///     FLEET2:<nonce>:<capture-name>:<exit-code>:<stdout-bytes>:<stderr-bytes>\n   (one per command)
///     FLEET2:<nonce>:DATA\n
///     <stdout><stderr> of each command, in header order
///     FLEET2:<nonce>:END\n
///
/// The parser reads the header block first, then takes the payloads by length, so nothing a
/// command prints is ever read as a header; the nonce is fresh per run, so text before the
/// first header (a login shell's rc files) or a command that prints a lookalike header
/// cannot forge one either. The sizes `wc` prints are checked against the expected file
/// names in order (a mismatch is `ERROR:wc`, never a wrong length). A process left in D
/// state holds only the temp files, never the SSH channel. A script killed before its end
/// prints nothing (the outputs are still in the temp files); one cut off during the payload
/// keeps the frames that arrived whole.
///
/// `R="${FLEET_SYSROOT:-}"` prefixes every path under /sys, /dev and /proc (see
/// ``NodeCommand/shell``). On a real node FLEET_SYSROOT is unset, so `R` is empty; the
/// simulated farm sets it in the node's environment to point at its fake sysfs tree.
/// That is the only testing seam. (`sudo` resets the environment, so on a real node with
/// `sudo: true` it is unset too.)
public enum NodeScript {
    public static let magic = "FLEET2"

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

    static func checkNonce(_ nonce: String) {
        precondition(nonce.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) } && !nonce.isEmpty,
                     "nonce must be lowercase hex")
    }

    static func prologue(nonce: String) -> String {
        checkNonce(nonce)
        return """
        LC_ALL=C; export LC_ALL
        PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"; export PATH
        R="${FLEET_SYSROOT:-}"
        N=\(nonce)
        T=$(mktemp -d "${TMPDIR:-/tmp}/fleet.XXXXXX") || { printf '\(magic):%s:ERROR:mktemp\\n' "$N"; exit 70; }
        trap 'rm -rf "$T"' EXIT
        trap 'exit 143' HUP INT TERM
        : >"$T/l"; _k=0
        r() { _k=$((_k+1)); eval "$2" >"$T/$_k.o" 2>"$T/$_k.e" </dev/null; _c=$?; printf '%s %s %s\\n' "$_k" "$1" "$_c" >>"$T/l"; }
        z() {
          set --
          while read -r _s _m _c; do set -- "$@" "$T/$_s.o" "$T/$_s.e"; done <"$T/l"
          if [ $# -gt 0 ]; then wc -c "$@" >"$T/w" || { printf '\(magic):%s:ERROR:wc\\n' "$N"; exit 70; }; else : >"$T/w"; fi
          while read -r _s _m _c <&3; do
            read -r _a _b <&4 && [ "$_b" = "$T/$_s.o" ] && read -r _d _e <&4 && [ "$_e" = "$T/$_s.e" ] || { printf '\(magic):%s:ERROR:wc\\n' "$N"; exit 70; }
            printf '\(magic):%s:%s:%s:%s:%s\\n' "$N" "$_m" "$_c" "$_a" "$_d"
          done 3<"$T/l" 4<"$T/w"
          printf '\(magic):%s:DATA\\n' "$N"
          [ $# -eq 0 ] || cat "$@"
          printf '\(magic):%s:END\\n' "$N"
        }

        """
    }

    /// Prints the header block, the payloads and the END marker (one `wc`, one `cat`).
    static func epilogue() -> String {
        "z\n"
    }

    /// A line running one typed command under its capture name.
    static func run(_ c: NodeCommand) -> String {
        "r \(c.captureName) \(q(c.shell))\n"
    }

    /// `c`'s shell text with the placeholder device replaced by `"$n"` (the loop variable).
    static func template(_ c: NodeCommand, placeholder: String, text: String? = nil) -> String {
        let quoted = q(placeholder)
        let text = text ?? c.shell
        precondition(text.contains(quoted), "template \(c) lacks its placeholder")
        return text.replacingOccurrences(of: quoted, with: "\"$n\"")
    }

    /// The read-only discovery commands, fixed ones first.
    public static let fixedDiscovery: [NodeCommand] = [
        .multipathList, .multipathdMapsJSON, .dmsetupInfo, .dmsetupStatus, .lsblk,
        .sysBlockListing, .diskByIDListing, .procMounts,
        // mountinfo: its root field is the only trace of a raw block volume's device bind.
        .mountInfo,
        // kubelet's own records of what it staged here: a witness that needs no API.
        .kubeletVolumes,
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
          r "sys-block-$n-device-wwid" \(q(template(.deviceWWID(sd), placeholder: sdPlaceholder)))
        done
        for p in "$R"/sys/block/dm-*; do
          n=${p##*/}
          case ${n#dm-} in ''|*[!0-9]*) continue;; esac
          r "sys-block-$n-slaves-holders" \(q(template(.slavesHolders(dm), placeholder: dmPlaceholder)))
          r "sys-block-$n-dm-name-uuid" \(q(template(.dmNameUUID(dm), placeholder: dmPlaceholder)))
        done

        """
        // Who holds dm/sd devices open, after the open counts were read (a stuck reader seen
        // here is counted there too).
        s += run(.openers)
        s += epilogue()
        return s
    }()

    /// Phase 1 of a scan (``PhaseOne``): `multipathd show maps json`, then per `sd*` disk its
    /// sysfs state and wwid. It runs on every healthy node of every sweep, so it keeps its
    /// framing in shell variables, not in temp files: the disks are read with the `read`
    /// builtin (``NodeCommand/sysfsLines``), multipathd's stdout is taken by a command
    /// substitution (a trailing `.` keeps its trailing newlines), and ONE `printf` sends the
    /// same frames as every other script (lengths from `${#var}`, bytes under `LC_ALL=C`).
    /// So a healthy node starts no process besides `sh` and `multipathd`: no `mktemp`, `wc`,
    /// `cat` or `rm`.
    ///
    /// The price: stderr is not framed (every stderr length is 0). A command's stderr, or the
    /// shell's own (a disk file that cannot be read), goes to the channel's stderr, and any
    /// byte there is a framing warning (``NodeScriptKind/stderrOnChannel``), so the node gets
    /// the full discovery, which frames stderr. A NUL byte, which a shell variable cannot
    /// hold, makes the output differ from the full discovery's: full again. Every shortcut
    /// errs toward the full discovery.
    public static func phase1(nonce: String) -> String {
        checkNonce(nonce)
        return phase1Head + "N=\(nonce)\n" + phase1Body
    }

    private static let phase1Head = """
        LC_ALL=C; export LC_ALL
        PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/sbin:/sbin"; export PATH
        R="${FLEET_SYSROOT:-}"

        """

    /// Everything after the nonce: the same for every node, so built once (phase 1 runs on
    /// every healthy node of every sweep).
    private static let phase1Body: String = {
        let sd = BlockDeviceName("sdzzzzzz")!
        let mpd = NodeCommand.multipathdMapsJSON
        func file(_ c: NodeCommand) -> String { template(c, placeholder: sd.rawValue, text: c.sysfsLines[0]) }
        return """
        _h=; _p=
        a() { _h="${_h}\(magic):$N:$1:$2:${#_o}:0
        "; _p="$_p$_o"; }
        l() { if read -r w <"$2"; then _o="$w
        "; a "$1" 0; else _c=$?; _o=; a "$1" "$_c"; fi; }
        _o=$(\(mpd.shell) </dev/null; _c=$?; echo .; exit $_c); _m=$?; _j=${_o%.}
        for p in "$R"/sys/block/sd*; do
          n=${p##*/}
          case $n in sd|sd*[!a-z]*) continue;; esac
          l "sys-block-$n-device-state" \(file(.deviceState(sd)))
          l "sys-block-$n-device-wwid" \(file(.deviceWWID(sd)))
        done
        printf '\(magic):%s:\(mpd.captureName):%s:%s:0\\n%s\(magic):%s:DATA\\n%s%s\(magic):%s:END\\n' "$N" "$_m" "${#_j}" "$_h" "$N" "$_j" "$_p" "$N"

        """
    }()

    /// The commands phase 1 runs, for `--print-script` and the docs.
    public static let phase1Commands: [NodeCommand] = [.multipathdMapsJSON]

    /// What `fleet scan --print-script` prints: what each phase runs, phase 1's script as
    /// comments, then the full discovery script (runnable as it stands: `sh FILE`).
    public static func printable(nonce: String) -> String {
        var s = """
        # fleet scan runs up to two scripts per node, in one SSH session (one login), each as `sh -s`:
        #
        # Phase 1 (when the history has the node's last scan, all its maps were healthy, and
        # Kubernetes says the same about them): multipathd show maps json, and per sd* disk its
        # sysfs state and wwid (read with the read builtin; the framing is kept in shell
        # variables, so nothing else runs, and any stderr means the full discovery). When every path is active and these
        # outputs are byte for byte the last full discovery's, the node's maps and verdicts are
        # carried and nothing else runs. Otherwise (and always with --full, or without an
        # earlier scan) phase 2, the full discovery below, runs in the same session, then the
        # readability probes (only for maps whose paths all failed).
        #
        # ---- phase 1 ----

        """
        for line in phase1(nonce: nonce).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            s += "# " + line + "\n"
        }
        s += "# ---- phase 2: the full discovery ----\n"
        s += discovery(nonce: nonce)
        return s
    }

    /// The readability probes, all at once (each bounded by its own `timeout -s KILL`), so
    /// a node with several queueing maps waits one probe timeout, not one per map.
    public static func probes(_ devices: [DMDeviceName], seconds: Int, nonce: String) -> String {
        var s = prologue(nonce: nonce)
        // FLEET_PROBE=<nonce> in each probe's environment marks it as fleet's own: a later
        // scan reads it from /proc/PID/environ when the dd is still stuck (openers section).
        s += "p() { FLEET_PROBE=$N; export FLEET_PROBE; eval \"$2\" >\"$T/$1.o\" 2>\"$T/$1.e\" </dev/null; echo $? >\"$T/$1.x\"; mv \"$T/$1.x\" \"$T/$1.rc\"; }\n"
        let cmds = devices.map { NodeCommand.probe($0, seconds: seconds) }
        for c in cmds { s += "p \(c.captureName) \(q(c.shell)) &\n" }
        // Poll for the exit files instead of `wait`: dash's `wait` never returns when the
        // shell inherited a blocked SIGCHLD (seen with a Foundation-spawned sh); polling
        // does not depend on signals at all. Each probe ends by its own `timeout`.
        let names = cmds.map(\.captureName).joined(separator: " ")
        s += "while :; do d=1; for n in \(names); do [ -e \"$T/$n.rc\" ] || d=; done; [ -n \"$d\" ] && break; sleep 0.2 2>/dev/null || sleep 1; done\n"
        // Each probe's output files are named after it; record them in run order.
        for c in cmds { s += "read -r _c <\"$T/\(c.captureName).rc\"; printf '%s %s %s\\n' \(c.captureName) \(c.captureName) \"$_c\" >>\"$T/l\"\n" }
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

        // The header block: one line per command, then DATA.
        var headers: [(name: String, rc: Int32, outLen: Int, errLen: Int)] = []
        var sawData = false
        headerBlock: while i < n {
            if !startsWithMarker(at: i) {
                let next = nextMarker(from: i) ?? n
                result.warnings.append("\(next - i) bytes outside any frame at offset \(i): \(preview(bytes[i..<next]))")
                i = next
                continue
            }
            guard let eol = bytes[(i + marker.count)...].firstIndex(of: UInt8(ascii: "\n")) else {
                result.warnings.append("unterminated header at offset \(i)")
                i = n
                break
            }
            switch FrameHeader(bytes[(i + marker.count)..<eol]) {
            case .data:
                sawData = true
                i = eol + 1
                break headerBlock
            case .end:
                result.warnings.append("end marker before the header block was finished at offset \(i)")
            case .error(let message):
                result.warnings.append("node-side script error: \(message)")
            case .frame(let name, let rc, let outLen, let errLen):
                headers.append((name, rc, outLen, errLen))
            case .malformed:
                result.warnings.append("malformed header at offset \(i): \(preview(bytes[i..<eol]))")
            }
            i = eol + 1
        }
        guard sawData else {
            if !headers.isEmpty {
                result.warnings.append("header block cut off: \(headers.count) header(s) without their data")
            }
            return result
        }

        // The payloads, in header order: lengths only, nothing in them is ever read as a header.
        result.outputs.reserveCapacity(headers.count)
        for h in headers {
            let start = i
            guard h.outLen <= n - start, h.errLen <= n - start - h.outLen else {
                result.warnings.append("frame \(h.name) cut off: expected \(h.outLen + h.errLen) bytes, got \(n - start)")
                return result
            }
            let out = String(decoding: bytes[start..<(start + h.outLen)], as: UTF8.self)
            let err = String(decoding: bytes[(start + h.outLen)..<(start + h.outLen + h.errLen)], as: UTF8.self)
            i = start + h.outLen + h.errLen
            guard let command = resolve(h.name) else {
                result.warnings.append("ignored output under an unexpected name \(preview(Array(h.name.utf8)[...]))")
                continue
            }
            result.outputs.append(CommandOutput(command: command, stdout: out, stderr: err, exitCode: h.rc))
        }

        // The END marker right after the last payload.
        let end = marker + Array("END\n".utf8)
        if n - i >= end.count, Array(bytes[i..<(i + end.count)]) == end {
            result.complete = true
            i += end.count
            if i < n {
                result.warnings.append("\(n - i) bytes after the end marker: \(preview(bytes[i..<n]))")
            }
        } else if i < n {
            result.warnings.append("\(n - i) bytes after the last frame, no end marker: \(preview(bytes[i..<n]))")
        }
        return result
    }

    /// One header line after the marker: `DATA`, `END`, `ERROR:<text>` or `<name>:<rc>:<out>:<err>`.
    enum FrameHeader: Equatable {
        case data, end, error(String), malformed
        case frame(name: String, rc: Int32, outLen: Int, errLen: Int)

        init(_ line: ArraySlice<UInt8>) {
            self = line.allSatisfy({ $0 < 0x80 })
                ? Self(ascii: line)
                : Self(fields: String(decoding: line, as: UTF8.self).split(separator: ":", omittingEmptySubsequences: false).map(String.init))
        }

        /// The `:`-separated fields of any line.
        init(fields: [String]) {
            if fields == ["DATA"] { self = .data; return }
            if fields == ["END"] { self = .end; return }
            if fields.count == 2, fields[0] == "ERROR" { self = .error(fields[1]); return }
            guard fields.count == 4, let rc = Int32(fields[1]), let outLen = Int(fields[2]), let errLen = Int(fields[3]),
                  outLen >= 0, errLen >= 0
            else { self = .malformed; return }
            self = .frame(name: fields[0], rc: rc, outLen: outLen, errLen: errLen)
        }

        /// ``init(fields:)`` of an ASCII line (every header fleet's script writes), cut at its
        /// colons without an array of fields (perf: ~300 headers per 50-map node); in ASCII a
        /// byte is a Character, so the fields are the same.
        init(ascii line: ArraySlice<UInt8>) {
            var cuts: [Int] = []
            cuts.reserveCapacity(3)
            for k in line.indices where line[k] == UInt8(ascii: ":") {
                cuts.append(k)
                if cuts.count > 3 { self = .malformed; return }
            }
            func text(_ r: Range<Int>) -> String { String(decoding: line[r], as: UTF8.self) }
            let all = line.startIndex..<line.endIndex
            switch cuts.count {
            case 0:
                self = line.elementsEqual("DATA".utf8) ? .data : line.elementsEqual("END".utf8) ? .end : .malformed
            case 1:
                self = line[..<cuts[0]].elementsEqual("ERROR".utf8) ? .error(text((cuts[0] + 1)..<all.upperBound)) : .malformed
            case 3:
                guard let rc = Int32(text((cuts[0] + 1)..<cuts[1])), let outLen = Int(text((cuts[1] + 1)..<cuts[2])),
                      let errLen = Int(text((cuts[2] + 1)..<all.upperBound)), outLen >= 0, errLen >= 0
                else { self = .malformed; return }
                self = .frame(name: text(all.lowerBound..<cuts[0]), rc: rc, outLen: outLen, errLen: errLen)
            default:
                self = .malformed
            }
        }
    }

    static func preview(_ s: ArraySlice<UInt8>) -> String {
        let text = String(decoding: s.prefix(60), as: UTF8.self)
        let escaped = text.unicodeScalars.map { c -> String in
            c.value < 0x20 || c.value == 0x7f ? "\\u{\(String(c.value, radix: 16))}" : String(c)
        }.joined()
        return "\"" + escaped + (s.count > 60 ? "…" : "") + "\""
    }
}
