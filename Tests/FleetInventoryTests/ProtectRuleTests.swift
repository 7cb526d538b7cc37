import FleetModel
import Testing

@Suite struct ProtectRuleTests {
    // mpatha from fixtures/real/healthy/multipath-ll.txt: `LIO-ORG,lun1`.
    let mpatha = MultipathMap(name: "mpatha", wwid: "36001405ae3a4a2b307ccf2a518e52df9", dm: "dm-0",
                              vendor: "LIO-ORG", product: "lun1")

    @Test func wwidIsExactAndIgnoresCase() {
        #expect(ProtectRule.wwid("36001405ae3a4a2b307ccf2a518e52df9").matches(mpatha))
        #expect(ProtectRule.wwid("36001405AE3A4A2B307CCF2A518E52DF9").matches(mpatha))
        #expect(!ProtectRule.wwid("36001405ae3a4a2b307ccf2a518e52df").matches(mpatha))
        #expect(!ProtectRule.wwid("36001405ae3a4a2b307ccf2a518e52df9").matches(MultipathMap(name: "x")))
    }

    @Test func vendorProductGlobs() {
        #expect(ProtectRule.vendorProduct(vendor: "LIO-*", product: "*").matches(mpatha))
        #expect(ProtectRule.vendorProduct(vendor: "lio-org", product: "lun[0-9]").matches(mpatha))
        #expect(ProtectRule.vendorProduct(vendor: " LIO-ORG ", product: "lun?").matches(mpatha))
        #expect(!ProtectRule.vendorProduct(vendor: "NETAPP*", product: "*").matches(mpatha))
        #expect(!ProtectRule.vendorProduct(vendor: "LIO-ORG", product: "lun[2-9]").matches(mpatha))
        #expect(!ProtectRule.vendorProduct(vendor: "LIO", product: "*").matches(mpatha))
    }

    @Test func unknownVendorIsProtectedByVendorRules() {
        let unknown = MultipathMap(name: "mpathz", wwid: "3600a")
        #expect(ProtectRule.vendorProduct(vendor: "NETAPP*", product: "*").matches(unknown))
    }

    @Test func globBasics() {
        #expect(Glob.matches("worker-*", "worker-7"))
        #expect(!Glob.matches("worker-*", "rack-worker-7"))
        #expect(Glob.matches("w?rker-[!3]", "worker-4"))
        #expect(!Glob.matches("w?rker-[!3]", "worker-3"))
        #expect(Glob.matches("*a*b*", "xxaxxbxx"))
        #expect(!Glob.matches("*a*b", "xxaxxbxx"))
        #expect(Glob.matches("", ""))
        #expect(!Glob.matches("", "a"))
    }
}
