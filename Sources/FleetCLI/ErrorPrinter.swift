import ArgumentParser
import FleetRollout

/// The one error printer of fleet's subcommands (ClusterShell's `handle_generic_error`,
/// ArgumentParser's `MessageInfo`): a failure is one line `fleet <command>: <message>` on
/// stderr and an ``ExitStatus`` from the one table. Usage errors stay ArgumentParser's (64,
/// printed with the usage). `fleet sweep` reports through its event log instead: its stderr
/// is one event per line by contract (text or JSON).
enum ErrorPrinter {
    static func line(_ command: ExitStatus.Command, _ message: Any) -> String {
        "fleet \(command.rawValue): \(message)\n"
    }
}

extension FleetOutput {
    /// Prints `message` as `command`'s error and returns the exit to throw.
    func fail(_ command: ExitStatus.Command, _ status: ExitStatus, _ message: Any) -> ExitCode {
        err(ErrorPrinter.line(command, message))
        return ExitCode(status)
    }

    /// Prints a diagnostic that does not end the command (a history write that failed after
    /// the report, …).
    func warn(_ command: ExitStatus.Command, _ message: Any) {
        err(ErrorPrinter.line(command, message))
    }
}

extension ExitCode {
    init(_ status: ExitStatus) { self.init(status.rawValue) }
}
