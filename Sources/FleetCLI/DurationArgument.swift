import ArgumentParser
import FleetModel

/// The one duration option type: `7d`, `12h`, `30m`, `1d12h` (see ``DurationParser``), and
/// zero (`0`, `0s`) where an option allows it. Options that need a positive duration say
/// so in their `validate()` through ``requirePositive(_:_:)``.
struct DurationArgument: ExpressibleByArgument, Sendable, CustomStringConvertible {
    var duration: Duration
    /// As typed: what the history records.
    var text: String

    init?(argument: String) {
        guard let d = try? DurationParser.parse(argument, allowingZero: true) else { return nil }
        duration = d; text = argument
    }

    var description: String { text }
    static var defaultCompletionKind: CompletionKind { .default }

    /// `--since 0s` would mean "from now" and `--older-than 0s` "everything": a usage error.
    static func requirePositive(_ value: DurationArgument?, _ name: String) throws {
        if let value, value.duration <= .zero { throw ValidationError("\(name) must be positive") }
    }
}
