import Foundation
import Testing
import FleetModel
import FleetTestSupport

/// Feeds ≥ 100,000 mutated inputs through every parser, NodeSnapshot and the classifier.
/// "Passes" means: no crash, no hang, and the invariants below hold.
@Suite struct FuzzTests {
    static let seed: UInt64 = {
        if let s = ProcessInfo.processInfo.environment["FLEET_FUZZ_SEED"], let v = UInt64(s) { return v }
        return 0x5EED_F1EE7
    }()

    static let tokens: [String] = [
        "mpatha", "(3600a)", "dm-0", "dm-", "LIO-ORG,lun1", "size=", "features='", "'", "\"", "[", "]", "[size=1G]",
        "`-+-", "|-", "`-", "\\_", "policy='service-time 0'", "prio=", "status=active", "6:0:0:1", "#:#:#:#", "#:#",
        "sdg", "8:96", "failed", "faulty", "running", "i/o", "pending", "transport-offline", " | ", "Jul 16 10:00:00 |",
        "===== paths list =====", "{", "}", "\"maps\":", "\"blockdevices\":", ":", ",", "->", "\\040", "\\", "\t", "\r\n",
        "\n", " ", "0", "-1", "99999999999999999999999", "é", "\u{0}", "/sys/block/dm-0/holders:", "A", "F", "multipath",
    ]

    @Test func mutatedAndGeneratedInputs() throws {
        var rng = SplitMix64(state: Self.seed)
        var corpus: [String] = []
        for state in try Fixtures.realStates() {
            for (name, text) in try Fixtures.realFiles(state) where name.hasSuffix(".txt") { corpus.append(text) }
        }
        #expect(corpus.count > 400)
        let iterations = 100_000
        var maxMaps = 0
        for i in 0..<iterations {
            let input: String
            if i % 5 == 4 {
                input = Self.generate(&rng)
            } else {
                input = Self.mutate(Self.window(corpus[Int.random(in: 0..<corpus.count, using: &rng)], &rng), &rng)
            }
            let r = MultipathParser.parse(input)
            maxMaps = max(maxMaps, r.maps.count)
            let lineCount = input.utf8.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            // Invariants: line numbers point into the input; a map never comes from nowhere.
            #expect(r.warnings.allSatisfy { $0.line >= 1 && $0.line <= lineCount })
            #expect(r.maps.allSatisfy { $0.line >= 1 && $0.line <= lineCount })
            #expect(r.maps.count <= lineCount)
            // Every other parser is cheap: run them all on every input.
            _ = DmsetupInfoParser.parse(input)
            _ = DmsetupStatusParser.parse(input)
            _ = SymlinkListingParser.parse(input)
            _ = ProcMountsParser.parse(input)
            _ = SlavesHoldersParser.parse(input)
            _ = DMNameUUIDParser.parse(input)
            _ = DeviceStateParser.parse(input)
            _ = PsParser.parse(input)
            _ = ProbeParser.parse(stderr: input, exitCode: Int32(truncatingIfNeeded: rng.next() % 140))
            _ = MultipathdJSONParser.parse(input)
            _ = LsblkParser.parse(input)
        }
        #expect(maxMaps > 0)  // the mutations still produce maps: the parser was really exercised
    }

    /// Whole JSON captures, lightly mutated, so the JSON walkers also see valid documents
    /// with odd types and values (the windows above are rarely valid JSON).
    @Test func mutatedWholeJSON() throws {
        var rng = SplitMix64(state: Self.seed ^ 0x15)
        var docs: [String] = []
        for state in try Fixtures.realStates() {
            let files = try Fixtures.realFiles(state)
            for n in ["multipathd-show-maps-json.txt", "lsblk-json.txt"] { if let t = files[n] { docs.append(t) } }
        }
        var valid = 0
        for _ in 0..<3_000 {
            var input = docs[Int.random(in: 0..<docs.count, using: &rng)]
            // Swap one value for another JSON type: keeps the document valid most of the time.
            let swaps = [("\"running\"", "7"), ("null", "[]"), ("\"dm-", "{\"x\":\"dm-"), ("0,", "\"0\","), ("\"1G\"", "null")]
            let (a, b) = swaps[Int.random(in: 0..<swaps.count, using: &rng)]
            if let r = input.range(of: a) { input.replaceSubrange(r, with: b) }
            if Int.random(in: 0..<3, using: &rng) == 0 { input = Self.mutate(input, &rng) }
            let m = MultipathdJSONParser.parse(input), l = LsblkParser.parse(input)
            if !m.value.isEmpty || !l.value.isEmpty { valid += 1 }
        }
        #expect(valid > 500)
    }

    /// Whole snapshots of mutated capture folders through NodeSnapshot + Classifier.
    @Test func mutatedSnapshots() throws {
        var rng = SplitMix64(state: Self.seed ^ 0xABCD)
        let states = try Fixtures.realStates().filter { !$0.hasPrefix("cleanup") }
        let folders = try states.map { try Fixtures.realOutputs($0) }
        for _ in 0..<300 {
            var outs = folders[Int.random(in: 0..<folders.count, using: &rng)]
            for j in outs.indices where Int.random(in: 0..<4, using: &rng) == 0 {
                outs[j].stdout = Self.mutate(outs[j].stdout, &rng)
                if Bool.random(using: &rng) { outs[j].exitCode = [nil, 0, 1, 2, 127, 137][Int.random(in: 0..<6, using: &rng)] }
            }
            let snap = NodeSnapshot(outputs: outs)
            for f in Classifier.classify(snap) {
                // A cleanable verdict always comes with a probe result and a WWID.
                if f.verdict.isCleanable {
                    #expect(f.evidence.probe != nil)
                    #expect(f.map.wwid != nil)
                }
            }
            _ = ExplainReport(snapshot: snap).json()
        }
    }

    /// Up to 60 consecutive lines of a capture (whole file when it is short), so that
    /// 100,000 runs of every parser fit in a debug build's minute.
    static func window(_ text: String, _ rng: inout SplitMix64) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 60 else { return text }
        let start = Int.random(in: 0..<(lines.count - 1), using: &rng)
        let end = min(lines.count, start + Int.random(in: 1...60, using: &rng))
        return lines[start..<end].joined(separator: "\n")
    }

    static func mutate(_ text: String, _ rng: inout SplitMix64) -> String {
        var bytes = Array(text.utf8)
        let ops = Int.random(in: 1...4, using: &rng)
        for _ in 0..<ops {
            switch Int.random(in: 0..<8, using: &rng) {
            case 0 where !bytes.isEmpty:  // flip a byte
                let k = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[k] ^= UInt8(truncatingIfNeeded: 1 << Int.random(in: 0..<8, using: &rng))
            case 1:  // insert a random byte
                bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
            case 2 where !bytes.isEmpty:  // delete a byte range
                let a = Int.random(in: 0..<bytes.count, using: &rng)
                let b = min(bytes.count, a + Int.random(in: 1...16, using: &rng))
                bytes.removeSubrange(a..<b)
            case 3:  // truncate
                bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
            case 4:  // insert a token
                let t = Array(tokens[Int.random(in: 0..<tokens.count, using: &rng)].utf8)
                bytes.insert(contentsOf: t, at: Int.random(in: 0...bytes.count, using: &rng))
            default:  // line-level: duplicate, delete or swap lines
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
                guard !lines.isEmpty else { break }
                let k = Int.random(in: 0..<lines.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: lines.insert(lines[k], at: Int.random(in: 0...lines.count, using: &rng))
                case 1: lines.remove(at: k)
                default: lines.swapAt(k, Int.random(in: 0..<lines.count, using: &rng))
                }
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func generate(_ rng: inout SplitMix64) -> String {
        var s = ""
        for _ in 0..<Int.random(in: 0...60, using: &rng) {
            s += tokens[Int.random(in: 0..<tokens.count, using: &rng)]
            if Int.random(in: 0..<3, using: &rng) == 0 { s += " " }
        }
        return s
    }
}
