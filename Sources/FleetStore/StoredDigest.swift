import CCrypto
import struct Foundation.Data

/// The identities under which the history stores things once (migrations/v0002): SHA-256
/// of an unambiguous encoding of every stored value. A cryptographic digest, not a fast
/// hash, because texts are shared between nodes: a node's output must never be able to
/// stand in for another node's different text.
struct StoredDigest {
    private var bytes: [UInt8] = []

    /// SHA-256 of a text's UTF-8 bytes (`contents.digest`).
    static func of(text: String) -> Data {
        // Most outputs' stderr is empty: its digest once, not once per output (perf).
        if text.isEmpty { return emptyText }
        var s = text
        return s.withUTF8 { sha256($0.baseAddress, $0.count) }
    }

    private static let emptyText: Data = {
        var s = ""
        return s.withUTF8 { sha256($0.baseAddress, $0.count) }
    }()

    static func sha256(_ p: UnsafePointer<UInt8>?, _ n: Int) -> Data {
        var out = Data(count: 32)
        out.withUnsafeMutableBytes { o in
            fleet_sha256(p, n, o.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return out
    }

    init(kind: String) { add(kind) }

    // Each value: a tag (0 nil, 1 text, 2 integer, 3 digest), then its length and bytes, so
    // no two different sequences of values encode alike.
    mutating func add(_ s: String?) {
        guard let s else { bytes.append(0); return }
        bytes.append(1)
        let count = s.utf8.count
        addLength(count)
        if s.utf8.withContiguousStorageIfAvailable({ bytes.append(contentsOf: $0) }) == nil {
            bytes.append(contentsOf: s.utf8)
        }
    }

    mutating func add(_ i: Int64?) {
        guard let i else { bytes.append(0); return }
        bytes.append(2)
        withUnsafeBytes(of: i.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func add(_ i: Int?) { add(i.map(Int64.init)) }

    mutating func add(_ d: Data) {
        bytes.append(3)
        addLength(d.count)
        bytes.append(contentsOf: d)
    }

    private mutating func addLength(_ n: Int) {
        withUnsafeBytes(of: UInt64(n).littleEndian) { bytes.append(contentsOf: $0) }
    }

    func digest() -> Data {
        bytes.withUnsafeBufferPointer { StoredDigest.sha256($0.baseAddress, $0.count) }
    }
}
