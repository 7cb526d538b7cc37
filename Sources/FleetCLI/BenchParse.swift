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
        let text = MultipathSample.generate(maps: maps)
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
}
