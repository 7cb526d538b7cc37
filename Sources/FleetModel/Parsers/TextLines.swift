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
