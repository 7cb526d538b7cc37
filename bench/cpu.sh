#!/usr/bin/env bash
# Issue 17: fleet's own client CPU per node of `fleet scan`, per scenario, without SSH.
#   bench/cpu.sh [--callgrind] [--base ADDR] [--keep DIR] [--scenario FILE]... [NODES=200] [ROUNDS=5]
# For each scenario (default tools/farm/scenarios/maps8.yaml and maps50.yaml): a farm of
# NODES nodes is scanned once over SSH by fleet-cpu-bench (bench/cpu-bench), which keeps
# every node's replies; the farm goes down; then `fleet scan` of the same nodes runs ROUNDS
# times in one process with those replies (each round a fresh history, the JSON report
# rendered and dropped) and prints user+sys CPU per node. Everything a scan does but SSH is
# counted: framing, parsers, classifier, witnesses, history rows and digests, JSON.
# --callgrind: also the instruction count per node, (Ir of ROUNDS=1 - Ir of ROUNDS=0) / NODES
# under valgrind's callgrind (repeatable under load, unlike CPU seconds); the profile is kept
# (callgrind_annotate FILE shows where the instructions go). A recording also keeps a second
# scan of the farm into the first one's history (two phases: phase 1 against the rows the
# first wrote); its count is (Ir of one round of both scans - Ir of one round of the first)
# / NODES (recordings made before that have no second scan: it is skipped).
# --keep DIR: keep each scenario's recording in DIR/<scenario>-<NODES>/ and replay it on
# later runs without a farm (the same replies before and after a change).
# Addresses from --base or BENCH_BASE; run under `flock /work/.bench.lock` beside other farms.
set -euo pipefail
cd "$(dirname "$0")/.."
CALLGRIND=0
KEEP=
BASE=${BENCH_BASE:-127.0.2.1}
SCENARIOS=()
POS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --callgrind) CALLGRIND=1 ;;
        --base) BASE=$2; shift ;;
        --scenario) SCENARIOS+=("$2"); shift ;;
        --keep) KEEP=$(realpath -m "$2"); shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) POS+=("$1") ;;
    esac
    shift
done
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=(tools/farm/scenarios/maps8.yaml tools/farm/scenarios/maps50.yaml)
N=${POS[0]:-200}
ROUNDS=${POS[1]:-5}

swift build -c release --product fleet-cpu-bench >&2
BIN="$(swift build -c release --show-bin-path)/fleet-cpu-bench"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-cpu.XXXXXX")
trap 'tools/farm/farm down --dir "$WORK/farm" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
if [ "$CALLGRIND" = 1 ] && ! command -v valgrind >/dev/null; then
    echo "bench/cpu.sh: valgrind not installed (apt-get install valgrind): CPU seconds only" >&2
    CALLGRIND=0
KEEP=
fi
if [ "$CALLGRIND" = 1 ]; then
    # valgrind 3.19 cannot read Swift 6's DWARF 5; the symbol table is enough for callgrind.
    objcopy --strip-debug "$BIN" "$WORK/fleet-cpu-bench"
    OUT=${BENCH_CALLGRIND_DIR:-.build/callgrind}
    mkdir -p "$OUT"
fi

for scenario in "${SCENARIOS[@]}"; do
    name=$(basename "$scenario" .yaml)
    rec="$WORK/$name"
    [ -z "$KEEP" ] || rec="$KEEP/$name-$N"
    echo "== $name ($scenario), $N nodes"
    if [ -f "$rec/replies.json" ]; then
        echo "replies recorded earlier: $rec"
    else
        mkdir -p "$rec"
        tools/farm/farm up "$N" --dir "$WORK/farm" --base "$BASE" --scenario "$scenario" >&2
        cp "$WORK/farm/id_ed25519" "$WORK/farm/known_hosts" "$rec/"
        sed "s#$WORK/farm/#$rec/#g" "$WORK/farm/inventory.yaml" > "$rec/inventory.yaml"
        "$BIN" record "$rec"
        tools/farm/farm down --dir "$WORK/farm" >&2
    fi
    echo "load: $(uptime)"
    "$BIN" replay "$rec" "$ROUNDS"
    if [ "$CALLGRIND" = 1 ]; then
        ir() {
            valgrind --tool=callgrind --callgrind-out-file="$2" "$WORK/fleet-cpu-bench" "${3:-replay}" "$rec" "$1" >/dev/null 2>"$2.log"
            sed -n 's/^==[0-9]*== Collected : //p' "$2.log"
        }
        base=$(ir 0 "$OUT/$name-0.out")
        one=$(ir 1 "$OUT/$name-1.out")
        echo "instructions/node $(( (one - base) / N ))  (callgrind: $one - $base over $N nodes; profile $OUT/$name-1.out)"
        if grep -q '"second"' "$rec/replies.json"; then
            "$BIN" replay2 "$rec" "$ROUNDS"
            both=$(ir 1 "$OUT/$name-2.out" replay2)
            echo "second scan instructions/node $(( (both - one) / N ))  (callgrind: $both - $one over $N nodes; profile $OUT/$name-2.out)"
        else
            echo "second scan: not in this recording (recorded before it was kept)"
        fi
    fi
done
