/// What one ``NodeCommand`` printed on a node: the raw material every parser reads and
/// the history keeps (so an old run can be re-parsed by a newer parser).
public struct CommandOutput: Sendable, Hashable {
    public var command: NodeCommand
    public var stdout: String
    public var stderr: String
    /// nil when the command never returned (killed with its session, or still running).
    public var exitCode: Int32?

    public init(command: NodeCommand, stdout: String, stderr: String = "", exitCode: Int32? = 0) {
        self.command = command; self.stdout = stdout; self.stderr = stderr; self.exitCode = exitCode
    }

    /// sh reports 127 for "command not found" (no multipath-tools on the node).
    public var commandMissing: Bool { exitCode == 127 }
}
