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
}
