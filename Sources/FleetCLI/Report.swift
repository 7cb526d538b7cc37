import ArgumentParser
import Foundation
import FleetReport
import FleetRollout
import FleetStore

/// `fleet report`: the history as one self-contained HTML page.
struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the history as one self-contained HTML page.",
        discussion: """
            One file with inline CSS and SVG, no script and nothing loaded from elsewhere \
            (it opens on an air-gapped admin host, without JavaScript): the latest run \
            (nodes scanned, not reached by reason, maps by verdict, cleaned, failed), a \
            heatmap of residual maps per node over time (worst first), the trend of residual \
            maps and cleanups, the nodes that keep coming back, and per node its maps, \
            verdicts and reasons and the cleanups with their commands, exit codes and \
            outputs, and the latest run's options. Every text that came from a node is \
            shown as text. The file is replaced atomically.

              $ fleet report --out /var/www/fleet/index.html
              $ fleet report --db history.sqlite --since 90d --limit 0 --out report.html

            Exit status: 0 written; 74 the history database is missing or unreadable, or \
            the file cannot be written; 64 usage errors.
            """)

    @OptionGroup var database: DatabaseOptions

    @Option(help: ArgumentHelp("The window of the heatmap, trend and node sections (e.g. 7d, 12h).", valueName: "duration"))
    var since: DurationArgument = DurationArgument(argument: "30d")!

    @Option(help: "At most this many nodes in the heatmap and the node sections, worst first (0: all).")
    var limit: Int = 200

    @Option(help: ArgumentHelp("The HTML file to write.", valueName: "path"))
    var out: String

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or more") }
    }

    func run() async throws {
        let db: FleetDatabase
        do {
            db = try database.openExisting()
        } catch {
            throw FleetOutput.standard.fail(.report, .database, error)
        }
        let now = Date()
        let options = HistoryReport.Options(since: now.addingTimeInterval(-Double(since.duration.components.seconds)),
                                            sinceText: since.text, limit: limit, now: now)
        do {
            try HistoryReport.write(db, options, to: out)
        } catch {
            throw FleetOutput.standard.fail(.report, .database, error)
        }
        FleetOutput.standard.out("wrote \(out)\n")
    }
}
