import ArgumentParser
import FleetModel

/// Hidden benchmark: parses a generated `multipath -ll` of N maps and prints throughput.
struct BenchParse: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-parse",
        abstract: "Benchmark the multipath -ll parser on generated output.",
        discussion: """
          $ swift build -c release --scratch-path .build-parsers-rel
          $ .build-parsers-rel/release/fleet bench-parse --maps 10000
        """,
        shouldDisplay: false
    )

    @Option(help: "Number of maps in the generated output.")
    var maps: Int = 10_000

    @Option(help: "Timed repetitions (the best and the median are printed).")
    var runs: Int = 5

    func validate() throws {
        guard maps > 0, maps <= 1_000_000 else { throw ValidationError("--maps must be 1...1000000") }
        guard runs > 0, runs <= 100 else { throw ValidationError("--runs must be 1...100") }
    }

    func run() throws {
        let text = Self.generate(maps: maps)
        let bytes = text.utf8.count
        var times: [Double] = []
        var parsed = 0
        for _ in 0..<runs {
            let clock = ContinuousClock()
            let start = clock.now
            let r = MultipathParser.parse(text)
            let d = clock.now - start
            parsed = r.maps.count
            times.append(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        guard parsed == maps else {
            print("bench-parse: parsed \(parsed) maps, expected \(maps)")
            throw ExitCode.failure
        }
        times.sort()
        let best = times[0], median = times[times.count / 2]
        func fmt(_ v: Double) -> String { String(Int(v.rounded())) }
        print("input: \(maps) maps, \(maps * 2) paths, \(bytes) bytes")
        print("best:   \(String(format3(best * 1000))) ms  \(fmt(Double(maps) / best)) maps/s  \(format3(Double(bytes) / best / 1e6)) MB/s")
        print("median: \(String(format3(median * 1000))) ms  \(fmt(Double(maps) / median)) maps/s  \(format3(Double(bytes) / median / 1e6)) MB/s")
    }

    private func format3(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return String(r)
    }

    /// A realistic mix: 0.9.x tree format, alias names, two paths per map, one map in ten
    /// residual (`failed faulty running`), one in ten with two path groups.
    static func generate(maps: Int) -> String {
        var s = ""
        s.reserveCapacity(maps * 330)
        var disk = 0
        func sd(_ n: Int) -> String {
            var n = n, name = ""
            repeat { name = String(UnicodeScalar(UInt8(97 + n % 26))) + name; n = n / 26 - 1 } while n >= 0
            return "sd" + name
        }
        for i in 0..<maps {
            let wwid = "36001405" + String(String(i, radix: 16).reversed()).padding(toLength: 25, withPad: "0", startingAt: 0)
            let dead = i % 10 == 3
            s += "mpath\(i) (\(wwid)) dm-\(i) LIO-ORG,lun\(i % 256)\n"
            s += "size=1.0G features='\(dead ? "0" : "1 queue_if_no_path")' hwhandler='1 alua' wp=rw\n"
            let st = dead ? "failed faulty running" : "active ready running"
            let a = sd(disk), b = sd(disk + 1)
            disk += 2
            let mm1 = "\(8 + (disk / 16) % 200):\((disk * 16) % 256)", mm2 = "\(8 + (disk / 16) % 200):\((disk * 16 + 16) % 256)"
            if i % 10 == 7 {
                s += "|-+- policy='service-time 0' prio=50 status=active\n"
                s += "| `- 6:0:0:\(i % 256) \(a) \(mm1) \(st)\n"
                s += "`-+- policy='service-time 0' prio=10 status=enabled\n"
                s += "  `- 7:0:0:\(i % 256) \(b) \(mm2) \(st)\n"
            } else {
                s += "`-+- policy='service-time 0' prio=\(dead ? 0 : 50) status=active\n"
                s += "  |- 6:0:0:\(i % 256) \(a) \(mm1) \(st)\n"
                s += "  `- 7:0:0:\(i % 256) \(b) \(mm2) \(st)\n"
            }
        }
        return s
    }
}
