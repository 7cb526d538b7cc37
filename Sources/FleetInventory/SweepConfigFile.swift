import Foundation
import Yams

/// `fleet sweep --config FILE`: the sweep's options written once, for a short cron line or
/// systemd unit and one file to review.
///
///     inventory: nodes.yaml            # relative paths: relative to this file's folder
///     db: /var/lib/fleet/history.sqlite
///     log_format: json
///     clean: {enabled: true, confirm_after: 10m, batch: "1,5,25%", rate: 20/min}
///     access: {forks: 64, connect_timeout: 10s}
///
/// Every key stands for one `fleet sweep` flag (``keys``) and takes that flag's own value
/// syntax. This type only reads the YAML, checks keys and value types, and keeps where each
/// value was written; the values themselves are checked by the flags' own parsers (FleetCLI),
/// so a file and a command line can never accept different things. Errors are
/// ``InventoryError``s: `FILE:LINE:COLUMN: message`, like the inventory's.
public struct SweepConfigFile: Sendable, Hashable {
    /// The YAML type a key takes.
    public enum Kind: Sendable, Hashable {
        /// A file path: `~` is `$HOME`, a relative path is relative to the config file's folder.
        case path
        /// A string (numbers allowed: `batch: 10`, `max_failures: 3`).
        case text
        /// A whole number.
        case integer
        /// true or false: `--flag` or `--no-flag`.
        case boolean
        /// A duration as the flag takes it (`30s`, `10m`, `1h`); a plain `0` is passed on too.
        case duration
        /// One of a few words.
        case choice([String])
    }

    /// One key of the file and the flag it stands for.
    public struct Key: Sendable, Hashable {
        /// Dotted: `clean.batch`.
        public var name: String
        /// `--batch`; for a boolean, the flag `true` gives (`false` gives `--no-…`).
        public var flag: String
        public var kind: Kind
        /// What a value looks like, for error messages.
        public var expected: String

        /// Both spellings of a boolean flag, the one flag otherwise.
        public var flags: [String] {
            kind == .boolean ? [flag, "--no-" + flag.dropFirst(2)] : [flag]
        }
    }

    /// One key as written in the file.
    public struct Setting: Sendable, Hashable {
        public var key: Key
        /// The value as the flag takes it: a path already resolved, a boolean as `true`/`false`.
        public var value: String
        public var line: Int
        public var column: Int

        /// The command-line words for this setting: `--batch=10`, `--clean`, `--no-clean`.
        /// (`=` keeps a value that starts with `-` or `!` a value.)
        public var arguments: [String] {
            if key.kind == .boolean { return [value == "true" ? key.flag : key.flags[1]] }
            return ["\(key.flag)=\(value)"]
        }
    }

    /// The file as given (named in errors).
    public var path: String
    /// The file's settings, in file order.
    public var settings: [Setting]

    public init(path: String, settings: [Setting]) {
        self.path = path; self.settings = settings
    }

    public func setting(_ name: String) -> Setting? {
        settings.first { $0.key.name == name }
    }

    /// An error about `setting`, at the place its value was written.
    public func error(_ setting: Setting, _ message: String) -> InventoryError {
        InventoryError(file: path, line: setting.line, column: setting.column, message: message)
    }

    static let duration = "a duration: a number and a unit (s, m, h, d, w), e.g. 30s, 10m, 1h"

    /// Every key the file may hold. Sections are `clean` (what `--clean` does and how fast),
    /// `access` (how nodes are reached), `kubernetes` (how the API is asked) and `discovery`
    /// (when a node gets the full discovery); the rest are top-level.
    public static let keys: [Key] = [
        Key(name: "inventory", flag: "--inventory", kind: .path, expected: "the inventory file's path"),
        Key(name: "limit", flag: "--limit", kind: .text, expected: "a node selection such as 'rack-a,!node-7'"),
        Key(name: "db", flag: "--db", kind: .path, expected: "the history database's path"),
        Key(name: "lock", flag: "--lock", kind: .path, expected: "the run lock file's path"),
        Key(name: "log_format", flag: "--log-format", kind: .choice(["text", "json"]), expected: "text or json"),
        Key(name: "metrics_file", flag: "--metrics-file", kind: .path, expected: "the Prometheus textfile's path"),
        Key(name: "report", flag: "--report", kind: .path, expected: "the HTML report's path"),
        Key(name: "clean.enabled", flag: "--clean", kind: .boolean, expected: "true or false"),
        Key(name: "clean.confirm_after", flag: "--confirm-after", kind: .duration, expected: duration + " (0s allowed)"),
        Key(name: "clean.batch", flag: "--batch", kind: .text, expected: "e.g. 1,5,25% (positive counts, percentages 1-100)"),
        Key(name: "clean.max_in_flight", flag: "--max-in-flight", kind: .integer, expected: "a whole number, at least 1"),
        Key(name: "clean.rate", flag: "--rate", kind: .text, expected: "N/s, N/min or N/h, e.g. 30/min"),
        Key(name: "clean.pause", flag: "--pause", kind: .duration, expected: duration + " (0s allowed)"),
        Key(name: "clean.max_failures", flag: "--max-failures", kind: .text, expected: "N or P%, e.g. 3 or 10%"),
        Key(name: "access.forks", flag: "--forks", kind: .integer, expected: "a whole number 1-4096"),
        Key(name: "access.connect_timeout", flag: "--connect-timeout", kind: .duration, expected: duration),
        Key(name: "access.command_timeout", flag: "--command-timeout", kind: .duration, expected: duration),
        Key(name: "access.probe_timeout", flag: "--probe-timeout", kind: .duration, expected: duration),
        Key(name: "access.host_key_policy", flag: "--host-key-policy", kind: .choice(["strict", "accept-new"]),
            expected: "strict or accept-new"),
        // Text, not a path: `none` must reach --ssh-config as is (an absolute path is best).
        Key(name: "access.ssh_config", flag: "--ssh-config", kind: .text, expected: "an ssh_config file path, or none"),
        Key(name: "access.jump", flag: "--jump", kind: .text, expected: "jump hosts as ssh -J takes them: [user@]host[:port],…"),
        Key(name: "kubernetes.enabled", flag: "--kubernetes", kind: .boolean, expected: "true or false"),
        Key(name: "kubernetes.kubeconfig", flag: "--kubeconfig", kind: .path, expected: "the kubeconfig file's path"),
        Key(name: "kubernetes.context", flag: "--context", kind: .text, expected: "a kubeconfig context name"),
        Key(name: "kubernetes.kubectl", flag: "--kubectl", kind: .text, expected: "the kubectl to run (a path or a name in PATH)"),
        Key(name: "kubernetes.rules", flag: "--kubernetes-rules", kind: .path, expected: "a JSON file of WWID rules"),
        Key(name: "kubernetes.node_label", flag: "--kubernetes-node-label", kind: .text, expected: "an inventory label name"),
        Key(name: "kubernetes.timeout", flag: "--kubernetes-timeout", kind: .duration, expected: duration),
        Key(name: "discovery.full", flag: "--full", kind: .boolean, expected: "true or false"),
        Key(name: "discovery.full_after", flag: "--full-after", kind: .duration, expected: duration),
    ]

    static let sections = ["clean", "access", "kubernetes", "discovery"]

    /// Parses config text; `file` names it in errors and anchors relative paths.
    public static func parse(text: String, file: String) throws(InventoryError) -> SweepConfigFile {
        let y = YAMLReader(file: file)
        let topKeys = keys.map(\.name).filter { !$0.contains(".") } + sections
        guard let root = try y.compose(text) else {
            throw InventoryError(file: file, line: 1, column: 1,
                                 message: "empty sweep config: expected a mapping with \(topKeys.joined(separator: ", "))")
        }
        guard case .mapping = root else {
            throw y.error(root, "sweep config: expected a mapping with \(topKeys.joined(separator: ", ")), found \(y.kind(root))")
        }
        var settings: [Setting] = []
        for (k, kn, v) in try y.mapping(root, "sweep config") {
            if sections.contains(k) {
                let known = keys.filter { $0.name.hasPrefix(k + ".") }.map { String($0.name.dropFirst(k.count + 1)) }
                for (ck, ckn, cv) in try y.mapping(v, k) {
                    guard let key = keys.first(where: { $0.name == "\(k).\(ck)" }) else {
                        throw misplaced(ckn, ck, in: k, here: "\(k).\(ck)", known: known, y: y)
                    }
                    settings.append(try setting(key, cv, y: y))
                }
            } else if let key = keys.first(where: { $0.name == k }) {
                settings.append(try setting(key, v, y: y))
            } else {
                throw misplaced(kn, k, in: "sweep config", here: k, known: topKeys, y: y)
            }
        }
        return SweepConfigFile(path: file, settings: settings)
    }

    /// The top-level `log_format` if the text has a readable one, else nil: lets an error
    /// about the rest of the file still be logged in the format the operator asked for.
    public static func logFormatHint(text: String) -> String? {
        guard let root = try? Yams.compose(yaml: text), case .mapping(let m) = root,
              let v = m["log_format"], case .scalar(let s) = v else { return nil }
        return s.string
    }

    /// An unknown key; when it is a key of another level (`batch` at the top), says where it goes.
    static func misplaced(_ keyNode: Node, _ key: String, in what: String, here: String, known: [String],
                          y: YAMLReader) -> InventoryError {
        if let elsewhere = keys.first(where: { $0.name.split(separator: ".").last.map(String.init) == key && $0.name != here }) {
            let section = elsewhere.name.split(separator: ".").first.map(String.init) ?? ""
            let place = elsewhere.name.contains(".") ? "under '\(section):'" : "at the top level"
            return y.error(keyNode, "\(what): unknown key '\(key)'; '\(key)' belongs \(place) (\(elsewhere.name))")
        }
        return y.unknownKey(keyNode, key, in: what, known: known)
    }

    static func setting(_ key: Key, _ v: Node, y: YAMLReader) throws(InventoryError) -> Setting {
        let isNull = v.tag.rawValue == Tag.Name.null.rawValue
        let tag = v.tag.rawValue
        func wrongType() -> InventoryError {
            let found = isNull ? "nothing" : "\(y.kind(v))\(v.scalar.map { " '\($0.string)'" } ?? "")"
            return y.error(v, "\(key.name): expected \(key.expected), found \(found)")
        }
        guard case .scalar(let s) = v, !isNull else { throw wrongType() }
        let isString = tag == Tag.Name.str.rawValue, isInt = tag == Tag.Name.int.rawValue
        let value: String
        switch key.kind {
        case .path:
            guard isString, !s.string.trimmingCharacters(in: .whitespaces).isEmpty else { throw wrongType() }
            value = y.expand(s.string.trimmingCharacters(in: .whitespaces))
        case .text, .duration:
            guard isString || isInt, !s.string.trimmingCharacters(in: .whitespaces).isEmpty else { throw wrongType() }
            value = s.string
        case .integer:
            guard isInt, v.int != nil else { throw wrongType() }
            value = s.string
        case .boolean:
            guard let b = v.bool else { throw wrongType() }
            value = b ? "true" : "false"
        case .choice(let words):
            guard isString, words.contains(s.string) else { throw wrongType() }
            value = s.string
        }
        return Setting(key: key, value: value, line: v.mark?.line ?? 0, column: v.mark?.column ?? 0)
    }
}
