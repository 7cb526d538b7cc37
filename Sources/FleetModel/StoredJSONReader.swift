/// Reads back the `maps.reasons` and `maps.evidence` texts the history stores (written by
/// ``EncoderJSON`` or JSONEncoder) to the values JSONDecoder decodes from them, without
/// JSONDecoder (perf: phase 1 reads each node's last state as its scan starts, and decoding
/// its maps' texts with JSONDecoder was ~15% of a 50-map node's second scan).
///
/// Only the shape fleet writes is read here: text in ``FastJSON``'s subset (ASCII, strict
/// syntax), every key one the type has and at most once, no `null`, no booleans, no
/// Kubernetes witness. Anything else is nil, and the caller decodes it with JSONDecoder, so
/// every text decodes to what it did (the fallback also decides what is an error).
public enum StoredJSONReader {
    /// A JSON array of strings (`maps.reasons`), as JSONDecoder decodes `[String]`.
    public static func strings(_ text: String) -> [String]? {
        guard let doc = FastJSON.parse(Substring(text)) else { return nil }
        return try? Reader(doc: doc).strings(doc.root)
    }

    /// `maps.evidence`, as JSONDecoder decodes ``MapEvidence``.
    public static func evidence(_ text: String) -> MapEvidence? {
        guard let doc = FastJSON.parse(Substring(text)) else { return nil }
        return try? Reader(doc: doc).evidence(doc.root)
    }

    /// A JSON array of integers (`output_sets.outputs`), as JSONDecoder decodes `[Int64]`.
    public static func integers(_ text: String) -> [Int64]? {
        guard let doc = FastJSON.parse(Substring(text)) else { return nil }
        let r = Reader(doc: doc)
        return try? r.array(doc.root) { Int64(try r.int($0)) }
    }

    /// `device_reads.outputs` (v0008): a JSON array of ``StoredOutput``, as JSONDecoder
    /// decodes `[StoredOutput]`.
    public static func outputs(_ text: String) -> [StoredOutput]? {
        guard let doc = FastJSON.parse(Substring(text)) else { return nil }
        let r = Reader(doc: doc)
        return try? r.array(doc.root) { v in
            guard case .array(let f) = v, f.count == 5 else { throw Bail() }
            let exit: Int32?
            if case .null = f[2] { exit = nil } else { exit = try r.int32(f[2]) }
            return StoredOutput(captureName: try r.string(f[0]), command: try r.string(f[1]), exitCode: exit,
                                stdout: try r.string(f[3]), stderr: try r.string(f[4]))
        }
    }

    private struct Bail: Error {}

    private struct Reader {
        let doc: FastJSON.Document

        func string(_ v: FastJSON.Value) throws -> String {
            // Only a JSON string: JSONDecoder does not read a number as a String.
            guard case .string(let a, let b, let escaped) = v else { throw Bail() }
            if escaped { return doc.decode(a, b) }
            return doc.bytes.withUnsafeBufferPointer {
                String(decoding: UnsafeBufferPointer(rebasing: $0[Int(a)..<Int(b)]), as: UTF8.self)
            }
        }

        func int(_ v: FastJSON.Value) throws -> Int {
            guard case .int(let i) = v else { throw Bail() }
            return i
        }

        func int32(_ v: FastJSON.Value) throws -> Int32 {
            guard let i = Int32(exactly: try int(v)) else { throw Bail() }
            return i
        }

        func strings(_ v: FastJSON.Value) throws -> [String] {
            guard case .array(let items) = v else { throw Bail() }
            return try items.map(string)
        }

        func array<T>(_ v: FastJSON.Value, _ element: (FastJSON.Value) throws -> T) throws -> [T] {
            guard case .array(let items) = v else { throw Bail() }
            return try items.map(element)
        }

        /// An object's values by key: each key one of `keys`, once; every one of `required`.
        func object(_ v: FastJSON.Value, _ keys: Set<String>, required: Set<String>) throws -> [String: FastJSON.Value] {
            guard case .object(let pairs) = v else { throw Bail() }
            var out: [String: FastJSON.Value] = [:]
            for p in pairs {
                let k = try string(p.key)
                guard keys.contains(k), out[k] == nil else { throw Bail() }
                out[k] = p.value
            }
            guard required.allSatisfy({ out[$0] != nil }) else { throw Bail() }
            return out
        }

        func evidence(_ v: FastJSON.Value) throws -> MapEvidence {
            let o = try object(v, ["queueing", "openCount", "holders", "slaves", "mountpoints", "sysfsStates", "probe", "openers"],
                               required: ["holders", "slaves", "mountpoints", "sysfsStates"])
            guard case .object(let states)? = o["sysfsStates"] else { throw Bail() }
            var sysfs: [String: DeviceState] = [:]
            for p in states {
                let k = try string(p.key)
                guard sysfs[k] == nil else { throw Bail() }
                sysfs[k] = DeviceState(rawValue: try string(p.value))
            }
            return MapEvidence(queueing: try o["queueing"].map(string), openCount: try o["openCount"].map(int),
                               holders: try strings(o["holders"]!), slaves: try strings(o["slaves"]!),
                               mountpoints: try strings(o["mountpoints"]!), sysfsStates: sysfs,
                               probe: try o["probe"].map(probe), openers: try o["openers"].map { try array($0, opener) })
        }

        func probe(_ v: FastJSON.Value) throws -> ProbeResult {
            // stuckAfterKill is a boolean, which FastJSON does not keep: such a probe bails.
            let o = try object(v, ["outcome", "detail", "stuckPID"], required: ["outcome"])
            guard let outcome = ProbeOutcome(rawValue: try string(o["outcome"]!)) else { throw Bail() }
            return ProbeResult(outcome: outcome, detail: try o["detail"].map(string), stuckPID: try o["stuckPID"].map(int32))
        }

        func opener(_ v: FastJSON.Value) throws -> MapOpener {
            let o = try object(v, ["opener", "role", "note"], required: ["opener", "role"])
            guard let role = MapOpener.Role(rawValue: try string(o["role"]!)) else { throw Bail() }
            let p = try object(o["opener"]!, ["pid", "comm", "state", "wchan", "cmdline", "fds", "probeNonce"], required: ["pid", "fds"])
            let fds = try array(p["fds"]!) { v in
                let f = try object(v, ["fd", "target", "flags"], required: ["fd", "target"])
                let flags = try f["flags"].map { v -> UInt32 in
                    guard let u = UInt32(exactly: try int(v)) else { throw Bail() }
                    return u
                }
                return OpenFD(fd: try int32(f["fd"]!), target: try string(f["target"]!), flags: flags)
            }
            let opener = Opener(pid: try int32(p["pid"]!), comm: try p["comm"].map(string), state: try p["state"].map(string),
                                wchan: try p["wchan"].map(string), cmdline: try p["cmdline"].map(strings), fds: fds,
                                probeNonce: try p["probeNonce"].map(string))
            return MapOpener(opener: opener, role: role, note: try o["note"].map(string))
        }
    }
}
