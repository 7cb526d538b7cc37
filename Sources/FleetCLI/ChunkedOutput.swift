import Foundation

/// Collects text and hands it to `out` in pieces of about 64 KiB.
struct ChunkedOutput {
    let out: (String) -> Void
    private var pending = ""
    init(out: @escaping (String) -> Void) { self.out = out }
    mutating func add(_ s: String) {
        pending += s
        if pending.utf8.count >= 64 << 10 { flush() }
    }
    mutating func flush() {
        if !pending.isEmpty { out(pending); pending = "" }
    }
}
