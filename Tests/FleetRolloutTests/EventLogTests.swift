import FleetRollout
import Foundation
import Logging
import Testing

final class Lines: @unchecked Sendable {
    // @unchecked: `items` is only touched under `lock`.
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

@Suite struct EventLogTests {
    let fixed = Date(timeIntervalSince1970: 1_764_440_000.25)  // 2025-11-29T18:13:20.250Z

    @Test func jsonLineHasTheDocumentedShape() throws {
        let lines = Lines()
        let log = EventLog.logger(format: .json, now: { [fixed] in fixed }, write: lines.append)
        log.info("node.scanned", metadata: ["node": "worker-1", "status": "ok", "residual": .stringConvertible(2),
                                            "duration_s": .stringConvertible(Duration.milliseconds(2250)),
                                            "ok": .stringConvertible(true), "maps": ["mpatha", "mpathb"]])
        #expect(lines.all.count == 1)
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix("\n"))
        #expect(!line.dropLast().contains("\n"))
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(obj["timestamp"] as? String == "2025-11-29T18:13:20.250Z")
        #expect(obj["level"] as? String == "info")
        #expect(obj["node"] as? String == "worker-1")
        #expect(obj["event"] as? String == "node.scanned")
        let fields = try #require(obj["fields"] as? [String: Any])
        #expect(fields["status"] as? String == "ok")
        #expect(fields["residual"] as? Int == 2)
        #expect(fields["ok"] as? Bool == true)
        #expect(fields["maps"] as? [String] == ["mpatha", "mpathb"])
        #expect(fields["duration_s"] as? Double == 2.25)
        #expect(fields["node"] == nil)
    }

    @Test func jsonWithoutNodeAndWithAwkwardText() throws {
        let lines = Lines()
        var log = EventLog.logger(format: .json, now: { [fixed] in fixed }, write: lines.append)
        log[metadataKey: "run"] = "17"
        log.warning("sweep.note", metadata: ["message": "a \"quoted\"\nline\twith\u{01}control"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(lines.all[0].utf8)) as? [String: Any])
        #expect(obj["node"] is NSNull)
        #expect(obj["level"] as? String == "warning")
        let fields = try #require(obj["fields"] as? [String: Any])
        #expect(fields["message"] as? String == "a \"quoted\"\nline\twith\u{01}control")
        #expect(fields["run"] as? String == "17")
    }

    @Test func textLine() {
        let lines = Lines()
        let log = EventLog.logger(format: .text, now: { [fixed] in fixed }, write: lines.append)
        log.error("map.clean-failed", metadata: ["node": "worker-7", "map": "mpatha", "error": "map in use",
                                                 "took": .stringConvertible(Duration.milliseconds(1500)),
                                                 "reasons": ["all 2 paths failed: sda, sdb", "probe: Input/output error"]])
        log.info("sweep.started")
        #expect(lines.all == [
            "2025-11-29T18:13:20.250Z error   worker-7 map.clean-failed error=\"map in use\" map=mpatha "
                + "reasons=\"all 2 paths failed: sda, sdb; probe: Input/output error\" took=1.500\n",
            "2025-11-29T18:13:20.250Z info    - sweep.started\n",
        ])
    }

    @Test func levelFilters() {
        let lines = Lines()
        let log = EventLog.logger(format: .text, level: .notice, write: lines.append)
        log.info("hidden")
        log.debug("hidden")
        log.notice("shown")
        #expect(lines.all.count == 1)
        #expect(lines.all.first?.contains(" shown") == true)
    }

    @Test func concurrentEventsStayWholeLines() async throws {
        let lines = Lines()
        let log = EventLog.logger(format: .json, write: lines.append)
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask { log.info("node.scanned", metadata: ["node": "n\(i)", "i": .stringConvertible(i)]) }
            }
        }
        #expect(lines.all.count == 200)
        var nodes = Set<String>()
        for l in lines.all {
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any])
            nodes.insert(obj["node"] as? String ?? "")
        }
        #expect(nodes.count == 200)
    }
}
