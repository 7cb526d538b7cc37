import struct Foundation.Date
#if canImport(Glibc)
import Glibc
#endif

/// The one time format of the history: ISO 8601, UTC, milliseconds, fixed width
/// (`2026-11-29T18:20:00.000Z`), so text order is time order in SQL and SQLite's own date
/// functions read it. Hand-rolled on gmtime/timegm: no formatter state to share across threads.
public enum ISOTime {
    public static func format(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var secs = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
        let milli = Int(ms - Int64(secs) * 1000)
        var t = tm()
        gmtime_r(&secs, &t)
        func pad(_ v: Int32, _ w: Int) -> String {
            let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T"
            + "\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(Int32(milli), 3))Z"
    }

    /// Reads `YYYY-MM-DD[T ]HH:MM:SS[.fff][Z]` (what fleet writes and what SQLite's
    /// `strftime`/`datetime` produce), always as UTC.
    public static func parse(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count >= 19 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int32? {
            var v: Int32 = 0
            for i in from..<(from + len) {
                let c = u[i]
                guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
                v = v * 10 + Int32(c - UInt8(ascii: "0"))
            }
            return v
        }
        guard u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
              u[10] == UInt8(ascii: "T") || u[10] == UInt8(ascii: " "),
              u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"),
              let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2),
              let h = num(11, 2), let mi = num(14, 2), let s = num(17, 2),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var frac = 0.0
        if i < u.count, u[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            while i < u.count, u[i] >= UInt8(ascii: "0"), u[i] <= UInt8(ascii: "9") {
                frac += Double(u[i] - UInt8(ascii: "0")) * scale
                scale /= 10; i += 1
            }
        }
        if i < u.count, u[i] == UInt8(ascii: "Z") { i += 1 }
        guard i == u.count else { return nil }
        var t = tm()
        t.tm_year = y - 1900; t.tm_mon = mo - 1; t.tm_mday = d
        t.tm_hour = h; t.tm_min = mi; t.tm_sec = s
        let secs = timegm(&t)
        return Date(timeIntervalSince1970: Double(secs) + frac)
    }
}
