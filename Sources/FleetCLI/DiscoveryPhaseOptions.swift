import ArgumentParser
import FleetRollout

/// When a node gets the full discovery although phase 1 could carry its last state (issue
/// #17, docs/scan.md "Two phases"): shared by scan and sweep, so both name, default and
/// record these the same way.
struct DiscoveryPhaseOptions: ParsableArguments {
    // Nil until the command line or a config file says (a Bool flag cannot tell "not given").
    @Flag(inversion: .prefixedNo, exclusivity: .chooseLast,
          help: "Run the full discovery on every node, even where phase 1 (multipathd show maps json, each disk's sysfs state and wwid) shows nothing failed and nothing changed since the node's last scan. (default: --no-full)")
    var full: Bool?

    @Option(help: ArgumentHelp(
        "A node whose last full discovery is older than this gets the full discovery again, even where phase 1 would carry its state.",
        discussion: "Phase 1 does not read mounts, holders, openers or kubelet's staging records: they never change the verdict of a map whose paths are all active, but the evidence carried with it (what `fleet explain` shows) is only as fresh as the last full discovery. The default, 24h, keeps that evidence at most a day old and costs an hourly sweep one full discovery per node per day (about 1 run in 24); for a daily sweep, use more than a day (e.g. 7d), or every sweep is a full one.",
        valueName: "duration"))
    var fullAfter: Sourced<DurationArgument> = .default(DurationArgument(argument: "24h")!)

    func validate() throws {
        try DurationArgument.requirePositive(fullAfter.value, "--full-after")
    }

    /// `scan` (the access group's options) with this group's choices.
    func applied(to scan: ScanOptions) -> ScanOptions {
        var s = scan
        s.fullDiscovery = full ?? false
        s.fullAfter = fullAfter.value.duration
        return s
    }

    struct Recorded: Encodable, Sendable {
        var full: Bool
        var fullAfter: String
    }

    var recorded: Recorded { Recorded(full: full ?? false, fullAfter: fullAfter.value.text) }
}

extension DiscoveryPhaseOptions {
    /// The `discovery:` keys of a config file.
    static var configBindings: [ConfigBinding<Self>] {
        [.flag("discovery.full", \.full), .option("discovery.full_after", \.fullAfter)]
    }
}
