/// Names that come from a node's output and may end up in a command run as root.
///
/// Every value is validated on construction against the narrowest character set the
/// kernel or multipath-tools can produce; a name that fails is reported as a finding and
/// never reaches a command line. Commands take these types, never `String`.

/// A SCSI path disk, `sd[a-z]+` (e.g. `sdg`, `sdaa`).
public struct BlockDeviceName: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init?(_ raw: String) {
        guard raw.count >= 3, raw.count <= 8, raw.hasPrefix("sd"),
              raw.utf8.dropFirst(2).allSatisfy({ $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") })
        else { return nil }
        rawValue = raw
    }
    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool {
        (a.rawValue.count, a.rawValue) < (b.rawValue.count, b.rawValue)
    }
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let v = Self(raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a block device name: \(raw)"))
        }
        self = v
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(rawValue)
    }
}

/// A device-mapper node, `dm-[0-9]+`. Kernel-assigned and reused after removal, so it is
/// never a map's identity: the WWID is.
public struct DMDeviceName: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init?(_ raw: String) {
        guard raw.count >= 4, raw.count <= 10, raw.hasPrefix("dm-"),
              raw.utf8.dropFirst(3).allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        rawValue = raw
    }
    public var number: Int { Int(rawValue.dropFirst(3)) ?? -1 }
    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.number < b.number }
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let v = Self(raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a dm device name: \(raw)"))
        }
        self = v
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(rawValue)
    }
}

/// A multipath map name (alias such as `mpatha`, or a WWID when user_friendly_names is off),
/// or a WWID. Allowed: `[A-Za-z0-9_.:@+-]`, 1...128 characters, not starting with `-`
/// (so it can never be read as an option).
public struct MapName: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init?(_ raw: String) {
        guard !raw.isEmpty, raw.utf8.count <= 128, raw.first != "-",
              raw.utf8.allSatisfy(MapName.allowed)
        else { return nil }
        rawValue = raw
    }
    static func allowed(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "@"),
             UInt8(ascii: "+"), UInt8(ascii: "-"):
            return true
        default: return false
        }
    }
    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let v = Self(raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a map name: \(raw)"))
        }
        self = v
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer(); try c.encode(rawValue)
    }
}

/// A WWID as multipath prints it (e.g. `36001405ae3a4a2b307ccf2a518e52df9`, `eui.…`,
/// `nvme.…`). Same character set as ``MapName``.
public typealias WWID = MapName

/// A process id read from `ps` on the node.
public struct ProcessID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: Int32
    public init?(_ raw: String) {
        guard let v = Int32(raw), v > 1 else { return nil }  // never PID 0 or 1
        rawValue = v
    }
    public var description: String { String(rawValue) }
}
