/// What became of one cleanup command: the history's `actions.outcome` and each step of a
/// clean report. `planned` is written before the command runs, `started` right before it
/// is sent, one of the others after. The raw values are the stored text.
public enum ActionOutcome: String, Sendable, Codable, CaseIterable {
    case planned, started, ok, failed, skipped, aborted
    public var isFinished: Bool { self != .planned && self != .started }
}
