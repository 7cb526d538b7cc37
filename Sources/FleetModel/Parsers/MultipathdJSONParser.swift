import Foundation

/// One map of `multipathd show maps json`.
public struct MultipathdMap: Sendable, Hashable, Codable {
    public var name: String?
    /// The "uuid" field: the WWID.
    public var wwid: String?
    /// The "sysfs" field: `dm-N`.
    public var dm: String?
    /// `off`, `on`, `12 chk` (retries left), `39 sec` (time left), `-` …
    public var queueing: String?
    public var features: String?
    public var dmState: String?
    public var pathCount: Int?
    public var paths: [MultipathdPath]

    public init(name: String? = nil, wwid: String? = nil, dm: String? = nil, queueing: String? = nil,
                features: String? = nil, dmState: String? = nil, pathCount: Int? = nil, paths: [MultipathdPath] = []) {
        self.name = name; self.wwid = wwid; self.dm = dm; self.queueing = queueing
        self.features = features; self.dmState = dmState; self.pathCount = pathCount; self.paths = paths
    }
}

public struct MultipathdPath: Sendable, Hashable, Codable {
    public var dev: String?
    public var devT: String?
    public var dmState: String?
    public var devState: String?
    public var checkerState: String?
    public init(dev: String? = nil, devT: String? = nil, dmState: String? = nil, devState: String? = nil, checkerState: String? = nil) {
        self.dev = dev; self.devT = devT; self.dmState = dmState; self.devState = devState; self.checkerState = checkerState
    }
}

/// What multipathd's "queueing" field says about a map whose paths are all down.
public enum QueueingState: Sendable, Hashable {
    /// `off`: I/O fails at once (no_path_retry fail, or the retry window is over).
    case off
    /// `on`: queues forever (no_path_retry queue).
    case on
    /// `12 chk` / `39 sec`: still inside the no_path_retry window; paths may come back.
    case retrying(String)
    case unknown(String)

    public init(_ raw: String) {
        // Fast path for multipathd's usual spellings (same result as the general one).
        if raw == "off" { self = .off; return }
        if raw == "on" { self = .on; return }
        self = ASCIIText.read(raw) { Self.ascii($0, raw) } ?? Self.general(raw)
    }

    /// ``general(_:)`` of an ASCII value on its bytes (perf: Foundation's trim and a
    /// split, ~13,000 instructions per map): in ASCII `.whitespaces` is space and tab, and
    /// lower-casing is per byte.
    static func ascii(_ t: ASCIIText, _ raw: String) -> QueueingState {
        var a = 0, b = t.bytes.count
        func blank(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }
        while a < b, blank(t[a]) { a += 1 }
        while a < b, blank(t[b - 1]) { b -= 1 }
        let w = t.bytes[a..<b].map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        if w.elementsEqual("off".utf8) { return .off }
        if w.elementsEqual("on".utf8) { return .on }
        let parts = w.split(separator: UInt8(ascii: " "))
        if parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
           parts[1].elementsEqual("chk".utf8) || parts[1].elementsEqual("sec".utf8) {
            return .retrying(raw)
        }
        return .unknown(raw)
    }

    /// Any value, as Characters.
    static func general(_ raw: String) -> QueueingState {
        let t = raw.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "off" { return .off }
        if t == "on" { return .on }
        let parts = t.split(separator: " ")
        if parts.count == 2, TextLines.isDigits(parts[0]), parts[1] == "chk" || parts[1] == "sec" {
            return .retrying(raw)
        }
        return .unknown(raw)
    }
}

/// Parses `multipathd show maps json`. Non-JSON answers (`fail`, `timeout receiving packet`)
/// become a warning, never a crash.
public enum MultipathdJSONParser {
    public static func parse(_ text: String) -> Parsed<[MultipathdMap]> {
        // Byte trim (perf: Foundation's trimmingCharacters was ~10% of scan CPU).
        let trimmed = TextLines.trimmedWhitespaceAndNewlines(text)
        guard !trimmed.isEmpty else { return Parsed(value: []) }
        // Perf: the strict byte reader first; JSONSerialization for anything it leaves.
        if let doc = FastJSON.parse(trimmed), let fast = try? fastMaps(doc) { return Parsed(value: fast) }
        return parseWithFoundation(text)
    }

    /// The reference reading (JSONSerialization): every input the fast reader leaves, and
    /// the tests' oracle for the ones it takes.
    static func parseWithFoundation(_ text: String) -> Parsed<[MultipathdMap]> {
        let trimmed = TextLines.trimmedWhitespaceAndNewlines(text)
        guard !trimmed.isEmpty else { return Parsed(value: []) }
        // JSONSerialization recurses per nesting level; refuse absurd depth before it does.
        guard JSONDepth.max(trimmed.utf8) <= 32 else {
            return Parsed(value: [], warnings: [ParseWarning(line: 1, text: "JSON nested too deeply")])
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8), options: [.fragmentsAllowed]),
              let root = obj as? [String: Any]
        else {
            let first = TextLines.split(text).first.map { String($0.text.prefix(200)) } ?? ""
            return Parsed(value: [], warnings: [ParseWarning(line: 1, text: "not multipathd JSON: \(first)")])
        }
        var warnings: [ParseWarning] = []
        guard let maps = root["maps"] as? [Any] else {
            return Parsed(value: [], warnings: [ParseWarning(line: 1, text: "no \"maps\" array")])
        }
        var out: [MultipathdMap] = []
        for case let m as [String: Any] in maps {
            var map = MultipathdMap()
            map.name = JSONDepth.string(m["name"])
            map.wwid = JSONDepth.string(m["uuid"])
            map.dm = JSONDepth.string(m["sysfs"])
            map.queueing = JSONDepth.string(m["queueing"])
            map.features = JSONDepth.string(m["features"])
            map.dmState = JSONDepth.string(m["dm_st"])
            map.pathCount = JSONDepth.int(m["paths"])
            for case let g as [String: Any] in (m["path_groups"] as? [Any]) ?? [] {
                for case let p as [String: Any] in (g["paths"] as? [Any]) ?? [] {
                    map.paths.append(MultipathdPath(
                        dev: JSONDepth.string(p["dev"]), devT: JSONDepth.string(p["dev_t"]),
                        dmState: JSONDepth.string(p["dm_st"]), devState: JSONDepth.string(p["dev_st"]),
                        checkerState: JSONDepth.string(p["chk_st"])))
                }
            }
            out.append(map)
        }
        if out.count != maps.count { warnings.append(ParseWarning(line: 1, text: "some \"maps\" entries are not objects")) }
        return Parsed(value: out, warnings: warnings)
    }

    /// The same maps as the JSONSerialization path, from a document ``FastJSON`` read; throws
    /// (caller falls back) for every shape that path would warn about or read loosely.
    static func fastMaps(_ doc: FastJSON.Document) throws(FastJSON.Bail) -> [MultipathdMap] {
        guard case .array(let maps)? = doc.value(doc.root, "maps") else { throw FastJSON.Bail() }
        var out: [MultipathdMap] = []
        out.reserveCapacity(maps.count)
        for m in maps {
            guard case .object = m else { throw FastJSON.Bail() }
            var map = MultipathdMap()
            map.name = try doc.string(doc.value(m, "name"))
            map.wwid = try doc.string(doc.value(m, "uuid"))
            map.dm = try doc.string(doc.value(m, "sysfs"))
            map.queueing = try doc.string(doc.value(m, "queueing"))
            map.features = try doc.string(doc.value(m, "features"))
            map.dmState = try doc.string(doc.value(m, "dm_st"))
            map.pathCount = try doc.int(doc.value(m, "paths"))
            guard let groups = try arrayOrAbsent(doc.value(m, "path_groups")) else { out.append(map); continue }
            for g in groups {
                guard case .object = g else { throw FastJSON.Bail() }
                guard let paths = try arrayOrAbsent(doc.value(g, "paths")) else { continue }
                for p in paths {
                    guard case .object = p else { throw FastJSON.Bail() }
                    map.paths.append(MultipathdPath(
                        dev: try doc.string(doc.value(p, "dev")), devT: try doc.string(doc.value(p, "dev_t")),
                        dmState: try doc.string(doc.value(p, "dm_st")), devState: try doc.string(doc.value(p, "dev_st")),
                        checkerState: try doc.string(doc.value(p, "chk_st"))))
                }
            }
            out.append(map)
        }
        return out
    }

    /// An array, or nil when the key is absent; any other type is left to the slow path.
    static func arrayOrAbsent(_ v: FastJSON.Value?) throws(FastJSON.Bail) -> [FastJSON.Value]? {
        switch v {
        case nil: return nil
        case .array(let a)?: return a
        default: throw FastJSON.Bail()
        }
    }
}

/// Small helpers for reading untyped JSON safely.
enum JSONDepth {
    /// Maximum nesting of `[`/`{` outside strings.
    static func max<C: Collection<UInt8>>(_ bytes: C) -> Int {
        var depth = 0, best = 0
        var inString = false, escape = false
        for c in bytes {
            if inString {
                if escape { escape = false } else if c == UInt8(ascii: "\\") { escape = true } else if c == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch c {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"): depth += 1; best = Swift.max(best, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return best
    }

    static func string(_ v: Any?) -> String? {
        switch v {
        case let s as String: return s
        case let n as NSNumber: return n.stringValue
        default: return nil
        }
    }

    static func int(_ v: Any?) -> Int? {
        switch v {
        case let n as NSNumber:
            let d = n.doubleValue
            guard d.isFinite, abs(d) < 1e15 else { return nil }
            return Int(d)
        case let s as String: return TextLines.int(Substring(s))
        default: return nil
        }
    }
}
