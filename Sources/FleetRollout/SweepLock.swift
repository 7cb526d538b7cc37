import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The run lock of `fleet sweep`: an exclusive `flock(2)` on a file next to the history
/// database (`<db>.lock`) or at `--lock PATH`, held for the whole run. The kernel drops it
/// when the process exits, however it exits, so a crashed sweep never blocks the next one.
/// The file itself is never deleted (deleting a flock'ed file lets two processes lock two
/// different inodes); it holds the holder's pid and start time for the busy message.
public final class SweepLock: @unchecked Sendable {
    // @unchecked: `fd` is written once in init and only closed in release(), under `lock`.
    public let path: String
    private var fd: Int32
    private let lock = NSLock()

    /// `<db>.lock`, in the database's folder.
    public static func defaultPath(forDatabase db: String) -> String { db + ".lock" }

    private init(path: String, fd: Int32) {
        self.path = path; self.fd = fd
    }

    /// Takes the lock without waiting. Throws ``SweepLockError/held`` when another process
    /// holds it (with that process's pid when it wrote one).
    public static func acquire(path: String, now: Date = Date()) throws(SweepLockError) -> SweepLock {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            let holder = Self.readHolder(fd)
            close(fd)
            if err == EWOULDBLOCK {
                throw .held(path: path, holderPID: holder.pid, since: holder.since)
            }
            throw .cannotOpen(path: path, reason: "flock: \(String(cString: strerror(err)))")
        }
        let text = "\(getpid())\n\(ISO8601DateFormatter().string(from: now))\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return SweepLock(path: path, fd: fd)
    }

    /// Releases the lock (also done by deinit and by process exit).
    public func release() {
        lock.withLock {
            guard fd >= 0 else { return }
            // Empty the file first, so a later holder that writes nothing (flock(1), a
            // script) is never reported with our stale pid.
            _ = ftruncate(fd, 0)
            _ = flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }

    private static func readHolder(_ fd: Int32) -> (pid: Int32?, since: String?) {
        var buf = [UInt8](repeating: 0, count: 256)
        let n = pread(fd, &buf, buf.count, 0)
        guard n > 0 else { return (nil, nil) }
        let lines = String(decoding: buf[0..<n], as: UTF8.self).split(separator: "\n").map(String.init)
        return (lines.first.flatMap { Int32($0) }, lines.count > 1 ? lines[1] : nil)
    }
}

public enum SweepLockError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Another sweep holds the lock.
    case held(path: String, holderPID: Int32?, since: String?)
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case .held(let path, let pid, let since):
            let who = pid.map { "pid \($0)" } ?? "another process (pid not yet written)"
            let when = since.map { ", running since \($0)" } ?? ""
            return "another sweep is running: \(path) is locked by \(who)\(when); exiting without doing anything (exit \(ExitStatus.locked.rawValue))"
        case .cannotOpen(let path, let reason):
            return "cannot open lock file \(path): \(reason)"
        }
    }
}
