import Foundation
import Testing
import FleetModel
import FleetTestSupport
@testable import FleetRollout

/// The discovery script's openers section, run by a real /bin/sh with the real `find`, `od`
/// and `timeout` over a /proc tree built from fixtures/real/hung-openers' own files (stat,
/// wchan, cmdline byte-exact; fdinfo per fd from the captured blocks; fd links as the kernel
/// shows them), then parsed back: the openers must be those of the capture folder.
@Suite struct OpenersScriptTests {
    static let state = "hung-openers"

    func nodeFromCapture(probeNonce: String? = nil) throws -> DiscoveryScriptTests.Node {
        let n = try DiscoveryScriptTests.Node()
        let files = try Fixtures.realFiles(Self.state)
        let links = ProcFDLinksParser.parse(files["proc-fd-block-links.txt"]!).value
        for pid in Set(links.map(\.pid)) {
            for f in ["stat", "wchan", "cmdline"] { try n.file("proc/\(pid)/\(f)", files["proc-\(pid)-\(f).txt"]!) }
            // Lines of the capture's fdinfo blocks, per fd (the `== FD PATH` line is the capture's own).
            var current: String?
            var per: [String: String] = [:]
            for line in files["proc-\(pid)-fdinfo.txt"]!.split(separator: "\n") {
                if line.hasPrefix("== ") { current = String(line.dropFirst(3).split(separator: " ")[0]); continue }
                if let c = current { per[c, default: ""] += line + "\n" }
            }
            for (fd, text) in per { try n.file("proc/\(pid)/fdinfo/\(fd)", text) }
            try n.dir("proc/\(pid)/fd")
            try n.file("proc/\(pid)/environ", "PATH=/usr/bin\0" + (pid == 6188 ? probeNonce.map { "FLEET_PROBE=\($0)\0" } ?? "" : ""))
        }
        for l in links {
            try FileManager.default.createSymbolicLink(atPath: n.root.appendingPathComponent("proc/\(l.pid)/fd/\(l.fd)").path,
                                                       withDestinationPath: l.target)
        }
        // A process holding only a terminal is not listed.
        try n.dir("proc/301/fd")
        try n.file("proc/301/stat", "301 (bash) S 1 301 301 0 -1 0\n")
        try FileManager.default.createSymbolicLink(atPath: n.root.appendingPathComponent("proc/301/fd/0").path, withDestinationPath: "/dev/ttyS0")
        return n
    }

    @Test func sectionOverTheCapturedProcGivesTheCapturedOpeners() throws {
        let nonce = NodeScript.newNonce()
        let n = try nodeFromCapture(probeNonce: nonce)
        let scriptNonce = NodeScript.newNonce()
        let r = Framing.parse(try n.run(NodeScript.sequence([.openers], nonce: scriptNonce, pauseAfterActions: 0)), nonce: scriptNonce)
        #expect(r.complete)
        let out = try #require(r.outputs.first { $0.command == .openers })
        #expect(out.exitCode == 0, "\(out.stderr)")
        let parsed = OpenersParser.parse(out.stdout)
        #expect(parsed.warnings.isEmpty, "\(parsed.warnings)")
        #expect(parsed.value.incomplete.isEmpty, "\(parsed.value.incomplete)")
        let folder = try #require(NodeSnapshot(outputs: try Fixtures.realOutputs(Self.state)).openersCapture)
        // Same facts, fds in the kernel's order per process; only the marked dd has a nonce.
        var expected = folder.openers
        for i in expected.indices where expected[i].pid == 6188 { expected[i].probeNonce = nonce }
        func norm(_ os: [Opener]) -> [Opener] {
            os.sorted { $0.pid < $1.pid }.map { var o = $0; o.fds.sort { $0.fd < $1.fd }; return o }
        }
        #expect(norm(parsed.value.openers) == norm(expected))
    }

    @Test func aFindThatCannotRunMakesTheListIncomplete() throws {
        let n = try nodeFromCapture()
        try n.stub("find", "echo 'find: unknown predicate -printf' >&2; exit 1")
        let nonce = NodeScript.newNonce()
        let r = Framing.parse(try n.run(NodeScript.sequence([.openers], nonce: nonce, pauseAfterActions: 0)), nonce: nonce)
        let out = try #require(r.outputs.first { $0.command == .openers })
        let parsed = OpenersParser.parse(out.stdout).value
        #expect(parsed.openers.isEmpty)
        #expect(parsed.incomplete == ["find: find: unknown predicate -printf"])
    }
}
