import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Append-only bytes in an unlinked temporary file, read back by range. Memory holds at
/// most ``flushAt`` bytes not yet written; when no file can be made or a write fails, the
/// rest stays in memory (the report is still printed whole, memory just grows again).
/// `fleet scan`'s and `fleet clean`'s reports keep their per-node parts here.
public final class ReportSpool {
    public static let flushAt = 64 << 10

    private var fd: Int32
    /// False once a write failed: what is in the file stays readable, the rest stays in memory.
    private var writable = true
    /// Bytes [0, written) are in the file; [written, size) in `tail`.
    private var written: Int64 = 0
    private var tail: [UInt8] = []
    public private(set) var size: Int64 = 0
    public var bufferedBytes: Int { tail.count }

    /// `directory`: default `$TMPDIR`, else /tmp. Pass nil to keep everything in memory.
    public init(directory: String? = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp") {
        fd = -1
        guard let directory else { return }
        var template = Array((directory + "/fleet-report-XXXXXX").utf8CString)
        let f = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard f >= 0 else { return }
        _ = fcntl(f, F_SETFD, FD_CLOEXEC)
        // Unlinked at once: nothing is left behind, whatever ends the process.
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        fd = f
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends `bytes` and returns their length (the caller knows the offset: ``size`` before).
    @discardableResult
    public func append(_ bytes: [UInt8]) -> UInt32 {
        tail.append(contentsOf: bytes)
        size += Int64(bytes.count)
        if tail.count >= Self.flushAt { flush() }
        return UInt32(bytes.count)
    }

    private func flush() {
        guard fd >= 0, writable, !tail.isEmpty else { return }
        var done = 0
        while done < tail.count {
            let n = tail.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(written) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                // Disk full or the like: keep the rest in memory from here on.
                writable = false
                break
            }
            done += n
        }
        written += Int64(done)
        tail.removeFirst(done)
    }

    public func read(offset: Int64, length: Int) -> [UInt8] {
        guard length > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: length)
        var got = 0
        // The part in the file.
        if offset < written {
            let fromFile = Int(min(Int64(length), written - offset))
            out.withUnsafeMutableBytes { buf in
                while got < fromFile {
                    let n = pread(fd, buf.baseAddress! + got, fromFile - got, off_t(offset) + off_t(got))
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    got += n
                }
            }
            if got < fromFile { return Array(out[..<got]) }
        }
        // The part still in memory.
        if got < length {
            let start = Int(offset + Int64(got) - written)
            let n = min(length - got, tail.count - start)
            if n > 0 { out.replaceSubrange(got..<(got + n), with: tail[start..<(start + n)]) }
            got += max(0, n)
        }
        return got == length ? out : Array(out[..<got])
    }
}
