/// What one ``NodeCommand`` printed on a node: the raw material every parser reads and
/// the history keeps (so an old run can be re-parsed by a newer parser).
public struct CommandOutput: Sendable, Hashable {
    public var command: NodeCommand
    public var stdout: String
    public var stderr: String
    /// nil when the command never returned (killed with its session, or still running).
    public var exitCode: Int32?

    public init(command: NodeCommand, stdout: String, stderr: String = "", exitCode: Int32? = 0) {
        self.command = command; self.stdout = stdout; self.stderr = stderr; self.exitCode = exitCode
    }

    /// sh reports 127 for "command not found" (no multipath-tools on the node).
    public var commandMissing: Bool { exitCode == 127 }
}

/// One command output as the history keeps it inline (`device_reads.outputs`, migration
/// v0008): the JSON array `[capture_name, command, exit_code, stdout, stderr]`, the columns
/// `raw_outputs` returns. Written by ``EncoderJSON`` (or JSONEncoder), read by
/// ``StoredJSONReader/outputs(_:)`` (or JSONDecoder).
public struct StoredOutput: Codable, Sendable, Hashable {
    public var captureName: String
    /// The command as an operator would type it (``NodeCommand/display``).
    public var command: String
    public var exitCode: Int32?
    public var stdout: String
    public var stderr: String

    public init(captureName: String, command: String, exitCode: Int32?, stdout: String, stderr: String) {
        self.captureName = captureName; self.command = command; self.exitCode = exitCode
        self.stdout = stdout; self.stderr = stderr
    }

    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        captureName = try c.decode(String.self)
        command = try c.decode(String.self)
        exitCode = try c.decodeNil() ? nil : try c.decode(Int32.self)
        stdout = try c.decode(String.self)
        stderr = try c.decode(String.self)
        guard c.isAtEnd else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "a stored output has five values")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(captureName)
        try c.encode(command)
        if let exitCode { try c.encode(exitCode) } else { try c.encodeNil() }
        try c.encode(stdout)
        try c.encode(stderr)
    }

    /// The same array written by hand, byte for byte as JSONEncoder with
    /// `.withoutEscapingSlashes` writes it; ``EncoderJSON/Unsupported`` for what it does not.
    public func write(to out: inout EncoderJSON) throws(EncoderJSON.Unsupported) {
        out.raw("[")
        try out.string(captureName)
        out.raw(",")
        try out.string(command)
        out.raw(",")
        out.int(orNull: exitCode)
        out.raw(",")
        try out.string(stdout)
        out.raw(",")
        try out.string(stderr)
        out.raw("]")
    }
}
