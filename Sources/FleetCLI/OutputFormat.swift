import ArgumentParser

/// `--format` of scan, clean and explain: what stdout gets. (The history listings add csv:
/// ``HistoryFormat``.)
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json
}
