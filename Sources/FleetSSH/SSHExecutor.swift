import CLibSSH2
import FleetModel
#if canImport(Glibc)
import Glibc
#endif

func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}

/// Runs commands on nodes over SSH (libssh2), many sessions at once on a few event-loop threads.
///
/// Every failure to reach, verify, authenticate or run on a node is a ``NodeFailure``
/// naming `host:port` and the cause; nothing here crashes or hangs on a bad node.
public final class SSHExecutor: RemoteExecutor {
    public let options: SSHOptions

    public init(options: SSHOptions = SSHOptions()) {
        self.options = options
    }

    public func withSession<T: Sendable>(
        to target: NodeTarget,
        _ body: @Sendable (any RemoteSession) async throws -> T
    ) async throws -> T {
        throw NodeFailure(.protocolError, "\(target.host):\(target.port): not implemented")
    }

    /// The command line sent to the node: the caller's command under the node's own
    /// `timeout` (so nothing outlives a dropped channel), and through `sudo -n` when asked.
    public static func remoteCommandLine(_ command: String, timeout: Duration, sudo: Bool) -> String {
        let secs = Int((Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18).rounded(.up)) + 2
        let wrapped = "timeout -s KILL \(secs) sh -c \(q(command))"
        return sudo ? "sudo -n " + wrapped : wrapped
    }
}
