import ArgumentParser
import FleetInventory
import Foundation

/// `fleet sweep --config FILE`: the file's values fill the options the command line left
/// unset, per option: command line > file > built-in default. Each key is bound to its
/// option (``Sweep/configBindings``), converted by the option's own type and checked by the
/// same `validate()`s as the flag (DurationArgument, RolloutPacingOptions,
/// NodeAccessOptions, …); a bad value is reported at the file's line and column, and
/// every value the file set carries that place as its ``OptionSource``.
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

    /// The sweep to run: `commandLine` (the parsed command, with `--config path`) with the
    /// file's values where it left an option unset.
    static func resolve(_ commandLine: Sweep, path: String) throws(Failure) -> (Sweep, SweepConfig) {
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
        let bindings = Sweep.configBindings
        // Every value is checked alone, over the built-in defaults, even one the command
        // line overrides: a mistake in the file is reported at its place before the cron
        // line that hides it changes.
        let defaults: Sweep
        do { defaults = try Sweep.parse(["--config", path]) } catch {
            throw Failure(error: InventoryError(file: path, line: nil, column: nil,
                                                message: "internal: \(Sweep.message(for: error))"), logFormat: hint)
        }
        var merged = commandLine
        var inEffect: [String] = []
        for s in file.settings {
            let source = OptionSource.configFile(path: file.path, line: s.line, column: s.column)
            guard let binding = bindings.first(where: { $0.key == s.key.name }) else {
                throw Failure(error: file.error(s, "\(s.key.name): internal: no option takes this key"), logFormat: hint)
            }
            var alone = defaults
            guard binding.apply(&alone, s, source) == .applied else {
                throw Failure(error: file.error(s, Self.message(for: nil, setting: s)), logFormat: hint)
            }
            do { try alone.validateAll() } catch {
                throw Failure(error: file.error(s, Self.message(for: error, setting: s)), logFormat: hint)
            }
            if binding.apply(&merged, s, source) == .applied { inEffect.append(s.key.name) }
        }
        do {
            try merged.validateAll()
        } catch {
            // Every value passed alone and the command line was checked when parsed: only a
            // combination can fail here. Say so rather than guess a line.
            throw Failure(error: InventoryError(file: path, line: nil, column: nil,
                                                message: "with the command line: \(Sweep.message(for: error))"),
                          logFormat: hint)
        }
        return (merged, SweepConfig(file: file, inEffect: inEffect))
    }

    /// `clean.rate: expected N/s, N/min or N/h, e.g. 30/min (as --rate); found '20/day'`.
    /// `error` is what a `validate()` threw; nil: the option's type refused the value.
    static func message(for error: (any Error)?, setting s: SweepConfigFile.Setting) -> String {
        let parser = error.map { Sweep.message(for: $0) } ?? ""
        // validate()'s own words when they say more than "invalid" (--forks' range, ...)
        // ("--forks must be between 1 and 4096" -> "access.forks: must be between 1 and 4096 (as --forks)")
        for lead in [s.key.flag + ": ", s.key.flag + " "] where parser.hasPrefix(lead) {
            return "\(s.key.name): \(parser.dropFirst(lead.count)) (as \(s.key.flag)); found '\(s.value)'"
        }
        return "\(s.key.name): expected \(s.key.expected) (as \(s.key.flag)); found '\(s.value)'"
    }
}

extension Sweep {
    /// `path` made absolute against the working directory (for the run row: a relative
    /// path means nothing once the shell that ran it is gone).
    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}
