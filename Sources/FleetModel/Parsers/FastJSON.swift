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
    /// A parsed document: values point into `bytes`; strings are built only when read.
    struct Document {
        let bytes: [UInt8]
        let root: Value

        /// The value of `key` in `object` (last one if repeated, as JSONSerialization), nil
        /// when absent or when `object` is not an object.
        func value(_ object: Value?, _ key: String) -> Value? {
            guard case .object(let pairs)? = object else { return nil }
            // By position, and only the keys read (perf: copying every pair retained every
            // nested array and object: ~4 M instructions of a 50-map node's lsblk and maps).
            var found = -1
            var k = key
            k.withUTF8 { want in
                bytes.withUnsafeBufferPointer { all in
                    pairs.withUnsafeBufferPointer { ps in
                        for i in ps.indices {
                            guard case .string(let a, let b, let escaped) = ps[i].key else { continue }
                            let hit = escaped
                                ? decode(a, b) == key
                                : Int(b - a) == want.count && memcmpEqual(all.baseAddress! + Int(a), want.baseAddress, want.count)
                            if hit { found = i }
                        }
                    }
                }
            }
            return found < 0 ? nil : pairs[found].value
        }

        /// What `JSONDepth.string` returns for the same value read by JSONSerialization.
        func string(_ v: Value?) throws(Bail) -> String? {
            switch v {
            case .string(let a, let b, let escaped)?:
                return escaped ? decode(a, b) : bytes.withUnsafeBufferPointer {
                    String(decoding: UnsafeBufferPointer(rebasing: $0[Int(a)..<Int(b)]), as: UTF8.self)
                }
            case .int(let i)?: return String(i)
            case .bool?: throw Bail()
            case nil, .null?, .array?, .object?: return nil
            }
        }

        /// What `JSONDepth.int` returns for the same value read by JSONSerialization.
        func int(_ v: Value?) throws(Bail) -> Int? {
            switch v {
            case .int(let i)?: return i
            case .string?: return try string(v).flatMap { TextLines.int(Substring($0)) }
            case .bool?: throw Bail()
            case nil, .null?, .array?, .object?: return nil
            }
        }

        /// The text of a string the reader validated (escapes known to be well formed).
        func decode(_ a: Int32, _ b: Int32) -> String {
            var out: [UInt8] = []
            out.reserveCapacity(Int(b - a))
            var i = Int(a)
            let end = Int(b)
            while i < end {
                let c = bytes[i]
                i += 1
                guard c == UInt8(ascii: "\\") else { out.append(c); continue }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var u: UInt32 = 0
                    for _ in 0..<4 { u = u << 4 | UInt32(Reader.hexValue(bytes[i])!); i += 1 }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(u)!)).utf8))
                default: out.append(e)  // " \\ /
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Not `indirect`: arrays already live on the heap, and boxing every scalar cost a
    /// malloc per value.
    enum Value {
        /// Byte range of the text between the quotes; `escaped` when it holds a backslash.
        case string(Int32, Int32, escaped: Bool)
        case int(Int)
        /// `true`/`false`: JSONSerialization makes an NSNumber of them; readers refuse
        /// (``Bail``) rather than guess its text.
        case bool
        case null
        case array([Value])
        /// Pairs in document order (the key is a `.string`).
        case object([(key: Value, value: Value)])
    }

    /// The input is outside the subset: use JSONSerialization instead.
    struct Bail: Error {}

    /// Same limit the JSONSerialization path enforces (`JSONDepth.max(...) <= 32`).
    static let maxDepth = 32

    /// The document, or nil when the text is outside the subset.
    static func parse(_ text: Substring) -> Document? {
        // One memcpy when the text is contiguous (always, for command output).
        let bytes = text.utf8.withContiguousStorageIfAvailable { Array($0) } ?? Array(text.utf8)
        guard bytes.count < Int(Int32.max) else { return nil }
        let root: Value? = bytes.withUnsafeBufferPointer { b in
            var r = Reader(b: b)
            do {
                r.skipSpace()
                let v = try r.value(depth: 0)
                r.skipSpace()
                guard r.i == b.count else { return nil }
                return v
            } catch {
                return nil
            }
        }
        return root.map { Document(bytes: bytes, root: $0) }
    }

    @inline(__always) static func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>?, _ n: Int) -> Bool {
        guard n > 0, let b else { return n == 0 }
        for k in 0..<n where a[k] != b[k] { return false }
        return true
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
            case UInt8(ascii: "\""): return try string()
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
            var pairs: [(key: Value, value: Value)] = []
            // lsblk's and multipathd's objects have 10-20 keys (perf: growing from 1 copied
            // each object's pairs four or five times).
            pairs.reserveCapacity(16)
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

        static func hexValue(_ h: UInt8) -> UInt8? {
            switch h {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return h - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return h - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return h - UInt8(ascii: "A") + 10
            default: return nil
            }
        }

        /// A string starting at the opening quote; ASCII only, no control characters,
        /// escapes checked here (``Document/decode(_:_:)`` relies on it).
        mutating func string() throws(Bail) -> Value {
            i += 1  // "
            let start = i
            var escaped = false
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return .string(Int32(start), Int32(i - 1), escaped: escaped)
                }
                guard c >= 0x20, c < 0x80 else { throw Bail() }
                i += 1
                guard c == UInt8(ascii: "\\") else { continue }
                escaped = true
                guard i < b.count else { throw Bail() }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard b.count - i >= 4 else { throw Bail() }
                    var u: UInt32 = 0
                    for _ in 0..<4 {
                        guard let d = Self.hexValue(b[i]) else { throw Bail() }
                        u = u << 4 | UInt32(d)
                        i += 1
                    }
                    // NUL and surrogates: leave them to JSONSerialization.
                    guard u != 0, Unicode.Scalar(u) != nil else { throw Bail() }
                default:
                    throw Bail()
                }
            }
            throw Bail()
        }
    }
}
