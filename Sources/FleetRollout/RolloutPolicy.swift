import Foundation

/// How a rollout paces node work: batch ramp, concurrency, rate, pauses and the failure
/// budget (`fleet clean --batch 1,5,25% --max-in-flight 8 --rate 30/min --pause 30s
/// --max-failures 2`). Pure values; ``RolloutScheduler`` applies them.
public struct RolloutPolicy: Sendable, Hashable {
    /// The ramp. Each entry is used once in order; the last one repeats.
    public var batches: [BatchSize]
    /// Nodes worked on at the same time, inside a batch.
    public var maxInFlight: Int
    /// Node starts per unit of time (token bucket), or nil for no limit.
    public var rate: RateLimit?
    /// Wait between the end of one batch and the start of the next.
    public var pause: Duration
    /// When the run's failures exceed this, no new node starts; nil: never stop.
    public var maxFailures: FailureThreshold?

    public init(batches: [BatchSize] = [.count(1), .count(5), .percent(25)], maxInFlight: Int = 8,
                rate: RateLimit? = nil, pause: Duration = .zero, maxFailures: FailureThreshold? = nil) {
        self.batches = batches.isEmpty ? [.percent(100)] : batches
        self.maxInFlight = max(1, maxInFlight)
        self.rate = rate; self.pause = pause; self.maxFailures = maxFailures
    }
}

/// One step of the `--batch` ramp: a node count, or a percentage of the nodes still
/// waiting when that step is first reached (so `1,5,25%` on 100 nodes gives batches of
/// 1, 5, then 24 nodes at a time: 25% of the 94 left, rounded up).
public enum BatchSize: Sendable, Hashable, CustomStringConvertible {
    case count(Int)
    case percent(Int)

    /// Parses `5` or `25%`. Zero or negative sizes and percentages above 100 are rejected.
    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") {
            guard let p = Int(t.dropLast()), p > 0, p <= 100 else { return nil }
            self = .percent(p)
        } else {
            guard let n = Int(t), n > 0 else { return nil }
            self = .count(n)
        }
    }

    /// Parses a comma-separated ramp such as `1,5,25%`.
    public static func parseList(_ text: String) -> [BatchSize]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty else { return nil }
        var out: [BatchSize] = []
        for p in parts {
            guard let b = BatchSize(p) else { return nil }
            out.append(b)
        }
        return out
    }

    /// The batch size when this step is first reached with `remaining` nodes left (at least 1).
    public func size(remaining: Int) -> Int {
        switch self {
        case .count(let n): return max(1, n)
        case .percent(let p): return max(1, (remaining * p + 99) / 100)
        }
    }

    public var description: String {
        switch self {
        case .count(let n): "\(n)"
        case .percent(let p): "\(p)%"
        }
    }
}

/// The whole `--batch` ramp, e.g. `1,5,25%`: one ``BatchSize`` per step, the last repeats.
public struct BatchRamp: Sendable, Hashable, CustomStringConvertible {
    public var steps: [BatchSize]

    public init?(_ text: String) {
        guard let steps = BatchSize.parseList(text) else { return nil }
        self.steps = steps
    }

    public var description: String { steps.map(\.description).joined(separator: ",") }
}

/// `--rate N/min`: at most N node starts per unit, spaced evenly (a token bucket holding
/// `burst` tokens, refilled at N per unit).
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    public var count: Int
    public var per: Duration
    public var burst: Int

    public init(count: Int, per: Duration, burst: Int = 1) {
        self.count = max(1, count); self.per = per; self.burst = max(1, burst)
    }

    /// Parses `30/min`, `2/s`, `100/h` (also `sec`, `second`, `m`, `minute`, `hour`).
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let n = Int(parts[0]), n > 0 else { return nil }
        let unit: Duration
        switch parts[1].lowercased() {
        case "s", "sec", "second": unit = .seconds(1)
        case "m", "min", "minute": unit = .seconds(60)
        case "h", "hour": unit = .seconds(3600)
        default: return nil
        }
        self.init(count: n, per: unit)
    }

    /// Time between two starts once the burst is used up.
    public var interval: Duration { per / count }

    public var description: String {
        let unit = per == .seconds(1) ? "s" : per == .seconds(3600) ? "h" : per == .seconds(60) ? "min" : "\(per)"
        return "\(count)/\(unit)"
    }
}

/// `--max-failures N` or `--max-failures P%` (of the nodes in the run). The run stops
/// starting nodes once failures are strictly more than the allowed number.
public enum FailureThreshold: Sendable, Hashable, CustomStringConvertible {
    case count(Int)
    case percent(Int)

    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") {
            guard let p = Int(t.dropLast()), p >= 0, p <= 100 else { return nil }
            self = .percent(p)
        } else {
            guard let n = Int(t), n >= 0 else { return nil }
            self = .count(n)
        }
    }

    /// Failures allowed in a run of `total` nodes (percent rounds down: 10% of 15 allows 1).
    public func allowed(total: Int) -> Int {
        switch self {
        case .count(let n): n
        case .percent(let p): total * p / 100
        }
    }

    public var description: String {
        switch self {
        case .count(let n): "\(n)"
        case .percent(let p): "\(p)%"
        }
    }
}
