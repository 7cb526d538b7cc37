import Foundation
import FleetModel
import FleetRollout
import FleetSSH

/// What a command needs from the outside world, injectable so tests run commands without
/// SSH or a terminal (STYLE.md convention 12): `run()` calls `run(.live())`, tests call
/// `run(ctx)` with a ``FleetOutput/capture()`` output and a scripted executor.
public struct FleetContext: Sendable {
    /// Builds the executor for the SSH settings a command derived from its options. The
    /// live context returns FleetSSH's `SSHExecutor`; tests return a double and may check
    /// the options they were given.
    public var makeExecutor: @Sendable (SSHOptions) -> any RemoteExecutor
    public var now: @Sendable () -> Date
    /// For waits between batches (clean, sweep); tests may pass a manual clock.
    public var clock: any Clock<Duration>
    public var output: FleetOutput
    public var environment: [String: String]

    public init(makeExecutor: @escaping @Sendable (SSHOptions) -> any RemoteExecutor,
                now: @escaping @Sendable () -> Date = { Date() },
                clock: any Clock<Duration> = ContinuousClock(),
                output: FleetOutput = .standard,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.makeExecutor = makeExecutor; self.now = now; self.clock = clock
        self.output = output; self.environment = environment
    }

    /// Real SSH, real clock, the process's stdout/stderr.
    public static func live() -> FleetContext {
        FleetContext(makeExecutor: { SSHExecutor(options: $0) })
    }
}

/// Where a command writes. `out` is the result (table or JSON, pipe-able); `err` gets
/// diagnostics and, when `progress` is true (stderr is a terminal), the progress line.
public struct FleetOutput: Sendable {
    public var out: @Sendable (String) -> Void
    public var err: @Sendable (String) -> Void
    /// Draw a self-overwriting progress line on `err`. Never when stderr is not a TTY, so
    /// logs and pipes stay clean.
    public var progress: Bool

    public init(out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void, progress: Bool) {
        self.out = out; self.err = err; self.progress = progress
    }

    public static var standard: FleetOutput {
        FleetOutput(out: { StandardStream.out($0) },
                    err: { StandardStream.err($0) },
                    progress: isatty(2) == 1)
    }

    /// An output that records everything, for tests.
    public static func capture(progress: Bool = false) -> (FleetOutput, OutputCapture) {
        let c = OutputCapture()
        return (FleetOutput(out: { c.append(out: $0) }, err: { c.append(err: $0) }, progress: progress), c)
    }
}

/// Text a ``FleetOutput/capture(progress:)`` output received.
public final class OutputCapture: @unchecked Sendable {
    // @unchecked: both buffers are only touched under `lock`.
    private let lock = NSLock()
    private var o = "", e = ""
    public var stdout: String { lock.withLock { o } }
    public var stderr: String { lock.withLock { e } }
    func append(out s: String) { lock.withLock { o += s } }
    func append(err s: String) { lock.withLock { e += s } }
}
