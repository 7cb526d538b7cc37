import ArgumentParser
import Foundation
import FleetModel
import FleetRollout
import FleetStore

/// `fleet history …`: read (and prune) the SQLite history that scan, clean and sweep write.
struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Query the scan and clean history.",
        discussion: """
            Reads the SQLite history written by scan, clean and sweep. Listings are newest
            first; every listing takes --format table|json|csv and --limit. Durations: 30m,
            12h, 7d, 2w, 1d12h. Times are ISO 8601 UTC.

              $ fleet history runs --limit 5
              $ fleet history run 42 --format json
              $ fleet history node worker-17 --since 14d
              $ fleet history residuals --since 7d --format csv
              $ fleet history actions --node worker-17
              $ fleet history prune --older-than 90d

            Exit status: 0 ok; 74 the history database is missing or cannot be opened;
            64 usage errors (e.g. an unknown run id or a malformed duration).
            """,
        subcommands: [HistoryRuns.self, HistoryRun.self, HistoryNode.self, HistoryResiduals.self,
                      HistoryActions.self, HistoryPrune.self, HistorySyntheticWriter.self]
    )
}

/// `--format` of the history listings.
enum HistoryFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, csv
}

/// Options every history listing shares.
struct HistoryListingOptions: ParsableArguments {
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Output format: table, json or csv.")
    var format: HistoryFormat = .table

    /// Opens the database, refusing to create one (``DatabaseOptions/openExisting()``).
    func openExisting() throws -> FleetDatabase {
        try database.openExisting()
    }
}

/// A subcommand that renders its output to a string (tests call `render` directly).
protocol HistoryRendering: AsyncParsableCommand {
    var listing: HistoryListingOptions { get }
    func render(_ db: FleetDatabase, now: Date) throws -> String
}

extension HistoryRendering {
    /// Each command's `run()` calls this. (A default `run()` here would lose to
    /// ParsableCommand's own default, which prints help.)
    func renderToStandardOutput(_ ctx: FleetContext = .live()) throws {
        let db: FleetDatabase
        do {
            db = try listing.openExisting()
        } catch let e as StoreError {
            // Same code as scan/clean/sweep for "the history database cannot be opened".
            throw ctx.output.fail(.history, .database, e.message)
        }
        let text = try render(db, now: ctx.now())
        ctx.output.out(text)
    }
}

/// Rows of strings rendered as an aligned table or as CSV (RFC 4180).
struct HistoryTable {
    var columns: [String]
    var rows: [[String]] = []

    func table() -> String {
        guard !rows.isEmpty else { return "(none)\n" }
        var widths = columns.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            var out = ""
            for (i, c) in cells.enumerated() {
                out += i == cells.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count + 2)
            }
            while out.last == " " { out.removeLast() }  // no trailing blanks when the last cells are empty
            return out + "\n"
        }
        return line(columns) + rows.map(line).joined()
    }

    func csv() -> String {
        func field(_ s: String) -> String {
            guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return ([columns] + rows).map { $0.map(field).joined(separator: ",") + "\r\n" }.joined()
    }

    func render(_ format: HistoryFormat, json: () throws -> String) rethrows -> String {
        switch format {
        case .table: table()
        case .csv: csv()
        case .json: try json()
        }
    }
}

enum HistoryJSON {
    /// snake_case keys (as in the SQL schema), ISO 8601 UTC dates, sorted keys.
    static func encode(_ value: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer(); try c.encode(ISOTime.format(date))
        }
        return String(decoding: try e.encode(value), as: UTF8.self) + "\n"
    }
}

extension HistoryTable {
    /// Table/CSV cells: empty for nil, ISO 8601 UTC for dates.
    static func cell(_ v: (any CustomStringConvertible)?) -> String { v.map(\.description) ?? "" }
    static func time(_ d: Date?) -> String { d.map(ISOTime.format) ?? "" }
}
