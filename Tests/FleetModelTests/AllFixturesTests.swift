import Foundation
import Testing
import FleetModel
import FleetTestSupport

/// Every file under fixtures/real goes through the parser for its command and
/// parses without a single warning; files fleet does not parse are listed by name, so a
/// new capture kind fails here until someone decides.
@Suite struct AllFixturesTests {
    /// Captures of commands fleet never runs or never parses (actions' outputs, lab metadata,
    /// other tools). Matched after replacing sdX / dm-N.
    static let notParsed: Set<String> = [
        "_lab-luns.txt", "meta.tsv", "versions.txt", "MANIFEST.md",
        "delete-sdX.txt", "multipath-f.txt", "multipath-f-first.txt", "multipath-f-first.stderr.txt",
        "multipathd-disablequeueing.txt", "dmsetup-table.txt", "iscsiadm-session.txt", "iscsiadm-session-P3.txt",
        "lsscsi.txt", "multipathd-show-maps.txt", "multipathd-show-paths.txt", "multipathd-show-paths-format.txt",
        "multipathd-show-paths-raw-format.txt", "ps-grep-dd.txt", "dd-dm-N.txt",
        // hung-openers*: per-opener /proc files and other tools' views of the same openers
        // (lsof and fuser are not installed on the node: their files say so).
        "multipath-f-map.txt", "multipath-ll-after-flush.stderr.txt", "lsof-dm.txt", "fuser-dm.txt",
        "find-proc-fd-lname-dev.txt", "ps-openers.txt",
    ]

    /// Matched after replacing sdX / dm-N and an opener's pid (`proc-5733-stat.txt` → `proc-PID-stat.txt`).
    static func kind(_ name: String) -> String {
        name.replacingOccurrences(of: #"sd[a-z]+"#, with: "sdX", options: .regularExpression)
            .replacingOccurrences(of: #"dm-[0-9]+"#, with: "dm-N", options: .regularExpression)
            .replacingOccurrences(of: #"^proc-[0-9]+-"#, with: "proc-PID-", options: .regularExpression)
    }

    /// Warnings from the parser that owns this file kind; nil when fleet does not parse it.
    static func warnings(kind: String, text: String) -> [ParseWarning]? {
        switch kind {
        case "multipath-ll.txt", "multipath-ll-v2.txt", "multipath-ll-map.txt", "multipath-ll-after-flush.txt":
            return MultipathParser.parse(text).warnings
        case "multipathd-show-maps-json.txt": return MultipathdJSONParser.parse(text).warnings
        case "dmsetup-info-c.txt", "dmsetup-info-c-map.txt": return DmsetupInfoParser.parse(text).warnings
        case "dmsetup-status.txt": return DmsetupStatusParser.parse(text).warnings
        case "lsblk-json.txt": return LsblkParser.parse(text).warnings
        case "ls-sys-block.txt", "ls-dev-disk-by-id.txt": return SymlinkListingParser.parse(text).warnings
        case "sys-block-sdX-device-state.txt": return DeviceStateParser.parse(text).warnings
        case "sys-block-dm-N-slaves-holders.txt": return SlavesHoldersParser.parse(text).warnings
        case "sys-block-dm-N-dm-name-uuid.txt": return DMNameUUIDParser.parse(text).warnings
        case "ps-dd-wchan.txt": return PsParser.parse(text).warnings
        // Who holds the maps open (hung-openers*): the same facts the discovery's openers section carries.
        case "proc-fd-block-links.txt": return ProcFDLinksParser.parse(text).warnings
        case "proc-PID-stat.txt": return ProcStatParser.parse(text).warnings
        case "proc-PID-status.txt": return ProcStatusParser.parse(text).warnings
        case "proc-PID-fdinfo.txt": return FdinfoParser.parseBlocks(text).warnings
        case "proc-PID-cmdline.txt": return CmdlineParser.parse(text).isEmpty ? [ParseWarning(line: 1, text: "empty cmdline")] : []
        case "proc-PID-comm.txt", "proc-PID-wchan.txt":
            // One word, no parser of its own: the kernel's name / wait channel.
            return TextCount.lines(text) == 1 ? [] : [ParseWarning(line: 1, text: "not one line")]
        case "dd-dm-N.stderr.txt":
            return []  // needs its exit code: checked by everyProbeOutcome
        case "multipath-ll.stderr.txt", "multipath-ll-v2.stderr.txt", "multipath-ll-map.stderr.txt",
             "multipath-ll-after-flush.stderr.txt":
            // multipath's stderr is log lines only: each becomes a warning, no map appears.
            let r = MultipathParser.parse(text)
            return r.maps.isEmpty && r.warnings.count == TextCount.lines(text) ? [] : r.warnings
        default: return nil
        }
    }

    @Test func everyFileParsesCleanly() throws {
        var parsed = 0
        for state in try Fixtures.realStates() {
            for (name, text) in try Fixtures.realFiles(state) {
                let k = Self.kind(name)
                if let w = Self.warnings(kind: k, text: text) {
                    parsed += 1
                    #expect(w.isEmpty, "\(state)/\(name): \(w)")
                } else {
                    #expect(Self.notParsed.contains(k),
                            "\(state)/\(name): no parser and not listed as unparsed")
                }
            }
        }
        #expect(parsed >= 340)
    }

    /// The probe of every capture, with its exit code from meta.tsv, per MANIFEST.md.
    @Test func everyProbeOutcome() throws {
        let special: [String: [String: ProbeOutcome]] = [
            "residual": ["dm-0": .ioError], "mixed": ["dm-0": .ioError, "dm-2": .hung],
            "hung": ["dm-2": .hung], "residual-retry-queueing": ["dm-0": .hung], "residual-retry-expired": ["dm-0": .ioError],
            // meta.tsv: dd-dm-0 137 after 15 s (queueing LUN 2), dd-dm-2 1 (LUN 1, no_path_retry fail).
            "hung-openers": ["dm-0": .hung, "dm-2": .ioError],
        ]
        var count = 0
        for state in try Fixtures.realStates() {
            let snap = NodeSnapshot(outputs: try Fixtures.realOutputs(state))
            for (dm, p) in snap.probes {
                count += 1
                #expect(p.outcome == special[state]?[dm.rawValue] ?? .readOK, "\(state) \(dm)")
            }
        }
        #expect(count == 46)
    }

    /// Every capture folder loads into a snapshot without warnings, every multipath map
    /// found there has a WWID and dm name, and the dm name/uuid files agree with multipath.
    @Test func snapshotsAgreeWithSysfs() throws {
        // Open counts other than 0, read from each state's dmsetup-info-c.txt and MANIFEST.md:
        // hung-openers' mpatha is held by a stuck dd, blkid and the capture's own probe,
        // mpathc by a sleeping process with a read-write fd.
        let openCounts: [String: [String: Int]] = ["hung-openers": ["mpatha": 3, "mpathc": 1]]
        var checked = 0
        for state in try Fixtures.realStates() where !state.hasPrefix("cleanup") {
            let files = try Fixtures.realFiles(state)
            // hung-openers-after-disablequeueing is a partial capture (openers and maps only, no sysfs).
            guard files["ls-sys-block.txt"] != nil else { continue }
            checked += 1
            let snap = NodeSnapshot(outputs: try Fixtures.realOutputs(state))
            #expect(snap.warnings.isEmpty, "\(state): \(snap.warnings)")
            #expect(!snap.maps.isEmpty, "\(state)")
            for m in snap.maps {
                let dm = try #require(m.dm.flatMap(DMDeviceName.init), "\(state) \(m.name ?? "")")
                #expect(snap.nameUUID(of: dm)?.wwid == m.wwid, "\(state) \(dm)")
                #expect(snap.nameUUID(of: dm)?.name == m.name, "\(state) \(dm)")
                #expect(Set(snap.slaves(of: dm) ?? []) == Set(m.paths.compactMap(\.dev)), "\(state) \(dm)")
                #expect(snap.openCount(of: m) == openCounts[state]?[m.name ?? ""] ?? 0, "\(state) \(dm)")
                #expect(snap.queueing(of: m) != nil, "\(state) \(dm)")
            }
        }
        #expect(checked == 12)  // 15 state folders less cleanup-hung, cleanup-residual and the partial one
    }
}

enum TextCount {
    static func lines(_ s: String) -> Int {
        s.split(separator: "\n", omittingEmptySubsequences: true).filter { !$0.allSatisfy(\.isWhitespace) }.count
    }
}
