import Foundation

/// Collects text and hands it to `out` in pieces of about 64 KiB.
public struct ChunkedOutput {
    public let out: (String) -> Void
    private var pending = ""
    public init(out: @escaping (String) -> Void) { self.out = out }
    public mutating func add(_ s: String) {
        pending += s
        if pending.utf8.count >= 64 << 10 { flush() }
    }
    public mutating func flush() {
        if !pending.isEmpty { out(pending); pending = "" }
    }
}
