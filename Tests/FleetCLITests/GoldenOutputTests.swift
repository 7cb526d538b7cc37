import Foundation
import FleetModel
import FleetTestSupport
import Testing
@testable import FleetCLI

/// The table and JSON that `fleet explain` and `fleet scan` print, against golden files in
/// Snapshots/ (RECORD_SNAPSHOTS=1 re-records; a recording fails the test). Each golden file
/// was read against its inputs: the real captures in fixtures/, the vendor's sample, and
/// ScanReportTests.nodes.
@Suite struct GoldenOutputTests {
    static func explain(_ args: [String]) throws -> String {
        var out = "", err = ""
        _ = try Explain.parse(args).execute(out: { out += $0 }, err: { err += $0 })
        #expect(err.isEmpty)
        return out
    }

    @Test func explainResidualCapturesTable() throws {
        let text = try Self.explain([Fixtures.realRoot.appendingPathComponent("residual").path])
        #expect(Snapshots.check(text, name: "explainResidualCapturesTable", ext: "txt") == nil)
    }

    @Test func explainVendorSampleJSON() throws {
        let text = try Self.explain(["--format", "json",
                                     Fixtures.vendorRoot.appendingPathComponent("step-1.1-multipath-ll-residual.txt").path])
        #expect(Snapshots.check(text, name: "explainVendorSampleJSON", ext: "json") == nil)
    }

    @Test func scanReportJSON() {
        let text = ScanReportTests.render(.json, ScanReportTests.nodes, order: [3, 1, 0, 2]).text
        #expect(Snapshots.check(text, name: "scanReportJSON", ext: "json") == nil)
    }

    @Test func scanReportTable() {
        let text = ScanReportTests.render(.table, ScanReportTests.nodes, order: [0, 1, 2, 3]).text
        #expect(Snapshots.check(text, name: "scanReportTable", ext: "txt") == nil)
    }
}
