import CMalloc
import FleetCLI

// At most two malloc arenas (one per core of the machines fleet is measured on), set before
// any thread starts. glibc gives each thread that allocates an arena of its own, up to 8 per
// core: the SSH event loops read a node's output, a pool thread frames and parses it, the
// history's writer queue stores it, so a node's bytes are allocated and freed in different
// arenas, and space freed in one arena never serves another. A 50-map scan (200 nodes in
// flight, ~260 KB of output each) peaked at 84 MB of live heap but 137 MB of anonymous RSS;
// with two arenas the same scan's peak RSS fell from 168.6 to 127.5 MB (docs/perf.md).
_ = fleet_malloc_arena_max(2)

await Fleet.runMain()
