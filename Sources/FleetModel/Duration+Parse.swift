/// Parses the durations users type: `30s`, `30m`, `12h`, `7d`, `2w`, and sums such as
/// `1d12h`. A bare number is rejected (is `90` minutes or days?), except `0` where zero is
/// allowed (`--confirm-after 0`). Pure.
public enum DurationParser {
    public struct Error: Swift.Error, Sendable, Hashable, CustomStringConvertible {
        public var text: String
        public var description: String {
            "invalid duration \"\(text)\": expected a number and a unit (s, m, h, d, w), e.g. 30m, 12h, 7d, 1d12h"
        }
    }

    public static func parse(_ text: String, allowingZero: Bool = false) throws(DurationParser.Error) -> Duration {
        let s = text.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()
        var total: Int64 = 0
        var number: Int64? = nil
        var sawUnit = false
        for c in String(s).unicodeScalars {
            if let d = Int64(String(c)), c.isASCII {
                let (m, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (v, o2) = m.addingReportingOverflow(d)
                guard !o1, !o2 else { throw Error(text: text) }
                number = v
                continue
            }
            let unit: Int64
            switch c {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            case "w": unit = 604_800
            default: throw Error(text: text)
            }
            guard let n = number else { throw Error(text: text) }
            let (p, o1) = n.multipliedReportingOverflow(by: unit)
            let (t, o2) = total.addingReportingOverflow(p)
            guard !o1, !o2 else { throw Error(text: text) }
            total = t; number = nil; sawUnit = true
        }
        if allowingZero, String(s) == "0" { return .zero }
        guard sawUnit, number == nil, total > 0 || allowingZero else { throw Error(text: text) }
        return .seconds(total)
    }
}
