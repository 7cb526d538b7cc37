import Foundation

/// A network namespace for a test, reachable from the test's own namespace only over one
/// veth link: 10.251.`index`.1/30 outside, 10.251.`index`.2/30 inside. Anything listening
/// on the namespace's loopback (127.0.104.x there) cannot be reached from outside except
/// through a server inside that forwards (an sshd with AllowTcpForwarding). Named
/// `fleet-t-<pid>-<index>`; deleted (with its veth pair) by ``remove()`` or deinit.
public final class TestNetNS: @unchecked Sendable {
    // @unchecked: all properties are immutable after init.
    public let name: String
    public let outside: String
    public let inside: String
    private let hostVeth: String

    public init(index: Int) throws {
        let pid = getpid()
        name = "fleet-t-\(pid)-\(index)"
        hostVeth = "fth\(pid % 1_000_000)x\(index)"
        let peer = "ftn\(pid % 1_000_000)x\(index)"
        outside = "10.251.\(index).1"
        inside = "10.251.\(index).2"
        _ = try? TestSSHD.run("/usr/sbin/ip", ["netns", "del", name])  // a crashed earlier run
        try TestSSHD.run("/usr/sbin/ip", ["netns", "add", name])
        do {
            try TestSSHD.run("/usr/sbin/ip", ["link", "add", hostVeth, "type", "veth", "peer", "name", peer])
            try TestSSHD.run("/usr/sbin/ip", ["link", "set", peer, "netns", name])
            try TestSSHD.run("/usr/sbin/ip", ["addr", "add", outside + "/30", "dev", hostVeth])
            try TestSSHD.run("/usr/sbin/ip", ["link", "set", hostVeth, "up"])
            try exec(["ip", "addr", "add", inside + "/30", "dev", peer])
            try exec(["ip", "link", "set", peer, "up"])
            try exec(["ip", "link", "set", "lo", "up"])
        } catch {
            remove()
            throw error
        }
    }

    /// Runs a command inside the namespace (throws on a non-zero exit).
    @discardableResult
    public func exec(_ argv: [String]) throws -> String {
        try TestSSHD.run("/usr/sbin/ip", ["netns", "exec", name] + argv)
    }

    public func remove() {
        _ = try? TestSSHD.run("/usr/sbin/ip", ["link", "del", hostVeth])
        _ = try? TestSSHD.run("/usr/sbin/ip", ["netns", "del", name])
    }

    deinit { remove() }
}
