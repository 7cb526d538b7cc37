/// A map fleet must never clean, whatever the classifier says. Rules come from the
/// inventory (top-level `protect`, `defaults`, a group or a node).
public enum ProtectRule: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Exact WWID, compared case-insensitively (multipath prints hex digits in lower case,
    /// an operator may paste them from an array GUI in upper case).
    case wwid(String)
    /// Glob patterns (`*`, `?`, `[…]`) on the SCSI vendor and product strings as
    /// `multipath -ll` prints them (`LIO-ORG,lun1` → vendor `LIO-ORG`, product `lun1`).
    /// Both must match; matching ignores case and surrounding blanks.
    case vendorProduct(vendor: String, product: String)

    /// True when the rule protects `map`.
    ///
    /// Fail-safe: a vendor/product rule also matches a map whose vendor or product is
    /// unknown (not printed), because fleet cannot show that such a map is *not* protected.
    /// A WWID rule never matches a map without a WWID (such a map is never cleanable anyway).
    public func matches(_ map: MultipathMap) -> Bool {
        switch self {
        case .wwid(let w):
            guard let mapWWID = map.wwid else { return false }
            return Self.trim(mapWWID).lowercased() == Self.trim(w).lowercased()
        case .vendorProduct(let vendor, let product):
            guard let v = map.vendor, let p = map.product else { return true }
            return Glob.matches(Self.trim(vendor), Self.trim(v), ignoringCase: true)
                && Glob.matches(Self.trim(product), Self.trim(p), ignoringCase: true)
        }
    }

    /// `wwid=3600…` or `vendor=NETAPP* product=*`, for logs and explanations.
    public var description: String {
        switch self {
        case .wwid(let w): "wwid=\(w)"
        case .vendorProduct(let v, let p): "vendor=\(v) product=\(p)"
        }
    }

    static func trim(_ s: String) -> String {
        var sub = Substring(s)
        while let c = sub.first, c == " " || c == "\t" { sub = sub.dropFirst() }
        while let c = sub.last, c == " " || c == "\t" { sub = sub.dropLast() }
        return String(sub)
    }
}

/// Shell-style glob matching (`*` any run, `?` one character, `[abc]`, `[a-z]`, `[!x]`),
/// without any file-system access. Used for protect rules and `--limit` node globs.
public enum Glob {
    public static func isPattern(_ s: String) -> Bool {
        s.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    public static func matches(_ pattern: String, _ text: String, ignoringCase: Bool = false) -> Bool {
        let p = Array(ignoringCase ? pattern.lowercased() : pattern)
        let t = Array(ignoringCase ? text.lowercased() : text)
        // Iterative matcher with single backtrack point for the last `*` (linear-ish, no recursion).
        var pi = 0, ti = 0
        var starP = -1, starT = 0
        while ti < t.count {
            if pi < p.count {
                switch p[pi] {
                case "*":
                    starP = pi; starT = ti; pi += 1
                    continue
                case "?":
                    pi += 1; ti += 1
                    continue
                case "[":
                    if let (ok, next) = matchClass(p, pi, t[ti]) {
                        if ok { pi = next; ti += 1; continue }
                    } else if t[ti] == "[" {
                        // An unterminated `[` is a literal.
                        pi += 1; ti += 1; continue
                    }
                default:
                    if p[pi] == t[ti] { pi += 1; ti += 1; continue }
                }
            }
            guard starP >= 0 else { return false }
            pi = starP + 1; starT += 1; ti = starT
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Matches `c` against the bracket expression starting at `p[start] == "["`.
    /// Returns (matched, index after `]`), or nil when the bracket is not closed.
    private static func matchClass(_ p: [Character], _ start: Int, _ c: Character) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count, p[i] == "!" || p[i] == "^" { negate = true; i += 1 }
        var matched = false
        var first = true
        while i < p.count {
            if p[i] == "]" && !first { return (matched != negate, i + 1) }
            first = false
            if i + 2 < p.count, p[i + 1] == "-", p[i + 2] != "]" {
                if p[i] <= c && c <= p[i + 2] { matched = true }
                i += 3
            } else {
                if p[i] == c { matched = true }
                i += 1
            }
        }
        return nil
    }
}
