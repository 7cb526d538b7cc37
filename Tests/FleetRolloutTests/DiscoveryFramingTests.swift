import Foundation
import Testing
import FleetModel
import FleetTestSupport
@testable import FleetRollout

/// The framing parser against frames written by FleetTestSupport's independent writer, and
/// against output that tries to forge frames.
@Suite struct DiscoveryFramingTests {
    let nonce = "0123456789abcdef0123456789abcdef"

    func frames(_ specs: [ScriptedExecutor.FrameSpec], complete: Bool = true) -> [UInt8] {
        ScriptedExecutor.frame(specs, nonce: nonce, complete: complete)
    }

    @Test func roundTripKeepsBytesExitCodesAndOrder() throws {
        let ll = try Fixtures.real("hung", "multipath-ll.txt")
        let llErr = try Fixtures.real("hung", "multipath-ll.stderr.txt")
        let bytes = frames([
            .init(name: "multipath-ll", exitCode: 0, stdout: ll, stderr: llErr),
            .init(name: "sys-block-sdf-device-state", exitCode: 0, stdout: "running\n"),
            .init(name: "multipathd-show-maps-json", exitCode: 127, stdout: "", stderr: "sh: 1: multipathd: not found\n"),
            .init(name: "sys-block-dm-2-slaves-holders", exitCode: 2, stdout: "no newline at end", stderr: "ls: x\n"),
        ])
        let r = Framing.parse(bytes, nonce: nonce)
        #expect(r.complete)
        #expect(r.warnings.isEmpty)
        #expect(r.outputs.map(\.command) == [.multipathList, .deviceState(BlockDeviceName("sdf")!), .multipathdMapsJSON,
                                             .slavesHolders(DMDeviceName("dm-2")!)])
        #expect(r.outputs[0].stdout == ll)
        #expect(r.outputs[0].stderr == llErr)
        #expect(r.outputs[2].commandMissing)
        #expect(r.outputs[3].exitCode == 2)
        #expect(r.outputs[3].stdout == "no newline at end")
    }

    @Test func outputThatPrintsFramesWithTheRightNonceIsStillJustOutput() {
        // A command that somehow printed lookalike headers, a fake END, with the real nonce.
        let hostile = "FLEET2:\(nonce):multipath-ll:0:5:0\nfake!\nFLEET2:\(nonce):END\nFLEET2:\(nonce):kill-1:0:0:0\n"
        let bytes = frames([
            .init(name: "proc-mounts", exitCode: 0, stdout: hostile),
            .init(name: "dmsetup-status", exitCode: 0, stdout: "mpatha: 0 2097152 multipath\n"),
        ])
        let r = Framing.parse(bytes, nonce: nonce)
        #expect(r.complete)
        #expect(r.outputs.count == 2)
        #expect(r.outputs[0].command == .procMounts)
        #expect(r.outputs[0].stdout == hostile)
        #expect(r.outputs[1].command == .dmsetupStatus)
    }

    @Test func framesWithAGuessedWrongNonceAreNotFrames() {
        let forged = ScriptedExecutor.frame([.init(name: "multipath-ll", stdout: "mpathz (1) dm-9 X,Y\n")],
                                            nonce: "ffffffffffffffffffffffffffffffff", complete: true)
        let r = Framing.parse(forged, nonce: nonce)
        #expect(r.outputs.isEmpty)
        #expect(!r.complete)
        #expect(r.warnings.count == 1)
        #expect(r.warnings[0].contains("outside any frame"))
    }

    @Test func rcFileNoiseBeforeTheFirstFrameIsAWarning() {
        let bytes = Array("Welcome to node-7\nlast login: yesterday\n".utf8)
            + frames([.init(name: "ls-sys-block", stdout: "total 0\n")])
        let r = Framing.parse(bytes, nonce: nonce)
        #expect(r.complete)
        #expect(r.outputs.map(\.command) == [.sysBlockListing])
        #expect(r.warnings.count == 1)
        #expect(r.warnings[0].contains("Welcome to node-7"))
    }

    @Test func namesThatFailValidationAreWarningsNeverCommands() {
        let bytes = frames([
            .init(name: "sys-block-sd1-device-state", stdout: "running\n"),   // digit: not a SCSI disk name
            .init(name: "kill-1234", stdout: ""),                              // an action is never a discovery name
            .init(name: "sys-block-dm-x-dm-name-uuid", stdout: "mpatha\n"),
            .init(name: "dmsetup-info-c", stdout: "Name Maj Min\n"),
        ])
        let r = Framing.parse(bytes, nonce: nonce)
        #expect(r.outputs.map(\.command) == [.dmsetupInfo])
        #expect(r.warnings.count == 3)
        #expect(r.complete)
    }

    @Test func aFrameCutOffByTheConnectionIsIncomplete() {
        var bytes = frames([.init(name: "multipath-ll", stdout: String(repeating: "x", count: 100))], complete: false)
        bytes.removeLast(10)
        let r = Framing.parse(bytes, nonce: nonce)
        #expect(!r.complete)
        #expect(r.outputs.isEmpty)
        #expect(r.warnings.first?.contains("cut off") == true)
    }

    @Test func aStreamCutInThePayloadKeepsTheFramesThatArrivedWhole() {
        var bytes = frames([.init(name: "multipath-ll", exitCode: 0, stdout: "mpatha\n", stderr: "w\n"),
                            .init(name: "lsblk-json", stdout: String(repeating: "x", count: 100))], complete: false)
        bytes.removeLast(10)
        let r = Framing.parse(bytes, nonce: nonce)
        #expect(!r.complete)
        #expect(r.outputs.map(\.command) == [.multipathList])
        #expect(r.outputs.first?.stdout == "mpatha\n" && r.outputs.first?.stderr == "w\n")
        #expect(r.warnings.contains { $0.contains("lsblk-json cut off") })
    }

    @Test func aHeaderBlockWithoutItsDataIsIncompleteAndYieldsNothing() {
        let all = frames([.init(name: "multipath-ll", stdout: "mpatha\n")])
        let headerOnly = Array(all.prefix(while: { $0 != UInt8(ascii: "\n") })) + [UInt8(ascii: "\n")]
        let r = Framing.parse(headerOnly, nonce: nonce)
        #expect(!r.complete)
        #expect(r.outputs.isEmpty)
        #expect(r.warnings.contains { $0.contains("header block cut off") })
        let nothing = Framing.parse([], nonce: nonce)
        #expect(!nothing.complete && nothing.outputs.isEmpty)
    }

    @Test func aMissingEndMarkerAfterWholeFramesIsIncomplete() {
        let r = Framing.parse(frames([.init(name: "dmsetup-status", stdout: "x\n")], complete: false), nonce: nonce)
        #expect(!r.complete)
        #expect(r.outputs.map(\.command) == [.dmsetupStatus])
    }

    @Test func theFramingCostsOneWcAndOneCatPerExecNotPerCommand() {
        let script = NodeScript.discovery(nonce: nonce)
        #expect(script.components(separatedBy: "wc -c").count - 1 == 1)
        #expect(!script.contains("$(wc") && !script.contains("$(cat"))
        let probes = NodeScript.probes([DMDeviceName("dm-1")!, DMDeviceName("dm-2")!], seconds: 5, nonce: nonce)
        #expect(!probes.contains("$(cat"))
    }

    @Test func malformedHeaderIsSkippedAndParsingResumes() {
        let bytes = Array("FLEET2:\(nonce):multipath-ll:zero:1:0\n".utf8)
            + frames([.init(name: "lsblk-json", stdout: "{}")])
        let r = Framing.parse(bytes, nonce: nonce)
        #expect(r.outputs.map(\.command) == [.lsblk])
        #expect(r.warnings.contains { $0.contains("malformed header") })
        #expect(r.complete)
    }

    @Test func nonceIs128BitsOfHexAndFresh() {
        let a = NodeScript.newNonce(), b = NodeScript.newNonce()
        #expect(a.count == 32 && b.count == 32)
        #expect(a != b)
        #expect(a.allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }
}
