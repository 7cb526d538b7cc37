/// A small strict JSON reader for the two JSON outputs discovery parses on every node
/// (`multipathd show maps json`, `lsblk -J`). Perf: JSONSerialization plus `Any` casts was
/// ~6% of a scan's CPU.
///
/// It accepts only a subset it can read exactly as JSONSerialization would: ASCII text,
/// strict RFC 8259 syntax, integers of at most 15 digits, strings without `\u0000` or
/// surrogate escapes, nesting up to ``maxDepth``. Anything else returns nil and the caller
/// falls back to JSONSerialization, so results and warnings stay what they were for every
/// input (JSONSerialization is more lenient: trailing commas, a BOM, big numbers).
enum FastJSON {
    indirect enum Value {
        case string(String)
        case int(Int)
        /// `true`/`false`: JSONSerialization makes an NSNumber of them; readers refuse
        /// (``Bail``) rather than guess its text.
        case bool
        case null
        case array([Value])
        /// Pairs in document order; a repeated key counts by its last value (as JSONSerialization).
        case object([(key: String, value: Value)])

        subscript(key: String) -> Value? {
            guard case .object(let pairs) = self else { return nil }
            var found: Value?
            for p in pairs where p.key == key { found = p.value }
            return found
        }

        /// What `JSONDepth.string` returns for the same value read by JSONSerialization.
        func string() throws(Bail) -> String? {
            switch self {
            case .string(let s): return s
            case .int(let i): return String(i)
            case .bool: throw Bail()
            case .null, .array, .object: return nil
            }
        }

        /// What `JSONDepth.int` returns for the same value read by JSONSerialization.
        func int() throws(Bail) -> Int? {
            switch self {
            case .int(let i): return i
            case .string(let s): return TextLines.int(Substring(s))
            case .bool: throw Bail()
            case .null, .array, .object: return nil
            }
        }
    }

    /// The input is outside the subset: use JSONSerialization instead.
    struct Bail: Error {}

    /// Same limit the JSONSerialization path enforces (`JSONDepth.max(...) <= 32`).
    static let maxDepth = 32

    /// The document's root value, or nil when the text is outside the subset.
    static func parse(_ text: Substring) -> Value? {
        var copy: [UInt8]?
        let fast = text.utf8.withContiguousStorageIfAvailable { parse(bytes: $0) }
        if let fast { return fast }
        copy = Array(text.utf8)
        return copy!.withUnsafeBufferPointer { parse(bytes: $0) }
    }

    static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Value? {
        var r = Reader(b: bytes)
        do {
            r.skipSpace()
            let v = try r.value(depth: 0)
            r.skipSpace()
            guard r.i == bytes.count else { return nil }
            return v
        } catch {
            return nil
        }
    }

    private struct Reader {
        let b: UnsafeBufferPointer<UInt8>
        var i = 0

        mutating func skipSpace() {
            while i < b.count {
                switch b[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(Bail) -> Value {
            guard i < b.count else { throw Bail() }
            switch b[i] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .int(try integer())
            case UInt8(ascii: "t"): try literal("true"); return .bool
            case UInt8(ascii: "f"): try literal("false"); return .bool
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: throw Bail()
            }
        }

        mutating func literal(_ word: StaticString) throws(Bail) {
            let n = word.utf8CodeUnitCount
            guard b.count - i >= n else { throw Bail() }
            let w = word.utf8Start
            for k in 0..<n where b[i + k] != w[k] { throw Bail() }
            i += n
        }

        mutating func object(depth: Int) throws(Bail) -> Value {
            guard depth <= FastJSON.maxDepth else { throw Bail() }
            i += 1  // {
            var pairs: [(key: String, value: Value)] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            while true {
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw Bail() }
                let key = try string()
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw Bail() }
                i += 1
                skipSpace()
                let v = try value(depth: depth)
                pairs.append((key, v))
                skipSpace()
                guard i < b.count else { throw Bail() }
                if b[i] == UInt8(ascii: ",") { i += 1; skipSpace(); continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                throw Bail()
            }
        }

        mutating func array(depth: Int) throws(Bail) -> Value {
            guard depth <= FastJSON.maxDepth else { throw Bail() }
            i += 1  // [
            var items: [Value] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth))
                skipSpace()
                guard i < b.count else { throw Bail() }
                if b[i] == UInt8(ascii: ",") { i += 1; skipSpace(); continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw Bail()
            }
        }

        /// `-?(0|[1-9][0-9]*)` with at most 15 digits, not followed by a fraction or exponent.
        mutating func integer() throws(Bail) -> Int {
            var neg = false
            if b[i] == UInt8(ascii: "-") { neg = true; i += 1 }
            let start = i
            var v = 0
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9") {
                v = v * 10 + Int(b[i] - UInt8(ascii: "0"))
                i += 1
                if i - start > 15 { throw Bail() }
            }
            let digits = i - start
            guard digits > 0, !(digits > 1 && b[start] == UInt8(ascii: "0")) else { throw Bail() }
            if i < b.count, b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                throw Bail()
            }
            return neg ? -v : v
        }

        /// A string starting at the opening quote; ASCII only, no control characters.
        mutating func string() throws(Bail) -> String {
            i += 1  // "
            let start = i
            // Plain run (no escapes): one copy into the String.
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
                    i += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                guard c >= 0x20, c < 0x80 else { throw Bail() }
                i += 1
            }
            guard i < b.count else { throw Bail() }
            var out = Array(UnsafeBufferPointer(rebasing: b[start..<i]))
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return String(decoding: out, as: UTF8.self)
                }
                guard c >= 0x20, c < 0x80 else { throw Bail() }
                if c != UInt8(ascii: "\\") { out.append(c); i += 1; continue }
                i += 1
                guard i < b.count else { throw Bail() }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    guard b.count - i >= 4 else { throw Bail() }
                    var u: UInt32 = 0
                    for _ in 0..<4 {
                        let h = b[i]
                        let d: UInt8
                        switch h {
                        case UInt8(ascii: "0")...UInt8(ascii: "9"): d = h - UInt8(ascii: "0")
                        case UInt8(ascii: "a")...UInt8(ascii: "f"): d = h - UInt8(ascii: "a") + 10
                        case UInt8(ascii: "A")...UInt8(ascii: "F"): d = h - UInt8(ascii: "A") + 10
                        default: throw Bail()
                        }
                        u = u << 4 | UInt32(d)
                        i += 1
                    }
                    // NUL and surrogates: leave them to JSONSerialization.
                    guard u != 0, let scalar = Unicode.Scalar(u) else { throw Bail() }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw Bail()
                }
            }
            throw Bail()
        }
    }
}
