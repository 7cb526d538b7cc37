import Foundation
import Testing
@testable import FleetModel
import FleetTestSupport

/// The parsers' byte readers (`parseBytes`, ASCII texts only) against their general readings
/// (`parseGeneral`, Substrings and Characters): the same value and the same warnings on every
/// real capture and vendor sample, on random mutations of them (ASCII and not) and on
/// generated token soup. A text the byte reader declines (any non-ASCII byte) must still
/// parse exactly as before.
@Suite struct ByteReaderTests {
    /// Every capture and vendor sample, whatever command it came from: each parser must agree
    /// with itself on text that is not its own too.
    static func corpus() throws -> [String] {
        var out: [String] = []
        for state in try Fixtures.realStates() {
            for (name, text) in try Fixtures.realFiles(state).sorted(by: { $0.key < $1.key }) where name.hasSuffix(".txt") {
                out.append(text)
            }
        }
        let vendor = try FileManager.default.contentsOfDirectory(atPath: Fixtures.vendorRoot.path).sorted()
        for name in vendor where name.hasSuffix(".txt") { out.append(try Fixtures.vendor(name)) }
        return out
    }

    /// Real texts, their mutations (bytes flipped, inserted, cut; lines moved; tokens
    /// spliced in), the same mutations folded to ASCII (so the byte readers see the odd
    /// ones: control characters, `\r`, NUL, broken rows), and generated token soup.
    static func inputs() throws -> [String] {
        let real = try corpus()
        var rng = SplitMix64(state: 0xB17E_5EAD)
        var out = real
        for i in 0..<6_000 {
            let m: String
            if i % 5 == 4 {
                m = FuzzTests.generate(&rng)
            } else {
                m = FuzzTests.mutate(FuzzTests.window(real[Int.random(in: 0..<real.count, using: &rng)], &rng), &rng)
            }
            out.append(m)
            out.append(String(decoding: m.utf8.map { $0 & 0x7F }, as: UTF8.self))
        }
        return out
    }

    /// `parse` (byte reader when it can) equals `parseGeneral` on every input; returns how
    /// many inputs the byte reader read, so a test shows it was really exercised.
    static func agree<V: Equatable>(_ parse: (String) -> V, _ general: (String) -> V, _ bytes: (ASCIIText) -> V,
                                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        var viaBytes = 0
        for text in try inputs() {
            let a = parse(text), b = general(text)
            #expect(a == b, "\(text.debugDescription.prefix(300))", sourceLocation: sourceLocation)
            if let c = ASCIIText.read(text, bytes) {
                viaBytes += 1
                #expect(c == b, sourceLocation: sourceLocation)
            } else {
                #expect(text.utf8.contains { $0 >= 0x80 }, "an ASCII text was declined", sourceLocation: sourceLocation)
            }
        }
        return viaBytes
    }

    @Test func symlinkListings() throws {
        let n = try Self.agree(SymlinkListingParser.parse, SymlinkListingParser.parseGeneral, SymlinkListingParser.parseBytes)
        #expect(n > 6_000)
        // The real listings go through the byte reader and give every line an entry.
        let text = try Fixtures.real("healthy", "ls-sys-block.txt")
        let r = try #require(ASCIIText.read(text, SymlinkListingParser.parseBytes))
        #expect(r.warnings.isEmpty)
        #expect(r.value.count == text.split(separator: "\n").filter { $0.hasPrefix("l") }.count)
        #expect(r.value.contains { $0.name == "dm-0" && $0.target.hasSuffix("/dm-0") })
    }

    @Test func slavesHolders() throws {
        let n = try Self.agree(SlavesHoldersParser.parse, SlavesHoldersParser.parseGeneral, SlavesHoldersParser.parseBytes)
        #expect(n > 6_000)
    }

    @Test func dmsetupStatus() throws {
        let n = try Self.agree(DmsetupStatusParser.parse, DmsetupStatusParser.parseGeneral, DmsetupStatusParser.parseBytes)
        #expect(n > 6_000)
        let r = try #require(ASCIIText.read(try Fixtures.real("residual", "dmsetup-status.txt"), DmsetupStatusParser.parseBytes))
        #expect(r.value.contains { $0.paths?.isEmpty == false })
    }

    /// A name with a non-ASCII letter is read by the general path, as before.
    @Test func nonASCIIFallsBackToTheGeneralReading() {
        let line = "lrwxrwxrwx 1 root root 0 Nov 29 17:07 dé-0 -> ../devices/virtual/block/dm-0\n"
        #expect(ASCIIText.read(line, SymlinkListingParser.parseBytes) == nil)
        #expect(SymlinkListingParser.parse(line).value == [SymlinkEntry(name: "dé-0", target: "../devices/virtual/block/dm-0")])
    }

    @Test func lines() {
        for text in ["", "\n", "a", "a\n", "a\r\nb", "a\n\n\rb\r\r\n", "\r", "x\ny\n"] {
            let general = TextLines.split(text).map { ($0.number, String($0.text)) }
            let bytes = ASCIIText.read(text) { t -> [(Int, String)] in
                var out: [(Int, String)] = []
                var lines = t.lines
                while let (n, r) = lines.next() { out.append((n, t.string(r))) }
                return out
            }!
            #expect(general.map { $0.0 } == bytes.map { $0.0 } && general.map { $0.1 } == bytes.map { $0.1 }, "\(text.debugDescription)")
        }
    }
}

extension ByteReaderTests {
    @Test func multipath() throws {
        let n = try Self.agree(MultipathParser.parse, MultipathParser.parseGeneral, MultipathParser.parseBytes)
        #expect(n > 6_000)
        // Every real `multipath -ll` goes through the byte reader.
        for state in try Fixtures.realStates() {
            guard let text = try Fixtures.realFiles(state)["multipath-ll.txt"] else { continue }
            let r = try #require(ASCIIText.read(text, MultipathParser.parseBytes))
            #expect(r == MultipathParser.parseGeneral(text))
        }
    }

    /// The 0.4.x bracket format, an action prefix, a foreign NVMe header, `i/o pending` and a
    /// header confirmed only by its size line: each branch of the byte reader.
    @Test func multipathShapes() throws {
        let text = """
        create: mpathb (3600a) undef LIO-ORG,lun 2 ,x,y
        size=1.0G features='1 queue_if_no_path' hwhandler='1 alua' wp=rw
        `-+- policy='service-time 0' prio=50 status=active
          `- 6:0:0:1 sdg 8:96 active i/o pending running
        mpath0 (3600b)
        [size=20 GB][features="1 queue_if_no_path"][hwhandler="0"][rw]
        \\_ round-robin 0 [prio=1][active]
         \\_ 2:0:0:1 sdb 8:16 [active][ready]
        uuid.x [nvme]:nvme0n1 NVMe,Model,Rev
        size=1G
        +- 0:1:1 nvme0c0n1 0:0 n/a optimized live
        oddname extra words
        size=2G features='0'
        Jul 16 10:00:00 | sdd: alua not supported
        """
        let r = try #require(ASCIIText.read(text, MultipathParser.parseBytes))
        #expect(r == MultipathParser.parseGeneral(text))
        #expect(r.maps.map(\.name) == ["mpathb", "mpath0", "uuid.x", "oddname"])
        #expect(r.maps[0].product == "lun 2" && r.maps[0].paths.first?.checkerState == .ioPending)
        #expect(r.maps[1].wp == "rw" && r.maps[1].pathGroups.first?.prio == 1)
    }
}

extension ByteReaderTests {
    /// A path disk's sysfs wwid: the byte reading equals the Characters' on the sysfs form
    /// (`naa.` + the WWID without its leading NAA `3`) of every map of every real capture,
    /// and on random values (case, prefixes, lengths, junk).
    @Test func sysfsWWID() throws {
        var values: [String] = []
        for state in try Fixtures.realStates() {
            guard let text = try Fixtures.realFiles(state)["multipath-ll.txt"] else { continue }
            for w in MultipathParser.parse(text).maps.compactMap(\.wwid) where w.hasPrefix("3") && w.utf8.count == 33 {
                values.append("naa.\(w.dropFirst())\n")
                #expect(WWIDRule.wwid(fromSysfs: "naa.\(w.dropFirst())\n") == w)
            }
        }
        #expect(values.count > 10)
        var rng = SplitMix64(state: 0x77_1D)
        let parts = ["naa.", "NAA.", "0x", "0X", "eui.", "EUI.", "t10.", "3", "5", "6", "6001405", "ae3a4a2b307ccf2a",
                     "518e52df9", "F", "g", " ", "\t", "\n", "é", "", "0123456789abcdef"]
        for _ in 0..<20_000 {
            var v = ""
            for _ in 0..<Int.random(in: 1...6, using: &rng) { v += parts[Int.random(in: 0..<parts.count, using: &rng)] }
            values.append(v)
        }
        values += values.prefix(20).map { $0.uppercased() }
        var hits = 0
        for v in values {
            let t = TextLines.trimmedWhitespaceAndNewlines(v)
            let general = WWIDRule.generalWWID(fromSysfs: t)
            #expect(WWIDRule.wwid(fromSysfs: v) == general, "\(v.debugDescription)")
            if t.utf8.allSatisfy({ $0 < 0x80 }) {
                #expect(WWIDRule.asciiWWID(fromSysfs: t) == general, "\(v.debugDescription)")
                if general != nil { hits += 1 }
            }
        }
        #expect(hits > 100)
    }

    /// Every capture name the discovery writes resolves as the general steps resolve it.
    @Test func captureNames() throws {
        var names: [String] = []
        for state in try Fixtures.realStates() {
            names += try Fixtures.realFiles(state).keys.map { String($0.dropLast(4)) }
        }
        names += ["sys-block-sdaa-device-state", "sys-block-dm-12-slaves-holders", "sys-block-dm-0-dm-name-uuid",
                  "sys-block-sdb-device-wwid", "dd-dm-3", "dd-", "sys-block--device-state", "sys-block-sdé-device-state",
                  "sys-block-dm-x-dm-name-uuid", "proc-123-stat", "proc-1-status", "sys-block-device-state"]
        for n in names {
            let fast = ASCIIText.read(n, NodeCommand.perDeviceCommand).flatMap { $0 }
            if let fast { #expect(NodeCommand(captureName: n) == fast && fast.captureName == n, "\(n)") }
        }
        #expect(names.compactMap { ASCIIText.read($0, NodeCommand.perDeviceCommand).flatMap { $0 } }.count > 50)
    }
}

extension ByteReaderTests {
    /// Random short texts over the characters these small readers care about.
    static func soup(_ parts: [String], count: Int, seed: UInt64) -> [String] {
        var rng = SplitMix64(state: seed)
        return (0..<count).map { _ in
            (0..<Int.random(in: 0...5, using: &rng)).map { _ in parts[Int.random(in: 0..<parts.count, using: &rng)] }.joined()
        }
    }

    /// An fd's device from its link text, on every link of every real capture and on soup.
    @Test func openFDDevice() throws {
        var targets: [String] = []
        for state in try Fixtures.realStates() {
            let snap = NodeSnapshot(outputs: try Fixtures.realOutputs(state))
            targets += (snap.openersCapture?.openers ?? []).flatMap { $0.fds.map(\.target) }
        }
        #expect(targets.count > 10)
        targets += Self.soup(["/dev/", "dm-0", "/", "sde", " (deleted)", "mapper/", "mpatha", "é", " ", "(deleted)"],
                             count: 5_000, seed: 0xFD)
        for t in targets {
            let fd = OpenFD(fd: 3, target: t)
            #expect(fd.device == fd.generalDevice, "\(t.debugDescription)")
        }
    }

    @Test func queueingState() {
        let values = ["off", "on", "12 chk", "39 sec", " 5 CHK ", "\t7 sec\t", "on ", "OFF", "12  chk", "x chk", "12 chk sec",
                      "", " ", "1é sec", "12\tchk", "-1 sec"]
            + Self.soup(["1", "23", " ", "\t", "chk", "sec", "SEC", "o", "n", "ff", "é", "\n"], count: 5_000, seed: 0x51)
        for v in values {
            #expect(QueueingState(v) == QueueingState.general(v), "\(v.debugDescription)")
        }
        #expect(QueueingState(" 5 CHK ") == .retrying(" 5 CHK ") && QueueingState("12  chk") == .retrying("12  chk"))
    }

    @Test func caseInsensitiveWWIDs() {
        let values = Self.soup(["36001405", "AE3A", "ae3a", "x", "É", "é", "ß", "SS", ""], count: 400, seed: 0xCA5E)
        for a in values {
            for b in values.prefix(40) {
                #expect(NodeSnapshot.sameIgnoringCase(a, b) == (a.lowercased() == b.lowercased()), "\(a) \(b)")
            }
        }
    }
}

extension ByteReaderTests {
    @Test func dmNameUUID() throws {
        let n = try Self.agree(DMNameUUIDParser.parse, DMNameUUIDParser.parseGeneral, DMNameUUIDParser.parseBytes)
        #expect(n > 6_000)
    }

    @Test func deviceState() throws {
        let n = try Self.agree(DeviceStateParser.parse, DeviceStateParser.parseGeneral, DeviceStateParser.parseBytes)
        #expect(n > 6_000)
        #expect(DeviceStateParser.parse("running\n").value == "running")
    }
}

extension ByteReaderTests {
    @Test func dmsetupInfo() throws {
        let n = try Self.agree(DmsetupInfoParser.parse, DmsetupInfoParser.parseGeneral, DmsetupInfoParser.parseBytes)
        #expect(n > 6_000)
        let r = try #require(ASCIIText.read(try Fixtures.real("residual", "dmsetup-info-c.txt"), DmsetupInfoParser.parseBytes))
        #expect(!r.value.isEmpty && r.value.allSatisfy { $0.openCount != nil })
    }
}

extension ByteReaderTests {
    /// The openers section; the real captures' sections (and their mutations) among the inputs.
    @Test func openers() throws {
        let n = try Self.agree(OpenersParser.parse, OpenersParser.parseGeneral, OpenersParser.parseBytes)
        #expect(n > 6_000)
        let nonce = String(repeating: "ab", count: 16)
        let text = "O 1\nX find exit 137\nP 42 0 \(nonce) 34 32 20 28 64 64 29 20 44 20 31\nC 42 64 64 00\n"
            + "F 42 0 0140000 /dev/dm-0\nF 7 3 - /dev/sdb (deleted)\nF 42 4 0100002 /dev/mapper/mpatha\nQ\n"
        let r = try #require(ASCIIText.read(text, OpenersParser.parseBytes))
        #expect(r == OpenersParser.parseGeneral(text))
        #expect(r.value.openers.map(\.pid) == [42, 7] && r.value.openers[0].fds.count == 2 && r.warnings.count == 1)
        // Generated sections: each line a record letter and fields drawn from what they hold.
        var rng = SplitMix64(state: 0x0BE4)
        let words = ["O", "P", "C", "F", "X", "1", "42", "7", "-", "+5", "99999999999", nonce, "0140000", "0100002", "8",
                     "/dev/dm-0", "/dev/sdb", "(deleted)", "34", "32", "28", "29", "20", "44", "64", "00", "zz", "é", "\t"]
        var sections = 0
        for _ in 0..<3_000 {
            var text = Bool.random(using: &rng) ? "O 1\n" : ""
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                let letter = ["P", "C", "F", "X", "O"][Int.random(in: 0..<5, using: &rng)]
                let fields = (0..<Int.random(in: 0...7, using: &rng)).map { _ in words[Int.random(in: 0..<words.count, using: &rng)] }
                text += ([letter] + fields).joined(separator: " ") + "\n"
            }
            #expect(OpenersParser.parse(text) == OpenersParser.parseGeneral(text), "\(text.debugDescription)")
            if let b = ASCIIText.read(text, OpenersParser.parseBytes) {
                sections += 1
                #expect(b == OpenersParser.parseGeneral(text))
            }
        }
        #expect(sections > 1_000)
    }
}
