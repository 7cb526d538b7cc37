import FleetStore
import FleetTestSupport
import Foundation
import Testing

/// A reader that goes away (`fleet sweep | head`, a log shipper restarted mid-run) must cost
/// the text, never the run: fleet finishes, records and exits with its own code. Before the
/// fix a closed stderr killed a sweep by SIGPIPE at its first log line, leaving the run
/// `running` (seen in CI as a flaky SweepProcessTests).
@Suite(.serialized) struct BrokenPipeTests {
    /// A pipe whose reading end is already closed: every write to the other end fails.
    static func deadPipe() throws -> FileHandle {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(.EMFILE) }
        close(fds[0])
        return FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
    }

    static func run(_ args: [String]) throws -> Process {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = args
        let out = try deadPipe(), err = try deadPipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        withExtendedLifetime((out, err)) {}
        return p
    }

    /// A loopback port nothing listens on: bound, then closed.
    static func refusedPort(_ address: String) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, address, &addr.sin_addr)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    @Test func sweepWithBothStreamsClosedStillRunsRecordsAndExitsWithItsCode() throws {
        let dir = NSTemporaryDirectory() + "fleet-epipe-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = try Self.refusedPort("127.0.12.201")
        let inventory = dir + "/nodes.yaml"
        try "nodes:\n  - {name: gone-1, address: 127.0.12.201, port: \(port), known_hosts: \(dir)/known_hosts}\n"
            .write(toFile: inventory, atomically: true, encoding: .utf8)

        let p = try Self.run(["sweep", "--inventory", inventory, "--db", dir + "/history.sqlite",
                              "--metrics-file", dir + "/fleet.prom"])
        #expect(p.terminationReason == .exit, "killed by signal \(p.terminationStatus)")
        #expect(p.terminationStatus == 2)  // one node unreachable
        let runs = try FleetDatabase(path: dir + "/history.sqlite").runs(limit: 10)
        #expect(runs.map(\.status) == [.partial])
        #expect(FileManager.default.fileExists(atPath: dir + "/fleet.prom"))
    }

    @Test func explainWithStdoutClosedExitsWithItsVerdictCode() throws {
        let capture = Fixtures.realRoot.appendingPathComponent("residual").path
        let p = try Self.run(["explain", capture])
        #expect(p.terminationReason == .exit, "killed by signal \(p.terminationStatus)")
        #expect(p.terminationStatus == 1)  // residual found
    }
}
