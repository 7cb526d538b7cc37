/// The `fleet explain` report, also the per-map shape of the scan JSON. Encodes exactly
/// `{"maps":[{"name","wwid","dm","vendor","product","size","features","hwhandler","wp",
/// "pathGroups":[{"policy","prio","status","paths":[{"hctl","dev","majorMinor","dmState",
/// "checkerState","deviceState"}]}],"verdict","reasons":[…]}],"warnings":[{"line","text"}]}`
/// with a missing field as an explicit `null`.
public struct ExplainReport: Codable, Sendable, Hashable {
    public var maps: [ExplainMap]
    public var warnings: [ParseWarning]

    public init(maps: [ExplainMap], warnings: [ParseWarning] = []) {
        self.maps = maps; self.warnings = warnings
    }

    public init(findings: [MapFinding], warnings: [ParseWarning] = []) {
        self.init(maps: findings.map(ExplainMap.init(finding:)), warnings: warnings)
    }

    /// Classifies the snapshot and keeps its warnings.
    public init(snapshot: NodeSnapshot) {
        self.init(findings: Classifier.classify(snapshot), warnings: snapshot.warnings)
    }

    /// True when a map is cleanable (residual or residual-hung).
    public var hasResidual: Bool { maps.contains { $0.verdict?.isCleanable ?? false } }

    enum CodingKeys: String, CodingKey { case maps, warnings }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(maps, forKey: .maps)
        try c.encode(warnings, forKey: .warnings)
    }

    /// The JSON text, keys in the documented order (Foundation's JSONEncoder does not keep
    /// key order on Linux), a missing field as `null`; no trailing newline.
    public func json(pretty: Bool = false) -> String {
        var out = ""
        jsonValue.write(to: &out, pretty: pretty, indent: 0)
        return out
    }

    var jsonValue: JSONValue {
        .object([("maps", .array(maps.map(\.jsonValue))),
                 ("warnings", .array(warnings.map { .object([("line", .int($0.line)), ("text", .string($0.text))]) }))])
    }

    /// A plain-text table: one row per map, then per map its paths and reasons.
    public func table() -> String {
        var out = ""
        if maps.isEmpty {
            out += "no multipath maps\n"
        } else {
            var rows = [["NAME", "WWID", "DM", "VENDOR", "PRODUCT", "SIZE", "FEATURES", "PATHS", "VERDICT"]]
            for m in maps {
                let paths = m.pathGroups.flatMap(\.paths)
                let failed = paths.filter { $0.dmState == .failed }.count
                rows.append([m.name ?? "-", m.wwid ?? "-", m.dm ?? "-", m.vendor ?? "-", m.product ?? "-",
                             m.size ?? "-", m.features ?? "-", "\(paths.count - failed)/\(paths.count) up",
                             m.verdict?.rawValue ?? "-"])
            }
            out += Self.aligned(rows)
            for m in maps {
                out += "\n\(m.name ?? m.wwid ?? "?") (\(m.wwid ?? "no wwid")) \(m.dm ?? "-"): \(m.verdict?.rawValue ?? "-")\n"
                var prow = [["  GROUP", "POLICY", "PRIO", "STATUS", "HCTL", "DEV", "MAJ:MIN", "DM", "CHECKER", "DEVICE"]]
                for (gi, g) in m.pathGroups.enumerated() {
                    let head = ["  \(gi + 1)", g.policy ?? "-", g.prio.map(String.init) ?? "-", g.status ?? "-"]
                    if g.paths.isEmpty { prow.append(head + ["-", "-", "-", "-", "-", "-"]) }
                    for p in g.paths {
                        prow.append(head + [p.hctl ?? "-", p.dev ?? "-", p.majorMinor ?? "-", p.dmState?.rawValue ?? "-",
                                            p.checkerState?.rawValue ?? "-", p.deviceState?.rawValue ?? "-"])
                    }
                }
                if prow.count > 1 { out += Self.aligned(prow) } else { out += "  (no paths)\n" }
                for r in m.reasons { out += "  - \(r)\n" }
            }
        }
        if !warnings.isEmpty {
            out += "\nwarnings:\n"
            for w in warnings { out += "  line \(w.line): \(w.text)\n" }
        }
        return out
    }

    /// Left-aligned columns separated by two spaces; no trailing spaces.
    static func aligned(_ rows: [[String]]) -> String {
        let cols = rows.map(\.count).max() ?? 0
        var width = [Int](repeating: 0, count: cols)
        for r in rows { for (i, c) in r.enumerated() { width[i] = max(width[i], c.count) } }
        var out = ""
        for r in rows {
            var line = ""
            for (i, c) in r.enumerated() {
                line += c
                if i < r.count - 1 { line += String(repeating: " ", count: width[i] - c.count + 2) }
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}

/// One map in the explain/scan JSON.
public struct ExplainMap: Codable, Sendable, Hashable {
    public var name: String?
    public var wwid: String?
    public var dm: String?
    public var vendor: String?
    public var product: String?
    public var size: String?
    public var features: String?
    public var hwhandler: String?
    public var wp: String?
    public var pathGroups: [ExplainPathGroup]
    public var verdict: Verdict?
    public var reasons: [String]

    public init(map m: MultipathMap, verdict: Verdict? = nil, reasons: [String] = []) {
        name = m.name; wwid = m.wwid; dm = m.dm; vendor = m.vendor; product = m.product; size = m.size
        features = m.features; hwhandler = m.hwhandler; wp = m.wp
        pathGroups = m.pathGroups.map(ExplainPathGroup.init(group:))
        self.verdict = verdict; self.reasons = reasons
    }

    public init(finding f: MapFinding) { self.init(map: f.map, verdict: f.verdict, reasons: f.reasons) }

    /// This map as ordered JSON (also used per map by the scan JSON).
    public var json: String {
        var out = ""
        jsonValue.write(to: &out, pretty: false, indent: 0)
        return out
    }

    var jsonValue: JSONValue {
        .object([("name", .init(name)), ("wwid", .init(wwid)), ("dm", .init(dm)), ("vendor", .init(vendor)),
                 ("product", .init(product)), ("size", .init(size)), ("features", .init(features)),
                 ("hwhandler", .init(hwhandler)), ("wp", .init(wp)),
                 ("pathGroups", .array(pathGroups.map(\.jsonValue))),
                 ("verdict", .init(verdict?.rawValue)), ("reasons", .array(reasons.map(JSONValue.string)))])
    }

    /// Back to the model type (line is unknown: 0).
    public var multipathMap: MultipathMap {
        MultipathMap(name: name, wwid: wwid, dm: dm, vendor: vendor, product: product, size: size, features: features,
                     hwhandler: hwhandler, wp: wp, pathGroups: pathGroups.map(\.pathGroup))
    }

    enum CodingKeys: String, CodingKey {
        case name, wwid, dm, vendor, product, size, features, hwhandler, wp, pathGroups, verdict, reasons
    }

    // Explicit encode: Optional through `encode` writes `null`, where synthesized code would omit the key.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(wwid, forKey: .wwid)
        try c.encode(dm, forKey: .dm)
        try c.encode(vendor, forKey: .vendor)
        try c.encode(product, forKey: .product)
        try c.encode(size, forKey: .size)
        try c.encode(features, forKey: .features)
        try c.encode(hwhandler, forKey: .hwhandler)
        try c.encode(wp, forKey: .wp)
        try c.encode(pathGroups, forKey: .pathGroups)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(reasons, forKey: .reasons)
    }
}

public struct ExplainPathGroup: Codable, Sendable, Hashable {
    public var policy: String?
    public var prio: Int?
    public var status: String?
    public var paths: [ExplainPath]

    public init(group g: PathGroup) {
        policy = g.policy; prio = g.prio; status = g.status; paths = g.paths.map(ExplainPath.init(path:))
    }

    var jsonValue: JSONValue {
        .object([("policy", .init(policy)), ("prio", prio.map(JSONValue.int) ?? .null), ("status", .init(status)),
                 ("paths", .array(paths.map(\.jsonValue)))])
    }

    public var pathGroup: PathGroup {
        PathGroup(policy: policy, prio: prio, status: status, paths: paths.map(\.path))
    }

    enum CodingKeys: String, CodingKey { case policy, prio, status, paths }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(policy, forKey: .policy)
        try c.encode(prio, forKey: .prio)
        try c.encode(status, forKey: .status)
        try c.encode(paths, forKey: .paths)
    }
}

public struct ExplainPath: Codable, Sendable, Hashable {
    public var hctl: String?
    public var dev: String?
    public var majorMinor: String?
    public var dmState: DMPathState?
    public var checkerState: CheckerState?
    public var deviceState: DeviceState?

    public init(path p: Path) {
        hctl = p.hctl; dev = p.dev; majorMinor = p.majorMinor
        dmState = p.dmState; checkerState = p.checkerState; deviceState = p.deviceState
    }

    var jsonValue: JSONValue {
        .object([("hctl", .init(hctl)), ("dev", .init(dev)), ("majorMinor", .init(majorMinor)),
                 ("dmState", .init(dmState?.rawValue)), ("checkerState", .init(checkerState?.rawValue)),
                 ("deviceState", .init(deviceState?.rawValue))])
    }

    public var path: Path {
        Path(hctl: hctl, dev: dev, majorMinor: majorMinor, dmState: dmState, checkerState: checkerState, deviceState: deviceState)
    }

    enum CodingKeys: String, CodingKey { case hctl, dev, majorMinor, dmState, checkerState, deviceState }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hctl, forKey: .hctl)
        try c.encode(dev, forKey: .dev)
        try c.encode(majorMinor, forKey: .majorMinor)
        try c.encode(dmState, forKey: .dmState)
        try c.encode(checkerState, forKey: .checkerState)
        try c.encode(deviceState, forKey: .deviceState)
    }
}

/// Minimal ordered JSON for the explain/scan output.
enum JSONValue {
    case null
    case int(Int)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    init(_ s: String?) { self = s.map(JSONValue.string) ?? .null }

    func write(to out: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null"
        case .int(let i): out += String(i)
        case .string(let s): Self.quote(s, into: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "]"
        case .object(let o):
            if o.isEmpty { out += "{}"; return }
            out += "{"
            for (i, (k, v)) in o.enumerated() {
                if i > 0 { out += "," }
                if pretty { out += "\n" + String(repeating: "  ", count: indent + 1) }
                Self.quote(k, into: &out)
                out += pretty ? ": " : ":"
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || u.value == 0x7F:
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
}
