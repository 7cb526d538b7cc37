import ArgumentParser
import FleetInventory

/// One config-file key (``SweepConfigFile/Key``) bound to the option it sets. The value is
/// converted by the option's own `ExpressibleByArgument` type, the very converter its flag
/// uses, so a file and a command line can never accept different things; it is set only
/// where the command line left the option unset (a ``Sourced`` value not from the command
/// line, a nil optional, a flag not given). Each option group lists its keys once
/// (``NodeAccessOptions/configBindings``, …); a command lifts them to where it holds the
/// group (``lifted(_:)``).
struct ConfigBinding<Root> {
    var key: String
    var apply: (inout Root, SweepConfigFile.Setting, OptionSource) -> ConfigOutcome

    func lifted<Outer>(_ path: WritableKeyPath<Outer, Root>) -> ConfigBinding<Outer> {
        let apply = self.apply
        return ConfigBinding<Outer>(key: key) { outer, setting, source in apply(&outer[keyPath: path], setting, source) }
    }

    static func option<V: ExpressibleByArgument>(_ key: String, _ path: WritableKeyPath<Root, Sourced<V>>) -> Self {
        ConfigBinding(key: key) { root, setting, source in
            guard let value = V(argument: setting.value) else { return .refused }
            guard root[keyPath: path].source != .commandLine else { return .overridden }
            root[keyPath: path] = Sourced(value: value, source: source)
            return .applied
        }
    }

    static func option<V: ExpressibleByArgument>(_ key: String, _ path: WritableKeyPath<Root, Sourced<V>?>) -> Self {
        ConfigBinding(key: key) { root, setting, source in
            guard let value = V(argument: setting.value) else { return .refused }
            guard root[keyPath: path]?.source != .commandLine else { return .overridden }
            root[keyPath: path] = Sourced(value: value, source: source)
            return .applied
        }
    }

    /// `--x/--no-x`: nil until the command line or the file says.
    static func flag(_ key: String, _ path: WritableKeyPath<Root, Bool?>) -> Self {
        ConfigBinding(key: key) { root, setting, _ in
            guard let value = Bool(setting.value) else { return .refused }
            guard root[keyPath: path] == nil else { return .overridden }
            root[keyPath: path] = value
            return .applied
        }
    }
}

/// What ``ConfigBinding/apply`` did with a file's value.
enum ConfigOutcome: Equatable {
    /// The file's value is now the option's.
    case applied
    /// Valid, but the command line gave the option: the command line wins.
    case overridden
    /// The option's converter refused the value.
    case refused
}
