import FleetStore
import FleetTestSupport
import Foundation
import Testing

/// Two real `fleet sweep` processes on one history: the second exits 75 at once, naming the
/// first one's pid, and writes nothing. The first is held mid-scan by a node that accepts
/// TCP and never speaks SSH (a listener this test owns on 127.0.12.200).
@Suite(.serialized) struct SweepProcessTests {
    /// A TCP socket that listens and never accepts: connects complete (the kernel's backlog),
    /// the SSH banner never comes.
    static func silentListener(_ address: String) throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        inet_pton(AF_INET, address, &addr.sin_addr)
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0, listen(fd, 16) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    static func start(_ bin: String, _ args: [String]) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return (p, err)
    }

    @Test func secondProcessExits75NamingTheFirst() throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let dir = NSTemporaryDirectory() + "fleet-sweepproc-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let listener = try Self.silentListener("127.0.12.200")
        var listenerOpen = true
        defer { if listenerOpen { close(listener.fd) } }
        let inventory = dir + "/nodes.yaml"
        try "nodes:\n  - {name: silent-1, address: 127.0.12.200, port: \(listener.port), known_hosts: \(dir)/known_hosts}\n"
            .write(toFile: inventory, atomically: true, encoding: .utf8)
        // The first sweep must outlive everything below, however loaded the machine: it is
        // SIGKILLed by this test, never left to time out (CI once took 146 s here at load ~40,
        // past the 120 s handshake deadline a 60 s connect timeout gives).
        let args = ["sweep", "--inventory", inventory, "--db", dir + "/history.sqlite",
                    "--metrics-file", dir + "/fleet.prom", "--connect-timeout", "3600s"]

        let (first, firstErr) = try Self.start(bin, args)
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL); first.waitUntilExit() } }
        // Wait until the first sweep holds the lock: the lock file then holds its pid.
        let lockPath = dir + "/history.sqlite.lock"
        while first.isRunning,
              (try? String(contentsOfFile: lockPath, encoding: .utf8))?.hasPrefix("\(first.processIdentifier)\n") != true {
            usleep(10_000)
        }
        try #require(first.isRunning, "the first sweep ended early: \(String(decoding: firstErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        // The lock is taken before the run row is written: on a loaded machine, wait for the
        // row too, or the SIGKILL below can land before the first sweep recorded anything.
        while first.isRunning,
              (try? FleetDatabase(path: dir + "/history.sqlite").runs(limit: 1).first?.status) != .running {
            usleep(20_000)
        }
        try #require(first.isRunning)

        let (second, secondErr) = try Self.start(bin, args)
        let text = String(decoding: secondErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        #expect(second.terminationStatus == 75)
        #expect(text.contains("sweep.locked"))
        #expect(text.contains("locked by pid \(first.processIdentifier)"))
        #expect(first.isRunning, "the first sweep ended (status \(first.isRunning ? 0 : first.terminationStatus), reason \(first.isRunning ? 0 : first.terminationReason.rawValue)): \(first.isRunning ? "" : String(decoding: firstErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        #expect(!FileManager.default.fileExists(atPath: dir + "/fleet.prom"))

        // The first one dies hard; the kernel releases its lock; with the silent node gone,
        // the next sweep runs to the end (node refused: exit 2) and marks the dead run.
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        close(listener.fd)
        listenerOpen = false
        let (third, thirdErr) = try Self.start(bin, args)
        let thirdText = String(decoding: thirdErr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        third.waitUntilExit()
        #expect(third.terminationStatus == 2, "\(thirdText)")
        let runs = try FleetDatabase(path: dir + "/history.sqlite").runs(limit: 10)
        #expect(runs.map(\.status) == [.partial, .interrupted])  // newest first: the third, then the killed first
        #expect(FileManager.default.fileExists(atPath: dir + "/fleet.prom"))
        // Keep the first sweep's stderr pipe open to the end: released early, its reading end
        // closes while that sweep still writes.
        withExtendedLifetime(firstErr) {}
    }
}
