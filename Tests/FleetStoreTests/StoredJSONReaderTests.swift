import Foundation
import FleetModel
import FleetTestSupport
import Testing
@testable import FleetStore

/// `StoredJSONReader` reads the history's `maps.reasons` / `maps.evidence` texts to exactly
/// what JSONDecoder decodes from them, and returns nil (JSONDecoder then decodes) for any
/// text outside the shape it reads (random evidence: BatchTests.randomEvidenceTextIsJSONEncoders).
@Suite struct StoredJSONReaderTests {
    static func decoded<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// Every real capture's stored texts (hung-openers has stuck dd readers and multipathd's
    /// checker with fds, flags and command lines; probes come from the random test).
    @Test func everyRealCaptureReadsAsJSONDecoderDecodesIt() throws {
        var evidenceRead = 0, withOpeners = 0
        for state in try Fixtures.realStates() {
            for f in Classifier.classify(NodeSnapshot(outputs: try Fixtures.realOutputs(state))) {
                let text = try StoredJSON.evidence(f.evidence)
                let mine = StoredJSONReader.evidence(text)
                if let mine {
                    #expect(mine == Self.decoded(MapEvidence.self, text), "\(state) \(f.map.name ?? "?")")
                    #expect(mine == f.evidence, "\(state) \(f.map.name ?? "?")")
                    evidenceRead += 1
                    if mine.openers?.isEmpty == false { withOpeners += 1 }
                }
                let reasons = try StoredJSON.reasons(f.reasons)
                #expect(StoredJSONReader.strings(reasons) == f.reasons, "\(state) \(f.map.name ?? "?")")
            }
        }
        #expect(evidenceRead > 0 && withOpeners > 0)
    }

    /// Texts outside the shape: nil, so JSONDecoder decides (a value, or MapEvidence()).
    @Test func otherShapesAreLeftToJSONDecoder() {
        let base = #""holders":[],"mountpoints":[],"slaves":[],"sysfsStates":{}"#
        for text in [
            "{" + base + #","kubernetes":{"state":"clear"}}"#,  // the witness: JSONDecoder's
            "{" + base + #","queueing":null}"#,  // null
            "{" + base + #","unknown":1}"#,  // a key the type does not have
            "{" + base + #","holders":[]}"#,  // a key twice
            #"{"holders":[],"mountpoints":[],"slaves":[]}"#,  // sysfsStates missing
            "{" + base + #","openCount":"3"}"#,  // a string where JSONDecoder wants an Int
            "{" + base + #","queueing":3}"#,  // a number where it wants a String
            "{" + base + #","probe":{"outcome":"hung","stuckAfterKill":true}}"#,  // a boolean
            "{" + base + #","probe":{"outcome":"maybe"}}"#,  // not a ProbeOutcome
            "{" + base + #","probe":{"outcome":"hung","stuckPID":4294967296}}"#,  // beyond Int32
            "{" + base + #","queueing":"é"}"#,  // non-ASCII
            "{" + base + "}x",
        ] {
            #expect(StoredJSONReader.evidence(text) == nil, "\(text)")
        }
        #expect(StoredJSONReader.evidence("{" + base + #","queueing":"on"}"#)?.queueing == "on")
        #expect(StoredJSONReader.strings(#"["a",1]"#) == nil)
        #expect(StoredJSONReader.strings(#"["all 2 paths \/ \"active\""]"#) == [#"all 2 paths / "active""#])
    }
}
