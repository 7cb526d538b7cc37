import Foundation
import Testing
import FleetModel
import FleetTestSupport

@Suite struct ExplainReportTests {
    @Test func exactJSONShapeWithNulls() {
        let map = MultipathMap(name: "mpatha", wwid: "3600a", dm: "dm-0", vendor: nil, product: "lun1", size: "1.0G",
                               features: "0", hwhandler: "1 alua", wp: "rw",
                               pathGroups: [PathGroup(policy: "service-time 0", prio: 0, status: "active", paths: [
                                   Path(hctl: "6:0:0:1", dev: "sdg", majorMinor: "8:96", dmState: "failed", checkerState: "faulty", deviceState: "running"),
                                   Path(hctl: "#:#:#:#", dev: nil, majorMinor: nil, dmState: "active", checkerState: "faulty", deviceState: "running"),
                               ])])
        let report = ExplainReport(maps: [ExplainMap(map: map, verdict: .residual, reasons: ["a", "b"])],
                                   warnings: [ParseWarning(line: 3, text: "x")])
        let expected = ##"{"maps":[{"name":"mpatha","wwid":"3600a","dm":"dm-0","vendor":null,"product":"lun1","size":"1.0G","features":"0","hwhandler":"1 alua","wp":"rw","pathGroups":[{"policy":"service-time 0","prio":0,"status":"active","paths":[{"hctl":"6:0:0:1","dev":"sdg","majorMinor":"8:96","dmState":"failed","checkerState":"faulty","deviceState":"running"},{"hctl":"#:#:#:#","dev":null,"majorMinor":null,"dmState":"active","checkerState":"faulty","deviceState":"running"}]}],"verdict":"residual","reasons":["a","b"]}],"warnings":[{"line":3,"text":"x"}]}"##
        #expect(report.json() == expected)
        #expect(report.hasResidual)
    }

    @Test func emptyReportAndNullVerdict() {
        #expect(ExplainReport(maps: []).json() == #"{"maps":[],"warnings":[]}"#)
        let r = ExplainReport(maps: [ExplainMap(map: MultipathMap())])
        #expect(r.json() == #"{"maps":[{"name":null,"wwid":null,"dm":null,"vendor":null,"product":null,"size":null,"features":null,"hwhandler":null,"wp":null,"pathGroups":[],"verdict":null,"reasons":[]}],"warnings":[]}"#)
        #expect(!r.hasResidual)
    }

    @Test func escapesStrings() throws {
        let r = ExplainReport(maps: [], warnings: [ParseWarning(line: 1, text: "a\"b\\c\td\u{1}é")])
        #expect(r.json() == #"{"maps":[],"warnings":[{"line":1,"text":"a\"b\\c\td\u0001é"}]}"#)
        let back = try JSONSerialization.jsonObject(with: Data(r.json(pretty: true).utf8)) as? [String: Any]
        #expect(((back?["warnings"] as? [[String: Any]])?.first?["text"] as? String) == "a\"b\\c\td\u{1}é")
    }

    @Test func roundTripsThroughDecoder() throws {
        let snap = NodeSnapshot(outputs: try Fixtures.realOutputs("mixed"))
        let report = ExplainReport(snapshot: snap)
        let back = try JSONDecoder().decode(ExplainReport.self, from: Data(report.json().utf8))
        #expect(back == report)
        #expect(back.maps.map(\.multipathMap.paths.count) == [2, 2, 2, 2])
    }

    @Test func residualFolderJSON() throws {
        let report = ExplainReport(snapshot: NodeSnapshot(outputs: try Fixtures.realOutputs("residual")))
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        let maps = try #require(obj["maps"] as? [[String: Any]])
        let a = try #require(maps.first { $0["name"] as? String == "mpatha" })
        #expect(a["wwid"] as? String == lun1)
        #expect(a["dm"] as? String == "dm-0")
        #expect(a["verdict"] as? String == "residual")
        let groups = try #require(a["pathGroups"] as? [[String: Any]])
        let paths = try #require(groups.first?["paths"] as? [[String: Any]])
        #expect(paths.map { $0["dev"] as? String } == ["sdg", "sdh"])
        #expect(paths.map { $0["checkerState"] as? String } == ["faulty", "faulty"])
        #expect(maps.filter { $0["verdict"] as? String == "healthy" }.count == 3)
        #expect(report.hasResidual)
    }

    @Test func tableIsAligned() throws {
        let report = ExplainReport(snapshot: NodeSnapshot(outputs: try Fixtures.realOutputs("mixed")))
        let t = report.table()
        let lines = t.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0].hasPrefix("NAME"))
        // The VERDICT column starts at the same offset in the header and every map row.
        let col = try #require(lines[0].range(of: "VERDICT")).lowerBound.utf16Offset(in: lines[0])
        for l in lines[1...4] {
            let v = l.dropFirst(col)
            #expect(["residual", "degraded", "residual-hung", "healthy"].contains(String(v)), "\(l)")
        }
        #expect(t.contains("mpatha (\(lun1)) dm-0: residual"))
        #expect(!lines.contains { $0.hasSuffix(" ") })
    }
}
