import Foundation
import FleetModel

/// The `maps.reasons` / `maps.evidence` JSON text, byte for byte what `JSONEncoder` with
/// `.sortedKeys` writes, without JSONEncoder (perf: it was ~2% of scan CPU, twice per map).
///
/// Written by hand (``EncoderJSON``) only for the common shape: ASCII strings without
/// control characters, and `sysfsStates` keys of lowercase letters only (where every key
/// order JSONEncoder could use is plain byte order). Anything else (and the Kubernetes
/// witness) goes through JSONEncoder as before.
enum StoredJSON {
    static func reasons(_ reasons: [String]) throws -> String {
        var out = EncoderJSON(escapesSlashes: true, capacity: 16 + reasons.reduce(0) { $0 + $1.utf8.count + 3 })
        do { try out.strings(reasons) } catch { return try encoded(reasons) }
        return out.text
    }

    static func evidence(_ e: MapEvidence) throws -> String {
        guard let text = handEncoded(e) else { return try encoded(e) }
        return text
    }

    /// `maps.reasons` read back: ``StoredJSONReader`` for the texts fleet writes (perf),
    /// JSONDecoder for any other; nil when neither reads it.
    static func decodedReasons(_ text: String, _ decoder: JSONDecoder) -> [String]? {
        StoredJSONReader.strings(text) ?? (try? decoder.decode([String].self, from: Data(text.utf8)))
    }

    /// `maps.evidence` read back, as ``decodedReasons(_:_:)``.
    static func decodedEvidence(_ text: String, _ decoder: JSONDecoder) -> MapEvidence? {
        StoredJSONReader.evidence(text) ?? (try? decoder.decode(MapEvidence.self, from: Data(text.utf8)))
    }

    /// `device_reads.outputs` (v0008): the outputs as a JSON array of ``StoredOutput``,
    /// byte for byte what JSONEncoder with `.withoutEscapingSlashes` writes (by hand for
    /// ASCII texts, the encoder for the rest). Slashes unescaped: every command names a path.
    static func outputs(_ outputs: [StoredOutput]) throws -> String {
        var out = EncoderJSON(escapesSlashes: false, escapesLineEnds: true,
                              capacity: 2 + outputs.reduce(0) { $0 + 16 + $1.command.utf8.count + $1.stdout.utf8.count + $1.stderr.utf8.count + $1.captureName.utf8.count })
        do {
            out.raw("[")
            for (i, o) in outputs.enumerated() {
                if i > 0 { out.raw(",") }
                try o.write(to: &out)
            }
            out.raw("]")
        } catch {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            return String(decoding: try encoder.encode(outputs), as: UTF8.self)
        }
        return out.text
    }

    /// `device_reads.outputs` read back, as ``decodedReasons(_:_:)``.
    static func decodedOutputs(_ text: String) -> [StoredOutput]? {
        StoredJSONReader.outputs(text) ?? (try? JSONDecoder().decode([StoredOutput].self, from: Data(text.utf8)))
    }

    /// `output_sets.outputs` read back, as ``decodedReasons(_:_:)``.
    static func decodedIntegers(_ text: String) -> [Int64]? {
        StoredJSONReader.integers(text) ?? (try? JSONDecoder().decode([Int64].self, from: Data(text.utf8)))
    }

    static func encoded(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Keys in byte order: holders, mountpoints, openCount, openers, probe, queueing, slaves,
    /// sysfsStates (nil optionals left out, as the synthesized Encodable does).
    static func handEncoded(_ e: MapEvidence) -> String? {
        // The Kubernetes witness is rarer and nested: JSONEncoder writes it.
        guard e.kubernetes == nil else { return nil }
        var out = EncoderJSON(escapesSlashes: true)
        do {
            out.raw(#"{"holders":"#)
            try out.strings(e.holders)
            out.raw(#","mountpoints":"#)
            try out.strings(e.mountpoints)
            if let n = e.openCount {
                out.raw(#","openCount":"#)
                out.int(n)
            }
            if let openers = e.openers {
                // A full discovery reads /proc: every map has a list, and multipathd's path
                // checker holds every path disk open, so most maps' lists are not empty.
                out.raw(#","openers":"#)
                try out.array(openers, opener)
            }
            if let p = e.probe {
                // ProbeResult keys in byte order: detail, outcome, stuckAfterKill, stuckPID.
                out.raw(#","probe":{"#)
                if let d = p.detail {
                    out.raw(#""detail":"#)
                    try out.string(d)
                    out.raw(",")
                }
                out.raw(#""outcome":"#)
                try out.string(p.outcome.rawValue)
                if let k = p.stuckAfterKill {
                    out.raw(#","stuckAfterKill":"#)
                    out.bool(k)
                }
                if let pid = p.stuckPID {
                    out.raw(#","stuckPID":"#)
                    out.int(pid)
                }
                out.raw("}")
            }
            if let q = e.queueing {
                out.raw(#","queueing":"#)
                try out.string(q)
            }
            out.raw(#","slaves":"#)
            try out.strings(e.slaves)
            out.raw(#","sysfsStates":{"#)
            var first = true
            for key in e.sysfsStates.keys.sorted() {
                guard !key.isEmpty, key.utf8.allSatisfy({ $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) else { return nil }
                if !first { out.raw(",") }
                first = false
                try out.string(key)
                out.raw(":")
                try out.string(e.sysfsStates[key]!.rawValue)
            }
            out.raw("}}")
        } catch {
            return nil
        }
        return out.text
    }

    /// A ``MapOpener`` as its synthesized Encodable writes it, keys in byte order: note,
    /// opener {cmdline, comm, fds [{fd, flags, target}], pid, probeNonce, state, wchan}, role.
    static func opener(_ out: inout EncoderJSON, _ m: MapOpener) throws(EncoderJSON.Unsupported) {
        out.raw("{")
        if let note = m.note {
            out.raw(#""note":"#); try out.string(note); out.raw(",")
        }
        let o = m.opener
        out.raw(#""opener":{"#)
        if let cmdline = o.cmdline {
            out.raw(#""cmdline":"#); try out.strings(cmdline); out.raw(",")
        }
        if let comm = o.comm {
            out.raw(#""comm":"#); try out.string(comm); out.raw(",")
        }
        out.raw(#""fds":"#)
        try out.array(o.fds) { (out, fd) throws(EncoderJSON.Unsupported) in
            out.raw(#"{"fd":"#); out.int(fd.fd)
            if let flags = fd.flags { out.raw(#","flags":"#); out.int(flags) }
            out.raw(#","target":"#); try out.string(fd.target)
            out.raw("}")
        }
        out.raw(#","pid":"#); out.int(o.pid)
        if let nonce = o.probeNonce { out.raw(#","probeNonce":"#); try out.string(nonce) }
        if let state = o.state { out.raw(#","state":"#); try out.string(state) }
        if let wchan = o.wchan { out.raw(#","wchan":"#); try out.string(wchan) }
        out.raw(#"},"role":"#); try out.string(m.role.rawValue)
        out.raw("}")
    }
}
