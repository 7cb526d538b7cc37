import ArgumentParser
import FleetInventory
import Foundation

/// `fleet sweep --config FILE`: turns the file into the flags it stands for and parses them
/// with `fleet sweep`'s own parser, written *before* the command line, so the last
/// occurrence of an option wins: a flag given on the command line overrides the file, the
/// file overrides the built-in default. Values are checked by the very converters and
/// `validate()`s the flags use (DurationArgument, RolloutPacingOptions,
/// NodeAccessOptions); a bad one is reported at the file's line and column.
struct SweepConfig: Sendable {
    var file: SweepConfigFile
    /// The keys whose value the run uses (the command line did not give their flag).
    var inEffect: [String]

    /// What went wrong, and in which log format to say it.
    struct Failure: Error, CustomStringConvertible {
        var error: InventoryError
        /// The file's `log_format`, when it could be read.
        var logFormat: String?
        var description: String { error.description }
    }

    /// The sweep to run: the file's settings, then `commandLine` (what follows `sweep`),
    /// parsed as one command line.
    static func resolve(path: String, commandLine: [String]) throws(Failure) -> (Sweep, SweepConfig) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Failure(error: InventoryError(file: path, line: nil, column: nil,
                                                message: "cannot read sweep config: \(error.localizedDescription)"),
                          logFormat: nil)
        }
        let hint = SweepConfigFile.logFormatHint(text: text)
        let file: SweepConfigFile
        do {
            file = try SweepConfigFile.parse(text: text, file: path)
        } catch {
            throw Failure(error: error, logFormat: hint)
        }
        // Each value alone through the flag's parser: the error then points at its line.
        for s in file.settings {
            do {
                _ = try Sweep.parse(["--config", path] + s.arguments)
            } catch {
                throw Failure(error: file.error(s, Self.message(for: error, setting: s)), logFormat: hint)
            }
        }
        let given = Set(Self.flagsGiven(commandLine))
        let fileArguments = file.settings.flatMap(\.arguments)
        let sweep: Sweep
        do {
            sweep = try Sweep.parse(fileArguments + commandLine)
        } catch {
            // Every value passed alone and the command line parsed before: only a
            // combination can fail here. Say so rather than guess a line.
            throw Failure(error: InventoryError(file: path, line: nil, column: nil,
                                                message: "with the command line: \(Sweep.message(for: error))"),
                          logFormat: hint)
        }
        let inEffect = file.settings.filter { s in !s.key.flags.contains(where: given.contains) }.map(\.key.name)
        return (sweep, SweepConfig(file: file, inEffect: inEffect))
    }

    /// `clean.rate: expected N/s, N/min or N/h, e.g. 30/min (as --rate); found '20/day'`.
    static func message(for error: any Error, setting s: SweepConfigFile.Setting) -> String {
        let parser = Sweep.message(for: error)
        // validate()'s own words when they say more than "invalid" (--forks' range, ...)
        // ("--forks must be between 1 and 4096" -> "access.forks: must be between 1 and 4096 (as --forks)")
        for lead in [s.key.flag + ": ", s.key.flag + " "] where parser.hasPrefix(lead) {
            return "\(s.key.name): \(parser.dropFirst(lead.count)) (as \(s.key.flag)); found '\(s.value)'"
        }
        return "\(s.key.name): expected \(s.key.expected) (as \(s.key.flag)); found '\(s.value)'"
    }

    /// The option names on a command line (`--batch 5` and `--batch=5` both give `--batch`).
    static func flagsGiven(_ commandLine: [String]) -> [String] {
        var out: [String] = []
        for word in commandLine {
            if word == "--" { break }
            guard word.hasPrefix("--") else { continue }
            out.append(String(word.split(separator: "=", maxSplits: 1).first ?? Substring(word)))
        }
        return out
    }

    /// What follows `sweep` on the process's command line (the root command has no options
    /// of its own, so it is everything after `fleet sweep`); nil if the line is not that.
    static func sweepArguments(_ arguments: [String]) -> [String]? {
        guard arguments.count >= 2, arguments[1] == "sweep" else { return nil }
        return Array(arguments.dropFirst(2))
    }
}

extension Sweep {
    /// `path` made absolute against the working directory (for the run row: a relative
    /// path means nothing once the shell that ran it is gone).
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
