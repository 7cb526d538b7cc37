import Foundation

/// Table rows as bytes: per row a cell count, per cell a length and its UTF-8 (cells may
/// hold any character a node or an error message produced, so no separator would be safe).
enum CellCoding {
    static func encode(_ rows: [[String]]) -> [UInt8] {
        var out: [UInt8] = []
        func put(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        for r in rows {
            put(r.count)
            for c in r { let u = Array(c.utf8); put(u.count); out.append(contentsOf: u) }
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) -> [[String]] {
        var rows: [[String]] = []
        var i = 0
        func get() -> Int? {
            guard i + 4 <= bytes.count else { return nil }
            let v = Int(bytes[i]) | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2]) << 16 | Int(bytes[i + 3]) << 24
            i += 4
            return v
        }
        while let n = get() {
            var row: [String] = []
            for _ in 0..<n {
                guard let len = get(), i + len <= bytes.count else { return rows }
                row.append(String(decoding: bytes[i..<(i + len)], as: UTF8.self))
                i += len
            }
            rows.append(row)
        }
        return rows
    }
}
