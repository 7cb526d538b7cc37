/// The few conversions fleet needs from a `Duration`, written once (they were spelled out
/// by hand from `components` in a dozen places).
extension Duration {
    /// Whole milliseconds, truncated: the history's `duration_ms`, the reports' `durationMs`.
    public var milliseconds: Int64 {
        let (s, a) = components
        return s * 1000 + a / 1_000_000_000_000_000
    }

    /// Seconds as a `Double` (Date arithmetic, averages, metrics, log fields).
    public var timeInterval: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }

    /// Whole seconds, any fraction rounded up: what `timeout` on a node takes.
    public var secondsRoundedUp: Int64 {
        let (s, a) = components
        return s + (a > 0 ? 1 : 0)
    }

    /// Whole seconds (a fraction dropped) in the units ``DurationParser`` reads, largest
    /// first, zero units left out: `1d2h`, `90s` is `1m30s`, zero is `0s`. For notes that
    /// quote an age next to an option's value.
    public var compactText: String {
        var left = max(components.seconds, 0)
        guard left > 0 else { return "0s" }
        var text = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where left >= size {
            text += "\(left / size)\(unit)"
            left %= size
        }
        return text
    }
}
