/// JSON text byte for byte as Foundation's `JSONEncoder` writes it, for the values fleet
/// writes once per map (perf: the encoder's generic Codable paths were ~11% of a scan's
/// CPU). The caller writes the keys in the encoder's `.sortedKeys` order itself.
///
/// Only the shape whose bytes are certain is written by hand: strings of printable ASCII
/// (JSONEncoder copies them, escaping `"` and `\`, and `/` unless `.withoutEscapingSlashes`),
/// and with `escapesLineEnds` line feeds, tabs and carriage returns (`\n`, `\t`, `\r`).
/// Anything else throws ``Unsupported`` and the caller encodes the value with JSONEncoder,
/// so the text is the encoder's either way.
public struct EncoderJSON {
    public struct Unsupported: Error {}

    public var bytes: [UInt8] = []
    /// False for `.withoutEscapingSlashes`.
    public let escapesSlashes: Bool
    /// Writes `\n`, `\t`, `\r` as JSONEncoder does (stored command outputs, which end with a
    /// line feed); without it a string holding one is ``Unsupported``.
    public let escapesLineEnds: Bool

    public init(escapesSlashes: Bool, escapesLineEnds: Bool = false, capacity: Int = 256) {
        self.escapesSlashes = escapesSlashes
        self.escapesLineEnds = escapesLineEnds
        bytes.reserveCapacity(capacity)
    }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Punctuation and keys: `{"name":`.
    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func string(_ s: String) throws(Unsupported) {
        bytes.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            guard c >= 0x20, c < 0x7F else {
                // Other control characters and non-ASCII: JSONEncoder writes them.
                guard escapesLineEnds else { throw Unsupported() }
                switch c {
                case 0x0A: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "n"))
                case 0x09: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "t"))
                case 0x0D: bytes.append(UInt8(ascii: "\\")); bytes.append(UInt8(ascii: "r"))
                default: throw Unsupported()
                }
                continue
            }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || (escapesSlashes && c == UInt8(ascii: "/")) {
                bytes.append(UInt8(ascii: "\\"))
            }
            bytes.append(c)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A missing value encoded through `encode(_:forKey:)`: `null`.
    public mutating func string(orNull s: String?) throws(Unsupported) {
        if let s { try string(s) } else { raw("null") }
    }

    public mutating func int(_ i: some BinaryInteger) {
        bytes.append(contentsOf: String(i).utf8)
    }

    public mutating func int(orNull i: (some BinaryInteger)?) {
        if let i { int(i) } else { raw("null") }
    }

    public mutating func bool(_ b: Bool) { raw(b ? "true" : "false") }

    public mutating func strings(_ items: [String]) throws(Unsupported) {
        bytes.append(UInt8(ascii: "["))
        for (i, s) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            try string(s)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// An array of objects, each written by `element`.
    public mutating func array<T>(_ items: [T], _ element: (inout EncoderJSON, T) throws(Unsupported) -> Void) throws(Unsupported) {
        bytes.append(UInt8(ascii: "["))
        for (i, x) in items.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            try element(&self, x)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}
