import Foundation

/// Golden files (ArgumentParser's `assertSnapshot`): `Snapshots/<name>.<ext>` next to the
/// test file. A missing file, or `RECORD_SNAPSHOTS=1`, writes the actual text and fails the
/// test, so a recording is never a pass: read the file against the test's inputs, then run
/// again. Returns nil when the text matches, else what differs.
public enum Snapshots {
    public static func check(_ actual: String, name: String, ext: String, testFile: String = #filePath) -> String? {
        let dir = URL(fileURLWithPath: testFile).deletingLastPathComponent().appendingPathComponent("Snapshots")
        let url = dir.appendingPathComponent("\(name).\(ext)")
        let record = ProcessInfo.processInfo.environment["RECORD_SNAPSHOTS"] == "1"
        guard !record, let expected = try? String(contentsOf: url, encoding: .utf8) else {
            do {
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try actual.write(to: url, atomically: true, encoding: .utf8)
            } catch {
                return "could not record \(url.path): \(error)"
            }
            return "recorded \(url.path): check it against the test's inputs, then run the test again"
        }
        if expected == actual { return nil }
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let i = (0..<min(e.count, a.count)).first { e[$0] != a[$0] } ?? min(e.count, a.count)
        func line(_ l: [Substring]) -> String { i < l.count ? String(l[i]).debugDescription : "(end)" }
        return "\(url.lastPathComponent) differs at line \(i + 1): expected \(line(e)), got \(line(a))"
            + " (RECORD_SNAPSHOTS=1 re-records)"
    }
}
