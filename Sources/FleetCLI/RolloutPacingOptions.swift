import ArgumentParser
import FleetRollout

/// When a map may be cleaned and how fast nodes are cleaned: shared by `fleet clean` and
/// `fleet sweep --clean`, so the unattended path paces exactly like the manual one.
struct RolloutPacingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A map is cleaned only once two scans at least this far apart saw every path failed (an earlier scan in the history counts).", valueName: "duration"))
    var confirmAfter: CleanDuration = CleanDuration(argument: "5m")!

    @Option(help: ArgumentHelp("Batch ramp: counts or percentages of the nodes left; the last repeats.", valueName: "ramp"))
    var batch: String = "1,5,25%"

    @Option(help: "Nodes cleaned at the same time.")
    var maxInFlight: Int = 8

    @Option(help: ArgumentHelp("Node cleanups started per unit of time, e.g. 30/min.", valueName: "n/unit"))
    var rate: String?

    @Option(help: ArgumentHelp("Wait between batches.", valueName: "duration"))
    var pause: CleanDuration = CleanDuration(argument: "0s")!

    @Option(help: ArgumentHelp("Stop starting nodes once failures exceed N or P% of the nodes.", valueName: "n|p%"))
    var maxFailures: String?

    func validate() throws {
        guard BatchSize.parseList(batch) != nil else { throw ValidationError("--batch: expected e.g. 1,5,25% (positive counts, percentages 1-100)") }
        guard maxInFlight >= 1 else { throw ValidationError("--max-in-flight must be at least 1") }
        if let rate, RateLimit(rate) == nil { throw ValidationError("--rate: expected N/s, N/min or N/h, e.g. 30/min") }
        if let maxFailures, FailureThreshold(maxFailures) == nil { throw ValidationError("--max-failures: expected N or P%") }
    }

    var policy: RolloutPolicy {
        RolloutPolicy(batches: BatchSize.parseList(batch) ?? [], maxInFlight: maxInFlight,
                      rate: rate.flatMap(RateLimit.init), pause: pause.duration,
                      maxFailures: maxFailures.flatMap(FailureThreshold.init))
    }
}
