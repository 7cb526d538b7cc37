import Foundation
import FleetModel

/// The `maps.reasons` / `maps.evidence` JSON text, byte for byte what `JSONEncoder` with
/// `.sortedKeys` writes, without JSONEncoder (perf: it was ~2% of scan CPU, twice per map).
///
/// Written by hand only for the common shape: ASCII strings without control characters,
/// and `sysfsStates` keys of lowercase letters only (where every key order JSONEncoder could
/// use is plain byte order). Anything else goes through JSONEncoder as before.
enum StoredJSON {
    static func reasons(_ reasons: [String]) throws -> String {
        var out: [UInt8] = []
        out.reserveCapacity(16 + reasons.reduce(0) { $0 + $1.utf8.count + 3 })
        guard appendArray(reasons, to: &out) else { return try encoded(reasons) }
        return String(decoding: out, as: UTF8.self)
    }

    static func evidence(_ e: MapEvidence) throws -> String {
        guard let text = handEncoded(e) else { return try encoded(e) }
        return text
    }

    static func encoded(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Keys in byte order: holders, mountpoints, openCount, probe, queueing, slaves,
    /// sysfsStates (nil optionals left out, as the synthesized Encodable does).
    static func handEncoded(_ e: MapEvidence) -> String? {
        // Openers (rare: only maps someone holds open) carry remote text of any shape.
        if e.openers != nil { return nil }
        // The Kubernetes witness is rarer and nested: JSONEncoder writes it.
        guard e.kubernetes == nil else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(contentsOf: #"{"holders":"#.utf8)
        guard appendArray(e.holders, to: &out) else { return nil }
        out.append(contentsOf: #","mountpoints":"#.utf8)
        guard appendArray(e.mountpoints, to: &out) else { return nil }
        if let n = e.openCount {
            out.append(contentsOf: #","openCount":"#.utf8)
            out.append(contentsOf: String(n).utf8)
        }
        if let p = e.probe {
            // ProbeResult keys in byte order: detail, outcome, stuckAfterKill, stuckPID.
            out.append(contentsOf: #","probe":{"#.utf8)
            if let d = p.detail {
                out.append(contentsOf: #""detail":"#.utf8)
                guard appendString(d, to: &out) else { return nil }
                out.append(UInt8(ascii: ","))
            }
            out.append(contentsOf: #""outcome":"#.utf8)
            guard appendString(p.outcome.rawValue, to: &out) else { return nil }
            if let k = p.stuckAfterKill {
                out.append(contentsOf: #","stuckAfterKill":"#.utf8)
                out.append(contentsOf: (k ? "true" : "false").utf8)
            }
            if let pid = p.stuckPID {
                out.append(contentsOf: #","stuckPID":"#.utf8)
                out.append(contentsOf: String(pid).utf8)
            }
            out.append(UInt8(ascii: "}"))
        }
        if let q = e.queueing {
            out.append(contentsOf: #","queueing":"#.utf8)
            guard appendString(q, to: &out) else { return nil }
        }
        out.append(contentsOf: #","slaves":"#.utf8)
        guard appendArray(e.slaves, to: &out) else { return nil }
        out.append(contentsOf: #","sysfsStates":{"#.utf8)
        var first = true
        for key in e.sysfsStates.keys.sorted() {
            guard !key.isEmpty, key.utf8.allSatisfy({ $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) else { return nil }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            guard appendString(key, to: &out) else { return nil }
            out.append(UInt8(ascii: ":"))
            guard appendString(e.sysfsStates[key]!.rawValue, to: &out) else { return nil }
        }
        out.append(contentsOf: "}}".utf8)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendArray(_ items: [String], to out: inout [UInt8]) -> Bool {
        out.append(UInt8(ascii: "["))
        for (i, s) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard appendString(s, to: &out) else { return false }
        }
        out.append(UInt8(ascii: "]"))
        return true
    }

    /// JSONEncoder's escaping for printable ASCII: `"` `\` and `/` get a backslash.
    /// False (caller falls back) for control characters and non-ASCII.
    static func appendString(_ s: String, to out: inout [UInt8]) -> Bool {
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            guard c >= 0x20, c < 0x7F else { return false }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c == UInt8(ascii: "/") { out.append(UInt8(ascii: "\\")) }
            out.append(c)
        }
        out.append(UInt8(ascii: "\""))
        return true
    }
}
