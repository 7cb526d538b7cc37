import FleetRollout
import Foundation
import Testing

/// Runs python3 with `script` and `args`; returns (exit status, stdout). The python side is
/// a second process taking the same flock(2), which is what an overlapping sweep is.
func python(_ script: String, _ args: [String], stdinUntilClosed: FileHandle? = nil) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script] + args
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

func scratchDir(_ name: String) throws -> String {
    let dir = NSTemporaryDirectory() + "fleet-\(name)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

@Suite struct SweepLockTests {
    @Test func defaultPathSitsNextToTheDatabase() {
        #expect(SweepLock.defaultPath(forDatabase: "/var/lib/fleet/history.sqlite") == "/var/lib/fleet/history.sqlite.lock")
    }

    @Test func secondAcquireInOneProcessIsRefusedWithOurPID() throws {
        let path = try scratchDir("lock") + "/sub/history.sqlite.lock"
        let first = try SweepLock.acquire(path: path)
        // flock locks belong to the open file description, so a second open in the same
        // process conflicts too: the same rule a second process meets.
        do {
            _ = try SweepLock.acquire(path: path)
            Issue.record("acquired a lock this process already holds")
        } catch {
            guard case .held(_, let pid, let since) = error else { Issue.record("\(error)"); return }
            #expect(pid == getpid())
            #expect(since != nil)
            #expect(error.description.contains("locked by pid \(getpid())"))
        }
        first.release()
        // Released: the file no longer names us.
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "")
        let again = try SweepLock.acquire(path: path)
        again.release()
    }

    @Test func anotherProcessCannotTakeItWhileHeld() throws {
        let path = try scratchDir("lock2") + "/history.sqlite.lock"
        let lock = try SweepLock.acquire(path: path)
        let probe = """
        import fcntl, sys
        f = open(sys.argv[1], "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            print("acquired")
        except BlockingIOError:
            f.seek(0); print("busy", f.readline().strip())
        """
        let (status, out) = try python(probe, [path])
        #expect(status == 0)
        #expect(out == "busy \(getpid())\n")
        lock.release()
        let (_, after) = try python(probe, [path])
        #expect(after == "acquired\n")
    }

    @Test func heldByAnotherProcessNamesItsPID() throws {
        let path = try scratchDir("lock3") + "/history.sqlite.lock"
        // The python holder writes its pid like fleet does, says "held", then waits for stdin EOF.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
        import fcntl, os, sys
        f = open(sys.argv[1], "a+")
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        f.truncate(0); f.write("%d\\n2026-01-01T00:00:00Z\\n" % os.getpid()); f.flush()
        print("held", flush=True)
        sys.stdin.read()
        """, path]
        let input = Pipe(), output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        try holder.run()
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("held\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        #expect(String(decoding: seen, as: UTF8.self) == "held\n")
        do {
            _ = try SweepLock.acquire(path: path)
            Issue.record("acquired a lock another process holds")
        } catch {
            #expect(error == .held(path: path, holderPID: holder.processIdentifier, since: "2026-01-01T00:00:00Z"))
        }
        try input.fileHandleForWriting.close()
        holder.waitUntilExit()
        // The holder exited without unlocking: the kernel released it.
        let lock = try SweepLock.acquire(path: path)
        lock.release()
    }
}
