import Foundation
import FleetModel
import FleetStore
import FleetTestSupport
import Testing
@testable import FleetCLI

/// A real `fleet` process writes node results one transaction at a time and is SIGKILLed
/// midway: the database must open, hold every node the child reported committed (with its
/// maps, paths and raw output), and show the run as interrupted.
@Suite struct HistoryKillTests {
    @Test func sigkillMidRunKeepsEveryCommittedNode() throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let dir = NSTemporaryDirectory() + "fleet-kill-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/history.sqlite"

        let child = Process()
        child.executableURL = URL(fileURLWithPath: bin)
        child.arguments = ["history", "synthetic-writer", "--db", path]
        let out = Pipe()
        child.standardOutput = out
        let err = Pipe()
        child.standardError = err
        try child.run()

        // Read until the child has reported 40 committed nodes.
        var text = ""
        var committed: Set<String> = []
        while committed.count < 40 {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty {  // EOF: the writer ended on its own, which it never should
                child.waitUntilExit()
                let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                Issue.record("the writer stopped by itself (status \(child.terminationStatus)): \(text.suffix(300)) \(stderr.suffix(600))")
                return
            }
            text += String(decoding: chunk, as: UTF8.self)
            committed = Self.committedNodes(text)
        }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal && child.terminationStatus == SIGKILL)
        // Lines written before the kill count too.
        text += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        committed = Self.committedNodes(text)
        #expect(committed.count >= 40)

        let db = try FleetDatabase(path: path)
        #expect(try db.consistencyProblems() == [])
        let runs = try db.runs(limit: 0)
        #expect(runs.count == 1)
        let run = try #require(runs.first)
        #expect(run.status == .interrupted)
        #expect(run.endedAt != nil)
        let scans = try db.nodeScans(run: run.id)
        let stored = Set(scans.map(\.node))
        #expect(committed.isSubset(of: stored), "missing: \(committed.subtracting(stored).sorted())")
        // At most the one node committed between its commit and its line.
        #expect(stored.count <= committed.count + 1)
        for s in scans {
            #expect(s.findings.count == 1 && s.findings[0].map.paths.count == 2 && s.outputs.count == 1, "\(s.node) is incomplete")
        }
    }

    static func committedNodes(_ text: String) -> Set<String> {
        // Only whole lines: a line cut by the kill says nothing.
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()
        return Set(lines.compactMap { line in
            line.hasPrefix("committed ") ? String(line.dropFirst("committed ".count)) : nil
        })
    }
}
