import Testing
@testable import FleetRollout
import FleetTestSupport

/// The framing's header lines: the ASCII reading (cut at the colons) against the general one
/// (the String's `:`-separated fields) on the headers fleet writes and on random lines.
@Suite struct FramingHeaderTests {
    static func general(_ line: String) -> Framing.FrameHeader {
        Framing.FrameHeader(fields: line.split(separator: ":", omittingEmptySubsequences: false).map(String.init))
    }

    @Test func asciiHeadersReadAsTheirFields() {
        var lines = ["DATA", "END", "ERROR:mktemp failed", "ERROR:", "ERROR:a:b", "multipath-ll:0:13552:0",
                     "sys-block-sdaa-device-state:0:8:0", "x:1:2", "x:1:2:3:4", ":0:0:0", "a:-1:0:0", "a:0:-1:0",
                     "a:+1:+2:+3", "a:2147483648:0:0", "a:0:99999999999999999999:0", "DATA:", "", "END ", "a:0:0:"]
        var rng = SplitMix64(state: 0xF4A3)
        let parts = ["DATA", "END", "ERROR", ":", "0", "12", "-", "+", "name", " ", "\t", "9999999999", "dd-dm-0"]
        for _ in 0..<20_000 {
            lines.append((0..<Int.random(in: 0...7, using: &rng)).map { _ in parts[Int.random(in: 0..<parts.count, using: &rng)] }.joined())
        }
        // Random frame-shaped lines (three colons), most of them frames: the soup above has
        // only a few (each field must be a number), so these make sure the frame case is
        // compared often.
        let names = ["multipath-ll", "sys-block-sda-device-state", "DATA", "ERROR", "", " ", "n\t"]
        let codes = ["0", "12", "-1", "+1", "2147483648", "x"]
        let sizes = ["0", "12", "9999999999", "-1", "", "x"]
        for _ in 0..<2_000 {
            func pick(_ a: [String]) -> String { a[Int.random(in: 0..<a.count, using: &rng)] }
            lines.append("\(pick(names)):\(pick(codes)):\(pick(sizes)):\(pick(sizes))")
        }
        var frames = 0
        for l in lines {
            let ascii = Framing.FrameHeader(ascii: Array(l.utf8)[...])
            #expect(ascii == Self.general(l), "\(l.debugDescription)")
            #expect(Framing.FrameHeader(Array(l.utf8)[...]) == ascii)
            if case .frame = ascii { frames += 1 }
        }
        #expect(frames > 100)
        #expect(Framing.FrameHeader(Array("multipath-ll:0:13552:0".utf8)[...]) == .frame(name: "multipath-ll", rc: 0, outLen: 13552, errLen: 0))
        // Not ASCII: the String's fields, as before.
        #expect(Framing.FrameHeader(Array("né:0:1:0".utf8)[...]) == .frame(name: "né", rc: 0, outLen: 1, errLen: 0))
    }
}
