import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Replaces a file atomically: a temporary file in the same folder (a dot name, so a
/// collector globbing `*.prom` or a web server listing `*.html` never picks it up), fsync,
/// rename. A reader sees the old file or the new one, never half of one. Used for the sweep's
/// metrics file and the HTML report.
public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".\(getpid()).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AtomicFileError("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let reason = String(cString: strerror(errno))
                close(fd); unlink(tmp)
                throw AtomicFileError("cannot write \(tmp): \(reason)")
            }
            off += n
        }
        _ = fsync(fd)
        close(fd)
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw AtomicFileError("cannot rename \(tmp) to \(path): \(reason)")
        }
    }
}

public struct AtomicFileError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
