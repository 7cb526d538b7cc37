#!/bin/sh
# Parser benchmark: parses a generated 10,000-map `multipath -ll` output in a release build
# and prints maps/s and MB/s. Builds FleetModel alone (a throwaway package under
# .build-parsers-rel/bench-pkg that links to Sources/FleetModel), so it neither needs nor
# waits for the rest of fleet.  Usage: bench/parse.sh [--maps N] [--runs N]
# Records parse.{maps_per_s,mb_per_s} of the median run (bench/record.sh).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/record.sh"
pkg="$root/.build-parsers-rel/bench-pkg"
mkdir -p "$pkg/Sources/bench-parse"
ln -sfn "$root/Sources/FleetModel" "$pkg/Sources/FleetModel"
cp "$root/bench/parse-main.swift" "$pkg/Sources/bench-parse/main.swift"
cat > "$pkg/Package.swift" <<'PKG'
// swift-tools-version:6.1
import PackageDescription
let package = Package(
    name: "bench-parse",
    targets: [
        .target(name: "FleetModel"),
        .executableTarget(name: "bench-parse", dependencies: ["FleetModel"]),
    ]
)
PKG
cd "$pkg"
swift build -c release --scratch-path "$root/.build-parsers-rel/bench" >/dev/null
out=$("$root/.build-parsers-rel/bench/release/bench-parse" "$@")
echo "$out"
median=$(echo "$out" | sed -n 's/^median: .* ms  \([0-9]*\) maps\/s  \([0-9.]*\) MB\/s$/\1 \2/p')
[ -z "$median" ] || { bench_record parse.maps_per_s "${median% *}" maps/s; bench_record parse.mb_per_s "${median#* }" MB/s; }
