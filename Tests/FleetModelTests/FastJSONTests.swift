import Foundation
import Testing
@testable import FleetModel
import FleetTestSupport

/// The byte reader behind `MultipathdJSONParser` and `LsblkParser` must give exactly what the
/// JSONSerialization reading gives (values and warnings), and take the real captures itself.
@Suite struct FastJSONTests {
    static func realJSON() throws -> [(state: String, name: String, text: String)] {
        var out: [(String, String, String)] = []
        for state in try Fixtures.realStates() {
            let files = try Fixtures.realFiles(state)
            for n in ["multipathd-show-maps-json.txt", "lsblk-json.txt"] { if let t = files[n] { out.append((state, n, t)) } }
        }
        return out
    }

    @Test func realCapturesTakeTheFastPathAndMatchFoundation() throws {
        let docs = try Self.realJSON()
        #expect(docs.count >= 20)
        for d in docs {
            let doc = try #require(FastJSON.parse(Substring(d.text)), "\(d.state)/\(d.name) left the fast path")
            if d.name.hasPrefix("multipathd") {
                #expect((try? MultipathdJSONParser.fastMaps(doc)) != nil, "\(d.state)")
                #expect(MultipathdJSONParser.parse(d.text) == MultipathdJSONParser.parseWithFoundation(d.text), "\(d.state)")
            } else {
                #expect((try? LsblkParser.fastDevices(doc)) != nil, "\(d.state)")
                #expect(LsblkParser.parse(d.text) == LsblkParser.parseWithFoundation(d.text), "\(d.state)")
            }
        }
    }

    /// Values read off real/residual/multipathd-show-maps-json.txt and lsblk-json.txt by eye.
    @Test func residualValues() throws {
        let maps = MultipathdJSONParser.parse(try Fixtures.real("residual", "multipathd-show-maps-json.txt"))
        #expect(maps.warnings.isEmpty)
        let first = try #require(maps.value.first)
        #expect(first.name == "mpathd")
        #expect(first.wwid == "36001405066467663edf050e13a29b6dd")
        #expect(first.dm == "dm-3")
        #expect(first.queueing == "12 chk")
        #expect(first.pathCount == 2)
        #expect(first.features == "1 queue_if_no_path")
        #expect(first.paths.first == MultipathdPath(dev: "sdb", devT: "8:16", dmState: "active", devState: "running", checkerState: "ready"))
        let devs = LsblkParser.parse(try Fixtures.real("residual", "lsblk-json.txt"))
        #expect(devs.warnings.isEmpty)
        let sda = try #require(devs.value.first)
        #expect(sda.name == "sda" && sda.type == "disk" && sda.size == "1G" && sda.hctl == "7:0:0:0")
        #expect(sda.wwn == "0x6001405066467663edf050e13a29b6dd")
        #expect(sda.mountpoints.isEmpty && sda.pkname == nil)
        #expect(sda.children.first?.kname == "dm-3" && sda.children.first?.pkname == "sda")
    }

    /// Inputs at the edges of the subset: each gives what JSONSerialization gives, whether
    /// or not the fast reader takes it.
    @Test(arguments: [
        #"{"maps":[{"name":"a","name":"b","paths":3}]}"#,           // repeated key: last wins
        #"{"maps":[{"name":true}]}"#,                                // bool read as a string
        #"{"maps":[{"name":"x","paths":2.0}]}"#,                     // fraction
        #"{"maps":[{"name":"x","paths":1e2}]}"#,                     // exponent
        #"{"maps":[{"name":"x","paths":12345678901234567890}]}"#,    // > Int
        #"{"maps":[{"name":"x","paths":999999999999999}]}"#,         // 15 digits
        #"{"maps":[{"name":"x","paths":-0}]}"#,
        #"{"maps":[{"name":"x","paths":01}]}"#,                      // leading zero: invalid
        #"{"maps":[{"name":"x",}]}"#,                                // trailing comma
        #"{"maps":[{"name":"x"}],}"#,
        #"{"maps":[{"name":"a\"b\\c\/d\n\u00e9\u20ac"}]}"#,        // escapes
        #"{"maps":[{"name":"\ud83d\ude00"}]}"#,                      // surrogate pair
        #"{"maps":[{"name":"\ud800"}]}"#,                            // lone surrogate
        #"{"maps":[{"name":"x\u0000y"}]}"#,
        "{\"maps\":[{\"name\":\"tab\there\"}]}",                     // raw control character
        "{\"maps\":[{\"name\":\"é\"}]}",                             // raw non-ASCII
        "\u{FEFF}{\"maps\":[]}",                                     // BOM
        #"{"maps":[{"name":"x"}]} trailing"#,
        #"{"maps":[{"name":"x"}]}{}"#,
        #"{"maps":[1,{"name":"x"}]}"#,                               // non-object map
        #"{"maps":{"name":"x"}}"#,                                   // maps not an array
        #"{"maps":[{"name":"x","path_groups":{"paths":[]}}]}"#,
        #"{"maps":[{"name":"x","path_groups":[{"paths":[{"dev":"sda","dev_t":8}]}, 5]}]}"#,
        #"{"maps":[{"name":["x"],"uuid":null,"sysfs":{},"paths":"7"}]}"#,
        #"["maps"]"#, "\"maps\"", "fail", "timeout receiving packet", "{", "[", "{\"maps\":[", "-", "nul", "tru",
        #"{"blockdevices":[{"name":"sda","mountpoint":"/a","mountpoints":["/a","/b",null,"/b"]}]}"#,
        #"{"blockdevices":[{"name":"sda","mountpoints":[1]}]}"#,
        #"{"blockdevices":[{"name":"sda","mountpoints":[false]}]}"#,
        #"{"blockdevices":[{"name":"sda","mountpoint":7,"children":"none"}]}"#,
        #"{"blockdevices":[1,"x",{"name":"sda","children":[null,{"name":"dm-0"}]}]}"#,
        #"{"blockdevices":[{"name":"sda","size":1073741824,"rm":false,"ro":true}]}"#,
        #"{"blockdevices":null}"#,
        String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
        "{\"blockdevices\":[" + String(repeating: "{\"children\":[", count: 20) + String(repeating: "]}", count: 20) + "]}",
        "{\"maps\":[{\"x\":" + String(repeating: "[", count: 31) + String(repeating: "]", count: 31) + "}]}",
        "{\"maps\":[{\"x\":" + String(repeating: "[", count: 30) + String(repeating: "]", count: 30) + "}]}",
    ])
    func edgeInputsMatchFoundation(_ input: String) {
        #expect(MultipathdJSONParser.parse(input) == MultipathdJSONParser.parseWithFoundation(input))
        #expect(LsblkParser.parse(input) == LsblkParser.parseWithFoundation(input))
    }

    /// The subset is real: valid documents with odd but exact content are taken, not all sent back.
    @Test func fastReaderTakesEscapesAndRepeatedKeys() throws {
        let d = try #require(FastJSON.parse(#"{"a":"x\"\\\/\n\u00e9","a":"last","n":-12,"z":[true,null,{}],"\u006e\u0061me":"esc"}"#))
        #expect(try d.string(d.value(d.root, "a")) == "last")
        #expect(try d.int(d.value(d.root, "n")) == -12)
        #expect(try d.string(d.value(d.root, "n")) == "-12")
        #expect(try d.string(d.value(d.root, "name")) == "esc")  // escaped key
        #expect(d.value(d.root, "missing") == nil)
        #expect(throws: FastJSON.Bail.self) { try d.string(FastJSON.Value.bool) }
        let s = try #require(FastJSON.parse(#"{"a":"x\"\\\/\n\u00e9\u20ac"}"#))
        #expect(try s.string(s.value(s.root, "a")) == "x\"\\/\n\u{e9}\u{20ac}")
        #expect(FastJSON.parse(#"{"a":[1,]}"#) == nil)
        #expect(FastJSON.parse(#"{"a":1.5}"#) == nil)
        #expect(FastJSON.parse("{\"a\":\"é\"}") == nil)
        #expect(FastJSON.parse(#"{"a":"\ud800"}"#) == nil)
        #expect(FastJSON.parse(#"{"a":"\q"}"#) == nil)
    }

    /// Real documents, mutated at random (bytes flipped, cut, spliced): both readings agree.
    @Test func mutatedRealDocumentsMatchFoundation() throws {
        var rng = SplitMix64(state: FuzzTests.seed ^ 0xFA57)
        let docs = try Self.realJSON().map(\.text)
        let pieces = ["{", "}", "[", "]", ",", ":", "\"", "\\", "\\u00", "true", "null", "-", "0", "1.5", "1e3", "é", " ", "\n", "\u{0}"]
        var fastTaken = 0
        for i in 0..<4_000 {
            var bytes = Array(docs[Int.random(in: 0..<docs.count, using: &rng)].utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(contentsOf: Array(pieces[Int.random(in: 0..<pieces.count, using: &rng)].utf8), at: at)
                case 2: bytes[at] = UInt8.random(in: 0...127, using: &rng)
                default: if i % 7 == 0 { bytes.removeSubrange(at...) }
                }
                if bytes.isEmpty { bytes = [UInt8(ascii: "{")] }
            }
            let input = String(decoding: bytes, as: UTF8.self)
            if FastJSON.parse(Substring(input)) != nil { fastTaken += 1 }
            #expect(MultipathdJSONParser.parse(input) == MultipathdJSONParser.parseWithFoundation(input), "\(input.prefix(300))")
            #expect(LsblkParser.parse(input) == LsblkParser.parseWithFoundation(input), "\(input.prefix(300))")
        }
        #expect(fastTaken > 500)  // many mutations stay valid JSON: the fast reader was exercised
    }
}

extension FastJSON.Value: Equatable {
    /// Same shape and same byte ranges (enough for `== nil` checks and the tests above).
    public static func == (a: FastJSON.Value, b: FastJSON.Value) -> Bool {
        switch (a, b) {
        case (.string(let x, let y, let e), .string(let x2, let y2, let e2)): return x == x2 && y == y2 && e == e2
        case (.int(let x), .int(let y)): return x == y
        case (.bool, .bool), (.null, .null): return true
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }
}

extension FastJSON.Document: Equatable {
    public static func == (a: FastJSON.Document, b: FastJSON.Document) -> Bool { a.bytes == b.bytes && a.root == b.root }
}
