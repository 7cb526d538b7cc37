import ArgumentParser
import FleetRollout

/// When a map may be cleaned and how fast nodes are cleaned: shared by `fleet clean` and
/// `fleet sweep --clean`, so the unattended path paces exactly like the manual one.
struct RolloutPacingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A map is cleaned only once two scans at least this far apart saw every path failed (an earlier scan in the history counts).", valueName: "duration"))
    var confirmAfter: Sourced<DurationArgument> = .default(DurationArgument(argument: "5m")!)

    @Option(help: ArgumentHelp("Batch ramp: counts or percentages of the nodes left; the last repeats.", valueName: "ramp"))
    var batch: Sourced<BatchRamp> = .default(BatchRamp("1,5,25%")!)

    @Option(help: "Nodes cleaned at the same time.")
    var maxInFlight: Sourced<Int> = .default(8)

    @Option(help: ArgumentHelp("Node cleanups started per unit of time, e.g. 30/min.", valueName: "n/unit"))
    var rate: Sourced<RateLimit>?

    @Option(help: ArgumentHelp("Wait between batches.", valueName: "duration"))
    var pause: Sourced<DurationArgument> = .default(DurationArgument(argument: "0s")!)

    @Option(help: ArgumentHelp("Stop starting nodes once failures exceed N or P% of the nodes.", valueName: "n|p%"))
    var maxFailures: Sourced<FailureThreshold>?

    func validate() throws {
        guard maxInFlight.value >= 1 else { throw ValidationError("--max-in-flight must be at least 1") }
    }

    /// What `fleet clean` and `fleet sweep --clean` run with: this pacing, the access
    /// group's scan and command limits.
    func cleanOptions(access: NodeAccessOptions, execute: Bool, fromRun: Int64?, wait: Bool = false,
                      maxWait: Duration = .seconds(3600)) -> CleanOptions {
        CleanOptions(confirmAfter: confirmAfter.value.duration, wait: wait, maxWait: maxWait, execute: execute, policy: policy,
                     fromRun: fromRun, scan: access.scanOptions,
                     cleaner: NodeCleaner.Options(commandTimeout: access.commandTimeout.value.duration))
    }

    var policy: RolloutPolicy {
        RolloutPolicy(batches: batch.value.steps, maxInFlight: maxInFlight.value, rate: rate?.value,
                      pause: pause.value.duration, maxFailures: maxFailures?.value)
    }
}

extension RolloutPacingOptions {
    /// The `clean:` keys of a config file but `clean.enabled`, which is the sweep's own.
    static var configBindings: [ConfigBinding<Self>] {
        [.option("clean.confirm_after", \.confirmAfter), .option("clean.batch", \.batch),
         .option("clean.max_in_flight", \.maxInFlight), .option("clean.rate", \.rate), .option("clean.pause", \.pause),
         .option("clean.max_failures", \.maxFailures)]
    }
}

// The rollout types parse themselves; ArgumentParser calls that parser once, and a value
// it rejects is a usage error naming the option.
extension BatchRamp: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
    public var defaultValueDescription: String { description }
}

extension RateLimit: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension FailureThreshold: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}
