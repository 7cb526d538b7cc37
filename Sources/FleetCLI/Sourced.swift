import ArgumentParser
import FleetInventory

/// Where an option's value came from. The command line wins over a config file, a config
/// file over the built-in default; a value equal to the default is still the command
/// line's when the flag was given (`--forks 64` beats the file's `forks: 32`).
enum OptionSource: Hashable, Sendable, CustomStringConvertible {
    case commandLine
    /// The place the value is written: errors about it name this place.
    case configFile(path: String, line: Int, column: Int)
    case builtInDefault

    var description: String {
        switch self {
        case .commandLine: "command line"
        case .configFile(let path, let line, let column): "\(path):\(line):\(column)"
        case .builtInDefault: "default"
        }
    }

    /// An error about the value, at its place in the config file (a command-line or
    /// default value has no place: the caller words that error itself).
    func error(_ message: String) -> InventoryError? {
        guard case .configFile(let path, let line, let column) = self else { return nil }
        return InventoryError(file: path, line: line, column: column, message: message)
    }
}

/// An option value that knows its source, so nothing needs to read the process's
/// arguments to tell a flag the user gave from a default.
///
/// ArgumentParser builds it from a command-line word (`init?(argument:)`: source
/// `.commandLine`) and uses the declared `.default(…)` otherwise; help shows the default
/// and the allowed values exactly as for the bare type. ``ConfigBinding`` sets the
/// values a config file gives, with their file:line:column.
///
///     @Option var forks: Sourced<Int> = .default(64)
///     @Option var rate: Sourced<RateLimit>?          // no default: nil, not given
struct Sourced<Value> {
    var value: Value
    var source: OptionSource

    static func `default`(_ value: Value) -> Self { Sourced(value: value, source: .builtInDefault) }
}

extension Sourced: Sendable where Value: Sendable {}
extension Sourced: Equatable where Value: Equatable {}

extension Sourced: ExpressibleByArgument where Value: ExpressibleByArgument {
    init?(argument: String) {
        guard let value = Value(argument: argument) else { return nil }
        self.init(value: value, source: .commandLine)
    }

    var defaultValueDescription: String {
        // As ArgumentParser shows a bare enum default: its raw value.
        if let v = value as? any CaseIterable & RawRepresentable { return String(describing: v.rawValue) }
        return value.defaultValueDescription
    }

    static var allValueStrings: [String] { Value.allValueStrings }
    static var allValueDescriptions: [String: String] { Value.allValueDescriptions }
    static var defaultCompletionKind: CompletionKind { Value.defaultCompletionKind }
}
