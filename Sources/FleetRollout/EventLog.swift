import Foundation
import Logging

/// `--log-format`: how events are written to stderr.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-11-29T18:30:00.123Z info  worker-1 node.scanned status=ok residual=2`
    case text
    /// One JSON object per line: `{"timestamp":…,"level":…,"node":…,"event":…,"fields":{…}}`.
    case json
}

/// A swift-log handler that writes one line per event, for unattended runs (cron, systemd).
///
/// Conventions, so every engineer's events look alike: the log message is the event name
/// (`scan.started`, `node.scanned`, `map.cleaned`, …); the metadata key `node` names the
/// node; every other metadata entry is a field. Use ``EventLog/logger(format:level:write:)``.
public struct EventLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    public let format: LogFormat
    let sink: EventSink
    let now: @Sendable () -> Date

    public init(format: LogFormat, level: Logger.Level = .info, now: @escaping @Sendable () -> Date = { Date() },
                write: @escaping @Sendable (String) -> Void) {
        self.format = format; self.logLevel = level; self.now = now
        self.sink = EventSink(write)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let m = event.metadata { fields.merge(m) { _, new in new } }
        if let e = event.error { fields["error"] = .string("\(e)") }
        let node = fields.removeValue(forKey: "node").map(EventLog.plain)
        let line = EventLog.render(format: format, timestamp: now(), level: event.level, node: node,
                                   event: event.message.description, fields: fields)
        sink.write(line + "\n")
    }
}

/// Serializes writes so concurrent node tasks never interleave inside a line.
final class EventSink: @unchecked Sendable {
    // @unchecked: `write` is only called under `lock`.
    private let lock = NSLock()
    private let out: @Sendable (String) -> Void
    init(_ out: @escaping @Sendable (String) -> Void) { self.out = out }
    func write(_ s: String) { lock.withLock { out(s) } }
}

public enum EventLog {
    /// A logger writing events in `format` (stderr by default). No global bootstrap needed.
    public static func logger(format: LogFormat, level: Logger.Level = .info,
                              now: @escaping @Sendable () -> Date = { Date() },
                              write: @escaping @Sendable (String) -> Void) -> Logger {
        let handler = EventLogHandler(format: format, level: level, now: now, write: write)
        return Logger(label: "fleet", factory: { _ in handler })
    }

    static func render(format: LogFormat, timestamp: Date, level: Logger.Level, node: String?,
                       event: String, fields: Logger.Metadata) -> String {
        let ts = timestampText(timestamp)
        switch format {
        case .json:
            var s = "{\"timestamp\":\(jsonString(ts)),\"level\":\(jsonString(level.rawValue))"
            s += ",\"node\":" + (node.map(jsonString) ?? "null")
            s += ",\"event\":\(jsonString(event)),\"fields\":"
            s += jsonObject(fields)
            return s + "}"
        case .text:
            var s = ts + " " + level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)
            s += " " + (node ?? "-") + " " + event
            for k in fields.keys.sorted() {
                s += " \(k)=\(textValue(fields[k]!))"
            }
            return s
        }
    }

    static func timestampText(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }

    static func plain(_ v: Logger.MetadataValue) -> String {
        switch v {
        case .string(let s): s
        case .stringConvertible(let c):
            if let d = c as? Duration { seconds(d) } else { c.description }
        // "; " because items (reasons) often contain commas themselves.
        case .array(let a): a.map(plain).joined(separator: "; ")
        case .dictionary(let d): d.keys.sorted().map { "\($0):\(plain(d[$0]!))" }.joined(separator: "; ")
        }
    }

    /// Seconds with millisecond precision (`18.742`): what people and jq compare.
    static func seconds(_ d: Duration) -> String {
        String(format: "%.3f", d.timeInterval)
    }

    static func textValue(_ v: Logger.MetadataValue) -> String {
        let s = plain(v)
        let needsQuotes = s.isEmpty || s.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\n" || $0 == "\t" }
        guard needsQuotes else { return s }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t") + "\""
    }

    static func jsonObject(_ m: Logger.Metadata) -> String {
        "{" + m.keys.sorted().map { jsonString($0) + ":" + jsonValue(m[$0]!) }.joined(separator: ",") + "}"
    }

    static func jsonValue(_ v: Logger.MetadataValue) -> String {
        switch v {
        case .string(let s): return jsonString(s)
        case .stringConvertible(let c):
            // Numbers and booleans stay numbers and booleans, so `jq '.fields.residual > 0'` works.
            if let b = c as? Bool { return b ? "true" : "false" }
            if c is any BinaryInteger { return c.description }
            if let d = c as? Double, d.isFinite { return c.description }
            if let d = c as? Duration { return seconds(d) }
            return jsonString(c.description)
        case .array(let a): return "[" + a.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let d): return jsonObject(d)
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
