// The parser benchmark's entry point for bench/parse.sh, built against FleetModel alone so
// it needs no other target.
import Glibc
import FleetModel

let args = CommandLine.arguments
func option(_ name: String, _ def: Int) -> Int {
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]), v > 0 else { return def }
    return v
}
let maps = option("--maps", 10_000)
let runs = option("--runs", 5)
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
guard parsed == maps else { print("parsed \(parsed) maps, expected \(maps)"); exit(1) }
times.sort()
func r1(_ v: Double) -> Double { (v * 10).rounded() / 10 }
print("input: \(maps) maps, \(bytes) bytes, \(runs) runs")
for (label, t) in [("best", times[0]), ("median", times[times.count / 2])] {
    print("\(label): \(r1(t * 1000)) ms  \(Int((Double(maps) / t).rounded())) maps/s  \(r1(Double(bytes) / t / 1e6)) MB/s")
}
