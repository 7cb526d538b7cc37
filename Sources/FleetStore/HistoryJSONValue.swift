import Foundation

/// Any JSON value, so JSON stored as text (a run's options) is printed as JSON, not as a string
/// (`fleet history run`), or listed key by key (`fleet report`).
public enum HistoryJSONValue: Codable, Equatable, Sendable {
    case null, bool(Bool), number(Double), string(String), array([HistoryJSONValue]), object([String: HistoryJSONValue])

    public init(text: String) {
        self = (try? JSONDecoder().decode(HistoryJSONValue.self, from: Data(text.utf8))) ?? .string(text)
    }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([HistoryJSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: HistoryJSONValue].self)) }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): if n == n.rounded(), abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
