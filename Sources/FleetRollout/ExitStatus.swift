/// fleet's exit statuses: one table for every subcommand. README's "Exit codes" section is
/// checked against ``uses`` by a test (ExitStatusTests), so a code cannot be added, or given
/// to another subcommand, without documenting it. The 6x/7x codes are sysexits.h's.
public enum ExitStatus: Int32, CaseIterable, Sendable, Hashable {
    /// Nothing residual / everything planned was cleaned / a dry run / ok.
    case ok = 0
    /// Residual maps found (scan, explain) or left in place (sweep).
    case residual = 1
    /// Some nodes could not be scanned (wins over `residual`).
    case notScanned = 2
    /// Some cleanups failed, or some nodes could not be scanned or reached.
    case cleanupsFailed = 3
    /// Stopped early: failures exceeded --max-failures.
    case maxFailures = 4
    /// Stopped early by SIGINT / SIGTERM (in-flight nodes finished first).
    case interrupted = 5
    /// The Kubernetes API could not be asked (unreachable, 401/403, kubectl or its exec
    /// credential failed): nothing was cleaned (fail closed). `--no-kubernetes` goes without.
    case kubernetesUnavailable = 6
    /// EX_USAGE: a usage error (ArgumentParser's own code for validation errors).
    case usage = 64
    /// EX_DATAERR: the inventory or a --config file is wrong (file:line:column).
    case badInput = 65
    /// EX_IOERR: the history database cannot be opened or written.
    case database = 74
    /// EX_TEMPFAIL: another sweep holds the lock; nothing was done.
    case locked = 75

    /// The subcommands, as named on the command line and in README's table header.
    public enum Command: String, CaseIterable, Sendable {
        case scan, clean, sweep, explain, history, report
    }

    /// Which statuses each subcommand can exit with.
    public static let uses: [Command: Set<ExitStatus>] = [
        .scan: [.ok, .residual, .notScanned, .usage, .badInput, .database],
        .clean: [.ok, .cleanupsFailed, .maxFailures, .interrupted, .kubernetesUnavailable, .usage, .badInput, .database],
        .sweep: [.ok, .residual, .notScanned, .cleanupsFailed, .maxFailures, .interrupted, .kubernetesUnavailable, .usage, .badInput,
                 .database, .locked],
        .explain: [.ok, .residual, .usage],
        .history: [.ok, .usage, .database],
        .report: [.ok, .usage, .database],
    ]
}
