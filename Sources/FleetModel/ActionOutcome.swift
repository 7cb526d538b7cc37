/// What became of one cleanup command: the history's `actions.outcome` and each step of a
/// clean report. `planned` is written before the command runs, `started` right before it
/// is sent, one of the others after. The raw values are the stored text.
/// Which kind of cleanup command an audited action is: the history's `actions.kind`. The raw
/// values are the stored text.
public enum ActionKind: String, Sendable, Codable, CaseIterable {
    case kill
    case disableQueueing = "disable-queueing"
    case flushMap = "flush-map"
    case flushBuffers = "flush-buffers"
    case deleteDevice = "delete-device"
    case removeWWID = "remove-wwid"
    /// Not a command: the check after a map's steps (procedure step 2.3) that the map, its
    /// disks and their by-id links are gone. Its row is what makes the history say
    /// "cleaned" only for a map that was verified gone.
    case verify
}

public enum ActionOutcome: String, Sendable, Codable, CaseIterable {
    case planned, started, ok, failed, skipped, aborted
    public var isFinished: Bool { self != .planned && self != .started }
}
