import Foundation
import FleetRollout
import FleetTestSupport
import Testing
@testable import FleetCLI

/// README's "Exit codes" table against the one table in code (``ExitStatus``): every code,
/// every subcommand column, and which codes each subcommand can exit with. A code added or
/// given to another subcommand without its README row fails here.
@Suite struct ExitStatusTests {
    /// The README's table: subcommand names from the header, one (code, cells) per row.
    static func readmeTable() throws -> (commands: [String], rows: [(code: Int32, cells: [String])]) {
        let readme = try String(contentsOf: Fixtures.repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(of: "## Exit codes"), "README has no '## Exit codes' section")
        let table = lines[(start + 1)...].drop { !$0.hasPrefix("|") }.prefix { $0.hasPrefix("|") }
        func cells(_ line: String) -> [String] {
            line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let header = try #require(table.first.map(cells))
        #expect(header.first == "code")
        var rows: [(Int32, [String])] = []
        for line in table.dropFirst(2) {
            let c = cells(line)
            let code = try #require(Int32(c[0]), "README exit-code row without a number: \(line)")
            #expect(c.count == header.count, "README row \(code) has \(c.count) cells for \(header.count) columns")
            rows.append((code, Array(c.dropFirst())))
        }
        return (Array(header.dropFirst()), rows)
    }

    @Test func readmeDocumentsExactlyTheCodesOfTheTable() throws {
        let t = try Self.readmeTable()
        #expect(t.rows.map(\.code) == ExitStatus.allCases.map(\.rawValue), "README rows vs ExitStatus cases, in order")
    }

    @Test func readmeColumnsAreTheSubcommandsAndEachListsTheCodesItUses() throws {
        let t = try Self.readmeTable()
        #expect(Set(t.commands) == Set(ExitStatus.Command.allCases.map(\.rawValue)))
        for (i, name) in t.commands.enumerated() {
            guard let command = ExitStatus.Command(rawValue: name) else { continue }
            let documented = Set(t.rows.filter { !["—", "-", ""].contains($0.cells[i]) }.map(\.code))
            let used = Set((ExitStatus.uses[command] ?? []).map(\.rawValue))
            #expect(documented == used, "\(name): README documents \(documented.sorted()), the table says \(used.sorted())")
        }
    }

    @Test func everySubcommandOfTheRootHasARowInTheTable() {
        let names = Fleet.configuration.subcommands.map { $0.configuration.commandName ?? "\($0)".lowercased() }
        #expect(Set(names) == Set(ExitStatus.Command.allCases.map(\.rawValue)))
    }

    @Test func sweepPrecedenceHistoryThenCleanThenScan() {
        let failedClean = ExitStatus.maxFailures
        #expect(SweepRun.exitStatus(scanStoreFailed: true, cleanFailed: false, clean: failedClean, nodesFailed: 1, mapsLeft: 1) == .database)
        #expect(SweepRun.exitStatus(scanStoreFailed: false, cleanFailed: false, clean: failedClean, nodesFailed: 1, mapsLeft: 1) == .maxFailures)
        #expect(SweepRun.exitStatus(scanStoreFailed: false, cleanFailed: false, clean: nil, nodesFailed: 1, mapsLeft: 1) == .notScanned)
        #expect(SweepRun.exitStatus(scanStoreFailed: false, cleanFailed: false, clean: nil, nodesFailed: 0, mapsLeft: 1) == .residual)
        #expect(SweepRun.exitStatus(scanStoreFailed: false, cleanFailed: false, clean: nil, nodesFailed: 0, mapsLeft: 0) == .ok)
    }
}
