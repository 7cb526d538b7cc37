import Foundation

/// Line and token helpers shared by the parsers. They work on UTF-8 bytes so that a
/// `\r\n` (one grapheme in Swift) still splits, and so every parser stays linear.
enum TextLines {
    /// 1-based numbered lines; a trailing `\r` is dropped, a final empty line (after the
    /// last `\n`) is not reported.
    static func split(_ text: String) -> [(number: Int, text: Substring)] {
        var out: [(number: Int, text: Substring)] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var n = 0
        var i = utf8.startIndex
        while i != utf8.endIndex {
            if utf8[i] == UInt8(ascii: "\n") {
                n += 1
                out.append((n, stripCR(Substring(utf8[start..<i]))))
                start = utf8.index(after: i)
            }
            i = utf8.index(after: i)
        }
        if start != utf8.endIndex {
            n += 1
            out.append((n, stripCR(Substring(utf8[start..<utf8.endIndex]))))
        }
        return out
    }

    private static func stripCR(_ s: Substring) -> Substring {
        if let last = s.utf8.last, last == UInt8(ascii: "\r") {
            return Substring(s.utf8.dropLast())
        }
        return s
    }

    /// Whitespace-separated tokens (space and tab).
    static func tokens(_ s: Substring) -> [Substring] {
        var out: [Substring] = []
        let u = s.utf8
        var i = u.startIndex
        while i != u.endIndex {
            while i != u.endIndex, isSpace(u[i]) { i = u.index(after: i) }
            if i == u.endIndex { break }
            let start = i
            while i != u.endIndex, !isSpace(u[i]) { i = u.index(after: i) }
            out.append(Substring(u[start..<i]))
        }
        return out
    }

    @inline(__always) static func isSpace(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == 0x0B || c == 0x0C
    }

    static func trimmed(_ s: Substring) -> Substring {
        let u = s.utf8
        var a = u.startIndex
        var b = u.endIndex
        while a != b, isSpace(u[a]) || u[a] == UInt8(ascii: "\r") || u[a] == UInt8(ascii: "\n") { a = u.index(after: a) }
        while a != b {
            let p = u.index(before: b)
            if isSpace(u[p]) || u[p] == UInt8(ascii: "\r") || u[p] == UInt8(ascii: "\n") { b = p } else { break }
        }
        return Substring(u[a..<b])
    }

    static func isBlank(_ s: Substring) -> Bool { s.utf8.allSatisfy { isSpace($0) || $0 == UInt8(ascii: "\r") } }

    static func isDigits(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// `major:minor`, e.g. `8:96`.
    static func isMajorMinor(_ s: Substring) -> Bool {
        let parts = s.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { p in
            !p.isEmpty && p.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        }
    }

    /// The first occurrence of `needle` (UTF-8 bytes) in `s`, compared byte for byte.
    static func firstRange(of needle: [UInt8], in s: Substring) -> Range<Substring.Index>? {
        let u = s.utf8
        guard let first = needle.first else { return nil }
        var i = u.startIndex
        while let hit = u[i...].firstIndex(of: first) {
            var a = hit, k = 0
            while k < needle.count, a != u.endIndex, u[a] == needle[k] { a = u.index(after: a); k += 1 }
            if k == needle.count { return hit..<a }
            i = u.index(after: hit)
        }
        return nil
    }

    /// `text` without leading and trailing whitespace and newlines, exactly as Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` would return it, but on bytes when
    /// both ends are ASCII (always, for command output); Foundation only for the rare rest.
    static func trimmedWhitespaceAndNewlines(_ text: String) -> Substring {
        let t = trimmed(Substring(text))
        if let a = t.utf8.first, let b = t.utf8.last, a < 0x80, b < 0x80 { return t }
        if t.isEmpty, text.utf8.allSatisfy({ $0 < 0x80 }) { return t }
        return Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Parses a whole-number token without trapping on overflow.
    static func int(_ s: Substring) -> Int? {
        guard s.utf8.count <= 18 else { return nil }
        return Int(s)
    }
}

/// A parser's value plus the lines it did not understand.
public struct Parsed<Value: Sendable>: Sendable {
    public var value: Value
    public var warnings: [ParseWarning]
    public init(value: Value, warnings: [ParseWarning] = []) {
        self.value = value; self.warnings = warnings
    }
}

extension Parsed: Equatable where Value: Equatable {}
extension Parsed: Hashable where Value: Hashable {}

/// An all-ASCII text's UTF-8 bytes, for the parsers' byte readers (perf: walking a
/// Substring's UTF-8 view, making a Substring per line and token and comparing them as
/// Characters cost ~50 instructions per byte of a 50-map node's outputs). Only ASCII: there
/// every Character is one byte (no `\r\n` inside a line, no combining marks), so comparing
/// bytes is comparing Characters and each reader gives exactly what its parser's general
/// reading gives. A text with any other byte is left to the general reading
/// (``read(_:_:)`` returns nil). The helpers themselves only compare bytes (the multipath
/// parser's key=value splitter, byte-based from the start, uses them on any text).
struct ASCIIText {
    let bytes: UnsafeBufferPointer<UInt8>

    /// `body` on `text`'s bytes when every byte is ASCII; nil otherwise.
    static func read<R>(_ text: String, _ body: (ASCIIText) -> R) -> R? {
        var text = text
        return text.withUTF8 { u in isASCII(u) ? body(ASCIIText(bytes: u)) : nil }
    }

    static func isASCII(_ u: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = u.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var acc: UInt64 = 0
        var i = 0
        while i + 8 <= u.count { acc |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self); i += 8 }
        while i < u.count { acc |= UInt64(u[i]); i += 1 }
        return acc & 0x8080_8080_8080_8080 == 0
    }

    @inline(__always) subscript(i: Int) -> UInt8 { bytes[i] }

    /// The lines ``TextLines/split(_:)`` gives: 1-based numbers, a trailing `\r` dropped, no
    /// final empty line.
    struct Lines {
        let text: ASCIIText
        var at = 0
        var number = 0
        mutating func next() -> (number: Int, range: Range<Int>)? {
            let n = text.bytes.count
            guard at < n, let base = text.bytes.baseAddress else { return nil }
            let start = at
            var end = n
            if let p = memchr(base + start, Int32(UInt8(ascii: "\n")), n - start) {
                end = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(p))
                at = end + 1
            } else {
                at = n
            }
            number += 1
            if end > start, text[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            return (number, start..<end)
        }
    }

    var lines: Lines { Lines(text: self) }

    func string(_ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self)
    }

    func isBlank(_ r: Range<Int>) -> Bool {
        for i in r where !(TextLines.isSpace(bytes[i]) || bytes[i] == UInt8(ascii: "\r")) { return false }
        return true
    }

    /// ``TextLines/trimmed(_:)``: space, tab, VT, FF, CR and LF off both ends.
    func trimmed(_ r: Range<Int>) -> Range<Int> {
        func ws(_ c: UInt8) -> Bool { TextLines.isSpace(c) || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n") }
        var a = r.lowerBound, b = r.upperBound
        while a < b, ws(bytes[a]) { a += 1 }
        while a < b, ws(bytes[b - 1]) { b -= 1 }
        return a..<b
    }

    func hasPrefix(_ r: Range<Int>, _ p: StaticString) -> Bool {
        guard r.count >= p.utf8CodeUnitCount else { return false }
        let q = p.utf8Start
        for k in 0..<p.utf8CodeUnitCount where bytes[r.lowerBound + k] != q[k] { return false }
        return true
    }

    func hasSuffix(_ r: Range<Int>, _ p: StaticString) -> Bool {
        guard r.count >= p.utf8CodeUnitCount else { return false }
        return hasPrefix((r.upperBound - p.utf8CodeUnitCount)..<r.upperBound, p)
    }

    func equals(_ r: Range<Int>, _ p: StaticString) -> Bool { r.count == p.utf8CodeUnitCount && hasPrefix(r, p) }

    func firstIndex(of c: UInt8, in r: Range<Int>) -> Int? {
        for i in r where bytes[i] == c { return i }
        return nil
    }

    /// Where `needle` first starts in `r`.
    func firstIndex(of needle: StaticString, in r: Range<Int>) -> Int? {
        let m = needle.utf8CodeUnitCount
        guard m > 0, r.count >= m else { return nil }
        let first = needle.utf8Start[0]
        var i = r.lowerBound
        while i + m <= r.upperBound {
            if bytes[i] == first, hasPrefix(i..<r.upperBound, needle) { return i }
            i += 1
        }
        return nil
    }

    /// The next space- or tab-separated token at or after `i` in `..<end` (``TextLines/tokens(_:)``).
    func nextToken(_ i: inout Int, _ end: Int) -> Range<Int>? {
        while i < end, TextLines.isSpace(bytes[i]) { i += 1 }
        guard i < end else { return nil }
        let start = i
        while i < end, !TextLines.isSpace(bytes[i]) { i += 1 }
        return start..<i
    }

    func tokens(_ r: Range<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = r.lowerBound
        while let t = nextToken(&i, r.upperBound) { out.append(t) }
        return out
    }

    /// `tokens` joined by one space, as `[Substring].joined(separator: " ")` gives them.
    func joined(_ tokens: ArraySlice<Range<Int>>) -> String {
        guard let first = tokens.first else { return "" }
        if tokens.count == 1 { return string(first) }
        let count = tokens.reduce(tokens.count - 1) { $0 + $1.count }
        return String(unsafeUninitializedCapacity: count, initializingUTF8With: { out in
            var k = 0
            for t in tokens {
                if k > 0 { out[k] = UInt8(ascii: " "); k += 1 }
                for i in t { out[k] = bytes[i]; k += 1 }
            }
            return k
        })
    }

    /// ``TextLines/int(_:)``: what `Int(_:)` reads (an optional sign, then digits), at most 18 bytes.
    func int(_ r: Range<Int>) -> Int? {
        guard r.count <= 18, !r.isEmpty else { return nil }
        var i = r.lowerBound
        var negative = false
        if bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { negative = bytes[i] == UInt8(ascii: "-"); i += 1 }
        guard i < r.upperBound else { return nil }
        var v = 0
        while i < r.upperBound {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            v = v * 10 + Int(d)
            i += 1
        }
        return negative ? -v : v
    }
}
