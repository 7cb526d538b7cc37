/// A line a parser did not understand. Parsers are total: unknown input becomes a warning
/// with its 1-based line number, never a failure.
public struct ParseWarning: Hashable, Sendable, Codable {
    public var line: Int
    public var text: String
    public init(line: Int, text: String) {
        self.line = line
        self.text = text
    }
}
