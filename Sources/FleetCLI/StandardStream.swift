import Foundation

/// Writes to fd 1 and fd 2 that never stop fleet.
///
/// `fleet scan | head` or a log collector that goes away closes the reading end while a run
/// is cleaning nodes. Foundation's `FileHandle.write(_:)` traps on EPIPE, and SIGPIPE's
/// default action kills the process: either would leave a clean half-done and its run
/// `running`. fleet ignores SIGPIPE from its first instruction (``ignoreBrokenPipes()``) and
/// writes here: a lost reader loses the text, never the run.
public enum StandardStream {
    /// Called first thing by the CLI entry point, before any thread or output exists.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// One `write(2)` loop per call, so lines written from several threads stay whole.
    /// Returns false when the reader is gone (EPIPE) or the descriptor is bad; never throws.
    @discardableResult
    public static func write(_ text: String, to fd: Int32) -> Bool {
        var bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    public static func out(_ text: String) { write(text, to: 1) }
    public static func err(_ text: String) { write(text, to: 2) }
}
