import Foundation
import GRDB

/// `fixtures/history-v0001`: a history database written by fleet before issue 17 (schema
/// v0001 only; 8 farm nodes of the demo scenario plus an unreachable one: scan, clean
/// --execute, scan, then two scans with node-0002's second map failed), as a `sqlite3 .dump`,
/// and what that fleet printed for each `fleet history` query (NN.out, commands.txt).
public enum HistoryV0001 {
    public static var root: URL { Fixtures.repoRoot.appendingPathComponent("fixtures/history-v0001") }

    /// Writes the version-1 database to `path` (a new file), exactly as the old fleet left it.
    public static func load(into path: String) throws {
        let dump = try String(contentsOf: root.appendingPathComponent("history.sql"), encoding: .utf8)
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { try $0.execute(sql: dump) }
        try queue.close()
    }

    /// (arguments after `fleet history`, what the version-1 fleet printed), in commands.txt order.
    public static func goldenQueries() throws -> [(args: [String], output: String)] {
        let list = try String(contentsOf: root.appendingPathComponent("commands.txt"), encoding: .utf8)
        return try list.split(separator: "\n").map { line in
            let words = line.split(separator: " ").map(String.init)
            let out = try String(contentsOf: root.appendingPathComponent(words[0] + ".out"), encoding: .utf8)
            return (Array(words.dropFirst()), out)
        }
    }
}
